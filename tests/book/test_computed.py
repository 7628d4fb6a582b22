"""The computed cells are a function of the plan's inputs only (book/computed.py).

A reader settling a file's formulas (book/read.py) recomputes the computed cells only when
the inputs it read changed; that is exact only while nothing the workbook itself computes
(the declared running totals, rates, per-unit figures, the base rate, 日次実績's totals)
feeds the computed cells.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kofu_xl.app.municipalities import new_plan
from kofu_xl.book import computed
from kofu_xl.book.computed import computed_cells, computed_inputs
from kofu_xl.book.layout import layout_for
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import DailyTotals, load_plan
from kofu_xl.core.schedule import default_schedule
from kofu_xl.ooxml.cellref import parse_ref


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


@pytest.mark.parametrize("dantai", ["122327", "011002", "131016", "013030", "134023"])
def test_a_new_plan_s_prefills_stop_at_their_fixed_point(dantai, monkeypatch):
    """with_prefills returns once a round fills nothing (an empty formula over empty parts is
    no fill): its plan is a fixed point, filling it again changes nothing in one round, so the
    rounds it no longer runs (up to its cap of 8) could not change it either."""
    plan = new_plan(dantai)
    lay, schedule = layout_for(plan.parameters), default_schedule()
    filled = computed.with_prefills(plan, lay, schedule)
    assert filled != plan
    rounds = []
    real = computed.computed_cells
    monkeypatch.setattr(computed, "computed_cells", lambda *a, **k: rounds.append(1) or real(*a, **k))
    assert computed.with_prefills(filled, lay, schedule) == filled
    assert len(rounds) == 1


# ---------------------------------------------------------------- the stored formulas, the prefill values


def _default_shape_plans():
    from kofu_xl.core.model import Parameters

    shipped = load_plan(shipped_plan_raw())[0]
    plans = [load_plan({})[0], shipped, _with_other_declared_figures(shipped)]
    for dantai in ("011002", "131016"):
        plan = new_plan(dantai)
        plans += [plan, computed.with_prefills(plan, layout_for(plan.parameters), default_schedule())]
    assert all(p.parameters.first_month == Parameters().first_month for p in plans)
    return plans


def test_the_stored_formulas_are_the_builder_s():
    """The stored file is what the builder gives for the default shape (regenerate it with
    `kofu-xl build` in a checkout), and for every plan of that shape stored_formulas is
    computed_cells' formulas and prefill marks, in its order."""
    schedule = default_schedule()
    blank = load_plan({})[0]
    lay = layout_for(blank.parameters)
    assert computed.STORED_FORMULAS_PATH.read_bytes() == computed.stored_formulas_data(blank, lay, schedule), "stale: run kofu-xl build in the checkout"
    for plan in _default_shape_plans():
        lay = layout_for(plan.parameters)
        stored = computed.stored_formulas(plan, lay, schedule)
        assert stored is not None
        assert list(stored.items()) == [(k, (c.formula, c.prefill)) for k, c in computed_cells(plan, lay, schedule).items()]
        assert computed.stored_positions() == {(sheet, cell): parse_ref(cell) for sheet, cell in stored}


def _other_shapes():
    from kofu_xl.core.model import Parameters

    yield Parameters(first_month="2019-10", last_month="2021-06", fiscal_years=[2021, 2022, 2023], actual_through="2020-02", cost_years=[2019, 2020, 2021])
    yield Parameters(actual_through=None)
    yield Parameters(first_month="2020-04", last_month="2022-03", fiscal_years=[], actual_through="2020-04", cost_years=[2020])


def test_another_shape_or_schedule_has_no_stored_formulas():
    from kofu_xl.core.schedule import load_schedule

    plan = load_plan(shipped_plan_raw())[0]
    for params in _other_shapes():
        other = msgspec.structs.replace(plan, parameters=params)
        assert computed.stored_formulas(other, layout_for(params), default_schedule()) is None
    lay = layout_for(plan.parameters)
    copy = load_schedule(msgspec.json.encode(default_schedule()))
    assert copy == default_schedule() and computed.stored_formulas(plan, lay, copy) is None
    wider = layout_for(plan.parameters, daily_months=["2019-01"])  # the layout too, not only the parameters
    assert computed.stored_formulas(plan, wider, default_schedule()) is None


_FIGURE = st.one_of(st.none(), st.integers(min_value=0, max_value=10**7).map(str), st.sampled_from(["0.5", "1e3", "-3", "12.345"]))


def _perturbed(raw: dict, data) -> dict:
    """The shipped plan's raw data with the figures every prefill is computed from redrawn."""
    raw = msgspec.json.decode(msgspec.json.encode(raw))
    n = 22
    for group, names in (("windows", ("honcho", "shisho", "other")), ("staff", [k for k in raw["staff"] if k != "total"]), ("terminals", [k for k in raw["terminals"] if k.endswith(("_issuing", "_presetting"))])):
        for name in names:
            if data.draw(st.booleans()):
                raw[group][name] = data.draw(st.lists(_FIGURE, min_size=n, max_size=n))
    for year in ("FY2019", "FY2020"):
        cost = raw["costs"].setdefault(year, {})
        for name in ("personnel_regular", "personnel_temporary", "personnel_other", "personnel_total", "postage", "reservation", "terminals", "other"):
            if data.draw(st.booleans()):
                cost[name] = data.draw(_FIGURE)
        for item in ("tablet", "printer", "webcam"):
            if data.draw(st.booleans()):
                cost[item] = {"count": data.draw(_FIGURE), "subsidized": data.draw(_FIGURE)}
        work = raw["working"].setdefault(year, {})
        if data.draw(st.booleans()):
            work["temporary_yen"] = data.draw(_FIGURE)
        if data.draw(st.booleans()):
            work["overtime"] = {k: data.draw(_FIGURE) for k in ("hourly_yen", "premium", "days", "staff", "hours")}
        if data.draw(st.booleans()):
            work["postage"] = {k: data.draw(_FIGURE) for k in ("per_month", "months", "unit_yen")}
        for item in ("tablet", "printer", "webcam"):
            if data.draw(st.booleans()):
                work[f"{item}_unit_yen"] = data.draw(_FIGURE)
    if data.draw(st.booleans()):
        days = data.draw(st.dictionaries(st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2021, 3, 31)).map(dt.date.isoformat), st.integers(min_value=0, max_value=500), max_size=30))
        raw["daily"] = {"days": days, "declared": {}}
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from([None, *range(3)]))
def test_the_prefill_values_are_the_computed_cells_values(data, shape):
    """prefill_values gives computed_cells' value of every cell it marks prefill, and of no
    other cell, over plans of every figure (and of other shapes)."""
    plan = load_plan(_perturbed(shipped_plan_raw(), data))[0]
    if shape is not None:
        plan = msgspec.structs.replace(plan, parameters=list(_other_shapes())[shape])
    lay, schedule = layout_for(plan.parameters), default_schedule()
    expected = {k: c.value for k, c in computed_cells(plan, lay, schedule).items() if c.prefill}
    got = computed.prefill_values(plan, lay)
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
