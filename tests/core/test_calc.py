"""The calculations of the form (kofu_xl.core.calc), on the seed's own numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core import calc
from kofu_xl.core.model import load_plan


@pytest.mark.parametrize(
    ("hourly", "premium", "days", "staff", "hours", "yen", "senyen"),
    [
        (2000, "1.35", 12, 1, 3, 97_200, 98),  # the seed: 2千円×1.35×12日×1人×3h
        (2000, "1.35", 48, 1, 3, 388_800, 389),
        (1300, "1.35", 25, 1, 8, 351_000, 351),  # 351,000.00000000006 in binary floats -> 352
    ],
)
def test_overtime_and_thousand_yen_rounded_up(hourly, premium, days, staff, hours, yen, senyen):
    amount = calc.overtime_yen(D(hourly), D(premium), D(days), D(staff), D(hours))
    assert amount == yen
    assert calc.senyen(amount) == senyen


def test_thousand_yen_round_up_only_a_remainder():
    assert calc.senyen(D(1_771_200)) == 1_772
    assert calc.senyen(D(81_000)) == 81
    assert calc.senyen(D(81_001)) == 82
    assert calc.senyen(None) is None


def test_postage_of_the_seed():
    # 本人限定受取郵便: 月300人×12月×492円
    assert calc.postage_yen(D(300), D(12), D(492)) == 1_771_200


def test_capacity_rule_is_a_parameter():
    assert calc.staff_needed(D(1000)) == 6
    assert calc.staff_needed(D(1001)) == 7  # a part of a person is a person
    assert calc.staff_needed(D(1000), cards_per_month=D(500), staff=D(6)) == 12


def test_rates_are_quotients_rounded_once():
    rate = calc.coverage_rate(D(15_031), D(63_723))
    assert calc.rate_pct(rate) == D("23.6")
    assert calc.coverage_rate(D(1), D(0)) is None
    assert calc.bound_status(rate, D("23.5"), D("31.4")) == "ok"
    assert calc.bound_status(calc.coverage_rate(D(14_900), D(63_723)), D("23.5"), D("31.4")) == "below"


def test_cumulative_stops_at_the_first_gap():
    assert calc.cumulative(D(9_470), [D(1), None, D(3)]) == [D(9_470), None, None]


def test_derive_the_seed():
    plan, _ = load_plan(shipped_plan_raw())
    d = calc.derive(plan)
    keys = [c.key for c in plan.columns]
    assert keys[0] == "2019-08" and keys[-2:] == ["FY2021", "FY2022"]
    assert d.cumulative[keys.index("2020-07")] == 15_031
    assert calc.rate_pct(d.coverage_rate[keys.index("2020-07")]) == D("23.6")
    # 増加分 is that column's issuance / population, not a difference of rounded rates
    assert calc.rate_pct(d.increase[keys.index("2019-09")]) == D("0.2")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2021, 12, 31)), st.integers(0, 10**6).map(D), max_size=80))
def test_the_daily_totals_are_the_sums_of_each_months_days_by_weekday(days):
    """daily_totals walks the sorted days once; it must equal the plain definition: for each
    month (in order), the sum of its days' counts for each weekday and in all."""
    expected: dict[str, tuple[list[D], D]] = {}
    for day in sorted(days):
        weekday, total = expected.setdefault(f"{day.year}-{day.month:02d}", ([D(0)] * 7, D(0)))
        weekday[day.weekday()] += days[day]
        expected[f"{day.year}-{day.month:02d}"] = (weekday, total + days[day])
    got = calc.daily_totals(days)
    assert list(got) == list(expected)
    assert repr(got) == repr(expected)
