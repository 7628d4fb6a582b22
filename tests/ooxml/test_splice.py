"""rewrite_cells: the package openpyxl saves with other values, without openpyxl.

Each case saves a workbook with openpyxl twice, once with the old values and once with the
new; rewriting the first's cells to the new values must give the second's bytes (both put at
one moment: openpyxl stamps a save with its time).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import time
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.styles import Font

from kofu_xl.ooxml.splice import rewrite_cells

MOMENT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def at_moment(package: bytes, moment: float) -> bytes:
    """``package`` as openpyxl would have saved it at ``moment``: every zip entry dated then
    (local time), the core properties' modification time then (UTC); nothing else changed."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)).encode()
    src = zipfile.ZipFile(io.BytesIO(package))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data, n = re.subn(rb"(<dcterms:modified[^>]*>)[^<]*", lambda m: m[1] + stamp, data)
                assert n == 1
            entry = zipfile.ZipInfo(info.filename, date_time=time.localtime(moment)[:6])
            entry.compress_type, entry.external_attr, entry.create_system = info.compress_type, info.external_attr, info.create_system
            out.writestr(entry, data)
    return buffer.getvalue()


VALUES = [
    None,
    "",
    "plain",
    "市民課",
    "𠮷 beyond the BMP",
    " leading space",
    "trailing space ",
    "   ",
    "a\nb",
    "a\tb",
    "cr\r\nlf",
    "& < > \" '",
    "]]> &amp;",
    "x" * 32_767,
    0,
    -1,
    123456789012345678,
    1.5,
    0.1,
    1e-20,
    1e300,
    -0.0,
    Decimal("2.25"),
    dt.date(2019, 8, 31),
    dt.date(1900, 3, 1),
]


def _book(values: dict[str, object], title: str = "題名") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "シート & <1>"
    other = wb.create_sheet("二")
    bold = Font(bold=True)
    for i, value in enumerate(values.values(), start=1):
        cell = ws.cell(row=i, column=2)
        cell.font = bold
        cell.number_format = "yyyy/m/d"  # a date format: a date put in keeps the cell's look
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # as the builder's put: a text is never a formula
    ws["A1"] = "fixed"
    other["C3"] = 7
    wb.properties.title = title
    wb.properties.created = dt.datetime(2019, 10, 3)  # (now by default: two books a second apart would differ)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_book_is_dated_only_by_its_save():
    """The cases compare two books saved apart: what at_moment leaves must not depend on when."""
    first = _book({"B1": 1})
    time.sleep(1.05)
    assert at_moment(_book({"B1": 1}), MOMENT) == at_moment(first, MOMENT)


def _keys(n: int) -> list[str]:
    return [f"B{i}" for i in range(1, n + 1)]


def _case(new_values: list[object], old_value: object = "old") -> tuple[bytes, bytes, dict[str, object]]:
    keys = _keys(len(new_values))
    old = _book(dict.fromkeys(keys, old_value))
    new_map = dict(zip(keys, new_values, strict=True))
    return old, _book(new_map, title="別の & <題名>"), new_map


@pytest.mark.parametrize("old_value", ["old", 5, None])
def test_rewritten_cells_are_what_openpyxl_saves(old_value):
    old, expected, new = _case(VALUES, old_value)
    got = rewrite_cells(old, {"シート & <1>": new}, title="別の & <題名>", moment=MOMENT)
    assert got == at_moment(expected, MOMENT)


def test_nothing_to_rewrite_is_the_same_package_at_another_moment():
    old = _book({"B1": 1})
    assert rewrite_cells(old, {}, moment=MOMENT) == at_moment(old, MOMENT)
    assert rewrite_cells(old, {"二": {}}, moment=MOMENT) == at_moment(old, MOMENT)


def test_one_wrong_cell_is_seen():
    old, expected, new = _case([1, 2, 3])
    got = rewrite_cells(old, {"シート & <1>": {**new, "B2": 2.5}}, title="別の & <題名>", moment=MOMENT)
    assert got != at_moment(expected, MOMENT)


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"シート & <1>": {"B1": True}}, "bool"),
        ({"シート & <1>": {"B1": math.nan}}, "finite"),
        ({"シート & <1>": {"B1": math.inf}}, "finite"),
        ({"シート & <1>": {"B1": "bell\x07"}}, "text"),
        ({"シート & <1>": {"B1": "lone \ud800"}}, "text"),
        ({"シート & <1>": {"B1": "x" * 32_768}}, "text"),
        ({"シート & <1>": {"B1": dt.datetime(2019, 1, 1, 12)}}, "datetime"),
        ({"シート & <1>": {"B1": dt.date(1900, 2, 1)}}, "1900"),
        ({"シート & <1>": {"Z99": 1}}, "not in the part"),
        ({"no such sheet": {"B1": 1}}, "no sheet"),
    ],
)
def test_what_is_not_rewritten_is_refused(values, why):
    old = _book({"B1": 1})
    with pytest.raises(ValueError, match=why):
        rewrite_cells(old, values, moment=MOMENT)


def test_a_formula_cell_is_refused():
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ValueError, match="formula"):
        rewrite_cells(buf.getvalue(), {"Sheet": {"A1": 2}}, moment=MOMENT)


@pytest.mark.parametrize(
    ("old_title", "new_title"),
    [
        ("題名", " 前に空白"),
        ("題名", "後ろに空白 "),
        ("題名", "\tタブ"),
        ("題名", "全角空白\u3000"),
        ("題名", "   "),  # white space only: openpyxl marks no xml:space
        ("題名", "改\n行"),
        (" 前に空白", "題名"),
        (" 前に空白", "後ろ "),
    ],
)
def test_the_title_is_what_openpyxl_saves(old_title, new_title):
    """openpyxl marks a title with white space at either end xml:space="preserve"."""
    old = _book({"B1": 1}, title=old_title)
    expected = _book({"B1": 1}, title=new_title)
    assert rewrite_cells(old, {}, title=new_title, moment=MOMENT) == at_moment(expected, MOMENT)
