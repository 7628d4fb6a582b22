"""Reading a plan out of a workbook, through the layout map.

The reading works on any *cell source* (a grid of values per sheet): a file
read with python-calamine (fast, values only, no macro ever runs), or a live
Excel book through xlwings. The shape of the plan (its columns and fiscal years)
is read from the sheets' own header rows, so a workbook describes itself.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ._cellref import parse_ref
from ._cellref import ref as _ref
from .calendar import CalendarError, parse_column
from .layout import (
    COST_FIRST_COL,
    DAILY,
    FIRST_DATA_COL,
    NATIONAL,
    ROW_COST_HEADER,
    ROW_HEADER,
    S11,
    S12,
    WORK,
    Layout,
    layout_for,
)
from .model import Parameters, canonical, iter_leaves
from .sources import UnreadableInput

__all__ = ["CellSource", "GridSource", "MAX_UNCOMPRESSED", "read_plan_raw", "read_workbook_raw", "workbook_layout"]

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # a plan is < 1 MB; refuse zip bombs early
MAX_RATIO = 200


class CellSource(Protocol):
    def sheet_names(self) -> list[str]: ...

    def value(self, sheet: str, row: int, col: int) -> Any:
        """The value of a cell (1-based row/column); None when empty."""
        ...


class GridSource:
    """Cell values held as one 2-D list per sheet (row 1 / column 1 at [0][0])."""

    def __init__(self, grids: dict[str, list[list[Any]]]) -> None:
        self.grids = grids

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
        _guard_zip(path)
        import python_calamine

        try:
            book = python_calamine.CalamineWorkbook.from_path(str(path))
            wanted = [s for s in book.sheet_names if sheets is None or s in set(sheets)]
            grids = {}
            for name in wanted:
                sheet = book.get_sheet_by_name(name)
                rows = sheet.to_python(skip_empty_area=False)
                grids[name] = rows
        except UnreadableInput:
            raise
        except Exception as exc:  # calamine raises its own error types for broken files
            raise UnreadableInput(path, f"Excel ファイルとして読めません（{exc.__class__.__name__}: {str(exc)[:200]}）") from None
        return cls(grids)


def _guard_zip(path: Path) -> None:
    """Refuse what is not a workbook before any parser sees it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnreadableInput(path, "ファイルが見つかりません") from None
    except OSError as exc:
        raise UnreadableInput(path, f"ファイルを開けません（{exc.strerror or exc}）") from None
    if path.is_dir():
        raise UnreadableInput(path, "フォルダーです。ファイルを指定してください")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise UnreadableInput(path, "Excel ブック（.xlsx/.xlsm）ではありません（壊れているか、別の形式です）") from None
    except OSError as exc:
        raise UnreadableInput(path, f"ファイルを読めません（{exc.strerror or exc}）") from None
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise UnreadableInput(path, "Excel ブックの中身（xl/workbook.xml）がありません")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED or total > max(size, 1) * MAX_RATIO and total > 10 * 1024 * 1024:
        raise UnreadableInput(path, f"展開後のサイズが大きすぎます（{total:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります")


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


def read_workbook_raw(path: str | Path) -> dict[str, Any]:
    """Raw plan data from a .xlsx/.xlsm file (values in the cells)."""
    raw, _ = read_workbook(path)
    return raw


def read_workbook(path: str | Path) -> tuple[dict[str, Any], Layout]:
    p = Path(path)
    src = GridSource.from_path(p)
    return read_plan_raw(src, p)
