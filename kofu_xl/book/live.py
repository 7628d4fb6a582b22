"""The live Excel book (xlwings) as a validate-and-submit surface.

Reads and writes are separated: the book's values are read once, one call per sheet, into a
:class:`~kofu_xl.book.read.GridSource` snapshot; every later decision (where the previous
results end, which colours to restore, where the next log row goes) is taken from that snapshot
and from what this surface itself wrote. So the same code works on desktop Excel (COM), where
writes are visible at once, and on xlwings' remote engine (xlwings Server, the tests), where
they are queued as actions and never read back. Input cells are never written: values go to
検証結果 and 提出記録 only; on the plan's sheets only fills (colours) change.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kofu_xl.book.layout import (
    FIRST_LOG_ROW,
    FIRST_RESULT_ROW,
    HIGHLIGHT_MEMO_COL,
    HIGHLIGHT_MEMO_FIRST_ROW,
    HIGHLIGHT_MEMO_HEADER_ROW,
    HIGHLIGHT_MEMO_HEADERS,
    HIGHLIGHT_MEMO_WIDTH,
    LOG,
    LOG_COLS,
    LOG_HEADERS,
    RESULT_COLS,
    RESULT_HEADERS,
    RESULT_LINK_COL,
    RESULTS,
)
from kofu_xl.book.memo import builder_fills, hex_colour, memo_value, parse_memo
from kofu_xl.book.read import GridSource, workbook_layout
from kofu_xl.ooxml.cellref import col_letter

__all__ = ["BookSurface", "book_dir"]

log = logging.getLogger(__name__)

URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


# ---------------------------------------------------------------- the surface


def book_dir(book: Any) -> Path | None:
    """The folder of a saved local book; None for a new book or one on OneDrive/SharePoint (a URL)."""
    try:
        fullname = str(book.fullname)
    except Exception:  # xlwings cannot map some OneDrive/SharePoint URLs to a local path
        return None
    if URL_RE.match(fullname):
        return None
    path = Path(fullname)
    return path.parent if path.is_absolute() else None


class BookSurface:
    """:class:`kofu_xl.app.submit.Surface` over an ``xlwings.Book``.

    ``fill_of(sheet, cell)`` gives a cell's current fill ("#RRGGBB" or None) where the
    engine cannot read it; by default the fill the builder gives it (:func:`builder_fills`).
    """

    def __init__(self, book: Any, *, fill_of: Callable[[str, str], str | None] | None = None) -> None:
        self.book = book
        self.book_name: str = str(book.name)
        self.book_dir: Path | None = book_dir(book)
        # the same submit lock as `kofu-xl submit` on this file (a book never saved has none)
        self.lock_key: Path | None = Path(os.path.realpath(self.book_dir / self.book_name)) if self.book_dir else None
        self.last_status: str | None = None
        self._fill_of = fill_of
        self._builder_fills: dict[tuple[str, str], str] | None = None
        self._source: GridSource | None = None
        self._status_ok = True
        # state of 検証結果 / 提出記録: read from the snapshot, then kept up to date by our own writes
        self._results_end: int | None = None  # last used row of the results (A:H), 0 for none
        self._memo: dict[tuple[str, str], str | None] | None = None
        self._memo_end = 0
        self._log_next: int | None = None

    # -- reading: one snapshot, one call per sheet

    def cells(self) -> GridSource:
        if self._source is None:
            grids: dict[str, list[list[Any]]] = {}
            for sheet in self.book.sheets:
                rng = sheet.used_range
                values = rng.options(ndim=2).value or [[]]
                top, left = rng.row, rng.column
                pad = [None] * (left - 1)
                grid: list[list[Any]] = [[] for _ in range(top - 1)]
                grid += [pad + [None if v == "" else v for v in row] for row in values]
                grids[sheet.name] = grid
            self._source = GridSource(grids)
        return self._source

    def _rows(self, sheet: str, first_row: int, first_col: int, width: int) -> list[list[Any]]:
        grid = self.cells().grids.get(sheet) or []
        out = []
        for line in grid[first_row - 1 :]:
            cells = [line[c] if c < len(line) else None for c in range(first_col - 1, first_col - 1 + width)]
            out.append([None if v == "" else v for v in cells])
        return out

    @staticmethod
    def _last_used(rows: list[list[Any]]) -> int:
        """How many of ``rows`` there are up to the last one with a value."""
        last = 0
        for i, row in enumerate(rows, start=1):
            if any(v is not None for v in row):
                last = i
        return last

    def _load_results_state(self) -> None:
        if self._memo is not None:
            return
        found = self._rows(RESULTS, FIRST_RESULT_ROW, 1, RESULT_COLS)
        self._results_end = FIRST_RESULT_ROW - 1 + self._last_used(found)
        memo_rows = self._rows(RESULTS, HIGHLIGHT_MEMO_FIRST_ROW, HIGHLIGHT_MEMO_COL, HIGHLIGHT_MEMO_WIDTH)
        self._memo_end = HIGHLIGHT_MEMO_FIRST_ROW - 1 + self._last_used(memo_rows)
        self._memo = parse_memo(memo_rows)

    def _sheet(self, name: str) -> Any:
        """検証結果 / 提出記録; added again (with its headers) when the clerk deleted it."""
        source = self.cells()
        if name in source.grids:
            return self.book.sheets[name]
        sheets = self.book.sheets
        sheet = sheets.add(name, after=sheets[len(sheets) - 1])
        first = FIRST_RESULT_ROW if name == RESULTS else FIRST_LOG_ROW
        sheet.range((first - 1, 1)).value = [list(RESULT_HEADERS if name == RESULTS else LOG_HEADERS)]
        source.grids[name] = []
        return sheet

    # -- 検証結果 and colours

    def show_findings(self, rows: list[list[Any]], links: dict[int, str], highlights: dict[tuple[str, str], str]) -> None:
        self._load_results_state()
        assert self._memo is not None and self._results_end is not None
        sheet = self._sheet(RESULTS)
        names = set(self.cells().sheet_names())
        width = max([RESULT_COLS, *(len(r) for r in rows)])
        # 1. the previous run's values and links go
        if self._results_end >= FIRST_RESULT_ROW:
            old = sheet.range((FIRST_RESULT_ROW, 1), (self._results_end, width))
            old.clear_contents()
            _delete_links(old)
        if self._memo_end >= HIGHLIGHT_MEMO_FIRST_ROW:
            sheet.range((HIGHLIGHT_MEMO_FIRST_ROW, HIGHLIGHT_MEMO_COL), (self._memo_end, HIGHLIGHT_MEMO_COL + HIGHLIGHT_MEMO_WIDTH - 1)).clear_contents()
        # 2. the original fill of every cell coloured now (from the memo when coloured before)
        wanted = {(s, c.upper()): colour for (s, c), colour in highlights.items() if s in names}
        memo = {key: self._memo[key] if key in self._memo else self._current_fill(*key) for key in wanted}
        # 3. restore what the previous run coloured and this one does not
        for (s, c), original in self._memo.items():
            if (s, c) not in wanted and s in names:
                self.book.sheets[s].range(c).color = original
        # 4. the findings, one write; text format so that "1,000" or "14.9%" stay as written
        padded = [list(r) + [""] * (width - len(r)) for r in rows]
        block = sheet.range((FIRST_RESULT_ROW, 1), (FIRST_RESULT_ROW + len(padded) - 1, width))
        block.number_format = "@"
        sheet.range((FIRST_RESULT_ROW, 1)).value = padded
        for i, target in sorted(links.items()):
            text = str(rows[i][RESULT_LINK_COL - 1] or target) if i < len(rows) else target
            _add_link(sheet.range((FIRST_RESULT_ROW + i, RESULT_LINK_COL)), target, text, f"クリックすると {text} に移動します")
        # 5. colour this run's cells
        for (s, c), colour in wanted.items():
            self.book.sheets[s].range(c).color = "#" + colour.lstrip("#")
        # 6. the memo (hidden)
        memo_rows = [[s, c, memo_value(original)] for (s, c), original in memo.items()]
        sheet.range((HIGHLIGHT_MEMO_HEADER_ROW, HIGHLIGHT_MEMO_COL)).value = [list(HIGHLIGHT_MEMO_HEADERS)]
        if memo_rows:
            area = sheet.range((HIGHLIGHT_MEMO_FIRST_ROW, HIGHLIGHT_MEMO_COL), (HIGHLIGHT_MEMO_FIRST_ROW + len(memo_rows) - 1, HIGHLIGHT_MEMO_COL + HIGHLIGHT_MEMO_WIDTH - 1))
            area.number_format = "@"
            sheet.range((HIGHLIGHT_MEMO_FIRST_ROW, HIGHLIGHT_MEMO_COL)).value = memo_rows
        first, last = col_letter(HIGHLIGHT_MEMO_COL), col_letter(HIGHLIGHT_MEMO_COL + HIGHLIGHT_MEMO_WIDTH - 1)
        sheet.range(f"{first}:{last}").columns.hidden = True
        # what is in the book now, for a second call within the same run
        self._results_end = FIRST_RESULT_ROW + len(padded) - 1
        self._memo = dict(memo)
        self._memo_end = HIGHLIGHT_MEMO_FIRST_ROW + len(memo_rows) - 1

    def _current_fill(self, sheet: str, cell: str) -> str | None:
        try:
            return hex_colour(self.book.sheets[sheet].range(cell).color)
        except (NotImplementedError, AttributeError, ValueError, TypeError):
            pass  # the remote engine cannot read fills synchronously
        if self._fill_of is not None:
            return self._fill_of(sheet, cell)
        if self._builder_fills is None:
            self._builder_fills = builder_fills(workbook_layout(self.cells(), self.book_name))
        return self._builder_fills.get((sheet, cell.upper()))

    # -- 提出記録

    def log_rows(self) -> list[list[Any]]:
        rows = self._rows(LOG, FIRST_LOG_ROW, 1, LOG_COLS)
        if self._log_next is None:
            self._log_next = FIRST_LOG_ROW + self._last_used(rows)
        return [r for r in rows if any(v is not None for v in r)]

    def append_log(self, row: list[Any]) -> None:
        if self._log_next is None:
            self.log_rows()
        assert self._log_next is not None
        self._sheet(LOG).range((self._log_next, 1)).value = [list(row)]
        self._log_next += 1

    # -- 実績比較 (「実績取込」)

    def write_values(self, sheet: str, cell: str, rows: list[list[Any]]) -> None:
        """Write a block of values with its top-left corner at ``cell`` (one call).

        「実績取込」 fills the input rows of 実績比較 with it; no other cell is written.
        """
        self.book.sheets[sheet].range(cell).value = [list(r) for r in rows]

    # -- status, save

    def status(self, text: str) -> None:
        self.last_status = text
        if not self._status_ok:
            return
        try:
            self.book.app.status_bar = text
        except Exception:  # the remote engine has no status bar
            self._status_ok = False

    def release_status(self) -> None:
        """Give the status bar back to Excel."""
        if self._status_ok:
            try:
                self.book.app.status_bar = False
            except Exception:
                self._status_ok = False

    def save(self) -> None:
        """Nothing to do: the changes are in the open book; the clerk saves it."""

    def discard(self) -> None:
        """Nothing to undo: only 検証結果, 提出記録 and fills were touched."""


# ---------------------------------------------------------------- hyperlinks


def _com(rng: Any) -> Any:
    """The pywin32 Range behind ``rng`` on desktop Excel for Windows, else None."""
    try:
        if sys.platform == "win32" and rng.sheet.book.app.engine.name == "excel":
            return rng.api
    except Exception:
        pass
    return None


def _add_link(rng: Any, target: str, text: str, tip: str) -> None:
    """A link to a cell of this book (``target`` = "'本表1-1'!L25").

    xlwings' ``add_hyperlink`` only passes an address; Excel's own way to a place in
    the same book is ``SubAddress`` (xlwings issue #1125), used where COM is at hand.
    Elsewhere the address "#'sheet'!A1" (the in-document form of a link) is sent.
    """
    api = _com(rng)
    if api is not None:
        try:
            api.Hyperlinks.Add(Anchor=api, Address="", SubAddress=target, ScreenTip=tip, TextToDisplay=text)
            return
        except Exception:
            log.debug("Hyperlinks.Add with SubAddress failed; using add_hyperlink", exc_info=True)
    rng.add_hyperlink("#" + target, text, tip)


def _delete_links(rng: Any) -> None:
    """Remove the hyperlinks of a range (desktop Excel; the remote engine has no such action)."""
    api = _com(rng)
    if api is not None:
        try:
            api.Hyperlinks.Delete()
        except Exception:
            log.debug("Hyperlinks.Delete failed", exc_info=True)
