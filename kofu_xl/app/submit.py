"""「検証」 and 「検証して提出」: one core, two surfaces.

The ribbon button (a live Excel book through xlwings) and `kofu-xl submit` (the
file) run the same code here on a :class:`Surface`: read every field through the
layout map, run the whole catalogue, show the findings where the clerk looks
(検証結果 and coloured cells), and — only with no error — write the submission
package and log it in 提出記録. Input cells are never written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from filelock import FileLock, Timeout

from kofu_xl.app.files import safe_filename
from kofu_xl.app.package_workbook import package_workbook
from kofu_xl.app.report import CheckResult, make_result
from kofu_xl.book.layout import FIRST_RESULT_ROW, LOG, RESULTS, Layout
from kofu_xl.book.read import CellSource, read_plan_raw
from kofu_xl.book.sources import PACKAGE_WORKBOOK_DIGEST
from kofu_xl.core.findings import Finding, Severity, format_value, sort_findings
from kofu_xl.core.model import plan_to_json
from kofu_xl.core.rules import check_plan
from kofu_xl.errors import CannotWrite, SubmitBusy, SubmitNotVerified

__all__ = [
    "FIRST_RESULT_ROW",
    "HIGHLIGHT",
    "SubmitOutcome",
    "Surface",
    "plan_hash",
    "submit",
    "validate",
]

HIGHLIGHT = {Severity.ERROR: "FFC7CE", Severity.WARNING: "FFEB9C", Severity.INFO: "DDEBF7"}


class Surface(Protocol):
    """What validate-and-submit needs of a workbook."""

    book_name: str
    book_dir: Path | None

    def cells(self) -> CellSource: ...

    def show_findings(self, rows: list[list[Any]], links: dict[int, str], highlights: dict[tuple[str, str], str]) -> None:
        """Replace 検証結果 from FIRST_RESULT_ROW with ``rows`` (``links``: row index -> "'sheet'!A1"),
        restore the colours of the previous run and colour ``highlights`` (sheet, cell) -> rgb."""
        ...

    def log_rows(self) -> list[list[Any]]: ...

    def append_log(self, row: list[Any]) -> None: ...

    def status(self, text: str) -> None: ...

    def save(self) -> None:
        """Make the changes permanent (the file surface writes atomically)."""
        ...

    def discard(self) -> None:
        """Forget pending changes (after a failure)."""
        ...


@dataclass
class SubmitOutcome:
    status: Literal["validated", "refused", "written", "unchanged"]
    result: CheckResult
    message: str
    files: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------- validate


def _result_rows(findings: Sequence[Finding]) -> tuple[list[list[Any]], dict[int, str], dict[tuple[str, str], str]]:
    rows, links, colours = [], {}, {}
    for i, f in enumerate(sort_findings(findings)):
        where = f.where
        rows.append(
            [
                f.severity.ja,
                f.rule,
                f.field,
                where,
                f.column_label or "",
                "" if f.expected is None else format_value(f.expected),
                "" if f.actual is None else format_value(f.actual),
                f.message,
            ]
        )
        if f.sheet and f.cell:
            links[i] = f"'{f.sheet}'!{f.cell}"
        for key in f.cells:  # every cell of a grouped finding is coloured
            # the most severe finding of a cell decides its colour
            if key not in colours or f.severity is Severity.ERROR:
                colours[key] = HIGHLIGHT[f.severity]
    if not rows:
        rows.append(["", "", "", "", "", "", "", "エラー・警告はありません。"])
    return rows, links, colours


def check_surface(surface: Surface) -> tuple[CheckResult, Layout]:
    raw, layout = read_plan_raw(surface.cells(), surface.book_name)
    plan, findings = check_plan(raw)
    findings = layout.locate_findings(findings)
    return make_result(plan, findings, source=surface.book_name), layout


def validate(surface: Surface) -> SubmitOutcome:
    """「検証」: check the whole plan and show every finding in the book."""
    surface.status("交付円滑化計画を検証しています…")
    result, _layout = check_surface(surface)
    rows, links, colours = _result_rows(result.findings)
    surface.show_findings(rows, links, colours)
    c = result.counts
    message = f"検証しました: エラー {c['error']} 件、警告 {c['warning']} 件、情報 {c['info']} 件。「{RESULTS}」シートを確認してください。"
    surface.status(message)
    return SubmitOutcome("validated", result, message)


# ---------------------------------------------------------------- submit

def plan_hash(result: CheckResult) -> str:
    """SHA-256 of the plan's canonical JSON: equal plans give equal hashes."""
    data = plan_to_json(result.plan)
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_json(result: CheckResult) -> dict[str, Any]:
    """The `check --json` object plus the plan itself (so a package can be checked again)."""
    data = result.to_json()
    data["plan"] = plan_to_json(result.plan)
    return data


LOCK_TIMEOUT = 20.0  # seconds a second submit of the same workbook waits for the first
TEMP_PREFIX = ".kofu-"
TEMP_SUFFIX = ".tmp"
PACKAGE_EXTS = (".xlsx", ".json", ".html")


def lock_path(key: Path) -> Path:
    """The lock file of a workbook: one per real path, in the temp folder (nothing beside the book)."""
    digest = hashlib.sha256(os.fsencode(str(key))).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "kofu-xl-locks"
    folder.mkdir(mode=0o777, exist_ok=True)
    return folder / f"{digest}.lock"


@contextlib.contextmanager
def workbook_lock(key: Path | None, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the workbook's submit lock; wait up to ``timeout`` seconds, then :class:`SubmitBusy`."""
    if key is None:
        yield
        return
    lock = FileLock(lock_path(key), timeout=timeout, mode=0o666)
    try:
        lock.acquire()
    except Timeout:
        raise SubmitBusy(name) from None
    try:
        yield
    finally:
        lock.release()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_temp(out_dir: Path, data: bytes) -> Path:
    """A temporary file of this run (unique: pid and a random part) holding ``data``,
    with the permission bits the umask gives a new file."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # decided by age below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_orphans(out_dir: Path, *, max_age: float = 3600.0) -> list[Path]:
    """Remove temporary files a killed submit left in ``out_dir`` (its process is gone, or an hour old)."""
    removed = []
    now = time.time()
    try:
        candidates = list(out_dir.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"))
    except OSError:
        return removed
    for p in candidates:
        m = re.match(rf"{re.escape(TEMP_PREFIX)}(\d+)-", p.name)
        try:
            old = now - p.stat().st_mtime > max_age
        except OSError:
            continue
        if old or (m and not _pid_alive(int(m[1])) and int(m[1]) != os.getpid()):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS, errno.EMLINK}


def _publish(tmp: Path, final: Path) -> None:
    """Put ``tmp`` in place as ``final`` without ever replacing an existing file
    (FileExistsError when the name is taken: another run got there first)."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        # no hard links on this file system: rename, refusing an existing name
        if final.exists():
            raise FileExistsError(final) from None
        os.rename(tmp, final)
        return
    tmp.unlink()


def _stems(result: CheckResult, when: dt.datetime) -> Iterator[str]:
    b = result.plan.basic
    stem = f"{safe_filename(b.dantai_code or '000000', limit=6)}_{safe_filename(b.municipality or '')}_交付円滑化計画_{when:%Y%m%d}"
    yield stem
    for n in range(2, 10_000):
        yield f"{stem}_{n}"


def _logged_names(rows: list[list[Any]]) -> set[str]:
    return {name.strip() for r in rows if len(r) > 1 and isinstance(r[1], str) for name in r[1].split(" / ")}


def unlogged_packages(result: CheckResult, out_dir: Path, rows: list[list[Any]]) -> list[Path]:
    """Package files of this municipality in ``out_dir`` that no 提出記録 row names
    (a submit killed after writing its files and before logging them)."""
    b = result.plan.basic
    prefix = f"{safe_filename(b.dantai_code or '000000', limit=6)}_{safe_filename(b.municipality or '')}_交付円滑化計画_"
    logged = _logged_names(rows)
    try:
        return sorted(p for p in out_dir.iterdir() if p.name.startswith(prefix) and p.suffix in PACKAGE_EXTS and p.name not in logged)
    except OSError:
        return []


def _package_files(result: CheckResult) -> dict[str, bytes]:
    # the summary is needed only when a package is written (not to validate)
    from kofu_xl.app.summary import summary_html

    # the stored blank of the plan's shape with its values, else drawn (openpyxl): the same bytes
    xlsx = package_workbook(result.plan, result.schedule)
    data = package_json(result)
    # the workbook it was written with: a reader of the package (aggregate) reads this JSON
    # only while the .xlsx beside it is still that workbook, unedited
    data[PACKAGE_WORKBOOK_DIGEST] = hashlib.sha256(xlsx).hexdigest()
    return {
        ".xlsx": xlsx,
        ".json": (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
        ".html": summary_html(result).encode("utf-8"),
    }


def submit(surface: Surface, out_dir: Path | None = None, *, now: dt.datetime | None = None, lock_timeout: float = LOCK_TIMEOUT,
           pdf: Callable[[bytes], bytes] | None = None) -> SubmitOutcome:
    """「検証して提出」: validate; with no error write the package and log it.

    A transaction per workbook: the workbook's lock is held throughout (a second submit
    waits, then says one is running); the package files get names no other run holds and
    are put in place first, the 提出記録 row is written last; on failure only this run's
    files are removed; the result is read back and verified before it is reported.
    ``pdf`` (kofu_xl.app.pdf.PdfMaker) makes the package's PDF from its values-only workbook;
    when it raises PdfLeftOut the package goes without one and the message says why.
    """
    key = getattr(surface, "lock_key", None)
    with workbook_lock(key, surface.book_name, lock_timeout):
        refresh = getattr(surface, "refresh", None)
        if refresh is not None:
            refresh()  # read the workbook as the previous run left it
        return _submit_locked(surface, out_dir, now=now, pdf=pdf)


def _submit_locked(surface: Surface, out_dir: Path | None, *, now: dt.datetime | None, pdf: Callable[[bytes], bytes] | None = None) -> SubmitOutcome:
    now = now or dt.datetime.now().replace(microsecond=0)
    outcome = validate(surface)
    result = outcome.result
    c = result.counts
    if c["error"]:
        surface.save()
        first = next((f for f in sort_findings(result.findings) if f.severity is Severity.ERROR), None)
        where = f"最初のエラーは {first.sheet}!{first.cell}。" if first and first.sheet else ""
        message = f"エラーが {c['error']} 件あるため提出ファイルを作成しませんでした。{where}「{RESULTS}」シートで内容を確認し、直してから再度実行してください。"
        surface.status(message)
        return SubmitOutcome("refused", result, message)
    digest = plan_hash(result)
    rows = surface.log_rows()
    previous = [r for r in rows if len(r) >= 7 and r[6] == digest]
    if previous:
        surface.save()
        message = f"前回（{previous[-1][0]}）提出した計画から変更がありません。提出ファイルは作成しません（{previous[-1][1]}）。"
        surface.status(message)
        return SubmitOutcome("unchanged", result, message)
    out_dir = Path(out_dir) if out_dir else _default_out_dir(surface)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CannotWrite.from_os_error(out_dir, exc) from None
    clean_orphans(out_dir)
    strays = unlogged_packages(result, out_dir, rows)
    if strays:
        surface.status(
            "提出記録にない提出ファイルがあります（前回の提出が途中で中断された可能性があります。内容を確認し、不要なら削除してください）: "
            + "、".join(p.name for p in strays)
        )
    surface.status("提出ファイルを作成しています…")
    files = _package_files(result)
    pdf_note = ""
    if pdf is not None:
        from kofu_xl.app.pdf import PdfLeftOut  # only with a PDF maker: `submit --no-pdf` loads none of it

        surface.status("PDF を作成しています…")
        try:
            files[".pdf"] = pdf(files[".xlsx"])
        except PdfLeftOut as exc:
            pdf_note = f"（{exc.reason}）"
    temps: dict[str, Path] = {}
    placed: list[Path] = []
    saved = False
    try:
        for ext, data in files.items():
            try:
                temps[ext] = _write_temp(out_dir, data)
            except OSError as exc:
                raise CannotWrite.from_os_error(out_dir, exc) from None
        # 1. the package files, under names no one else holds (another run, a clerk's file)
        for stem in _stems(result, now):
            try:
                for ext in files:
                    final = out_dir / f"{stem}{ext}"
                    _publish(temps[ext], final)
                    placed.append(final)
                break
            except FileExistsError:
                for p in placed:  # only what this run put in place
                    p.unlink(missing_ok=True)
                placed.clear()
                for ext, data in files.items():  # _publish may have consumed a temp
                    if not temps[ext].exists():
                        temps[ext] = _write_temp(out_dir, data)
            except OSError as exc:
                raise CannotWrite.from_os_error(out_dir, exc) from None
        else:
            raise CannotWrite(out_dir, "提出ファイルの名前を決められません（同じ名前のファイルが多すぎます）")
        # 2. the 提出記録 row, last
        names = " / ".join(p.name for p in placed)
        sha = " / ".join(hashlib.sha256(files[p.suffix]).hexdigest() for p in placed)
        surface.append_log([now.strftime("%Y-%m-%d %H:%M:%S"), names, sha, c["error"], c["warning"], c["info"], digest])
        surface.save()
        saved = True
        # 3. read back what was written
        _verify(surface, placed, files, names)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        if not saved:  # once logged, the files stay with their row
            for final in placed:
                final.unlink(missing_ok=True)
            surface.discard()
        raise
    message = f"提出ファイルを作成しました（警告 {c['warning']} 件）: {out_dir}{pdf_note}"
    surface.status(message)
    return SubmitOutcome("written", result, message, files=placed)


def _verify(surface: Surface, placed: list[Path], files: dict[str, bytes], names: str) -> None:
    for p in placed:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise SubmitNotVerified(f"{p.name} を読めません（{exc.__class__.__name__}）") from None
        if hashlib.sha256(data).digest() != hashlib.sha256(files[p.suffix]).digest():
            raise SubmitNotVerified(f"{p.name} の内容が書いたものと違います")
    check = getattr(surface, "saved_log_rows", None)
    if check is not None and not any(len(r) > 1 and r[1] == names for r in check()):
        raise SubmitNotVerified(f"保存したワークブックの「{LOG}」に今回の行がありません")


def _default_out_dir(surface: Surface) -> Path:
    base = surface.book_dir or Path.cwd()
    return base / "提出"
