"""The file surface of validate-and-submit: a workbook on disk, edited in place.

Reads values with python-calamine; writes only 検証結果, 提出記録 and the fills
of the cells findings point at, through :class:`~kofu_xl.ooxml.edit.XlsxEditor`,
which copies every other part of the package unchanged (VBA, ribbon, charts,
cached values). Nothing is written until :meth:`FileSurface.save`, which
replaces the file atomically and refuses when the file changed meanwhile.

The colour memo in 検証結果 K:M (sheet, cell, original fill) is shared with the
live-Excel surface (:mod:`kofu_xl.excel`); this surface adds column N, the
original style index, so it can put a cell back exactly.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from kofu_xl.book.layout import FIRST_LOG_ROW, FIRST_RESULT_ROW, HIGHLIGHT_MEMO_COL, LOG, NO_FILL, RESULTS, Layout
from kofu_xl.book.memo import builder_fills, parse_memo
from kofu_xl.book.read import PLAN_SHEETS, GridSource, workbook_layout
from kofu_xl.errors import CannotEdit, CannotWrite, UnreadableInput
from kofu_xl.ooxml.atomic import atomic_write
from kofu_xl.ooxml.edit import XlsxEditor

__all__ = ["FileSurface"]

_RESULT_WIDTH = 8  # A:H


def _styles_of(ed: XlsxEditor, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The style index of each (sheet, cell), through one ``cell_styles`` per sheet."""
    by_sheet: dict[str, list[str]] = {}
    for sheet, cell in keys:
        by_sheet.setdefault(sheet, []).append(cell)
    return {(sheet, cell): style for sheet, cells in by_sheet.items() for cell, style in ed.cell_styles(sheet, cells).items()}


# What validate-and-submit reads of a workbook: the plan's sheets, as check reads them, and the
# two it writes (検証結果, 提出記録). A sheet it never reads (計画案, the chart's, xlwings.conf)
# cannot make it refuse a workbook that check reads.
SUBMIT_SHEETS = (*PLAN_SHEETS, RESULTS, LOG)


class FileSurface:
    """Validate-and-submit on a .xlsm/.xlsx file: of its sheets those named in ``sheets`` (None:
    every sheet) are read."""

    def __init__(self, path: Path, *, quiet: bool = False, sheets: tuple[str, ...] | None = SUBMIT_SHEETS) -> None:
        # A workbook reached through a symbolic link: the link's target is read and written
        # (replacing the link by a copy would leave the real file without its 提出記録 row).
        self.link = Path(path)
        self.path = Path(os.path.realpath(path))
        self.book_name = self.link.name
        self.book_dir = self.path.parent
        self.lock_key = self.path
        self.quiet = quiet
        self.messages: list[str] = []
        self.sheets = sheets
        self._load()

    def _load(self) -> None:
        self._grid = GridSource.from_path(self.path, sheets=self.sheets)  # the one guard runs first
        self._original = self._grid.data if self._grid.data is not None else self._read()  # the bytes it read
        self._digest = hashlib.sha256(self._original).digest()
        for sheet in (RESULTS, LOG):
            if sheet not in self._grid.sheet_names():
                raise UnreadableInput(self.path, f"シート「{sheet}」がありません。kofu-xl で作成したワークブックで実行してください")
        try:
            self.editor = XlsxEditor(self._original)
        except CannotEdit as exc:
            raise UnreadableInput(self.path, str(exc)) from None
        self._layout: Layout | None = None
        self._changed = False

    def refresh(self) -> None:
        """Read the file again (submit calls this once it holds the workbook's lock)."""
        if not self._changed and hashlib.sha256(self._read()).digest() == self._digest:
            return
        self._load()

    def _read(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise UnreadableInput(self.path, f"読み込めません（{exc.strerror or exc}）") from None

    def saved_log_rows(self) -> list[list[Any]]:
        """提出記録 as the file on disk now holds it (submit's check after saving)."""
        return [r for r in XlsxEditor(self._read()).read_rows(LOG, FIRST_LOG_ROW) if any(v not in (None, "") for v in r)]

    # -- reading
    def cells(self) -> GridSource:
        return self._grid

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            self._layout = workbook_layout(self._grid, self.path)
        return self._layout

    def log_rows(self) -> list[list[Any]]:
        return [r for r in self.editor.read_rows(LOG, FIRST_LOG_ROW) if any(v not in (None, "") for v in r)]

    # -- writing (in memory until save)
    def show_findings(self, rows: list[list[Any]], links: dict[int, str], highlights: dict[tuple[str, str], str]) -> None:
        ed = self.editor
        old_rows = ed.read_rows(RESULTS, FIRST_RESULT_ROW)
        memo_cols = slice(HIGHLIGHT_MEMO_COL - 1, HIGHLIGHT_MEMO_COL + 3)
        memo_rows = [(list(r) + [None] * 16)[memo_cols] for r in old_rows]
        colours = parse_memo([r[:3] for r in memo_rows])
        styles: dict[tuple[str, str], int] = {}
        for r in memo_rows:
            if r[0] and r[3] not in (None, ""):
                try:
                    styles[(str(r[0]), str(r[1]))] = int(r[3])
                except (TypeError, ValueError):
                    pass
        # 1. put back every cell of the previous run
        names = set(ed.sheet_names())
        live = [(key, colour) for key, colour in colours.items() if key[0] in names and key not in styles and colour is not None]
        live_styles = _styles_of(ed, [key for key, _ in live])  # each sheet's rows walked once
        restore: dict[str, dict[str, int]] = {}
        for key, colour in colours.items():
            sheet, cell = key
            if sheet not in names:
                continue
            if key in styles:
                restore.setdefault(sheet, {})[cell] = styles[key]
            elif colour is not None:  # coloured by the live surface: give back its fill
                restore.setdefault(sheet, {})[cell] = ed.highlight_style(live_styles[key], colour.lstrip("#"))
        for sheet, cells in restore.items():
            ed.set_styles(sheet, cells)
        # 2. colour this run's cells, remembering what they were
        fills = builder_fills(self.layout)
        memo: list[list[Any]] = []
        per_sheet: dict[str, dict[str, int]] = {}
        originals = _styles_of(ed, [key for key in highlights if key[0] in names])
        for (sheet, cell), rgb in highlights.items():
            if sheet not in names:
                continue
            original = originals[(sheet, cell)]
            memo.append([sheet, cell, fills.get((sheet, cell), NO_FILL), original])
            per_sheet.setdefault(sheet, {})[cell] = ed.highlight_style(original, rgb)
        for sheet, cells in per_sheet.items():
            ed.set_styles(sheet, cells)
        # 3. results A:H and the memo K:N, from row 4 down
        out: list[list[Any]] = []
        height = max(len(rows), len(memo))
        for i in range(height):
            line = list(rows[i]) if i < len(rows) else [None] * _RESULT_WIDTH
            line += [None] * (HIGHLIGHT_MEMO_COL - 1 - len(line))
            line += memo[i] if i < len(memo) else []
            out.append(line)
        hyperlinks = {f"D{FIRST_RESULT_ROW + i}": target for i, target in links.items()}
        ed.replace_rows(RESULTS, FIRST_RESULT_ROW, out, hyperlinks=hyperlinks)
        self._changed = True

    def set_values(self, sheet: str, values: dict[str, Any]) -> None:
        """Write constants into single cells ({"C5": 2000}); styles stay."""
        self.editor.set_values(sheet, values)
        self._changed = True

    def append_log(self, row: list[Any]) -> None:
        self.editor.append_row(LOG, row, min_row=FIRST_LOG_ROW)
        self._changed = True

    def status(self, text: str) -> None:
        self.messages.append(text)
        if not self.quiet:
            print(text, file=sys.stderr)

    def save(self) -> None:
        """Replace the workbook atomically with the edited package (only when changed)."""
        if not self._changed:
            return
        data = self.editor.to_bytes()
        try:
            now = self.path.read_bytes()
        except OSError as exc:
            raise UnreadableInput(self.path, f"保存前の確認で読み込めません（{exc.strerror or exc}）") from None
        if hashlib.sha256(now).digest() != self._digest:
            raise UnreadableInput(self.path, "実行中にファイルが変更されました。Excel で開いている場合は閉じてから、もう一度実行してください")
        try:
            atomic_write(self.path, data)
        except OSError as exc:
            raise CannotWrite.from_os_error(self.path, exc) from None
        self._changed = False

    def discard(self) -> None:
        self.editor = XlsxEditor(self._original)
        self._changed = False
