"""Reading a workbook is one pass over its zip: the file is read once, each part inflated
once (the guard keeps the sheets' XML for the error and formula scan), python-calamine reads
the same bytes; the reader walks the layout's positions as numbers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import python_calamine

from kofu_xl.book import read as book_read
from kofu_xl.book.layout import layout_for
from kofu_xl.book.read import PLAN_SHEETS, GridSource, read_workbook
from kofu_xl.core.model import Parameters
from kofu_xl.ooxml.cellref import parse_ref
from kofu_xl.ooxml.formulas import formula_texts

SHIPPED = Path(__file__).resolve().parents[2] / "workbook" / "交付円滑化計画.xlsm"


def test_the_file_is_read_once_and_no_part_is_inflated_twice(monkeypatch):
    reads: list[str] = []
    real_open = Path.open

    def counting_open(self, *args, **kwargs):
        reads.append(str(self))
        return real_open(self, *args, **kwargs)

    def refuse(*_args, **_kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(Path, "open", counting_open)
    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)  # every part once, by the guard
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)  # the guard's bytes
    src = GridSource.from_path(SHIPPED, sheets=PLAN_SHEETS)
    monkeypatch.undo()
    assert reads == [str(SHIPPED)]
    assert src.data == SHIPPED.read_bytes()
    assert set(src.grids) == set(PLAN_SHEETS)


def test_the_kept_sheets_give_the_formulas_of_each_part_read_on_its_own():
    src = GridSource.from_path(SHIPPED)
    with zipfile.ZipFile(SHIPPED) as z:
        parts = book_read._sheet_parts(z.read("xl/workbook.xml"), z.read("xl/_rels/workbook.xml.rels"))
        expected = {sheet: formula_texts(z.read(part)) for sheet, part in parts.items()}
    assert src.formulas == expected
    assert sum(len(f) for f in expected.values()) > 1000  # the shipped book is full of formulas


@pytest.mark.parametrize("params", [None, Parameters(first_month="2019-04", last_month="2021-03", fiscal_years=[2021, 2022], actual_through="2019-06")])
def test_the_positions_as_numbers_are_the_layouts_cells(params):
    lay = layout_for(params)
    assert lay.daily_blocks
    for month, block in lay.daily_blocks.items():
        inside, outside = block.count_positions()
        assert [(d, parse_ref(c)) for d, _dc, c in block.cells()] == [(d, (r, col)) for d, r, col in inside]
        grid = [(d, c) for d, _dc, c in block.grid() if f"{d.year}-{d.month:02d}" != month]
        assert grid == [(d, c) for d, c, _r, _col in outside]
        assert all(parse_ref(c) == (r, col) for _d, c, r, col in outside)
        assert [(i, c) for i, c, _r, _col in block.total_positions()] == block.total_cells()
        assert all(parse_ref(c) == (r, col) for _i, c, r, col in block.total_positions())


def test_a_sheet_without_formulas_is_not_scanned_for_them(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(book_read, "formula_texts", lambda data: calls.append(len(data)) or {})
    errors, formulas = book_read._sheet_cells({"a": b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>',
                                               "b": b'<worksheet><sheetData><row r="1"><c r="A1"><f>B1+1</f><v>1</v></c></row></sheetData></worksheet>'})
    assert len(calls) == 1 and formulas["a"] == {} and errors == {}


def test_reading_the_shipped_workbook_gives_its_plan():
    raw, lay = read_workbook(SHIPPED)
    assert raw["basic"]["dantai_code"] in ("122327", 122327)
    assert raw["daily"]["days"] and lay.daily_blocks
