"""Reading a plan out of a workbook, through the layout map.

The reading works on any *cell source* (a grid of values per sheet): a file
read with python-calamine (fast, values only, no macro ever runs), or a live
Excel book through xlwings. The shape of the plan (its columns and fiscal years)
is read from the sheets' own header rows, so a workbook describes itself.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import python_calamine

from kofu_xl.book.layout import (
    COST_FIRST_COL,
    DAILY,
    FIRST_DATA_COL,
    FOLLOWUP,
    FU_FIRST_COL,
    FU_HEADER_ROW,
    FU_INPUT_PATHS,
    NATIONAL,
    ROW_COST_HEADER,
    ROW_HEADER,
    S11,
    S12,
    WORK,
    Layout,
    layout_for,
)
from kofu_xl.core.calendar import CalendarError, parse_column
from kofu_xl.core.daily import SHEET_FACTS_KEY
from kofu_xl.core.model import Parameters, canonical, iter_leaves
from kofu_xl.errors import UnreadableInput
from kofu_xl.ooxml.cellref import parse_ref
from kofu_xl.ooxml.cellref import ref as _ref

__all__ = [
    "CellSource",
    "GridSource",
    "MAX_UNCOMPRESSED",
    "read_daily_outside",
    "read_followup_raw",
    "read_plan_raw",
    "read_workbook_raw",
    "workbook_layout",
]

# A plan workbook is ~0.3 MB uncompressed and ~0.1 MB on disk; these bounds refuse zip bombs
# and absurd files early while leaving room for a clerk's notes and pictures.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED = 100 * 1024 * 1024
MAX_PART_BYTES = 40 * 1024 * 1024
MAX_ENTRIES = 2_000


class CellSource(Protocol):
    def sheet_names(self) -> list[str]: ...

    def value(self, sheet: str, row: int, col: int) -> Any:
        """The value of a cell (1-based row/column); None when empty."""
        ...


class GridSource:
    """Cell values held as one 2-D list per sheet (row 1 / column 1 at [0][0]).

    ``formulas``: {sheet: cells holding a formula} for the sheets whose formulas were read
    (from a file); a sheet missing there has unknown formulas (a live book read as values).
    """

    def __init__(self, grids: dict[str, list[list[Any]]], formulas: dict[str, frozenset[str]] | None = None) -> None:
        self.grids = grids
        self.formulas = formulas or {}

    def sheet_names(self) -> list[str]:
        return list(self.grids)

    def value(self, sheet: str, row: int, col: int) -> Any:
        grid = self.grids.get(sheet)
        if grid is None or row > len(grid):
            return None
        line = grid[row - 1]
        if col > len(line):
            return None
        v = line[col - 1]
        return None if v == "" else v

    @classmethod
    def from_path(cls, path: Path, sheets: Iterable[str] | None = None) -> GridSource:
        """Read the values of a .xlsx/.xlsm with python-calamine (never runs macros)."""
        errors, formulas = _guard_zip(path, sheets)

        try:
            book = python_calamine.CalamineWorkbook.from_path(str(path))
            wanted = [s for s in book.sheet_names if sheets is None or s in set(sheets)]
            grids = {}
            for name in wanted:
                sheet = book.get_sheet_by_name(name)
                rows = sheet.to_python(skip_empty_area=False)
                for ref, text in errors.get(name, {}).items():
                    r, c = parse_ref(ref)
                    while len(rows) < r:
                        rows.append([])
                    line = rows[r - 1] = list(rows[r - 1])
                    line.extend([""] * (c - len(line)))
                    line[c - 1] = text
                grids[name] = rows
        except UnreadableInput:
            raise
        except Exception as exc:  # calamine raises its own error types for broken files
            raise UnreadableInput(path, f"Excel ファイルとして読めません（{exc.__class__.__name__}: {str(exc)[:200]}）") from None
        return cls(grids, formulas)


def _guard_zip(path: Path, sheets: Iterable[str] | None = None) -> tuple[dict[str, dict[str, str]], dict[str, frozenset[str]]]:
    """Refuse what is not a safe workbook before any parser sees it.

    Checks the size of every part (a zip bomb expands far beyond a plan's ~0.5 MB),
    refuses XML with a DOCTYPE (entity expansion, external entities) and returns
    the error cells of each sheet, {sheet name: {cell: "#REF!"}} — python-calamine
    reads them as empty, the clerk should hear which error is where — and the cells that
    hold a formula on the sheets of ``FORMULA_SHEETS``. With ``sheets``
    only the parts a reader of those sheets parses are looked into (faster; the other
    parts are never parsed).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnreadableInput(path, "ファイルが見つかりません") from None
    except OSError as exc:
        raise UnreadableInput(path, f"ファイルを開けません（{exc.strerror or exc}）") from None
    if path.is_dir():
        raise UnreadableInput(path, "フォルダーです。ファイルを指定してください")
    if size > MAX_FILE_BYTES:
        raise UnreadableInput(path, f"ファイルが大きすぎます（{size:,} バイト、上限 {MAX_FILE_BYTES:,} バイト）")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            _check_sizes(path, infos, size)
            names = {i.filename for i in infos}
            if "xl/workbook.xml" not in names:
                raise UnreadableInput(path, "Excel ブックの中身（xl/workbook.xml）がありません")
            parsed = None if sheets is None else set(_PACKAGE_PARTS)
            for info in infos:
                if info.filename.endswith((".xml", ".rels")) and (parsed is None or info.filename in parsed):
                    _refuse_doctype(path, z, info)
            parts = _sheet_parts(z)
            wanted = {name: part for name, part in parts.items() if sheets is None or name in set(sheets)}
            for part in wanted.values():
                if part in names and (parsed is not None):
                    _refuse_doctype(path, z, z.getinfo(part))
            return _error_cells(z, wanted), _formula_cells(z, {n: p for n, p in wanted.items() if n in FORMULA_SHEETS})
    except zipfile.BadZipFile:
        raise UnreadableInput(path, "Excel ブック（.xlsx/.xlsm）ではありません（壊れているか、別の形式です）") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableInput(path, f"ファイルを読めません（壊れています: {exc.__class__.__name__}）") from None


_PACKAGE_PARTS = ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml", "xl/styles.xml")


def _refuse_doctype(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    with z.open(info) as fh:
        head = fh.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnreadableInput(path, f"安全でない XML（DOCTYPE/ENTITY 宣言）が含まれています（{info.filename}）")


def _check_sizes(path: Path, infos: list[zipfile.ZipInfo], size: int) -> None:
    if len(infos) > MAX_ENTRIES:
        raise UnreadableInput(path, f"ブックの部品が多すぎます（{len(infos):,} 個）")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnreadableInput(path, "暗号化（パスワード保護）されたブックは読めません。保護を解除してから指定してください")
        if info.file_size > MAX_PART_BYTES:
            raise UnreadableInput(path, f"部品 {info.filename} の展開後のサイズが大きすぎます（{info.file_size:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります")
        total += info.file_size
    if total > MAX_UNCOMPRESSED:
        raise UnreadableInput(path, f"展開後のサイズが大きすぎます（{total:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります")


_SHEET_RE = re.compile(rb'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_REL_RE = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
_REL_RE2 = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"')
_ERROR_CELL_RE = re.compile(rb'<c\b([^>]*\bt="e"[^>]*)>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?<v>([^<]*)</v>')
_REF_ATTR_RE = re.compile(rb'\br="([A-Z]{1,3}[0-9]+)"')


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """{sheet name: zip part} from the workbook and its relationships."""
    try:
        wb = z.read("xl/workbook.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return {}
    targets = {m[1]: m[2] for m in _REL_RE.finditer(rels)} | {m[2]: m[1] for m in _REL_RE2.finditer(rels)}
    out = {}
    for m in _SHEET_RE.finditer(wb):
        target = targets.get(m[2])
        if target:
            t = target.decode("utf-8", "replace")
            out[html.unescape(m[1].decode("utf-8", "replace"))] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


def _error_cells(z: zipfile.ZipFile, parts: dict[str, str]) -> dict[str, dict[str, str]]:
    """{sheet: {cell: "#REF!"}} for cells holding an Excel error value."""
    out: dict[str, dict[str, str]] = {}
    for sheet, part in parts.items():
        try:
            data = z.read(part)
        except KeyError:
            continue
        if b't="e"' not in data:
            continue
        cells = {}
        for c in _ERROR_CELL_RE.finditer(data):
            ref = _REF_ATTR_RE.search(c[1])
            if ref:
                cells[ref[1].decode()] = html.unescape(c[2].decode("utf-8", "replace"))
        if cells:
            out[sheet] = cells
    return out


_FORMULA_CELL_RE = re.compile(rb'<c\b([^>]*)>(?:(?!</c>).)*?<f\b', re.S)
FORMULA_SHEETS = frozenset({DAILY})  # whose formulas the checks compare with the builder's


def _formula_cells(z: zipfile.ZipFile, parts: dict[str, str]) -> dict[str, frozenset[str]]:
    """{sheet: cells that hold a formula} (python-calamine gives values only)."""
    out: dict[str, frozenset[str]] = {}
    for sheet, part in parts.items():
        try:
            data = z.read(part)
        except KeyError:
            continue
        cells = set()
        for c in _FORMULA_CELL_RE.finditer(data):
            ref = _REF_ATTR_RE.search(c[1])
            if ref:
                cells.add(ref[1].decode())
        out[sheet] = frozenset(cells)
    return out


def _cell(src: CellSource, sheet: str, ref: str) -> Any:
    row, col = parse_ref(ref)
    return src.value(sheet, row, col)


def workbook_layout(src: CellSource, path: Path | str | None = None) -> Layout:
    """The layout of this workbook, read from its header rows."""
    names = set(src.sheet_names())
    for required in (S11, S12):
        if required not in names:
            raise UnreadableInput(path, f"シート「{required}」がありません（交付円滑化計画の様式ではないか、シート名が変更されています）")
    keys: list[str] = []
    actual_through = None
    col = FIRST_DATA_COL
    while True:
        label = src.value(S11, ROW_HEADER, col)
        if label is None:
            break
        try:
            key = parse_column(str(label))
        except CalendarError:
            raise UnreadableInput(path, f"{S11}!{_ref(col, ROW_HEADER)} の列見出し「{label}」が読めません（様式の列見出しを変更しないでください）") from None
        if "実績" in str(label):
            actual_through = key
        keys.append(key)
        col += 1
    months = [k for k in keys if not k.startswith("FY")]
    years = [int(k[2:]) for k in keys if k.startswith("FY")]
    if not months:
        raise UnreadableInput(path, f"{S11} の列見出し（{S11}!{_ref(FIRST_DATA_COL, ROW_HEADER)} から右）がありません")
    cost_years = []
    col = COST_FIRST_COL
    while (label := src.value(S12, ROW_COST_HEADER, col)) is not None:
        try:
            cost_years.append(int(parse_column(str(label))[2:]))
        except (CalendarError, ValueError):
            raise UnreadableInput(path, f"{S12}!{_ref(col, ROW_COST_HEADER)} の年度見出し「{label}」が読めません") from None
        col += 1
    params = Parameters(
        first_month=months[0],
        last_month=months[-1],
        fiscal_years=years,
        actual_through=actual_through,
        cost_years=cost_years or Parameters().cost_years,
    )
    return layout_for(params)


_PCT_PATHS = {"declared.rate_pct", "declared.increase_pct", "basic.base_rate_pct"}


def _as_pct(value: Any) -> Any:
    """A rate cell holds a fraction (0.149 shown as 14.9%); the model keeps percent points."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(repr(float(value))) * 100
    return value  # text such as "14.9%" is read by the model's tolerant loader


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        tree = tree.setdefault(p, {})
    tree[parts[-1]] = value


def read_plan_raw(src: CellSource, path: Path | str | None = None) -> tuple[dict[str, Any], Layout]:
    """Raw plan data (as the model's loader takes it) and the layout it was read with."""
    lay = workbook_layout(src, path)
    names = set(src.sheet_names())
    raw: dict[str, Any] = {
        "parameters": {
            "first_month": lay.columns[0],
            "last_month": [k for k in lay.columns if not k.startswith("FY")][-1],
            "fiscal_years": [int(k[2:]) for k in lay.columns if k.startswith("FY")],
            "actual_through": _actual(lay, src),
            "cost_years": [int(k[2:]) for k in lay.cost_years],
        }
    }
    for leaf in iter_leaves():
        path_ = leaf.path
        if leaf.group in ("costs", "working"):
            sheet = S12 if leaf.group == "costs" else WORK
            if sheet not in names:
                continue
            per_year = {}
            for key in lay.cost_years:
                s, ref = lay.cost_cell(path_, key)
                per_year[key] = _cell(src, s, ref)
            for key, value in per_year.items():
                _set(raw.setdefault(leaf.group, {}).setdefault(key, {}), ".".join(leaf.attr_path), value)
        elif path_ == "budget_timing":
            raw["budget_timing"] = [_cell(src, *_loc(lay, f"budget_timing.{i}")) for i in (1, 2, 3)]
        elif leaf.meta.series:
            row = lay.rows11[path_]
            values = [src.value(S11, row, lay.col11(k)) for k in lay.columns]
            if path_ in _PCT_PATHS:
                values = [_as_pct(v) for v in values]
            _set(raw, path_, values)
        elif path_ in lay.scalars:
            s = lay.scalars[path_]
            if s.sheet not in names:
                continue
            value = _cell(src, s.sheet, s.cell)
            if path_ in _PCT_PATHS:
                value = _as_pct(value)
            _set(raw, path_, value)
    if NATIONAL in names:
        for key in ("parameters.capacity_cards_per_month", "parameters.capacity_staff"):
            value = _cell(src, *_loc(lay, key))
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                raw["parameters"][key.split(".")[1]] = canonical(Decimal(repr(float(value))))
    if DAILY in names:
        raw["daily"] = _read_daily(src, lay)
        raw[SHEET_FACTS_KEY] = daily_sheet_facts(src, lay)
    return raw, lay


def _loc(lay: Layout, path: str) -> tuple[str, str]:
    s = lay.scalars[path]
    return s.sheet, s.cell


def _actual(lay: Layout, src: CellSource) -> str | None:
    last = None
    for i, key in enumerate(lay.columns):
        label = src.value(S11, ROW_HEADER, FIRST_DATA_COL + i)
        if label is not None and "実績" in str(label):
            last = key
    return last


def _read_daily(src: CellSource, lay: Layout) -> dict[str, Any]:
    days: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    for month, block in lay.daily_blocks.items():
        for day, _date_ref, count_ref in block.cells():
            value = _cell(src, DAILY, count_ref)
            if value is not None:
                days[day.isoformat()] = value
        weekday = [_cell(src, DAILY, block.weekday_total_cell(i)) for i in range(7)]
        total = _cell(src, DAILY, block.month_total_cell)
        if total is not None or any(v is not None for v in weekday):
            declared[month] = {"weekday": weekday, "total": total}
    return {"days": days, "declared": declared}


def read_daily_outside(src: CellSource, lay: Layout) -> list[tuple[str, Any, str, Any]]:
    """Values typed in a calendar block of 日次実績 outside its month.

    Every one of the 6 × 7 count cells of each block is read: (block month, the day the
    position stands for, cell, value) for each non-empty one that is not a day of the month.
    """
    out: list[tuple[str, Any, str, Any]] = []
    if DAILY not in src.sheet_names():
        return out
    for month, block in lay.daily_blocks.items():
        for day, _date_ref, count_ref in block.grid():
            if f"{day.year}-{day.month:02d}" == month:
                continue
            value = _cell(src, DAILY, count_ref)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                out.append((month, day, count_ref, value))
    return out


def daily_sheet_facts(src: CellSource, lay: Layout) -> dict[str, Any]:
    """The facts of 日次実績 that the daily rules check (see ``kofu_xl.core.daily``): values in
    the positions outside each month (all 6 × 7 are read) and, when the source knows the
    sheet's formulas, whether each totals cell still holds the builder's formula."""
    outside = [[month, day.isoformat(), cell, value] for month, day, cell, value in read_daily_outside(src, lay)]
    formulas = getattr(src, "formulas", {}).get(DAILY)
    totals = None
    if formulas:  # None: a live book read as values; empty: a values-only copy (a package), not the clerk's book
        totals = []
        for month, block in lay.daily_blocks.items():
            for index, cell in block.total_cells():
                row, col = parse_ref(cell)
                totals.append([month, index, cell in formulas, src.value(DAILY, row, col), cell, block.total_formula(index)])
    return {"sheet": DAILY, "outside": outside, "totals": totals}


def read_followup_raw(src: CellSource, lay: Layout, path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """The input rows of 実績比較 as typed: {model path: {month: value}}.

    Months are read from the sheet's own header row (C5 →), like 本表1-1's columns; a month
    the layout does not know is ignored. Empty when the book has no 実績比較.
    """
    out: dict[str, dict[str, Any]] = {p: {} for p in FU_INPUT_PATHS}
    if FOLLOWUP not in src.sheet_names():
        return out
    col = FU_FIRST_COL
    while (label := src.value(FOLLOWUP, FU_HEADER_ROW, col)) is not None:
        try:
            month = parse_column(str(label))
        except CalendarError:
            raise UnreadableInput(path, f"{FOLLOWUP}!{_ref(col, FU_HEADER_ROW)} の年月の見出し「{label}」が読めません（見出しを変更しないでください）") from None
        if month in lay.followup_months:
            for key in FU_INPUT_PATHS:
                value = src.value(FOLLOWUP, lay.rows_fu[key], col)
                if value is not None:
                    out[key][month] = value
        col += 1
    return out


# The sheets a plan is read from (charts, results and logs are not needed).
PLAN_SHEETS = (S11, S12, WORK, DAILY, NATIONAL)


def read_workbook_raw(path: str | Path) -> dict[str, Any]:
    """Raw plan data from a .xlsx/.xlsm file (values in the cells)."""
    raw, _ = read_workbook(path)
    return raw


def read_workbook(path: str | Path) -> tuple[dict[str, Any], Layout]:
    p = Path(path)
    src = GridSource.from_path(p, sheets=PLAN_SHEETS)
    return read_plan_raw(src, p)
