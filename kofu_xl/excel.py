"""The live Excel book (xlwings) as a validate-and-submit surface, and the ribbon's Python side.

The ribbon's callbacks run ``RunPython("import kofu_xl.excel; kofu_xl.excel.<entry>()")``;
each entry point takes the calling book (``xw.Book.caller()``), wraps it in a
:class:`BookSurface` and runs the same core as ``kofu-xl submit``
(:mod:`kofu_xl.app.submit`). The clerk is told the outcome in Japanese, in a message box
when the engine can show one, else in the status bar. An unexpected failure becomes
a short Japanese message with the hint to run ``kofu-xl doctor``, never a traceback.

Reads and writes are separated: the book's values are read once, one call per sheet,
into a :class:`~kofu_xl.book.read.GridSource` snapshot; every later decision (where the
previous results end, which colours to restore, where the next log row goes) is taken
from that snapshot and from what this surface itself wrote. So the same code works on
desktop Excel (COM), where writes are visible at once, and on xlwings' remote engine
(xlwings Server, the tests), where they are queued as actions and never read back.

Input cells are never written: values go to 検証結果 and 提出記録 only; on the plan's
sheets only fills (colours) change.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kofu_xl.app.pdf import PDF_SHEETS, PdfLeftOut, error_cells
from kofu_xl.app.proposals import adopt_on, propose_on
from kofu_xl.app.submit import SubmitOutcome, submit, validate
from kofu_xl.book.live import URL_RE, BookSurface
from kofu_xl.book.memo import builder_fills, parse_memo
from kofu_xl.errors import UnreadableInput

__all__ = [
    "SUBMIT_DIR_ENV",
    "BookSurface",
    "builder_fills",
    "doctor_book",
    "failure_message",
    "adopt_proposal",
    "import_actuals",
    "propose_book",
    "outcome_message",
    "parse_memo",
    "submit_book",
    "validate_book",
]

from kofu_xl.logs import log_path, setup_logging

NO_MESSAGE_BOX_ENV = "KOFU_NO_MESSAGE_BOX"  # unattended runs: the status bar instead of message boxes
SUBMIT_DIR_ENV = "KOFU_SUBMIT_DIR"  # overrides where 「検証して提出」 writes the package
MESSAGE_TITLE = "交付円滑化計画"

log = logging.getLogger(__name__)


def _xlwings() -> Any:
    """xlwings, imported when a button runs: the module itself must load without it (the
    command line and the tests import it on machines without Excel)."""
    import xlwings

    return xlwings


# ---------------------------------------------------------------- entry points (ribbon)


def validate_book() -> SubmitOutcome | None:
    """「検証」: check the calling book and show every finding in 検証結果."""

    return _run("検証", validate)


def submit_book(out_dir: str | Path | None = None, *, now: dt.datetime | None = None) -> SubmitOutcome | None:
    """「検証して提出」: validate the calling book; with no error write the package and log it.

    The package goes to ``out_dir``, else $KOFU_SUBMIT_DIR, else the folder 提出 beside
    the book (a book on OneDrive/SharePoint or never saved: 提出 in the clerk's Documents).
    """

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
    def make(_xlsx: bytes) -> bytes:
        grids = []
        for name in PDF_SHEETS:
            values = book.sheets[name].used_range.options(ndim=2, err_to_str=True).value or [[]]
            grids.append((name, values))
        bad = error_cells(grids)
        if bad:
            raise PdfLeftOut(f"エラー値のセルがあるため PDF を作成しませんでした（{'、'.join(bad[:5])}。used range の左上からの位置）")
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
    xw = _xlwings()
    from kofu_xl.app.doctor import doctor_message, run_doctor

    setup_logging()
    book = xw.Book.caller()
    try:
        fullname = str(book.fullname)
    except Exception:  # xlwings cannot map some OneDrive/SharePoint URLs to a local path
        fullname = ""
    local = bool(fullname) and not URL_RE.match(fullname) and Path(fullname).is_absolute()
    note = None if local else f"ブックをファイルとして読めません（{fullname or '未保存のブック'}。OneDrive・SharePoint 上のブックか、まだ保存されていないブックです）"
    try:
        report = run_doctor(Path(fullname) if local else None, workbook_note=note)
    except Exception as exc:  # the clerk gets a short reason, never a traceback
        log.exception("doctor failed")
        _tell(book, None, failure_message("診断", exc), critical=True)
        return None
    _tell(book, None, doctor_message(report), critical=not report.ok)
    return report


def propose_book() -> Any:
    """「計画案」: write a proposal meeting the national schedule on the sheet 計画案.

    Reads the plan and the choices typed on 計画案 (目標, 増加の上限, 職員数の上限, …) and
    writes only 計画案's result cells (:func:`kofu_xl.app.proposals.propose_on`); the clerk's
    inputs are never written.
    """
    return _run_proposal("計画案", propose_on)


def adopt_proposal(confirm: Callable[[str], bool] | None = None, *, now: dt.datetime | None = None) -> Any:
    """「計画案を採用」: after a confirmation, copy the proposal into 本表1-1's ② and ⑤ and the
    臨時・非常勤 cost of 本表1-2 / 経費積算; the previous values go to the backup table on 計画案.

    ``confirm(text)`` asks the clerk; by default an OK/Cancel message box (an engine that cannot
    ask, such as the remote one, answers no: nothing is written).
    """
    def ask(book: Any) -> Callable[[str], bool]:
        def question(text: str) -> bool:
            try:
                answer = book.app.alert(text, title=MESSAGE_TITLE, buttons="ok_cancel", mode="info")
            except Exception:
                log.debug("no confirmation box", exc_info=True)
                return False
            return str(answer).lower() == "ok"

        return question

    return _run_proposal("計画案を採用", lambda surface: adopt_on(surface, confirm or ask(surface.book), now=now))


def _run_proposal(action: str, work: Callable[[BookSurface], Any]) -> Any:
    return _on_caller(action, work, lambda outcome: (outcome.message, False))


def _documents() -> Path:
    home = Path.home()
    docs = home / "Documents"
    return docs if docs.is_dir() else home


def import_actuals(paths: list[str | Path] | None = None) -> Any:
    """「実績取込」: fill 実績比較 of the calling book from the official issuance statistics.

    The statistics are the CSV files in ``paths``, else in the folder $KOFU_STATS_DIR, else
    in the folder 公表統計 beside the book, else the files the clerk picks in Excel's own
    file dialog (desktop Excel). Only the input rows of 実績比較 are written
    (:func:`kofu_xl.app.followup.import_into`); the outcome is told in Japanese.
    """
    xw = _xlwings()
    from kofu_xl.app.followup import STATS_DIR_ENV, STATS_FOLDER, import_into, stats_files

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
    return _on_caller(action, work, lambda outcome: (outcome_message(outcome), outcome.status == "refused"))


def _on_caller(action: str, work: Callable[[BookSurface], Any], told: Callable[[Any], tuple[str, bool]]) -> Any:
    """Run ``work`` on the calling book; tell the clerk the outcome (``told``: its message and
    whether it is critical) or, on a failure, a short Japanese reason with the log's path."""
    xw = _xlwings()
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
    text, critical = told(outcome)
    _tell(book, surface, text, critical=critical)
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
