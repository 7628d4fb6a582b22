"""「検証」 and 「検証して提出」: one core, two surfaces.

The ribbon button (a live Excel book through xlwings) and `kofu-xl submit` (the
file) run the same code here on a :class:`Surface`: read every field through the
layout map, run the whole catalogue, show the findings where the clerk looks
(検証結果 and coloured cells), and — only with no error — write the submission
package and log it in 提出記録. Input cells are never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from kofu_xl.app.pdf import PdfLeftOut
from kofu_xl.app.report import CheckResult, make_result
from kofu_xl.book.layout import FIRST_RESULT_ROW, RESULTS, Layout
from kofu_xl.book.read import CellSource, read_plan_raw
from kofu_xl.core.findings import Finding, Severity, format_value, sort_findings
from kofu_xl.core.rules import check_plan
from kofu_xl.errors import CannotWrite

__all__ = [
    "FIRST_RESULT_ROW",
    "HIGHLIGHT",
    "Surface",
    "SubmitOutcome",
    "plan_hash",
    "safe_filename",
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
        where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else ""
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
            key = (f.sheet, f.cell)
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

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def safe_filename(text: str, *, limit: int = 40) -> str:
    """A name from the workbook made safe as a file name (no path, no control characters)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _UNSAFE.sub("_", text).strip(" .")
    text = text.replace("..", "_")
    return text[:limit] or "未入力"


def plan_hash(result: CheckResult) -> str:
    """SHA-256 of the plan's canonical JSON: equal plans give equal hashes."""
    data = result.plan.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_json(result: CheckResult) -> dict[str, Any]:
    """The `check --json` object plus the plan itself (so a package can be checked again)."""
    data = result.to_json()
    data["plan"] = result.plan.model_dump(mode="json")
    return data


def _stem(result: CheckResult, when: dt.datetime, out_dir: Path) -> str:
    b = result.plan.basic
    stem = f"{safe_filename(b.dantai_code or '000000', limit=6)}_{safe_filename(b.municipality or '')}_交付円滑化計画_{when:%Y%m%d}"
    candidate, n = stem, 1
    while any((out_dir / f"{candidate}{ext}").exists() for ext in (".xlsx", ".json", ".html")):
        n += 1
        candidate = f"{stem}_{n}"
    return candidate


def _write_temp(out_dir: Path, final: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".kofu-", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _package_files(result: CheckResult) -> dict[str, bytes]:
    # openpyxl and the summary are needed only when a package is written (not to validate)
    from kofu_xl.app.summary import summary_html
    from kofu_xl.book.build import build_sheets


    built = build_sheets(result.plan, schedule=result.schedule, values_only=True)
    return {
        ".xlsx": built.xlsx,
        ".json": (json.dumps(package_json(result), ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
        ".html": summary_html(result).encode("utf-8"),
    }


def submit(surface: Surface, out_dir: Path | None = None, *, now: dt.datetime | None = None,
           pdf: Callable[[bytes], bytes] | None = None) -> SubmitOutcome:
    """「検証して提出」: validate; with no error write the package and log it.

    ``pdf`` (kofu_xl.app.pdf.PdfMaker) makes the package's PDF from its values-only workbook;
    when it raises PdfLeftOut the package goes without one and the message says why."""
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
    previous = [r for r in surface.log_rows() if len(r) >= 7 and r[6] == digest]
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
    surface.status("提出ファイルを作成しています…")
    files = _package_files(result)
    pdf_note = ""
    if pdf is not None:
        surface.status("PDF を作成しています…")
        try:
            files[".pdf"] = pdf(files[".xlsx"])
        except PdfLeftOut as exc:
            pdf_note = f"（{exc.reason}）"
    stem = _stem(result, now, out_dir)
    temps: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for ext, data in files.items():
            final = out_dir / f"{stem}{ext}"
            try:
                temps[final] = _write_temp(out_dir, final, data)
            except OSError as exc:
                raise CannotWrite.from_os_error(out_dir, exc) from None
        names = " / ".join(p.name for p in temps)
        sha = " / ".join(hashlib.sha256(files[p.suffix]).hexdigest() for p in temps)
        surface.append_log([now.strftime("%Y-%m-%d %H:%M:%S"), names, sha, c["error"], c["warning"], c["info"], digest])
        for final, tmp in temps.items():
            os.replace(tmp, final)
            done.append(final)
        surface.save()
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for final in done:
            final.unlink(missing_ok=True)
        surface.discard()
        raise
    message = f"提出ファイルを作成しました（警告 {c['warning']} 件）: {out_dir}{pdf_note}"
    surface.status(message)
    return SubmitOutcome("written", result, message, files=list(temps))


def _default_out_dir(surface: Surface) -> Path:
    base = surface.book_dir or Path.cwd()
    return base / "提出"
