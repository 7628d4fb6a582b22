"""Tests for the MS-OVBA writer: independent readers (olefile, oletools, LibreOffice)
must accept what kofu_xl.xlsm.ovba writes."""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

from kofu_xl.ooxml.vba.ovba import VbaModule, build_vba_project, compress

XLWINGS_DIR = Path(os.path.dirname(xlwings.__file__))
XLWINGS_BAS = (XLWINGS_DIR / "xlwings.bas").read_bytes().decode("cp932")
DICTIONARY_CLS = (XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes().decode("cp932")

WORKBOOK_BASE = '"0{00020819-0000-0000-C000-000000000046}"'
WORKSHEET_BASE = '"0{00020820-0000-0000-C000-000000000046}"'
CLASS_BASE = '"0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"'

KOFU_UDFS = """Option Explicit
' 交付円滑化計画の集計を行うモジュール（コメントは日本語）
Public Function KofuLabel() As String
    KofuLabel = "マイナンバーカード交付率"  ' 全角括弧（）と記号①も
End Function
"""
COUNTER = "Option Explicit\nPrivate m_count As Long\n\nPublic Sub Increment()\n    m_count = m_count + 1\nEnd Sub\n"
SHEET1 = "Private Sub Worksheet_Activate()\n    Debug.Print \"表示\"\nEnd Sub\n"
THIS_WORKBOOK = "Private Sub Workbook_Open()\nEnd Sub\n"

MODULES = [
    VbaModule("ThisWorkbook", "document", THIS_WORKBOOK),
    VbaModule("Sheet1", "document", SHEET1),
    VbaModule("Sheet2", "document", ""),
    VbaModule("KofuUdfs", "standard", KOFU_UDFS),
    VbaModule("xlwings", "standard", XLWINGS_BAS),
    VbaModule("Dictionary", "class", DICTIONARY_CLS),
    VbaModule("Counter", "class", COUNTER),
]


def crlf(text: str) -> str:
    """Line endings as VBA stores them, with a final CRLF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    return text.replace("\n", "\r\n")


def split_header(code: str) -> tuple[list[str], str]:
    """Split stored source into its leading module-level Attribute lines and the body."""
    lines = code.split("\r\n")
    n = 0
    while n < len(lines) and lines[n].startswith("Attribute VB_"):
        n += 1
    return lines[:n], "\r\n".join(lines[n:])


def document_header(name: str, base: str) -> list[str]:
    return [f'Attribute VB_Name = "{name}"', f"Attribute VB_Base = {base}",
            "Attribute VB_GlobalNameSpace = False", "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True", "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False", "Attribute VB_Customizable = True"]


def class_header(name: str, exposed: str = "False") -> list[str]:
    return [f'Attribute VB_Name = "{name}"', f"Attribute VB_Base = {CLASS_BASE}",
            "Attribute VB_GlobalNameSpace = False", "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = False", f"Attribute VB_Exposed = {exposed}",
            "Attribute VB_TemplateDerived = False", "Attribute VB_Customizable = False"]


def dictionary_parts() -> tuple[list[str], str]:
    """Expected stored header and body of Dictionary.cls, derived from the export."""
    lines = crlf(DICTIONARY_CLS).split("\r\n")
    end = lines.index("END")
    n = end + 1
    while lines[n].startswith("Attribute VB_"):
        n += 1
    exported = lines[end + 1:n]
    assert exported[0] == 'Attribute VB_Name = "Dictionary"'
    assert "Attribute VB_Exposed = True" in exported
    description = [line for line in exported if line.startswith("Attribute VB_Description")]
    assert len(description) == 1
    return class_header("Dictionary", "True") + description, "\r\n".join(lines[n:])


def parse_dir(data: bytes) -> list[tuple[int, bytes]]:
    """Split a decompressed dir stream into (Id, payload) records ([MS-OVBA] 2.3.4.2)."""
    records, i = [], 0
    while i < len(data):
        rec_id, size = struct.unpack_from("<HI", data, i)
        if rec_id == 0x0009:  # PROJECTVERSION: Reserved=4, then 4 + 2 bytes
            records.append((rec_id, data[i + 6:i + 12]))
            i += 12
            continue
        records.append((rec_id, data[i + 6:i + 6 + size]))
        i += 6 + size
    assert i == len(data)
    return records


def decrypt(hex_text: str, project_id: str) -> bytes:
    """Data Decryption ([MS-OVBA] 2.4.3.3), written from the spec for these tests."""
    enc = bytes.fromhex(hex_text)
    seed = enc[0]
    assert enc[1] ^ seed == 2  # Version
    proj_key = enc[2] ^ seed
    assert proj_key == sum(project_id.encode("ascii")) & 0xFF
    unencrypted1, encrypted1, encrypted2 = proj_key, enc[2], enc[1]
    plain = bytearray()
    for byte in enc[3:]:
        value = byte ^ ((encrypted2 + unencrypted1) & 0xFF)
        plain.append(value)
        encrypted2, encrypted1, unencrypted1 = encrypted1, byte, value
    ignored = (seed & 6) // 2
    length = struct.unpack_from("<I", plain, ignored)[0]
    data = bytes(plain[ignored + 4:])
    assert len(data) == length
    return data


def chunk_headers(container: bytes) -> list[tuple[int, int]]:
    """(flag, CompressedChunkSize) of every chunk, checking each chunk signature."""
    assert container[0] == 0x01
    headers, i = [], 1
    while i < len(container):
        header = struct.unpack_from("<H", container, i)[0]
        assert (header >> 12) & 0b111 == 0b011
        size = (header & 0x0FFF) + 3
        headers.append((header >> 15, size))
        i += size
    assert i == len(container)
    return headers


@pytest.fixture(scope="module")
def project() -> bytes:
    return build_vba_project(MODULES)


@pytest.fixture(scope="module")
def ole(project: bytes) -> olefile.OleFileIO:
    return olefile.OleFileIO(project, raise_defects=olefile.DEFECT_INCORRECT)


@pytest.fixture(scope="module")
def extracted(project: bytes) -> dict[str, tuple[str, str]]:
    parser = VBA_Parser("vbaProject.bin", data=project)
    assert parser.detect_vba_macros()
    result = {}
    for _, stream_path, vba_filename, code in parser.extract_macros():
        result[stream_path] = (vba_filename, code)
    parser.close()
    return result


# --- compression ------------------------------------------------------------

def test_compression_matches_spec_examples() -> None:
    # [MS-OVBA] 3.2.2 Normal Compression Example, byte for byte.
    text = b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
    expected = bytes.fromhex(
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C"
        " 00 20 6D 6E 6F 70 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C")
    assert compress(text) == expected
    # [MS-OVBA] 3.2.1: no repeated run, so only literal tokens.
    assert compress(b"abcdefghijklmnopqrstuv.") == (
        b"\x01\x19\xb0\x00abcdefgh\x00ijklmnop\x00qrstuv.")
    # One literal and one maximum-length copy token (offset 1, length 72 = 0x45 + 3).
    assert compress(b"a" * 73) == bytes.fromhex("0103B002614500")
    assert compress(b"") == b"\x01"


@pytest.mark.parametrize("name", ["xlwings.bas", "Dictionary.cls", "Dictionary.cls x4"])
def test_compression_of_long_sources_round_trips(name: str) -> None:
    if name == "xlwings.bas":
        data = (XLWINGS_DIR / "xlwings.bas").read_bytes()
    else:
        data = (XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes() * (4 if "x4" in name else 1)
    assert len(data) > 15_000
    container = compress(data)
    assert decompress_stream(container) == data
    headers = chunk_headers(container)
    assert len(headers) == -(-len(data) // 4096)
    assert all(flag == 1 for flag, _ in headers)  # text always compresses
    assert len(container) < len(data) * 0.6


def test_incompressible_chunks_are_raw_and_padded() -> None:
    data = random.Random(932).randbytes(4096 * 2 + 4000)
    container = compress(data)
    headers = chunk_headers(container)
    assert headers == [(0, 4098)] * 3
    out = decompress_stream(container)
    # [MS-OVBA] 2.4.1.3.10: a raw chunk always holds 4096 bytes.
    assert out[:len(data)] == data and out[len(data):] == bytes(4096 - 4000)


def _check_round_trip(data: bytes) -> None:
    container = compress(data)
    headers = chunk_headers(container)
    assert len(headers) == -(-len(data) // 4096)
    out = decompress_stream(container)
    if headers and headers[-1][0] == 0:
        assert out[:len(data)] == data
        assert out[len(data):] == bytes(len(out) - len(data))
        assert len(out) == 4096 * len(headers)
    else:
        assert out == data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=20_000))
def test_round_trip_random_bytes(data: bytes) -> None:
    _check_round_trip(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.integers(1, 400)),
                min_size=1, max_size=12),
       st.binary(max_size=50))
def test_round_trip_repetitive_data(pieces: list[tuple[bytes, int]], tail: bytes) -> None:
    data = b"".join(piece * count for piece, count in pieces) + tail
    _check_round_trip(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab \r\n日本", min_size=0, max_size=30_000))
def test_round_trip_small_alphabet_text(text: str) -> None:
    data = text.encode("cp932")
    assert decompress_stream(compress(data)) == data


# --- compound file and streams ------------------------------------------------

def test_olefile_lists_expected_streams(ole: olefile.OleFileIO) -> None:
    names = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    expected = {"PROJECT", "PROJECTwm", "VBA", "VBA/_VBA_PROJECT", "VBA/dir"}
    expected |= {f"VBA/{m.name}" for m in MODULES}
    assert names == expected
    assert ole.get_type("VBA") == olefile.STGTY_STORAGE
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")


def _check_red_black_trees(ole: olefile.OleFileIO) -> int:
    """[MS-CFB] 2.6.4: each storage's children form a red-black tree ordered by
    (name length, upper-cased name). Returns the number of storages checked."""
    entries = ole.direntries
    nostream = 0xFFFFFFFF

    def walk(sid: int) -> tuple[list[str], int]:
        """In-order names and black height of the subtree at ``sid``."""
        if sid == nostream:
            return [], 1
        node = entries[sid]
        left, left_height = walk(node.sid_left)
        right, right_height = walk(node.sid_right)
        assert left_height == right_height, f"unequal black height under {node.name}"
        if node.color == 0:  # red: both children black
            for child in (node.sid_left, node.sid_right):
                assert child == nostream or entries[child].color == 1
        return left + [node.name] + right, left_height + (node.color == 1)

    storages = 0
    for entry in entries:
        if entry is None or entry.entry_type not in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
            continue
        storages += 1
        assert entries[entry.sid_child].color == 1  # the root of a tree is black
        names, _ = walk(entry.sid_child)
        assert names == sorted(names, key=lambda n: (len(n), n.upper()))
        assert sorted(names) == sorted(kid.name for kid in entry.kids)
    return storages


def test_directory_trees_are_valid_red_black_trees(ole: olefile.OleFileIO) -> None:
    assert _check_red_black_trees(ole) == 2
    # Many modules: a directory of several sectors and trees with a partial last level.
    many = [VbaModule("ThisWorkbook", "document", "")]
    many += [VbaModule(f"Module{i}", "standard", f"' module {i}\n" * i) for i in range(1, 41)]
    data = build_vba_project(many)
    big = olefile.OleFileIO(data, raise_defects=olefile.DEFECT_INCORRECT)
    assert _check_red_black_trees(big) == 2
    assert any(e is not None and e.color == 0 for e in big.direntries)
    for i in (1, 17, 40):
        stored = decompress_stream(big.openstream(f"VBA/Module{i}").read()).decode("cp932")
        assert stored == f'Attribute VB_Name = "Module{i}"\r\n' + f"' module {i}\r\n" * i


def test_dir_stream_records(ole: olefile.OleFileIO) -> None:
    records = parse_dir(decompress_stream(ole.openstream("VBA/dir").read()))
    values = dict(records[:5])
    assert struct.unpack("<I", values[0x0001]) == (1,)          # SYSKIND win32
    assert struct.unpack("<I", values[0x0002]) == (0x0409,)     # LCID
    assert struct.unpack("<I", values[0x0014]) == (0x0409,)     # LCIDINVOKE
    assert struct.unpack("<H", values[0x0003]) == (932,)        # PROJECTCODEPAGE
    assert values[0x0004] == b"VBAProject"
    ids = [rec_id for rec_id, _ in records]
    assert ids[:16] == [0x01, 0x02, 0x14, 0x03, 0x04, 0x05, 0x40, 0x06, 0x3D, 0x07,
                        0x08, 0x09, 0x0C, 0x3C, 0x16, 0x3E]
    assert [p for i, p in records if i == 0x0016] == [b"stdole", b"Office"]
    libids = [p[4:4 + struct.unpack_from("<I", p)[0]] for i, p in records if i == 0x000D]
    assert libids[0].startswith(b"*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#")
    assert libids[1].startswith(b"*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#")
    assert struct.unpack("<H", dict(records)[0x000F]) == (len(MODULES),)
    assert ids[-1] == 0x0010
    # One MODULE group per module, in order.
    start = ids.index(0x0013) + 1
    groups, group = [], []
    for rec_id, payload in records[start:-1]:
        group.append((rec_id, payload))
        if rec_id == 0x002B:
            groups.append(dict(group))
            group = []
    assert len(groups) == len(MODULES)
    for module, fields in zip(MODULES, groups):
        assert fields[0x0019] == module.name.encode()
        assert fields[0x0047] == module.name.encode("utf-16-le")
        assert fields[0x001A] == module.name.encode()
        assert fields[0x0032] == module.name.encode("utf-16-le")
        assert fields[0x0031] == bytes(4)                        # MODULEOFFSET 0
        assert fields[0x002C] == b"\xff\xff"                     # MODULECOOKIE
        assert (0x0021 in fields) == (module.kind == "standard")
        assert (0x0022 in fields) == (module.kind != "standard")


def test_project_stream(ole: olefile.OleFileIO) -> None:
    lines = ole.openstream("PROJECT").read().decode("cp932").split("\r\n")
    project_id = lines[0][4:-1]
    assert lines[0] == f'ID="{project_id}"' and len(project_id) == 38
    assert lines[1:8] == ["Document=ThisWorkbook/&H00000000", "Document=Sheet1/&H00000000",
                          "Document=Sheet2/&H00000000", "Module=KofuUdfs", "Module=xlwings",
                          "Class=Dictionary", "Class=Counter"]
    assert lines[8:11] == ['Name="VBAProject"', 'HelpContextID="0"',
                           'VersionCompatible32="393222000"']
    fields = dict(line.split("=", 1) for line in lines[11:14])
    assert decrypt(fields["CMG"].strip('"'), project_id) == bytes(4)   # not protected
    assert decrypt(fields["DPB"].strip('"'), project_id) == b"\x00"    # no password
    assert decrypt(fields["GC"].strip('"'), project_id) == b"\xff"     # visible
    assert lines[14:18] == ["", "[Host Extender Info]",
                            "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000", ""]
    assert lines[18] == "[Workspace]"
    assert lines[19:] == [f"{m.name}=0, 0, 0, 0, C" for m in MODULES] + [""]
    wm = ole.openstream("PROJECTwm").read()
    expected = b"".join(m.name.encode() + b"\0" + m.name.encode("utf-16-le") + b"\0\0"
                        for m in MODULES) + b"\0\0"
    assert wm == expected


def test_decrypt_helper_reads_excel_written_values() -> None:
    """The test decoder itself is checked on the PROJECT stream Excel wrote for xlwings."""
    with zipfile.ZipFile(XLWINGS_DIR / "quickstart_standalone.xlsm") as book:
        template = olefile.OleFileIO(book.read("xl/vbaProject.bin"))
    text = template.openstream("PROJECT").read().decode("cp1252").split("\r\n")
    fields = dict(line.split("=", 1) for line in text if "=" in line and not line.startswith("&"))
    project_id = fields["ID"].strip('"')
    assert decrypt(fields["CMG"].strip('"'), project_id) == bytes(4)
    assert decrypt(fields["DPB"].strip('"'), project_id) == b"\x00"
    assert decrypt(fields["GC"].strip('"'), project_id) == b"\xff"


# --- module sources through olevba -------------------------------------------

def test_olevba_extracts_every_module(extracted: dict[str, tuple[str, str]]) -> None:
    assert sorted(extracted) == sorted(f"VBA/{m.name}" for m in MODULES)
    for module in MODULES:
        filename, _ = extracted[f"VBA/{module.name}"]
        suffix = ".bas" if module.kind == "standard" else ".cls"
        assert filename == module.name + suffix


def test_document_modules(extracted: dict[str, tuple[str, str]]) -> None:
    for name, base, body in [("ThisWorkbook", WORKBOOK_BASE, THIS_WORKBOOK),
                             ("Sheet1", WORKSHEET_BASE, SHEET1), ("Sheet2", WORKSHEET_BASE, "")]:
        header, stored = split_header(extracted[f"VBA/{name}"][1])
        assert header == document_header(name, base)
        assert stored == crlf(body)
    assert "表示" in extracted["VBA/Sheet1"][1]


def test_standard_modules_and_japanese(extracted: dict[str, tuple[str, str]]) -> None:
    header, body = split_header(extracted["VBA/KofuUdfs"][1])
    assert header == ['Attribute VB_Name = "KofuUdfs"']
    assert body == crlf(KOFU_UDFS)
    assert '"マイナンバーカード交付率"' in body and "（コメントは日本語）" in body
    header, body = split_header(extracted["VBA/xlwings"][1])
    assert header == ['Attribute VB_Name = "xlwings"']   # taken from the .bas, not doubled
    assert crlf(XLWINGS_BAS) == header[0] + "\r\n" + body
    assert len(body) > 45_000


def test_class_modules(extracted: dict[str, tuple[str, str]]) -> None:
    header, body = split_header(extracted["VBA/Dictionary"][1])
    expected_header, expected_body = dictionary_parts()
    assert header == expected_header
    assert body == expected_body
    assert "VERSION 1.0 CLASS" not in body and "MultiUse" not in body
    header, body = split_header(extracted["VBA/Counter"][1])
    assert header == class_header("Counter")
    assert body == crlf(COUNTER)


def test_class_header_matches_what_excel_stored() -> None:
    """xlwings' template holds Dictionary as Excel saved it: our header must equal it."""
    with zipfile.ZipFile(XLWINGS_DIR / "quickstart_standalone.xlsm") as book:
        template = olefile.OleFileIO(book.read("xl/vbaProject.bin"))
    records = parse_dir(decompress_stream(template.openstream("VBA/dir").read()))
    at = records.index((0x0019, b"Dictionary"))  # MODULENAME, then its MODULEOFFSET
    offset = struct.unpack("<I", next(p for r, p in records[at:] if r == 0x0031))[0]
    assert offset > 0  # Excel wrote a compiled cache before the source
    raw = template.openstream("VBA/Dictionary").read()[offset:]
    excel_header, _ = split_header(decompress_stream(raw).decode("cp1252"))
    ours = build_vba_project([VbaModule("Dictionary", "class", DICTIONARY_CLS)])
    stored = decompress_stream(olefile.OleFileIO(ours).openstream("VBA/Dictionary").read())
    assert split_header(stored.decode("cp932"))[0] == excel_header


# --- determinism and errors ---------------------------------------------------

def test_builds_are_byte_identical(project: bytes) -> None:
    assert build_vba_project(list(MODULES)) == project
    assert len(project) % 512 == 0
    assert build_vba_project(MODULES[:-1]) != project


def test_unencodable_character_names_the_module() -> None:
    for char in ("—", "€", "〜", "−"):
        bad = VbaModule("KofuUdfs", "standard", f'Sub A()\n    MsgBox "x{char}y"\nEnd Sub\n')
        with pytest.raises(ValueError) as excinfo:
            build_vba_project([MODULES[0], bad])
        message = str(excinfo.value)
        assert "KofuUdfs" in message and f"U+{ord(char):04X}" in message and "932" in message
        assert "line 3" in message  # counted in the stored text, after the VB_Name line
    # 〜 (U+301C) encodes, but as the byte pair that reads back as ～ (U+FF5E): refused.
    with pytest.raises(ValueError, match="read back as '～'"):
        build_vba_project([VbaModule("Foo", "standard", "' 〜\n")])
    # The full-width tilde itself is fine.
    build_vba_project([VbaModule("Foo", "standard", "' ～\n")])


@pytest.mark.parametrize("module, fragment", [
    (VbaModule("Foo", "standard", 'Attribute VB_Name = "Bar"\n'), "VB_Name"),
    (VbaModule("Foo", "standard", "VERSION 1.0 CLASS\nBEGIN\nEND\n"), "class"),
    (VbaModule("Foo", "standard", 'Attribute VB_Base = "0{x}"\n'), "not valid"),
    (VbaModule("Sheet1", "document", "Attribute VB_PredeclaredId = False\n"), "conflicts"),
    (VbaModule("Foo", "class", "VERSION 1.0 CLASS\nBEGIN\n  MultiUse = -1\n"), "END"),
    (VbaModule("1abc", "standard", ""), "identifier"),
    (VbaModule("Ｍｏｄ", "standard", ""), "identifier"),
    (VbaModule("Foo", "form", ""), "kind"),  # type: ignore[arg-type]
])
def test_invalid_modules_are_rejected(module: VbaModule, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        build_vba_project([module])


def test_duplicate_names_and_code_page() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_vba_project([VbaModule("Foo", "standard", ""), VbaModule("FOO", "class", "")])
    with pytest.raises(ValueError, match="code page"):
        build_vba_project([], codepage=99999)
    western = build_vba_project([VbaModule("Foo", "standard", "' café\n")], codepage=1252)
    parser = VBA_Parser("vbaProject.bin", data=western)
    (_, _, _, code), = parser.extract_macros()
    assert "' café" in code


# --- LibreOffice --------------------------------------------------------------

def _xlsm(vba_project: bytes) -> bytes:
    """A minimal macro-enabled workbook around ``vba_project``, built with openpyxl."""
    import openpyxl

    book = openpyxl.Workbook()
    book.code_name = "ThisWorkbook"
    sheet = book.active
    sheet.title, sheet["A1"] = "Sheet1", "交付"
    sheet.sheet_properties.codeName = "Sheet1"
    book.create_sheet("Sheet2").sheet_properties.codeName = "Sheet2"
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                text = data.decode().replace(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                assert "macroEnabled" in text
                data = text.replace("</Types>", '<Override PartName="/xl/vbaProject.bin" '
                                    'ContentType="application/vnd.ms-office.vbaProject"/></Types>').encode()
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.decode().replace("</Relationships>", (
                    '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
                    'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')).encode()
            dst.writestr(item, data)
        dst.writestr("xl/vbaProject.bin", vba_project)
    return out.getvalue()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_imports_every_module(project: bytes, tmp_path: Path) -> None:
    source = tmp_path / "book.xlsm"
    source.write_bytes(_xlsm(project))
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "ods", "--outdir", str(tmp_path / "out"), str(source)],
        check=True, capture_output=True, timeout=180)
    with zipfile.ZipFile(tmp_path / "out" / "book.ods") as ods:
        basic = {name.rsplit("/", 1)[1][:-4]: ods.read(name).decode("utf-8")
                 for name in ods.namelist()
                 if name.startswith("Basic/VBAProject/") and not name.endswith("script-lb.xml")}
    assert sorted(basic) == sorted(m.name for m in MODULES)
    kinds = {"document": "VBADocumentModule", "standard": "VBAModule", "class": "VBAClassModule"}
    for module in MODULES:
        assert f"Rem Attribute VBA_ModuleType={kinds[module.kind]}" in basic[module.name]
    assert "マイナンバーカード交付率" in basic["KofuUdfs"]
    assert "Function GetConfig" in basic["xlwings"]
    assert "Public Property Get Count" in basic["Dictionary"]
