"""和暦, column keys and the tolerant reading of typed numbers."""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
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


def _read(fn, text):
    try:
        return fn(text)
    except CalendarError as exc:
        return ("error", str(exc))


def _label_texts() -> list[str]:
    """Every label the form spells (each month and fiscal year of 昭和, 平成 and 令和 up to era year
    99, short and long), and near misses: wrapped, (実績), full-width, zero-padded, outside their
    era, before 昭和, impossible months, other spellings."""
    out = []
    for year in range(1925, 2118):
        for short in (True, False):
            with contextlib.suppress(CalendarError):
                out.append(fiscal_year_label(year, short=short))
            for month in range(1, 13):
                with contextlib.suppress(CalendarError):
                    out.append(month_label(f"{year}-{month:02d}", short=short))
    near = []
    for text in out[::37]:
        near += [text + "(実績)", text + "\n(実績)", text + "（実績）", " " + text + " ", text.replace("年", " 年"), text + "末",
                 text.replace("元", "1"), text.replace("元", "01"), text.replace("1", "１"), text + "(実績)(実績)", text[:-1], text + "度"]
    near += ["R元年4月", "H31年5月", "H31年4月", "S64年1月", "S1年1月", "S1年12月", "S0年12月", "H0年4月", "R0年度", "S1年度", "S0年度",
             "令和元年13月", "令和元年0月", "R100年1月", "R2年4月1日", "R2.4", "R2/4", "R2-4", "令和2年4月末時点", "FY2021", "2021年度",
             "fy2021", "2020-04", "2020/4", "2020年4月", "R", "令和", "", "R元年", "R元年月", "R2年4", "Ｒ２年４月", "r2年4月", "R٣年4月",
             "R2年٤月", "令和2年4月\u3000", "H元年度", "S63年度", "H30年度", "令和元年度"]
    return out + near


def test_labels_as_the_form_spells_them_read_as_the_expressions_read_them(monkeypatch):
    """parse_month and parse_column read a label spelled exactly as the form spells it without
    the regular expressions (a check reads only such labels): every label and near miss reads
    the same, key or error, as through the expressions alone."""
    from kofu_xl.core import calendar

    texts = _label_texts()
    assert len(texts) > 6000
    fast = [(_read(parse_month, t), _read(parse_column, t)) for t in texts]
    monkeypatch.setattr(calendar, "_form_label", lambda s, *, fiscal: None)
    slow = [(_read(parse_month, t), _read(parse_column, t)) for t in texts]
    assert fast == slow
    assert sum(isinstance(m, str) for m, _c in slow) > 4500 and sum(isinstance(c, str) and c.startswith("FY") for _m, c in slow) > 350


@given(st.text(alphabet="RHS令和平成昭元年月度末時点実績()（）0123456789０１２３ \n.-/FY", max_size=12))
def test_any_text_reads_as_through_the_expressions(text):
    from kofu_xl.core import calendar

    fast = (_read(parse_month, text), _read(parse_column, text))
    real = calendar._form_label
    calendar._form_label = lambda s, *, fiscal: None
    try:
        slow = (_read(parse_month, text), _read(parse_column, text))
    finally:
        calendar._form_label = real
    assert fast == slow


def test_cleaning_and_month_keys_read_as_their_expressions_did():
    """_clean and _split_month without regular expressions: str.split's white space is \\s,
    str.isdecimal is \\d (each checked over every code point), and the same results as the
    expressions they replace."""
    import re
    import sys

    from kofu_xl.core.calendar import _clean, _split_month

    every = [chr(c) for c in range(sys.maxunicode + 1)]
    assert [c for c in every if bool(re.match(r"\s", c)) != c.isspace()] == []
    assert [c for c in every if bool(re.match(r"\d", c)) != c.isdecimal()] == []

    def clean_then(text):
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
        return re.sub(r"[（(]実績[）)]$", "", text)

    def split_then(key):
        match = re.fullmatch(r"(\d{4})-(\d{2})", key)
        if not match or not 1 <= int(match[2]) <= 12:
            raise CalendarError(key, "月のキーは YYYY-MM の形です")
        return int(match[1]), int(match[2])

    spaces = [c for c in every if c.isspace()]
    texts = [*_label_texts()[::7], *("R2年" + c + "4月" + c for c in spaces), "(実績)", "実績)", "R2年4月(実績)\n", "R2年4月 (実績 ) ",
             "R2年4月（実績)", "R2年4月(実績）", "R2年4月[実績]", "\u2028R2\x1c年\x85"]
    assert [_clean(t) for t in texts] == [clean_then(t) for t in texts]
    keys = [f"{y}-{m:02d}" for y in (1, 999, 2019, 9999) for m in range(14)]
    keys += ["2019-8", "2019-008", "20190-08", "２０１９-０８", "2019-٠٨", "2019/08", "2019-08\n", "", "FY2019", "2019-1a", "²⁰¹⁹-08"]
    assert [_read(_split_month, k) for k in keys] == [_read(split_then, k) for k in keys]
