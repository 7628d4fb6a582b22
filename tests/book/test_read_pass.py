"""Reading a workbook is one pass over its zip: the file is read once, each part inflated
once (the guard keeps the sheets' XML for the error and formula scan), python-calamine reads
the same bytes; the reader walks the layout's positions as numbers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import python_calamine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    from kofu_xl.ooxml import formulas as formulas_mod

    scanned: list[int] = []

    class Counting:
        def __init__(self, real):
            self.real = real

        def finditer(self, data: bytes):
            scanned.append(len(data))
            return self.real.finditer(data)

        def findall(self, data: bytes):
            scanned.append(len(data))
            return self.real.findall(data)

    # (a part without ":f" is scanned by the latter two, or read in one pass, which asks no
    # pattern of a part the build writes: its calls are counted; the general scan's two are
    # compiled at first use: called for the pattern)
    for pattern in ("_FORMULA", "_UNPREFIXED_FORMULA"):
        counting = Counting(getattr(formulas_mod, pattern)())
        monkeypatch.setattr(formulas_mod, pattern, lambda counting=counting: counting)
    one_pass = formulas_mod._plain_formula_texts
    monkeypatch.setattr(formulas_mod, "_plain_formula_texts", lambda data: scanned.append(len(data)) or one_pass(data))
    errors, formulas = book_read._sheet_cells({"a": b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>',
                                               "b": b'<worksheet><sheetData><row r="1"><c r="A1"><f>B1+1</f><v>1</v></c></row></sheetData></worksheet>'})
    assert len(scanned) == 1 and formulas == {"a": {}, "b": {"A1": "B1+1"}} and errors == {}


def test_reading_the_shipped_workbook_gives_its_plan():
    raw, lay = read_workbook(SHIPPED)
    assert raw["basic"]["dantai_code"] in ("122327", 122327)
    assert raw["daily"]["days"] and lay.daily_blocks


def test_a_values_only_copy_is_read_without_its_formula_only_sheets(tmp_path):
    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.layout import FOLLOWUP
    from kofu_xl.book.read import FORMULA_ONLY_SHEETS
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.model import load_plan

    package = tmp_path / "package.xlsx"
    package.write_bytes(build_sheets(load_plan(shipped_plan_raw())[0], values_only=True).xlsx)
    assert FOLLOWUP in FORMULA_ONLY_SHEETS
    values = GridSource.from_path(package, sheets=PLAN_SHEETS, with_formulas=FORMULA_ONLY_SHEETS)
    assert set(values.grids) == set(PLAN_SHEETS) - {FOLLOWUP} and values.formulas == {}
    book = GridSource.from_path(SHIPPED, sheets=PLAN_SHEETS, with_formulas=FORMULA_ONLY_SHEETS)
    assert set(book.grids) == set(PLAN_SHEETS) and book.formulas[FOLLOWUP]  # its computed cells are compared


def test_xml_parts_found_safe_are_not_parsed_again_and_changed_bytes_are(monkeypatch, tmp_path):
    parsed: list[int] = []
    real, real_plain = book_read._xml_parser, book_read._plainly_safe

    def counting():
        parser = real()
        parsed.append(1)
        return parser

    def counting_plain(xml):
        parsed.append(1)
        return real_plain(xml)

    monkeypatch.setattr(book_read, "_xml_parser", counting)
    monkeypatch.setattr(book_read, "_plainly_safe", counting_plain)  # parses a small part as well
    book_read._SAFE_XML.clear()
    GridSource.from_path(SHIPPED)
    first = len(parsed)
    parsed.clear()
    GridSource.from_path(SHIPPED)
    with zipfile.ZipFile(SHIPPED) as z:
        large = sum(1 for i in z.infolist() if i.filename.endswith((".xml", ".rels", ".vml")) and i.file_size > book_read._SAFE_PART_BYTES)
    assert first > 10 and len(parsed) == large  # the second time only the parts too large to remember
    # the same workbook with one part broken: that part is parsed, and refused
    broken = tmp_path / "broken.xlsm"
    with zipfile.ZipFile(SHIPPED) as src, zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data.replace(b"</sheets>", b"<sheets>") if info.filename == "xl/workbook.xml" else data)
    with pytest.raises(book_read.UnreadableInput, match="workbook.xml の XML が壊れています"):
        GridSource.from_path(broken)


def test_a_row_at_once_is_the_row_cell_by_cell():
    src = GridSource({"s": [["a", "", 3], [], [None, 0.5]]})
    for row in range(1, 6):
        for first in (1, 2, 4):
            for count in (0, 1, 3, 6):
                assert src.row_values("s", row, first, count) == [src.value("s", row, c) for c in range(first, first + count)]
    assert src.row_values("missing", 1, 1, 2) == [None, None]


def test_a_settled_row_at_once_is_the_settled_row_cell_by_cell():
    """The settling round reads rows at once too: the overridden cells (None = empty) read as
    given, in a row read whole as cell by cell."""
    grid = GridSource({"s": [["a", "", 3, 4], [], [None, 0.5]], "t": [[1, 2]]})
    settled = book_read._Settled(grid, {("s", "B1"): 7, ("s", "C1"): None, ("s", "E2"): 1, ("t", "A1"): None})
    for sheet in ("s", "t"):
        for row in range(1, 5):
            for first in (1, 2, 4):
                for count in (0, 1, 3, 6):
                    assert settled.row_values(sheet, row, first, count) == [settled.value(sheet, row, c) for c in range(first, first + count)]
    assert [settled.value("s", 1, c) for c in (1, 2, 3, 4)] == ["a", 7, None, 4]
    assert settled.value("t", 1, 1) is None and settled.value("s", 2, 5) == 1


def test_workbooks_with_the_same_headers_share_one_layout_and_other_headers_are_read():
    from kofu_xl.book.read import workbook_layout

    a = workbook_layout(GridSource.from_path(SHIPPED))
    b = workbook_layout(GridSource.from_path(SHIPPED))
    assert a is b
    grids = {name: [list(r) for r in rows] for name, rows in GridSource.from_path(SHIPPED).grids.items()}
    grids["本表1-1"][5][5] = "令和9年13月"  # F6: a header no calendar has
    with pytest.raises(book_read.UnreadableInput, match="F6 の列見出し"):
        workbook_layout(GridSource(grids))


def _overwritten_copy(tmp_path: Path) -> Path:
    """The shipped workbook with computed cells typed over: a total (a prefill) and a rate."""
    import openpyxl

    wb = openpyxl.load_workbook(SHIPPED, keep_vba=True)
    lay = read_workbook(SHIPPED)[1]
    ws = wb["本表1-1"]
    ws[lay.series_cell("staff.total", lay.columns[3])[1]] = 99
    ws[lay.series_cell("calc.rate", lay.columns[2])[1]] = 0.5
    out = tmp_path / "overwritten.xlsm"
    wb.save(out)
    return out


@pytest.mark.parametrize("which", ["shipped", "overwritten"])
def test_the_plan_the_reading_loaded_is_the_plan_of_what_it_read(which, tmp_path):
    """check takes the plan the reader loaded as it settled the formulas instead of loading
    the same raw data again: it is what load_plan gives for that raw data, and check_plan's
    answer is the same either way."""
    from kofu_xl.core.daily import SHEET_FACTS_KEY
    from kofu_xl.core.model import load_plan
    from kofu_xl.core.rules import FORMULA_FACTS_KEY, check_plan

    path = SHIPPED if which == "shipped" else _overwritten_copy(tmp_path)
    raw, _lay, loaded = book_read.read_workbook_plan(path)
    assert loaded is not None
    again = load_plan({k: v for k, v in raw.items() if k not in (SHEET_FACTS_KEY, FORMULA_FACTS_KEY)})
    assert loaded[0] == again[0] and loaded[1] == again[1]
    assert check_plan(raw, loaded=loaded) == check_plan(raw)
    if which == "overwritten":
        assert raw[FORMULA_FACTS_KEY]


# ---------------------------------------------------------------- settling with the stored formulas

_SHIPPED_SRC: list[GridSource] = []


def _shipped_src() -> GridSource:
    if not _SHIPPED_SRC:
        _SHIPPED_SRC.append(GridSource.from_path(SHIPPED, sheets=PLAN_SHEETS, with_formulas=book_read.FORMULA_ONLY_SHEETS))
    return _SHIPPED_SRC[0]


def _settled_both_ways(src: GridSource):
    """(_settle with the stored formulas, _settle building them with computed_cells)."""
    from unittest import mock

    lay = book_read.workbook_layout(src)
    raw = book_read._read_raw(src, lay)
    fast = book_read._settle(src, lay, dict(raw))
    with mock.patch.object(book_read, "stored_formulas", lambda *_args: None):
        full = book_read._settle(src, lay, dict(raw))
    return fast, full


_TYPED = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**6), st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(["", "x", "#REF!", "１２"]))


def _put(grids, sheet, row, col, value):
    line = grids[sheet][row - 1]
    line.extend([""] * (col - len(line)))
    line[col - 1] = "" if value is None else value


def _edit(data, grids, formulas, lay, computed, computed_edits, input_edits):
    """Edits of a copy of the shipped workbook's grids and formulas, drawn from ``data``: up to
    ``computed_edits`` of the computed cells typed over, their formulas changed, respelled as
    another writer spells them or deleted, and up to ``input_edits`` inputs (the parts of the
    prefilled totals, costs) retyped."""
    for sheet, cell in data.draw(st.lists(st.sampled_from(computed), max_size=computed_edits)):
        how = data.draw(st.sampled_from(["typed", "changed", "respelled", "deleted"]))
        row, col = parse_ref(cell)
        if how in ("typed", "deleted"):
            formulas[sheet].pop(cell, None)
        if how == "typed":
            _put(grids, sheet, row, col, data.draw(_TYPED))
        elif how == "changed":
            formulas[sheet][cell] = "1+1"
        elif how == "respelled" and cell in formulas[sheet]:
            formulas[sheet][cell] = " =" + formulas[sheet][cell]
    inputs = [lay.series_cell(p, lay.columns[i]) for p in ("windows.honcho", "staff.honcho_regular", "terminals.honcho_issuing", "issuance") for i in range(0, 22, 3)]
    inputs += [lay.cost_cell(p, y) for p in ("costs.personnel_other", "costs.reservation", "costs.tablet.count") for y in lay.cost_years]
    for sheet, cell in data.draw(st.lists(st.sampled_from(inputs), max_size=input_edits)):
        row, col = parse_ref(cell)
        _put(grids, sheet, row, col, data.draw(_TYPED))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_settling_with_the_stored_formulas_is_settling_with_the_built_ones(data):
    """The shipped workbook with computed cells typed over, their formulas changed, respelled
    as another writer spells them or deleted, and inputs (the parts of the prefilled totals,
    costs, daily counts) retyped: the settled raw data, its facts and the loaded plan are the
    same whether the formulas come from the stored file or are built."""
    from kofu_xl.book.computed import computed_cells, computed_inputs
    from kofu_xl.core.schedule import default_schedule

    base = _shipped_src()
    grids = {name: [list(r) for r in rows] for name, rows in base.grids.items()}
    formulas = {name: dict(cells) for name, cells in base.formulas.items()}
    src = GridSource(grids, formulas)
    lay = book_read.workbook_layout(src)
    comp = list(computed_cells(computed_inputs(book_read._loaded(book_read._read_raw(src, lay))[0]), lay, default_schedule()))
    _edit(data, grids, formulas, lay, comp, computed_edits=12, input_edits=8)
    fast, full = _settled_both_ways(src)
    assert fast[0] == full[0]
    assert fast[1][0] == full[1][0] and fast[1][1] == full[1][1]


def test_the_shipped_workbook_settles_with_the_stored_formulas(monkeypatch):
    """The shipped workbook's shape is the stored one: settling it builds no formula."""
    fast, full = _settled_both_ways(_shipped_src())
    assert fast[0] == full[0]
    monkeypatch.setattr(book_read, "computed_cells", None)
    book_read.read_plan(_shipped_src())


_ERROR_PIECES = [
    b'<c r="A1" t="e">', b'<c r="B2" xt="e" t="e">', b'<c t="e" r="C3" s="1">', b'<c r="D4">', b'<cx t="e">', b'<x:c r="E5" t="e">',
    b"<v>#N/A</v>", b"<v>#REF!</v>", b"<v>", b"</v>", b'<f t="e"/>', b"<f>NA()</f>", b"<f>", b"</f>", b"</c>", b't="e"', b"<", b">", b" ", b"x",
    # whole cells of the plain form, and ones off it by a little (read without the pattern, or not)
    b'<c r="C25" s="14" t="e"><f>IF(ISNUMBER(C11),C11,NA())</f><v>#N/A</v></c>', b'<c r="D4" t="e"><v>#DIV/0!</v></c>', b'<c t="e"><v></v></c>',
    b'<c r="E5" xt="e"><v>#N/A</v></c>', b'<c r="F6" t="e"><f>1</f></c>', b'<c r="G7" t="e"><f>1<v>#N/A</v></c>', b'<c r="H8" t="e"><v>#N/A</c>',
    b'<c r="I9" t="e" ><f>1</f ><v>#N/A</v></c>', b'<c r="J1" t="e"><f>1</f><v>#N/A<</v></c>', b'<c r="K1"\tt="e"><v>#N/A</v></c>',
    b'<c r="L1" t="e"><f>1</g><v>#N/A</v></c>', b'<c r="M1" t="e"><v>#N/A</w></c>', b'<c r="N1" t="e"><f>1</f><v>#N/A</v>', b'<c r="O1" t="e"/>',
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_ERROR_PIECES), max_size=14))
def test_the_error_cells_are_the_pattern_s_matches(pieces):
    """_error_cells, trying the pattern only before each t="e", finds exactly what finditer finds."""
    data = b"".join(pieces)
    expected = [(m.span(), m.groups()) for m in book_read._error_cell_re().finditer(data)]
    assert [((start, end), (attrs, value)) for start, end, attrs, value in book_read._error_cells(data)] == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_daily_sheet_read_by_rows_is_the_daily_sheet_read_by_cells(data):
    """_daily_by_rows (each block's rows once, a row at once) gives what _read_daily and
    daily_sheet_facts give cell by cell: over counts typed inside and outside the months,
    totals typed over or deleted, blanks and texts, a source of a sheet's formulas or none,
    and settled cells over all of it."""
    from kofu_xl.book.layout import DAILY

    base = _shipped_src()
    grids = {name: [list(r) for r in rows] for name, rows in base.grids.items()}
    formulas = {name: dict(cells) for name, cells in base.formulas.items()}
    lay = book_read.workbook_layout(base)
    blocks = list(lay.daily_blocks.values())
    value = st.one_of(st.none(), st.integers(min_value=0, max_value=99), st.floats(min_value=0, max_value=99, allow_nan=False), st.sampled_from(["", " ", "x", "#N/A"]))
    overrides = {}
    for _ in range(data.draw(st.integers(min_value=0, max_value=20))):
        block = data.draw(st.sampled_from(blocks))
        inside, outside = block.count_positions()
        kind = data.draw(st.sampled_from(["inside", "outside", "total", "deleted", "settled"]))
        if kind == "inside" and inside:
            _day, row, col = data.draw(st.sampled_from(inside))
        elif kind == "outside" and outside:
            _day, _cell, row, col = data.draw(st.sampled_from(outside))
        else:
            _i, cell, row, col = data.draw(st.sampled_from(block.total_positions()))
            if kind == "deleted":
                formulas[DAILY].pop(cell, None)
            if kind == "settled":
                overrides[(DAILY, cell)] = data.draw(value)
                continue
        line = grids[DAILY][row - 1]
        line.extend([""] * (col - len(line)))
        line[col - 1] = data.draw(value)
    if data.draw(st.booleans()):
        formulas = {}  # a values-only copy
    src = GridSource(grids, formulas)
    for source in (src, book_read._Settled(src, overrides)):
        expected = (book_read._read_daily(source, lay), book_read.daily_sheet_facts(source, lay))
        assert book_read._daily_by_rows(source, lay, source.row_values) == expected


def test_the_raw_reading_reads_only_its_sheets():
    """_read_raw reads no sheet but _RAW_SHEETS: settling passes it the overrides of those only."""
    base = _shipped_src()
    read: set[str] = set()

    class Recording(GridSource):
        def value(self, sheet, row, col):
            read.add(sheet)
            return super().value(sheet, row, col)

        def row_values(self, sheet, row, first, count):
            read.add(sheet)
            return super().row_values(sheet, row, first, count)

    src = Recording(base.grids, base.formulas)
    lay = book_read.workbook_layout(src)
    book_read._read_raw(src, lay)
    assert read and read <= book_read._RAW_SHEETS
    assert set(src.sheet_names()) - book_read._RAW_SHEETS  # (実績比較 is left out)


def _read_both_ways(src: GridSource):
    """(read_plan's reading: settled from the start where the shape is stored, _settle of the
    reading as saved: the rounds every shape takes)."""
    lay = book_read.workbook_layout(src)
    raw, _lay, loaded = book_read.read_plan(src)
    old_raw, old_loaded = book_read._settle(src, lay, book_read._read_raw(src, lay))
    return (raw, loaded), (old_raw, old_loaded)


def _assert_read_alike(new, old):
    """The same plan, findings of loading, facts and catalogue findings, and raw data that loads
    the same (what every other caller of read_plan does with it)."""
    from kofu_xl.core.daily import SHEET_FACTS_KEY
    from kofu_xl.core.rules import FORMULA_FACTS_KEY, check_plan

    (raw, loaded), (old_raw, old_loaded) = new, old
    assert loaded[0] == old_loaded[0]
    assert loaded[1] == old_loaded[1]
    assert raw[FORMULA_FACTS_KEY] == old_raw[FORMULA_FACTS_KEY]
    assert raw.get(SHEET_FACTS_KEY) == old_raw.get(SHEET_FACTS_KEY)
    assert book_read._loaded(raw) == old_loaded
    assert check_plan(raw, loaded=loaded)[1] == check_plan(old_raw, loaded=old_loaded)[1]


def test_the_shipped_workbook_is_read_settled_in_one_reading(monkeypatch):
    """The shipped workbook (every prefilled input saved at its figure) is read once and loaded
    once, and reads as settling it round by round reads it."""
    src = _shipped_src()
    new, old = _read_both_ways(src)
    _assert_read_alike(new, old)
    readings = []
    real = book_read._read_raw
    monkeypatch.setattr(book_read, "_read_raw", lambda *a: readings.append(1) or real(*a))
    monkeypatch.setattr(book_read, "_rounds", None)
    book_read.read_plan(src)
    assert readings == [1]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_reading_settled_from_the_start_is_settling_round_by_round(data):
    """Over edited copies of the shipped workbook -- computed cells typed over, their formulas
    changed, respelled or deleted, prefilled inputs saved at another figure with their formula
    kept (a script's save: no recalculation), inputs retyped -- read_plan reads what _settle
    (the reading as saved, then the rounds) reads."""
    from kofu_xl.book.computed import stored_formulas, stored_positions
    from kofu_xl.core.schedule import default_schedule

    base = _shipped_src()
    grids = {name: [list(r) for r in rows] for name, rows in base.grids.items()}
    formulas = {name: dict(cells) for name, cells in base.formulas.items()}
    src = GridSource(grids, formulas)
    lay = book_read.workbook_layout(src)
    cells = stored_formulas(book_read._loaded(book_read._read_raw(src, lay))[0], lay, default_schedule())
    assert cells is not None
    positions = stored_positions()
    computed = [k for k in cells if k[0] in formulas]
    prefilled = [k for k in computed if cells[k][1]]

    for key in data.draw(st.lists(st.sampled_from(prefilled), max_size=6)):
        row, col = positions[key]
        saved = src.value(key[0], row, col)
        how = data.draw(st.sampled_from(["int", "plus", "text", "empty", "typed"]))
        value = {"int": int(saved) if isinstance(saved, float) and saved.is_integer() else saved,
                 "plus": (saved or 0) + 0.5 if isinstance(saved, (int, float)) else 1.5,
                 "text": str(saved), "empty": "", "typed": data.draw(_TYPED)}[how]
        _put(grids, key[0], row, col, value)
    _edit(data, grids, formulas, lay, computed, computed_edits=8, input_edits=6)
    _assert_read_alike(*_read_both_ways(src))


_NUMERIC_KINDS = ("count", "amount", "money", "yen", "factor", "pct")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(min_value=0, max_value=10**12 - 1), st.integers(min_value=0, max_value=1000)), st.sampled_from(_NUMERIC_KINDS))
def test_the_loader_reads_a_whole_number_saved_as_a_float_as_the_int(n, kind):
    """What _reads_alike relies on: a whole number below 10**12 as the float a spreadsheet keeps
    and as the int settling computes reads as the same value, alone and in a series, with no
    finding, in every numeric kind."""
    from kofu_xl.core.model import Meta, _Loader

    meta = Meta("欄", kind)
    as_float, as_int = _Loader(["c"], []), _Loader(["c"], [])
    assert as_float.value(float(n), meta, "p", "c") == as_int.value(n, meta, "p", "c")
    assert as_float.series([float(n)], meta, "p", ["c"]) == as_int.series([n], meta, "p", ["c"])
    assert as_float.findings == as_int.findings == []
    assert book_read._reads_alike(float(n), n) and book_read._reads_alike(None, None)
    assert not book_read._reads_alike(float(n) + 0.5, n) and not book_read._reads_alike(str(n), n)
    assert not book_read._reads_alike(float(n), None) and not book_read._reads_alike(None, n)


def test_reading_alike_stops_where_the_loader_s_plain_numbers_stop():
    from kofu_xl.core import model

    assert book_read._ALIKE_LIMIT == model._PLAIN_MAX
    assert book_read._reads_alike(float(10**12 - 1), 10**12 - 1) and not book_read._reads_alike(float(10**12), 10**12)
    assert not book_read._reads_alike(-1.0, -1) and not book_read._reads_alike(True, 1)
