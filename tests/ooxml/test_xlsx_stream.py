"""The streaming .xlsx writer, read back by independent readers (openpyxl, calamine, LibreOffice)."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from lxml import etree

from kofu_xl.ooxml.stream import MAX_TEXT, XlsxStream

TEXTS = ["白井市", "a & b < c > d \"q\" 'a'", "  leading and trailing  ", "二行\n目", "=1+1", "+81-47", "-5", "@SUM(A1)", "#N/A"]


def _book() -> bytes:
    buf = io.BytesIO()
    book = XlsxStream(buf, title="集計 & <test>", keywords="kofu-xl aggregate")
    head = book.style(bold=True, fill="DDEBF7", wrap=True)
    n0, n1 = book.style(number_format="#,##0"), book.style(number_format="0.0")
    ws = book.sheet("集計", [10, 12, 9], freeze="B2")
    ws.append(["名前", "人口", "率"], head)
    for i, text in enumerate(TEXTS):
        ws.append([text, 1000 * i + 1, Decimal("23.45") + i], [0, n0, n1])
    ws.append([None, Decimal("81000.000"), 0.1])
    ws.end_table()
    ws.append([])
    ws.append(["※ 注記"])
    ws = book.sheet("指摘事項", [20], freeze="A2")
    ws.append(["内容"], head)
    ws.append(["制御文字\x07と" + "長" * (MAX_TEXT + 10)])
    ws.end_table()
    book.close()
    return buf.getvalue()


@pytest.fixture(scope="module")
def data() -> bytes:
    return _book()


def test_every_part_is_well_formed_xml(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    for name in z.namelist():
        etree.fromstring(z.read(name))  # raises on malformed XML
    assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet1.xml"} <= set(z.namelist())


def test_openpyxl_reads_values_styles_panes_and_filter(data):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["集計", "指摘事項"]
    ws = wb["集計"]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == f"A1:C{len(TEXTS) + 2}"
    assert ws["A1"].font.b and ws["A1"].fill.fgColor.rgb == "FFDDEBF7"
    for i, text in enumerate(TEXTS, 2):
        cell = ws.cell(i, 1)
        assert cell.value == text and cell.data_type == "s", text
        assert cell.quotePrefix == text.startswith(("=", "+", "-", "@", "#")), text
        assert ws.cell(i, 2).value == 1000 * (i - 2) + 1 and ws.cell(i, 2).number_format == "#,##0"
        assert ws.cell(i, 3).value == pytest.approx(23.45 + i - 2) and ws.cell(i, 3).number_format == "0.0"
    last = len(TEXTS) + 2
    assert ws.cell(last, 1).value is None and ws.cell(last, 2).value == 81000 and ws.cell(last, 3).value == 0.1
    assert ws.cell(last + 2, 1).value == "※ 注記"
    assert ws.column_dimensions["A"].width == 10 and ws.column_dimensions["C"].width == 9
    long = wb["指摘事項"]["A2"].value
    assert long.startswith("制御文字\ufffdと") and len(long) == MAX_TEXT
    assert wb.properties.title == "集計 & <test>" and wb.properties.keywords == "kofu-xl aggregate"
    workbook_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml").decode()
    assert f'localSheetId="0" hidden="1">\'集計\'!$A$1:$C${len(TEXTS) + 2}</definedName>' in workbook_xml


def test_calamine_reads_the_same_values(data, tmp_path):
    import python_calamine

    path = tmp_path / "t.xlsx"
    path.write_bytes(data)
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_name("集計").to_python()
    assert [r[0] for r in rows[1 : len(TEXTS) + 1]] == TEXTS
    assert rows[len(TEXTS) + 1][1] == 81000


def test_no_formula_anywhere(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    for name in z.namelist():
        if name.startswith("xl/worksheets/"):
            root = etree.fromstring(z.read(name))
            assert root.findall(".//{*}f") == []


def test_sheet_names_excel_refuses_are_refused():
    book = XlsxStream(io.BytesIO())
    for bad in ("", "a" * 32, "a/b", "x[1]", "q?"):
        with pytest.raises(ValueError):
            book.sheet(bad, [1])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_it_and_keeps_the_values(data, tmp_path):
    src = tmp_path / "in" / "集計.xlsx"
    src.parent.mkdir()
    src.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", "xlsx", "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    wb = openpyxl.load_workbook(out / "集計.xlsx")
    assert wb.sheetnames == ["集計", "指摘事項"]
    ws = wb["集計"]
    assert [ws.cell(i, 1).value for i in range(2, len(TEXTS) + 2)] == [t.replace("\r", "") for t in TEXTS]
    assert [ws.cell(i, 2).value for i in range(2, len(TEXTS) + 2)] == [1000 * i + 1 for i in range(len(TEXTS))]
    # (headless LibreOffice drops frozen panes of any .xlsx, openpyxl's too: not checked here)
    assert all(ws.cell(i, 1).data_type == "s" for i in range(2, len(TEXTS) + 2))
