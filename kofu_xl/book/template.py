"""A new plan's workbook without drawing it: the stored blank with the municipality's cells.

`kofu-xl new` draws the same workbook for every municipality but for a handful of cells: the
sheets' titles, 基礎情報 (団体コード, 都道府県名, 市町村名, 人口, 交付枚数), the plan's title on
国基準, 計画案's proposal (it depends on the population and the base count), the cached value of
every formula cell, and the document's title. The blank (``kofu_xl/data/新規計画_雛形.xlsm``) is
the new workbook of TEMPLATE_DANTAI, as drawn by this code; `splice_new` puts another
municipality's values into those cells (`splice_new`, `kofu_xl.ooxml.package.splice_cells`), without
openpyxl: ~0.3 s of a 0.56 s `new` went to importing openpyxl, drawing and saving.

The blank never drifts from the builder: it is generated with the shipped workbook (``kofu-xl build`` in a checkout, or ``python -m kofu_xl.app.new``)
and tests/book/test_template.py holds it equal to a fresh drawing, byte for byte, and the
spliced workbooks of a sample of municipalities equal to their drawings (bench/new_splice_all.py
compares all 1,741). A plan that differs from the blank's in anything but those values, or a
value the splice does not write as openpyxl would (a text with a leading apostrophe's look, a
control character), gets None: the caller draws it.

This module loads no openpyxl.
"""

from __future__ import annotations

from typing import Any

from msgspec import structs

from kofu_xl.book.computed import computed_cells, with_prefills
from kofu_xl.book.layout import PROPOSAL, layout_for
from kofu_xl.book.package_content import cell_value, get_path
from kofu_xl.book.proposal_sheet import proposal_cells
from kofu_xl.book.titles import TITLED_SHEETS, sheet_title
from kofu_xl.core import calc
from kofu_xl.core.model import Plan
from kofu_xl.core.propose import Choices
from kofu_xl.core.schedule import default_schedule
from kofu_xl.core.text import FORMULA_START
from kofu_xl.data import data_path
from kofu_xl.ooxml.cellref import ref
from kofu_xl.ooxml.package import splice_cells

__all__ = ["NEW_INPUTS", "TEMPLATE_DANTAI", "TEMPLATE_PATH", "sheet_title", "splice_new"]

TEMPLATE_PATH = data_path("新規計画_雛形.xlsm")
TEMPLATE_DANTAI = "122327"  # 千葉県白井市: the blank is its new workbook

# The plan's inputs a new workbook shows in their cells (the layout's scalars) and which
# differ from one municipality to another; the other fields of a new plan must equal the
# blank's (the dates of the population and of the base count, everything left empty).
NEW_INPUTS = ("basic.dantai_code", "basic.prefecture", "basic.municipality", "basic.population", "basic.base_issued", "title")


def _same_but_inputs(plan: Plan, blank: Plan) -> bool:
    """Whether ``plan`` differs from the blank's plan in NEW_INPUTS only."""
    b = plan.basic
    basic = structs.replace(blank.basic, dantai_code=b.dantai_code, prefecture=b.prefecture, municipality=b.municipality, population=b.population, base_issued=b.base_issued)
    return structs.replace(blank, title=plan.title, basic=basic) == plan


# A value the splice would not write as the builder does (the caller then draws); not None,
# which is an empty cell
_REFUSED = object()


def _cell(value: Any) -> Any:
    """A value as the builder puts it into a cell (kofu_xl.book.build.put), or _REFUSED."""
    if isinstance(value, str):
        return _REFUSED if value.startswith(FORMULA_START) else value  # put gives it a leading apostrophe's look
    return cell_value(value)


def splice_new(plan: Plan, blank_plan: Plan) -> bytes | None:
    """The new workbook of ``plan`` spliced from the stored blank (whose plan is
    ``blank_plan``: the new plan of TEMPLATE_DANTAI), or None when it cannot be (no blank
    stored, a plan of another shape, a value the splice does not write): then draw it."""
    if not _same_but_inputs(plan, blank_plan):
        return None
    try:
        blank = TEMPLATE_PATH.read_bytes()
    except OSError:
        return None
    schedule = default_schedule()
    lay = layout_for(plan.parameters)
    title = plan.title  # the document's, as build_sheets gives it: of the plan before its prefills
    # as build_sheets draws a new plan: its prefilled formulas' values
    plan = with_prefills(plan, lay, schedule)
    derived = calc.derive(plan, schedule.bounds_by_column(plan.columns))
    comp = computed_cells(plan, lay, schedule, derived, None)
    values: dict[tuple[str, str], Any] = {(sheet, "A1"): sheet_title(sheet, plan) for sheet in TITLED_SHEETS}
    for path in NEW_INPUTS:
        s = lay.scalars[path]
        values[(s.sheet, s.cell)] = get_path(plan, path)
    for (r, c), v in proposal_cells(plan, lay, schedule, Choices()).items():
        values[(PROPOSAL, ref(c, r))] = v
    values = {k: _cell(v) for k, v in values.items()}
    if any(v is _REFUSED for v in values.values()) or any(v is None for k, v in values.items() if k[0] != PROPOSAL) or not isinstance(title, str):
        return None  # (an empty title or input: drawn; 計画案 has empty cells of its own)
    try:
        return splice_cells(blank, values, {k: c.value for k, c in comp.items()}, title=title)
    except ValueError:
        return None
