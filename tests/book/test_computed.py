"""The computed cells are a function of the plan's inputs only (book/computed.py).

A reader settling a file's formulas (book/read.py) recomputes the computed cells only when
the inputs it read changed; that is exact only while nothing the workbook itself computes
(the declared running totals, rates, per-unit figures, the base rate, 日次実績's totals)
feeds the computed cells.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from kofu_xl.book.computed import computed_cells, computed_inputs
from kofu_xl.book.layout import layout_for
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import DailyTotals, load_plan
from kofu_xl.core.schedule import default_schedule


def _with_other_declared_figures(plan):
    junk = [Decimal(7)] * len(plan.columns)
    declared = msgspec.structs.replace(plan.declared, **{name: list(junk) for name in plan.declared.__struct_fields__})
    daily = msgspec.structs.replace(plan.daily, declared={m: DailyTotals(weekday=[Decimal(1)] * 7, total=Decimal(9)) for m in ("2019-10", "2020-01")})
    return msgspec.structs.replace(plan, declared=declared, basic=msgspec.structs.replace(plan.basic, base_rate_pct=Decimal(99)), daily=daily)


def test_declared_figures_do_not_change_the_computed_cells():
    plan, _ = load_plan(shipped_plan_raw())
    other = _with_other_declared_figures(plan)
    assert other != plan and computed_inputs(other) == computed_inputs(plan)
    lay, schedule = layout_for(plan.parameters), default_schedule()
    assert computed_cells(other, lay, schedule) == computed_cells(plan, lay, schedule)


def test_an_input_changes_the_computed_cells():
    plan, _ = load_plan(shipped_plan_raw())
    issuance = list(plan.issuance)
    issuance[3] = (issuance[3] or Decimal(0)) + 1
    other = msgspec.structs.replace(plan, issuance=issuance)
    assert computed_inputs(other) != computed_inputs(plan)
    lay, schedule = layout_for(plan.parameters), default_schedule()
    assert computed_cells(other, lay, schedule) != computed_cells(plan, lay, schedule)
