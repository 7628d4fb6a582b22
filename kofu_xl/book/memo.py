"""The colour memo of 検証結果 (shared by the file surface and the live book).

Highlight memo (shared with the file surface)
---------------------------------------------
To restore exactly the colours a run changed, 検証結果 keeps a hidden memo, one row
per cell that kofu-xl has coloured, from row ``HIGHLIGHT_MEMO_FIRST_ROW`` down:

======  ======================================================================
column  content
======  ======================================================================
K (11)  the sheet name, e.g. ``本表1-1``
L (12)  the cell, e.g. ``L25``
M (13)  the fill the cell had *before kofu-xl first coloured it*: ``#RRGGBB``,
        or ``none`` (``NO_FILL``) for no fill
======  ======================================================================

The memo ends at the first row whose column K is empty; unreadable rows are skipped.
Row ``HIGHLIGHT_MEMO_HEADER_ROW`` holds captions, columns K:M are hidden. A run first
restores every memo cell it does not colour again, then colours its own cells and
rewrites the memo; a cell coloured again keeps its original fill in the memo.
Colours are stored with ``#`` so that Excel never takes them for numbers.
"""

from __future__ import annotations

import re
from typing import Any

from kofu_xl.book.layout import CALC_RGB, DAILY, HIGHLIGHT_MEMO_WIDTH, INPUT_RGB, NO_FILL, ROWS_11, ROWS_12, ROWS_WORK, S11, S12, WORK, Layout
from kofu_xl.ooxml.cellref import parse_ref, ref

__all__ = ["builder_fills", "hex_colour", "memo_value", "parse_memo"]

_HEX = re.compile(r"#?([0-9A-Fa-f]{6})\Z")


# ---------------------------------------------------------------- the memo


def parse_memo(rows: list[list[Any]]) -> dict[tuple[str, str], str | None]:
    """The memo's rows (K:M from its first row) as (sheet, cell) -> "#RRGGBB" or None (no fill)."""
    memo: dict[tuple[str, str], str | None] = {}
    for row in rows:
        sheet, cell, fill = (list(row) + [None] * HIGHLIGHT_MEMO_WIDTH)[:HIGHLIGHT_MEMO_WIDTH]
        if sheet is None or sheet == "":
            break
        try:
            parse_ref(str(cell))
        except ValueError:
            continue
        text = "" if fill is None else str(fill).strip()
        if text.lower() == NO_FILL:
            colour = None
        elif m := _HEX.match(text):
            colour = "#" + m[1].upper()
        else:
            continue
        memo.setdefault((str(sheet), str(cell).upper()), colour)
    return memo


def memo_value(colour: str | None) -> str:
    return NO_FILL if colour is None else colour


def hex_colour(rgb: Any) -> str | None:
    """xlwings' colour (an RGB tuple, None for no fill) as "#RRGGBB"."""
    if rgb is None:
        return None
    if isinstance(rgb, str):
        m = _HEX.match(rgb.strip())
        if not m:
            raise ValueError(rgb)
        return "#" + m[1].upper()
    r, g, b = rgb
    return f"#{int(r):02X}{int(g):02X}{int(b):02X}"


# ---------------------------------------------------------------- fills the builder gives


def builder_fills(layout: Layout) -> dict[tuple[str, str], str]:
    """The fill `kofu_xl.book.build` gives each cell a finding can point at, (sheet, cell) ->
    "#RRGGBB": input cells pale yellow, computed cells grey. Other cells have none.

    Used only where the engine cannot read a fill (xlwings' remote engine), so that
    the memo still holds the colour to restore.
    """
    hexes = {"input": "#" + INPUT_RGB, "calc": "#" + CALC_RGB}
    return {key: hexes[role] for key, role in _cell_roles(layout).items()}


def _cell_roles(layout: Layout) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> "input" / "calc" for every data cell of the layout."""
    roles: dict[tuple[str, str], str] = {}
    for spec in ROWS_11:
        if spec.role != "label":
            row = layout.rows11[spec.key]
            for key in layout.columns:
                roles[(S11, ref(layout.col11(key), row))] = spec.role
    for specs, rows, col_of, sheet in ((ROWS_12, layout.rows12, layout.col12, S12), (ROWS_WORK, layout.rows_work, layout.col_work, WORK)):
        for spec in specs:
            if spec.role != "label":
                for key in layout.cost_years:
                    roles[(sheet, ref(col_of(key), rows[spec.key]))] = spec.role
    for s in layout.scalars.values():
        # the base rate is computed (=KOFU_RATE) on the form, every other single cell is typed
        roles[(s.sheet, s.cell)] = "calc" if s.path == "basic.base_rate_pct" else "input"
    for block in layout.daily_blocks.values():
        for _day, _date_cell, count_cell in block.cells():
            roles[(DAILY, count_cell)] = "input"
        for i in range(7):
            roles[(DAILY, block.weekday_total_cell(i))] = "calc"
        roles[(DAILY, block.month_total_cell)] = "calc"
    return roles
