"""A package's values-only workbook without drawing it: a stored blank of the plan's shape with
the plan's values in its cells.

`submit` writes, beside the plan's JSON, the workbook the prefecture receives: the sheets the
builder draws with ``values_only`` (kofu_xl.book.build). Drawing it with openpyxl (and importing
openpyxl) was most of a new package's cost. Two plans of the same *shape* give packages that
differ only in the values of some cells, the document's title and the moment of the save:

- the **content** (`package_values`): the values the builder writes from the plan into the
  cells of a package: the titles and the two captions that name dates, every input cell, every
  computed cell's value (kofu_xl.book.computed), 実績比較's values from the schedule;
- the **shape** (`package_shape`): whatever decides which cells exist and which look
  (style numbers are handed out by openpyxl in order of first use, so one look more anywhere
  shifts every later style): the plan's parameters (the layout, the columns and their labels),
  the schedule, the months 日次実績 prints (those with counts), which of 本表1-1's single
  inputs hold numbers (a number gets ``#,##0.0``, anything else the text format) and which
  cells hold dates (openpyxl gives a cell a date format when a date is put in it), and which
  cells the content fills (a computed cell without a value for the plan is drawn blank).

`splice_package` takes the blank stored for the plan's shape (``kofu_xl/data/提出用_雛形_<shape>.xlsx``,
a package drawn by the builder, written by ``kofu-xl build`` in a checkout) and rewrites the
content's cells in one pass (kofu_xl.ooxml.splice). A plan of a shape without a blank, or
with a value the splice does not write as the builder does (a text that would get Excel's
leading apostrophe, a bool), gets None, decided from the plan before anything is written:
the caller draws it. tests/book/test_package_content.py holds the blanks equal to fresh
drawings and spliced packages equal to drawn ones byte for byte; bench/package_splice_all.py
compares the 1,741 packages of the aggregate bench.

This module loads no openpyxl.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from kofu_xl.book.computed import NA, Computed, computed_cells, static_followup
from kofu_xl.book.layout import DAILY, FOLLOWUP, NATIONAL, ROWS_11, ROWS_12, ROWS_FU, ROWS_WORK, S11, S12, WORK, Layout, layout_for
from kofu_xl.book.titles import sheet_title
from kofu_xl.core import calc
from kofu_xl.core.calendar import month_label, wareki_date
from kofu_xl.core.model import CostYear, Plan, Working
from kofu_xl.core.schedule import Schedule
from kofu_xl.core.text import FORMULA_START, xml_text
from kofu_xl.data import DATA_DIR
from kofu_xl.ooxml.cellref import ref
from kofu_xl.ooxml.splice import rewrite_cells

__all__ = [
    "BLANK_DIR",
    "BLANK_PREFIX",
    "Declined",
    "blank_path",
    "cell_value",
    "document_title",
    "get_path",
    "month_end_caption",
    "month_text",
    "package_shape",
    "package_values",
    "printed_months",
    "splice_package",
]

BLANK_DIR = DATA_DIR
BLANK_PREFIX = "提出用_雛形_"
DEFAULT_TITLE = "マイナンバーカード交付円滑化計画"

# 基礎情報's inputs on 本表1-1, in the order the builder draws them (base_rate_pct is computed)
BASIC_INPUTS = ("basic.dantai_code", "basic.prefecture", "basic.municipality", "basic.population", "basic.base_issued", "basic.department", "basic.phone", "basic.email")
# 国基準's inputs
NATIONAL_INPUTS = ("basic.population_date", "basic.base_issued_date", "parameters.capacity_cards_per_month", "parameters.capacity_staff", "title")
_FU_INPUT_ROWS = ("followup.actual_cumulative", "followup.official_population", "followup.official_rate")


class Declined(Exception):
    """The plan's package cannot be spliced: draw it."""


# ---------------------------------------------------------------- what a cell shows (shared with the builder)


def cell_value(value: Any) -> Any:
    """A plan's value as the builder gives it to openpyxl: a Decimal as an int or a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def get_path(obj: Any, path: str) -> Any:
    """The value at a model path ("basic.population", "budget_timing.2"), None where absent."""
    for part in path.split("."):
        if part.isdigit():
            seq = list(obj)
            idx = int(part) - 1
            obj = seq[idx] if idx < len(seq) else None
        else:
            obj = getattr(obj, part)
        if obj is None:
            return None
    return obj


def month_end_caption(day: dt.date) -> str:
    """A base date as a caption shows it: R元.8.31, or R元.8末 on a month's last day."""
    text = wareki_date(day, short=True)  # R元.8.31
    last = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return text.rsplit(".", 1)[0] + "末" if day == last else text


def month_text(value: Any) -> Any:
    """A month ("2019-08") as its dropdown answer; anything else as it is."""
    if isinstance(value, str) and len(value) == 7 and value[4] == "-":
        return month_label(value, short=False)
    return value


def basic_captions(plan: Plan) -> dict[str, str]:
    """The captions of 基礎情報's population and base count, which name their dates."""
    pop_date = plan.basic.population_date
    base_date = plan.basic.base_issued_date
    return {
        "basic.population": f"人口（{wareki_date(pop_date, short=True)}時点）" if pop_date else "人口",
        "basic.base_issued": f"交付枚数（{month_end_caption(base_date)}時点）" if base_date else "交付枚数",
    }


def s11_scalar_format(value: Any, dropdown: str | None) -> str:
    """The number format of a single input on 本表1-1's rows: text unless it holds a number."""
    return "@" if dropdown == "month" or isinstance(value, str) or value is None else "#,##0.0"


def with_data(plan: Plan) -> set[str]:
    """The months of 日次実績 that hold counts (days, or a declared total or weekday count)."""
    return {f"{d.year}-{d.month:02d}" for d in plan.daily.days} | {m for m, t in plan.daily.declared.items() if t.total or any(t.weekday)}


def printed_months(plan: Plan, lay: Layout) -> list[str]:
    """The calendar blocks a package's 日次実績 shows (the others are hidden rows)."""
    data = with_data(plan)
    return [m for m in lay.daily_blocks if m in data]


def document_title(plan: Plan) -> str:
    return plan.title or DEFAULT_TITLE


# ---------------------------------------------------------------- the content


def _shown(value: Any) -> Any:
    """A value as `kofu_xl.book.build.put` writes it, or Declined where put gives the cell a
    look of its own (a text that would read as a formula gets Excel's leading apostrophe)."""
    value = cell_value(value)
    if isinstance(value, str):
        value = xml_text(value)
        if value.startswith(FORMULA_START):
            raise Declined("a text with a leading apostrophe's look")
    elif isinstance(value, bool) or not (value is None or isinstance(value, (int, float, dt.date))):
        raise Declined(f"a {type(value).__name__} value")
    return value


def package_values(plan: Plan, lay: Layout, schedule: Schedule, comp: dict[tuple[str, str], Computed]) -> dict[str, dict[str, Any]]:
    """{sheet: {cell: value}} of every cell of the plan's package whose value comes from the
    plan or the schedule, as the builder writes it with ``values_only``. Raises Declined."""
    out: dict[str, dict[str, Any]] = {S11: {}, S12: {}, WORK: {}, DAILY: {}, NATIONAL: {}, FOLLOWUP: {}}
    s11, s12, work, daily, national, fu = (out[s] for s in (S11, S12, WORK, DAILY, NATIONAL, FOLLOWUP))
    # 本表1-1
    s11["A1"] = sheet_title(S11, plan)
    for path, caption in basic_captions(plan).items():
        label = lay.scalars[path].label_cell
        assert label is not None
        s11[label] = caption
    for path in BASIC_INPUTS:
        s11[lay.scalars[path].cell] = get_path(plan, path)
    for spec in ROWS_11:
        if spec.role == "input":
            row = lay.rows11[spec.key]
            for col, value in zip(plan.columns, plan.series(spec.key), strict=False):
                s11[ref(lay.col11(col.key), row)] = value
    for s in lay.scalars.values():
        if s.sheet == S11 and not s.path.startswith("basic."):
            value = get_path(plan, s.path)
            s11[s.cell] = month_text(value) if s.dropdown == "month" else value
    # 本表1-2
    s12["A1"] = sheet_title(S12, plan)
    for spec in ROWS_12:
        if spec.role == "input":
            row = lay.rows12[spec.key]
            for key in lay.cost_years:
                s12[ref(lay.col12(key), row)] = get_path(plan.costs.get(key, CostYear()), spec.key.split(".", 1)[1])
    for i in (1, 2, 3):
        s = lay.scalars[f"budget_timing.{i}"]
        s12[s.cell] = month_text(plan.budget_timing[i - 1] if len(plan.budget_timing) >= i else None)
    # 経費積算
    for spec in ROWS_WORK:
        if spec.role == "input":
            row = lay.rows_work[spec.key]
            for key in lay.cost_years:
                work[ref(lay.col_work(key), row)] = get_path(plan.working.get(key, Working()), spec.key.split(".", 1)[1])
    # 日次実績: the printed months' days
    days = plan.daily.days
    printed = printed_months(plan, lay)
    printed_cells: set[str] = set()
    for month in printed:
        block = lay.daily_blocks[month]
        for day, _date_cell, count_cell in block.cells():
            daily[count_cell] = days.get(day)
        printed_cells.update(block.weekday_total_cell(i) for i in range(7))
        printed_cells.add(block.month_total_cell)
    # 国基準
    for path in NATIONAL_INPUTS:
        national[lay.scalars[path].cell] = get_path(plan, path)
    # 実績比較: the title, the schedule's values; its input rows stay empty in a package
    fu["A1"] = sheet_title(FOLLOWUP, plan)
    static = static_followup(plan, lay, schedule)
    for spec in ROWS_FU:
        row = lay.rows_fu[spec.key]
        if spec.key in ("calc.next_checkpoint", "calc.months_left"):
            k = 0 if spec.key == "calc.next_checkpoint" else 1
            for m in lay.followup_months:
                fu[ref(lay.col_fu(m), row)] = static[m][k]
        elif spec.key in _FU_INPUT_ROWS:
            for m in lay.followup_months:
                fu[ref(lay.col_fu(m), row)] = None
    # every computed cell the package shows (a prefill is an input: the plan's value stands)
    for (sheet, cell), c in comp.items():
        if c.prefill or sheet not in out or (sheet == DAILY and cell not in printed_cells):
            continue
        if cell in out[sheet]:
            raise Declined(f"{sheet}!{cell} is both an input and computed")
        out[sheet][cell] = None if c.value == NA else c.value
    return {sheet: {cell: _shown(v) for cell, v in cells.items()} for sheet, cells in out.items()}


# ---------------------------------------------------------------- the shape


def package_shape(plan: Plan, lay: Layout, schedule: Schedule, values: dict[str, dict[str, Any]]) -> str:
    """What decides the cells and the looks of the plan's package beyond its content, as a
    short digest (the blank's file name)."""
    s11_formats = tuple(
        s11_scalar_format(get_path(plan, s.path), s.dropdown) for s in lay.scalars.values() if s.sheet == S11 and not s.path.startswith("basic.")
    )
    dates = sorted((sheet, cell) for sheet, cells in values.items() for cell, v in cells.items() if isinstance(v, dt.date))
    key = msgspec.json.encode([
        "package-shape/1",
        plan.parameters,
        schedule,
        printed_months(plan, lay),
        s11_formats,
        dates,
        # the content's cells: a computed cell the map leaves out for this plan would be drawn
        # as an empty grey cell, with a look of its own
        {sheet: list(cells) for sheet, cells in values.items()},
    ])
    return hashlib.sha256(key).hexdigest()[:16]


def blank_path(shape: str) -> Path:
    return BLANK_DIR / f"{BLANK_PREFIX}{shape}.xlsx"


def plan_content(plan: Plan, schedule: Schedule) -> tuple[Layout, dict[str, dict[str, Any]], str]:
    """The layout, the content and the shape of ``plan``'s package. Raises Declined."""
    lay = layout_for(plan.parameters)
    derived = calc.derive(plan, schedule.bounds_by_column(plan.columns))
    comp = computed_cells(plan, lay, schedule, derived, None)
    values = package_values(plan, lay, schedule, comp)
    return lay, values, package_shape(plan, lay, schedule, values)


def splice_package(plan: Plan, schedule: Schedule, *, moment: float | None = None) -> bytes | None:
    """The values-only workbook of ``plan`` (what ``build_sheets(plan, schedule=schedule,
    values_only=True)`` draws) from the blank of its shape, or None: no blank for its shape,
    or a value the splice does not write as the builder does. ``moment``: the time of the
    save (now by default), as openpyxl stamps a package."""
    try:
        _lay, values, shape = plan_content(plan, schedule)
    except Declined:
        return None
    try:
        blank = blank_path(shape).read_bytes()
    except OSError:
        return None
    try:
        return rewrite_cells(blank, values, title=document_title(plan), moment=moment)
    except (ValueError, KeyError, zipfile.BadZipFile, zlib.error):  # (a damaged blank: drawn, as without one)
        return None
