"""`kofu-xl upgrade OLD.xlsm [--out NEW.xlsm]`: a book of the current version with everything
the clerk kept in the old one.

The new book is built from the old book's plan (so formulas, VBA, ribbon and layout are this
version's), then every input cell is carried over by field (Layout.input_cells: the form's
inputs, each day of 日次実績, the actuals of 実績比較), so a value the plan model cannot hold
(「未定」 typed into a number cell) is kept as typed. 検証結果 (rows and cell colours) and
提出記録 are carried over row for row. Before anything is written, the result is read back and
compared with the old book field by field and record by record; any difference refuses the
upgrade and names the cells. The old book is never changed; the new one is written atomically
and never replaces an existing file.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kofu_xl.app.submit import HIGHLIGHT
from kofu_xl.book.layout import FIRST_LOG_ROW, FIRST_RESULT_ROW, LOG, RESULTS
from kofu_xl.book.read import GridSource, read_plan_raw, workbook_layout
from kofu_xl.book.surfaces import FileSurface
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.findings import Severity
from kofu_xl.core.model import load_plan
from kofu_xl.errors import CannotWrite, UnreadableInput
from kofu_xl.ooxml.atomic import atomic_write
from kofu_xl.ooxml.cellref import parse_ref
from kofu_xl.ooxml.edit import XlsxEditor

__all__ = ["UpgradeOutcome", "default_out", "upgrade"]

_RESULT_WIDTH = 8  # 検証結果 A:H
_SEVERITY = {s.ja: s for s in Severity}


@dataclass
class UpgradeOutcome:
    out: Path
    inputs: int  # input cells holding a value
    rewritten: list[tuple[str, str]] = field(default_factory=list)  # carried as typed, over the build's value
    results: int = 0  # 検証結果 rows
    log: int = 0  # 提出記録 rows
    message: str = ""


def default_out(old: Path) -> Path:
    return old.with_name(f"{old.stem}_更新後.xlsm")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "")


def same_value(a: Any, b: Any) -> bool:
    """Values as a reader sees them: numbers by value, dates as dates, text exact, empty alike."""
    if _blank(a) or _blank(b):
        return _blank(a) and _blank(b)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=0) or float(a) == float(b)
    return type(a) is type(b) and a == b


def _cell(grid: GridSource, sheet: str, ref: str) -> Any:
    row, col = parse_ref(ref)
    return grid.value(sheet, row, col)


def _rows(editor: Any, sheet: str, first: int) -> list[list[Any]]:
    return [list(r) for r in editor.read_rows(sheet, first)]


def _records(data: bytes) -> tuple[list[list[Any]], list[list[Any]]]:
    ed = XlsxEditor(data)
    results = [(r + [None] * _RESULT_WIDTH)[:_RESULT_WIDTH] for r in _rows(ed, RESULTS, FIRST_RESULT_ROW)]
    results = [r for r in results if any(not _blank(v) for v in r)]
    log = [r for r in _rows(ed, LOG, FIRST_LOG_ROW) if any(not _blank(v) for v in r)]
    return results, log


def _write_temp(folder: Path, data: bytes) -> Path:
    with tempfile.NamedTemporaryFile(dir=folder, prefix="~kofu-upgrade-", suffix=".xlsm", delete=False) as f:
        f.write(data)
    return Path(f.name)


def _differences(old: GridSource, old_cells: Mapping, new: GridSource, new_cells: Mapping) -> list[str]:
    out = []
    for key, (sheet, ref) in old_cells.items():
        before = _cell(old, sheet, ref)
        if _blank(before):
            continue
        where = new_cells.get(key)
        after = None if where is None else _cell(new, *where)
        if not same_value(before, after):
            out.append(f"{sheet}!{ref}（{before!r} → {after!r}）")
    return out


def upgrade(old: str | Path, out: str | Path | None = None) -> UpgradeOutcome:
    old = Path(old)
    target = Path(out) if out else default_out(old)
    if target.exists():
        raise CannotWrite(target, "同じ名前のファイルが既にあります。上書きしないため、別の --out を指定してください")
    old_grid = GridSource.from_path(old)  # the guard reads the file once, refusing what is no safe workbook
    old_bytes = old_grid.data
    for sheet in (RESULTS, LOG):
        if sheet not in old_grid.sheet_names():
            raise UnreadableInput(old, f"シート「{sheet}」がありません。kofu-xl で作成したワークブックを指定してください")
    old_layout = workbook_layout(old_grid, old)
    raw, _ = read_plan_raw(old_grid, old)
    plan, _findings = load_plan(raw)
    results, log_rows = _records(old_bytes)

    folder = target.resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = _write_temp(folder, build_xlsm(plan))
    except OSError as exc:
        raise CannotWrite.from_os_error(target, exc) from None
    try:
        surface = FileSurface(temp, quiet=True, sheets=None)  # every sheet: the carried values are compared on each
        new_layout = surface.layout
        old_cells, new_cells = old_layout.input_cells(), new_layout.input_cells()
        lost = [f"{s}!{c}" for key, (s, c) in old_cells.items() if key not in new_cells and not _blank(_cell(old_grid, s, c))]
        if lost:
            raise CannotWrite(target, f"新しい様式に入力欄のない値があります: {'、'.join(lost[:10])}")
        # 1. every input as the old book holds it, where the build gives something else
        writes: dict[str, dict[str, Any]] = {}
        rewritten = []
        for key, (sheet, ref) in old_cells.items():
            before = _cell(old_grid, sheet, ref)
            new_sheet, new_ref = new_cells[key]
            if not same_value(before, surface.cells().value(*_rc(new_sheet, new_ref))):
                writes.setdefault(new_sheet, {})[new_ref] = None if _blank(before) else before
                rewritten.append((new_sheet, new_ref))
        for sheet, values in writes.items():
            surface.set_values(sheet, values)
        # 2. 検証結果: the rows as they were, the cells they name coloured again
        moved = {old_cells[k]: new_cells[k] for k in old_cells}
        links: dict[int, str] = {}
        colours: dict[tuple[str, str], str] = {}
        for i, row in enumerate(results):
            where = str(row[3] or "")
            if "!" not in where:
                continue
            sheet, ref = where.rsplit("!", 1)
            sheet = sheet.strip("'")
            sheet, ref = moved.get((sheet, ref), (sheet, ref))
            links[i] = f"'{sheet}'!{ref}"
            severity = _SEVERITY.get(str(row[0] or ""))
            if severity is not None and ((sheet, ref) not in colours or severity is Severity.ERROR):
                colours[(sheet, ref)] = HIGHLIGHT[severity]
        if results:
            surface.show_findings(results, links, colours)
        # 3. 提出記録, row for row
        for row in log_rows:
            surface.append_log(row)
        surface.save()
        new_bytes = temp.read_bytes()
        # 4. read it back: nothing may be lost
        new_grid = GridSource.from_path(temp)
        wrong = _differences(old_grid, old_cells, new_grid, workbook_layout(new_grid, temp).input_cells())
        new_results, new_log = _records(new_bytes)
        if [list(map(_norm, r)) for r in new_results] != [list(map(_norm, r)) for r in results]:
            wrong.append(f"{RESULTS}（{len(results)} 行 → {len(new_results)} 行）")
        if [list(map(_norm, r)) for r in new_log] != [list(map(_norm, r)) for r in log_rows]:
            wrong.append(f"{LOG}（{len(log_rows)} 行 → {len(new_log)} 行）")
        if wrong:
            raise CannotWrite(target, f"引き継ぎを確かめたところ、値が一致しないセルがあります: {'、'.join(wrong[:10])}")
        try:
            atomic_write(target, new_bytes)
        except OSError as exc:
            raise CannotWrite.from_os_error(target, exc) from None
    finally:
        temp.unlink(missing_ok=True)
    inputs = sum(not _blank(_cell(old_grid, s, c)) for s, c in old_cells.values())
    message = (
        f"新しい版のブックを作成しました: {target}\n"
        f"・入力セル {inputs} 個（日次実績と実績比較の実績を含む）、検証結果 {len(results)} 行、提出記録 {len(log_rows)} 行を引き継ぎ、"
        "すべて元のブックと一致することを確かめました。\n"
        f"・元のブック {old} は変更していません。"
    )
    return UpgradeOutcome(target, inputs, rewritten, len(results), len(log_rows), message)


def _norm(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return "" if v is None else v


def _rc(sheet: str, ref: str) -> tuple[str, int, int]:
    row, col = parse_ref(ref)
    return sheet, row, col
