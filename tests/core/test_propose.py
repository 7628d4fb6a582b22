"""計画案 (kofu_xl.propose): properties over every municipality of the statistics, 白井市 in detail.

The oracles below are written from the definitions (the national bounds, the form's staff
rule, the cost working), not from the module's code: the fastest ramp the office can run is
a plain loop over Fractions, 千円 is integer ceiling division.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kofu_xl.app.municipalities import new_plan
from kofu_xl.app.stats import load_municipalities
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.calendar import fiscal_year
from kofu_xl.core.model import load_plan
from kofu_xl.core.propose import Choices, apply_proposal, propose
from kofu_xl.core.rules import check_plan, run_rules
from kofu_xl.core.schedule import default_schedule
from kofu_xl.errors import ProposalError

SCHEDULE = default_schedule()
CODES = sorted(load_municipalities())
SEED_PLAN = load_plan(shipped_plan_raw())[0]


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def targets(plan, aim: str) -> dict[str, int]:
    """{column key: cards the checkpoint needs}: ceil(bound% / 100 × population)."""
    out = {}
    for col in plan.columns:
        cp = SCHEDULE.checkpoint_for_column(col)
        if cp is None:
            continue
        lo, up = Fraction(str(SCHEDULE.lower_pct(cp))), Fraction(str(SCHEDULE.upper_pct(cp)))
        pct = lo if aim == "lower" else (lo + up) / 2
        out[col.key] = _ceil(pct * Fraction(int(plan.basic.population)) / 100)
    return out


def fastest_cumulative(plan, p, ch: Choices) -> list[int]:
    """Cumulative counts of the largest plan the caps allow from the first changed column."""
    cards, staff = Fraction(str(plan.parameters.capacity_cards_per_month)), Fraction(str(plan.parameters.capacity_staff))
    cap = None if ch.max_staff is None else Fraction(str(ch.max_staff)) * cards / staff
    cum = [int(plan.basic.base_issued)]
    prev = None if p.issuance[0] is None else Fraction(int(p.issuance[0]))
    for i, col in enumerate(p.columns[1:], start=1):
        w = len(col.months)
        if i < p.first_changed:
            value = int(p.issuance[i])
        else:
            bounds = [b for b in (cap, None if prev is None or ch.max_step is None else prev + ch.max_step) if b is not None]
            value = 10**12 if not bounds else max(0, int(min(bounds) * w))
        cum.append(cum[-1] + value)
        prev = Fraction(value, w)
    return cum


def assert_properties(plan, p, ch: Choices) -> None:
    cols = p.columns
    pop = int(plan.basic.population)
    need = targets(plan, ch.aim)
    reach = fastest_cumulative(plan, p, ch)
    checkpoint_cols = [i for i, c in enumerate(cols) if c.key in need]
    # whole, non-negative counts; cumulative and rate as the form computes them
    for i in range(1, len(cols)):
        v = p.issuance[i]
        assert v == v.to_integral_value() and v >= 0, (cols[i].key, v)
        assert p.cumulative[i] == p.cumulative[i - 1] + v
        assert p.rate[i] * pop == p.cumulative[i] or abs(p.rate[i] - p.cumulative[i] / Decimal(pop)) < Decimal("1e-30")
    # every reachable target met; an unreachable one named with its shortfall, at the closest plan
    outcomes = {c.column: c for c in p.checkpoints}
    assert set(outcomes) == set(need)
    for i in checkpoint_cols:
        c = outcomes[cols[i].key]
        assert c.target_cards == need[cols[i].key]
        assert c.cumulative == p.cumulative[i]
        if reach[i] >= need[cols[i].key]:
            assert c.reachable and c.shortfall == 0 and p.cumulative[i] >= need[cols[i].key], c
            if ch.aim == "lower":
                shown = (p.cumulative[i] / Decimal(pop) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
                assert shown >= c.lower_pct
        else:
            assert not c.reachable and c.shortfall == need[cols[i].key] - p.cumulative[i] > 0
            assert i < p.first_changed or p.cumulative[i] == reach[i], "closest plan: as far as the caps allow"
    # the monthly level never decreases between two checkpoints, never rises beyond the step
    level = [None if v is None else Fraction(int(v), len(c.months)) for v, c in zip(p.issuance, cols, strict=True)]
    for i in range(max(p.first_changed, 1), len(cols)):
        if ch.max_step is not None and level[i - 1] is not None:
            assert level[i] - level[i - 1] <= ch.max_step, (cols[i].key, level[i - 1], level[i])
        after_checkpoint = (i - 1) in checkpoint_cols
        if i > p.first_changed and not after_checkpoint and i <= max(checkpoint_cols, default=-1):
            assert level[i] >= level[i - 1], f"decreases before a checkpoint at {cols[i].key}"
    # staff: the capacity rule, every column
    cards, per = plan.parameters.capacity_cards_per_month, plan.parameters.capacity_staff
    for i, c in enumerate(cols):
        if p.issuance[i] is None:
            assert p.staff_needed[i] is None
            continue
        vol = Fraction(int(p.issuance[i]), len(c.months))
        needed = p.staff_needed[i]
        assert needed == needed.to_integral_value()
        assert Fraction(int(needed)) * Fraction(str(cards)) >= vol * Fraction(str(per))
        assert needed == 0 or Fraction(int(needed) - 1) * Fraction(str(cards)) < vol * Fraction(str(per))
        if ch.max_staff is not None and i >= p.first_changed:
            assert needed <= ch.max_staff
        if i >= p.first_changed:
            assert p.staff_added[i] == max(Decimal(0), needed - p.staff_on_hand[i])
    # costs: staff-months × monthly cost, 千円 rounded up (integer arithmetic)
    for e in p.costs:
        fy = int(e.key[2:])
        months = sum(
            int(p.staff_added[i]) * len(c.months) for i, c in enumerate(cols) if fiscal_year(c.months[0]) == fy and i >= p.first_changed
        )
        assert e.staff_months == months
        yen = months * int(e.unit_yen)
        assert e.added_yen == yen
        before = int(e.temporary_yen_before)
        assert e.senyen_after == -(-(before + yen) // 1000) and e.senyen_before == -(-before // 1000)
        assert e.added_senyen == e.senyen_after - e.senyen_before
    # after the last checkpoint the plan never goes beyond the population
    last_cp = max(checkpoint_cols)
    if p.first_changed <= len(cols) - 1:
        assert p.cumulative[-1] <= max(pop, p.cumulative[max(last_cp, p.first_changed - 1)])


# ---------------------------------------------------------------- every municipality


@pytest.mark.parametrize("aim", ["lower", "middle"])
def test_every_municipality_meets_the_schedule(aim):
    assert len(CODES) == 1741
    for code in CODES:
        plan = new_plan(code)
        ch = Choices(aim=aim)
        p = propose(plan, SCHEDULE, ch)
        assert not p.out_of_reach, code
        assert_properties(plan, p, ch)
        # aim lower lands on the last checkpoint's target exactly
        if aim == "lower":
            last = p.checkpoints[-1]
            assert last.cumulative == last.target_cards, code


MONTHS = [c.key for c in SEED_PLAN.columns[1:]]


@st.composite
def cases(draw):
    code = draw(st.sampled_from(CODES))
    plan = new_plan(code)
    pop = int(plan.basic.population)
    # some months of a current plan (typed by the clerk), so the first changed month matters
    typed = draw(st.lists(st.integers(0, max(1, pop // 25)), min_size=0, max_size=len(MONTHS)))
    base_month = draw(st.one_of(st.none(), st.integers(0, max(1, pop // 300)).map(Decimal)))
    plan.issuance = [base_month] + [Decimal(v) for v in typed]
    ch = Choices(
        aim=draw(st.sampled_from(["lower", "middle"])),
        max_step=draw(st.one_of(st.none(), st.integers(0, max(1, pop // 50)))),
        first_month=draw(st.one_of(st.none(), st.sampled_from(MONTHS))),
        max_staff=draw(st.one_of(st.none(), st.integers(0, 40).map(Decimal))),
        staff_on_hand=draw(st.one_of(st.none(), st.integers(0, 12).map(Decimal))),
        monthly_temporary_yen=draw(st.one_of(st.none(), st.integers(0, 400_000).map(Decimal))),
    )
    return plan, ch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_properties_under_any_choices(case):
    plan, ch = case
    p = propose(plan, SCHEDULE, ch)
    assert_properties(plan, p, ch)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CODES), st.sampled_from(["lower", "middle"]))
def test_written_plan_checks_clean_on_what_the_proposal_sets(code, aim):
    plan = new_plan(code)
    p = propose(plan, SCHEDULE, Choices(aim=aim))
    adopted = apply_proposal(plan, p)
    base_col = adopted.columns[0].key  # R元年8月(実績): the clerk's actual, not the proposal's
    written = {"costs.personnel_temporary", "costs.personnel_total", "costs.total", "working.temporary_yen"}
    years = {e.key for e in p.costs if e.added_yen}  # 本表1-2 changes only where staff are added

    def proposal_field(f) -> bool:
        series = f.path == "issuance" or f.path.startswith(("staff.", "declared."))
        return (series and f.column != base_col) or (f.path in written and f.column in years)

    bad = [f for f in run_rules(adopted) if f.severity.value == "error" and proposal_field(f)]
    assert not bad, [f.message for f in bad]
    # staff parts sum to the total in every changed column
    for i in range(1, len(adopted.columns)):
        parts = sum(adopted.series(f"staff.{n}")[i] or 0 for n in adopted.staff.PARTS)
        assert adopted.series("staff.total")[i] == parts


# ---------------------------------------------------------------- 白井市, white box


def test_shiroi_seed_plan_lower():
    p = propose(SEED_PLAN, SCHEDULE, Choices())
    assert p.first_changed == 1  # R元年8月 is the actual; R元年9月 on may change
    assert [int(v) for v in p.issuance] == [103] + [500] * 6 + [501] * 5 + [1879] + [1880] * 7 + [14975, 14975]
    assert [(c.label, c.target_cards, c.cumulative, c.reachable) for c in p.checkpoints] == [
        ("R2年7月末", 14975, 14975, True),  # ceil(0.235 × 63,723) = 14,975
        ("R3年3月末", 30014, 30014, True),
        ("R4年3月末", 44989, 44989, True),
    ]
    assert [int(s) for s in p.staff_needed] == [1] + [3] * 6 + [4] * 5 + [12] * 8 + [8, 8]
    # on hand 2, 2, 4, …, 6 (⑤ of the seed): added 1 in R元年9・10月, 0 later until R2年8月
    fy19, fy20 = p.costs
    assert fy19.unit_yen == 132500  # R2年度 working: 6,360,000円 / 48 人月
    assert (fy19.staff_months, fy19.added_yen, fy19.senyen_before, fy19.senyen_after) == (2, 265000, 2990, 3255)
    assert (fy20.staff_months, fy20.added_yen, fy20.senyen_after, fy20.added_senyen) == (48, 6360000, 12720, 6360)


def test_shiroi_step_limit_starts_early_for_the_steep_second_leg():
    p = propose(SEED_PLAN, SCHEDULE, Choices(max_step=300))
    v = [int(x) for x in p.issuance]
    assert v[:13] == [103, 403, 508, 508, 508, 508, 508, 508, 508, 508, 508, 530, 830]
    assert all(b - a <= 300 for a, b in zip(v[:20], v[1:20]))
    assert [c.cumulative for c in p.checkpoints] == [14975, 30014, 44989]


def test_shiroi_out_of_reach_is_named_with_the_closest_plan():
    p = propose(SEED_PLAN, SCHEDULE, Choices(first_month="2020-08", max_step=200))
    assert p.first_changed == 12  # R2年8月
    assert [int(x) for x in p.issuance[12:20]] == [950, 1150, 1350, 1550, 1750, 1950, 2150, 2350]
    mar = p.checkpoints[1]
    assert (mar.label, mar.reachable, mar.shortfall, mar.cumulative) == ("R3年3月末", False, 1783, 28231)
    assert p.checkpoints[0].fixed and p.checkpoints[0].cumulative == 15031
    assert p.checkpoints[2].reachable


def test_shiroi_capacity_cap_brings_work_forward():
    p = propose(SEED_PLAN, SCHEDULE, Choices(max_staff=Decimal(8)))
    assert max(int(s) for s in p.staff_needed[1:]) == 8
    assert int(p.issuance[12]) == 1333  # 8 staff serve 1,333 cards a month
    assert [c.reachable for c in p.checkpoints] == [True, True, True]
    assert p.checkpoints[0].cumulative > p.checkpoints[0].target_cards  # a head start for R3年3月


def test_shiroi_from_the_statistics():
    plan = new_plan("122327")
    p = propose(plan, SCHEDULE, Choices(aim="lower"))
    rates = [(c.label, (c.rate * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)) for c in p.checkpoints]
    assert rates == [("R2年7月末", Decimal("23.5")), ("R3年3月末", Decimal("47.1")), ("R4年3月末", Decimal("70.6"))]
    assert p.issuance[0] is None and p.staff_on_hand[1] == 0


def test_adopted_seed_plan_has_no_finding_once_its_own_errors_are_fixed():
    raw = copy.deepcopy(shipped_plan_raw())
    raw["basic"]["email"] = "imin@city.shiroi.chiba.lg.jp"
    counts = raw["at_application"]["counts"]
    for key in MONTHS[7:19]:
        counts[key] = 300  # 12 months × 300 = the 3,600 of the postage working
    counts["FY2021"] = counts["FY2022"] = 3600
    plan, findings = check_plan(raw)
    assert {f.rule for f in findings if f.severity.value == "error"} == {"missing-required", "staff-total-mismatch", "cost-total-mismatch"}
    adopted = apply_proposal(plan, propose(plan, SCHEDULE))
    assert run_rules(adopted) == []


def test_bad_plans_get_japanese_errors():
    plan = new_plan("122327")
    plan.basic.population = None
    with pytest.raises(ProposalError, match="人口"):
        propose(plan, SCHEDULE)
