"""The live Excel book (xlwings) as a validate-and-submit surface, and the ribbon's Python side.

The ribbon's callbacks run ``RunPython("import kofu_xl.excel; kofu_xl.excel.<entry>()")``;
each entry point takes the calling book (``xw.Book.caller()``), wraps it in a
:class:`BookSurface` and runs the same core as ``kofu-xl submit``
(:mod:`kofu_xl.submit`). The clerk is told the outcome in Japanese, in a message box
when the engine can show one, else in the status bar. An unexpected failure becomes
a short Japanese message with the hint to run ``kofu-xl doctor``, never a traceback.

Reads and writes are separated: the book's values are read once, one call per sheet,
into a :class:`~kofu_xl.workbook.GridSource` snapshot; every later decision (where the
previous results end, which colours to restore, where the next log row goes) is taken
from that snapshot and from what this surface itself wrote. So the same code works on
desktop Excel (COM), where writes are visible at once, and on xlwings' remote engine
(xlwings Server, the tests), where they are queued as actions and never read back.

Input cells are never written: values go to 検証結果 and 提出記録 only; on the plan's
sheets only fills (colours) change.

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

import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kofu_xl.ooxml.cellref import col_letter, parse_ref
from kofu_xl.book.layout import DAILY, LOG, RESULTS, ROWS_11, ROWS_12, ROWS_WORK, S11, S12, WORK, Layout
from kofu_xl.app.submit import FIRST_LOG_ROW, FIRST_RESULT_ROW

if TYPE_CHECKING:
    from kofu_xl.app.submit import SubmitOutcome
    from kofu_xl.book.read import GridSource

__all__ = [
    "HIGHLIGHT_MEMO_COL",
    "HIGHLIGHT_MEMO_FIRST_ROW",
    "HIGHLIGHT_MEMO_HEADER_ROW",
    "HIGHLIGHT_MEMO_HEADERS",
    "LOG_COLS",
    "NO_FILL",
    "RESULT_COLS",
    "SUBMIT_DIR_ENV",
    "BookSurface",
    "builder_fills",
    "failure_message",
    "import_actuals",
    "outcome_message",
    "parse_memo",
    "submit_book",
    "validate_book",
]

from kofu_xl.logs import log_path, setup_logging

log = logging.getLogger(__name__)

RESULT_COLS = 8  # 検証結果 A–H: 重要度 ルール 項目 場所 列 期待値 実際の値 メッセージ (build.RESULT_HEADERS)
RESULT_LINK_COL = 4  # D 場所: the hyperlink to the cell
LOG_COLS = 7  # 提出記録 A–G (build.LOG_HEADERS)

HIGHLIGHT_MEMO_COL = 11  # K: sheet, L: cell, M: original fill
HIGHLIGHT_MEMO_WIDTH = 3
HIGHLIGHT_MEMO_FIRST_ROW = FIRST_RESULT_ROW
HIGHLIGHT_MEMO_HEADER_ROW = FIRST_RESULT_ROW - 1
HIGHLIGHT_MEMO_HEADERS = ("色の記録（kofu-xl 用）シート", "セル", "元の色")
NO_FILL = "none"

NO_MESSAGE_BOX_ENV = "KOFU_NO_MESSAGE_BOX"  # unattended runs: the status bar instead of message boxes
SUBMIT_DIR_ENV = "KOFU_SUBMIT_DIR"  # overrides where 「検証して提出」 writes the package
MESSAGE_TITLE = "交付円滑化計画"

_HEX = re.compile(r"#?([0-9A-Fa-f]{6})\Z")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


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


def _memo_value(colour: str | None) -> str:
    return NO_FILL if colour is None else colour


def _hex(rgb: Any) -> str | None:
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
    """The fill `kofu_xl.build` gives each cell a finding can point at, (sheet, cell) ->
    "#RRGGBB": input cells pale yellow, computed cells grey. Other cells have none.

    Used only where the engine cannot read a fill (xlwings' remote engine), so that
    the memo still holds the colour to restore.
    """
    from kofu_xl.book.build import CALC_FILL, INPUT_FILL

    hexes = {role: "#" + str(fill.fgColor.rgb)[-6:].upper() for role, fill in (("input", INPUT_FILL), ("calc", CALC_FILL))}
    return {key: hexes[role] for key, role in _cell_roles(layout).items()}


def _cell_roles(layout: Layout) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> "input" / "calc" for every data cell of the layout."""
    from kofu_xl.ooxml.cellref import ref

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


# ---------------------------------------------------------------- the surface


def _book_dir(book: Any) -> Path | None:
    """The folder of a saved local book; None for a new book or one on OneDrive/SharePoint (a URL)."""
    try:
        fullname = str(book.fullname)
    except Exception:  # xlwings cannot map some OneDrive/SharePoint URLs to a local path
        return None
    if _URL.match(fullname):
        return None
    path = Path(fullname)
    return path.parent if path.is_absolute() else None


class BookSurface:
    """:class:`kofu_xl.submit.Surface` over an ``xlwings.Book``.

    ``fill_of(sheet, cell)`` gives a cell's current fill ("#RRGGBB" or None) where the
    engine cannot read it; by default the fill the builder gives it (:func:`builder_fills`).
    """

    def __init__(self, book: Any, *, fill_of: Callable[[str, str], str | None] | None = None) -> None:
        self.book = book
        self.book_name: str = str(book.name)
        self.book_dir: Path | None = _book_dir(book)
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
            from kofu_xl.book.read import GridSource

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
        from kofu_xl.book.build import LOG_HEADERS, RESULT_HEADERS

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
        memo_rows = [[s, c, _memo_value(original)] for (s, c), original in memo.items()]
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
            return _hex(self.book.sheets[sheet].range(cell).color)
        except (NotImplementedError, AttributeError, ValueError, TypeError):
            pass  # the remote engine cannot read fills synchronously
        if self._fill_of is not None:
            return self._fill_of(sheet, cell)
        if self._builder_fills is None:
            from kofu_xl.book.read import workbook_layout

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


# ---------------------------------------------------------------- entry points (ribbon)


def validate_book() -> SubmitOutcome | None:
    """「検証」: check the calling book and show every finding in 検証結果."""
    from kofu_xl.app.submit import validate

    return _run("検証", validate)


def submit_book(out_dir: str | Path | None = None, *, now: dt.datetime | None = None) -> SubmitOutcome | None:
    """「検証して提出」: validate the calling book; with no error write the package and log it.

    The package goes to ``out_dir``, else $KOFU_SUBMIT_DIR, else the folder 提出 beside
    the book (a book on OneDrive/SharePoint or never saved: 提出 in the clerk's Documents).
    """
    from kofu_xl.app.submit import submit

    target = out_dir or os.environ.get(SUBMIT_DIR_ENV) or None

    def run(surface: BookSurface) -> SubmitOutcome:
        folder = Path(os.path.expandvars(os.path.expanduser(str(target)))) if target else None
        if folder is None and surface.book_dir is None:
            folder = _documents() / "交付円滑化計画" / "提出"
        return submit(surface, folder, now=now, pdf=excel_pdf(surface.book))

    return _run("検証して提出", run)


def excel_pdf(book: Any) -> Callable[[bytes], bytes]:
    """The package's PDF by Excel itself: xlwings' Book.to_pdf of 本表1-1, 本表1-2 and
    推移グラフ of the live book (kofu_xl.app.pdf.PdfMaker; the values-only bytes are unused)."""
    from kofu_xl.app.pdf import PDF_SHEETS, PdfLeftOut, error_cells

    def make(_xlsx: bytes) -> bytes:
        grids = []
        for name in PDF_SHEETS:
            values = book.sheets[name].used_range.options(ndim=2, err_to_str=True).value or [[]]
            grids.append((name, values))
        bad = error_cells(grids)
        if bad:
            raise PdfLeftOut(f"エラー値のセルがあるため PDF を作成しませんでした（{'、'.join(bad[:5])}。used range の左上からの位置）")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="kofu-pdf-") as tmp:
            target = Path(tmp) / "package.pdf"
            try:
                book.to_pdf(str(target), include=list(PDF_SHEETS))
            except Exception as exc:  # noqa: BLE001 - Excel's export failed: the package goes without
                log.exception("Book.to_pdf failed")
                raise PdfLeftOut(f"Excel が PDF を作成できませんでした（{exc.__class__.__name__}）") from None
            return target.read_bytes()

    return make


def doctor_book() -> Any:
    """「診断」: run `kofu-xl doctor` for the calling book and show the outcome in a message box."""
    import xlwings as xw

    from kofu_xl.app.doctor import doctor_message, run_doctor

    setup_logging()
    book = xw.Book.caller()
    try:
        fullname = str(book.fullname)
    except Exception:  # xlwings cannot map some OneDrive/SharePoint URLs to a local path
        fullname = ""
    local = bool(fullname) and not _URL.match(fullname) and Path(fullname).is_absolute()
    note = None if local else f"ブックをファイルとして読めません（{fullname or '未保存のブック'}。OneDrive・SharePoint 上のブックか、まだ保存されていないブックです）"
    try:
        report = run_doctor(Path(fullname) if local else None, workbook_note=note)
    except Exception as exc:  # the clerk gets a short reason, never a traceback
        log.exception("doctor failed")
        _tell(book, None, failure_message("診断", exc), critical=True)
        return None
    _tell(book, None, doctor_message(report), critical=not report.ok)
    return report


def _documents() -> Path:
    home = Path.home()
    docs = home / "Documents"
    return docs if docs.is_dir() else home


def import_actuals(paths: list[str | Path] | None = None) -> Any:
    """「実績取込」: fill 実績比較 of the calling book from the official issuance statistics.

    The statistics are the CSV files in ``paths``, else in the folder $KOFU_STATS_DIR, else
    in the folder 公表統計 beside the book, else the files the clerk picks in Excel's own
    file dialog (desktop Excel). Only the input rows of 実績比較 are written
    (:func:`kofu_xl.followup.import_into`); the outcome is told in Japanese.
    """
    import xlwings as xw

    from kofu_xl.app.followup import STATS_DIR_ENV, STATS_FOLDER, import_into, stats_files
    from kofu_xl.book.sources import UnreadableInput

    setup_logging()
    book = xw.Book.caller()
    surface: BookSurface | None = None
    try:
        surface = BookSurface(book)
        if not paths:
            folder = stats_files(surface.book_dir)
            paths = [folder] if folder is not None else _ask_csv_files(book)
        if not paths:
            raise UnreadableInput(
                None,
                f"公表統計の CSV ファイルが見つかりません。ブックと同じフォルダーに「{STATS_FOLDER}」フォルダーを作って"
                f"CSV ファイルを置くか、環境変数 {STATS_DIR_ENV} にそのフォルダーを設定してから、もう一度「実績取込」を押してください",
            )
        surface.status("公表統計を読み込んでいます…")
        outcome = import_into(surface, paths)
    except Exception as exc:  # the clerk gets a short reason, never a traceback
        log.exception("実績取込 failed")
        _tell(book, surface, failure_message("実績取込", exc), critical=True)
        return None
    _tell(book, surface, outcome.message, critical=False)
    return outcome


def _ask_csv_files(book: Any) -> list[str]:
    """The CSV files the clerk picks in Excel's file dialog (desktop Excel only), else []."""
    try:
        if sys.platform != "win32" or book.app.engine.name != "excel":
            return []
        chosen = book.app.api.GetOpenFilename(
            FileFilter="CSV (*.csv),*.csv", Title="公表統計の CSV ファイルを選択（複数可）", MultiSelect=True
        )
    except Exception:
        log.debug("no file dialog", exc_info=True)
        return []
    if not chosen:  # False when cancelled
        return []
    return [str(p) for p in (chosen if isinstance(chosen, (list, tuple)) else [chosen])]


def _run(action: str, work: Callable[[BookSurface], SubmitOutcome]) -> SubmitOutcome | None:
    import xlwings as xw

    setup_logging()
    log.info("%s started", action)
    book = xw.Book.caller()
    surface: BookSurface | None = None
    try:
        surface = BookSurface(book)
        outcome = work(surface)
    except Exception as exc:  # the clerk gets a short reason, never a traceback
        log.exception("%s failed", action)
        _tell(book, surface, failure_message(action, exc), critical=True)
        return None
    _tell(book, surface, outcome_message(outcome), critical=outcome.status == "refused")
    return outcome


def outcome_message(outcome: SubmitOutcome) -> str:
    """What the message box says after a run."""
    text = outcome.message
    if outcome.status == "written" and outcome.files:
        names = "\n".join(f"・{p.name}" for p in outcome.files)
        text += f"\n\n{names}\n\nこれらのファイルを都道府県の担当へ提出してください。"
    return text


def failure_message(action: str, exc: BaseException) -> str:
    """A short Japanese reason for a failed run, with what to do next."""
    from kofu_xl.book.sources import UnreadableInput

    if isinstance(exc, UnreadableInput):
        reason = exc.reason
    elif isinstance(exc, PermissionError):
        reason = f"ファイルを書き込む権限がありません（{exc.filename or ''}）。出力先のフォルダーを確認してください"
    elif isinstance(exc, OSError):
        reason = f"ファイルの読み書きに失敗しました（{exc.strerror or exc.__class__.__name__}: {exc.filename or ''}）"
    else:
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        reason = f"内部エラー（{exc.__class__.__name__}{': ' + detail if detail else ''}）"
    return (
        f"「{action}」を完了できませんでした。\n\n理由: {reason}\n\n"
        "入力したセルの値は変更していません。"
        "同じ問題が続くときは、コマンドプロンプトで kofu-xl doctor を実行し、"
        "表示された内容と次のログファイルを情報システム担当（IT 担当）へ連絡してください。\n\n"
        f"ログ: {log_path()}"
    )


def _tell(book: Any, surface: BookSurface | None, text: str, *, critical: bool) -> None:
    """A message box when the engine can show one; the status bar otherwise (and always when
    $KOFU_NO_MESSAGE_BOX is set: unattended runs such as tests/excel/acceptance.py)."""
    try:
        if os.environ.get(NO_MESSAGE_BOX_ENV):
            raise RuntimeError(f"{NO_MESSAGE_BOX_ENV} is set")
        book.app.alert(text, title=MESSAGE_TITLE, buttons="ok", mode="critical" if critical else "info")
    except Exception:
        log.debug("no message box; using the status bar", exc_info=True)
        if surface is not None:
            surface.status(text.replace("\n", " "))
        else:
            try:
                book.app.status_bar = text.replace("\n", " ")
            except Exception:
                pass
        return
    if surface is not None:
        surface.last_status = text
        surface.release_status()
