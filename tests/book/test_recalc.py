"""Headless recalculation: pycel with the KOFU_* functions, cross-checked by LibreOffice.

The test book is built here with openpyxl from the seed plan: a 本表1-1 full of row-wise
array formulas (legacy CSE arrays, as Excel 2016/2019 store them), per-cell KOFU_* calls,
native formulas on top of them, defined names, a 本表1-2 cost working and a sheet of codes
and dates. Every formula cell is compared with kofu_xl's core.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

from kofu_xl.core import calc
from kofu_xl.core.calendar import wareki_date
from kofu_xl.core.dantai import dantai_problem
from kofu_xl.core.model import load_plan
from kofu_xl.core.schedule import default_schedule
from tests.support import recalc

SEED_PLAN = Path(calc.__file__).parents[1] / "data" / "shiroi_2019.plan.json"
S11, S12, BASIC, SETTINGS = "本表1-1", "本表1-2", "基本 情報", "設定"
FIRST_COL = 4  # column D
TEXT_INPUTS = {1: "１１１", 12: "1,050"}  # column index -> what a clerk typed instead of a number
needs_libreoffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")


def col(i: int) -> str:
    return get_column_letter(FIRST_COL + i)


def num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def kofu(value: Decimal | None) -> object:
    """A KOFU_* cell's value for a core value: a float, or "" for empty."""
    return "" if value is None else float(value)


@pytest.fixture(scope="module")
def plan():
    plan, _ = load_plan(json.loads(SEED_PLAN.read_text(encoding="utf-8")))
    return plan


def build_book(plan, path: Path) -> dict[tuple[str, str], object]:
    """Write the test book; return the expected value of every formula cell, from the core."""
    d = calc.derive(plan)
    schedule = default_schedule()
    columns = plan.columns
    n = len(columns)
    months = [i for i, c in enumerate(columns) if c.is_month]
    last, last_month = col(n - 1), col(months[-1])
    expected: dict[tuple[str, str], object] = {}

    wb = openpyxl.Workbook()
    settings = wb.active
    settings.title = SETTINGS
    settings["A1"], settings["B1"] = "処理能力（枚/月）", 1000
    settings["A2"], settings["B2"] = "処理能力（人）", 6
    ws = wb.create_sheet(S11)
    ws["A1"], ws["C1"] = "人口", float(plan.basic.population)
    ws["A2"], ws["C2"] = "交付枚数（基準日時点）", float(plan.basic.base_issued)
    for name, target in (
        ("人口", f"'{S11}'!$C$1"),
        ("基準日交付枚数", f"'{S11}'!$C$2"),
        ("処理能力枚数", f"{SETTINGS}!$B$1"),
        ("処理能力人数", f"{SETTINGS}!$B$2"),
    ):
        wb.defined_names[name] = DefinedName(name, attr_text=target)

    issuance = plan.series("issuance")
    inputs = {5: issuance, 12: plan.series("windows.total"), 13: plan.series("staff.total")}
    inputs |= {14: plan.series("terminals.issuing"), 15: plan.series("terminals.presetting")}
    for i, c in enumerate(columns):
        ws[f"{col(i)}4"] = c.label  # "R元年8月(実績)" … "R4年度", as on the form
        for r, series in inputs.items():
            ws[f"{col(i)}{r}"] = num(series[i])
    for i, typed in TEXT_INPUTS.items():
        assert Decimal(typed.replace(",", "").translate(str.maketrans("０１２３４５６７８９", "0123456789"))) == issuance[i]
        ws[f"{col(i)}5"] = typed

    def array_row(r: int, formula: str, values: list[object], upto: int = n) -> None:
        ref = f"D{r}:{col(upto - 1)}{r}"
        ws[f"D{r}"] = ArrayFormula(ref, formula)
        for i in range(upto):
            expected[(S11, f"{col(i)}{r}")] = values[i]

    array_row(6, f"=KOFU_CUMULATIVE(基準日交付枚数,D5:{last}5)", [kofu(v) for v in d.cumulative])
    array_row(7, f"=KOFU_RATE(D6:{last}6,人口)", [kofu(v) for v in d.coverage_rate])
    array_row(8, f"=KOFU_INCREASE(D5:{last}5,人口)", [kofu(v) for v in d.increase])
    bounds = [schedule.checkpoint_for_column(c) for c in columns]
    array_row(9, f'=KOFU_THRESHOLD(D4:{last}4,"下限")', [kofu(cp and schedule.lower_pct(cp) / 100) for cp in bounds])
    array_row(10, f'=KOFU_THRESHOLD(D4:{last}4,"上限")', [kofu(cp and schedule.upper_pct(cp) / 100) for cp in bounds])
    checks = []
    for cp, rate in zip(bounds, d.coverage_rate, strict=True):
        shown = calc.rate_pct(rate)
        checks.append(
            "" if cp is None else "下限値未満" if shown < schedule.lower_pct(cp) else "上限値超" if shown > schedule.upper_pct(cp) else "OK"
        )
    assert checks.count("OK") == 3  # the seed plan meets all three checkpoints
    array_row(11, f"=KOFU_CHECK(D7:{last}7,D4:{last}4)", checks)
    for r, units, derived in (
        (16, 12, d.per_window),
        (17, 13, d.per_staff),
        (18, 14, d.per_issuing_terminal),
        (19, 15, d.per_presetting_terminal),
    ):
        array_row(r, f"=KOFU_PER(D5:{last_month}5,D{units}:{last_month}{units})", [kofu(derived[i]) for i in months], len(months))
    array_row(20, f"=KOFU_CAPACITY(D13:{last}13,処理能力枚数,処理能力人数)", [kofu(v) for v in d.capacity])
    array_row(21, f"=KOFU_STAFF_NEEDED(D5:{last_month}5,処理能力枚数,処理能力人数)", [kofu(v) for v in d.staff_needed], len(months))
    for i, c in enumerate(columns):
        if not c.is_month:  # a fiscal year's issuance is spread over its 12 months
            ws[f"{col(i)}21"] = f"=KOFU_STAFF_NEEDED({col(i)}5/12,処理能力枚数,処理能力人数)"
            expected[(S11, f"{col(i)}21")] = kofu(d.staff_needed[i])
        # one call per cell instead of per row: the same figures
        ws[f"{col(i)}22"] = f"=KOFU_RATE({col(i)}6,人口)"
        expected[(S11, f"{col(i)}22")] = kofu(d.coverage_rate[i])
        # native formulas on top of the KOFU_* rows
        ws[f"{col(i)}24"] = f'=IF({col(i)}7="","",ROUND({col(i)}7*100,1))'
        expected[(S11, f"{col(i)}24")] = num(calc.rate_pct(d.coverage_rate[i]))
        ws[f"{col(i)}25"] = f'=IF({col(i)}8="","",ROUND({col(i)}8*100,1))'
        expected[(S11, f"{col(i)}25")] = kofu(calc.rate_pct(d.increase[i]))
        ws[f"{col(i)}26"] = f"={col(i)}6-{col(i - 1)}6" if i else "=D6-基準日交付枚数"
        expected[(S11, f"{col(i)}26")] = float(issuance[i]) if i else 0
    numeric_months = sum(issuance[i] for i in months if i not in TEXT_INPUTS)
    rate_fy2021 = d.coverage_rate[[c.key for c in columns].index("FY2021")]
    for cell, formula, value in (
        ("C28", f'=COUNTIF(D11:{last}11,"OK")', 3),
        ("C29", f"=MAX(D7:{last}7)", float(max(v for v in d.coverage_rate if v is not None))),
        ("C30", f'=INDEX(D7:{last}7,MATCH("R3年度",D4:{last}4,0))', float(rate_fy2021)),
        ("C31", f"=SUM(D5:{last_month}5)", float(numeric_months)),  # SUM skips the typed text
        ("C32", '=IFERROR(1/0,"ゼロ除算")', "ゼロ除算"),
        ("C33", f"=ROUNDUP({last}6/1000,0)", float(calc.senyen(d.cumulative[-1]))),
        ("C34", '=IF(C28=3,"全チェックポイントOK","要確認")', "全チェックポイントOK"),
    ):
        ws[cell] = formula
        expected[(S11, cell)] = value

    # 本表1-2: the cost working, per fiscal year, plus a product that binary floats get wrong
    costs = wb.create_sheet(S12)
    working = {
        "B": (plan.working["FY2019"], 2000, 1.35, 12, 1, 3),
        "C": (plan.working["FY2020"], 2000, "135%", 24, 2, 3),
        "D": (None, 1300, 1.1, 25, 1, 4),  # 143,000円 exactly; 143000.00000000003 in floats
    }
    amounts = calc.derive(plan).working
    for c, (w, *overtime) in working.items():
        for r, value in zip(range(2, 7), overtime, strict=True):
            costs[f"{c}{r}"] = value
        costs[f"{c}8"] = f"=KOFU_OVERTIME({c}2,{c}3,{c}4,{c}5,{c}6)"
        costs[f"{c}9"] = f"=KOFU_SENYEN({c}8)"
        costs[f"{c}13"] = f"=KOFU_POSTAGE({c}10,{c}11,{c}12)"
        costs[f"{c}14"] = f"=KOFU_SENYEN({c}13)"
        costs[f"{c}17"] = f"=KOFU_PURCHASE({c}15,{c}16)"
        costs[f"{c}18"] = f"=KOFU_SENYEN({c}17)"
        costs[f"{c}20"] = f"=KOFU_SENYEN({c}19)"
        costs[f"{c}21"] = f"=SUM({c}9,{c}20)"
        costs[f"{c}22"] = f"=ROUNDUP({c}8/1000,0)"
        costs[f"{c}23"] = f'=IF({c}14="","なし",{c}14)'
        if w is None:
            yen = Decimal(143000)
            postage = purchase = temporary = None
        else:
            year = "FY2019" if c == "B" else "FY2020"
            yen = amounts[year].overtime_yen
            postage, purchase, temporary = amounts[year].postage_yen, amounts[year].purchases_yen["tablet"], w.temporary_yen
            if w.postage.per_month is not None:
                for r, v in zip((10, 11, 12), (w.postage.per_month, w.postage.months, w.postage.unit_yen), strict=True):
                    costs[f"{c}{r}"] = float(v)
            if purchase is not None:
                costs[f"{c}15"], costs[f"{c}16"] = float(plan.costs[year].tablet.count), float(w.tablet_unit_yen)
            costs[f"{c}19"] = float(temporary)
        senyen = {k: calc.senyen(v) for k, v in (("ot", yen), ("post", postage), ("buy", purchase), ("temp", temporary))}
        expected |= {
            (S12, f"{c}8"): kofu(yen),
            (S12, f"{c}9"): kofu(senyen["ot"]),
            (S12, f"{c}13"): kofu(postage),
            (S12, f"{c}14"): kofu(senyen["post"]),
            (S12, f"{c}17"): kofu(purchase),
            (S12, f"{c}18"): kofu(senyen["buy"]),
            (S12, f"{c}20"): kofu(senyen["temp"]),
            (S12, f"{c}21"): float(senyen["ot"] + (senyen["temp"] or 0)),
            (S12, f"{c}22"): float(senyen["ot"]),
            (S12, f"{c}23"): "なし" if senyen["post"] is None else float(senyen["post"]),
        }
    costs["B25"] = ArrayFormula("B25:D25", "=KOFU_SENYEN(B8:D8)")  # one call for the row of years
    for c in "BCD":
        expected[(S12, f"{c}25")] = expected[(S12, f"{c}9")]

    basic = wb.create_sheet(BASIC)  # a sheet name with a space
    basic["B1"], basic["B2"], basic["B9"] = 122327, "千葉県", dt.datetime(2019, 8, 31)
    basic["B9"].number_format = "yyyy/m/d"
    for cell, formula, value in (
        ("B3", "=KOFU_DANTAI_CHECK(B1,B2)", dantai_problem("122327", "千葉県") is None),
        ("B4", "=KOFU_DANTAI_REASON(122328)", dantai_problem("122328", None)[1]),
        ("B5", '=IF(B3,"正しい","誤り")', "正しい"),
        ("B6", "=KOFU_WAREKI(DATE(2019,10,3),TRUE)", wareki_date(dt.date(2019, 10, 3))),
        ("B7", '=KOFU_WAREKI("2020-04")', "R2年4月"),
        ("B8", "=KOFU_WAREKI(B9)", "R元年8月"),
        ("B10", "=LEN(B6)", len(wareki_date(dt.date(2019, 10, 3)))),
        ("B11", '=KOFU_THRESHOLD(B9+335,"下限")', float(schedule.lower_pct(schedule.checkpoints[0]) / 100)),  # 2020-07-31
        ("B12", f"=KOFU_CHECK(0.2345,'{S11}'!G4)", ""),  # R元年11月: no checkpoint
        ("B13", f"=KOFU_CHECK(\"23.4%\",'{S11}'!O4)", "下限値未満"),  # R2年7月, as typed text
    ):
        basic[cell] = formula
        expected[(BASIC, cell)] = value
    assert ws["O4"].value == "R2年7月"
    wb.save(path)
    return expected


@pytest.fixture(scope="module")
def book(plan, tmp_path_factory):
    path = tmp_path_factory.mktemp("book") / "交付円滑化計画_test.xlsx"
    return path, build_book(plan, path)


@pytest.fixture(scope="module")
def recalculated(book):
    path, _ = book
    return recalc.recalculate(path)


# ---------------------------------------------------------------- pycel


def test_every_formula_cell_equals_the_core(book, recalculated):
    path, expected = book
    assert set(recalculated) == set(expected)  # every formula cell, every cell of every array
    assert len(expected) > 380
    wrong = {}
    for key, want in expected.items():
        got = recalculated[key]
        if isinstance(want, float) and not isinstance(got, bool) and isinstance(got, (int, float)):
            ok = got == pytest.approx(want, rel=1e-12, abs=1e-15)
        else:
            ok = type(got) is type(want) and got == want
        if not ok:
            wrong[key] = (got, want)
    assert not wrong


def test_kofu_cells_are_exactly_the_core_values(book, recalculated):
    """No tolerance for the KOFU_* cells: the float of the core's Decimal, bit for bit."""
    path, expected = book
    kofu_cells = [(fc.sheet, fc.cell) for fc in recalc.formula_cells(path) if fc.calls_kofu]
    assert len(kofu_cells) > 300
    for key in kofu_cells:
        assert recalculated[key] == expected[key] and type(recalculated[key]) is type(expected[key]), key
    assert recalculated[(S12, "D9")] == 143.0  # 1,300 × 1.1 × 25 × 4 = 143,000円, not 144千円


def test_array_formulas_are_row_calls(book):
    path, _ = book
    cells = recalc.formula_cells(path)
    arrays = {fc.array_ref for fc in cells if fc.array_ref}
    assert "D6:Y6" in arrays and "B25:D25" in arrays
    row6 = [fc for fc in cells if fc.sheet == S11 and fc.array_ref == "D6:Y6"]
    assert [fc.cell for fc in row6] == [f"{col(i)}6" for i in range(22)]
    assert len(row6) == 22 and {fc.formula for fc in row6} == {"=KOFU_CUMULATIVE(基準日交付枚数,D5:Y5)"}
    assert row6[0].functions == ("KOFU_CUMULATIVE",) and row6[0].calls_kofu


def test_pycel_fix_is_undone_after_recalculation(book, recalculated):
    from pycel.excelutil import AddressMixin

    assert AddressMixin.quote_sheet("本表1-1") == "本表1-1"  # pycel's own behaviour is back


@pytest.mark.parametrize(
    "formula, function",
    [
        ("=FOO(1)", "FOO"),
        ("=KOFU_NOPE(A1)", "KOFU_NOPE"),
        ("=IF(TRUE,1,COUNTA(A1:A2))", "COUNTA"),  # in a branch never taken
        ("=_xlfn.XLOOKUP(1,A1:A2,A1:A2)", "XLOOKUP"),
        ("=IFERROR(TEXTJOIN(\",\",TRUE,A1:A2),\"\")", "TEXTJOIN"),
        ("=SUM(OFFSET(A1,0,0,2,1))", "OFFSET"),  # pycel would silently give 0
    ],
)
def test_an_unknown_function_fails_loudly(tmp_path, formula, function):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "本表1-1"
    ws["A1"], ws["A2"] = 1, 2
    ws["B1"] = "=A1+A2"
    ws["C7"] = formula
    path = tmp_path / "unknown.xlsx"
    wb.save(path)
    with pytest.raises(recalc.UnknownFunctionError) as info:
        recalc.recalculate(path)
    assert info.value.function == function and (info.value.sheet, info.value.cell) == ("本表1-1", "C7")
    assert f"本表1-1!C7: function {function}" in str(info.value)


@pytest.mark.parametrize("formula", ["=未定義の名前+1", "=IFERROR(未定義の名前,0)"])
def test_an_unknown_name_fails_loudly(tmp_path, formula):
    wb = openpyxl.Workbook()
    wb.active.title = "S"
    wb.active["A1"] = formula
    path = tmp_path / "name.xlsx"
    wb.save(path)
    with pytest.raises(recalc.RecalcError, match=r"S!A1: .*#NAME\?"):
        recalc.recalculate(path)


def test_functions_in_formulas():
    assert recalc.functions_in("=IF(KOFU_RATE(A1,人口)>0,_xlfn.XLOOKUP(1,A:A,B:B),sum(C1))") == ("IF", "KOFU_RATE", "XLOOKUP", "SUM")
    assert recalc.functions_in("=A1+1") == ()
    assert recalc.functions_in('="KOFU_RATE(1,2)"') == ()  # text, not a call


def test_same_value():
    assert recalc.same_value(0.1 + 0.2, 0.3) and recalc.same_value(3, 3.0)
    assert recalc.same_value(None, "") and recalc.same_value("#DIV/0!", "#DIV/0!")
    assert not recalc.same_value(True, 1) and not recalc.same_value(0, "")
    assert not recalc.same_value(3630.0, 3631.0) and not recalc.same_value("OK", "ok")


# ---------------------------------------------------------------- LibreOffice


@pytest.fixture(scope="module")
def libreoffice(book, recalculated, tmp_path_factory):
    path, _ = book
    work = tmp_path_factory.mktemp("libreoffice")
    injected = recalc.inject_udf_results(path, work / "injected.xlsx", recalculated)
    return injected, recalc.libreoffice_recalc(injected, work / "out")


def test_injected_copy_holds_the_kofu_values_as_constants(book, recalculated, libreoffice):
    path, _ = book
    injected, _ = libreoffice
    left = recalc.formula_cells(injected)
    assert left and not any(fc.calls_kofu for fc in left)
    native = [fc for fc in recalc.formula_cells(path) if not fc.calls_kofu]
    assert [(fc.sheet, fc.cell, fc.formula) for fc in left] == [(fc.sheet, fc.cell, fc.formula) for fc in native]
    wb = openpyxl.load_workbook(injected)
    assert wb[S11]["E6"].value == recalculated[(S11, "E6")] == 9581.0
    assert wb[S11]["O11"].value == "OK" and wb[BASIC]["B3"].value is True


@needs_libreoffice
def test_libreoffice_agrees_on_every_native_formula(book, recalculated, libreoffice):
    path, expected = book
    _, out = libreoffice
    native = [(fc.sheet, fc.cell) for fc in recalc.formula_cells(path) if not fc.calls_kofu]
    assert len(native) > 80
    lo = recalc.cached_values(out, native)
    # LibreOffice, an independent engine, against pycel and against the core
    assert [k for k in native if not recalc.same_value(lo[k], recalculated[k])] == []
    assert [k for k in native if not recalc.same_value(lo[k], expected[k])] == []


@needs_libreoffice
def test_cross_check_in_one_call(book, tmp_path):
    path, expected = book
    values, mismatches = recalc.cross_check(path, tmp_path / "work")
    assert mismatches == [] and set(values) == set(expected)


@needs_libreoffice
def test_cross_check_reports_a_disagreement(tmp_path):
    # pycel rounds up the binary 3630.0000000000005; LibreOffice's ROUNDUP snaps to 3630.
    wb = openpyxl.Workbook()
    wb.active.title = "本表1-2"
    wb.active["A1"] = "=ROUNDUP(3300*1.1,0)"
    wb.active["A2"] = "=KOFU_SENYEN(3300*1.1*1000)"
    path = tmp_path / "roundup.xlsx"
    wb.save(path)
    values, mismatches = recalc.cross_check(path, tmp_path / "work")
    assert [(m.sheet, m.cell, m.pycel, m.libreoffice) for m in mismatches] == [("本表1-2", "A1", 3631.0, 3630)]
    assert "pycel 3631.0 != LibreOffice 3630" in str(mismatches[0])


def _with_stale_value(source: Path, target: Path, cell: str, stale: str) -> None:
    """Copy an .xlsx and give one formula cell a cached value, as a stale file would have."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                marker = f'<c r="{cell}"><f>'
                start = text.index(marker)
                end = text.index("</c>", start)
                text = text[:start] + text[start:end].replace("<v />", f"<v>{stale}</v>").replace("<v></v>", f"<v>{stale}</v>") + text[end:]
                assert f"<v>{stale}</v>" in text
                data = text.encode("utf-8")
            zout.writestr(item, data)


@needs_libreoffice
def test_libreoffice_recalculates_instead_of_keeping_cached_values(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "本表1-1"
    wb.active["A1"], wb.active["B1"] = 2, "=A1*3"
    fresh = tmp_path / "fresh.xlsx"
    wb.save(fresh)
    stale = tmp_path / "stale.xlsx"
    _with_stale_value(fresh, stale, "B1", "999")
    assert recalc.cached_values(stale)[("本表1-1", "B1")] == 999
    out = recalc.libreoffice_recalc(stale, tmp_path / "out")
    assert out == tmp_path / "out" / "stale.xlsx"
    assert recalc.cached_values(out)[("本表1-1", "B1")] == 6


@needs_libreoffice
def test_libreoffice_failures_are_errors(tmp_path):
    source = tmp_path / "a.xlsx"
    openpyxl.Workbook().save(source)
    with pytest.raises(ValueError, match="overwritten"):
        recalc.libreoffice_recalc(source, tmp_path)
    with pytest.raises(recalc.RecalcError, match="did not finish"):
        recalc.libreoffice_recalc(source, tmp_path / "out", timeout=0.001)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(recalc.RecalcError):
        recalc.libreoffice_recalc(broken, tmp_path / "out")
