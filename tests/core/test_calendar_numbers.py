"""和暦, column keys and the tolerant reading of typed numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kofu_xl.core.calendar import (
    CalendarError,
    column_label,
    fiscal_year,
    fiscal_year_label,
    form_columns,
    month_label,
    parse_column,
    parse_date,
    parse_month,
    wareki_date,
)
from kofu_xl.core.numbers import parse_number, round_half_up, to_decimal
from kofu_xl.errors import NumberError


def test_form_columns_match_the_seed(seed_ref):
    cols = form_columns("2019-08", "2021-03", [2021, 2022], "2019-08")
    assert [c.key for c in cols] == seed_ref["columns"]
    assert [c.label for c in cols] == seed_ref["column_labels_ja"]


@pytest.mark.parametrize(
    ("key", "label"),
    [("2019-04", "H31年4月"), ("2019-05", "R元年5月"), ("2019-08", "R元年8月"), ("2020-04", "R2年4月"), ("2021-03", "R3年3月"),
     ("FY2018", "H30年度"), ("FY2019", "R元年度"), ("FY2021", "R3年度"), ("FY2022", "R4年度")],
)
def test_labels_both_ways(key, label):
    assert column_label(key) == label
    assert parse_column(label) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [("令和2年4月", "2020-04"), ("令和２年４月", "2020-04"), ("R2.4", "2020-04"), ("2020/4", "2020-04"), ("2020年4月", "2020-04"),
     ("R元年8月(実績)", "2019-08"), ("R元年8月（実績）", "2019-08"), ("平成31年4月", "2019-04"), ("令和元年5月", "2019-05")],
)
def test_parse_month(text, key):
    assert parse_month(text) == key


@pytest.mark.parametrize("text", ["令和元年4月", "平成31年5月", "2020-13", "来年", "R2年", ""])
def test_parse_month_rejects(text):
    with pytest.raises(CalendarError) as exc:
        parse_month(text)
    assert exc.value.reason  # Japanese reason for the message


def test_dates_and_fiscal_years():
    assert parse_date("H31.1.1") == dt.date(2019, 1, 1)
    assert parse_date("令和元年10月3日") == dt.date(2019, 10, 3)
    assert parse_date("R元.8.31") == dt.date(2019, 8, 31)
    assert wareki_date(dt.date(2019, 10, 3)) == "令和元年10月3日"
    assert wareki_date(dt.date(2019, 4, 30)) == "平成31年4月30日"
    assert wareki_date(dt.date(2019, 1, 1), short=True) == "H31.1.1"
    assert fiscal_year("2020-03") == 2019 and fiscal_year("2020-04") == 2020
    assert fiscal_year_label(2020, short=False) == "令和2年度"
    assert month_label("2019-08", short=False) == "令和元年8月"
    with pytest.raises(CalendarError):
        parse_date("2019-02-30")


@given(st.integers(min_value=1990, max_value=2060), st.integers(min_value=1, max_value=12))
def test_month_label_round_trip(year, month):
    key = f"{year}-{month:02d}"
    assert parse_month(month_label(key)) == key
    assert parse_month(month_label(key, short=False)) == key


@pytest.mark.parametrize(
    ("text", "value", "normalized", "percent"),
    [("123", Decimal(123), False, False), ("１２３", Decimal(123), True, False), ("1,000", Decimal(1000), True, False),
     ("63,723人", Decimal(63723), True, False), ("14.9%", Decimal("14.9"), True, True), ("１４．９％", Decimal("14.9"), True, True),
     ("△5", Decimal(-5), True, False), (" 7 ", Decimal(7), True, False), (97200.0, Decimal("97200.0"), False, False),
     (1.35, Decimal("1.35"), False, False)],
)
def test_parse_number(text, value, normalized, percent):
    p = parse_number(text)
    assert p.value == value and p.normalized is normalized and p.percent is percent


@pytest.mark.parametrize("text", ["abc", "1,00", "#REF!", "#DIV/0!", "", "1.2.3", True])
def test_parse_number_rejects(text):
    with pytest.raises(NumberError):
        parse_number(text)


def test_float_inputs_are_read_through_repr():
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(2000 * 1.35) == Decimal("2700.0")
    assert round_half_up(Decimal("0.05"), 1) == Decimal("0.1")
    assert round_half_up(Decimal("108.35"), 1) == Decimal("108.4")


@given(st.integers(min_value=0, max_value=10**12))
def test_grouped_numbers_round_trip(n):
    assert parse_number(f"{n:,}").value == n
    assert parse_number(f"{n:,}".translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))).value == n


@pytest.mark.parametrize("places", [0, 1, 2, 3, 5])
def test_round_half_up_with_its_shared_context_equals_a_fresh_exact_context(places):
    """round_half_up builds no context per call for ordinary magnitudes: the same digits as
    quantizing in a context wide enough for the value (what it did on every call)."""
    import decimal

    values = [Decimal(f"{sign}{m}E{e}") for sign in ("", "-") for m in ("5", "15", "2.5", "1234567.45", "9" * 33 + ".5") for e in range(-8, 40, 3)]
    for value in values:
        ctx = decimal.Context(prec=max(34, value.adjusted() + places + 2), rounding=decimal.ROUND_HALF_UP, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
        want = value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP, context=ctx)
        got = round_half_up(value, places)
        assert str(got) == str(want), (value, places)


def test_a_column_s_cached_months_are_its_months():
    from kofu_xl.core.calendar import Column

    fy = Column("FY2021", "R3年度")
    assert fy.months == [f"2021-{m:02d}" for m in range(4, 13)] + ["2022-01", "2022-02", "2022-03"]
    fy.months.append("x")  # a caller's list is its own
    assert fy.months[-1] == fy.last_month == "2022-03" and not fy.is_month
    month = Column("2019-08", "R元年8月")
    assert month.months == ["2019-08"] and month.last_month == "2019-08" and month.is_month
    assert fy == Column("FY2021", "R3年度") and hash(fy) == hash(Column("FY2021", "R3年度"))
