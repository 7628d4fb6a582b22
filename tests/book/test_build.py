"""The official workbook: built from source, reproducible, and read back by independent readers."""

from __future__ import annotations

import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.book.build import SHEETS, build_sheets
from kofu_xl.book.layout import ROWS_11, S11, S12, layout_for
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.book.vba import build_xlsm, vba_modules
from kofu_xl.core.model import iter_leaves, load_plan
from kofu_xl.core.rules import check_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"


@pytest.fixture(scope="module")
def plan():
    return load_plan(shipped_plan_raw())[0]


@pytest.fixture(scope="module")
def xlsm(plan) -> bytes:
    return build_xlsm(plan)


def test_shipped_workbook_equals_a_fresh_build(xlsm):
    assert SHIPPED.read_bytes() == xlsm, "workbook/交付円滑化計画.xlsm is stale: run `kofu-xl build`"


def test_two_builds_are_byte_identical(plan, xlsm):
    assert build_xlsm(plan) == xlsm


def test_package_parts(xlsm):
    z = zipfile.ZipFile(io.BytesIO(xlsm))
    names = z.namelist()
    assert "xl/vbaProject.bin" in names and "customUI/customUI14.xml" in names
    ct = z.read("[Content_Types].xml").decode()
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in ct
    assert "application/vnd.ms-office.vbaProject" in ct
    assert "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility" in z.read("_rels/.rels").decode()
    assert "relationships/vbaProject" in z.read("xl/_rels/workbook.xml.rels").decode()


def test_olevba_extracts_every_module_equal_to_the_generated_source(xlsm):
    from oletools.olevba import VBA_Parser

    parser = VBA_Parser("交付円滑化計画.xlsm", data=xlsm)
    got = {name.rsplit(".", 1)[0] if False else stream.split("/")[-1]: code for _f, stream, name, code in parser.extract_macros()}
    expected = {m.name: m for m in vba_modules()}
    assert set(got) == set(expected)
    for name, module in expected.items():
        body = "\n".join(line for line in got[name].replace("\r\n", "\n").split("\n") if not line.startswith("Attribute VB_"))
        source = "\n".join(
            line for line in module.source.replace("\r\n", "\n").split("\n")
            if not line.startswith("Attribute VB_") and not line.startswith(("VERSION 1.0", "BEGIN", "  MultiUse", "END"))
        )
        assert body.strip() == source.strip(), name
    # every KOFU_* function has its generated wrapper
    import kofu_udfs

    for fname in kofu_udfs.FUNCTION_NAMES:
        assert f"Function {fname}(" in got["KofuUdfs"]
    # document modules match the workbook's code names
    for _sheet, code in SHEETS:
        assert code in got


def test_ribbon_actions_name_existing_callbacks(xlsm):
    import re

    z = zipfile.ZipFile(io.BytesIO(xlsm))
    ui = z.read("customUI/customUI14.xml").decode()
    assert "交付円滑化計画" in ui and "検証して提出" in ui
    actions = set(re.findall(r'onAction="([^"]+)"', ui))
    ribbon = next(m for m in vba_modules() if m.name == "KofuRibbon").source
    for action in actions:
        assert re.search(rf"Sub {action}\(control As IRibbonControl\)", ribbon), action
    assert len(actions) >= 2


def test_openpyxl_loads_it_with_vba_and_reads_cached_values(tmp_path, xlsm, plan):
    path = tmp_path / "交付円滑化計画.xlsm"
    path.write_bytes(xlsm)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    assert [ws.title for ws in wb.worksheets] == [name for name, _ in SHEETS]
    values = openpyxl.load_workbook(path, data_only=True)
    lay = layout_for(plan.parameters)
    ws = values[S11]
    row = lay.rows11["calc.cumulative"]
    assert [ws.cell(row=row, column=lay.col11(k)).value for k in lay.columns][-1] == 61831
    rate_row = lay.rows11["calc.rate"]
    assert abs(ws.cell(row=rate_row, column=lay.col11("2020-07")).value - 15031 / 63723) < 1e-12
    assert ws.cell(row=lay.rows11["calc.check"], column=lay.col11("2020-07")).value == "OK"
    assert values[S12][f"D{lay.rows12['calc.cost_total_check']}"].value == 3153


def test_every_formula_cell_has_a_cached_value(xlsm):
    from kofu_xl.ooxml.package import uncached_formula_cells

    assert uncached_formula_cells(xlsm) == []


def test_seed_inputs_round_trip_through_the_workbook(tmp_path, xlsm, plan):
    path = tmp_path / "w.xlsm"
    path.write_bytes(xlsm)
    raw, _lay = load_raw(path)
    back, reading = load_plan(raw)
    assert [f for f in reading if f.severity.value != "info"] == []
    for leaf in iter_leaves():
        if leaf.path.startswith("declared.") or leaf.path == "basic.base_rate_pct":
            continue  # derived: the workbook computes them
        if leaf.group:
            for key in plan.cost_keys:
                a, b = plan.costs.get(key) if leaf.group == "costs" else plan.working.get(key), (back.costs if leaf.group == "costs" else back.working).get(key)
                for part in leaf.attr_path:
                    a = None if a is None else getattr(a, part)
                    b = None if b is None else getattr(b, part)
                assert a == b, (leaf.path, key)
        elif leaf.meta.series:
            assert plan.series(leaf.path) == back.series(leaf.path), leaf.path
        else:
            obj_a, obj_b = plan, back
            for part in leaf.attr_path:
                obj_a, obj_b = getattr(obj_a, part), getattr(obj_b, part)
            assert obj_a == obj_b, leaf.path
    assert back.daily.days == plan.daily.days
    assert back.parameters == plan.parameters


def test_check_on_the_workbook_reports_the_seed_inconsistencies_with_cells(tmp_path, xlsm):
    from tests.core.test_rules import SEED_FINDINGS

    path = tmp_path / "w.xlsm"
    path.write_bytes(xlsm)
    raw, lay = load_raw(path)
    _plan, findings = check_plan(raw)
    keys = {(p.rule, p.path, p.column, p.expected, p.actual) for f in findings for p in (f.parts or (f,))}
    assert keys == SEED_FINDINGS
    located = {(f.rule, f.column): (f.sheet, f.cell) for f in lay.locate_findings(findings)}
    grouped = next(f for f in lay.locate_findings(findings) if f.rule == "capacity-shortfall")
    assert grouped.cells[0] == (S11, f"G{lay.rows11['issuance']}") and len(grouped.cells) == 10
    assert located[("staff-total-mismatch", "2020-03")] == (S11, f"L{lay.rows11['staff.total']}")
    assert located[("cost-total-mismatch", "FY2019")] == (S12, f"D{lay.rows12['costs.total']}")
    assert located[("invalid-email", None)] == (S11, lay.scalars["basic.email"].cell)


def test_inputs_unlocked_calculations_locked_and_named(tmp_path, xlsm, plan):
    path = tmp_path / "w.xlsm"
    path.write_bytes(xlsm)
    wb = openpyxl.load_workbook(path)
    ws = wb[S11]
    lay = layout_for(plan.parameters)
    assert ws.protection.sheet
    for spec in ROWS_11:
        row = lay.rows11[spec.key]
        cell = ws.cell(row=row, column=lay.col11("2020-04"))
        if spec.role == "input":
            assert cell.protection.locked is False, spec.key
        elif spec.role == "calc":
            assert cell.protection.locked is True, spec.key
        if spec.name:
            assert spec.name in wb.defined_names, spec.name
    # no parameter inside the row formulas of 本表1-1 (FAST): references and names only; the
    # only numbers are structural (0 = exact MATCH or "no units", 1 decimal of ROUND, 100 %)
    import re

    for spec in ROWS_11:
        if spec.role == "calc":
            for key in (lay.columns[0], "2020-07"):
                text = ws.cell(row=lay.rows11[spec.key], column=lay.col11(key)).value
                if text is None:  # the base column has no increase
                    continue
                assert text.startswith("=") and "{" not in text, (spec.key, text)
                bare = re.sub(r'"[^"]*"', "", re.sub(r"(?:'[^']+'|[^\W\d]\w*)!\$?[A-Z]{1,3}\$?\d+|\$?[A-Z]{1,3}\$?\d+", "", text))
                assert set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", bare)) <= {"0", "1", "100"}, text
    # data validation: start dates are dropdowns
    assert any(dv.type == "list" for dv in ws.data_validations.dataValidation)
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A3 == "8"  # A3
    assert ws.freeze_panes == "E7"


def test_new_plan_prefills_basic_info_for_any_municipality(tmp_path):
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book.vba import build_xlsm as build

    plan = new_plan("011002")
    assert (plan.basic.prefecture, plan.basic.municipality, plan.basic.population) == ("北海道", "札幌市", Decimal(1955457))
    path = tmp_path / "n.xlsm"
    path.write_bytes(build(plan, blank=True))
    raw, _ = load_raw(path)
    back, _ = load_plan(raw)
    assert back.basic.dantai_code == "011002" and back.basic.population == 1955457
    # totals are prefilled with formulas over their parts
    wb = openpyxl.load_workbook(path)
    lay = layout_for(back.parameters)
    assert str(wb[S11].cell(row=lay.rows11["staff.total"], column=5).value).startswith("=SUM(")
    with pytest.raises(LookupError):
        new_plan("122328")


@pytest.mark.skipif(__import__("shutil").which("soffice") is None, reason="LibreOffice not installed")
def test_libreoffice_agrees_on_the_native_formulas(tmp_path):
    from tests.support.recalc import cross_check

    values, mismatches = cross_check(SHIPPED, tmp_path)
    assert values and mismatches == []


@pytest.mark.skipif(__import__("shutil").which("soffice") is None, reason="LibreOffice not installed")
def test_libreoffice_renders_the_official_form(tmp_path, plan):
    import subprocess
    import uuid

    path = tmp_path / "本表.xlsx"
    path.write_bytes(build_sheets(plan, values_only=True).xlsx)
    profile = f"file:///tmp/kofu-lo-{uuid.uuid4().hex}"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True, timeout=180, capture_output=True,
    )
    pdf = tmp_path / "本表.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("【本表1-1】交付枚数想定・体制整備等", "【本表1-2】所要経費見込み額", "61,831", "23.5%", "47.1%", "70.6%", "14.9%", "3,143", "8,521", "実績", "122327", "下限値", "上限値"):
        assert expected in text, expected


@pytest.mark.skipif(__import__("shutil").which("soffice") is None, reason="LibreOffice not installed")
def test_libreoffice_imports_every_module_of_the_shipped_workbook(tmp_path):
    import subprocess
    import uuid

    src = tmp_path / "交付円滑化計画.xlsm"
    src.write_bytes(SHIPPED.read_bytes())
    profile = f"file:///tmp/kofu-lo-{uuid.uuid4().hex}"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "ods", "--outdir", str(tmp_path), str(src)],
        check=True, timeout=180, capture_output=True,
    )
    with zipfile.ZipFile(tmp_path / "交付円滑化計画.ods") as z:
        basic = {n.split("/")[-1].removesuffix(".xml") for n in z.namelist() if n.startswith("Basic/") and n.endswith(".xml") and not n.endswith(("script-lb.xml", "script-lc.xml"))}
        xlwings = z.read("Basic/KofuXl/xlwings.xml").decode("utf-8")  # the VBA project is named KofuXl
    assert {m.name for m in vba_modules()} <= basic
    assert 'XLWINGS_VERSION As String = &quot;0.37.8&quot;' in xlwings or 'XLWINGS_VERSION As String = "0.37.8"' in xlwings


def _parts_without_save_time(xlsx: bytes) -> dict[str, bytes]:
    """Every part of a package; openpyxl stamps docProps/core.xml with the time of saving."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return {n: re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b"", z.read(n)) for n in z.namelist()}


@pytest.mark.parametrize("case", ["shipped, values only", "seed, values only", "new 122327", "new 011002, values only"])
def test_copied_looks_and_merges_equal_openpyxl_setting_each(case, monkeypatch):
    """The build sets each cell look and each merge once per kind and copies the style indices
    after (book/build.py `_Sheet.look`, `_Sheet.merge`), and makes the cell ranges of the data
    validations without openpyxl's parsing (`_single_cells`); openpyxl setting every look
    attribute by attribute, merging every range itself and parsing every validated cell writes
    the same parts, byte for byte."""
    from openpyxl.worksheet.cell_range import MultiCellRange

    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book import build
    from tests.core.test_rules import corrected_seed

    source, values_only = case.split(", ")[0], case.endswith("values only")
    plan = {"shipped": lambda: load_plan(shipped_plan_raw())[0], "seed": lambda: load_plan(corrected_seed())[0]}.get(source, lambda: new_plan(source.split()[1]))()
    blank = source.startswith("new")
    fast = build_sheets(plan, blank=blank, values_only=values_only)
    monkeypatch.setattr(build._Sheet, "look", lambda self, c, look, apply: apply())
    monkeypatch.setattr(build._Sheet, "merge", lambda self, rng: self.ws.merge_cells(rng))
    monkeypatch.setattr(build, "_single_cells", lambda cells: MultiCellRange(" ".join(cells)))
    slow = build_sheets(plan, blank=blank, values_only=values_only)
    assert fast.cached == slow.cached and fast.formulas == slow.formulas
    fast_parts, slow_parts = _parts_without_save_time(fast.xlsx), _parts_without_save_time(slow.xlsx)
    assert list(fast_parts) == list(slow_parts)
    assert [n for n in fast_parts if fast_parts[n] != slow_parts[n]] == []
