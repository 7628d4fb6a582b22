"""In-place workbook edits (kofu_xl.xlsx_edit) on real files.

Two inputs: a workbook built by openpyxl (charts, merges, validation, conditional
format, defined name, hyperlinks, a formula), and a copy of it rewritten the way
Excel saves it (mc:Ignorable root, XML declaration, cached formula values, shared
strings with phonetic runs, calcChain, a ribbon part). Each test checks what an
edit changed and, as much, what it left alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import shutil
import subprocess
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink

from kofu_xl.ooxml.cellref import parse_ref
from kofu_xl.ooxml.cellref import ref as cell_ref
from kofu_xl.ooxml.edit import (
    WORKSHEET_ORDER,
    CannotEdit,
    XlsxEditor,
    _new_child,
    clean_text,
    highlight_cells,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
XR = "http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
XR2 = "http://schemas.microsoft.com/office/spreadsheetml/2015/revision2"
XR3 = "http://schemas.microsoft.com/office/spreadsheetml/2016/revision3"
EXCEL_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'

S11, RESULTS, LOG = "本表1-1", "検証結果", "提出記録"
SHEET_PART = {S11: "xl/worksheets/sheet1.xml", RESULTS: "xl/worksheets/sheet2.xml", LOG: "xl/worksheets/sheet3.xml"}
RESULT_HEADERS = ("重要度", "ルール", "項目", "セル", "列", "期待値", "実際の値", "直すこと")
LOG_HEADERS = ("提出日時", "ファイル", "SHA-256", "エラー", "警告", "情報", "計画ハッシュ")
INPUT_FILL = "FFFFF2CC"
THIN = Side(style="thin", color="FF000000")


def q(local: str) -> str:
    return f"{{{MAIN}}}{local}"


# ---------------------------------------------------------------- building the inputs


def build_workbook() -> bytes:
    """A small plan workbook as openpyxl writes it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = S11
    ws["A1"] = "【本表1-1】交付枚数想定・体制整備等"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells("A1:F1")
    for i, h in enumerate(("区分", "R元年8月", "R元年9月", "R元年10月", "合計")):
        cell = ws.cell(row=4, column=1 + i, value=h)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFD9E1F2")
        cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    ws["A5"] = "交付枚数"
    for col, v in zip("BCD", (120, 135, 150)):
        cell = ws[f"{col}5"]
        cell.value = v
        cell.fill = PatternFill("solid", fgColor=INPUT_FILL)
        cell.number_format = "#,##0"
        cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    ws["E5"] = "=SUM(B5:D5)"
    ws["E5"].number_format = "#,##0"
    ws["E5"].font = Font(italic=True)
    ws["A6"] = "人口"
    ws["B6"] = 63000
    ws["A8"] = "実施予定"
    ws["B8"] = "令和2年4月"
    ws["A9"] = "人口の2倍"
    ws["B9"] = "=B6*2"
    dv = DataValidation(type="list", formula1='"未定(実施予定なし),令和2年4月"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("B8")
    ws.conditional_formatting.add(
        "B5:D5", CellIsRule(operator="greaterThan", formula=["140"], fill=PatternFill("solid", fgColor="FFFFC7CE"))
    )
    chart = LineChart()
    chart.title = "交付枚数の見込み"
    chart.add_data(Reference(ws, min_col=2, min_row=5, max_col=4, max_row=5), from_rows=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=4, max_col=4, max_row=4))
    ws.add_chart(chart, "H3")
    wb.defined_names["交付枚数"] = DefinedName("交付枚数", attr_text=f"'{S11}'!$B$5:$D$5")

    res = wb.create_sheet(RESULTS)
    res["A1"] = "検証結果（「検証」ボタンで更新されます）"
    res["A2"] = "本表1-1へ"
    res["A2"].hyperlink = Hyperlink(ref="A2", location=f"'{S11}'!A1", display="本表1-1へ")
    for i, h in enumerate(RESULT_HEADERS):
        res.cell(row=3, column=1 + i, value=h).font = Font(bold=True)
    old = [
        ["エラー", "rate.total", "交付率", "本表1-1!B5", "R元年8月", "10.0%", "9.0%", "古い指摘1"],
        ["警告", "cost.roundup", "経費", "本表1-1!C5", "", "98", "97", "古い指摘2"],
        ["情報", "note", "備考", "", "", "", "", "古い指摘3"],
    ]
    for r, row in enumerate(old, start=4):
        for c, v in enumerate(row, start=1):
            res.cell(row=r, column=c, value=v or None)
    res["D4"].hyperlink = Hyperlink(ref="D4", location=f"'{S11}'!B5", display="本表1-1!B5")
    res["D5"].hyperlink = "https://example.jp/old-finding"
    res.merge_cells("G4:H4")
    res.page_setup.orientation = "landscape"
    res.freeze_panes = "A4"

    log = wb.create_sheet(LOG)
    log["A1"] = "提出記録（「検証して提出」ボタンで追記されます）"
    for i, h in enumerate(LOG_HEADERS):
        log.cell(row=3, column=1 + i, value=h).font = Font(bold=True)
    for i in range(len(LOG_HEADERS)):  # a pre-formatted, still empty first log line
        log.cell(row=4, column=1 + i).border = Border(bottom=THIN)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rewrite_zip(data: bytes, changes: dict[str, bytes], added: list[tuple[str, bytes]]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        entries = [(i.filename, changes.get(i.filename, src.read(i))) for i in src.infolist()] + added
        for n, (name, body) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=(2019, 10, 3, 9, n % 60, 2 * (n % 30)))
            # a mix of methods, as seen in the wild: small ribbon/rels parts stored
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".rels") or "customUI" in name else zipfile.ZIP_DEFLATED
            dst.writestr(info, body)
    return out.getvalue()


def _excel_sheet(xml: bytes, uid: str, edit=None) -> bytes:
    """A worksheet part as Excel 365 writes it: declaration, mc:Ignorable root, x14ac rows."""
    old = etree.fromstring(xml)
    nsmap = {None: MAIN, "r": REL, "mc": MC, "x14ac": X14AC, "xr": XR, "xr2": XR2, "xr3": XR3}
    root = etree.Element(q("worksheet"), nsmap=nsmap)
    root.set(f"{{{MC}}}Ignorable", "x14ac xr xr2 xr3")
    root.set(f"{{{XR}}}uid", uid)
    for child in list(old):
        root.append(child)
    for row in root.iter(q("row")):
        row.set(f"{{{X14AC}}}dyDescent", "0.4")
    if edit:
        edit(root)
    return EXCEL_DECL + etree.tostring(root, encoding="UTF-8")


def _cell(root: etree._Element, ref: str) -> etree._Element:
    return next(c for c in root.iter(q("c")) if c.get("r") == ref)


def _set_formula(root: etree._Element, row: int, ref: str, formula: str, cached: str) -> None:
    """Make ``ref`` a formula cell with a cached value (replacing its content, or new at the row's end)."""
    row_el = next(r for r in root.iter(q("row")) if r.get("r") == str(row))
    c = next((c for c in row_el if c.get("r") == ref), None)
    if c is None:
        c = etree.SubElement(row_el, q("c"), r=ref)
    for child in list(c):
        c.remove(child)
    c.attrib.pop("t", None)
    etree.SubElement(c, q("f")).text = formula
    etree.SubElement(c, q("v")).text = cached


def excelify(data: bytes) -> bytes:
    """Rewrite the openpyxl workbook the way Excel would save it."""
    src = zipfile.ZipFile(io.BytesIO(data))
    sst: list[str] = []

    def s11(root):
        for ref, cached in (("E5", "405"), ("B9", "126000")):
            c = _cell(root, ref)
            c.find(q("v")).text = cached  # Excel stores the value it computed

    def results(root):
        _set_formula(root, 2, "H2", "COUNTA(A4:A100)", "3")  # kept (row 2)
        _set_formula(root, 6, "H6", "LEN(G6)", "0")  # inside the rows to be replaced

    def log(root):
        for c in root.iter(q("c")):
            if c.get("t") == "inlineStr" and c.get("r", "").endswith("3"):
                text = "".join(c.find(q("is")).itertext())
                c.remove(c.find(q("is")))
                c.set("t", "s")
                etree.SubElement(c, q("v")).text = str(len(sst))
                sst.append(text)

    changes = {
        SHEET_PART[S11]: _excel_sheet(src.read(SHEET_PART[S11]), "{00000000-0001-0000-0000-000000000000}", s11),
        SHEET_PART[RESULTS]: _excel_sheet(src.read(SHEET_PART[RESULTS]), "{00000000-0001-0000-0100-000000000000}", results),
        SHEET_PART[LOG]: _excel_sheet(src.read(SHEET_PART[LOG]), "{00000000-0001-0000-0200-000000000000}", log),
    }
    assert sst[0] == "提出日時"
    items = [
        # rich text with a phonetic (furigana) run: the text is 提出日時, not 提出日時テイシュツニチジ
        "<si><r><t>提出</t></r><r><rPr><b/><sz val=\"11\"/></rPr><t>日時</t></r>"
        '<rPh sb="0" eb="4"><t>テイシュツニチジ</t></rPh><phoneticPr fontId="1"/></si>'
    ] + [f"<si><t>{t}</t></si>" for t in sst[1:]]
    shared = (
        EXCEL_DECL.decode()
        + f'<sst xmlns="{MAIN}" count="{len(sst)}" uniqueCount="{len(sst)}">{"".join(items)}</sst>'
    ).encode("utf-8")
    calc = (
        EXCEL_DECL.decode() + f'<calcChain xmlns="{MAIN}"><c r="E5" i="1"/><c r="B9"/><c r="H6" i="2"/><c r="H2"/></calcChain>'
    ).encode("utf-8")
    ribbon = (
        '<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui"><ribbon><tabs>'
        '<tab id="kofu" label="交付円滑化"><group id="g" label="提出"><button id="submit" label="検証して提出" '
        'onAction="KofuSubmit"/></group></tab></tabs></ribbon></customUI>'
    ).encode("utf-8")
    types = src.read("[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>',
    )
    wb_rels = src.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        f'<Relationship Id="rIdSst" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rIdCalc" Type="{REL}/calcChain" Target="calcChain.xml"/></Relationships>'.encode(),
    )
    pkg_rels = src.read("_rels/.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdUi" Type="http://schemas.microsoft.com/office/2007/relationships/ui/extensibility" '
        b'Target="customUI/customUI14.xml"/></Relationships>',
    )
    changes.update({"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": wb_rels, "_rels/.rels": pkg_rels})
    added = [("xl/sharedStrings.xml", shared), ("xl/calcChain.xml", calc), ("customUI/customUI14.xml", ribbon)]
    return _rewrite_zip(data, changes, added)


@pytest.fixture(scope="module")
def plain() -> bytes:
    return build_workbook()


@pytest.fixture(scope="module")
def excel(plain: bytes) -> bytes:
    data = excelify(plain)
    # the simulation itself: what the tests below rely on
    z = zipfile.ZipFile(io.BytesIO(data))
    sheet = z.read(SHEET_PART[S11])
    assert sheet.startswith(EXCEL_DECL)
    assert b'mc:Ignorable="x14ac xr xr2 xr3"' in sheet and b"xmlns:xr3=" in sheet
    assert b"<f>SUM(B5:D5)</f><v>405</v>" in sheet
    return data


@pytest.fixture(params=["openpyxl", "excel"])
def book(request, plain: bytes, excel: bytes) -> bytes:
    return plain if request.param == "openpyxl" else excel


def entries(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {i.filename: z.read(i) for i in z.infolist()}


def changed(before: bytes, after: bytes) -> set[str]:
    a, b = entries(before), entries(after)
    return {n for n in a.keys() | b.keys() if a.get(n) != b.get(n)}


def part_root(data: bytes, name: str) -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read(name))


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def extent(root: etree._Element) -> str:
    """The range the cells of a worksheet part cover, computed here independently."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    refs = [coordinate_from_string(c.get("r")) for c in root.iter(q("c"))]
    rows = [r for _, r in refs]
    cols = [column_index_from_string(c) for c, _ in refs]
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(min(cols))}{min(rows)}:{get_column_letter(max(cols))}{max(rows)}"


def assert_schema_order(root: etree._Element) -> None:
    ranks = [WORKSHEET_ORDER.index(etree.QName(c).localname) for c in root if isinstance(c.tag, str)]
    assert ranks == sorted(ranks), [etree.QName(c).localname for c in root]


FINDINGS = [
    ["エラー", "rate.band", "交付率（R2年7月末）", f"{S11}!C5", "R元年9月", "23.5%", "20.1%", "交付率が国の下限値を下回っています。"],
    ["警告", "formula.text", "備考", f"{S11}!B8", "", "", "=SUM(B5:D5)", "=で始まる文字は数式ではなく文字列として書かれます"],
]
LINKS = {"D4": f"'{S11}'!C5", "D5": f"'{S11}'!B8"}


# ---------------------------------------------------------------- (a) replace_rows + hyperlinks


def test_sheet_names_follow_the_workbook(book: bytes) -> None:
    assert XlsxEditor(book).sheet_names() == [S11, RESULTS, LOG]


def test_replace_rows_read_back_by_openpyxl_and_calamine(book: bytes, tmp_path: Path) -> None:
    ed = XlsxEditor(book)
    ed.replace_rows(RESULTS, 4, FINDINGS, hyperlinks=LINKS)
    out = ed.to_bytes()

    ws = load(out)[RESULTS]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=4, max_col=8)] == [
        [v or None for v in row] for row in FINDINGS
    ]
    assert ws.max_row == 5  # the third old finding (row 6) is gone
    assert ws["H4"].value == "交付率が国の下限値を下回っています。"
    assert ws["G5"].value == "=SUM(B5:D5)" and ws["G5"].data_type == "s"  # text, never a formula
    assert ws["A1"].value == "検証結果（「検証」ボタンで更新されます）"  # rows above first_row kept
    assert ws["A3"].value == "重要度" and ws["A3"].font.b
    assert {c.coordinate: c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink} == {"A2": f"'{S11}'!A1", "D4": f"'{S11}'!C5", "D5": f"'{S11}'!B8"}
    assert ws["D4"].hyperlink.display == f"{S11}!C5"
    assert ws["D5"].hyperlink.target is None  # the old external link on D5 was dropped
    assert "G4:H4" not in {str(r) for r in ws.merged_cells.ranges}  # a merge inside the replaced rows

    path = tmp_path / "edited.xlsx"
    path.write_bytes(out)
    import python_calamine

    grid = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(RESULTS).to_python()
    assert [row[:8] for row in grid[3:]] == FINDINGS

    root = part_root(out, SHEET_PART[RESULTS])
    assert root.find(q("dimension")).get("ref") == extent(root) == "A1:H5"
    assert_schema_order(root)
    # the external hyperlink's relationship went with it
    rels = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/_rels/sheet2.xml.rels")
    assert b"example.jp" not in rels


def test_values_of_every_kind(plain: bytes) -> None:
    when = dt.datetime(2019, 10, 3, 9, 30)
    row = ["文字", 7, -2.5, Decimal("1.10"), True, False, None, when, dt.date(2020, 7, 31), ""]
    ed = XlsxEditor(plain)
    ed.replace_rows(RESULTS, 4, [row])
    out = ed.to_bytes()
    ws = load(out)[RESULTS]
    values = [ws.cell(row=4, column=c).value for c in range(1, 11)]
    assert values == ["文字", 7, -2.5, 1.1, True, False, None, "2019-10-03T09:30:00", "2020-07-31", None]
    expected = ["文字", 7, -2.5, 1.1, True, False, None, "2019-10-03T09:30:00", "2020-07-31"]
    assert XlsxEditor(out).read_rows(RESULTS, 4) == [expected]


def test_bad_values_and_arguments_change_nothing(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    with pytest.raises(ValueError):
        ed.replace_rows(RESULTS, 4, [[float("nan")]])
    with pytest.raises(TypeError):
        ed.replace_rows(RESULTS, 4, [[object()]])
    with pytest.raises(ValueError):
        ed.replace_rows(RESULTS, 4, [["x"]], hyperlinks={"A3": f"'{S11}'!A1"})  # above first_row
    with pytest.raises(ValueError):
        ed.replace_rows(RESULTS, 4, [["x"]], style_of=lambda r, c: 10_000)
    with pytest.raises(ValueError):
        ed.replace_rows(RESULTS, 4, [["あ" * 32_768]])
    with pytest.raises(CannotEdit, match="シート「存在しない」がありません"):
        ed.replace_rows("存在しない", 4, [])
    assert changed(plain, ed.to_bytes()) == set()


def test_style_of_and_styled_empty_cells(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    header_style = ed.cell_style(RESULTS, "A3")
    assert header_style > 0
    # style_of is asked for every position of the row, None values included
    ed.replace_rows(RESULTS, 4, [["a", None, "c", None, None]], style_of=lambda r, c: header_style if c <= 4 else None)
    out = ed.to_bytes()
    ed2 = XlsxEditor(out)
    assert [ed2.cell_style(RESULTS, r) for r in ("A4", "B4", "C4", "D4", "E4")] == [header_style] * 4 + [0]
    ws = load(out)[RESULTS]
    assert ws["B4"].value is None and ws["B4"].font.b and ws["D4"].font.b
    assert XlsxEditor(out).read_rows(RESULTS, 4) == [["a", None, "c"]]


def test_replace_rows_with_no_rows_clears_the_area(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    ed.replace_rows(RESULTS, 4, [])
    out = ed.to_bytes()
    assert XlsxEditor(out).read_rows(RESULTS, 4) == []
    root = part_root(out, SHEET_PART[RESULTS])
    assert root.find(q("dimension")).get("ref") == extent(root) == "A1:H3"
    assert [h.get("ref") for h in root.iter(q("hyperlink"))] == ["A2"]
    assert root.find(q("mergeCells")) is None  # its only merge was inside the area
    assert_schema_order(root)


def _with_sheet_edit(data: bytes, sheet: str, edit) -> bytes:
    root = part_root(data, SHEET_PART[sheet])
    edit(root)
    return _rewrite_zip(data, {SHEET_PART[sheet]: etree.tostring(root, encoding="UTF-8")}, [])


def test_formulas_and_merges_crossing_first_row(plain: bytes) -> None:
    def shared(root):
        _set_formula(root, 2, "I2", "ROW()", "2")
        f = _cell(root, "I2").find(q("f"))
        f.set("t", "shared"), f.set("ref", "I2:I6"), f.set("si", "0")
        dependent = etree.SubElement(next(r for r in root.iter(q("row")) if r.get("r") == "4"), q("c"), r="I4")
        etree.SubElement(dependent, q("f"), t="shared", si="0")
        etree.SubElement(dependent, q("v")).text = "4"
        merges = root.find(q("mergeCells"))
        etree.SubElement(merges, q("mergeCell"), ref="B2:C5")  # crosses row 4
        etree.SubElement(merges, q("mergeCell"), ref="D3:D5")  # cut to D3 alone: no merge left
        merges.set("count", "3")

    data = _with_sheet_edit(plain, RESULTS, shared)
    ed = XlsxEditor(data)
    ed.replace_rows(RESULTS, 4, [["新"]])
    root = part_root(ed.to_bytes(), SHEET_PART[RESULTS])
    assert _cell(root, "I2").find(q("f")).get("ref") == "I2:I3"
    assert [m.get("ref") for m in root.iter(q("mergeCell"))] == ["B2:C3"]
    assert root.find(q("mergeCells")).get("count") == "1"
    assert_schema_order(root)

    def array(root):
        _set_formula(root, 2, "J2", "ROW(J2:J5)", "2")
        f = _cell(root, "J2").find(q("f"))
        f.set("t", "array"), f.set("ref", "J2:J5")

    data = _with_sheet_edit(plain, RESULTS, array)
    ed = XlsxEditor(data)
    with pytest.raises(CannotEdit, match="配列数式 J2:J5"):
        ed.replace_rows(RESULTS, 4, [["新"]])
    assert changed(data, ed.to_bytes()) == set()


def test_cell_style_of_a_missing_cell_follows_row_and_column() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = S11
    ws.column_dimensions["J"].fill = PatternFill("solid", fgColor=INPUT_FILL)
    ws.row_dimensions[40].font = Font(bold=True)
    ws["A1"] = "x"
    out = io.BytesIO()
    wb.save(out)
    ed = XlsxEditor(out.getvalue())
    col_style, row_style = ed.cell_style(S11, "J30"), ed.cell_style(S11, "B40")
    assert col_style > 0 and row_style > 0 and col_style != row_style
    assert ed.cell_style(S11, "A1") == 0 and ed.cell_style(S11, "K30") == 0
    highlight_cells(ed, {(S11, "J30"): "FFC7CE"})
    ws = load(ed.to_bytes())[S11]
    assert ws["J30"].fill.fgColor.rgb == "FFFFC7CE"


def _refs_of(data: bytes, sheet: str) -> list[str]:
    root = part_root(data, SHEET_PART[sheet])
    return [c.get("r") for c in root.iter(q("c")) if c.get("r")]


def test_cell_styles_answers_as_cell_style_does(book: bytes) -> None:
    """One walk of the sheet gives every cell's style as one cell_style call per cell:
    present cells, missing ones (the row's or the column's style), repeats, other spellings."""
    ed = XlsxEditor(book)
    refs = [*_refs_of(book, S11), "J30", "Z999", "B40", "A1", "A1", "b5", "$C$6"]
    assert ed.cell_styles(S11, refs) == {r: ed.cell_style(S11, r) for r in refs}
    assert ed.cell_styles(S11, []) == {}


def test_cell_styles_of_missing_cells_take_their_columns_style(plain: bytes) -> None:
    """A cell without a <c> in a row that is not custom-formatted (or in no row at all) has its
    column's style, as cell_style gives it: a column styled 3 (Z), one not (Y)."""

    def style_column(root):
        cols = root.find(q("cols"))
        if cols is None:
            cols = etree.Element(q("cols"))
            root.insert(list(root).index(root.find(q("sheetData"))), cols)
        etree.SubElement(cols, q("col"), min="26", max="26", width="9", style="3", customWidth="1")

    data = _with_sheet_edit(plain, S11, style_column)
    ed = XlsxEditor(data)
    refs = ["Z1", "Z999", "Y1", "Y999"]
    assert ed.cell_styles(S11, refs) == {r: ed.cell_style(S11, r) for r in refs} == {"Z1": 3, "Z999": 3, "Y1": 0, "Y999": 0}


def test_cell_styles_on_rows_out_of_order_and_repeated(plain: bytes) -> None:
    """A row placed before a lower-numbered one hides it from cell_style's walk (it stops at
    the first row numbered at least the one sought), and a repeated row or cell counts
    once, the first: cell_styles answers the same."""

    def shuffle(root):
        sd = root.find(q("sheetData"))
        rows = list(sd)  # rows 1, 4, 5, 6, 8, 9
        sd.remove(rows[3])
        sd.insert(1, rows[3])  # row 6 before rows 4 and 5
        twin = etree.fromstring(etree.tostring(rows[2]))
        for c in twin:
            c.set("s", "7")
        sd.append(twin)  # row 5 again, last, with other styles
        clone = etree.fromstring(etree.tostring(rows[0][0]))
        clone.set("s", "0")
        rows[0].append(clone)  # A1 twice, the second unstyled

    data = _with_sheet_edit(plain, S11, shuffle)
    ed = XlsxEditor(data)
    refs = [*_refs_of(data, S11), "C3", "E4", "A7", "Z7", "Z5"]
    styles = ed.cell_styles(S11, refs)
    assert styles == {r: ed.cell_style(S11, r) for r in refs}
    assert any(v for v in styles.values())


def test_numbering_keeps_plain_references_and_mends_the_others(plain: bytes) -> None:
    """Editing a sheet numbers every row and cell as cell_ref writes them: references
    already in that form stay, lower-case, $-marked or implicit ones are rewritten."""

    def odd(root):
        rows = list(root.find(q("sheetData")))
        cells = list(rows[2])  # row 5: A5..E5
        cells[1].set("r", cells[1].get("r").lower())
        cells[2].set("r", "$" + cells[2].get("r"))
        del cells[3].attrib["r"]
        rows[3].set("r", "0" + rows[3].get("r"))

    data = _with_sheet_edit(plain, S11, odd)
    ed = XlsxEditor(data)
    ed.set_styles(S11, {"A1": 0})
    root = part_root(ed.to_bytes(), SHEET_PART[S11])
    for row in root.iter(q("row")):
        rn = int(row.get("r"))
        assert row.get("r") == str(rn)
        cols = [parse_ref(c.get("r")) for c in row.iter(q("c"))]
        assert [c.get("r") for c in row.iter(q("c"))] == [cell_ref(col, rn) for _, col in cols]
        assert all(r == rn for r, _ in cols)
    assert [c.get("r") for c in root.iter(q("c"))] == _refs_of(plain, S11)


def test_hyperlinks_are_inserted_in_schema_order(plain: bytes) -> None:
    """本表1-1 has conditionalFormatting, dataValidations, pageMargins and a drawing,
    but no <hyperlinks>: the new element must land between dataValidations and pageMargins."""
    ed = XlsxEditor(plain)
    ed.replace_rows(S11, 30, [["検証結果へ"]], hyperlinks={"A30": f"'{RESULTS}'!A1"})
    out = ed.to_bytes()
    root = part_root(out, SHEET_PART[S11])
    names = [etree.QName(c).localname for c in root if isinstance(c.tag, str)]
    assert names.index("dataValidations") < names.index("hyperlinks") < names.index("pageMargins") < names.index("drawing")
    assert_schema_order(root)
    ws = load(out)[S11]
    assert ws["A30"].hyperlink.location == f"'{RESULTS}'!A1"
    assert len(ws._charts) == 1 and ws.data_validations.dataValidation and ws.conditional_formatting
    assert ws["E5"].value == "=SUM(B5:D5)" and ws["A1"].value.startswith("【本表1-1】")
    assert root.find(q("dimension")).get("ref") == extent(root) == "A1:E30"


def test_new_child_ranks_alternate_content_and_unknown_elements() -> None:
    root = etree.fromstring(
        f'<worksheet xmlns="{MAIN}" xmlns:mc="{MC}" xmlns:x="urn:x">'
        "<sheetData/><dataValidations/><x:foreign/><pageMargins/>"
        f'<mc:AlternateContent><mc:Choice Requires="x14"><controls/></mc:Choice></mc:AlternateContent>'
        "<extLst/></worksheet>".encode()
    )
    _new_child(root, "hyperlinks", WORKSHEET_ORDER)
    _new_child(root, "legacyDrawing", WORKSHEET_ORDER)
    _new_child(root, "dimension", WORKSHEET_ORDER)
    names = [etree.QName(c).localname for c in root]
    assert names == [
        "dimension", "sheetData", "dataValidations", "foreign", "hyperlinks", "pageMargins",
        "legacyDrawing", "AlternateContent", "extLst",
    ]  # fmt: skip
    assert b"ns0" not in etree.tostring(root)  # new elements use the document's own prefix


# ---------------------------------------------------------------- (b) untouched entries stay byte-identical


def test_no_edit_gives_identical_entries(book: bytes) -> None:
    ed = XlsxEditor(book)
    ed.read_rows(LOG)
    ed.cell_style(S11, "B5")
    out = ed.to_bytes()
    src, dst = zipfile.ZipFile(io.BytesIO(book)), zipfile.ZipFile(io.BytesIO(out))
    assert [i.filename for i in dst.infolist()] == [i.filename for i in src.infolist()]
    for a, b in zip(src.infolist(), dst.infolist(), strict=True):
        assert (b.date_time, b.compress_type, b.external_attr) == (a.date_time, a.compress_type, a.external_attr)
        assert dst.read(b) == src.read(a)
    assert dst.testzip() is None


def test_untouched_entries_are_byte_identical(excel: bytes) -> None:
    ed = XlsxEditor(excel)
    ed.replace_rows(RESULTS, 4, FINDINGS, hyperlinks=LINKS)
    out = ed.to_bytes()
    # the findings sheet, its rels (old external link dropped) and the calc chain (H6 lost its formula)
    assert changed(excel, out) == {SHEET_PART[RESULTS], "xl/worksheets/_rels/sheet2.xml.rels", "xl/calcChain.xml"}
    src, dst = zipfile.ZipFile(io.BytesIO(excel)), zipfile.ZipFile(io.BytesIO(out))
    assert [(i.filename, i.compress_type, i.date_time) for i in dst.infolist()] == [
        (i.filename, i.compress_type, i.date_time) for i in src.infolist()
    ]
    assert dst.read("xl/charts/chart1.xml") == src.read("xl/charts/chart1.xml")
    assert b"<f>SUM(B5:D5)</f><v>405</v>" in dst.read(SHEET_PART[S11])
    assert dst.read("customUI/customUI14.xml") == src.read("customUI/customUI14.xml")
    assert b"ui/extensibility" in dst.read("_rels/.rels")
    assert dst.read("xl/sharedStrings.xml") == src.read("xl/sharedStrings.xml")

    calc = part_root(out, "xl/calcChain.xml")
    assert [(c.get("r"), c.get("i")) for c in calc] == [("E5", "1"), ("B9", None), ("H2", "2")]
    # openpyxl still reads the cached value Excel computed
    ws = openpyxl.load_workbook(io.BytesIO(out), data_only=True)[S11]
    assert ws["E5"].value == 405 and ws["B9"].value == 126000


def test_calc_chain_part_is_removed_when_it_empties(plain: bytes) -> None:
    calc = EXCEL_DECL + f'<calcChain xmlns="{MAIN}"><c r="H6" i="2"/></calcChain>'.encode()
    src = zipfile.ZipFile(io.BytesIO(plain))
    sheet = re.sub(rb'<c r="H6"[^>]*>.*?</c>', b'<c r="H6"><f>LEN(G6)</f><v>0</v></c>', src.read(SHEET_PART[RESULTS]))
    assert b"<f>LEN(G6)</f>" in sheet
    types = src.read("[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>',
    )
    rels = src.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>", f'<Relationship Id="rIdCalc" Type="{REL}/calcChain" Target="calcChain.xml"/></Relationships>'.encode()
    )
    data = _rewrite_zip(
        plain,
        {SHEET_PART[RESULTS]: sheet, "[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels},
        [("xl/calcChain.xml", calc)],
    )
    ed = XlsxEditor(data)
    ed.replace_rows(RESULTS, 4, [["新しい指摘"]])
    out = ed.to_bytes()
    names = zipfile.ZipFile(io.BytesIO(out)).namelist()
    assert "xl/calcChain.xml" not in names
    z = zipfile.ZipFile(io.BytesIO(out))
    assert b"calcChain" not in z.read("[Content_Types].xml") and b"calcChain" not in z.read("xl/_rels/workbook.xml.rels")
    assert load(out)[RESULTS]["A4"].value == "新しい指摘"


# ---------------------------------------------------------------- (c) namespaces and the declaration


def test_excel_namespaces_and_declaration_survive(excel: bytes) -> None:
    ed = XlsxEditor(excel)
    ed.replace_rows(RESULTS, 4, FINDINGS, hyperlinks=LINKS)
    highlight_cells(ed, {(S11, "C5"): "FFC7CE"})
    out = ed.to_bytes()
    for sheet in (RESULTS, S11):
        raw = zipfile.ZipFile(io.BytesIO(out)).read(SHEET_PART[sheet])
        assert raw.startswith(EXCEL_DECL)
        root = etree.fromstring(raw)
        ignorable = root.get(f"{{{MC}}}Ignorable")
        assert ignorable == "x14ac xr xr2 xr3"
        for prefix in ignorable.split():
            assert prefix in root.nsmap, prefix
        assert root.nsmap[None] == MAIN and root.nsmap["xr3"] == XR3 and root.nsmap["mc"] == MC
        assert root.get(f"{{{XR}}}uid", "").startswith("{00000000-0001")
        assert_schema_order(root)
    root = part_root(out, SHEET_PART[RESULTS])
    kept = [r for r in root.iter(q("row")) if int(r.get("r")) < 4]
    assert kept and all(r.get(f"{{{X14AC}}}dyDescent") == "0.4" for r in kept)
    assert b"ns0:" not in zipfile.ZipFile(io.BytesIO(out)).read(SHEET_PART[RESULTS])
    s11 = part_root(out, SHEET_PART[S11])
    assert _cell(s11, "E5").find(q("v")).text == "405"  # a styled sheet keeps its cached values


# ---------------------------------------------------------------- (d) highlight and restore


def _style_facets(cell) -> tuple:
    return (cell.font.b, cell.font.i, cell.number_format, cell.border.left.style, cell.border.bottom.style)


def test_highlight_then_restore(book: bytes) -> None:
    targets = {(S11, "C5"): "FFC7CE", (S11, "E5"): "FFEB9C", (S11, "B9"): "FFC7CE", (S11, "J20"): "DDEBF7"}
    ed = XlsxEditor(book)
    before = {key: ed.cell_style(*key) for key in targets}
    originals = highlight_cells(ed, targets)
    assert originals == before
    first = ed.to_bytes()
    assert changed(book, first) == {SHEET_PART[S11], "xl/styles.xml"}

    base = load(book)[S11]
    ws = load(first)[S11]
    for (_sheet, ref), rgb in targets.items():
        assert ws[ref].fill.patternType == "solid"
        assert ws[ref].fill.fgColor.rgb == "FF" + rgb
        assert _style_facets(ws[ref]) == _style_facets(base[ref])  # only the fill changed
    assert ws["D5"].fill.fgColor.rgb == INPUT_FILL  # a neighbour is untouched

    # the next run: restore, then colour again -> the same styles.xml, the same indexes
    ed2 = XlsxEditor(first)
    for (sheet, ref), original in originals.items():
        ed2.set_styles(sheet, {ref: original})
    assert {key: ed2.cell_style(*key) for key in targets} == originals
    restored = ed2.to_bytes()
    ws = load(restored)[S11]
    assert ws["C5"].fill.fgColor.rgb == INPUT_FILL and ws["E5"].fill.patternType is None
    ed3 = XlsxEditor(restored)
    assert highlight_cells(ed3, targets) == originals
    second = ed3.to_bytes()
    z1, z2 = zipfile.ZipFile(io.BytesIO(first)), zipfile.ZipFile(io.BytesIO(second))
    assert z2.read("xl/styles.xml") == z1.read("xl/styles.xml")  # did not grow
    assert {k: XlsxEditor(second).cell_style(*k) for k in targets} == {k: XlsxEditor(first).cell_style(*k) for k in targets}

    # colouring an already coloured cell reuses its own style
    ed4 = XlsxEditor(first)
    coloured = ed4.cell_style(S11, "C5")
    assert ed4.highlight_style(coloured, "FFC7CE") == coloured
    assert changed(first, ed4.to_bytes()) == set()


def test_highlight_style_counts_and_reuse(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    a = ed.highlight_style(0, "#ffc7ce")
    b = ed.highlight_style(0, "FFFFC7CE")
    c = ed.highlight_style(0, "FFEB9C")
    assert a == b != c
    out = ed.to_bytes()
    styles = part_root(out, "xl/styles.xml")
    for tag, child in (("fills", "fill"), ("cellXfs", "xf")):
        el = styles.find(q(tag))
        assert int(el.get("count")) == len(el.findall(q(child)))
    xf = styles.find(q("cellXfs")).findall(q("xf"))[a]
    assert xf.get("applyFill") == "1"
    fill = styles.find(q("fills")).findall(q("fill"))[int(xf.get("fillId"))]
    assert fill.find(f"{q('patternFill')}/{q('fgColor')}").get("rgb") == "FFFFC7CE"
    with pytest.raises(ValueError):
        ed.highlight_style(0, "red")
    with pytest.raises(ValueError):
        ed.highlight_style(10_000, "FFC7CE")



def test_highlight_style_remembers_what_a_search_would_find(plain: bytes) -> None:
    """highlight_style remembers its answers (show_findings asks the same pairs again); each
    equals what the search gives on an editor that remembers nothing, and the styles written
    are the same. A bool is still refused after its integer's answer is remembered."""
    pairs = [(0, "FFC7CE"), (0, "FFEB9C"), (0, "#ffc7ce"), (0, "FFC7CE"), (0, "FFEB9C")]
    remembering, searching = XlsxEditor(plain), XlsxEditor(plain)
    got = [remembering.highlight_style(base, rgb) for base, rgb in pairs]
    assert len(remembering._highlights) == 2  # the repeated pairs were answered from memory
    want = []
    for base, rgb in pairs:
        searching._highlights.clear()
        want.append(searching.highlight_style(base, rgb))
    assert got == want
    styles = "xl/styles.xml"
    assert zipfile.ZipFile(io.BytesIO(remembering.to_bytes())).read(styles) == zipfile.ZipFile(io.BytesIO(searching.to_bytes())).read(styles)
    with pytest.raises(TypeError):
        remembering.highlight_style(False, "FFC7CE")  # False == 0, whose answer is remembered

# ---------------------------------------------------------------- (e) the submission log


def test_append_row_twice(book: bytes) -> None:
    first = ["2019-10-03 09:30:00", "122327_白井市_交付円滑化計画_20191003.xlsx", "ab" * 32, 0, 2, 1, "cd" * 32]
    second = ["2019-10-04 10:00:00", "122327_白井市_交付円滑化計画_20191004.xlsx", "ef" * 32, 0, 0, 1, "01" * 32]
    ed = XlsxEditor(book)
    border_style = ed.cell_style(LOG, "A4")
    assert border_style > 0  # the pre-formatted empty line
    assert ed.append_row(LOG, first, min_row=4) == 4
    assert ed.append_row(LOG, second, min_row=4) == 5
    assert ed.read_rows(LOG, 4) == [first, second]
    out = ed.to_bytes()
    again = XlsxEditor(out)
    assert again.read_rows(LOG, 3) == [list(LOG_HEADERS), first, second]  # headers: shared strings in the Excel copy
    assert again.cell_style(LOG, "A4") == border_style  # the line's own format stays
    assert again.append_row(LOG, ["third"], min_row=4) == 6
    ws = load(out)[LOG]
    assert [c.value for c in ws[5]][:7] == second
    assert ws["A4"].border.bottom.style == "thin"


def test_append_row_respects_min_row_and_existing_content(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    assert ed.append_row(LOG, ["x"], min_row=10) == 10
    assert ed.append_row(LOG, ["y"], min_row=4) == 11
    assert ed.append_row(RESULTS, ["z"]) == 7  # after the old findings (rows 4-6)


# ---------------------------------------------------------------- (f) LibreOffice opens the edited file


def _soffice(src: Path, outdir: Path, target: str) -> subprocess.CompletedProcess:
    profile = Path("/tmp") / f"lo-{uuid.uuid4().hex}"
    try:
        return subprocess.run(
            ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", target,
             "--outdir", str(outdir), str(src)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_edited_file(excel: bytes, tmp_path: Path) -> None:
    ed = XlsxEditor(excel)
    ed.replace_rows(RESULTS, 4, FINDINGS, hyperlinks=LINKS)
    highlight_cells(ed, {(S11, "C5"): "FFC7CE", (S11, "B8"): "FFEB9C"})
    ed.append_row(LOG, ["2019-10-03 09:30:00", "提出ファイル.xlsx", "ab" * 32, 0, 2, 1, "cd" * 32], min_row=4)
    src = tmp_path / "交付円滑化計画.xlsx"
    src.write_bytes(ed.to_bytes())

    pdf = _soffice(src, tmp_path, "pdf")
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "交付円滑化計画.pdf").read_bytes().startswith(b"%PDF")

    csv = _soffice(src, tmp_path, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
    assert csv.returncode == 0, csv.stderr
    results = (tmp_path / f"交付円滑化計画-{RESULTS}.csv").read_text(encoding="utf-8").splitlines()
    assert results[3].startswith("エラー,rate.band,交付率（R2年7月末）")
    assert '"=SUM(B5:D5)"' in results[4] or ",=SUM(B5:D5)," in results[4]  # shown as text, not computed
    assert len(results) == 5
    log = (tmp_path / f"交付円滑化計画-{LOG}.csv").read_text(encoding="utf-8").splitlines()
    assert log[2].startswith("提出日時,ファイル") and log[3].startswith("2019-10-03 09:30:00,提出ファイル.xlsx")
    s11 = (tmp_path / f"交付円滑化計画-{S11}.csv").read_text(encoding="utf-8").splitlines()
    assert s11[4].split(",")[4] in ("405", '"405"')  # the cached/recomputed formula value

    # what LibreOffice understood, saved by it as .xlsx (only to look at; never ship such a file)
    lo_dir = tmp_path / "lo"
    saved = _soffice(src, lo_dir, "xlsx:Calc MS Excel 2007 XML")
    assert saved.returncode == 0, saved.stderr
    wb = openpyxl.load_workbook(lo_dir / "交付円滑化計画.xlsx")
    ws = wb[S11]
    assert ws["C5"].fill.fgColor.rgb == "FFFFC7CE" and ws["B8"].fill.fgColor.rgb == "FFFFEB9C"
    assert ws["D5"].fill.fgColor.rgb == INPUT_FILL and ws["C5"].number_format == "#,##0"
    assert len(ws._charts) == 1 and "交付枚数" in wb.defined_names
    links = {c.coordinate: c.hyperlink.location for row in wb[RESULTS].iter_rows() for c in row if c.hyperlink}
    assert links == {"A2": f"'{S11}'!A1", "D4": f"'{S11}'!C5", "D5": f"'{S11}'!B8"}


def sheet_part_of(data: bytes, sheet: str) -> str:
    """The worksheet part of a sheet, read from workbook.xml and its relationships (independently)."""
    wb = part_root(data, "xl/workbook.xml")
    rid = next(el.get(f"{{{REL}}}id") for el in wb.iter(q("sheet")) if el.get("name") == sheet)
    rels = part_root(data, "xl/_rels/workbook.xml.rels")
    target = next(el.get("Target") for el in rels if el.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


SHIPPED = Path(__file__).resolve().parents[2] / "workbook" / "交付円滑化計画.xlsm"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the built workbook is not in this checkout")
def test_the_shipped_workbook_keeps_its_vba_ribbon_chart_and_cached_values() -> None:
    data = SHIPPED.read_bytes()
    ed = XlsxEditor(data)
    assert {S11, RESULTS, LOG} <= set(ed.sheet_names())
    # a formula cell of 本表1-1 with a cached value, found in the part itself
    s11_part = sheet_part_of(data, S11)
    root = part_root(data, s11_part)
    formula_cell = next(c for c in root.iter(q("c")) if c.find(q("f")) is not None and c.findtext(q("v")))
    ref, cached = formula_cell.get("r"), formula_cell.findtext(q("v"))
    ed.replace_rows(RESULTS, 4, FINDINGS, hyperlinks=LINKS)
    highlight_cells(ed, {(S11, ref): "FFC7CE"})
    row = ed.append_row(LOG, ["2019-10-03 09:30:00", "提出.xlsx", "ab" * 32, 0, 2, 1, "cd" * 32], min_row=4)
    out = ed.to_bytes()

    diff = changed(data, out)
    assert "xl/styles.xml" in diff and s11_part in diff
    assert all(n == "xl/styles.xml" or n.startswith("xl/worksheets/sheet") for n in diff), diff
    assert len(diff) == 4  # styles + 本表1-1 + 検証結果 + 提出記録
    before, after = entries(data), entries(out)
    for name in ("xl/vbaProject.bin", "customUI/customUI14.xml", "_rels/.rels", "xl/workbook.xml", "[Content_Types].xml"):
        assert after[name] == before[name], name
    assert _cell(part_root(out, s11_part), ref).findtext(q("v")) == cached
    wb = openpyxl.load_workbook(io.BytesIO(out), keep_vba=True)
    assert wb[S11][ref].fill.fgColor.rgb == "FFFFC7CE"
    assert wb[RESULTS]["D4"].hyperlink.location == f"'{S11}'!C5"
    assert XlsxEditor(out).read_rows(LOG, row)[0][:2] == ["2019-10-03 09:30:00", "提出.xlsx"]


# ---------------------------------------------------------------- (g) hostile input


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode() for i in range(1, 10)
    )
    + f']>\n<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'.encode()
)
XXE = (
    b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>'.encode()
)
HIDDEN = b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- a comment first -->\n<!DOCTYPE worksheet>" + (
    f'<worksheet xmlns="{MAIN}"><sheetData/></worksheet>'.encode()
)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, HIDDEN], ids=["billion-laughs", "xxe", "bom-comment-doctype"])
def test_doctype_in_a_sheet_is_refused_before_parsing(plain: bytes, payload: bytes, monkeypatch) -> None:
    from kofu_xl.ooxml import edit as xlsx_edit

    parsed: list[bytes] = []
    real = xlsx_edit.etree.fromstring
    monkeypatch.setattr(xlsx_edit.etree, "fromstring", lambda data, *a, **k: parsed.append(data) or real(data, *a, **k))
    data = _rewrite_zip(plain, {SHEET_PART[RESULTS]: payload}, [])
    ed = XlsxEditor(data)  # the sheet is parsed only when used
    with pytest.raises(CannotEdit, match="DOCTYPE") as err:
        ed.read_rows(RESULTS)
    assert err.value.part == SHEET_PART[RESULTS] and SHEET_PART[RESULTS] in str(err.value)
    with pytest.raises(CannotEdit, match="DOCTYPE"):
        ed.replace_rows(RESULTS, 4, [["x"]])
    assert parsed and not any(b"<!DOCTYPE" in p for p in parsed)  # the parser never saw it


def test_doctype_in_the_workbook_part_is_refused(plain: bytes) -> None:
    wb = zipfile.ZipFile(io.BytesIO(plain)).read("xl/workbook.xml")
    data = _rewrite_zip(plain, {"xl/workbook.xml": b'<!DOCTYPE workbook [<!ENTITY a "b">]>' + wb}, [])
    with pytest.raises(CannotEdit, match="DOCTYPE") as err:
        XlsxEditor(data)
    assert err.value.part == "xl/workbook.xml"


def test_oversized_part_and_other_bad_files(plain: bytes) -> None:
    biggest = max(zipfile.ZipFile(io.BytesIO(plain)).infolist(), key=lambda i: i.file_size)
    with pytest.raises(CannotEdit, match="大きすぎます") as err:
        XlsxEditor(plain, max_part_bytes=biggest.file_size - 1)
    assert err.value.part == biggest.filename
    XlsxEditor(plain, max_part_bytes=biggest.file_size)  # exactly at the limit is fine

    with pytest.raises(CannotEdit, match="Excel ファイル"):
        XlsxEditor(b"not a zip file at all")
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + f'<worksheet xmlns="{MAIN}"><sheetData/></worksheet>').encode("utf-16")
    ed = XlsxEditor(_rewrite_zip(plain, {SHEET_PART[LOG]: utf16}, []))
    with pytest.raises(CannotEdit, match="UTF-8 以外"):
        ed.read_rows(LOG)
    broken = XlsxEditor(_rewrite_zip(plain, {SHEET_PART[LOG]: b"<worksheet><sheetData>"}, []))
    with pytest.raises(CannotEdit, match="XML を読めません"):
        broken.read_rows(LOG)


# ---------------------------------------------------------------- (h) any text round-trips


@functools.cache
def small_book() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.title = RESULTS
    wb.active["A1"] = "検証結果"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_PIECES = st.sampled_from(
    ["=", "=SUM(A1:A3)", "_x0041_", "_x005F_", "_X00a9_", "_x", "\r", "\r\n", "\n", "\t", " ", "\u3000",
     "\ufffe", "\uffff", "\ud800", "\udfff", "😀", "交付率", "ｶﾅ", "&lt;", "<t>", "]]>", "\x00", "\x0b", "\x1f"]
)  # fmt: skip
_CHARS = st.characters()
TEXTS = st.lists(st.one_of(_PIECES, st.text(_CHARS, max_size=8)), max_size=6).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=4))
def test_any_text_round_trips(texts: list[str]) -> None:
    ed = XlsxEditor(small_book())
    ed.replace_rows(RESULTS, 2, [[t, "=" + t] for t in texts])
    out = ed.to_bytes()
    expected = [[clean_text(t) or None, "=" + clean_text(t)] for t in texts]
    assert XlsxEditor(out).read_rows(RESULTS, 2) == expected

    root = part_root(out, "xl/worksheets/sheet1.xml")  # the file stays well-formed XML
    assert root.find(f".//{q('f')}") is None  # nothing became a formula
    assert all(c.get("t") == "inlineStr" for c in root.iter(q("c")) if c.get("r") != "A1")

    import python_calamine

    grid = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out)).get_sheet_by_name(RESULTS).to_python()
    assert [row[:2] for row in grid[1:]] == [[clean_text(t), "=" + clean_text(t)] for t in texts]


def test_text_escaping_is_documented_behaviour(plain: bytes) -> None:
    ed = XlsxEditor(plain)
    ed.replace_rows(RESULTS, 4, [["a\x0bb", "_x0041_", "x\r\ny", " lead", "\ud800"]])
    raw = zipfile.ZipFile(io.BytesIO(ed.to_bytes())).read(SHEET_PART[RESULTS])
    assert b"<t>a_x000B_b</t>" in raw  # a control character: Excel's _xHHHH_ escape
    assert b"<t>_x005F_x0041_</t>" in raw  # a literal escape-lookalike keeps its underscore
    assert b"<t>x&#13;\ny</t>" in raw  # CR survives the parser's line-end normalisation
    assert b'<t xml:space="preserve"> lead</t>' in raw
    assert "<t>\ufffd</t>".encode() in raw  # a lone surrogate cannot be stored
    assert ed.read_rows(RESULTS, 4) == [["a\x0bb", "_x0041_", "x\r\ny", " lead", "\ufffd"]]


def test_show_only_hides_the_other_sheets_and_drops_their_print_areas() -> None:
    wb = openpyxl.Workbook()
    a = wb.active
    a.title = "A"
    for name in ("B", "C"):
        wb.create_sheet(name)
    for ws in wb.worksheets:
        ws["A1"] = ws.title
        ws.print_area = "A1:B2"
    wb["C"].print_title_rows = "1:1"
    buf = io.BytesIO()
    wb.save(buf)
    book = XlsxEditor(buf.getvalue())
    book.show_only(["A", "C"])
    back = openpyxl.load_workbook(io.BytesIO(book.to_bytes()))
    assert [(ws.title, ws.sheet_state) for ws in back.worksheets] == [("A", "visible"), ("B", "hidden"), ("C", "visible")]
    assert [ws.print_area or None for ws in back.worksheets] == ["'A'!$A$1:$B$2", None, "'C'!$A$1:$B$2"]
    assert back["C"].print_title_rows == "$1:$1"
    assert [[r for r in ws.iter_rows(values_only=True)] for ws in back.worksheets] == [[("A",)], [("B",)], [("C",)]]
    with pytest.raises(ValueError):
        XlsxEditor(buf.getvalue()).show_only(["D"])
