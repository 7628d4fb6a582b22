"""A new workbook spliced from the stored blank is the workbook the builder draws, byte for byte.

(tests/cli/test_cli.py runs `kofu-xl new` for five municipalities against a fresh build, with
openpyxl unloaded; bench/new_splice_all.py compares all 1,741.)
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from msgspec import structs
from openpyxl.styles import Font

from kofu_xl.app.municipalities import new_plan
from kofu_xl.app.new import draw_new, new_workbook
from kofu_xl.app.stats import load_municipalities
from kofu_xl.book.template import TEMPLATE_DANTAI, TEMPLATE_PATH, splice_new
from kofu_xl.ooxml.package import inject_cached_values, splice_cells


@pytest.fixture(scope="module")
def blank_plan():
    return new_plan(TEMPLATE_DANTAI)


def test_the_stored_blank_equals_a_fresh_drawing(blank_plan):
    assert TEMPLATE_PATH.read_bytes() == draw_new(blank_plan), f"{TEMPLATE_PATH.name} is stale (what the builder writes changed): run `kofu-xl build`"


def _extremes() -> list[str]:
    """The most and the fewest people, the longest name: codes the CLI test does not take."""
    table = load_municipalities()
    by_pop = sorted(table, key=lambda c: (table[c]["人口"], c))
    longest = max(table, key=lambda c: (len(table[c]["市区町村名"]), c))
    return sorted({by_pop[-1], by_pop[0], longest, "472085"})


@pytest.mark.parametrize("dantai", _extremes())
def test_a_spliced_workbook_equals_its_drawing(blank_plan, dantai):
    plan = new_plan(dantai)
    spliced = splice_new(plan, blank_plan)
    assert spliced is not None
    assert spliced == draw_new(plan)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: structs.replace(p, basic=structs.replace(p.basic, phone="047-492-1111")),  # a field the splice does not write
        lambda p: structs.replace(p, basic=structs.replace(p.basic, population_date=p.basic.population_date.replace(year=2018))),
        lambda p: structs.replace(p, basic=structs.replace(p.basic, municipality="-白井市")),  # drawn with a leading apostrophe
        lambda p: structs.replace(p, title=" 計画"),  # not a plain text
        lambda p: structs.replace(p, basic=structs.replace(p.basic, population=None)),  # no proposal, an empty input
    ],
)
def test_a_plan_of_another_shape_is_drawn(blank_plan, change):
    plan = change(new_plan("011002"))
    assert splice_new(plan, blank_plan) is None
    assert new_workbook(plan) == draw_new(plan)


def _sheet(package: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return z.read("xl/worksheets/sheet1.xml")


def _drawn(values: dict[str, object]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for cell, value in values.items():
        ws[cell].value = value
        ws[cell].font = Font(bold=cell == "B1")  # a styled cell keeps its style index
    ws["Z9"] = "=1+1"
    wb.properties.title = "blank"
    buf = io.BytesIO()
    wb.save(buf)
    return inject_cached_values(buf.getvalue(), {("Sheet", "Z9"): 2})[0]


SPLICED = {
    "A1": '白井市 & <その他> "引用" 𠮷',
    "B1": 63723,
    "C1": 0.145347833592266528568962541,
    "D1": Decimal("2.50"),
    "E1": None,
    "F1": -1e20,
    "G1": 12345678901234567,
    "H1": 0,
}


def test_spliced_cells_are_written_as_openpyxl_writes_them():
    before = _drawn({cell: "x" for cell in SPLICED})
    after = splice_cells(before, {("Sheet", c): v for c, v in SPLICED.items()}, {("Sheet", "Z9"): 2}, title="新しい & 題")
    assert _sheet(after) == _sheet(_drawn(SPLICED))
    assert openpyxl.load_workbook(io.BytesIO(after)).properties.title == "新しい & 題"


@pytest.mark.parametrize(
    ("values", "cached"),
    [
        ({("Sheet", "A1"): True}, {("Sheet", "Z9"): 2}),  # a bool
        ({("Sheet", "Q7"): 1}, {("Sheet", "Z9"): 2}),  # no such cell
        ({("Sheet", "Z9"): 1}, {("Sheet", "Z9"): 2}),  # a formula cell
        ({("Sheet", "A1"): "a\nb"}, {("Sheet", "Z9"): 2}),  # not a plain text
        ({("Sheet", "A1"): " a"}, {("Sheet", "Z9"): 2}),
        ({("Sheet", "A1"): "=A2"}, {("Sheet", "Z9"): 2}),
        ({("Other", "A1"): 1}, {("Sheet", "Z9"): 2}),  # no such sheet
        ({("Sheet", "A1"): 1}, {}),  # a formula without its value
    ],
)
def test_what_the_splice_does_not_write_is_refused(values, cached):
    with pytest.raises(ValueError):
        splice_cells(_drawn({"A1": "x"}), values, cached)


@pytest.mark.parametrize("text", ["-", "=1+1"])
def test_a_proposal_text_that_looks_like_a_formula_is_never_blanked(blank_plan, monkeypatch, text):
    """計画案's cells are written as every cell is (text stays text, with the apostrophe's look
    when it starts like a formula): the splice gives the drawing's bytes or declines, never an
    empty cell where the drawing shows the text."""
    from kofu_xl.book import build, proposal_sheet, template

    real = proposal_sheet.proposal_cells

    def with_text(*args, **kwargs):
        cells = real(*args, **kwargs)
        first = min(k for k, v in cells.items() if isinstance(v, str))
        return {**cells, first: text}

    monkeypatch.setattr(template, "proposal_cells", with_text)
    monkeypatch.setattr(build, "proposal_cells", with_text)
    plan = new_plan("011002")
    spliced = splice_new(plan, blank_plan)
    assert spliced is None or spliced == draw_new(plan)
    assert new_workbook(plan) == draw_new(plan)
    sheet = openpyxl.load_workbook(io.BytesIO(new_workbook(plan)))["計画案"]
    assert text in [c.value for row in sheet.iter_rows() for c in row]
