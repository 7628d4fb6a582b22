"""Consistency checks for kofu_xl/data/shiroi_daily_2019.json.

The JSON holds the day-by-day card-issuance counts of 2019-01 .. 2019-09,
reconstructed from the scrambled calendar blocks of the seed document. The
checks here are independent of how the decoding was done: the per-weekday and
monthly sums must equal the reliable totals transcribed in
tests/fixtures/shiroi_2019.json, every date must lie in its month, and no
count may fall on a day the office was closed for a public holiday.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from importlib import resources
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

try:
    import kofu_xl.data  # noqa: F401
except ImportError:  # running without an installed package
    sys.path.insert(0, str(REPO_ROOT))

MONTHS = [f"2019-{m:02d}" for m in range(1, 10)]

# Days the office was closed in 2019-01 .. 2019-09 (public holidays, the
# New Year closure and the 2019 Golden Week incl. the enthronement day).
HOLIDAYS = {
    dt.date(2019, 1, 1),
    dt.date(2019, 1, 2),
    dt.date(2019, 1, 3),
    dt.date(2019, 1, 14),  # Coming of Age Day
    dt.date(2019, 2, 11),  # National Foundation Day
    dt.date(2019, 3, 21),  # Vernal Equinox Day
    dt.date(2019, 4, 29),  # Showa Day
    dt.date(2019, 4, 30),  # national holiday
    dt.date(2019, 5, 1),  # enthronement
    dt.date(2019, 5, 2),  # national holiday
    dt.date(2019, 5, 3),  # Constitution Day
    dt.date(2019, 5, 4),  # Greenery Day
    dt.date(2019, 5, 5),  # Children's Day
    dt.date(2019, 5, 6),  # substitute holiday
    dt.date(2019, 7, 15),  # Marine Day
    dt.date(2019, 8, 11),  # Mountain Day (Sunday)
    dt.date(2019, 8, 12),  # substitute holiday
    dt.date(2019, 9, 16),  # Respect for the Aged Day
    dt.date(2019, 9, 23),  # Autumnal Equinox Day
}


def _reference_path() -> Path:
    return REPO_ROOT / "tests" / "fixtures" / "shiroi_2019.json"


@pytest.fixture(scope="module")
def actuals() -> dict:
    path = _reference_path()
    if not path.is_file():
        pytest.fail(f"reference file not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))["daily_actuals_2019"]


@pytest.fixture(scope="module")
def days() -> dict[dt.date, int]:
    text = (
        resources.files("kofu_xl.data")
        .joinpath("shiroi_daily_2019.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    assert isinstance(data.get("_about"), str) and data["_about"].strip()
    out: dict[dt.date, int] = {}
    for key, value in data["days"].items():
        day = dt.date.fromisoformat(key)
        assert day.isoformat() == key
        assert isinstance(value, int) and not isinstance(value, bool)
        assert value >= 0
        out[day] = value
    return out


def test_holiday_weekdays_are_as_expected():
    # Guards against typos in HOLIDAYS: the fixed-weekday holidays.
    mondays = [(1, 14), (5, 6), (7, 15), (8, 12), (9, 16), (9, 23)]
    for month, day in mondays:
        assert dt.date(2019, month, day).weekday() == 0
    assert dt.date(2019, 8, 11).weekday() == 6


def test_all_dates_inside_the_nine_months(days):
    for day in days:
        assert f"{day.year:04d}-{day.month:02d}" in MONTHS, day


def test_no_count_on_a_holiday(days):
    assert not sorted(set(days) & HOLIDAYS)


@pytest.mark.parametrize("month", MONTHS)
def test_weekday_and_monthly_sums(days, actuals, month):
    expected = actuals[month]
    sums = [0] * 7
    for day, count in days.items():
        if f"{day.year:04d}-{day.month:02d}" == month:
            sums[day.weekday()] += count
    assert sums == expected["weekday_totals"]
    assert sum(sums) == expected["total"]
