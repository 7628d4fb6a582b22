"""Exact numbers and the tolerant reading of what clerks type.

Everything numeric in kofu-xl is a :class:`decimal.Decimal`. Binary floats
that arrive from Excel or JSON are converted through their shortest repr,
so 0.1 becomes Decimal("0.1") and never 0.1000000000000000055511151231257827.
"""

from __future__ import annotations

import decimal
import unicodedata
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from msgspec import Struct

from kofu_xl.core.text import compiled_at_first_use
from kofu_xl.errors import NumberError

__all__ = [
    "CTX",
    "NumberError",
    "Parsed",
    "ceil_div_thousand",
    "parse_number",
    "round_half_up",
    "to_decimal",
    "to_json_number",
]

# 34 significant digits (IEEE decimal128); every division in the core runs here.
CTX = decimal.Context(prec=34, rounding=ROUND_HALF_UP, traps=[decimal.InvalidOperation, decimal.DivisionByZero])

# Units a clerk may type after a figure; they carry no meaning for the value.
_UNITS = ("千円", "円", "人", "名", "枚", "件", "台", "箇所", "か所", "ヶ所", "回", "日", "時間", "h", "月")
# (compiled at first use: a check reads numbers, not text)
_number_re = compiled_at_first_use(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_plain_re = compiled_at_first_use(r"[0-9]+(\.[0-9]+)?")
_grouped_re = compiled_at_first_use(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


class Parsed(Struct, frozen=True):
    """A parsed number and how it was read.

    ``normalized`` is True when the input had to be rewritten (full-width digits,
    thousands separators, a percent sign, a unit, surrounding spaces).
    ``percent`` is True when the text ended in a percent sign: the value is then
    the figure in percent points as typed ("14.9%" -> 14.9, percent=True).
    """

    value: Decimal
    normalized: bool = False
    percent: bool = False
    note: str = ""


def to_decimal(value: int | float | Decimal | str) -> Decimal:
    """Strict conversion of an already-clean number to Decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise NumberError(value, "真偽値は数値として使えません")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NumberError(value, "有限の数値ではありません")
        # repr gives the shortest string that round-trips: 97200.0 -> "97200.0", 1.35 -> "1.35".
        return Decimal(repr(value))
    return parse_number(value).value


def parse_number(value: object) -> Parsed:
    """Read a number the way a Japanese clerk types it.

    Accepts ints, floats, Decimals and text such as "１２３", "1,000", " 63,723人 ",
    "14.9%", "△5" (Japanese accounting minus). Raises :class:`NumberError` otherwise.
    """
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Parsed(to_decimal(value))
    if type(value) is str and _plain_re().fullmatch(value):
        # Plain ASCII digits (every number of a package's JSON, which keeps Decimals as
        # strings): the steps below would leave them as they are; skip them.
        return Parsed(Decimal(value))
    return _parse_text(value)


def _parse_text(value: object) -> Parsed:
    if not isinstance(value, str):
        raise NumberError(value, "数字以外の文字が含まれています")
    text = unicodedata.normalize("NFKC", value)
    normalized = text != value
    stripped = text.strip().replace(" ", "")
    if stripped != text:
        normalized = True
    text = stripped
    if not text:
        raise NumberError(value, "空欄です")
    if text.startswith("#"):
        raise NumberError(value, f"Excel のエラー値 {text} です")
    if text[0] in "△▲":
        text = "-" + text[1:]
        normalized = True
    percent = False
    if text.endswith("%"):
        text = text[:-1]
        percent = True
        normalized = True
    for unit in _UNITS:
        if text.endswith(unit) and len(text) > len(unit):
            text = text[: -len(unit)]
            normalized = True
            break
    if "," in text:
        if not _grouped_re().match(text):
            raise NumberError(value, "桁区切りのカンマの位置が正しくありません")
        text = text.replace(",", "")
        normalized = True
    if not _number_re().match(text):
        raise NumberError(value, "数字以外の文字が含まれています")
    note = f"「{value}」を {text}{'%' if percent else ''} と読み替えました" if normalized else ""
    return Parsed(Decimal(text), normalized=normalized, percent=percent, note=note)


def round_half_up(value: Decimal, places: int = 0) -> Decimal:
    """Round as Excel's ROUND does (half away from zero)."""
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    # enough digits for any magnitude, so rounding is exact and never overflows the context
    prec = max(CTX.prec, value.adjusted() + places + 2)
    ctx = _ROUNDING if prec == CTX.prec else decimal.Context(prec=prec, rounding=ROUND_HALF_UP, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    return value.quantize(quantum, rounding=ROUND_HALF_UP, context=ctx)


# round_half_up's context for every ordinary magnitude, and its quanta (built once, not per call)
_ROUNDING = decimal.Context(prec=CTX.prec, rounding=ROUND_HALF_UP, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}


def ceil_div_thousand(yen: Decimal) -> Decimal:
    """Yen to 千円, rounded up as the form's cost working does (97,200円 -> 98)."""
    return (yen / 1000).to_integral_value(rounding=ROUND_CEILING)


def to_json_number(value: Decimal | int | None) -> int | float | None:
    """Decimal to a JSON number: an int when integral, else the nearest float."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return float(value)
