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
