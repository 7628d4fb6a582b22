"""The KOFU_* worksheet functions: Excel-shaped inputs, the core's results, xlwings' wrappers."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import importlib.util
import inspect
import json
import logging
import math
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import xlwings

import kofu_udfs
from kofu_udfs import _excel
from kofu_xl.core import calc
from kofu_xl.core.calendar import column_label, form_columns, wareki_date
from kofu_xl.core.dantai import check_digit
from kofu_xl.core.model import load_plan
from kofu_xl.core.schedule import default_schedule
from kofu_xl.ooxml.vba import xlwings_vba


class _Explained:
    """KOFU_* functions as the tests read them: each error value shown as its reason
    ("#人口が未入力"), after checking that the cell itself gets a real Excel error code."""

    def __getattr__(self, name):
        fn = getattr(kofu_udfs, name)

        def call(*args):
            plain = fn(*args)
            why = _excel.explain(fn, *args)
            assert _codes(why) == plain, (name, args, plain, why)
            return why

        return call


def _codes(value):
    if isinstance(value, list):
        return [_codes(v) for v in value]
    if isinstance(value, str) and value.startswith("#"):
        return _excel.error_code(value)
    return value


K = _Explained()

REQUIRED = {
    "KOFU_RATE",
    "KOFU_CUMULATIVE",
    "KOFU_INCREASE",
    "KOFU_PER",
    "KOFU_THRESHOLD",
    "KOFU_CHECK",
    "KOFU_OVERTIME",
    "KOFU_POSTAGE",
    "KOFU_SENYEN",
    "KOFU_STAFF_NEEDED",
    "KOFU_DANTAI_CHECK",
    "KOFU_WAREKI",
    "KOFU_PURCHASE",
}
NAMES = list(kofu_udfs.FUNCTION_NAMES)
SEED_PLAN = Path(calc.__file__).parents[1] / "data" / "shiroi_2019.plan.json"
POP = 63723.0  # 白井市, 2019-01-01
BASE = 9470.0  # 交付枚数 at 2019-08-31


def D(value) -> Decimal:
    return Decimal(str(value))


def f(value: Decimal | None):
    """What a KOFU_* function returns for a core value."""
    return "" if value is None else float(value)


@pytest.fixture(scope="module")
def plan():
    plan, findings = load_plan(json.loads(SEED_PLAN.read_text(encoding="utf-8")))
    return plan


def row(values):
    return [list(values)]


def excel_row(values):
    """A plan series as Excel hands it over: floats, empty cells as None."""
    return [[None if v is None else float(v) for v in values]]


# ---------------------------------------------------------------- the module


def test_every_function_is_there_under_its_excel_name():
    assert REQUIRED <= set(NAMES)
    assert sorted(n for n in dir(kofu_udfs) if n.startswith("KOFU_")) == sorted(NAMES)
    for name in NAMES:
        fn = getattr(kofu_udfs, name)
        assert fn.__name__ == name and callable(fn)
        doc = inspect.getdoc(fn)
        assert doc and not doc.isascii() and "\n\n" not in doc, name  # one Japanese paragraph
    assert kofu_udfs.functions() == {n: getattr(kofu_udfs, n) for n in NAMES}


def test_argument_names_are_vba_identifiers():
    reserved = {"date", "type", "property", "step", "to", "end", "next", "string", "integer", "object", "len", "option"}
    for name in NAMES:
        for param in inspect.signature(getattr(kofu_udfs, name)).parameters:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", param) and param not in reserved, (name, param)


# ---------------------------------------------------------------- KOFU_RATE


def test_rate_is_the_exact_fraction_of_the_core():
    assert K.KOFU_RATE(BASE, POP) == float(calc.coverage_rate(D(9470), D(63723)))
    assert calc.rate_pct(D(K.KOFU_RATE(BASE, POP))) == Decimal("14.9")


@pytest.mark.parametrize(
    "issued, population",
    [
        ("9470", "63723"),
        ("９４７０", "６３７２３"),  # full-width digits
        ("9,470", "63,723"),
        ("９，４７０", "６３，７２３人"),  # full-width comma and a unit
        (" 9470 ", 63723),
        (9470, Decimal(63723)),
        ([[9470.0]], [[63723.0]]),  # single cells through xlwings (ndim=2)
        (((9470.0,),), ((63723.0,),)),  # single cells through pycel
    ],
)
def test_rate_reads_what_clerks_type(issued, population):
    assert K.KOFU_RATE(issued, population) == float(calc.coverage_rate(D(9470), D(63723)))


@pytest.mark.parametrize(
    "issued, population, shown",
    [
        (None, POP, ""),
        ("", POP, ""),
        ("　", POP, ""),  # a full-width space is empty too
        (BASE, None, "#人口が未入力"),
        (BASE, "", "#人口が未入力"),
        (BASE, 0.0, "#人口が0以下"),
        (BASE, -5.0, "#人口が0以下"),
        (BASE, "たくさん", "#人口が数値でない"),
        (BASE, "63.7%", "#人口が数値でない"),
        (BASE, True, "#人口が数値でない"),
        ("約9千", POP, "#累計交付枚数が数値でない"),
        ("#DIV/0!", POP, "#DIV/0!"),  # an Excel error passes through
        (BASE, "#N/A", "#N/A"),
        ("#人口が未入力", POP, "#人口が未入力"),  # so does another KOFU_* problem
    ],
)
def test_rate_edge_cases(issued, population, shown):
    assert K.KOFU_RATE(issued, population) == shown


def test_rate_of_a_whole_row_and_column():
    expected = [f(calc.coverage_rate(D(v), D(63723))) if v is not None else "" for v in (9470, 9581, None, 9931)]
    assert K.KOFU_RATE([[9470.0, 9581.0, None, "9,931"]], POP) == [expected]
    assert K.KOFU_RATE([[9470.0], [9581.0], [None], ["9,931"]], POP) == [[v] for v in expected]
    # the population may come as a row of the same shape too; one bad cell stays in its cell
    assert K.KOFU_RATE([[1.0, 2.0]], [[POP, 0.0]]) == [[f(calc.coverage_rate(D(1), D(63723))), "#人口が0以下"]]
    assert K.KOFU_RATE([[1.0, 2.0]], [[POP, POP, POP]]) == "#範囲の大きさが不一致"
    assert K.KOFU_RATE([1.0, 2.0], POP) == [[f(calc.coverage_rate(D(1), D(63723))), f(calc.coverage_rate(D(2), D(63723)))]]


def test_rows_match_the_core_derivation_of_the_seed_plan(plan):
    """One call per row computes the same row as kofu_xl.calc.derive."""
    d = calc.derive(plan)
    issued = excel_row(plan.series("issuance"))
    population = float(plan.basic.population)
    cumulative = K.KOFU_CUMULATIVE(float(plan.basic.base_issued), issued)
    assert cumulative == [[f(v) for v in d.cumulative]]
    assert K.KOFU_RATE(cumulative, population) == [[f(v) for v in d.coverage_rate]]
    assert K.KOFU_INCREASE(issued, population) == [[f(v) for v in d.increase]]
    months = [i for i, c in enumerate(plan.columns) if c.is_month]
    for path, derived in (
        ("windows.total", d.per_window),
        ("staff.total", d.per_staff),
        ("terminals.issuing", d.per_issuing_terminal),
        ("terminals.presetting", d.per_presetting_terminal),
    ):
        units = excel_row(plan.series(path))
        got = K.KOFU_PER([[issued[0][i] for i in months]], [[units[0][i] for i in months]])
        assert got == [[f(derived[i]) for i in months]], path
    assert K.KOFU_CAPACITY(excel_row(plan.series("staff.total"))) == [[f(v) for v in d.capacity]]
    monthly = [issued[0][i] if c.is_month else issued[0][i] / 12 for i, c in enumerate(plan.columns)]
    assert K.KOFU_STAFF_NEEDED(row(monthly)) == [[f(v) for v in d.staff_needed]]


# ---------------------------------------------------------------- KOFU_CUMULATIVE, KOFU_INCREASE


def test_cumulative_of_the_seed_months():
    # R元年8月(実績) 9,470 already includes August's 103; September adds 111.
    assert K.KOFU_CUMULATIVE(BASE, [[103.0, 111.0, "３５０", "500件"]]) == [[9470.0, 9581.0, 9931.0, 10431.0]]
    assert K.KOFU_CUMULATIVE("9,470", [[103.0], [111.0]]) == [[9470.0], [9581.0]]
    assert K.KOFU_CUMULATIVE(BASE, 103.0) == 9470.0
    # the base as a one-cell range, the way xlwings (ndim=2) and pycel pass a reference
    assert K.KOFU_CUMULATIVE([[BASE]], [[103.0, 111.0]]) == [[9470.0, 9581.0]]
    assert K.KOFU_CUMULATIVE(((BASE,),), ((103.0, 111.0),)) == [[9470.0, 9581.0]]
    assert K.KOFU_CUMULATIVE([[BASE, 1.0]], [[103.0, 111.0]]) == [["#基準日の交付枚数が1つのセルでない"] * 2]
    # the first column's own count is not added again, whatever it holds
    assert K.KOFU_CUMULATIVE(BASE, [["?", 111.0]]) == [[9470.0, 9581.0]]


def test_cumulative_stops_at_a_gap_or_a_problem():
    assert K.KOFU_CUMULATIVE(BASE, [[103.0, 111.0, None, 500.0]]) == [[9470.0, 9581.0, "", ""]]
    assert K.KOFU_CUMULATIVE(BASE, [[103.0, "多数", 1.0, 2.0]]) == [[9470.0, "#交付枚数が数値でない"] * 1 + ["#交付枚数が数値でない"] * 2]
    assert K.KOFU_CUMULATIVE(BASE, [[103.0, 1.0, "#REF!"]]) == [[9470.0, 9471.0, "#REF!"]]
    assert K.KOFU_CUMULATIVE(None, [[103.0, 111.0]]) == [["#基準日の交付枚数が未入力"] * 2]
    assert K.KOFU_CUMULATIVE(BASE, [[1.0, 2.0], [3.0, 4.0]]) == "#範囲は1行か1列"


def test_increase_is_not_a_difference_of_rounded_rates():
    # 111 / 63,723 = 0.174 % shows as 0.2 % although the rates go from 14.9 % to 15.0 %.
    got = K.KOFU_INCREASE([[103.0, 111.0, None, "１,０００"]], POP)
    assert got == [["", f(calc.coverage_rate(D(111), D(63723))), "", f(calc.coverage_rate(D(1000), D(63723)))]]
    assert calc.rate_pct(D(got[0][1])) == Decimal("0.2")
    # a single column has no base column in it
    assert K.KOFU_INCREASE(111.0, POP) == got[0][1]
    assert K.KOFU_INCREASE([[103.0, "x"]], POP) == [["", "#交付枚数が数値でない"]]
    assert K.KOFU_INCREASE([[103.0, 111.0]], None) == [["#人口が未入力"] * 2]
    assert K.KOFU_INCREASE([[103.0, 111.0]], [[POP]]) == got_pair([103, 111])
    assert K.KOFU_INCREASE([[103.0, 111.0]], [[POP, POP]]) == [["#人口が1つのセルでない"] * 2]


def got_pair(values):
    return [["", *(f(calc.coverage_rate(D(v), D(63723))) for v in values[1:])]]


# ---------------------------------------------------------------- KOFU_PER


@pytest.mark.parametrize(
    "count, units, shown",
    [
        (1050.0, 2.0, 525.0),
        ("1,050", "２", 525.0),
        (1000.0, 3.0, float(calc.per_unit(D(1000), D(3)))),
        (1050.0, 0.0, ""),  # no windows: empty, not #DIV/0!
        (1050.0, None, ""),
        (None, 2.0, ""),
        (1050.0, -1.0, "#窓口等の数が負の値"),
        ("#VALUE!", 2.0, "#VALUE!"),
    ],
)
def test_per_unit(count, units, shown):
    assert K.KOFU_PER(count, units) == shown


def test_per_unit_row():
    assert K.KOFU_PER([[100.0, 100.0, 100.0]], [[2.0, 0.0, None]]) == [[50.0, "", ""]]
    assert K.KOFU_PER([[100.0, 90.0]], 3.0) == [[f(calc.per_unit(D(100), D(3))), 30.0]]


# ---------------------------------------------------------------- KOFU_THRESHOLD, KOFU_CHECK


def test_threshold_of_every_checkpoint_comes_from_the_schedule():
    schedule = default_schedule()
    assert len(schedule.checkpoints) == 3
    for cp in schedule.checkpoints:
        assert K.KOFU_THRESHOLD(cp.month, "下限") == float(schedule.lower_pct(cp) / 100)
        assert K.KOFU_THRESHOLD(cp.month, "上限") == float(schedule.upper_pct(cp) / 100)
    assert K.KOFU_THRESHOLD("2020-07", "下限") == 0.235
    assert K.KOFU_THRESHOLD("R3年度", "上限値") == 0.785


@pytest.mark.parametrize(
    "checkpoint",
    [
        "2020-07",
        "R2年7月",
        "令和2年7月",
        "Ｒ２年７月",
        "2020/7",
        "R2.7",
        "2020-07-31",
        dt.datetime(2020, 7, 1),
        dt.date(2020, 7, 31),
        44043.0,  # the Excel serial of 2020-07-31 (pycel, Office.js)
        [["R2年7月"]],
    ],
)
def test_threshold_reads_any_spelling_of_a_column(checkpoint):
    assert K.KOFU_THRESHOLD(checkpoint, "下限") == 0.235


def test_threshold_edge_cases():
    assert K.KOFU_THRESHOLD("2020-06", "下限") == ""  # no checkpoint in that column
    assert K.KOFU_THRESHOLD(None, "下限") == ""
    assert K.KOFU_THRESHOLD("R3年度", "lower") == 0.706
    assert K.KOFU_THRESHOLD("FY2021", " 下限値 ") == 0.706
    assert K.KOFU_THRESHOLD("R元年8月(実績)", "下限") == ""
    assert K.KOFU_THRESHOLD("2020-07", "中間") == "#種別は下限か上限"
    assert K.KOFU_THRESHOLD("2020-07", None) == "#種別は下限か上限"
    assert K.KOFU_THRESHOLD("いつか", "下限") == "#列の年月が読めない"
    assert K.KOFU_THRESHOLD(True, "下限") == "#列の年月が読めない"
    headers = [[column_label(c.key) for c in form_columns("2020-06", "2021-03", [2021], None)]]
    lower = K.KOFU_THRESHOLD(headers, "下限")
    assert [v for v in lower[0] if v != ""] == [0.235, 0.471, 0.706]


@pytest.mark.parametrize(
    "rate, shown",
    [
        (0.2345, "OK"),  # shows as 23.5 %: the bound itself
        (0.23449, "下限値未満"),  # shows as 23.4 %
        (0.1, "下限値未満"),
        (0.3144, "OK"),  # 31.4 %
        (0.3145, "上限値超"),  # 31.5 %
        ("23.5%", "OK"),
        ("２３．４％", "下限値未満"),
        ([[0.2345]], "OK"),
        (None, ""),
        ("", ""),
        ("#DIV/0!", "#DIV/0!"),
        ("高い", "#交付率が数値でない"),
    ],
)
def test_check_against_the_bounds_at_the_forms_precision(rate, shown):
    assert K.KOFU_CHECK(rate, "R2年7月") == shown


def test_check_of_a_row_and_columns_without_checkpoint():
    headers = [["R2年6月", "R2年7月", "R3年3月", "R3年度", "R4年度"]]
    rates = [[0.9, 0.2, 0.5, 0.80, 0.1]]
    assert K.KOFU_CHECK(rates, headers) == [["", "下限値未満", "OK", "上限値超", ""]]
    assert K.KOFU_CHECK("x", "R2年6月") == ""  # no checkpoint: nothing to check


# ---------------------------------------------------------------- money


def test_cost_working_of_the_seed_is_exact(plan):
    d = calc.derive(plan)
    for key, w in plan.working.items():
        o = w.overtime
        yen = K.KOFU_OVERTIME(*(float(v) for v in (o.hourly_yen, o.premium, o.days, o.staff, o.hours)))
        assert yen == float(d.working[key].overtime_yen)
        assert K.KOFU_SENYEN(yen) == float(calc.senyen(d.working[key].overtime_yen))
    assert K.KOFU_SENYEN(K.KOFU_OVERTIME(2000.0, 1.35, 12.0, 1.0, 3.0)) == 98.0
    assert K.KOFU_SENYEN(K.KOFU_OVERTIME(2000.0, "135%", 24.0, 2.0, "3時間")) == 389.0
    assert K.KOFU_POSTAGE(300.0, 12.0, 492.0) == 1771200.0
    assert K.KOFU_SENYEN(K.KOFU_POSTAGE("300人", "12月", "492円")) == 1772.0
    assert K.KOFU_PURCHASE(1.0, 30000.0) == 30000.0
    assert K.KOFU_SENYEN(K.KOFU_PURCHASE("１", "30,000")) == 30.0


def test_money_does_not_pick_up_binary_float_error():
    # 1,300 × 1.1 × 25 × 1 × 4 is exactly 143,000円 = 143千円; in binary floating point it is
    # 143000.00000000003, which rounds up to 144千円: an over-claim of the subsidy.
    assert math.ceil(1300 * 1.1 * 25 * 1 * 4 / 1000) == 144
    yen = K.KOFU_OVERTIME(1300.0, 1.1, 25.0, 1.0, 4.0)
    assert yen == 143000.0 and K.KOFU_SENYEN(yen) == 143.0


@pytest.mark.parametrize(
    "yen, shown",
    [
        (97200.0, 98.0),
        (388800.0, 389.0),
        (1771200.0, 1772.0),
        (81000.0, 81.0),
        (81000.5, 82.0),
        (0.0, 0.0),
        ("1,771,200円", 1772.0),
        (None, ""),
        ("#N/A", "#N/A"),
        ("百円", "#金額が数値でない"),
    ],
)
def test_senyen_rounds_up(yen, shown):
    assert K.KOFU_SENYEN(yen) == shown


def test_money_results_are_whole_floats_and_empty_inputs_give_empty():
    for value in (
        K.KOFU_OVERTIME(2000.0, 1.35, 12.0, 1.0, 3.0),
        K.KOFU_POSTAGE(300.0, 12.0, 492.0),
        K.KOFU_SENYEN(97200.0),
    ):
        assert type(value) is float and value.is_integer()
    assert K.KOFU_OVERTIME(2000.0, 1.35, None, 1.0, 3.0) == ""
    assert K.KOFU_POSTAGE(None, 12.0, 492.0) == ""
    assert K.KOFU_PURCHASE(1.0, None) == ""
    assert K.KOFU_OVERTIME(2000.0, "1.35倍", 12.0, 1.0, 3.0) == "#割増率が数値でない"
    # one call per row of years
    assert K.KOFU_SENYEN([[97200.0, 388800.0, None]]) == [[98.0, 389.0, ""]]


# ---------------------------------------------------------------- capacity


@pytest.mark.parametrize(
    "args, shown",
    [
        ((1050.0,), 7.0),  # 1,050 × 6 / 1,000 = 6.3 -> 7
        ((1000.0,), 6.0),
        ((0.0,), 0.0),
        (("3,150",), 19.0),
        ((1050.0, 500.0, 6.0), 13.0),
        ((1050.0, None, None), 7.0),  # omitted optional arguments (xlwings passes None)
        ((1050.0, "", ""), 7.0),  # empty cells given for them
        ((None,), ""),
        ((1050.0, 0.0), "#処理能力の枚数が0以下"),
        ((1050.0, 1000.0, -6.0), "#処理能力の人数が0以下"),
    ],
)
def test_staff_needed(args, shown):
    assert K.KOFU_STAFF_NEEDED(*args) == shown


def test_capacity():
    assert K.KOFU_CAPACITY(6.0) == 1000.0
    assert K.KOFU_CAPACITY(7.0) == float(calc.capacity(D(7), D(1000), D(6)))
    assert K.KOFU_CAPACITY([[6.0, None, 12.0]], 500.0, 3.0) == [[1000.0, "", 2000.0]]


# ---------------------------------------------------------------- 団体コード, 和暦


@pytest.mark.parametrize(
    "args, valid",
    [
        ((122327.0,), True),  # a numeric cell
        (("122327",), True),
        (("１２２３２７",), True),
        ((122327.0, "千葉県"), True),
        ((122327.0, "東京都"), False),
        ((122328.0,), False),
        ((float("01100" + check_digit("01100")),), True),  # 011002 typed in a numeric cell
        (("12232",), False),
        (("abcdef",), False),
        ((122327.5,), False),
        ((None,), ""),
        (("#N/A",), "#N/A"),
    ],
)
def test_dantai_check(args, valid):
    assert K.KOFU_DANTAI_CHECK(*args) == valid


def test_dantai_reason():
    assert K.KOFU_DANTAI_REASON(122327.0, "千葉県") == ""
    assert K.KOFU_DANTAI_REASON(122328.0) == "検査数字（6桁目）が正しくありません。12232 の検査数字は 7 で、122327 は千葉県白井市のコードです。正しいコードを入力してください"
    assert "東京都" in K.KOFU_DANTAI_REASON("122327", "東京都")
    assert K.KOFU_DANTAI_CHECK([[122327.0, 122328.0]]) == [[True, False]]


@pytest.mark.parametrize(
    "args, shown",
    [
        (("2020-04",), "R2年4月"),
        (("2019-04",), "H31年4月"),
        (("2019-05",), "R元年5月"),
        (("FY2021",), "R3年度"),
        (("R3年度",), "R3年度"),
        (("令和2年4月",), "R2年4月"),
        (("２０２０／４",), "R2年4月"),
        ((dt.datetime(2019, 10, 3),), "R元年10月"),
        ((dt.date(2019, 10, 3),), "R元年10月"),
        ((43741.0,), "R元年10月"),  # Excel serial of 2019-10-03
        (("2019-10-03",), "R元年10月"),
        ((43741.0, True), wareki_date(dt.date(2019, 10, 3))),
        ((dt.datetime(2019, 10, 3), 1.0), "令和元年10月3日"),
        (("令和元年10月3日", True), "令和元年10月3日"),
        (("2019-10-03", "TRUE"), "令和元年10月3日"),
        (("2019-10-03", False), "R元年10月"),
        (("R2年4月", True), "#日付が年月だけ"),
        (("そのうち",), "#日付が読めない"),
        ((1.5,), "#日付が読めない"),
        (("2019-10-03", "たぶん"), "#日まで指定がTRUEかFALSEでない"),
        ((None,), ""),
        (("#VALUE!",), "#VALUE!"),
    ],
)
def test_wareki(args, shown):
    assert K.KOFU_WAREKI(*args) == shown


def test_wareki_of_a_header_row():
    keys = ["2019-08", "2019-09", "FY2021"]
    assert K.KOFU_WAREKI(row(keys)) == [[column_label(k) for k in keys]]


# ---------------------------------------------------------------- cells as xlwings and pycel pass them

SAMPLE_ARGS = {
    "KOFU_ACTUALS": (122327.0,),
    "KOFU_WHY": ("KOFU_RATE", 9470.0, "たくさん"),
    "KOFU_RATE": (9470.0, 63723.0),
    "KOFU_CUMULATIVE": (9470.0, 103.0),
    "KOFU_INCREASE": (111.0, 63723.0),
    "KOFU_PER": (1050.0, 2.0),
    "KOFU_THRESHOLD": ("R2年7月", "下限"),
    "KOFU_CHECK": (0.2, "2020-07"),
    "KOFU_OVERTIME": (2000.0, 1.35, 12.0, 1.0, 3.0),
    "KOFU_POSTAGE": (300.0, 12.0, 492.0),
    "KOFU_PURCHASE": (1.0, 30000.0),
    "KOFU_SENYEN": (97200.0,),
    "KOFU_STAFF_NEEDED": (1050.0, 1000.0, 6.0),
    "KOFU_CAPACITY": (6.0, 1000.0, 6.0),
    "KOFU_DANTAI_CHECK": (122327.0, "千葉県"),
    "KOFU_DANTAI_REASON": (122328.0, "千葉県"),
    "KOFU_WAREKI": (43741.0, True),
    "KOFU_PLAN_CUMULATIVE": (15031.0, "R2年7月", "R2年7月"),
    "KOFU_REQUIRED_MONTHLY": (11523.0, 0.235, 63723.0, 2.0),
}


def test_every_argument_may_be_a_one_cell_range():
    """xlwings (ndim=2) hands every argument over as [[v]], pycel a reference as ((v,),)."""
    assert sorted(SAMPLE_ARGS) == sorted(NAMES)
    for name, args in SAMPLE_ARGS.items():
        fn = getattr(kofu_udfs, name)
        plain = fn(*args)
        if name == "KOFU_ACTUALS":  # a DataFrame (xlwings' converter writes it)
            assert fn(*([[a]] for a in args)).equals(plain) and fn(*(((a,),) for a in args)).equals(plain)
            continue
        assert plain != "" and not (isinstance(plain, str) and plain.startswith("#")), (name, plain)
        assert fn(*([[a]] for a in args)) == plain, name
        assert fn(*(((a,),) for a in args)) == plain, name


# ---------------------------------------------------------------- failure never reaches the cell as a traceback


def test_an_unexpected_failure_is_a_short_text_and_a_log_entry(monkeypatch, caplog):
    def broken(*args):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(calc, "coverage_rate", broken)
    with caplog.at_level(logging.ERROR, logger="kofu_udfs"):
        assert kofu_udfs.KOFU_RATE(BASE, POP) == "#VALUE!"
        assert _excel.explain(kofu_udfs.KOFU_RATE, BASE, POP) == "#計算できません"
    assert "KOFU_RATE failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_every_function_answers_garbage_with_text_not_an_exception():
    garbage = ["?", None, True, [[None, "x"]], dt.datetime(2020, 1, 1), "#N/A", float("nan"), float("inf")]
    for name in NAMES:
        fn = getattr(kofu_udfs, name)
        arity = len(inspect.signature(fn).parameters)
        for value in garbage:
            shown = fn(*([value] * arity))
            cells = [c for line in shown for c in line] if isinstance(shown, list) else [shown]
            assert all(isinstance(c, (str, float, bool)) for c in cells), (name, value, shown)
            assert "Traceback" not in repr(shown) and "#計算できません" not in repr(shown), (name, value, shown)


# ---------------------------------------------------------------- xlwings: VBA wrappers (Windows desktop)


_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"|ChrW\(&H([0-9A-F]{1,4})\))\s*(?:&|$)')


def vba_text(expression: str) -> str:
    """The value of an ASCII VBA string expression ("..." & ChrW(&H....) & ...)."""
    out, pos = [], 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        assert match, expression[pos:]
        out.append(match.group(1).replace('""', '"') if match.group(2) is None else chr(int(match.group(2), 16)))
        pos = match.end()
    return "".join(out)


@pytest.fixture(scope="module")
def wrappers() -> str:
    return xlwings_vba.generate_udf_wrappers("kofu_udfs", kofu_udfs)


def test_every_function_has_a_vba_wrapper_from_xlwings(wrappers):
    declared = re.findall(r"^Function (KOFU_\w+)\((.*)\)\r$", wrappers, re.MULTILINE)
    assert sorted(name for name, _ in declared) == sorted(NAMES)
    assert ("KOFU_WHY", "function_name, ParamArray args()") in declared
    assert 'KOFU_WHY = KofuCellErrors(XLPy.CallUDF("kofu_udfs", "KOFU_WHY", argsArray, ThisWorkbook, Application.Caller))' in wrappers
    for name, params in declared:
        if name == "KOFU_WHY":
            continue
        signature = inspect.signature(getattr(kofu_udfs, name)).parameters.values()
        expected = ", ".join(("Optional " if p.default is not p.empty else "") + p.name for p in signature)
        assert params == expected, name
        args = ", ".join(p.name for p in signature)
        # each result passes through KofuCellErrors: "#VALUE!" becomes CVErr(xlErrValue)
        assert f'{name} = KofuCellErrors(XLPy.CallUDF("kofu_udfs", "{name}", Array({args}), ThisWorkbook, Application.Caller))' in wrappers
        assert f"    {name} = KofuUdfFailed(Err.Description)\r\n" in wrappers
    assert "= Err.Description" not in wrappers  # a failed call is #VALUE!, never text SUM would skip
    assert 'Case "#VALUE!": KofuCellError = CVErr(2015)' in wrappers and 'Case "#DIV/0!": KofuCellError = CVErr(2007)' in wrappers
    assert "Application.Volatile" not in wrappers  # pure functions recalculate only when inputs change
    assert wrappers.isascii()


def test_macro_options_give_category_description_and_argument_help():
    vba = xlwings_vba.generate_macro_options(kofu_udfs)
    lines = vba.split("\r\n")
    for name in NAMES:
        start = lines.index(f"    ' {name}")
        block = lines[start + 1 : next((i for i in range(start + 1, len(lines)) if lines[i].startswith("    ' ")), len(lines))]
        calls = [l for l in block if l.startswith("    Application.MacroOptions ")]
        assert calls == [f'    Application.MacroOptions Macro:=prefix & "{name}", Description:=desc, Category:=cat, ArgumentDescriptions:=argDocs']
        assert vba_text("".join(l.split(" = ", 1)[1] for l in block if l.startswith("    cat = "))) == "交付円滑化計画"
        desc = "".join(vba_text(l.split(" = ", 1)[1].removeprefix("desc & ")) for l in block if l.startswith("    desc = "))
        assert desc == inspect.getdoc(getattr(kofu_udfs, name))
        docs = [vba_text(l.split(" = ", 1)[1]) for l in block if l.startswith("    argDocs(")]
        assert len(docs) == len(inspect.signature(getattr(kofu_udfs, name)).parameters)
        assert all(d and not d.isascii() and not d.startswith("Positional argument") for d in docs), name


def test_wrapper_generation_leaves_the_module_untouched(wrappers):
    assert not hasattr(kofu_udfs.KOFU_RATE, "__xlfunc__")  # decorators are no-ops off Windows
    assert "kofu_udfs" in sys.modules and sys.modules["kofu_udfs"] is kofu_udfs


# ---------------------------------------------------------------- xlwings Server / Office.js custom functions


@pytest.fixture
def officejs(monkeypatch):
    """kofu_udfs as xlwings Server loads it: XLWINGS_ON_SERVER makes xw.func the Office.js decorator."""
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    monkeypatch.setenv("XLWINGS_ON_SERVER", "true")
    server = importlib.import_module("xlwings.server")
    # xlwings registers its PRO engines when first imported, which happened before the key
    # was set here: register the Office.js engine as that import would have.
    from xlwings.pro import _xlofficejs

    if "officejs" not in xlwings.engines.engines_by_name:
        engine = xlwings.main.Engine(impl=_xlofficejs.engine)
        monkeypatch.setattr(xlwings.engines, "engines", [*xlwings.engines.engines, engine])
        monkeypatch.setitem(xlwings.engines.engines_by_name, "officejs", engine)
    monkeypatch.setattr(xlwings, "__pro__", True)
    # xlwings picks its decorators when first imported; route them as a server start would.
    for name in ("func", "arg", "ret"):
        monkeypatch.setattr(xlwings, name, getattr(server, name))
    spec = importlib.util.spec_from_file_location("kofu_udfs_officejs", kofu_udfs.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "kofu_udfs_officejs", module)
    spec.loader.exec_module(module)
    return server, module


def call(server, module, name, *args, version=None):
    payload = {
        "client": "Office.js",
        "func_name": name,
        "args": list(args),
        "caller_address": "[交付円滑化計画.xlsx]本表1-1!D7",
        "session_id": "test",
        "culture_info_name": "ja-JP",
        "date_format": "yyyy/m/d",
        "version": version or xlwings.__version__,
        "runtime": "1.4",
    }
    return asyncio.run(server.custom_functions_call(json.loads(json.dumps(payload)), module))


def test_officejs_metadata_lists_every_function(officejs):
    server, module = officejs
    meta = server.custom_functions_meta(module)
    functions = {m["id"]: m for m in meta["functions"]}
    assert sorted(functions) == sorted(NAMES)
    for name in NAMES:
        m = functions[name]
        assert m["name"] == name and m["description"] == getattr(kofu_udfs, name).__doc__
        assert m["result"]["dimensionality"] == "matrix"  # rows spill
        params = inspect.signature(getattr(kofu_udfs, name)).parameters.values()
        assert [p["name"] for p in m["parameters"]] == [p.name for p in params]
        assert [p.get("optional", False) for p in m["parameters"]] == [p.default is not p.empty for p in params]
        assert all(not p["description"].startswith("Positional") for p in m["parameters"])
    json.dumps(meta, ensure_ascii=False)  # served as JSON


def test_officejs_calls_round_trip(officejs):
    server, module = officejs
    rate = float(calc.coverage_rate(D(9470), D(63723)))
    # Office.js sends every argument as a matrix, an omitted optional one as null
    assert call(server, module, "KOFU_RATE", [[9470]], [[63723]]) == [[rate]]
    assert call(server, module, "KOFU_RATE", [[9470, "", "９，５８１"]], [[63723]]) == [
        [rate, "", float(calc.coverage_rate(D(9581), D(63723)))]
    ]
    assert call(server, module, "KOFU_CUMULATIVE", [[9470]], [[103, 111, 350]]) == [[9470.0, 9581.0, 9931.0]]
    assert call(server, module, "KOFU_STAFF_NEEDED", [[1050]], None, None) == [[7.0]]
    assert call(server, module, "KOFU_SENYEN", [[97200]]) == [[98.0]]
    assert call(server, module, "KOFU_CHECK", [[0.2345, 0.1]], [["R2年7月", "R2年6月"]]) == [["OK", ""]]
    assert call(server, module, "KOFU_DANTAI_CHECK", [[122327]], None) == [[True]]
    assert call(server, module, "KOFU_WAREKI", [[43741]], [[True]]) == [["令和元年10月3日"]]
    # an unusable input goes back as a real Excel error (xlwings turns the code into one)
    assert call(server, module, "KOFU_RATE", [[9470]], [[""]]) == [[{"type": "Error", "errorType": "Value"}]]
    # An Excel error cell arrives as a typed value and goes back as the same Excel error
    error = {"type": "Error", "basicValue": "#DIV/0!", "errorType": "Div0"}
    assert call(server, module, "KOFU_RATE", [[9470]], [[error]]) == [[{"type": "Error", "errorType": "Div0"}]]


# ---------------------------------------------------------------- =KOFU_ACTUALS(団体コード): a table through xlwings' DataFrame converter


def test_kofu_actuals_spills_the_official_figures_of_shiroi_through_xlwings(officejs):
    """Evaluated headlessly through xlwings itself (its Office.js custom-functions call, which
    runs the same DataFrame converter as the COM UDF server): a header row, then the 40
    publications of 白井市, dates as dates (Excel serials with a date format), 13,039 cards
    counted on 2020-08-01."""
    server, module = officejs
    got = call(server, module, "KOFU_ACTUALS", [[122327]])
    header, rows = got[0], got[1:]
    assert header == ["交付件数基準日", "月末", "交付枚数", "人口", "人口算出基準日", "人口に対する交付枚数率（%）"]
    assert len(rows) == 40
    first = rows[0][0]
    assert first == {"type": "FormattedNumber", "basicValue": 43556.0, "numberFormat": "yyyy/m/d"}  # 2019-04-01
    by_date = {_excel.serial_to_date(r[0]["basicValue"]).isoformat(): r for r in rows}
    assert by_date["2020-08-01"][1:4] == ["2020-07", 13039, 63723]
    assert by_date["2021-04-01"][2] == 20768 and by_date["2020-08-01"][5] == 20.5
    # leading zero optional, the code may be text; an unknown code is an Excel error, explained
    assert call(server, module, "KOFU_ACTUALS", [["122327"]]) == got
    assert call(server, module, "KOFU_ACTUALS", [[""]]) == [[{"type": "Error", "errorType": "Value"}]]
    assert kofu_udfs.KOFU_WHY("KOFU_ACTUALS", "") == "団体コードが未入力"


def test_kofu_actuals_returns_a_dataframe_for_xlwings_and_the_com_wrapper_exists(wrappers):
    import pandas as pd

    frame = kofu_udfs.KOFU_ACTUALS(122327.0)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (40, 6)
    assert str(frame["交付件数基準日"].dtype).startswith("datetime64")
    assert kofu_udfs.KOFU_ACTUALS.__wrapped__ is not None
    assert 'KOFU_ACTUALS = KofuCellErrors(XLPy.CallUDF("kofu_udfs", "KOFU_ACTUALS", Array(code), ThisWorkbook, Application.Caller))' in wrappers
