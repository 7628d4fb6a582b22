"""Column keys, fiscal years and 和暦 (Japanese era) labels.

Column keys are the language of the core: ``"2019-08"`` for a month and
``"FY2021"`` for a fiscal year (April 2021 to March 2022). The form speaks
和暦: ``"R元年8月"``, ``"R3年度"``. This module converts both ways.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence

from msgspec import Struct

from kofu_xl.core.text import compiled_at_first_use
from kofu_xl.errors import CalendarError

__all__ = [
    "ERAS",
    "Column",
    "CalendarError",
    "column_label",
    "fiscal_year",
    "fiscal_year_label",
    "form_columns",
    "month_label",
    "month_range",
    "months_of_fiscal_year",
    "parse_column",
    "parse_date",
    "parse_month",
    "to_wareki",
    "wareki_date",
]


class Era(Struct, frozen=True):
    name: str  # 令和
    letter: str  # R
    start: dt.date


# Newest first. Only the eras a plan or its statistics can mention.
ERAS: tuple[Era, ...] = (
    Era("令和", "R", dt.date(2019, 5, 1)),
    Era("平成", "H", dt.date(1989, 1, 8)),
    Era("昭和", "S", dt.date(1926, 12, 25)),
)
_ERA_BY_TOKEN = {e.name: e for e in ERAS} | {e.letter: e for e in ERAS}


def to_wareki(day: dt.date) -> tuple[Era, int]:
    """The era and era-year of a date (2019-05-01 -> 令和 1)."""
    for era in ERAS:
        if day >= era.start:
            return era, day.year - era.start.year + 1
    raise CalendarError(day, "昭和より前の日付で、対応していません")


def _year_text(year: int) -> str:
    return "元" if year == 1 else str(year)


def wareki_date(day: dt.date, *, short: bool = False) -> str:
    """``令和元年10月3日`` (or ``R元.10.3`` with short=True)."""
    era, year = to_wareki(day)
    if short:
        return f"{era.letter}{_year_text(year)}.{day.month}.{day.day}"
    return f"{era.name}{_year_text(year)}年{day.month}月{day.day}日"


def month_label(key: str, *, short: bool = True) -> str:
    """``"2019-08"`` -> ``"R元年8月"`` (short) or ``"令和元年8月"``.

    The era of a month is the era of its last day, so April 2019 is 平成31年4月
    and May 2019 is 令和元年5月.
    """
    year, month = _split_month(key)
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))
    era, eyear = to_wareki(last)
    return f"{era.letter if short else era.name}{_year_text(eyear)}年{month}月"


def fiscal_year(key_or_date: str | dt.date) -> int:
    """Fiscal year (April-March) of a month key or a date: 2020-03 -> 2019."""
    if isinstance(key_or_date, dt.date):
        year, month = key_or_date.year, key_or_date.month
    else:
        year, month = _split_month(key_or_date)
    return year if month >= 4 else year - 1


def fiscal_year_label(fy: int, *, short: bool = True) -> str:
    """2021 -> ``"R3年度"``. The era is that of the fiscal year's last day, counted
    from the year the fiscal year begins: FY2019 = 令和元年度, FY2018 = 平成30年度."""
    era, _ = to_wareki(dt.date(fy + 1, 3, 31))
    eyear = fy - era.start.year + 1
    if eyear < 1:  # a fiscal year that began in the previous era and ended in it too
        era, eyear = to_wareki(dt.date(fy, 4, 1))
    return f"{era.letter if short else era.name}{_year_text(eyear)}年度"


def months_of_fiscal_year(fy: int) -> list[str]:
    return [f"{fy + (m < 4)}-{m:02d}" for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]


def month_range(first: str, last: str) -> list[str]:
    """Month keys from first to last inclusive."""
    y, m = _split_month(first)
    ly, lm = _split_month(last)
    out: list[str] = []
    while (y, m) <= (ly, lm):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class Column(Struct, frozen=True, dict=True):
    """One column of 本表1-1: a month or a fiscal year."""

    key: str  # "2019-08" or "FY2021"
    label: str  # "R元年8月(実績)" as on the form

    @functools.cached_property  # every rule asks every column (the instance's own dict: frozen fields untouched)
    def is_month(self) -> bool:
        return not self.key.startswith("FY")

    @property
    def months(self) -> list[str]:
        """The months the column covers."""
        return list(self._months)

    @functools.cached_property
    def _months(self) -> tuple[str, ...]:
        return (self.key,) if self.is_month else tuple(months_of_fiscal_year(int(self.key[2:])))

    @functools.cached_property
    def last_month(self) -> str:
        return self._months[-1]


@functools.lru_cache(maxsize=1024)
def column_label(key: str) -> str:
    """``"2019-08"`` -> ``"R元年8月"``; ``"FY2021"`` -> ``"R3年度"``."""
    if key.startswith("FY"):
        return fiscal_year_label(int(key[2:]))
    return month_label(key)


def form_columns(first_month: str, last_month: str, fiscal_years: Sequence[int], actual_through: str | None) -> list[Column]:
    """The columns of 本表1-1: monthly from first to last, then whole fiscal years."""
    return list(_form_columns(first_month, last_month, tuple(fiscal_years), actual_through))


@functools.lru_cache(maxsize=64)
def _form_columns(first_month: str, last_month: str, fiscal_years: tuple[int, ...], actual_through: str | None) -> tuple[Column, ...]:
    cols = []
    for key in month_range(first_month, last_month):
        label = month_label(key)
        if actual_through is not None and key <= actual_through:
            label += "(実績)"
        cols.append(Column(key, label))
    cols.extend(Column(f"FY{fy}", fiscal_year_label(fy)) for fy in fiscal_years)
    return tuple(cols)


# ---------------------------------------------------------------- parsing

_ERA_PREFIX = r"(令和|平成|昭和|[RHS])\s*(元|\d{1,2})"
# Compiled at first use: a check of a workbook reads only labels spelled as the form spells them
# (its column headers, its months), which _form_label reads without them.
_wareki_month_re = compiled_at_first_use(rf"^{_ERA_PREFIX}\s*[年.\-/]\s*(\d{{1,2}})\s*月?(末|末時点)?$")
_wareki_fy_re = compiled_at_first_use(rf"^{_ERA_PREFIX}\s*年度$")
_iso_month_re = compiled_at_first_use(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(末)?$")
_fy_re = compiled_at_first_use(r"^(FY\s*(\d{4})|(\d{4})\s*年度)$", re.IGNORECASE)


# A date typed as text (not the canonical YYYY-MM-DD; compiled at first use: a check reads no such date)
_iso_date_re = compiled_at_first_use(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_wareki_date_re = compiled_at_first_use(rf"^{_ERA_PREFIX}\s*[年.\-/]\s*(\d{{1,2}})\s*[月.\-/]\s*(\d{{1,2}})\s*日?$")


def _clean(text: str) -> str:
    # white space out (a header may wrap: "R元年8月\n(実績)"; str.split's white space is the
    # regular expressions' \s), then one 「(実績)」 at the end (NFKC made full-width brackets ASCII)
    text = "".join(unicodedata.normalize("NFKC", text).split())
    return text.removesuffix("(実績)")


def _form_label(s: str, *, fiscal: bool) -> str | None:
    """The key of a cleaned label spelled exactly as the form spells a month (month_label:
    「R2年4月」, 「令和2年4月」) or, with ``fiscal``, a fiscal year too (fiscal_year_label:
    「R3年度」, 「令和元年度」), read without the regular expressions and proven by spelling the
    key back; None for any other spelling (the expressions read it: the same key, or an error)."""
    if s[:2] in _ERA_BY_TOKEN:
        era, rest, short = _ERA_BY_TOKEN[s[:2]], s[2:], False
    elif s[:1] in _ERA_BY_TOKEN:
        era, rest, short = _ERA_BY_TOKEN[s[:1]], s[1:], True
    else:
        return None
    year_text, sep, tail = rest.partition("年")
    if not sep or not (year_text == "元" or (year_text.isascii() and year_text.isdigit() and len(year_text) <= 2)):
        return None
    year = era.start.year + (1 if year_text == "元" else int(year_text)) - 1
    try:  # (a year before 昭和 has no spelling: CalendarError)
        if fiscal and tail == "度":
            return f"FY{year}" if fiscal_year_label(year, short=short) == s else None
        month_text, sep, end = tail.partition("月")
        if sep and not end and month_text.isascii() and month_text.isdigit() and len(month_text) <= 2 and 1 <= int(month_text) <= 12:
            key = f"{year}-{int(month_text):02d}"
            return key if month_label(key, short=short) == s else None
    except CalendarError:
        pass
    return None


def _era_year(era_token: str, year_token: str) -> int:
    era = _ERA_BY_TOKEN[era_token]
    eyear = 1 if year_token == "元" else int(year_token)
    if eyear < 1:
        raise CalendarError(era_token + year_token, "年が正しくありません")
    return era.start.year + eyear - 1


def _split_month(key: str) -> tuple[int, int]:
    # "YYYY-MM": 4 and 2 decimal digits (str.isdecimal is the regular expressions' \d)
    if not (len(key) == 7 and key[4] == "-" and key[:4].isdecimal() and key[5:].isdecimal() and 1 <= int(key[5:]) <= 12):
        raise CalendarError(key, "月のキーは YYYY-MM の形です")
    return int(key[:4]), int(key[5:])


def parse_month(text: str) -> str:
    """A month in any common spelling -> ``"YYYY-MM"``.

    ``"2020-04"``, ``"2020/4"``, ``"令和2年4月"``, ``"R2年4月"``, ``"R元年8月(実績)"``, ``"R2.4"``.
    """
    if isinstance(text, (dt.date, dt.datetime)):
        return f"{text.year}-{text.month:02d}"
    s = _clean(str(text))
    if key := _form_label(s, fiscal=False):
        return key
    if m := _iso_month_re().match(s):
        year, month = int(m[1]), int(m[2])
    elif m := _wareki_month_re().match(s):
        year, month = _era_year(m[1], m[2]), int(m[3])
        _check_era(m[1], year, month, 28 if month == 2 else 30, text)
    else:
        raise CalendarError(text, "年月として読めません（例: 令和2年4月、2020-04）")
    if not 1 <= month <= 12:
        raise CalendarError(text, "月は1から12です")
    return f"{year}-{month:02d}"


def _check_era(token: str, year: int, month: int, day: int, original: object) -> None:
    """Reject dates outside their era, e.g. 令和元年4月 (still 平成)."""
    era = _ERA_BY_TOKEN[token]
    idx = ERAS.index(era)
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return
    end = ERAS[idx - 1].start if idx > 0 else None
    # A month belongs to an era when its last day does: allow 令和元年5月, reject 令和元年4月.
    if date < era.start.replace(day=1) or (end is not None and dt.date(year, month, 1) >= end):
        raise CalendarError(original, f"{era.name}の期間外の日付です")


def parse_column(text: str) -> str:
    """A column label or key -> column key: ``"R3年度"`` -> ``"FY2021"``, ``"R元年8月(実績)"`` -> ``"2019-08"``."""
    s = _clean(str(text))
    if key := _form_label(s, fiscal=True):
        return key
    if m := _fy_re().match(s):
        return f"FY{m[2] or m[3]}"
    if m := _wareki_fy_re().match(s):
        return f"FY{_era_year(m[1], m[2])}"
    return parse_month(s)


def parse_date(value: object) -> dt.date:
    """A date in ISO or 和暦 spelling, or a date/datetime object."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        try:  # the common, canonical spelling
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    s = _clean(str(value))
    try:
        if m := _iso_date_re().match(s):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _wareki_date_re().match(s):
            year = _era_year(m[1], m[2])
            _check_era(m[1], year, int(m[3]), int(m[4]), value)
            return dt.date(year, int(m[3]), int(m[4]))
    except ValueError as exc:
        if isinstance(exc, CalendarError):
            raise
        raise CalendarError(value, "存在しない日付です") from None
    raise CalendarError(value, "日付として読めません（例: 令和元年8月31日、2019-08-31）")


def iter_days(month: str) -> Iterator[dt.date]:
    year, mon = _split_month(month)
    day = dt.date(year, mon, 1)
    while day.month == mon:
        yield day
        day += dt.timedelta(days=1)
