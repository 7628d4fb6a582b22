"""The .xlsm package: content types, relationships, VBA, ribbon, cached values, determinism.

A small workbook is built with openpyxl (Japanese sheet names, code names, a defined name,
data validation, legacy array formulas over a row and over a 2x2 block), a VBA project
from the xlwings runtime, the ribbon callbacks, ThisWorkbook, UDF wrappers and one document
module per sheet; then independent readers (zipfile + XML, olefile, oletools, openpyxl,
python-calamine, pandas, LibreOffice) check the assembled file.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import logging
import os
import re
import shutil
import stat
import subprocess
import uuid
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import olefile
import openpyxl
import pandas as pd
import pytest
import python_calamine
from oletools.olevba import VBA_Parser
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula

from kofu_xl.ooxml import package, ribbon
from kofu_xl.ooxml.package import (
    MissingCachedValuesError,
    assemble_xlsm,
    atomic_write,
    document_module_names,
    inject_cached_values,
    uncached_formula_cells,
    workbook_code_name,
)
from kofu_xl.ooxml.vba import xlwings_vba
from kofu_xl.ooxml.vba.ovba import VbaModule, build_vba_project

FIXTURE = Path(__file__).parent / "fixtures" / "sample_udfs.py"
FIXED = (2019, 10, 3, 0, 0, 0)
S1, S2, CONF = "本表1-1", "本表1-2", "xlwings.conf"
CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CUI_NS = "{http://schemas.microsoft.com/office/2009/07/customui}"
REL_VBA = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
REL_UI = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
REL_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
LIBREOFFICE_TIMEOUT = 240

# The true results of every formula cell (and of every cell of an array-formula range).
EXPECTED: dict[tuple[str, str], object] = {
    (S1, "C1"): 2000,
    (S1, "D1"): "交付率",
    (S1, "C2"): True,
    (S1, "C3"): "#DIV/0!",
    (S1, "C4"): Decimal("0.83"),
    (S1, "C5"): None,  # =IF(..., "", ...): empty text
    (S1, "C6"): 1000,
    (S1, "E3"): 10, (S1, "F3"): 20, (S1, "G3"): 30, (S1, "H3"): 40,
    (S1, "J9"): 1, (S1, "K9"): 2, (S1, "J10"): 2, (S1, "K10"): 4,
    (S2, "A1"): 2001,
    (S2, "B3"): "なし",
    (S2, "C1"): 0.1 + 0.2,
}
CODE_NAMES = [(S1, "Sheet1"), (S2, "Sheet2"), (CONF, "Sheet3")]


def make_xlsx(created: dt.datetime | None = None, code_names: bool = True) -> bytes:
    wb = openpyxl.Workbook()
    if created is not None:
        wb.properties.created = created
    ws = wb.active
    ws.title = S1
    ws["A1"], ws["B1"], ws["B2"] = "人口", 1000, 2.5
    ws["C1"] = "=B1*2"
    ws["D1"] = '="交付"&"率"'
    ws["C2"] = "=B1>500"
    ws["C3"] = "=1/0"
    ws["C4"] = "=ROUND(B2/3,2)"
    ws["C5"] = '=IF(B1>0,"","x")'
    ws["C6"] = "=SUM(人口)"
    for i, col in enumerate("EFGH", start=1):
        ws[f"{col}2"] = i
    ws["E3"] = ArrayFormula("E3:H3", "=E2:H2*10")  # over a row range
    ws["F3"].number_format = "0"  # styled, so openpyxl writes F3 (G3, H3 it omits)
    ws["J9"] = ArrayFormula("J9:K10", "=E2:F2*{1;2}")  # row 10 does not exist in the xlsx
    ws["A11"] = "注記"
    ws2 = wb.create_sheet(S2)
    ws2["A1"] = "='本表1-1'!C1+1"
    ws2["B2"] = "未定(実施予定なし)"
    ws2["B3"] = '=IF(B2="未定(実施予定なし)","なし","あり")'
    ws2["C1"] = "=0.1+0.2"
    dv = DataValidation(type="list", formula1='"未定(実施予定なし),令和2年4月"', allow_blank=True)
    ws2.add_data_validation(dv)
    dv.add("B2")
    conf = wb.create_sheet(CONF)
    conf["A1"], conf["B1"] = "UDF Modules", "sample_udfs"
    wb.defined_names["人口"] = DefinedName("人口", attr_text="'本表1-1'!$B$1")
    if code_names:
        wb.code_name = "ThisWorkbook"
        for sheet, code in CODE_NAMES:
            wb[sheet].sheet_properties.codeName = code
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sample_udfs():
    spec = importlib.util.spec_from_file_location("sample_udfs", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def xlsx() -> bytes:
    return make_xlsx()


@pytest.fixture(scope="module")
def modules(xlsx: bytes, sample_udfs) -> list[VbaModule]:
    kinds = {"module": "standard", "class": "class"}
    out = [VbaModule(workbook_code_name(xlsx), "document", ribbon.workbook_module_vba())]
    out += [VbaModule(code, "document", f"' {code}\r\n") for _, code in document_module_names(xlsx)]
    out += [VbaModule(m.name, kinds[m.kind], m.source) for m in xlwings_vba.runtime_modules()]
    out += [
        VbaModule(ribbon.RIBBON_MODULE_NAME, "standard", ribbon.ribbon_vba()),
        VbaModule("KofuUdfs", "standard",
                  xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs)),
        VbaModule("KofuRegister", "standard", xlwings_vba.generate_macro_options(sample_udfs)),
    ]
    return out


@pytest.fixture(scope="module")
def vba_project(modules: list[VbaModule]) -> bytes:
    return build_vba_project(modules)


def assemble(xlsx: bytes, vba_project: bytes, values=EXPECTED, **kwargs) -> bytes:
    return assemble_xlsm(xlsx, vba_project=vba_project, custom_ui=ribbon.custom_ui_xml(),
                         cached_values=values, fixed_time=FIXED, **kwargs)


@pytest.fixture(scope="module")
def xlsm(xlsx: bytes, vba_project: bytes) -> bytes:
    return assemble(xlsx, vba_project, require_cached_values=True)


@pytest.fixture(scope="module")
def xlsm_path(xlsm: bytes, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xlsm") / "交付円滑化計画.xlsm"
    path.write_bytes(xlsm)
    return path


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def content_type(types: ET.Element, part: str) -> str | None:
    for override in types.iter(f"{CT_NS}Override"):
        if override.get("PartName").lower() == part.lower():
            return override.get("ContentType")
    ext = part.rsplit(".", 1)[-1].lower()
    for default in types.iter(f"{CT_NS}Default"):
        if default.get("Extension").lower() == ext:
            return default.get("ContentType")
    return None


def relationships(data: bytes) -> list[dict[str, str]]:
    root = ET.fromstring(data)
    assert root.tag == f"{RELS_NS}Relationships"
    return [dict(rel.attrib) for rel in root]


# --- the input openpyxl writes ------------------------------------------------

def test_openpyxl_input_as_assumed(xlsx: bytes) -> None:
    parts = read_zip(xlsx)
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    assert workbook.find(f"{MAIN_NS}workbookPr").get("codeName") == "ThisWorkbook"
    sheet1 = ET.fromstring(parts["xl/worksheets/sheet1.xml"])
    assert sheet1.find(f"{MAIN_NS}sheetPr").get("codeName") == "Sheet1"
    cells = {c.get("r"): c for c in sheet1.iter(f"{MAIN_NS}c")}
    # openpyxl: the array formula in the anchor only; styled range cells without value;
    # unstyled range cells (and a row holding nothing else) not at all.
    f = cells["E3"].find(f"{MAIN_NS}f")
    assert (f.get("t"), f.get("ref"), f.text) == ("array", "E3:H3", "E2:H2*10")
    assert cells["F3"].find(f"{MAIN_NS}v") is None and cells["F3"].get("s")
    assert "G3" not in cells and "H3" not in cells and "K9" not in cells
    assert "10" not in {row.get("r") for row in sheet1.iter(f"{MAIN_NS}row")}
    # formula cells carry no cached value
    assert not (cells["C1"].findtext(f"{MAIN_NS}v") or "")
    assert uncached_formula_cells(xlsx) == sorted(
        EXPECTED, key=lambda k: ([S1, S2].index(k[0]), openpyxl.utils.cell.coordinate_to_tuple(k[1])))
    assert document_module_names(xlsx) == CODE_NAMES
    assert workbook_code_name(xlsx) == "ThisWorkbook"


# --- (a) package structure ----------------------------------------------------

def test_content_types_and_relationships(xlsm: bytes) -> None:
    parts = read_zip(xlsm)
    types = ET.fromstring(parts["[Content_Types].xml"])
    assert content_type(types, "/xl/workbook.xml") == package.CONTENT_TYPE_MACRO_WORKBOOK
    assert content_type(types, "/xl/vbaProject.bin") == "application/vnd.ms-office.vbaProject"
    assert content_type(types, "/customUI/customUI14.xml") in ("application/xml", "text/xml")
    for name in parts:  # every part has a content type
        if not name.endswith(".rels") and name != "[Content_Types].xml":
            assert content_type(types, "/" + name), name
    assert not any(o.get("ContentType", "").endswith("sheet.main+xml")
                   for o in types.iter(f"{CT_NS}Override"))

    package_rels = relationships(parts["_rels/.rels"])
    ui = [r for r in package_rels if r["Type"] == REL_UI]
    assert [r["Target"] for r in ui] == ["customUI/customUI14.xml"]
    assert [r["Target"] for r in package_rels if r["Type"] == REL_DOC] == ["xl/workbook.xml"]
    workbook_rels = relationships(parts["xl/_rels/workbook.xml.rels"])
    vba = [r for r in workbook_rels if r["Type"] == REL_VBA]
    assert [r["Target"] for r in vba] == ["vbaProject.bin"]  # relative to xl/
    for rels in (package_rels, workbook_rels):
        assert len({r["Id"] for r in rels}) == len(rels)
    for r in workbook_rels:  # every internal target exists
        target = r["Target"].lstrip("/") if r["Target"].startswith("/") else "xl/" + r["Target"]
        assert target in parts, r
    for r in package_rels:
        assert r["Target"] in parts, r

    ui_root = ET.fromstring(parts["customUI/customUI14.xml"])
    assert ui_root.tag == f"{CUI_NS}customUI"
    assert parts["customUI/customUI14.xml"] == ribbon.custom_ui_xml()
    assert parts["xl/vbaProject.bin"].startswith(olefile.MAGIC)


def test_zip_entries_fixed(xlsm: bytes, xlsx: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(xlsm)) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names[:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert len(set(names)) == len(names)
    assert set(names) == set(read_zip(xlsx)) | {"xl/vbaProject.bin", "customUI/customUI14.xml"}
    for info in infos:
        assert info.date_time == FIXED
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert (info.create_system, info.external_attr) == (3, (stat.S_IFREG | 0o644) << 16)
    core = ET.fromstring(read_zip(xlsm)["docProps/core.xml"])
    dates = {el.tag.rsplit("}", 1)[1]: el.text for el in core
             if el.tag.startswith("{http://purl.org/dc/terms/}")}
    assert dates == {"created": "2019-10-03T00:00:00Z", "modified": "2019-10-03T00:00:00Z"}
    assert core.findtext("{http://purl.org/dc/elements/1.1/}creator") == "openpyxl"


# --- (b) VBA through olefile and oletools --------------------------------------

def body(source: str) -> str:
    """Module text without exported-class header and module-level Attribute lines."""
    lines = source.replace("\r\n", "\n").split("\n")
    if lines and lines[0].upper().startswith("VERSION "):
        lines = lines[lines.index("END") + 1:]
    while lines and lines[0].startswith("Attribute VB_"):
        lines.pop(0)
    return "\n".join(lines).rstrip("\n") + "\n"


@pytest.fixture(scope="module")
def extracted(xlsm: bytes) -> dict[str, str]:
    parser = VBA_Parser("交付円滑化計画.xlsm", data=xlsm)
    try:
        assert parser.detect_vba_macros()
        return {stream.rsplit("/", 1)[-1]: code.replace("\r\n", "\n")
                for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


def test_vba_project_readable(xlsm: bytes, modules: list[VbaModule]) -> None:
    ole = olefile.OleFileIO(read_zip(xlsm)["xl/vbaProject.bin"])
    streams = {"/".join(path) for path in ole.listdir()}
    assert {"PROJECT", "PROJECTwm", "VBA/dir", "VBA/_VBA_PROJECT"} <= streams
    assert {f"VBA/{m.name}" for m in modules} <= streams


def test_olevba_extracts_every_module(extracted: dict[str, str], modules: list[VbaModule]) -> None:
    assert sorted(extracted) == sorted(m.name for m in modules)
    for module in modules:
        assert body(extracted[module.name]) == body(module.source), module.name
    # document modules match the code names in the workbook
    kinds = {m.name: m.kind for m in modules}
    assert [kinds[code] for _, code in CODE_NAMES] == ["document"] * 3
    assert kinds["ThisWorkbook"] == "document"


# --- (c) ribbon callbacks --------------------------------------------------------

def test_every_on_action_names_a_ribbon_callback(xlsm: bytes, extracted: dict[str, str]) -> None:
    ui = ET.fromstring(read_zip(xlsm)["customUI/customUI14.xml"])
    actions = [el.get("onAction") for el in ui.iter() if el.get("onAction")]
    assert actions == [b.callback for b in ribbon.RIBBON_BUTTONS]
    standard = extracted[ribbon.RIBBON_MODULE_NAME]
    for name in actions:
        pattern = rf"^Public Sub {name}\(control As IRibbonControl\)$"
        assert len(re.findall(pattern, standard, re.M)) == 1, name
        others = [m for m, code in extracted.items() if m != ribbon.RIBBON_MODULE_NAME
                  and re.search(rf"\bSub {name}\b", code)]
        assert others == [], (name, others)
    assert re.search(r"^Public Function RunPython\(PythonCommand As String\)", extracted["xlwings"], re.M)


def test_callbacks_run_the_python_calls(extracted: dict[str, str]) -> None:
    code = extracted[ribbon.RIBBON_MODULE_NAME]
    subs = dict(re.findall(r"^Public Sub (\w+)\(control As IRibbonControl\)\n(.*?)^End Sub$",
                           code, re.M | re.S))
    for button in ribbon.RIBBON_BUTTONS:
        text = subs[button.callback]
        assert f'result = RunPython("{button.python_command}")' in text
        assert "On Error GoTo PythonNotStarted" in text
        assert re.search(r"^PythonNotStarted:\n    KofuDone busy, calc, screen\n    KofuPythonNotStarted .*Err\.Number, Err\.Description$",
                         text, re.M)
    calls = {b.label: b.python_command for b in ribbon.RIBBON_BUTTONS}
    assert calls == {
        "検証": "import kofu_xl.excel; kofu_xl.excel.validate_book()",
        "検証して提出": "import kofu_xl.excel; kofu_xl.excel.submit_book()",
        "実績取込": "import kofu_xl.excel; kofu_xl.excel.import_actuals()",
        "計画案": "import kofu_xl.excel; kofu_xl.excel.propose_book()",
        "計画案を採用": "import kofu_xl.excel; kofu_xl.excel.adopt_proposal()",
        "診断": "import kofu_xl.excel; kofu_xl.excel.doctor_book()",
    }


# A tiny evaluator for the ASCII string expressions vba_string_literal emits.
_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"|ChrW\(&H([0-9A-F]{1,4})\))\s*(?:&|$)')


def vba_text(expression: str) -> str:
    out, pos = [], 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        assert match, expression[pos:]
        out.append(chr(int(match.group(2), 16)) if match.group(2) else match.group(1).replace('""', '"'))
        pos = match.end()
    return "".join(out)


def assigned(code: str, sub: str, target: str) -> str:
    text = re.search(rf"^Private Sub {sub}\(.*?^End Sub$", code, re.M | re.S).group(0)
    value = ""
    for rhs in re.findall(rf"^    {target} = (.*)$", text, re.M):
        rhs = rhs.removeprefix(f"{target} & ")
        value += vba_text(rhs)
    return value


def test_error_messages_are_japanese_and_point_to_doctor() -> None:
    code = ribbon.ribbon_vba()
    assert code.isascii() and code.endswith("\r\n") and "\n" not in code.replace("\r\n", "")
    code = code.replace("\r\n", "\n")
    not_started = assigned(code, "KofuPythonNotStarted", "tail")
    assert "Python を起動できません" in not_started
    assert "kofu-xl doctor" in not_started and "情報システム担当" in not_started
    failed = assigned(code, "KofuPythonFailed", "tail")
    assert "kofu-xl doctor" in failed and "情報システム担当" in failed
    assert assigned(code, "KofuPythonNotStarted", "title") == "交付円滑化計画"
    assert "MsgBox msg, vbCritical" in code


def test_workbook_open_registers_functions(extracted: dict[str, str]) -> None:
    this = extracted["ThisWorkbook"]
    assert re.search(r"^Private Sub Workbook_Open\(\)\n    On Error Resume Next\n"
                     r"    KofuRegisterFunctions\nEnd Sub$", this, re.M)
    assert re.search(r"^Public Sub KofuRegisterFunctions\(\)$", extracted["KofuRegister"], re.M)
    with pytest.raises(ValueError):
        ribbon.workbook_module_vba("Kofu Register")


def test_custom_ui_describes_the_tab() -> None:
    data = ribbon.custom_ui_xml()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert data == ribbon.custom_ui_xml()
    root = ET.fromstring(data)
    tab = root.find(f"{CUI_NS}ribbon/{CUI_NS}tabs/{CUI_NS}tab")
    assert tab.get("label") == "交付円滑化計画"
    groups = {g.get("label"): [b.get("label") for b in g.iter(f"{CUI_NS}button")]
              for g in tab.iter(f"{CUI_NS}group")}
    assert groups == {"検証・提出": ["検証", "検証して提出"], "実績": ["実績取込"], "計画案": ["計画案", "計画案を採用"], "ヘルプ": ["診断"]}
    for button in tab.iter(f"{CUI_NS}button"):
        assert button.get("imageMso") and button.get("supertip") and button.get("screentip")
        assert not button.get("supertip").isascii()


def test_python_functions_exist_once_provided() -> None:
    """Each ribbon button's RunPython call names a function of kofu_xl.excel (skipped
    until that module exists): a missing one would only fail when a clerk clicks."""
    excel = pytest.importorskip("kofu_xl.excel", reason="kofu_xl.excel not written yet")
    missing = [f"{b.label} -> kofu_xl.excel.{b.python_function}()" for b in ribbon.RIBBON_BUTTONS
               if not callable(getattr(excel, b.python_function, None))]
    assert missing == [], f"ribbon buttons calling functions kofu_xl.excel lacks: {missing}"


# --- (d) cached values through openpyxl, calamine, pandas -------------------------

def test_openpyxl_reads_formulas_and_cached_values(xlsm: bytes) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(xlsm), keep_vba=True)
    assert wb.sheetnames == [S1, S2, CONF]
    assert wb.vba_archive is not None and "xl/vbaProject.bin" in wb.vba_archive.namelist()
    assert wb[S1]["C1"].value == "=B1*2"
    assert isinstance(wb[S1]["E3"].value, ArrayFormula) and wb[S1]["E3"].value.ref == "E3:H3"
    assert wb.defined_names["人口"].attr_text == "'本表1-1'!$B$1"
    assert [str(v.sqref) for v in wb[S2].data_validations.dataValidation] == ["B2"]

    values = openpyxl.load_workbook(io.BytesIO(xlsm), data_only=True)
    for (sheet, ref), expected in EXPECTED.items():
        got = values[sheet][ref].value
        if isinstance(expected, Decimal):
            expected = float(expected)
        assert got == expected and type(got) is type(expected), (sheet, ref, got)
    assert values[S1]["B1"].value == 1000 and values[S2]["B2"].value == "未定(実施予定なし)"
    assert uncached_formula_cells(xlsm) == []


def test_calamine_and_pandas_read_cached_values(xlsm_path: Path) -> None:
    book = python_calamine.CalamineWorkbook.from_path(str(xlsm_path))
    assert book.sheet_names == [S1, S2, CONF]
    rows = {name: book.get_sheet_by_name(name).to_python() for name in (S1, S2)}
    for (sheet, ref), expected in EXPECTED.items():
        r, c = openpyxl.utils.cell.coordinate_to_tuple(ref)
        got = rows[sheet][r - 1][c - 1]
        if expected is None or expected == "#DIV/0!":
            assert got == "", (ref, got)  # calamine shows errors and empty text as ""
        elif isinstance(expected, (bool, str)):
            assert got == expected, (ref, got)
        else:
            assert got == float(expected), (ref, got)
    frame = pd.read_excel(xlsm_path, sheet_name=S1, header=None)
    assert frame.iloc[0, 2] == 2000 and list(frame.iloc[2, 4:8]) == [10, 20, 30, 40]


def test_array_formula_cells_are_filled_in_place(xlsm: bytes) -> None:
    sheet = read_zip(xlsm)["xl/worksheets/sheet1.xml"]
    root = ET.fromstring(sheet)
    rows = [(row.get("r"), [c.get("r") for c in row]) for row in root.iter(f"{MAIN_NS}row")]
    assert ("3", ["C3", "E3", "F3", "G3", "H3"]) in rows
    assert [r for r, _ in rows] == ["1", "2", "3", "4", "5", "6", "9", "10", "11"]
    assert dict(rows)["9"] == ["J9", "K9"] and dict(rows)["10"] == ["J10", "K10"]
    assert root.find(f"{MAIN_NS}dimension").get("ref") == "A1:K11"
    cells = {c.get("r"): c for c in root.iter(f"{MAIN_NS}c")}
    assert cells["F3"].get("s")  # style kept
    assert cells["E3"].find(f"{MAIN_NS}f").get("ref") == "E3:H3"
    assert [cells[r].find(f"{MAIN_NS}f") for r in ("F3", "G3", "K9", "J10")] == [None] * 4
    assert (cells["C2"].get("t"), cells["C2"].findtext(f"{MAIN_NS}v")) == ("b", "1")
    assert (cells["C3"].get("t"), cells["C3"].findtext(f"{MAIN_NS}v")) == ("e", "#DIV/0!")
    assert (cells["D1"].get("t"), cells["D1"].findtext(f"{MAIN_NS}v")) == ("str", "交付率")
    assert (cells["C4"].get("t"), cells["C4"].findtext(f"{MAIN_NS}v")) == (None, "0.83")
    assert (cells["C5"].get("t"), cells["C5"].findtext(f"{MAIN_NS}v")) == ("str", "")
    # everything but the formula cells is byte for byte what openpyxl wrote
    before = read_zip(make_xlsx())["xl/worksheets/sheet1.xml"]
    assert sheet.split(b"<sheetData>")[0] == before.split(b"<sheetData>")[0].replace(
        b'ref="A1:J11"', b'ref="A1:K11"')
    assert sheet.split(b"</sheetData>")[1] == before.split(b"</sheetData>")[1]


def test_missing_values_are_reported(xlsx: bytes, vba_project: bytes, caplog) -> None:
    partial = {k: v for k, v in EXPECTED.items() if k not in {(S1, "G3"), (S1, "K10"), (S2, "B3")}}
    partial[(S1, "B1")] = 1000  # not a formula cell: ignored
    with pytest.raises(MissingCachedValuesError) as error:
        assemble(xlsx, vba_project, partial, require_cached_values=True)
    assert error.value.cells == ((S1, "G3"), (S1, "K10"), (S2, "B3"))
    with caplog.at_level(logging.WARNING, logger="kofu_xl.ooxml.package"):
        result = assemble(xlsx, vba_project, partial)
    assert "3 formula cell(s) without a cached value" in caplog.text
    assert uncached_formula_cells(result) == [(S1, "G3"), (S1, "K10"), (S2, "B3")]
    injected, report = inject_cached_values(xlsx, partial)
    assert report.missing == ((S1, "G3"), (S1, "K10"), (S2, "B3"))
    assert report.ignored == ((S1, "B1"),) and report.injected == len(EXPECTED) - 3
    assert uncached_formula_cells(injected) == list(report.missing)
    with pytest.raises(ValueError, match="unknown sheet"):
        inject_cached_values(xlsx, {("本表9", "A1"): 1})


def test_value_texts(xlsx: bytes) -> None:
    cases = {
        (S1, "C1"): Decimal("1E+3"), (S1, "C4"): Decimal("-0.1500"), (S1, "C6"): 1e20,
        (S1, "E3"): 2.0, (S1, "F3"): Decimal("1.5E-12"), (S1, "G3"): -0.0,
        (S1, "H3"): 'a&b<c>"d"\r\ne', (S2, "A1"): False, (S2, "C1"): 0.1 + 0.2,
    }
    injected, _ = inject_cached_values(xlsx, cases)
    cells = {c.get("r"): c for c in ET.fromstring(read_zip(injected)["xl/worksheets/sheet1.xml"])
             .iter(f"{MAIN_NS}c")}
    texts = {ref: cells[ref].findtext(f"{MAIN_NS}v") for ref in ("C1", "C4", "C6", "E3", "F3", "G3")}
    assert texts == {"C1": "1000", "C4": "-0.15", "C6": "1E+20", "E3": "2", "F3": "1.5E-12",
                     "G3": "0"}
    values = openpyxl.load_workbook(io.BytesIO(injected), data_only=True)
    assert values[S1]["H3"].value == 'a&b<c>"d"\r\ne'
    assert values[S2]["A1"].value is False
    assert values[S2]["C1"].value == 0.1 + 0.2  # repr round-trips the double exactly
    for bad in (float("nan"), float("inf"), Decimal("NaN"), "bell\x07", "x" * 32768):
        with pytest.raises(ValueError):
            inject_cached_values(xlsx, {(S1, "C1"): bad})
    with pytest.raises(TypeError):
        inject_cached_values(xlsx, {(S1, "C1"): [1, 2]})


PREFIXED_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
    '<x:sheetPr codeName="Sheet3"/><x:dimension ref="A1:B2"/><x:sheetData>'
    '<x:row r="1" spans="1:2" x14ac:dyDescent="0.25"><x:c r="A1"><x:v>1</x:v></x:c>'
    '<x:c r="B1" s="1"><x:f t="array" ref="B1:C2">A1*{1,2;3,4}</x:f><x:v></x:v></x:c></x:row>'
    '<x:row r="2" spans="1:1" x14ac:dyDescent="0.25"/>'
    '</x:sheetData><x:pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
    'header="0.3" footer="0.3"/></x:worksheet>'
)


def test_cells_are_spliced_keeping_prefixes_and_namespaces() -> None:
    """A sheet as Excel writes it (other prefix, mc:Ignorable, x14ac, self-closing row):
    only the cells change, the rest stays byte for byte."""
    parts = read_zip(make_xlsx())
    parts["xl/worksheets/sheet3.xml"] = PREFIXED_SHEET.encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    values = {(CONF, "B1"): 1, (CONF, "C1"): 2, (CONF, "B2"): 3, (CONF, "C2"): 4}
    injected, report = inject_cached_values(buffer.getvalue(), {**EXPECTED, **values})
    assert report.missing == () and report.injected == len(EXPECTED) + 4
    expected = (
        PREFIXED_SHEET
        .replace('<x:dimension ref="A1:B2"/>', '<x:dimension ref="A1:C2"/>')
        .replace('<x:row r="1" spans="1:2"', '<x:row r="1" spans="1:3"')
        .replace('<x:f t="array" ref="B1:C2">A1*{1,2;3,4}</x:f><x:v></x:v></x:c></x:row>',
                 '<x:f t="array" ref="B1:C2">A1*{1,2;3,4}</x:f><x:v>1</x:v></x:c>'
                 '<x:c r="C1"><x:v>2</x:v></x:c></x:row>')
        .replace('<x:row r="2" spans="1:1" x14ac:dyDescent="0.25"/>',
                 '<x:row r="2" spans="1:3" x14ac:dyDescent="0.25"><x:c r="B2"><x:v>3</x:v></x:c>'
                 '<x:c r="C2"><x:v>4</x:v></x:c></x:row>')
    )
    assert read_zip(injected)["xl/worksheets/sheet3.xml"].decode("utf-8") == expected
    wb = openpyxl.load_workbook(io.BytesIO(injected), data_only=True)
    assert [[c.value for c in row] for row in wb[CONF]["A1:C2"]] == [[1, 1, 2], [None, 3, 4]]


def test_code_names_are_required(vba_project: bytes) -> None:
    bare = make_xlsx(code_names=False)
    with pytest.raises(ValueError, match="codeName"):
        assemble(bare, vba_project)
    with pytest.raises(ValueError, match="codeName"):
        document_module_names(bare)
    with pytest.raises(ValueError, match="compound file"):
        assemble(make_xlsx(), b"not a compound file")


# --- (e) determinism ----------------------------------------------------------------

def test_two_assemblies_are_byte_identical(xlsx: bytes, vba_project: bytes, xlsm: bytes,
                                           modules: list[VbaModule]) -> None:
    assert assemble(xlsx, vba_project, require_cached_values=True) == xlsm
    # another openpyxl save of the same workbook, other creation date, fresh VBA project
    other = make_xlsx(created=dt.datetime(2001, 2, 3, 4, 5, 6))
    assert other != xlsx
    assert assemble(other, build_vba_project(modules)) == xlsm
    changed = dict(EXPECTED)
    changed[(S1, "C1")] = 2001
    assert assemble(xlsx, vba_project, changed) != xlsm


# --- (f) LibreOffice ------------------------------------------------------------------

def soffice(source: Path, out_dir: Path, target: str) -> Path:
    profile = Path("/tmp") / f"lo-{uuid.uuid4()}"
    try:
        process = subprocess.run(
            ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--convert-to", target, "--outdir", str(out_dir), str(source)],
            capture_output=True, timeout=LIBREOFFICE_TIMEOUT, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    result = out_dir / f"{source.stem}.{target}"
    assert process.returncode == 0 and result.is_file(), process.stderr.decode("utf-8", "replace")
    assert b"Error" not in process.stdout, process.stdout
    return result


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_and_converts(xlsm_path: Path, tmp_path: Path,
                                        modules: list[VbaModule]) -> None:
    pdf = soffice(xlsm_path, tmp_path, "pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and re.search(rb"/Type\s*/Page(?!s)", data)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True,
                              timeout=60).stdout.decode("utf-8")
        for shown in ("交付率", "2000", "2001", "なし", "40"):
            assert shown in text, shown

    converted = soffice(xlsm_path, tmp_path, "xlsx")
    values = openpyxl.load_workbook(converted, data_only=True)
    assert values.sheetnames == [S1, S2, CONF]
    for (sheet, ref), expected in EXPECTED.items():
        got = values[sheet][ref].value
        if expected is None:
            assert got in (None, ""), ref
        elif isinstance(expected, (Decimal, float)):
            assert got == pytest.approx(float(expected)), ref
        else:
            assert got == expected, (ref, got)
    formulas = openpyxl.load_workbook(converted)
    assert formulas[S1]["C1"].value == "=B1*2"

    ods = soffice(xlsm_path, tmp_path, "ods")  # LibreOffice imports the VBA modules
    with zipfile.ZipFile(ods) as zf:
        basic = {name.rsplit("/", 1)[1][:-4]: zf.read(name).decode("utf-8")
                 for name in zf.namelist()
                 if name.startswith("Basic/VBAProject/") and not name.endswith("script-lb.xml")}
    assert set(basic) == {m.name for m in modules}
    assert "KofuRibbonValidate" in basic[ribbon.RIBBON_MODULE_NAME]
    assert "Workbook_Open" in basic["ThisWorkbook"]


# --- (g) atomic_write -----------------------------------------------------------------

def leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "交付円滑化計画.xlsm"
    atomic_write(target, b"first")
    assert target.read_bytes() == b"first"
    os.chmod(target, 0o640)
    atomic_write(target, b"second" * 1000)
    assert target.read_bytes() == b"second" * 1000
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path, target.name) == []


class _DiskFull:
    """A file object that writes half of what it is given, then fails."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()
        return False


@pytest.mark.parametrize("existing", [True, False])
def test_atomic_write_failing_midway_leaves_old_file(tmp_path: Path, monkeypatch, existing) -> None:
    target = tmp_path / "book.xlsm"
    if existing:
        target.write_bytes(b"old contents")
    real_fdopen = os.fdopen
    partial: list[Path] = []

    def fdopen(fd, *args, **kwargs):
        partial.extend(p for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        return _DiskFull(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new contents " * 10_000)
    assert partial, "the temporary file lives in the target's folder"
    assert (target.read_bytes() == b"old contents") if existing else not target.exists()
    assert leftovers(tmp_path, target.name) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_atomic_write_failing_before_rename(tmp_path: Path, monkeypatch, failing) -> None:
    target = tmp_path / "book.xlsm"
    target.write_bytes(b"old contents")

    def fail(*_args, **_kwargs):
        raise OSError(5, f"{failing} failed")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match=f"{failing} failed"):
        atomic_write(target, b"new contents")
    monkeypatch.undo()
    assert target.read_bytes() == b"old contents"
    assert leftovers(tmp_path, target.name) == []


def test_formula_texts_reads_every_formula_as_written():
    """Plain, shared (translated to each cell), array anchors, entities, a prefixed namespace."""
    from kofu_xl.ooxml.formulas import formula_texts

    xml = (
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        b'<x:row r="1"><x:c r="A1"><x:f t="shared" ref="A1:A3" si="0">B1+1</x:f><x:v>1</x:v></x:c>'
        b'<x:c r="C1" t="str"><x:f>IF(B1="","",&quot;x&quot;&amp;B1)</x:f><x:v></x:v></x:c><x:c r="D1"><x:v>5</x:v></x:c></x:row>'
        b'<x:row r="2"><x:c r="A2" s="1"><x:f t="shared" si="0"/><x:v>2</x:v></x:c>'
        b'<x:c r="B2"><x:f t="array" ref="B2:C2">KOFU_RATE(B1:C1,1)</x:f><x:v>1</x:v></x:c><x:c r="C2"><x:v>1</x:v></x:c></x:row>'
        b"</x:sheetData></x:worksheet>"
    )
    assert formula_texts(xml) == {"A1": "B1+1", "C1": 'IF(B1="","","x"&B1)', "A2": "B2+1", "B2": "KOFU_RATE(B1:C1,1)"}


def test_every_button_shows_feedback_and_restores_excel_on_every_path(extracted: dict[str, str]) -> None:
    """Read back with olevba: before RunPython the status bar says what runs and the wait cursor
    shows, screen updating and calculation pause; both the normal path and the error handler
    put everything back before any message box."""
    code = extracted[ribbon.RIBBON_MODULE_NAME]
    subs = dict(re.findall(r"^Public Sub (\w+)\(control As IRibbonControl\)\n(.*?)^End Sub$", code, re.M | re.S))
    assert sorted(subs) == sorted(b.callback for b in ribbon.RIBBON_BUTTONS)
    for button in ribbon.RIBBON_BUTTONS:
        lines = [l.strip() for l in subs[button.callback].splitlines()]
        at = {key: [i for i, l in enumerate(lines) if l.startswith(key)] for key in
              ("On Error GoTo PythonNotStarted", "busy = ", "KofuBusy ", "result = RunPython(", "KofuDone ", "PythonNotStarted:",
               "KofuPythonNotStarted ", "KofuPythonFailed", "If result = -1", "Exit Sub")}
        (guard,), (busy,), (start,), (run,) = at["On Error GoTo PythonNotStarted"], at["busy = "], at["KofuBusy "], at["result = RunPython("]
        done_ok, done_err = at["KofuDone "]
        (handler,), (failed_box,), (exit_,) = at["PythonNotStarted:"], at["If result = -1"], at["Exit Sub"]
        assert guard < busy < start < run < done_ok < failed_box < exit_ < handler < done_err < at["KofuPythonNotStarted "][0]
        assert done_err == handler + 1  # the error handler restores first
        assert vba_text(lines[busy].split(" = ", 1)[1]) == f"「{button.label}」を実行しています。Python を起動しています…"
    busy_sub = re.search(r"^Private Sub KofuBusy\(.*?^End Sub$", code, re.M | re.S).group(0)
    for line in ("calc = Application.Calculation", "screen = Application.ScreenUpdating", "Application.StatusBar = busy",
                 "Application.Cursor = 2", "Application.ScreenUpdating = False", "Application.Calculation = -4135"):
        assert f"\n    {line}\n" in busy_sub, line
    assert busy_sub.index("calc = Application.Calculation") < busy_sub.index("Application.Calculation = -4135")
    done_sub = re.search(r"^Private Sub KofuDone\(.*?^End Sub$", code, re.M | re.S).group(0)
    for line in ("On Error Resume Next", "If calc <> 0 Then Application.Calculation = calc", "Application.ScreenUpdating = screen Or (calc = 0)",
                 "Application.Cursor = -4143", "If Application.StatusBar = busy Then Application.StatusBar = False"):
        assert line in done_sub, line
