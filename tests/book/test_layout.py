"""The layout map owns every address: one cell per field, one field per cell, and the build and
the reader use the same map."""

from __future__ import annotations

from collections import Counter

import openpyxl
import pytest

from kofu_xl.book.build import build_sheets
from kofu_xl.book.layout import DAILY, LOG, LOG_HEADERS, RESULT_HEADERS, RESULTS, layout_for
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import iter_leaves, load_plan


@pytest.fixture(scope="module")
def built():
    plan, _ = load_plan(shipped_plan_raw())
    b = build_sheets(plan)
    import io

    return b, openpyxl.load_workbook(io.BytesIO(b.xlsx))


def _all_cells(lay):
    cells = []
    for leaf in iter_leaves():
        if leaf.group in ("costs", "working"):
            cells += [lay.cost_cell(leaf.path, key) for key in lay.cost_years]
        elif leaf.meta.series and leaf.path in lay.rows11:
            cells += [lay.series_cell(leaf.path, key) for key in lay.columns]
    cells += [(s.sheet, s.cell) for s in lay.scalars.values()]
    for block in lay.daily_blocks.values():
        cells += [(DAILY, c) for _d, _dc, c in block.cells()]
        cells += [(DAILY, c) for _i, c in block.total_cells()]
    return cells


def test_no_two_fields_share_a_cell():
    lay = layout_for(None)
    counts = Counter(_all_cells(lay))
    assert len(counts) > 1_000  # 本表1-1's rows × 22 columns, 本表1-2, 経費積算, the scalars, 日次実績
    assert max(counts.values()) == 1, [c for c, n in counts.items() if n > 1][:5]


def test_the_daily_totals_hold_the_layouts_formulas(built):
    b, wb = built
    lay = b.layout
    for block in list(lay.daily_blocks.values())[:3]:
        for index, cell in block.total_cells():
            assert wb[DAILY][cell].value == block.total_formula(index)


def test_results_and_log_headers_are_the_layouts(built):
    _b, wb = built
    assert tuple(c.value for c in wb[RESULTS][3][: len(RESULT_HEADERS)]) == RESULT_HEADERS
    assert tuple(c.value for c in wb[LOG][3][: len(LOG_HEADERS)]) == LOG_HEADERS


def test_every_daily_position_outside_the_month_is_distinct_from_the_days():
    block = layout_for(None).daily_blocks["2019-01"]
    inside = {c for _d, _dc, c in block.cells()}
    grid = list(block.grid())
    assert len(grid) == 42
    outside = [(d, c) for d, _dc, c in grid if c not in inside]
    assert outside[0][1] == "B7" and str(outside[0][0]) == "2018-12-31"


@pytest.mark.parametrize("top", [4, 20, 1000])
def test_the_daily_cells_and_totals_are_the_calendars(top):
    """A block's day cells and its totals' formulas (computed in one pass over the days, the
    columns' letters taken once) are the calendar grid's, read the long way: the count cells of
    the month's days in order, each weekday's summed, the month's total over the weekdays'."""
    from kofu_xl.book.layout import DailyBlock

    for year in (2019, 2020, 2023, 2024):
        for mon in range(1, 13):
            block = DailyBlock(f"{year}-{mon:02d}", top)
            days = [(d, dc, c) for d, dc, c in block.grid() if (d.year, d.month) == (year, mon)]
            assert list(block.cells()) == days
            for index in range(7):
                assert block.total_formula(index) == "=SUM(" + ",".join(c for d, _dc, c in days if d.weekday() == index) + ")"
            assert block.total_formula(7) == f"=SUM({block.weekday_total_cell(0)}:{block.weekday_total_cell(6)})"
            assert [(d, c) for d, c, _r, _col in block.count_positions()[1]] == [(d, c) for d, _dc, c in block.grid() if (d.year, d.month) != (year, mon)]
