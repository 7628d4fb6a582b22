"""Tests for the MS-OVBA reader: decompression against the spec's examples, our own
compressor and oletools' decompressor; dir parsing against a real Excel-saved project
(xlwings' quickstart_standalone.xlsm, whose module streams start with p-code)."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
import xlwings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

from kofu_xl.errors import OvbaError
from kofu_xl.ooxml.vba.ovba import VbaModule, build_vba_project, compress
from kofu_xl.ooxml.vba.ovba_read import decompress, parse_dir, read_module_sources

XLWINGS_DIR = Path(os.path.dirname(xlwings.__file__))
XLWINGS_BAS = (XLWINGS_DIR / "xlwings.bas").read_bytes()
DICTIONARY_CLS = (XLWINGS_DIR / "addin" / "Dictionary.cls").read_bytes()
EXCEL_SAVED = XLWINGS_DIR / "quickstart_standalone.xlsm"  # saved by Excel: p-code before the source
JAPANESE = "' 交付円滑化計画の集計（全角括弧と①）\r\nPublic Const T As String = \"人口に対する交付枚数率\"\r\n".encode("cp932")


def oletools_decompress(data: bytes) -> bytes:
    return bytes(decompress_stream(bytearray(data)))


# --- decompress ----------------------------------------------------------------------

def test_spec_examples() -> None:
    """[MS-OVBA] 3.2.1 (no compression possible) and 3.2.2 (normal compression)."""
    plain = bytes.fromhex("0119B000616263646566676800696A6B6C6D6E6F70007172737475762E")
    assert decompress(plain) == b"abcdefghijklmnopqrstuv."
    assert compress(b"abcdefghijklmnopqrstuv.") == plain
    normal = bytes.fromhex(
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00 30"
        " 6D 6E 6F 70 06 71 02 70 04 10 72 73 74 75 76 10 77 78 79 7A 00 3C"
    )
    assert decompress(normal) == b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"


@pytest.mark.parametrize("text", [XLWINGS_BAS, DICTIONARY_CLS, JAPANESE, b"", b"a" * 10000, JAPANESE * 300],
                         ids=["xlwings.bas", "Dictionary.cls", "cp932", "empty", "run", "cp932-long"])
def test_round_trip_real_text(text: bytes) -> None:
    packed = compress(text)
    assert decompress(packed) == text
    assert oletools_decompress(packed) == text


def test_raw_chunks_round_trip() -> None:
    """Incompressible data is stored in raw 4096-byte chunks (the last one padded)."""
    rng = random.Random(20191003)
    data = bytes(rng.randrange(256) for _ in range(3 * 4096 + 100))
    packed = compress(data)
    assert struct.unpack_from("<H", packed, 1)[0] & 0x8000 == 0  # first chunk is raw
    out = decompress(packed)
    assert out[: len(data)] == data and set(out[len(data):]) <= {0}
    assert oletools_decompress(packed) == out


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=9000) | st.text(alphabet="ab 交付\r\n", max_size=6000).map(lambda t: t.encode("cp932")))
def test_round_trip_property(data: bytes) -> None:
    packed = compress(data)
    out = decompress(packed)
    assert out[: len(data)] == data
    assert out == oletools_decompress(packed)


def test_rejects_malformed_and_oversized() -> None:
    with pytest.raises(OvbaError, match="signature byte"):
        decompress(b"\x00\x01\x02")
    with pytest.raises(OvbaError, match="chunk signature"):
        decompress(b"\x01\xff\xff")
    # a copy token as the first token points before the chunk
    with pytest.raises(OvbaError, match="before its chunk"):
        decompress(b"\x01" + struct.pack("<H", 0xB000 | (5 - 3)) + b"\x01\x00\x00")
    with pytest.raises(OvbaError, match="exceeds"):
        decompress(compress(b"a" * 20000), max_size=10000)


# --- dir stream and module sources ------------------------------------------------------

def vba_of(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/vbaProject.bin")


def test_excel_saved_project_offsets_and_sources() -> None:
    vba = vba_of(EXCEL_SAVED)
    with olefile.OleFileIO(io.BytesIO(vba)) as ole:
        info = parse_dir(decompress(ole.openstream("VBA/dir").read()))
    offsets = {m.name: m.offset for m in info.modules}
    assert offsets["Module1"] > 0 and offsets["Dictionary"] > 0  # compiled p-code first
    assert {m.name: m.kind for m in info.modules}["Module1"] == "standard"
    sources = read_module_sources(vba)
    expected = {name.rsplit(".", 1)[0]: code for _f, _s, name, code in VBA_Parser(str(EXCEL_SAVED)).extract_macros()}
    assert sources == expected
    assert 'XLWINGS_VERSION As String = "' + xlwings.__version__ + '"' in sources["xlwings"]


def test_our_project_in_cp932() -> None:
    modules = [VbaModule("ThisWorkbook", "document", ""), VbaModule("Kofu", "standard", JAPANESE.decode("cp932"))]
    vba = build_vba_project(modules, project_name="KofuXl")
    with olefile.OleFileIO(io.BytesIO(vba)) as ole:
        info = parse_dir(decompress(ole.openstream("VBA/dir").read()))
    assert info.codepage == 932 and info.name == "KofuXl"
    assert [(m.name, m.offset, m.kind) for m in info.modules] == [("ThisWorkbook", 0, "other"), ("Kofu", 0, "standard")]
    sources = read_module_sources(vba, {"Kofu"})
    assert list(sources) == ["Kofu"]
    assert sources["Kofu"] == 'Attribute VB_Name = "Kofu"\r\n' + JAPANESE.decode("cp932")


def test_not_a_project() -> None:
    with pytest.raises(OvbaError, match="compound file"):
        read_module_sources(b"PK\x03\x04 not ole")
