"""A1-style cell references.

Kept here (a dozen lines) so that reading a plan does not import openpyxl, whose
package import costs ~120 ms on the `kofu-xl check` start path.
"""

from __future__ import annotations

import functools
import re

__all__ = ["col_index", "col_letter", "parse_ref", "range_bounds", "ref"]

# The one convention of the package: ``ref(col, row)`` writes "E9" (column first, as A1 reads);
# ``parse_ref("E9")`` returns ``(row, col)`` = (9, 5), the order of openpyxl's cell(row, column).

MAX_ROW = 1_048_576  # Excel's grid
MAX_COL = 16_384

_REF_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


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
    m = _REF_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"セル番地として読めません: {text!r}")
    row, col = int(m[2]), col_index(m[1])
    if not (1 <= row <= MAX_ROW and 1 <= col <= MAX_COL):
        raise ValueError(f"セル番地がシートの範囲外です: {text!r}")
    return row, col


def range_bounds(text: str) -> tuple[int, int, int, int]:
    """"B3:E9" (or one cell, "B3") -> (min col, min row, max col, max row) = (2, 3, 5, 9),
    the order of openpyxl's ``range_boundaries``."""
    first, _, last = text.partition(":")
    (r1, c1), (r2, c2) = parse_ref(first), parse_ref(last or first)
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)
