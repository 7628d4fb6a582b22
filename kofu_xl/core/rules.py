"""The rule catalogue: small independent checks over a plan.

Each check is a function ``(Context) -> Iterable[Finding]`` registered with the
specs it can report. :func:`run_rules` runs all of them and collects every
finding in one pass; no check stops another.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from msgspec import Struct, field

from kofu_xl._lazy_re import compiled_at_first_use
from kofu_xl.core.calc import Derived, bound_status, derive, personnel_sum, senyen, subsidy_sum, sum_parts
from kofu_xl.core.calendar import Column, month_label, months_of_fiscal_year, wareki_date
from kofu_xl.core.daily import SHEET_FACTS_KEY, daily_findings
from kofu_xl.core.dantai import dantai_problem, municipality_of, name_key
from kofu_xl.core.findings import CATALOGUE, Finding, GroupForm, RuleSpec, Severity, format_value, group_findings, register
from kofu_xl.core.model import IMPLEMENTED, UNDECIDED, CostYear, Plan, iter_leaves, leaf_label, load_plan
from kofu_xl.core.numbers import round_half_up
from kofu_xl.core.schedule import Schedule, default_schedule

__all__ = ["Context", "RULES", "check_plan", "run_rules"]

Num = Decimal | None


class Context(Struct, frozen=True):
    plan: Plan
    derived: Derived
    schedule: Schedule
    # (path, column) of cells whose typed value could not be read: already reported once,
    # with its cause, so "missing" is not said of them too
    unreadable: frozenset[tuple[str, str | None]] = frozenset()
    # the reading finding of each such cell, by (path, column): what was typed there
    typed: dict[tuple[str, str | None], Finding] = field(default_factory=dict)


Check = Callable[[Context], Iterable[Finding]]
RULES: list[tuple[tuple[RuleSpec, ...], Check]] = []


def rule(*specs: RuleSpec) -> Callable[[Check], Check]:
    def deco(fn: Check) -> Check:
        RULES.append((specs, fn))
        return fn

    return deco


def _spec(slug: str, severity: Severity, title: str, description: str, fix: str, fields: str, template: str, group: GroupForm | None = None) -> RuleSpec:
    return register(RuleSpec(slug, severity, title, description, fix, fields, template, group))


def _label(path: str) -> str:
    return leaf_label(path)


def _fmt1(value: Decimal) -> str:
    return f"{value:,.1f}"


# ---------------------------------------------------------------- required fields

MISSING = _spec(
    "missing-required",
    Severity.ERROR,
    "必須項目が未入力",
    "様式で入力が求められている欄が空欄です。",
    "該当する欄に値を入力してください。該当がない場合は 0 または「未定(実施予定なし)」を入力します。",
    "基礎情報、②交付枚数、③〜⑥の合計欄、開始時期、本表1-2の各経費、開始後の⑧⑨受付件数",
    "{field}{col}が未入力です。{hint}",
    GroupForm("{field}（{columns}）が未入力です。{hint}", shared=("hint",)),
)


def _started(start: str | None, column: Column) -> bool:
    """True when an activity that starts in month ``start`` runs in the column."""
    if not start or start == UNDECIDED:
        return False
    if start == IMPLEMENTED:
        return True
    return column.last_month >= start


def _name_hint(plan: Plan, path: str) -> str | None:
    """For a blank 都道府県名/市区町村名 with a valid 団体コード: the name the code stands for."""
    code = plan.basic.dantai_code
    if path not in ("basic.prefecture", "basic.municipality") or not code or dantai_problem(code, None):
        return None
    found = municipality_of(unicodedata.normalize("NFKC", code).strip())
    if found is None:
        return None
    value = found[0] if path == "basic.prefecture" else found[1]
    return f"団体コード {code} は{found[0]}{found[1]}です。「{value}」を入力してください。"


@rule(MISSING)
def missing_required(ctx: Context) -> Iterator[Finding]:
    plan = ctx.plan
    for leaf in iter_leaves():
        if not leaf.meta.required:
            continue
        hint = "値を入力してください。"
        if leaf.meta.kind == "month":
            hint = f"開始時期（例: 令和2年4月）か「{UNDECIDED}」を入力してください。"
        if leaf.group == "costs":
            for key in plan.cost_keys:
                obj = plan.costs.get(key, CostYear())
                for part in leaf.attr_path:
                    obj = getattr(obj, part)
                if obj is None and (leaf.path, key) not in ctx.unreadable:
                    yield Finding(MISSING, leaf.meta.label, leaf.path, key, params={"hint": "該当がない場合は 0 を入力してください。"})
        elif leaf.meta.series:
            for col, value in zip(plan.columns, plan.series(leaf.path), strict=True):
                if value is None and (leaf.path, col.key) not in ctx.unreadable:
                    yield Finding(MISSING, leaf.meta.label, leaf.path, col.key, params={"hint": "該当がない場合は 0 を入力してください。"})
        elif leaf.group is None:
            obj = plan
            for part in leaf.attr_path:
                obj = getattr(obj, part)
            if obj is None and (leaf.path, None) not in ctx.unreadable:
                yield Finding(MISSING, leaf.meta.label, leaf.path, params={"hint": _name_hint(plan, leaf.path) or hint})
    # Counts of an activity are required from the month it starts.
    for path, starts in (
        ("at_application.counts", (plan.at_application.honcho_start, plan.at_application.shisho_start, plan.at_application.other_start)),
        ("outreach.counts", (plan.outreach.start,)),
    ):
        for col, value in zip(plan.columns, plan.series(path), strict=True):
            if value is None and (path, col.key) not in ctx.unreadable and any(_started(s, col) for s in starts):
                yield Finding(
                    MISSING,
                    _label(path),
                    path,
                    col.key,
                    params={"hint": "開始時期以降の受付件数を入力してください（見込みがなければ 0）。"},
                )


# ---------------------------------------------------------------- 基礎情報

BAD_DANTAI = _spec(
    "invalid-dantai-code",
    Severity.ERROR,
    "団体コードが正しくない",
    "団体コードは 都道府県2桁＋3桁＋検査数字1桁 の6桁です。検査数字は各桁に 6,5,4,3,2 を掛けた和を 11 で割った余りを 11 から引いた数の1の位です。",
    "総務省の全国地方公共団体コードで自団体のコードを確認し、6桁で入力してください（先頭の 0 も必要です）。",
    "団体コード、都道府県名",
    "{field}「{actual}」: {reason}。",
)
BAD_EMAIL = _spec(
    "invalid-email",
    Severity.ERROR,
    "メールアドレスが正しくない",
    "担当課メールアドレスの形が正しくないか、存在しないドメインで終わっています。",
    "「shimin@city.example.lg.jp」のように、@ の前後とドメインの末尾まで正しく入力してください。",
    "担当課メールアドレス",
    "{field}「{actual}」: {reason}。「shimin@city.example.lg.jp」のように正しく入力してください。",
)
BAD_PHONE = _spec(
    "invalid-phone",
    Severity.ERROR,
    "電話番号が正しくない",
    "担当課電話番号は 0 で始まる10桁または11桁の番号です。",
    "市外局番から「047-492-1111」のように入力してください。",
    "担当課電話番号",
    "{field}「{actual}」: {reason}。市外局番から「047-492-1111」のように入力してください。",
)

# ISO 3166-1 alpha-2 codes (ccTLDs; "uk" for GB) and the generic TLDs public offices use.
_TLDS = frozenset(
    (
        "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz "
        "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr "
        "ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo "
        "jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr "
        "ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro "
        "rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv "
        "tw tz ua ug uk um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw "
        "com net org info biz gov edu int mil jobs name pro mobi asia tokyo osaka nagoya yokohama kyoto okinawa"
    ).split()
)
# An address's local part and its domain's labels. Compiled at first use: a part of the plain
# form (_plain_local, _plain_label: what the patterns match but for a final line feed, which
# "$" lets through) is told by str methods, and only another is matched
_local_re = compiled_at_first_use(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_label_re = compiled_at_first_use(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ATEXT = _ALNUM + "!#$%&'*+/=?^_`{|}~-"
_LDH = _ALNUM + "-"


def _plain_local(local: str) -> bool:
    """True when ``local`` is dot-separated non-empty runs of _ATEXT (then _local_re matches it)."""
    return all(run and not run.strip(_ATEXT) for run in local.split("."))


def _plain_label(label: str) -> bool:
    """True when ``label`` is 1-63 of _LDH, no hyphen first or last (then _label_re matches it)."""
    return 0 < len(label) <= 63 and not label.strip(_LDH) and label[0] != "-" and label[-1] != "-"


# A telephone number: digits, hyphens, brackets and spaces (what re.fullmatch(r"[0-9()\- ]+")
# matched): a text that str.strip of these leaves empty; its digits are what is left without the
# rest (of such a text, what re.sub(r"\D", "") kept)
_PHONE_CHARS = "0123456789()- "
_NOT_DIGITS = str.maketrans("", "", "()- ")


def email_problem(address: str) -> str | None:
    """None when the address is plausible; else a Japanese reason."""
    if unicodedata.normalize("NFKC", address) != address:
        return "全角文字が含まれています。半角で入力してください"
    if address.count("@") != 1:
        return "@ がちょうど1つ必要です"
    local, domain = address.split("@")
    if not local or not (_plain_local(local) or _local_re().match(local)):
        return "@ の前の部分が正しくありません"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_plain_label(x) or _label_re().match(x) for x in labels):
        return "@ の後のドメインが正しくありません"
    tld = labels[-1].lower()
    if tld not in _TLDS:
        if tld == "lg":
            return f"ドメインが「.{tld}」で終わっています。地方公共団体のドメインは「.lg.jp」で終わります（末尾が切れていないかも確認してください）"
        return f"ドメインの末尾「.{tld}」は存在しないトップレベルドメインです"
    return None


def phone_problem(number: str) -> str | None:
    text = unicodedata.normalize("NFKC", number).strip()
    if not text or text.strip(_PHONE_CHARS):
        return "数字・ハイフン・括弧以外の文字が含まれています"
    digits = text.translate(_NOT_DIGITS)
    if not digits.startswith("0"):
        return "0 で始まっていません（市外局番から入力してください）"
    if len(digits) not in (10, 11):
        return f"数字が {len(digits)} 桁です（10桁または11桁）"
    return None


@rule(BAD_DANTAI, BAD_EMAIL, BAD_PHONE)
def basic_info(ctx: Context) -> Iterator[Finding]:
    b = ctx.plan.basic
    if b.dantai_code:
        problem = dantai_problem(b.dantai_code, b.prefecture)
        if problem:
            expected, reason = problem
            yield Finding(BAD_DANTAI, "団体コード", "basic.dantai_code", expected=expected, actual=b.dantai_code, params={"reason": reason})
    if b.email and (reason := email_problem(b.email)):
        yield Finding(BAD_EMAIL, "担当課メールアドレス", "basic.email", actual=b.email, params={"reason": reason})
    if b.phone and (reason := phone_problem(b.phone)):
        yield Finding(BAD_PHONE, "担当課電話番号", "basic.phone", actual=b.phone, params={"reason": reason})


BASE_DATE = _spec(
    "base-not-month-end",
    Severity.WARNING,
    "交付枚数が基準月末の値でない",
    "本表1-1 の最初の列（R元年8月(実績)）は基準月末の累計交付枚数で、累計の行はこれに翌月からの計画を足します。"
    "別の日の値（公表統計の月の途中の値など）では、累計がその差だけ二重に数えるか数え漏らします。",
    "基準月末（令和元年8月31日）時点の自団体の交付枚数を「交付枚数（基準日時点）」に入力し、国基準・設定の「交付枚数の基準日」をその日にしてください。",
    "基礎情報 交付枚数、国基準・設定 交付枚数の基準日",
    "{field} {actual} 枚は{when}の値で、{month}末の累計ではありません。{effect}"
    "自団体の{month}末（{month_end}）の交付枚数を入力し、交付枚数の基準日を{month_end}にしてください。",
)


def _described(day: dt.date) -> dt.date:
    """The day whose cumulative count a count dated ``day`` gives: a count as of the 1st is the
    previous month-end's (the statistics' convention), any other day is that day's."""
    return day - dt.timedelta(days=1) if day.day == 1 else day


@rule(BASE_DATE)
def base_month_end(ctx: Context) -> Iterator[Finding]:
    """The cumulative row never mixes a count of another day with a monthly plan silently."""
    b, cols = ctx.plan.basic, ctx.plan.columns
    if b.base_issued is None or b.base_issued_date is None or not cols or not cols[0].is_month:
        return
    month = cols[0].key
    y, m = int(month[:4]), int(month[5:])
    end = dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)
    day = _described(b.base_issued_date)
    if day == end:
        return
    when = f"{wareki_date(b.base_issued_date)}時点"
    if b.base_issued_date.day == 1:
        when += f"（{month_label(f'{day.year}-{day.month:02d}')}末の累計）"
    if day < end:
        effect = f"{wareki_date(day + dt.timedelta(days=1))}から{wareki_date(end)}までの交付が累計に入りません。"
    else:
        effect = f"{wareki_date(end + dt.timedelta(days=1))}から{wareki_date(day)}までの交付が翌月の計画と二重に数えられます。"
    yield Finding(
        BASE_DATE, _label("basic.base_issued"), "basic.base_issued", expected=end, actual=b.base_issued,
        params={"when": when, "month": month_label(month), "month_end": wareki_date(end), "effect": effect},
    )


NAME_MISMATCH = _spec(
    "name-code-mismatch",
    Severity.ERROR,
    "市町村名・都道府県名が団体コードと合わない",
    "団体コードから分かる市区町村（全国 1,741 団体の一覧、kofu-xl に同梱）と、入力された市町村名が違うか、団体コードが一覧にありません（都道府県名との食い違いは invalid-dantai-code が示します）。提出先で別の団体の計画として扱われるおそれがあります。",
    "団体コードと市町村名・都道府県名のどちらが正しいか確認し、正しい方に合わせてください。",
    "団体コード、市町村名、都道府県名",
    "{field}「{actual}」は、団体コード {code} の「{expected}」と違います。{hint}",
)


@rule(NAME_MISMATCH)
def name_matches_code(ctx: Context) -> Iterator[Finding]:
    b = ctx.plan.basic
    if not b.dantai_code or dantai_problem(b.dantai_code, None):
        return  # a malformed code is invalid-dantai-code's
    known = municipality_of(b.dantai_code)
    if known is None:
        yield Finding(
            NAME_MISMATCH,
            "団体コード",
            "basic.dantai_code",
            expected="全国の市区町村の団体コード",
            actual=b.dantai_code,
            params={"code": b.dantai_code, "hint": "この団体コードの市区町村は一覧にありません。団体コードを確認してください。"},
        )
        return
    _prefecture, name = known  # 都道府県名 against the code: invalid-dantai-code says it
    for path, label, value, want in (("basic.municipality", "市町村名", b.municipality, name),):
        if value and name_key(value) != name_key(want):
            yield Finding(NAME_MISMATCH, label, path, expected=want, actual=value, params={"code": b.dantai_code, "hint": f"{label}を「{want}」にするか、団体コードを直してください。"})


# ---------------------------------------------------------------- derived rows

CUM = _spec(
    "cumulative-mismatch",
    Severity.ERROR,
    "累計が合わない",
    "交付枚数(累計)は、基準日の交付枚数に各月の交付枚数を足し上げた値です。",
    "累計の欄は計算式に戻してください（手入力で上書きされていないか確認してください）。",
    "交付枚数(累計)、②交付枚数、基礎情報の交付枚数",
    "{field}{col}は {actual} ですが、基準日の交付枚数と②交付枚数からは {expected} になります。累計の欄を計算式に戻すか、基準日の交付枚数と②交付枚数を確認してください。",
)
RATE = _spec(
    "rate-mismatch",
    Severity.ERROR,
    "率が合わない",
    "人口に対する交付枚数率（と前月からの増加分）は、交付枚数 ÷ 人口 を小数第1位（%）で表した値です。",
    "率の欄は計算式に戻してください。人口・交付枚数の入力も確認してください。",
    "人口に対する交付枚数率、前月からの増加分、人口",
    "{field}{col}は {actual}% ですが、交付枚数と人口からは {expected}% になります。率の欄を計算式に戻すか、人口と交付枚数を確認してください。",
)
PER_UNIT = _spec(
    "per-unit-mismatch",
    Severity.ERROR,
    "1窓口・1人・1台当たりが合わない",
    "1窓口・1人・1台当たり交付枚数は、②交付枚数をそれぞれの合計で割った値です（月の列のみ）。",
    "当たり枚数の欄は計算式に戻してください。割る数（窓口数・職員数・台数の合計）も確認してください。",
    "1窓口当たり・1人当たり・交付用/交付前設定用統合端末1台当たり交付枚数",
    "{field}{col}は {actual} ですが、{basis}からは {expected} になります。当たり枚数の欄を計算式に戻すか、{basis}を確認してください。",
)


def _pct1(rate: Num) -> Num:
    return None if rate is None else round_half_up(rate * 100, 1)


@rule(CUM, RATE, PER_UNIT)
def derived_rows(ctx: Context) -> Iterator[Finding]:
    plan, d = ctx.plan, ctx.derived
    cols = plan.columns
    if plan.basic.base_rate_pct is not None and d.base_rate is not None:
        expected = _pct1(d.base_rate)
        if round_half_up(plan.basic.base_rate_pct, 1) != expected:
            yield Finding(RATE, "人口に対する交付枚数率（基礎情報）", "basic.base_rate_pct", expected=expected, actual=plan.basic.base_rate_pct)
    for col, actual, expected in zip(cols, plan.series("declared.cumulative"), d.cumulative, strict=True):
        if actual is not None and expected is not None and actual != expected:
            yield Finding(CUM, _label("declared.cumulative"), "declared.cumulative", col.key, expected=expected, actual=actual)
    for path, computed in (("declared.rate_pct", d.coverage_rate), ("declared.increase_pct", d.increase)):
        for col, actual, rate in zip(cols, plan.series(path), computed, strict=True):
            if actual is not None and rate is not None and round_half_up(actual, 1) != _pct1(rate):
                yield Finding(RATE, _label(path), path, col.key, expected=_pct1(rate), actual=actual)
    per = (
        ("declared.per_window", d.per_window, "②交付枚数と③窓口数の合計"),
        ("declared.per_staff", d.per_staff, "②交付枚数と⑤職員配置数の合計"),
        ("declared.per_issuing_terminal", d.per_issuing_terminal, "②交付枚数と⑥統合端末台数（交付）"),
        ("declared.per_presetting_terminal", d.per_presetting_terminal, "②交付枚数と⑥統合端末台数（交付前設定）"),
    )
    for path, computed, basis in per:
        for col, actual, value in zip(cols, plan.series(path), computed, strict=True):
            if actual is None:
                continue
            if value is None:
                continue  # the divisor is blank or 0: said where it is (one finding per cause)
            expected = round_half_up(value, 1)
            if round_half_up(actual, 1) != expected:
                yield Finding(PER_UNIT, _label(path), path, col.key, expected=expected, actual=actual, params={"basis": basis})


# ---------------------------------------------------------------- totals of 本表1-1

WINDOWS = _spec(
    "window-total-mismatch",
    Severity.ERROR,
    "窓口数の合計が合わない",
    "③窓口数の合計は、本庁・支所・その他の和です。",
    "合計か内訳のどちらかを直してください。",
    "③窓口数 合計・本庁・支所・その他",
    "{field}{col}は {actual} ですが、内訳（{parts}）の和は {expected} です。合計か内訳を直してください。",
)
STAFF = _spec(
    "staff-total-mismatch",
    Severity.ERROR,
    "職員配置数の合計が合わない",
    "⑤職員配置数の合計は、本庁・支所・その他の 正規職員・臨時・非常勤職員・その他 の9区分の和です。",
    "合計か内訳のどちらかを直してください。",
    "⑤職員配置数 合計と9区分の内訳",
    "{field}{col}は {actual} ですが、内訳（{parts}）の和は {expected} です。合計か内訳を直してください。",
)
TERMINALS = _spec(
    "terminal-total-mismatch",
    Severity.ERROR,
    "統合端末台数の合計が合わない",
    "⑥統合端末台数は、合計＝交付＋交付前設定＝本庁＋支所＋その他、各場所＝その場所の交付＋交付前設定、の関係が成り立ちます。",
    "合計か内訳のどちらかを直してください。",
    "⑥統合端末台数 合計・交付・交付前設定・本庁・支所・その他",
    "{field}{col}は {actual} ですが、内訳（{parts}）の和は {expected} です。合計か内訳を直してください。",
)

_STAFF_SHORT = {
    "honcho_regular": "本庁正規",
    "honcho_temporary": "本庁臨時",
    "honcho_other": "本庁その他",
    "shisho_regular": "支所正規",
    "shisho_temporary": "支所臨時",
    "shisho_other": "支所その他",
    "other_regular": "その他正規",
    "other_temporary": "その他臨時",
    "other_other": "その他その他",
}


def _total_vs_parts(
    ctx: Context, spec: RuleSpec, total_path: str, part_paths: dict[str, str], parts_text: str | None = None
) -> Iterator[Finding]:
    """A total against the sum of its parts, the parts stated as typed: a negative part counts
    with its value (-2); a part that is no number (already reported where it is) leaves the sum
    unknown, so nothing is said; blanks and zeros are told apart (「他は空欄」, 「他は 0」)."""
    plan = ctx.plan
    totals = plan.series(total_path)
    parts = [plan.series(p) for p in part_paths]
    for i, col in enumerate(plan.columns):
        total = totals[i]
        if total is None:
            continue  # nothing to compare with
        values: list[Num] = [s[i] for s in parts]
        unknown = False
        if ctx.typed:  # part by part, by identity: `None in values` would compare Decimals with None, slowly
            for j, p in enumerate(part_paths):
                if values[j] is None and (typed := ctx.typed.get((p, col.key))) is not None:
                    if typed.rule == "negative-value" and isinstance(typed.actual, Decimal):
                        values[j] = typed.actual
                    else:
                        unknown = True
        expected = sum_parts(values)
        if unknown or expected is None or total == expected:
            continue
        named = [f"{name} {_num(values[j])}" for j, name in enumerate(part_paths.values()) if values[j]]
        rest = [values[j] for j in range(len(values)) if not values[j]]
        if not rest:
            rest_text = ""
        elif all(v is None for v in rest):
            rest_text = "空欄"
        elif all(v is not None for v in rest):
            rest_text = "0"
        else:
            rest_text = "0 または空欄"
        if named:
            shown = " + ".join(named) + (f"、他は{'' if rest_text == '空欄' else ' '}{rest_text}" if rest_text else "")
        else:
            shown = f"すべて{'' if rest_text == '空欄' else ' '}{rest_text}"
        yield Finding(spec, _label(total_path), total_path, col.key, expected=expected, actual=total, params={"parts": parts_text or shown})


def _num(value: Num) -> str:
    if value is None:
        return "空欄"
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value.normalize():,f}"


@rule(WINDOWS)
def window_totals(ctx: Context) -> Iterable[Finding]:
    return _total_vs_parts(ctx, WINDOWS, "windows.total", {"windows.honcho": "本庁", "windows.shisho": "支所", "windows.other": "その他"})


@rule(STAFF)
def staff_totals(ctx: Context) -> Iterable[Finding]:
    return _total_vs_parts(ctx, STAFF, "staff.total", {f"staff.{p}": _STAFF_SHORT[p] for p in _STAFF_SHORT})


@rule(TERMINALS)
def terminal_totals(ctx: Context) -> Iterator[Finding]:
    t = "terminals."
    relations = [
        (f"{t}total", {f"{t}issuing": "交付", f"{t}presetting": "交付前設定"}),
        (f"{t}total", {f"{t}honcho": "本庁", f"{t}shisho": "支所", f"{t}other": "その他"}),
        (f"{t}issuing", {f"{t}honcho_issuing": "本庁交付", f"{t}shisho_issuing": "支所交付", f"{t}other_issuing": "その他交付"}),
        (
            f"{t}presetting",
            {f"{t}honcho_presetting": "本庁交付前設定", f"{t}shisho_presetting": "支所交付前設定", f"{t}other_presetting": "その他交付前設定"},
        ),
    ]
    for place, name in (("honcho", "本庁"), ("shisho", "支所"), ("other", "その他")):
        relations.append((f"{t}{place}", {f"{t}{place}_issuing": f"{name}交付", f"{t}{place}_presetting": f"{name}交付前設定"}))
    for total, parts in relations:
        yield from _total_vs_parts(ctx, TERMINALS, total, parts)


# ---------------------------------------------------------------- national bounds and capacity

BELOW = _spec(
    "rate-below-lower-bound",
    Severity.ERROR,
    "国の下限値未満",
    "国の全体スケジュールに基づく想定（交付枚数率）の下限値を、計画の交付枚数率が下回っています（様式と同じ小数第1位の%で比較）。",
    "②交付枚数の想定を増やし、下限値以上になるようにしてください。",
    "人口に対する交付枚数率（チェックポイントの列）、国の下限値",
    "{field}{col}は {actual}% で、国の下限値 {expected}%（{checkpoint}）を下回っています。②交付枚数の想定を見直してください（あと {short} 枚必要です）。",
)
ABOVE = _spec(
    "rate-above-upper-bound",
    Severity.WARNING,
    "国の上限値超",
    "計画の交付枚数率が、国の全体スケジュールに基づく想定の上限値を上回っています。実現可能性を確認してください。",
    "交付体制（窓口・職員・端末）で実現できるか確認し、必要なら②交付枚数の想定を見直してください。",
    "人口に対する交付枚数率（チェックポイントの列）、国の上限値",
    "{field}{col}は {actual}% で、国の上限値 {expected}%（{checkpoint}）を上回っています。体制で実現できるか確認してください。",
)
CAPACITY = _spec(
    "capacity-shortfall",
    Severity.WARNING,
    "職員体制が不足",
    "計画の月当たり交付枚数が、⑤職員配置数で処理できる枚数（処理能力の設定: 既定は月1,000枚につき6人）を超えています。",
    "⑤職員配置数を増やすか、②交付枚数の想定を見直してください。処理能力の設定は 国基準/設定 シートで変えられます。",
    "②交付枚数、⑤職員配置数 合計、処理能力の設定",
    "{field}{col}: 月 {monthly} 枚の交付には職員 {expected} 人が必要ですが（{rule}）、配置は {actual} 人で、処理できるのは月 {capacity} 枚です。職員を増やすか交付枚数の想定を見直してください。",
    GroupForm(
        "{field}（{columns}）: 交付枚数が職員配置で処理できる枚数を超えています（{rule}）。{items}。職員を増やすか交付枚数の想定を見直してください。",
        "{column} {monthly} 枚（必要 {expected} 人、配置 {actual} 人、処理能力 月 {capacity} 枚）",
        shared=("rule",),
    ),
)


@rule(BELOW, ABOVE)
def national_bounds(ctx: Context) -> Iterator[Finding]:
    plan, d, sched = ctx.plan, ctx.derived, ctx.schedule
    for col, rate, cum in zip(plan.columns, d.coverage_rate, d.cumulative, strict=True):
        cp = sched.checkpoint_for_column(col)
        if cp is None or rate is None:
            continue
        shown = _pct1(rate)
        lower, upper = sched.lower_pct(cp), sched.upper_pct(cp)
        status = bound_status(rate, lower, upper)
        label = _label("declared.rate_pct")
        if status == "below":
            pop = plan.basic.population or Decimal(0)
            need = (lower / 100 * pop - (cum or 0)).to_integral_value(rounding="ROUND_CEILING")
            yield Finding(BELOW, label, "declared.rate_pct", col.key, expected=lower, actual=shown, params={"checkpoint": cp.title, "short": max(need, Decimal(0))})
        elif status == "above":
            yield Finding(ABOVE, label, "declared.rate_pct", col.key, expected=upper, actual=shown, params={"checkpoint": cp.title})


@rule(CAPACITY)
def capacity_shortfall(ctx: Context) -> Iterator[Finding]:
    plan, d = ctx.plan, ctx.derived
    p = plan.parameters
    staff = plan.series("staff.total")
    issued = plan.series("issuance")
    cap_rule = f"月{_num(p.capacity_cards_per_month)}枚につき{_num(p.capacity_staff)}人"
    for i, col in enumerate(plan.columns):
        if staff[i] is None or issued[i] is None or d.capacity[i] is None:
            continue
        monthly = issued[i] if col.is_month else issued[i] / len(col.months)
        if monthly > d.capacity[i]:
            yield Finding(
                CAPACITY,
                _label("issuance"),
                "issuance",
                col.key,
                expected=d.staff_needed[i],
                actual=staff[i],
                params={"monthly": f"{round_half_up(monthly, 0):,}", "capacity": f"{round_half_up(d.capacity[i], 0):,}", "rule": cap_rule},
            )


# ---------------------------------------------------------------- 本表1-2

COST_TOTAL = _spec(
    "cost-total-mismatch",
    Severity.ERROR,
    "経費の合計が合わない",
    "①補助対象経費は I＋II（うち補助対象分）＋III＋IV＋V＋その他、I 人件費は 正規職員＋臨時・非常勤職員＋その他 の和です。",
    "合計か内訳のどちらかを直してください。",
    "本表1-2 ①補助対象経費、I. 人件費と各経費",
    "{field}{col}は {actual} 千円ですが、内訳の和は {expected} 千円です（{parts}）。合計か内訳を直してください。",
)
SUBSIDY = _spec(
    "subsidy-exceeds-cost",
    Severity.ERROR,
    "補助対象分が購入経費を超える",
    "II の「うち補助対象分」は購入経費の一部で、購入経費を超えることはありません。",
    "うち補助対象分を購入経費以下にしてください。",
    "本表1-2 II-1〜II-3 購入経費・うち補助対象分",
    "{field}{col}の {actual} 千円が購入経費 {expected} 千円を超えています。うち補助対象分を購入経費以下にしてください。",
)
WORKING = _spec(
    "cost-working-mismatch",
    Severity.ERROR,
    "経費が積算と合わない",
    "本表1-2 の金額（千円）は、積算（時給×割増率×日数×人数×時間、人数/月×月数×単価、台数×単価）を千円未満切り上げた値です。本人限定受取郵便の件数は⑧申請時来庁の受付件数の計画と一致させます。",
    "積算シートの数値か本表1-2 の金額を直してください。郵便の件数は⑧申請時来庁の受付件数に合わせてください。",
    "本表1-2 の各経費、経費積算、⑧申請時来庁 受付件数",
    "{field}{col}は {actual} {unit}ですが、{basis}からは {expected} {unit}になります。{fix}",
)


@rule(COST_TOTAL, SUBSIDY)
def cost_totals(ctx: Context) -> Iterator[Finding]:
    for key in ctx.plan.cost_keys:
        year = ctx.plan.costs.get(key, CostYear())
        checks = (
            ("costs.total", year.total, subsidy_sum(year), "I＋II＋III＋IV＋V＋その他"),
            ("costs.personnel_total", year.personnel_total, personnel_sum(year), "正規職員＋臨時・非常勤職員＋その他"),
        )
        for path, actual, expected, parts in checks:
            if actual is not None and expected is not None and actual != expected:
                yield Finding(COST_TOTAL, _label(path), path, key, expected=expected, actual=actual, params={"parts": parts})
        for item in CostYear.PURCHASES:
            purchase = getattr(year, item)
            if purchase.cost is not None and purchase.subsidized is not None and purchase.subsidized > purchase.cost:
                path = f"costs.{item}.subsidized"
                yield Finding(SUBSIDY, _label(path), path, key, expected=purchase.cost, actual=purchase.subsidized)


@rule(WORKING)
def cost_working(ctx: Context) -> Iterator[Finding]:
    plan, d = ctx.plan, ctx.derived
    fix_amount = "積算か金額を直してください。"
    for key in plan.cost_keys:
        year = plan.costs.get(key, CostYear())
        amounts = d.working[key]
        pairs = [
            ("costs.personnel_regular", year.personnel_regular, amounts.overtime_yen, "積算（時給×割増率×日数×人数×時間）"),
            ("costs.personnel_temporary", year.personnel_temporary, amounts.temporary_yen, "積算の所要額"),
            ("costs.postage", year.postage, amounts.postage_yen, "積算（人数/月×月数×単価）"),
        ]
        pairs += [
            (f"costs.{item}.cost", getattr(year, item).cost, amounts.purchases_yen[item], "積算（購入台数×単価）")
            for item in CostYear.PURCHASES
        ]
        for path, actual, yen, basis in pairs:
            expected = senyen(yen)
            if actual is not None and expected is not None and actual != expected:
                yield Finding(
                    WORKING,
                    _label(path),
                    path,
                    key,
                    expected=expected,
                    actual=actual,
                    params={"unit": "千円", "basis": f"{basis} {yen:,f} 円の千円未満切り上げ", "fix": fix_amount},
                )
        # The postage working's volume must be the plan's own 申請時来庁 volume for that year.
        postage = plan.working.get(key)
        if postage is None or postage.postage.per_month is None or postage.postage.months is None:
            continue
        volume = postage.postage.per_month * postage.postage.months
        fy = int(key[2:])
        fy_months = set(months_of_fiscal_year(fy))
        planned = [
            v
            for col, v in zip(plan.columns, plan.series("at_application.counts"), strict=True)
            if set(col.months) <= fy_months
        ]
        planned_total = sum_parts(planned) or Decimal(0)
        if volume != planned_total:
            yield Finding(
                WORKING,
                "本人限定受取郵便 件数（月当たり人数×月数）",
                "working.postage.per_month",
                key,
                expected=planned_total,
                actual=volume,
                params={
                    "unit": "件",
                    "basis": f"⑧申請時来庁の受付件数の計画（同年度 {len([v for v in planned if v is not None])} か月分）",
                    "fix": "郵便の積算を受付件数の計画に合わせるか、⑧の受付件数を直してください。",
                },
            )


# ---------------------------------------------------------------- daily calendar

DAILY = _spec(
    "daily-total-mismatch",
    Severity.ERROR,
    "日次実績の合計が合わない",
    "日次実績の曜日別合計・月合計は日ごとの件数の和で、月合計は本表1-1 の実績の列の②交付枚数と一致します。",
    "日ごとの件数か合計を直してください。実績の列の交付枚数は日次実績の月合計に合わせます。",
    "日次実績、②交付枚数（実績の列）",
    "{field}{col}は {actual} ですが、{basis}は {expected} です。日ごとの件数か合計を直してください。",
)
_WEEKDAYS = "月火水木金土日"


@rule(DAILY)
def daily_totals(ctx: Context) -> Iterator[Finding]:
    plan, d = ctx.plan, ctx.derived
    zero = ([Decimal(0)] * 7, Decimal(0))
    for month, declared in sorted(plan.daily.declared.items()):
        weekday, total = d.daily.get(month, zero)
        for i, value in enumerate(declared.weekday[:7]):
            if value is not None and value != weekday[i]:
                yield Finding(
                    DAILY, f"日次実績 {_WEEKDAYS[i]}曜日の合計", "daily.weekday", f"{month}:{i}", expected=weekday[i], actual=value, params={"basis": "日ごとの件数の和"}
                )
        if declared.total is not None and declared.total != total:
            yield Finding(DAILY, "日次実績 月合計", "daily.total", month, expected=total, actual=declared.total, params={"basis": "日ごとの件数の和"})
    actual_through = plan.parameters.actual_through
    for col, value in zip(plan.columns, plan.series("issuance"), strict=True):
        if not col.is_month or actual_through is None or col.key > actual_through or col.key not in d.daily:
            continue
        total = d.daily[col.key][1]
        if value is not None and value != total:
            yield Finding(DAILY, _label("issuance") + "（実績）", "issuance", col.key, expected=total, actual=value, params={"basis": "日次実績の月合計"})


FORMULA_OVERWRITTEN = _spec(
    "formula-overwritten",
    Severity.WARNING,
    "計算式が変更・上書きされている",
    "灰色の計算セル（と、合計などあらかじめ計算式の入った入力セルの計算式）が、作成時の計算式から変更されているか、値で上書きされています。"
    "検証と提出は入力から計算し直すため、画面の数値と提出する数値が食い違います。",
    "メッセージの計算式をそのセルに入力し直してください（合計などの入力セルは、値を入力しても構いません）。",
    "すべての計算セル（本表1-1、本表1-2、経費積算、日次実績、国基準、実績比較）",
    "{field}が{state}です。計算式 {expected} に戻してください。",
)

FORMULA_FACTS_KEY = "formula_cells"
"""Key of the raw plan data under which the workbook reader passes the computed cells that no
longer hold the builder's formula: ``[[sheet, cell, field label, the builder's formula,
the formula found (without "=") or None, the value found], ...]`` (absent when the formulas
are unknown: a live book read as values, a JSON plan). A 日次実績 total holding a value is
daily-total-overwritten's, not listed here."""


def formula_findings(facts: Iterable[Any] | None) -> list[Finding]:
    """formula-overwritten: each computed cell whose formula was changed or typed over."""
    out = []
    for sheet, cell, label, formula, found, value in facts or ():
        if found is not None:
            state, actual = f"計算式「={found}」に変更されたもの", "=" + str(found)
        else:
            shown = value if isinstance(value, str) else format_value(value)
            state, actual = ("空欄" if value is None else f"値「{shown}」で上書きされたもの"), value
        out.append(Finding(FORMULA_OVERWRITTEN, str(label), "formula", expected=str(formula), actual=actual, params={"state": state}, sheet=str(sheet), cell=str(cell)))
    return out


# ---------------------------------------------------------------- running


def run_rules(plan: Plan, schedule: Schedule | None = None, reading: Iterable[Finding] = ()) -> list[Finding]:
    """Run every rule; all findings in one pass, in catalogue order, one per fact.
    ``reading``: the findings of loading the plan (a cell they report unreadable is not
    reported missing as well)."""
    schedule = schedule or default_schedule()
    derived = derive(plan, schedule.bounds_by_column(plan.columns))
    errors = [f for f in reading if f.severity is Severity.ERROR]
    ctx = Context(plan, derived, schedule, frozenset((f.path, f.column) for f in errors), {(f.path, f.column): f for f in errors})
    out: list[Finding] = []
    for _specs, check in RULES:
        out.extend(check(ctx))
    return group_findings(out)


def check_plan(raw: dict, schedule: Schedule | None = None, *, loaded: tuple[Plan, list[Finding]] | None = None) -> tuple[Plan, list[Finding]]:
    """Load raw plan data and run the whole catalogue: reading findings first, then the plan's
    rules, then the 日次実績 rules (over the sheet facts the reader put under
    ``kofu_xl.core.daily.SHEET_FACTS_KEY``, when it read a workbook) and the computed cells
    whose formula was changed or typed over (``FORMULA_FACTS_KEY``).

    ``loaded``: what :func:`load_plan` gives for ``raw`` (the facts left out), where the caller
    has it already (a workbook's reader loads the plan as it settles the formulas)."""
    facts = raw.get(SHEET_FACTS_KEY)
    plan, findings = loaded if loaded is not None else load_plan({k: v for k, v in raw.items() if k not in (SHEET_FACTS_KEY, FORMULA_FACTS_KEY)})
    daily = daily_findings(plan, facts)
    # A total overwritten by a value is one fact: say it once, as daily-total-overwritten.
    overwritten = {(f.path, f.column) for f in daily if f.rule == "daily-total-overwritten"}
    rules = [f for f in run_rules(plan, schedule, findings) if not (f.rule == "daily-total-mismatch" and (f.path, f.column) in overwritten)]
    return plan, findings + rules + daily + formula_findings(raw.get(FORMULA_FACTS_KEY))


assert all(s.slug in CATALOGUE for specs, _ in RULES for s in specs)
