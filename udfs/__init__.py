"""kofu_udfs: the KOFU_* worksheet functions of 交付円滑化計画.

Each function is callable from Python under its Excel name (kofu_udfs.KOFU_RATE(...)) and is
decorated for xlwings: on Windows the UDF server finds it in the category 「交付円滑化計画」
with a Japanese description and argument help; under xlwings Server (XLWINGS_ON_SERVER=true)
the same decorators make it an Office.js custom function. Off Windows and off server the
decorators are no-ops and the functions are plain Python (pycel plugs them in by name).

The functions only adapt Excel-shaped values (see kofu_udfs._excel for the conventions: empty
results are "", an unusable input gives a real Excel error value such as #VALUE!, whose
Japanese reason =KOFU_WHY(...) shows) and call kofu_xl's core; they hold no business rule
of their own.

Docstrings here are user-facing: Excel shows them as the function's description.
Argument names must stay valid VBA identifiers (xlwings writes them into VBA wrappers).
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal

import xlwings as xw

# Absolute imports: xlwings' VBA generator re-executes this file under another module name.
from kofu_udfs._excel import (
    EMPTY,
    EXCEL_ERRORS,
    SHAPE_MISMATCH,
    CellError,
    broadcast,
    column_key,
    date_of,
    excel_function,
    explain,
    flag,
    flat_numbers,
    line,
    number,
    positive,
    problem,
    reasons,
    single,
    text,
    to_excel,
)
from kofu_xl.core import calc, followup
from kofu_xl.core.calendar import CalendarError, Column, column_label, parse_column, parse_date, wareki_date
from kofu_xl.core.dantai import dantai_problem
from kofu_xl.core.model import Parameters
from kofu_xl.core.schedule import default_schedule

FUNCTION_NAMES = (
    "KOFU_ACTUALS",
    "KOFU_CAPACITY",
    "KOFU_CHECK",
    "KOFU_CUMULATIVE",
    "KOFU_DANTAI_CHECK",
    "KOFU_DANTAI_REASON",
    "KOFU_INCREASE",
    "KOFU_OVERTIME",
    "KOFU_PER",
    "KOFU_PLAN_CUMULATIVE",
    "KOFU_POSTAGE",
    "KOFU_PURCHASE",
    "KOFU_RATE",
    "KOFU_REQUIRED_MONTHLY",
    "KOFU_SENYEN",
    "KOFU_STAFF_NEEDED",
    "KOFU_THRESHOLD",
    "KOFU_WAREKI",
    "KOFU_WHY",
)
__all__ = [*FUNCTION_NAMES, "CATEGORY", "EMPTY", "functions"]

CATEGORY = "交付円滑化計画"
# Every argument: ranges arrive as 2-D lists (keeps a row a row), Excel errors as "#DIV/0!".
_IN = {"ndim": 2, "err_to_str": True}
_DEFAULTS = Parameters()  # the meeting's capacity: 1,000 cards a month need 6 staff

CHECK_LABELS = {"ok": "OK", "below": "下限値未満", "above": "上限値超"}
_KINDS = {"下限": "lower", "下限値": "lower", "LOWER": "lower", "上限": "upper", "上限値": "upper", "UPPER": "upper"}


# ---------------------------------------------------------------- coverage


@xw.func(category=CATEGORY)
@xw.arg("issued", doc="累計交付枚数。セルでも行（範囲）でも指定できます。", **_IN)
@xw.arg("population", doc="住民基本台帳人口（計画の基準日）。", **_IN)
@excel_function
def KOFU_RATE(issued, population):
    """人口に対する交付枚数率（累計交付枚数÷人口）を小数で返します。セルの表示形式を%にしてください。行を渡すと行で返します。"""

    def one(issued, population):
        pop = positive(number(population, "人口", required=True), "人口")
        return calc.coverage_rate(number(issued, "累計交付枚数"), pop)

    return broadcast(one, issued, population)


@xw.func(category=CATEGORY)
@xw.arg("base", doc="基準日（最初の列）時点の累計交付枚数。", **_IN)
@xw.arg("monthly_row", doc="各列の交付枚数の行。最初の列の値は基準日の枚数に含まれます。", **_IN)
@excel_function
def KOFU_CUMULATIVE(base, monthly_row):
    """交付枚数の累計の行を返します。最初の列は基準日の累計、以降の列は前の列に各列の交付枚数を加えた値です。"""
    values, back = line(monthly_row)
    try:
        start = number(single(base, "基準日の交付枚数"), "基準日の交付枚数", required=True)
    except CellError as exc:  # the whole row shows it
        return back([exc.value] * len(values))
    numbers, problems = flat_numbers(values, "交付枚数")
    problems.pop(0, None)  # the first column's own count is already in the base
    stop = min(problems, default=len(values))
    totals = calc.cumulative(start, numbers[:stop])
    # A problem cuts the running total: that column and every later one show it.
    out = [to_excel(t) for t in totals] + [problems.get(stop)] * (len(values) - stop)
    return back(out)


@xw.func(category=CATEGORY)
@xw.arg("monthly", doc="各列の交付枚数（セルまたは行）。", **_IN)
@xw.arg("population", doc="住民基本台帳人口（計画の基準日）。", **_IN)
@excel_function
def KOFU_INCREASE(monthly, population):
    """増加分（その列の交付枚数÷人口）を小数で返します。行を渡すと行で返し、最初の列（基準日）は空欄です。"""
    values, back = line(monthly)
    try:
        pop = positive(number(single(population, "人口"), "人口", required=True), "人口")
    except CellError as exc:  # the whole row shows it
        return back([exc.value] * len(values))
    if len(values) == 1:  # one column: no base column in it
        return to_excel(calc.coverage_rate(number(values[0], "交付枚数"), pop))
    numbers, problems = flat_numbers(values, "交付枚数")
    out = [to_excel(v) for v in calc.increase(numbers, pop)]
    for i, text_ in problems.items():
        if i > 0:
            out[i] = text_
    return back(out)


@xw.func(category=CATEGORY)
@xw.arg("count", doc="交付枚数（セルまたは行）。", **_IN)
@xw.arg("units", doc="窓口数・職員数・端末台数（セルまたは行）。0 や空欄の列は空欄になります。", **_IN)
@excel_function
def KOFU_PER(count, units):
    """1窓口・1人・1台当たりの交付枚数を返します。窓口数などが0か空欄なら空欄です。行を渡すと行で返します。"""

    def one(count, units):
        n = number(units, "窓口等の数")
        if n is not None and n < 0:
            raise problem("窓口等の数", "負の値")
        return calc.per_unit(number(count, "交付枚数"), n)

    return broadcast(one, count, units)


# ---------------------------------------------------------------- national bounds


def _checkpoint(value):
    key = column_key(value, "列の年月")
    return None if key is None else default_schedule().checkpoint_for_key(key)


@xw.func(category=CATEGORY)
@xw.arg("checkpoint", doc="列の年月（\"2020-07\"、\"R2年7月\"、\"R3年度\"、日付）。セルでも行でも指定できます。", **_IN)
@xw.arg("kind", doc="\"下限\" または \"上限\"。", **_IN)
@excel_function
def KOFU_THRESHOLD(checkpoint, kind):
    """国の全体スケジュールに基づく交付枚数率の下限値・上限値を小数で返します。チェックポイントでない列は空欄です。"""

    def one(checkpoint, kind):
        which = _KINDS.get(unicodedata.normalize("NFKC", text(kind) or "").strip().upper())
        if which is None:
            raise CellError("#種別は下限か上限")
        cp = _checkpoint(checkpoint)
        if cp is None:
            return None
        schedule = default_schedule()
        pct = schedule.lower_pct(cp) if which == "lower" else schedule.upper_pct(cp)
        return pct / 100

    return broadcast(one, checkpoint, kind)


@xw.func(category=CATEGORY)
@xw.arg("rate", doc="交付枚数率（小数、または \"23.5%\" のような文字）。セルでも行でも指定できます。", **_IN)
@xw.arg("checkpoint", doc="列の年月（\"2020-07\"、\"R2年7月\"、\"R3年度\"、日付）。", **_IN)
@excel_function
def KOFU_CHECK(rate, checkpoint):
    """交付枚数率を国の下限値・上限値と比べ、"OK"、"下限値未満"、"上限値超" を返します（様式と同じ小数第1位の%で比較）。チェックポイントでない列は空欄です。"""

    def one(rate, checkpoint):
        cp = _checkpoint(checkpoint)
        if cp is None:
            return None
        schedule = default_schedule()
        status = calc.bound_status(number(rate, "交付率", percent=True), schedule.lower_pct(cp), schedule.upper_pct(cp))
        return None if status is None else CHECK_LABELS[status]

    return broadcast(one, rate, checkpoint)


# ---------------------------------------------------------------- plan against actual


@xw.func(category=CATEGORY)
@xw.arg("cumulative_row", doc="本表1-1 の交付枚数（累計）の行。", **_IN)
@xw.arg("header_row", doc="本表1-1 の列見出しの行（\"R元年8月(実績)\" … \"R4年度\"）。", **_IN)
@xw.arg("month", doc="年月（\"R2年7月\"、\"2020-07\"、日付）。セルでも行でも指定できます。", **_IN)
@excel_function
def KOFU_PLAN_CUMULATIVE(cumulative_row, header_row, month):
    """計画の月末の累計交付枚数を返します。年度の列（R3年度など）の交付枚数は、その年度の12か月に均等に割り振ります。計画の期間外の月は空欄です。"""
    values, _ = line(cumulative_row)
    headers, _ = line(header_row)
    if len(values) != len(headers):
        raise CellError(SHAPE_MISMATCH)
    columns = []
    for header in headers:
        key = column_key(header, "列見出し")
        if key is None:
            raise problem("列見出し", "空欄")
        columns.append(Column(key, ""))
    numbers, problems = flat_numbers(values, "累計交付枚数")
    plan = followup.plan_by_month(columns, numbers)

    def one(month):
        key = column_key(month, "年月")
        if key is None:
            return None
        month_key = Column(key, "").last_month
        # An unusable column gives its error to every month it or a later column describes.
        for i, column in enumerate(columns):
            if i in problems:
                return problems[i]
            if month_key in column.months:
                break
        return plan.get(month_key)

    return broadcast(one, month)


@xw.func(category=CATEGORY)
@xw.arg("current_cumulative", doc="現在（最新の月末）の累計交付枚数。セルでも行でも指定できます。", **_IN)
@xw.arg("target_rate", doc="目標の交付枚数率（小数、または \"23.5%\" のような文字）。国の下限値など。", **_IN)
@xw.arg("population", doc="率の分母の人口（本表1-1 の人口）。", **_IN)
@xw.arg("months_left", doc="目標の月末までの残り月数（1以上の整数）。", **_IN)
@excel_function
def KOFU_REQUIRED_MONTHLY(current_cumulative, target_rate, population, months_left):
    """目標の交付枚数率に残り月数で届くために必要な、月当たりの交付枚数（切り上げ）を返します。既に達していれば0です。"""

    def one(current_cumulative, target_rate, population, months_left):
        current = number(current_cumulative, "累計交付枚数")
        rate = number(target_rate, "目標の率", percent=True)
        months = number(months_left, "残り月数")
        if current is None or rate is None or months is None:
            return None
        pop = positive(number(population, "人口", required=True), "人口")
        if current < 0:
            raise problem("累計交付枚数", "負の値")
        if rate < 0:
            raise problem("目標の率", "負の値")
        if months <= 0:
            raise problem("残り月数", "0以下")
        if months != months.to_integral_value():
            raise problem("残り月数", "整数でない")
        return followup.required_monthly(current, rate, pop, months)

    return broadcast(one, current_cumulative, target_rate, population, months_left)


# ---------------------------------------------------------------- capacity


def _capacity(cards_per_month, staff):
    cards = positive(number(cards_per_month, "処理能力の枚数"), "処理能力の枚数")
    people = positive(number(staff, "処理能力の人数"), "処理能力の人数")
    return (
        _DEFAULTS.capacity_cards_per_month if cards is None else cards,
        _DEFAULTS.capacity_staff if people is None else people,
    )


@xw.func(category=CATEGORY)
@xw.arg("monthly", doc="月当たりの交付枚数（セルまたは行）。", **_IN)
@xw.arg("cards_per_month", doc="処理能力の枚数（省略時 1,000 枚）。", **_IN)
@xw.arg("staff", doc="その枚数に必要な職員数（省略時 6 人）。", **_IN)
@excel_function
def KOFU_STAFF_NEEDED(monthly, cards_per_month=None, staff=None):
    """月当たりの交付枚数に必要な職員数（切り上げ）を返します。処理能力の既定は月1,000枚につき6人です。"""

    def one(monthly, cards_per_month, staff):
        cards, people = _capacity(cards_per_month, staff)
        return calc.staff_needed(number(monthly, "交付枚数"), cards, people)

    return broadcast(one, monthly, cards_per_month, staff)


@xw.func(category=CATEGORY)
@xw.arg("staff", doc="職員配置数（セルまたは行）。", **_IN)
@xw.arg("cards_per_month", doc="処理能力の枚数（省略時 1,000 枚）。", **_IN)
@xw.arg("capacity_staff", doc="その枚数に必要な職員数（省略時 6 人）。", **_IN)
@excel_function
def KOFU_CAPACITY(staff, cards_per_month=None, capacity_staff=None):
    """職員配置数で処理できる月当たりの交付枚数を返します。処理能力の既定は月1,000枚につき6人です。"""

    def one(staff, cards_per_month, capacity_staff):
        cards, people = _capacity(cards_per_month, capacity_staff)
        return calc.capacity(number(staff, "職員数"), cards, people)

    return broadcast(one, staff, cards_per_month, capacity_staff)


# ---------------------------------------------------------------- costs (円, 千円)


@xw.func(category=CATEGORY)
@xw.arg("hourly", doc="時間単価（円）。", **_IN)
@xw.arg("premium", doc="割増率（1.35 または \"135%\"）。", **_IN)
@xw.arg("days", doc="日数。", **_IN)
@xw.arg("staff", doc="人数。", **_IN)
@xw.arg("hours", doc="1日当たりの時間数。", **_IN)
@excel_function
def KOFU_OVERTIME(hourly, premium, days, staff, hours):
    """時間外勤務手当（時間単価×割増率×日数×人数×時間数）を円で正確に返します。"""

    def one(hourly, premium, days, staff, hours):
        return calc.overtime_yen(
            number(hourly, "時間単価"),
            number(premium, "割増率", percent=True),
            number(days, "日数"),
            number(staff, "人数"),
            number(hours, "時間数"),
        )

    return broadcast(one, hourly, premium, days, staff, hours)


@xw.func(category=CATEGORY)
@xw.arg("per_month", doc="月当たりの人数（通数）。", **_IN)
@xw.arg("months", doc="月数。", **_IN)
@xw.arg("unit_price", doc="1通当たりの単価（円）。", **_IN)
@excel_function
def KOFU_POSTAGE(per_month, months, unit_price):
    """本人限定受取郵便などの郵送料（月当たり人数×月数×単価）を円で返します。"""

    def one(per_month, months, unit_price):
        return calc.postage_yen(number(per_month, "月当たり人数"), number(months, "月数"), number(unit_price, "単価"))

    return broadcast(one, per_month, months, unit_price)


@xw.func(category=CATEGORY)
@xw.arg("count", doc="数量（台数など）。", **_IN)
@xw.arg("unit_price", doc="単価（円）。", **_IN)
@excel_function
def KOFU_PURCHASE(count, unit_price):
    """購入費（数量×単価）を円で返します。"""

    def one(count, unit_price):
        return calc.purchase_yen(number(count, "数量"), number(unit_price, "単価"))

    return broadcast(one, count, unit_price)


@xw.func(category=CATEGORY)
@xw.arg("yen", doc="金額（円）。", **_IN)
@excel_function
def KOFU_SENYEN(yen):
    """円を千円単位に切り上げて返します（様式の積算と同じ。97,200円→98千円）。"""
    return broadcast(lambda yen: calc.senyen(number(yen, "金額")), yen)


# ---------------------------------------------------------------- codes and dates


def _dantai_code(code):
    """A numeric cell loses leading zeros (011002 -> 11002): give them back."""
    if isinstance(code, (int, float, Decimal)) and not isinstance(code, bool):
        if not math.isfinite(code) or code != int(code) or not 0 <= code < 1_000_000:
            return str(code)
        return f"{int(code):06d}"
    return text(code)


@xw.func(category=CATEGORY)
@xw.arg("code", doc="団体コード（6桁）。", **_IN)
@xw.arg("prefecture", doc="都道府県名（省略可）。指定すると先頭2桁と一致するかも確かめます。", **_IN)
@excel_function
def KOFU_DANTAI_CHECK(code, prefecture=None):
    """団体コードが正しければ TRUE、誤りがあれば FALSE を返します（検査数字と都道府県を確認）。"""

    def one(code, prefecture):
        value = _dantai_code(code)
        return None if value is None else dantai_problem(value, text(prefecture)) is None

    return broadcast(one, code, prefecture)


@xw.func(category=CATEGORY)
@xw.arg("code", doc="団体コード（6桁）。", **_IN)
@xw.arg("prefecture", doc="都道府県名（省略可）。", **_IN)
@excel_function
def KOFU_DANTAI_REASON(code, prefecture=None):
    """団体コードの誤りの内容を文章で返します。正しければ空欄です。"""

    def one(code, prefecture):
        value = _dantai_code(code)
        found = None if value is None else dantai_problem(value, text(prefecture))
        return None if found is None else found[1]

    return broadcast(one, code, prefecture)


def _wareki(value, with_day):
    if text(value) is None:  # empty (an incoming "#..." is passed through here)
        return None
    with_day = flag(with_day, "日まで指定")
    day = date_of(value)
    if day is None:
        if not isinstance(value, str):
            raise problem("日付", "読めない")
        try:
            key = parse_column(value)
        except CalendarError:
            key = None
        if key is not None:
            if with_day:
                raise problem("日付", "年月だけ")
            return column_label(key)
        try:
            day = parse_date(value)
        except CalendarError:
            raise problem("日付", "読めない") from None
    try:
        return wareki_date(day) if with_day else column_label(f"{day.year}-{day.month:02d}")
    except CalendarError:
        raise problem("日付", "読めない") from None


@xw.func(category=CATEGORY)
@xw.arg("date_or_key", doc="日付、または年月（\"2020-04\"、\"R2年4月\"、\"FY2021\"）。", **_IN)
@xw.arg("with_day", doc="TRUE なら \"令和元年10月3日\" のように日まで返します（省略時 FALSE）。", **_IN)
@excel_function
def KOFU_WAREKI(date_or_key, with_day=None):
    """日付や年月を和暦の表記（"R2年4月"、"R3年度"）で返します。"""
    return broadcast(_wareki, date_or_key, with_day)


# ---------------------------------------------------------------- explaining an error value


def _why_text(reason: str) -> str:
    reason = reason.removeprefix("#")
    if "#" + reason in EXCEL_ERRORS:
        return f"入力のセルがエラー値（#{reason}）です。そのセルの原因を直してください"
    return reason


@xw.func(category=CATEGORY)
@xw.arg("function_name", doc="理由を知りたい関数の名前（\"KOFU_OVERTIME\" など）。", **_IN)
@xw.arg("args", doc="その関数に渡したのと同じ引数。", **_IN)
@excel_function
def KOFU_WHY(function_name, *args):
    """KOFU_* 関数がエラー値（#VALUE! など）を返す理由を文章で返します。同じ引数を渡してください。問題がなければ空欄です。"""
    name = unicodedata.normalize("NFKC", text(single(function_name, "関数名")) or "").strip().upper()
    if name == "KOFU_WHY" or name not in FUNCTION_NAMES:
        raise problem("関数名", "KOFU_ の関数名でない")
    found = reasons(globals()[name], *args)
    return "／".join(_why_text(r) for r in found)


# ---------------------------------------------------------------- official statistics (a table)


@xw.func(category=CATEGORY)
@xw.arg("code", doc="団体コード（6桁。先頭の 0 は省略可）。", **_IN)
@xw.ret(index=False, header=True)
@excel_function
def KOFU_ACTUALS(code):
    """同梱の公表統計（2019年4月〜2022年12月）から、その市区町村の交付枚数の推移を表で返します（見出し付き、日付は日付）。"""
    # the statistics' reader is loaded at the first call, not before Excel's first KOFU_* value
    from kofu_xl.app.stats_frame import statistics

    value = single(code, "団体コード")
    if text(value) is None:
        raise problem("団体コード", "未入力")
    try:
        frame = statistics(value)
    except LookupError:
        raise problem("団体コード", "公表統計にない") from None
    except Exception:  # noqa: BLE001 - a code the statistics cannot read
        raise problem("団体コード", "読めない") from None
    return frame.astype({"交付枚数": "int64", "人口": "int64"})


def functions() -> dict[str, object]:
    """Every worksheet function by its Excel name."""
    return {name: globals()[name] for name in FUNCTION_NAMES}
