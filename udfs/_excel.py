"""Excel-shaped arguments in, Excel-shaped results out: the private glue of kofu_udfs.

What arrives from a worksheet (through xlwings on Windows, Office.js, or pycel on Linux):
numbers as floats, empty cells as None (or ""), text as typed (full-width digits, "1,000",
"14.9%"), booleans, dates as datetimes or as Excel serial numbers, errors as "#DIV/0!"-style
strings, and ranges as 2-D lists (pycel: tuples of tuples). Nothing here computes a figure of
the plan; that is kofu_xl's job.

Conventions of every KOFU_* function:
- An empty result is "" (EMPTY), never None: xlwings (COM and Office.js) writes None as ""
  anyway, and pycel would turn a None into 0. "" shows an empty cell in Excel.
- An unusable input gives a real Excel error value, never text: text is ignored by SUM and
  charts, so a total would silently shrink. In Python the error is its code ("#VALUE!", an
  incoming "#DIV/0!" passes through unchanged, the way Excel propagates errors); Office.js
  custom functions turn such codes into error values (xlwings' errorstr_to_errortype), pycel
  treats them as errors, and the workbook's VBA wrappers turn them into CVErr() (see
  kofu_xl.ooxml.vba.xlwings_vba.cell_errors_vba). Never an exception, a message box or a traceback.
- The reason stays available: inside Python each error carries its Japanese reason
  (ErrorValue.reason, e.g. "#人口が未入力"); =KOFU_WHY("KOFU_RATE", ...) shows it in a cell
  (explain()), and 検証 reports the unusable input cell itself.
- Numbers go back as floats, converted from Decimal only here, at the very end.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal

from kofu_xl.core.calendar import CalendarError, parse_column, parse_date
from kofu_xl.core.numbers import NumberError, parse_number

__all__ = [
    "EMPTY",
    "ERROR_VALUE",
    "EXCEL_ERRORS",
    "INTERNAL_ERROR",
    "CellError",
    "ErrorValue",
    "broadcast",
    "column_key",
    "date_of",
    "excel_function",
    "explain",
    "flag",
    "flat_numbers",
    "grid",
    "line",
    "number",
    "positive",
    "problem",
    "result",
    "serial_to_date",
    "single",
    "text",
    "to_excel",
]

log = logging.getLogger("kofu_udfs")

EMPTY = ""
ERROR_VALUE = "#VALUE!"  # what every unusable input gives
# Excel's error values (Range.Value reads them as these codes through xlwings' err_to_str).
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
INTERNAL_ERROR = "#計算できません"
SHAPE_MISMATCH = "#範囲の大きさが不一致"
NOT_A_LINE = "#範囲は1行か1列"

Grid = list[list[object]]


class ErrorValue(str):
    """An Excel error value (equal to its code, e.g. "#VALUE!") that remembers its reason."""

    reason: str

    def __new__(cls, code: str, reason: str) -> ErrorValue:
        self = super().__new__(cls, code)
        self.reason = reason
        return self


def error_code(text: str) -> str:
    """The Excel error a problem shows: an incoming error keeps its code, all else #VALUE!."""
    return text if text in EXCEL_ERRORS else ERROR_VALUE


class CellError(Exception):
    """A problem with a short Japanese reason, e.g. "#人口が未入力"; the cell shows .value."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    @property
    def value(self) -> ErrorValue:
        return ErrorValue(error_code(self.text), self.text)


def problem(label: str, what: str) -> CellError:
    return CellError(f"#{label}が{what}")


# ---------------------------------------------------------------- shapes


def _is_range(value: object) -> bool:
    return isinstance(value, (list, tuple))


def grid(value: object) -> Grid:
    """Any argument as a 2-D list: a scalar is 1x1, a flat list is one row."""
    if not _is_range(value):
        return [[value]]
    rows = list(value)
    if not rows:
        return [[None]]
    if not any(_is_range(r) for r in rows):
        return [rows]
    out = [list(r) if _is_range(r) else [r] for r in rows]
    width = max(len(r) for r in out)
    return [r + [None] * (width - len(r)) for r in out]


def _shape(g: Grid) -> tuple[int, int]:
    return len(g), len(g[0])


def result(g: Grid) -> object:
    """A 1x1 result as a scalar, anything else as a 2-D list (spills / fills an array formula)."""
    return g[0][0] if _shape(g) == (1, 1) else g


def line(value: object) -> tuple[list[object], Callable[[list[object]], object]]:
    """A 1xN or Nx1 range as a flat list, with the function that gives a result back in
    the same orientation. Raises CellError for a block of several rows and columns."""
    g = grid(value)
    rows, cols = _shape(g)
    if rows == 1:
        return g[0], lambda flat: result([list(flat)])
    if cols == 1:
        return [r[0] for r in g], lambda flat: result([[v] for v in flat])
    raise CellError(NOT_A_LINE)


def single(value: object, label: str) -> object:
    """A one-cell argument: a 1x1 range (xlwings passes cells as [[v]]) as its value."""
    g = grid(value)
    if _shape(g) != (1, 1):
        raise problem(label, "1つのセルでない")
    return g[0][0]


def broadcast(fn: Callable[..., object], *args: object) -> object:
    """Apply fn cell by cell. Each argument is a single value or a range; ranges must all
    have the same shape, single values are repeated. One cell's problem stays in that cell."""
    grids = [grid(a) for a in args]
    shapes = {_shape(g) for g in grids if _shape(g) != (1, 1)}
    if len(shapes) > 1:
        raise CellError(SHAPE_MISMATCH)
    rows, cols = shapes.pop() if shapes else (1, 1)

    def at(g: Grid, r: int, c: int) -> object:
        return g[0][0] if _shape(g) == (1, 1) else g[r][c]

    return result([[cell(fn, *(at(g, r, c) for g in grids)) for c in range(cols)] for r in range(rows)])


def cell(fn: Callable[..., object], *values: object) -> object:
    """One cell's value: fn's result made Excel-shaped, or the problem's error value."""
    try:
        return to_excel(fn(*values))
    except CellError as exc:
        return exc.value


# ---------------------------------------------------------------- values in


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _passed_error(value: object) -> None:
    """Raise an incoming Excel error ("#DIV/0!") unchanged; other "#..." text is #VALUE!."""
    if isinstance(value, ErrorValue):
        raise CellError(value.reason)
    if isinstance(value, str) and value.strip().startswith("#"):
        raise CellError(value.strip())


def number(value: object, label: str, *, required: bool = False, percent: bool = False) -> Decimal | None:
    """A clerk's number as an exact Decimal; None for an empty cell (CellError if required).

    percent=True: text such as "14.9%" or "135%" is a fraction (0.149, 1.35); otherwise a
    percent sign is a problem (a count or an amount is never typed in percent).
    """
    if _blank(value):
        if required:
            raise problem(label, "未入力")
        return None
    _passed_error(value)
    if isinstance(value, (bool, dt.date, dt.datetime)):
        raise problem(label, "数値でない")
    try:
        parsed = parse_number(value)
    except NumberError:
        raise problem(label, "数値でない") from None
    if parsed.percent:
        if not percent:
            raise problem(label, "数値でない")
        return parsed.value / 100
    return parsed.value


def positive(value: Decimal | None, label: str) -> Decimal | None:
    if value is not None and value <= 0:
        raise problem(label, "0以下")
    return value


def flag(value: object, label: str) -> bool:
    """An optional TRUE/FALSE argument; empty is FALSE, 1/0 and "TRUE"/"はい" are accepted."""
    if _blank(value):
        return False
    _passed_error(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    text = unicodedata.normalize("NFKC", str(value)).strip().upper()
    if text in ("TRUE", "はい", "1"):
        return True
    if text in ("FALSE", "いいえ", "0"):
        return False
    raise problem(label, "TRUEかFALSEでない")


# Excel's 1900 date system: serial 60 is the non-existent 1900-02-29, serial 61 is 1900-03-01.
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MAX_SERIAL = 2958465  # 9999-12-31


def serial_to_date(serial: float | int | Decimal) -> dt.date:
    """An Excel date serial (1900 date system, as pycel and Office.js pass dates) as a date."""
    days = int(serial)
    if days != serial or not 61 <= days <= _MAX_SERIAL:
        raise ValueError(f"not a date serial: {serial!r}")
    return _EXCEL_EPOCH + dt.timedelta(days=days)


def date_of(value: object) -> dt.date | None:
    """A date given as a date/datetime or an Excel serial; None for anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return serial_to_date(value)
        except (ValueError, OverflowError):
            return None
    return None


def column_key(value: object, label: str) -> str | None:
    """A column of the form as its key ("2020-07", "FY2021"): from a key, a 和暦 label
    ("R2年7月", "R3年度", "R元年8月(実績)"), a date or a date serial. None when empty."""
    if _blank(value):
        return None
    _passed_error(value)
    if isinstance(value, bool):
        raise problem(label, "読めない")
    day = date_of(value)
    if day is not None:
        return f"{day.year}-{day.month:02d}"
    if not isinstance(value, str):
        raise problem(label, "読めない")
    try:
        return parse_column(value)
    except CalendarError:
        pass
    try:
        day = parse_date(value)
    except CalendarError:
        raise problem(label, "読めない") from None
    return f"{day.year}-{day.month:02d}"


def text(value: object) -> str | None:
    """Text as typed (numbers as their digits: 122327.0 -> "122327"); None when empty."""
    if _blank(value):
        return None
    _passed_error(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------- values out


def to_excel(value: object) -> object:
    """A core value as Excel holds it: Decimal -> float, None -> "" (an empty cell)."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int):
        return float(value)
    return value


def _map(value: object, leaf: Callable[[object], object]) -> object:
    if isinstance(value, list):
        return [_map(v, leaf) for v in value]
    return leaf(value)


def _plain(value: object) -> object:
    # ErrorValue -> its plain code: what Excel, Office.js and pycel receive.
    return str(value) if isinstance(value, ErrorValue) else value


def _call(fn: Callable[..., object], args: tuple[object, ...]) -> object:
    try:
        return fn(*args)
    except CellError as exc:
        return exc.value
    except Exception:  # noqa: BLE001 - a worksheet cell must never see a traceback
        from kofu_xl.logs import setup_logging

        setup_logging()  # the helpdesk's file (kofu_xl.logs), opened on the first failure
        log.exception("%s failed", fn.__name__)
        return ErrorValue(ERROR_VALUE, INTERNAL_ERROR)


def excel_function(fn: Callable[..., object]) -> Callable[..., object]:
    """Guard a worksheet function: whatever goes wrong, the cell gets an Excel error value.

    A CellError gives #VALUE! (or the incoming error's own code); an unexpected exception
    is logged with its traceback and gives #VALUE! too (no traceback in a cell, no message
    box). The unguarded function stays reachable for explain() as __wrapped__.
    """

    @functools.wraps(fn)
    def guarded(*args: object) -> object:
        return _map(_call(fn, args), _plain)

    return guarded


def explain(fn: Callable[..., object], *args: object) -> object:
    """fn's result with each error value replaced by its reason ("#人口が未入力")."""
    inner = getattr(fn, "__wrapped__", fn)
    return _map(_call(inner, args), lambda v: v.reason if isinstance(v, ErrorValue) else v)


def reasons(fn: Callable[..., object], *args: object) -> list[str]:
    """The distinct reasons of the error values fn gives for these arguments, in order."""
    found: list[str] = []
    inner = getattr(fn, "__wrapped__", fn)

    def leaf(v: object) -> object:
        if isinstance(v, ErrorValue) and v.reason not in found:
            found.append(v.reason)
        return v

    _map(_call(inner, args), leaf)
    return found


def flat_numbers(values: Sequence[object], label: str) -> tuple[list[Decimal | None], dict[int, ErrorValue]]:
    """Numbers of a row, with the problems by position (their numbers are None)."""
    numbers: list[Decimal | None] = []
    problems: dict[int, ErrorValue] = {}
    for i, v in enumerate(values):
        try:
            numbers.append(number(v, label))
        except CellError as exc:
            numbers.append(None)
            problems[i] = exc.value
    return numbers, problems
