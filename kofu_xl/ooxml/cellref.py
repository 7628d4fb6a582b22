"""A1-style cell references.

Kept here (a dozen lines) so that reading a plan does not import openpyxl, whose
package import costs ~120 ms on the `kofu-xl check` start path.
"""

from __future__ import annotations

import functools

from kofu_xl._lazy_re import compiled_at_first_use

__all__ = ["col_index", "col_letter", "parse_ref", "range_bounds", "ref"]

# The one convention of the package: ``ref(col, row)`` writes "E9" (column first, as A1 reads);
# ``parse_ref("E9")`` returns ``(row, col)`` = (9, 5), the order of openpyxl's cell(row, column).

MAX_ROW = 1_048_576  # Excel's grid
MAX_COL = 16_384

# Compiled at first use: a reference of ASCII characters (every reference a workbook holds) is
# read by _ascii_ref, which gives the same groups; the pattern reads the rest (\d: any decimal
# digit, which int reads too)
_ref_re = compiled_at_first_use(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _ascii_ref(t: str) -> tuple[str, str] | None:
    """The groups of ``_ref_re().match(t)`` for an ASCII ``t`` that ends in no line feed (a
    stripped one): (column letters, row digits), or None when it does not match."""
    s = t[1:] if t.startswith("$") else t
    digits = s.lstrip(_UPPER)
    letters = s[: len(s) - len(digits)]
    if digits.startswith("$"):
        digits = digits[1:]
    if 1 <= len(letters) <= 3 and digits.isdigit():  # (of ASCII characters only 0-9 are digits)
        return letters, digits
    return None


@functools.lru_cache(maxsize=1024)
def col_letter(col: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    if col < 1:
        raise ValueError(col)
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def ref(col: int, row: int) -> str:
    return f"{col_letter(col)}{row}"


@functools.lru_cache(maxsize=16384)  # pure; a workbook read parses the same ~1,000 references each time
def parse_ref(text: str) -> tuple[int, int]:
    """"E9" -> (row 9, column 5)."""
    parts = None
    if isinstance(text, str):
        t = text.strip().upper()
        if t.isascii():
            parts = _ascii_ref(t)
        elif (m := _ref_re().match(t)) is not None:
            parts = m[1], m[2]
    if parts is None:
        raise ValueError(f"セル番地として読めません: {text!r}")
    row, col = int(parts[1]), col_index(parts[0])
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise ValueError(f"セル番地がシートの範囲外です: {text!r}")
    return row, col


def range_bounds(text: str) -> tuple[int, int, int, int]:
    """"B3:E9" (or one cell, "B3") -> (min col, min row, max col, max row) = (2, 3, 5, 9),
    the order of openpyxl's ``range_boundaries``."""
    first, _, last = text.partition(":")
    (r1, c1), (r2, c2) = parse_ref(first), parse_ref(last or first)
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)
