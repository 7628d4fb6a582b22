"""Building the official workbook from a plan (an edge: openpyxl, VBA, zip).

`build_sheets` draws every sheet from the layout map with openpyxl and returns,
beside the .xlsx bytes, the value of every formula cell as the core computes it;
`kofu_xl.book.assemble.assemble_workbook` adds the VBA project (xlwings runtime, UDF
wrappers, ribbon callbacks) and the ribbon, injects those cached values and writes a
byte-reproducible .xlsm (`kofu_xl.book.vba.build_xlsm` generates both and assembles;
`kofu_xl.book.assemble.shipped_macro_parts` takes them from the shipped workbook). This
module loads neither xlwings, the UDF module nor the package writer (kofu_xl.ooxml.package):
submit's package, when no stored blank of its shape takes it (kofu_xl.book.package_content),
is drawn here and saved by openpyxl alone.

Inputs are styled and unlocked, calculations locked; totals and the 実績 column
are written as formulas over their parts only when the plan's figure equals
them, so a workbook made from a plan never silently repairs it.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.chart.series import SeriesLabel
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.properties import CalcProperties
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from kofu_xl.book.computed import (
    BASE_ISSUED_NAME,
    BASE_POPULATION_NAME,
    CAPACITY_CARDS_NAME,
    CAPACITY_STAFF_NAME,
    NA,
    POPULATION_NAME,
    VS_PLAN_BEHIND,
    Computed,
    computed_cells,
    national_keys,
    static_followup,
    with_prefills,
)
from kofu_xl.book.layout import (
    CALC_RGB,
    CHART,
    CHART_SOURCE_ROWS,
    CONF,
    COST_FIRST_COL,
    DAILY,
    DAILY_BLOCK_ROWS,
    DAILY_FIRST_COL,
    DAILY_FIRST_ROW,
    FIRST_DATA_COL,
    FOLLOWUP,
    FU_BASE_ROW,
    FU_FIRST_COL,
    FU_HEADER_ROW,
    FU_POPULATION_CELL,
    FU_POPULATION_DATE_CELL,
    HIGHLIGHT_MEMO_COL,
    HIGHLIGHT_MEMO_HEADERS,
    INPUT_RGB,
    LOG,
    LOG_HEADERS,
    MEMO_STYLE_HEADER,
    NATIONAL,
    NATIONAL_KEY11_COL,
    NATIONAL_KEY_FU_COL,
    NATIONAL_LOWER_COL,
    NATIONAL_TABLE_HEADER_ROW,
    NATIONAL_UPPER_COL,
    PP_BACKUP_HEADERS,
    PP_COST_ROWS,
    PP_HEADER_ROW,
    PP_SETTINGS,
    PROPOSAL,
    RESULT_HEADERS,
    RESULTS,
    ROW_BASIC_LABELS,
    ROW_BASIC_VALUES,
    ROW_COST_HEADER,
    ROW_HEADER,
    ROW_WORK_HEADER,
    ROWS_11,
    ROWS_12,
    ROWS_FU,
    ROWS_PP,
    ROWS_WORK,
    S11,
    S12,
    SHEETS,
    STATUS_CELL,
    STATUS_LABEL_CELL,
    WORK,
    WORK_FIRST_COL,
    Layout,
    RowSpec,
    layout_for,
)
from kofu_xl.book.package_content import basic_captions, document_title, printed_months, s11_scalar_format, with_data
from kofu_xl.book.package_content import cell_value as _cell_value
from kofu_xl.book.package_content import get_path as _get
from kofu_xl.book.package_content import month_text as _month_text
from kofu_xl.book.proposal_sheet import proposal_cells, settings_values
from kofu_xl.book.titles import sheet_title
from kofu_xl.core import calc
from kofu_xl.core.calendar import fiscal_year_label, month_label, month_range
from kofu_xl.core.model import IMPLEMENTED, UNDECIDED, CostYear, Plan, Working, iter_leaves
from kofu_xl.core.propose import Choices
from kofu_xl.core.schedule import Schedule, default_schedule
from kofu_xl.core.text import FORMULA_START, xml_text
from kofu_xl.ooxml.cellref import col_letter, parse_ref, range_bounds, ref

__all__ = [
    "LOG_HEADERS",
    "RESULT_HEADERS",
    "XLWINGS_CONF",
    "XLWINGS_CONF_UNPINNED",
    "BuiltSheets",
    "build_sheets",
    "input_kinds",
    "month_choices",
]

# ---------------------------------------------------------------- styles

_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
INPUT_FILL = PatternFill("solid", fgColor=INPUT_RGB)  # pale yellow: the clerk types here
CALC_FILL = PatternFill("solid", fgColor=CALC_RGB)  # grey: computed, locked
LABEL_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FILL = PatternFill("solid", fgColor="BDD7EE")
INPUT_FONT = Font(name="游ゴシック", size=10, color="1F3864")
CALC_FONT = Font(name="游ゴシック", size=10, color="000000")
LABEL_FONT = Font(name="游ゴシック", size=10, bold=True)
TITLE_FONT = Font(name="游ゴシック", size=14, bold=True)
NOTE_FONT = Font(name="游ゴシック", size=9, color="595959")
UNLOCKED = Protection(locked=False)
LOCKED = Protection(locked=True)
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


# xlwings reads its settings from this sheet: keys in column A from A1 down, values in B.
# A key on the sheet wins over the folder's and the user's xlwings.conf (what the xlwings
# add-in's ribbon writes), even with an empty value, so every key xlwings.bas 0.37.8 reads
# (GetConfig) is pinned here to what kofu-xl needs or to xlwings' own default, except the
# interpreter: IT chooses it per PC in the folder's xlwings.conf (docs/install.md 4.3).
XLWINGS_CONF: tuple[tuple[str, str], ...] = (
    ("UDF Modules", "kofu_udfs"),  # a Japanese workbook name cannot become a module name
    ("ADD_WORKBOOK_TO_PYTHONPATH", "False"),  # kofu-xl is installed; the folder may be OneDrive/Japanese
    ("Show Console", "False"),
    ("Use UDF Server", "False"),
    ("Debug UDFs", "False"),
    ("PYTHONPATH", ""),  # kofu-xl and kofu_udfs are installed packages: nothing to add
    ("Conda Path", ""),  # a python.org interpreter, no conda activation
    ("Conda Env", ""),
    ("LICENSE_KEY", ""),  # the VBA runtime needs none (no embedded code)
    ("SHOW_ERROR_POPUPS", "True"),
    ("TEMP DIR", "%TEMP%"),  # where xlwings puts its log while Python starts (xlwings' default)
    ("ONEDRIVE_CONSUMER_WIN", ""),
    ("ONEDRIVE_COMMERCIAL_WIN", ""),
    ("SHAREPOINT_WIN", ""),
    ("INTERPRETER_MAC", ""),
    ("ONEDRIVE_CONSUMER_MAC", ""),
    ("ONEDRIVE_COMMERCIAL_MAC", ""),
    ("SHAREPOINT_MAC", ""),
)
# Read by xlwings.bas but deliberately left to the folder's xlwings.conf (see above).
XLWINGS_CONF_UNPINNED = ("INTERPRETER_WIN", "INTERPRETER")

CALC_ID = 191029
MONTH_LIST_NAME = "開始時期の選択肢"


def month_choices(params_first: str = "2019-04", last: str = "2023-03") -> list[str]:
    """The dropdown answers for start dates: 未定(実施予定なし) and each month in 和暦."""
    return [UNDECIDED, IMPLEMENTED, *(month_label(m, short=False) for m in month_range(params_first, last))]


# ---------------------------------------------------------------- result


@dataclass
class BuiltSheets:
    xlsx: bytes
    cached: dict[tuple[str, str], Any] = field(default_factory=dict)  # formula cell -> value
    formulas: dict[tuple[str, str], str] = field(default_factory=dict)  # formula cell -> formula text
    layout: Layout | None = None


class _Sheet:
    """Writes cells of one worksheet and records formula cells and their values."""

    def __init__(
        self, ws: Worksheet, out: BuiltSheets, comp: dict[tuple[str, str], Computed], values_only: bool = False, looks: dict[tuple[Any, ...], Any] | None = None,
    ) -> None:
        self.ws = ws
        self.out = out
        self.comp = comp
        self.values_only = values_only
        self.looks = looks if looks is not None else {}  # shared by the sheets of one workbook

    def look(self, c: Any, look: tuple[Any, ...], apply: Callable[[], None]) -> None:
        """Give cell ``c`` a look (style objects and number format, named in ``look``).

        The first cell of each (look, the cell's style before) has it set attribute by
        attribute (``apply``); the others get a copy of that cell's style indices, as openpyxl
        copies a style: setting a font or a fill hashes every style object of the workbook's
        lists, and the indices an object gets never change once it is in them."""
        before = None if c._style is None else tuple(c._style)  # None: a cell never styled
        key = (before, *(id(o) for o in look))
        known = self.looks.get(key)
        if known is None:
            apply()
            self.looks[key] = (copy.copy(c._style), look)  # holds the objects: their ids stay theirs
        else:
            c._style = copy.copy(known[0])

    def merge(self, rng: str) -> None:
        """Merge a range as ``Worksheet.merge_cells`` does: the covered cells become merged
        cells, the edges take the top-left cell's borders and every cell its protection.

        openpyxl replaces the covered cells by fresh merged cells first, so each cell's look
        after depends only on the top-left and bottom-right cells' looks before, on whether the
        range is one column or one row, and on which edges of the range the cell lies on (its
        kind). A merge whose every cell is of a kind seen before gets copies of those style
        indices; any other runs openpyxl's own merge (which hashes a border object per edge
        cell) and records its cells' looks by kind: every style object a known kind needs is
        then in the workbook's lists already, whose indices never change."""
        ws = self.ws
        min_col, min_row, max_col, max_row = range_bounds(rng)
        start = ws._cells.get((min_row, min_col))
        if start is None or start._style is None:  # nothing known to key on: openpyxl's own
            ws.merge_cells(rng)
            return
        if (max_row, max_col) == (min_row, min_col):
            end_look: Any = "itself"
        else:
            end = ws._cells.get((max_row, max_col))
            end_look = "none" if end is None else None if end._style is None else tuple(end._style)
        shape = ("merge", tuple(start._style), end_look, min_col == max_col, min_row == max_row)
        kinds = [((r, c), (*shape, r == min_row, c == min_col, c == max_col, r == max_row)) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)]
        known = [self.looks.get(kind) for _, kind in kinds]
        if any(look is None for look in known):
            self._merge_cells(rng)
            for rc, kind in kinds:
                self.looks.setdefault(kind, copy.copy(ws._cells[rc]._style))
            return
        merged = MergedCellRange.__new__(MergedCellRange)  # without its __init__, which sets the borders
        CellRange.__init__(merged, range_string=rng)
        merged.ws, merged.start_cell = ws, start
        ws.merged_cells.add(merged)
        for ((r, c), _), look in zip(kinds, known, strict=True):
            cell = start if (r, c) == (min_row, min_col) else MergedCell(ws, row=r, column=c)
            cell._style = copy.copy(look)
            ws._cells[(r, c)] = cell

    def _merge_cells(self, rng: str) -> None:
        """``Worksheet.merge_cells(rng)`` step by step as openpyxl 3.1 takes them (the range's
        top-left cell takes the bottom-right's right and bottom borders; the other cells become
        merged cells; each edge cell adds the top-left's border of that edge; every cell takes its
        protection), except that a border or protection a cell ends with is looked up once per
        workbook by (what the cell had, what is added): openpyxl hashes the resulting style
        object for every edge cell, a tenth of drawing a package. The indices an object gets in
        the workbook's lists never change, so the looked-up index is the one openpyxl's own
        addition gives (tests/book/test_build.py compares the parts with ``merge_cells``)."""
        ws = self.ws
        merged = MergedCellRange(ws, rng)  # its __init__ gives the top-left cell the bottom-right's edges
        ws.merged_cells.add(merged)
        start = merged.start_cell
        cells = merged.cells
        next(cells)
        for row, col in cells:
            ws._cells[row, col] = MergedCell(ws, row, col)
        for name in ("top", "left", "right", "bottom"):
            side = getattr(start.border, name)
            if side and side.style is None:
                continue
            added = ("merge border", name, _styled(start).borderId)
            border: Border | None = None
            for row, col in getattr(merged, name):
                cell = ws._cells[row, col]
                key = (*added, _styled(cell).borderId)
                known = self.looks.get(key)
                if known is None:
                    cell.border += border or (border := Border(**{name: side}))
                    self.looks[key] = cell._style.borderId
                else:
                    cell._style.borderId = known
        key = ("merge protection", _styled(start).protectionId)
        protection = self.looks.get(key)
        for row, col in merged.cells:
            cell = ws._cells[row, col]
            if protection is None:
                cell.protection = copy.copy(start.protection)
                protection = self.looks[key] = cell._style.protectionId
            else:
                _styled(cell).protectionId = protection

    def cell(self, cell: str) -> Any:
        """The cell at ``cell`` ("E9"): ``ws[cell]`` without openpyxl parsing the reference as
        a range each time (the build addresses ~5,000 cells)."""
        return self.ws.cell(*parse_ref(cell))

    def style(self, c: Any, fill: PatternFill, font: Font, protection: Protection, fmt: str | None) -> None:
        """The look of an input (yellow, unlocked) or a computed cell (grey, locked)."""
        self.look(c, ("cell", fill, font, protection, fmt), lambda: _style(c, fill, font, protection, fmt))

    def computed(self, cell: str, fmt: str | None = None) -> None:
        """A computed cell: its formula (kofu_xl.book.computed) with the core's value; a blank
        locked cell where the build computes nothing."""
        found = self.comp.get((self.ws.title, cell))
        if found is None:
            _blank_calc(self, cell, fmt)
            return
        value = None if self.values_only and found.value == NA else found.value  # a package's gap is an empty cell
        self.calc(cell, found.formula, value, fmt)

    def prefill(self, cell: str, value: Any, fmt: str | None, *, always: bool) -> None:
        """An input cell: its prefill formula when ``always`` (a new plan) or when the typed
        value equals the formula's, otherwise the value as typed."""
        found = self.comp.get((self.ws.title, cell))
        if found is not None and found.prefill and (always or (value is not None and value == found.value)):
            self.input_formula(cell, found.formula, found.value, fmt)
        else:
            self.input(cell, value, fmt)

    def label(self, cell: str, text: str, *, fill: PatternFill | None = LABEL_FILL, font: Font = LABEL_FONT, align: Alignment = WRAP) -> None:
        c = self.cell(cell)
        put(c, text)

        def apply() -> None:
            c.font = font
            if fill is not None:
                c.fill = fill
            c.alignment = align
            c.border = BORDER
            c.protection = LOCKED

        self.look(c, ("label", font, fill, align), apply)

    def input(self, cell: str, value: Any, fmt: str | None = None) -> None:
        c = self.cell(cell)
        put(c, value)
        self.style(c, INPUT_FILL, INPUT_FONT, UNLOCKED, fmt)

    def input_formula(self, cell: str, formula: str, value: Any, fmt: str | None = None) -> None:
        """An input cell prefilled with a formula over its parts (the clerk may overwrite it)."""
        if self.values_only:
            self.input(cell, value, fmt)
            return
        self.input(cell, None, fmt)
        self.cell(cell).value = formula  # the one place an input cell gets a formula: the builder's own
        self.out.formulas[(self.ws.title, cell)] = formula
        self.out.cached[(self.ws.title, cell)] = value

    def calc(self, cell: str, formula: str, value: Any, fmt: str | None = None) -> None:
        c = self.cell(cell)
        if self.values_only:
            put(c, value)
        else:
            c.value = formula
        self.style(c, CALC_FILL, CALC_FONT, LOCKED, fmt)
        self.out.formulas[(self.ws.title, cell)] = formula
        self.out.cached[(self.ws.title, cell)] = value


def _styled(cell: Any) -> StyleArray:
    """The cell's style indices, made (all 0) where it has none, as openpyxl's style setters do."""
    if cell._style is None:
        cell._style = StyleArray()
    return cell._style


def _heading(ws: Worksheet, title: str, note: str | None = None) -> None:
    """A sheet's title in A1 and, below it, one line on how to use the sheet."""
    put(ws["A1"], title)
    ws["A1"].font = TITLE_FONT
    if note:
        put(ws["A2"], note)
        ws["A2"].font = NOTE_FONT


def _style(c: Any, fill: PatternFill, font: Font, protection: Protection, fmt: str | None) -> None:
    """The look of an input (yellow, unlocked) or a computed cell (grey, locked)."""
    c.fill = fill
    c.font = font
    c.border = BORDER
    c.protection = protection
    if fmt:
        c.number_format = fmt


def put(c: Any, value: Any) -> None:
    """Write a value into a cell; a string is always text, never a formula.

    openpyxl turns any string starting with "=" into a formula: text from a plan
    (市町村名 "=HYPERLINK(…)") is forced to a string cell instead, with Excel's
    leading-apostrophe flag when it looks like a formula (so it stays text when the
    clerk edits it). Characters XML cannot carry become U+FFFD (the check reports them).
    """
    value = _cell_value(value)
    if isinstance(value, str):
        value = xml_text(value)
        c.value = value
        c.data_type = "s"
        if value.startswith(FORMULA_START):
            c.quotePrefix = True
        return
    c.value = value




def _abs(sheet: str, cell: str) -> str:
    col = "".join(ch for ch in cell if ch.isalpha())
    row = cell[len(col) :]
    return f"'{sheet}'!${col}${row}"


# ---------------------------------------------------------------- 本表1-1


def _sheet_11(sh: _Sheet, plan: Plan, lay: Layout, derived: calc.Derived, schedule: Schedule, blank: bool) -> None:
    ws = sh.ws
    first, last = FIRST_DATA_COL, lay.last_col11
    _heading(ws, sheet_title(S11, plan), "黄色のセルに入力します。灰色のセルは自動計算です（KOFU_* 関数）。")
    # 基礎情報
    sh.label(f"A{ROW_BASIC_LABELS}", "基礎情報", align=CENTER)
    sh.merge(f"A{ROW_BASIC_LABELS}:D{ROW_BASIC_VALUES}")
    captions = basic_captions(plan)
    for path in (
        "basic.dantai_code",
        "basic.prefecture",
        "basic.municipality",
        "basic.population",
        "basic.base_issued",
        "basic.base_rate_pct",
        "basic.department",
        "basic.phone",
        "basic.email",
    ):
        s = lay.scalars[path]
        assert s.label_cell is not None
        sh.label(s.label_cell, captions.get(path, s.label), align=CENTER)
        if path == "basic.base_rate_pct":
            sh.computed(s.cell, "0.0%")
        else:
            value = _get(plan, path)
            fmt = "#,##0" if path in ("basic.population", "basic.base_issued") else "@"
            sh.input(s.cell, value, fmt)
        if s.merge_to:  # after the cells have their looks: the merged edges take their borders
            sh.merge(f"{s.label_cell}:{col_letter(_col(s.merge_to))}{ROW_BASIC_LABELS}")
            sh.merge(f"{s.cell}:{s.merge_to}")
    # column headers
    sh.label(f"A{ROW_HEADER}", "調査項目", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{ROW_HEADER}:D{ROW_HEADER}")
    for col in plan.columns:
        # "(実績)" on its own line, as the printed form shows it
        sh.label(ref(lay.col11(col.key), ROW_HEADER), col.label.replace("(実績)", "\n(実績)"), fill=HEADER_FILL, align=CENTER)
    # whether the grey cells are live or as saved (a native formula, no macro)
    sh.label(STATUS_LABEL_CELL, "計算の状態", align=CENTER)
    sh.computed(STATUS_CELL)
    ws[STATUS_CELL].fill = PatternFill(fill_type=None)
    ws[STATUS_CELL].border = Border()
    ws[STATUS_CELL].font = NOTE_FONT
    # rows
    for spec in ROWS_11:
        row = lay.rows11[spec.key]
        for i, text in enumerate(spec.labels):
            sh.label(ref(1 + i, row), text)
        if spec.role == "input":
            _input_series(sh, plan, lay, spec, row, blank)
        elif spec.role == "calc":
            for col in range(first, last + 1):
                sh.computed(ref(col, row), spec.fmt)
    _merge_label_runs(sh, [(lay.rows11[spec.key], spec.labels) for spec in ROWS_11])
    # merged label columns for readability
    for key in ("label.promotion", "label.invite", "label.at_application", "label.outreach", "label.support", "label.note"):
        row = lay.rows11[key]
        for col in range(first, last + 1):
            c = ws.cell(row=row, column=col)
            sh.look(c, ("border", BORDER), lambda c=c: setattr(c, "border", BORDER))
    # scalars on 本表1-1 rows
    for s in lay.scalars.values():
        if s.sheet != S11 or s.path.startswith("basic."):
            continue
        if s.label_cell:
            sh.label(s.label_cell, s.label, align=CENTER)
        value = _get(plan, s.path)
        sh.input(s.cell, _month_text(value) if s.dropdown == "month" else value, s11_scalar_format(value, s.dropdown))
        if s.merge_to:
            sh.merge(f"{s.cell}:{s.merge_to}")
            ws[s.cell].alignment = WRAP
    _layout_11(ws, lay, last)


def _merge_label_runs(sh: _Sheet, rows: list[tuple[int, tuple[str, ...]]]) -> None:
    """Merge runs of equal labels down each label column, as the printed form does.

    A run in one column never crosses a change in the columns to its left; an
    empty label right of a filled one joins that one horizontally.
    """
    ws = sh.ws
    ncols = max(len(labels) for _, labels in rows)
    for col in range(ncols):
        start = 0
        while start < len(rows):
            key = tuple(rows[start][1][: col + 1])
            end = start
            while end + 1 < len(rows) and tuple(rows[end + 1][1][: col + 1]) == key and rows[end + 1][0] == rows[end][0] + 1:
                end += 1
            if key[-1] and end > start:
                sh.merge(f"{ref(col + 1, rows[start][0])}:{ref(col + 1, rows[end][0])}")
                ws.cell(row=rows[start][0], column=col + 1).alignment = CENTER
            start = end + 1
    for row, labels in rows:
        # a label with empty columns to its right spans them
        for col in range(len(labels) - 1, 0, -1):
            if labels[col - 1] and not any(labels[col:]):
                last_merged = any(
                    r.min_row <= row <= r.max_row and r.min_col <= col <= r.max_col for r in ws.merged_cells.ranges
                )
                if not last_merged:
                    sh.merge(f"{ref(col, row)}:{ref(len(labels), row)}")
                break


def _col(cell: str) -> int:
    return parse_ref(cell)[1]


def _blank_calc(sh: _Sheet, cell: str, fmt: str | None = None) -> None:
    c = sh.cell(cell)

    def apply() -> None:
        c.fill = CALC_FILL
        c.border = BORDER
        c.protection = LOCKED
        if fmt:
            c.number_format = fmt

    sh.look(c, ("blank", fmt), apply)


def _input_series(sh: _Sheet, plan: Plan, lay: Layout, spec: RowSpec, row: int, blank: bool) -> None:
    values = plan.series(spec.key)
    for i, col in enumerate(plan.columns):
        sh.prefill(ref(lay.col11(col.key), row), values[i], spec.fmt, always=blank)


def _layout_11(ws: Worksheet, lay: Layout, last: int) -> None:
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 16
    ws.column_dimensions["D"].width = 14
    for col in range(FIRST_DATA_COL, last + 1):
        ws.column_dimensions[col_letter(col)].width = 10.5
    for row in lay.rows11.values():
        ws.row_dimensions[row].height = 20
    ws.row_dimensions[ROW_BASIC_LABELS].height = 30
    ws.row_dimensions[ROW_HEADER].height = 30
    ws.freeze_panes = ref(FIRST_DATA_COL, ROW_HEADER + 1)
    _print_setup(ws, f"A1:{ref(last, max(lay.rows11.values()))}", "1:6", "A:D")


# Paper sizes (portrait width, height) in points, and the margins every sheet prints with.
_PAPER = {"A4": (595.3, 841.9), "A3": (841.9, 1190.6)}
_PAPER_CODE = {"A4": Worksheet.PAPERSIZE_A4, "A3": Worksheet.PAPERSIZE_A3}
_MARGIN_SIDE, _MARGIN_TOP, _MARGIN_BOTTOM = 0.4, 0.5, 0.6  # inches; the footer sits in the bottom one


def _print_setup(
    ws: Worksheet,
    area: str | None,
    title_rows: str | None = None,
    title_cols: str | None = None,
    *,
    paper: str = "A3",
    landscape: bool = True,
    scale: int | None = None,
    fit_height: int = 0,
) -> None:
    """How a sheet prints: paper, orientation, fit to the page width (or a fixed ``scale``
    where manual page breaks must hold: Excel ignores them when fitting), repeated titles,
    and a footer naming the sheet and the page."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = _PAPER_CODE[paper]
    if scale is None:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = fit_height
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    else:
        ws.page_setup.scale = scale
    if area:
        ws.print_area = area
    if title_rows:
        ws.print_title_rows = title_rows
    if title_cols:
        ws.print_title_cols = title_cols
    ws.page_margins.left = ws.page_margins.right = _MARGIN_SIDE
    ws.page_margins.top = _MARGIN_TOP
    ws.page_margins.bottom = _MARGIN_BOTTOM
    ws.page_margins.header = ws.page_margins.footer = 0.25
    ws.oddFooter.left.text = "&A"  # the sheet's name: which sheet a printed page belongs to
    ws.oddFooter.left.size = 8
    ws.oddFooter.right.text = "&P / &N"
    ws.oddFooter.right.size = 8
    ws.print_options.horizontalCentered = True


def _page_area(paper: str, landscape: bool) -> tuple[float, float]:
    """The printable width and height (points) of a page inside the margins."""
    w, h = _PAPER[paper]
    if landscape:
        w, h = h, w
    return w - 2 * 72 * _MARGIN_SIDE, h - 72 * (_MARGIN_TOP + _MARGIN_BOTTOM)


# Printed width of one character of column width, in pixels at 96 dpi: Excel with Calibri
# uses 7; LibreOffice where Calibri is missing (its fallback font) about 9.3 (measured on
# 実績比較's PDF). Fixed print scales are computed for the wider one, so a page's columns
# fit in both (Excel then leaves some white space at the right).
_CHAR_PX = 9.7


def _width_pt(chars: float) -> float:
    """A column's printed width in points, at the widest renderer's character width."""
    return (_CHAR_PX * chars + 5) * 0.75


def _scale_to_fit(width_pt: float, height_pt: float, paper: str, landscape: bool) -> int:
    """The largest whole print scale (%) at which content of this size fits on one page,
    with a margin for renderers whose fonts run wider."""
    avail_w, avail_h = _page_area(paper, landscape)
    return max(10, min(100, int(0.97 * 100 * min(avail_w / width_pt, avail_h / height_pt))))


def _protect(ws: Worksheet) -> None:
    """Protect the structure without a password; formatting stays allowed (検証 colours cells)."""
    p = ws.protection
    p.sheet = True
    p.formatCells = False
    p.formatColumns = False
    p.formatRows = False
    p.selectLockedCells = False
    p.selectUnlockedCells = False


# ---------------------------------------------------------------- 本表1-2 and 経費積算


def _sheet_12(sh: _Sheet, plan: Plan, lay: Layout, derived: calc.Derived, blank: bool) -> None:
    ws = sh.ws
    _heading(ws, sheet_title(S12, plan))
    # 基礎情報 mirrors 本表1-1
    caps = ("団体コード", "都道府県名", "市町村名", "人口", "交付枚数", "人口に対する交付枚数率")
    paths = ("basic.dantai_code", "basic.prefecture", "basic.municipality", "basic.population", "basic.base_issued", "basic.base_rate_pct")
    sh.label("A3", "基礎情報", align=CENTER)
    sh.merge("A3:A4")
    ws.row_dimensions[3].height = 30
    for i, (cap, path) in enumerate(zip(caps, paths, strict=True)):
        col = 2 + i
        sh.label(ref(col, 3), cap, align=CENTER)
        sh.computed(ref(col, 4), "0.0%" if path == "basic.base_rate_pct" else ("#,##0" if path in ("basic.population", "basic.base_issued") else "@"))
    sh.label(ref(1, ROW_COST_HEADER), "経費（千円）", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{ROW_COST_HEADER}:C{ROW_COST_HEADER}")
    for key in lay.cost_years:
        sh.label(ref(lay.col12(key), ROW_COST_HEADER), fiscal_year_label(int(key[2:]), short=False), fill=HEADER_FILL, align=CENTER)
    for spec in ROWS_12:
        row = lay.rows12[spec.key]
        for i, text in enumerate(spec.labels):
            sh.label(ref(1 + i, row), text)
        for key in lay.cost_years:
            cell = ref(lay.col12(key), row)
            year = plan.costs.get(key, CostYear())
            if spec.role == "input":
                sh.prefill(cell, _get(year, spec.key.split(".", 1)[1]), spec.fmt, always=blank)
            elif spec.role == "calc":
                sh.computed(cell, spec.fmt)
        ws.row_dimensions[row].height = 28
    _merge_label_runs(sh, [(lay.rows12[spec.key], spec.labels) for spec in ROWS_12])
    # ② 補正予算案の提出予定時期
    first_bt = lay.scalars["budget_timing.1"]
    sh.label(ref(1, _row(first_bt.cell)), "②補正予算案の提出予定時期")
    sh.merge(f"A{_row(first_bt.cell)}:B{_row(first_bt.cell) + 2}")
    for i in (1, 2, 3):
        s = lay.scalars[f"budget_timing.{i}"]
        assert s.label_cell
        sh.label(s.label_cell, s.label, align=CENTER)
        value = plan.budget_timing[i - 1] if len(plan.budget_timing) >= i else None
        sh.input(s.cell, _month_text(value), "@")
        sh.label(ref(_col(s.cell) + 1, _row(s.cell)), "議会", fill=None, font=CALC_FONT)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 30
    ws.column_dimensions["C"].width = 14
    for key in lay.cost_years:
        ws.column_dimensions[col_letter(lay.col12(key))].width = 16
    ws.freeze_panes = ref(COST_FIRST_COL, ROW_COST_HEADER + 1)
    last_row = _row(lay.scalars["budget_timing.3"].cell)
    for col in range(COST_FIRST_COL + len(lay.cost_years), 8):
        ws.column_dimensions[col_letter(col)].width = 14  # the rest of 基礎情報
    _print_setup(ws, f"A1:{ref(max(7, COST_FIRST_COL + len(lay.cost_years)), last_row)}", paper="A4", landscape=False)


def _row(cell: str) -> int:
    return parse_ref(cell)[0]




def _sheet_work(sh: _Sheet, plan: Plan, lay: Layout, derived: calc.Derived) -> None:
    ws = sh.ws
    _heading(ws, "経費積算（本表1-2 の根拠・円）", "積算の数値を入力すると、千円未満を切り上げた額が本表1-2 に反映されます（本表1-2 で上書きした場合は検証で照合します）。")
    sh.label(f"A{ROW_WORK_HEADER}", "項目", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{ROW_WORK_HEADER}:B{ROW_WORK_HEADER}")
    for key in lay.cost_years:
        sh.label(ref(lay.col_work(key), ROW_WORK_HEADER), fiscal_year_label(int(key[2:]), short=False), fill=HEADER_FILL, align=CENTER)
    r = lay.rows_work
    for spec in ROWS_WORK:
        row = r[spec.key]
        for i, text in enumerate(spec.labels):
            sh.label(ref(1 + i, row), text)
        for key in lay.cost_years:
            c = lay.col_work(key)
            cell = ref(c, row)
            w = plan.working.get(key, Working())
            if spec.role == "input":
                sh.input(cell, _get(w, spec.key.split(".", 1)[1]), spec.fmt)
            elif spec.role == "calc":
                sh.computed(cell, spec.fmt)
            else:
                _blank_calc(sh, cell)
                ws[cell].fill = LABEL_FILL
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 34
    for key in lay.cost_years:
        ws.column_dimensions[col_letter(lay.col_work(key))].width = 16
    _print_setup(ws, f"A1:{ref(WORK_FIRST_COL + len(lay.cost_years) - 1, max(r.values()))}", paper="A4", landscape=False)


# ---------------------------------------------------------------- 日次実績


def _sheet_daily(sh: _Sheet, plan: Plan, lay: Layout, derived: calc.Derived) -> None:
    ws = sh.ws
    _heading(ws, "日次実績（交付枚数）", "日ごとの交付枚数を黄色のセルに入力します。曜日別・月の合計は自動で計算され、実績の月は本表1-1 の②交付枚数に反映されます。")
    days = plan.daily.days
    months_with_data = with_data(plan)
    for month, block in lay.daily_blocks.items():
        if sh.values_only and month not in months_with_data:
            continue  # the prefecture's copy carries only the calendars that hold counts
        sh.label(ref(1, block.top), month_label(month, short=False), fill=HEADER_FILL)
        sh.merge(f"{ref(1, block.top)}:{ref(DAILY_FIRST_COL + 7, block.top)}")
        for i, wd in enumerate("月火水木金土日"):
            sh.label(ref(DAILY_FIRST_COL + i, block.header_row), wd, align=CENTER)
        sh.label(ref(DAILY_FIRST_COL + 7, block.header_row), "合計", align=CENTER)
        sh.label(ref(1, block.header_row), "", fill=LABEL_FILL)
        for day, date_cell, count_cell in block.cells():
            sh.label(date_cell, f"{day.day}日", fill=None, font=NOTE_FONT, align=CENTER)
            sh.input(count_cell, days.get(day), "#,##0")
        sh.label(ref(1, block.totals_row), "曜日別合計", align=CENTER)
        for i in range(7):
            sh.computed(block.weekday_total_cell(i), "#,##0")
        sh.computed(block.month_total_cell, "#,##0")
    ws.column_dimensions["A"].width = 14
    for i in range(8):
        ws.column_dimensions[col_letter(DAILY_FIRST_COL + i)].width = 9
    ws.freeze_panes = "A4"
    _print_daily(ws, lay, printed_months(plan, lay) if sh.values_only else list(lay.daily_blocks))


# Row heights (points) of a calendar block: title, weekday header, 6 × (date, count), totals, spacer.
_DAILY_HEIGHTS = (18, 15, *((12, 16) * 6), 16, 8)
_DAILY_MONTHS_PER_PAGE = 4  # at least; more when the calendar would take over 10 pages
_DAILY_MAX_PAGES = 10


def _print_daily(ws: Worksheet, lay: Layout, printed: list[str]) -> None:
    """日次実績 on A4 portrait, several whole months a page, a page break between months.

    Months not printed (a package's months without counts) are hidden rows. The scale
    is fixed (so the breaks hold in Excel) and chosen so a page of months fits.
    """
    assert len(_DAILY_HEIGHTS) == DAILY_BLOCK_ROWS
    last_row = DAILY_FIRST_ROW - 1
    for month, block in lay.daily_blocks.items():
        for i, height in enumerate(_DAILY_HEIGHTS):
            ws.row_dimensions[block.top + i].height = height
            if month not in printed:
                ws.row_dimensions[block.top + i].hidden = True
        if month in printed:
            last_row = block.top + DAILY_BLOCK_ROWS - 2  # the spacer row is not printed
    per_page = max(_DAILY_MONTHS_PER_PAGE, -(-len(printed) // _DAILY_MAX_PAGES))
    for i, month in enumerate(printed):
        if i and i % per_page == 0:
            ws.row_breaks.append(Break(id=lay.daily_blocks[month].top - 1))  # break above its title
    ws.row_dimensions[1].height = 22
    ws.row_dimensions[2].height = 26
    ws.row_dimensions[3].height = 6
    ws.merge_cells(f"A2:{col_letter(DAILY_FIRST_COL + 7)}2")
    ws["A2"].alignment = WRAP
    titles = 22 + 26 + 6
    width = _width_pt(14) + 8 * _width_pt(9)
    height = titles + per_page * sum(_DAILY_HEIGHTS)
    scale = _scale_to_fit(width, height, "A4", False)
    area = f"A1:{col_letter(DAILY_FIRST_COL + 7)}{max(last_row, 3)}"
    _print_setup(ws, area, f"1:{DAILY_FIRST_ROW - 1}", paper="A4", landscape=False, scale=scale)


# ---------------------------------------------------------------- 実績比較


def _sheet_followup(sh: _Sheet, plan: Plan, lay: Layout, derived: calc.Derived, schedule: Schedule, wb: Workbook, actuals: Mapping[str, Any]) -> None:
    """実績比較: the plan per month-end against the actual (input rows 実績取込 fills)."""
    ws = sh.ws
    _heading(
        ws,
        sheet_title(FOLLOWUP, plan),
        "黄色の行に月末の累計交付枚数を入力します（「実績取込」ボタンで公表統計から取り込めます）。率はすべて本表1-1 の人口に対する値です。"
        "公表統計の率は人口の基準日が毎年秋に変わるため、参考として別の行に示します。年度の列の計画は12か月に均等に割り振ります。",
    )
    months = lay.followup_months
    first, last = FU_FIRST_COL, lay.last_col_fu
    # the denominator of every rate on this sheet
    sh.label(f"A{FU_BASE_ROW}", "率の分母（本表1-1 の人口・人）", align=CENTER)
    sh.merge(f"A{FU_BASE_ROW}:B{FU_BASE_ROW}")
    sh.computed(FU_POPULATION_CELL, "#,##0")
    sh.label(ref(_col(FU_POPULATION_DATE_CELL) - 1, FU_BASE_ROW), "人口の基準日", align=CENTER)
    sh.computed(FU_POPULATION_DATE_CELL, "@")
    # months
    sh.label(f"A{FU_HEADER_ROW}", "年月（月末）", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{FU_HEADER_ROW}:B{FU_HEADER_ROW}")
    for month in months:
        sh.label(ref(lay.col_fu(month), FU_HEADER_ROW), month_label(month), fill=HEADER_FILL, align=CENTER)
    r = lay.rows_fu

    def rng(key: str) -> str:
        return f"{ref(first, r[key])}:{ref(last, r[key])}"

    static = static_followup(plan, lay, schedule)
    for spec in ROWS_FU:
        row = r[spec.key]
        for i, text in enumerate(spec.labels):
            sh.label(ref(1 + i, row), text)
        cells = [(m, ref(lay.col_fu(m), row)) for m in months]
        if spec.key == "followup.actual_cumulative":
            for m, cell in cells:
                sh.input(cell, actuals[m].cumulative if m in actuals else None, spec.fmt)
        elif spec.key == "followup.official_population":
            for m, cell in cells:
                sh.input(cell, actuals[m].official_population if m in actuals else None, spec.fmt)
        elif spec.key == "followup.official_rate":
            for m, cell in cells:
                pct = actuals[m].official_rate_pct if m in actuals else None
                sh.input(cell, None if pct is None else pct / 100, spec.fmt)
        elif spec.key in ("calc.next_checkpoint", "calc.months_left"):
            k = 0 if spec.key == "calc.next_checkpoint" else 1
            for m, cell in cells:
                _static(sh, cell, static[m][k], spec.fmt)
        else:
            for _m, cell in cells:
                sh.computed(cell, spec.fmt)
            if spec.key in CHART_SOURCE_ROWS:
                ws.row_dimensions[row].hidden = True  # the chart's own rows: figures or #N/A, never ""
        if spec.name:
            wb.defined_names[spec.name] = DefinedName(spec.name, attr_text=f"{_abs(FOLLOWUP, ref(first, row))}:{_abs(FOLLOWUP, ref(last, row)).split('!')[1]}")
    # validation of the input rows, colours of the verdicts
    counts = DataValidation(
        type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True, showErrorMessage=True,
        errorTitle="実績", error="月末の累計交付枚数・人口を 0 以上の整数で入力してください。",
    )
    rates = DataValidation(
        type="decimal", operator="between", formula1="0", formula2="1", allow_blank=True, showErrorMessage=True,
        errorTitle="公表値 交付枚数率", error="率を 0%〜100% で入力してください（例: 20.5%）。",
    )
    ws.add_data_validation(counts)
    ws.add_data_validation(rates)
    counts.add(rng("followup.actual_cumulative"))
    counts.add(rng("followup.official_population"))
    rates.add(rng("followup.official_rate"))
    red = PatternFill("solid", fgColor="FFC7CE", bgColor="FFC7CE")
    orange = PatternFill("solid", fgColor="FFEB9C", bgColor="FFEB9C")
    ws.conditional_formatting.add(rng("calc.check"), CellIsRule(operator="equal", formula=['"下限値未満"'], fill=red, font=Font(color="9C0006", bold=True)))
    ws.conditional_formatting.add(rng("calc.vs_plan"), CellIsRule(operator="equal", formula=[f'"{VS_PLAN_BEHIND}"'], fill=orange, font=Font(color="9C5700")))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 30
    for col in range(first, last + 1):
        ws.column_dimensions[col_letter(col)].width = 10.5
    ws.freeze_panes = ref(first, FU_HEADER_ROW + 1)
    _merge_label_runs(sh, [(r[spec.key], spec.labels) for spec in ROWS_FU])
    _print_followup(ws, lay)


_FU_ROW_HEIGHT = 18


def _print_followup(ws: Worksheet, lay: Layout) -> None:
    """実績比較 prints one fiscal year a page (A4 landscape), the row labels on each page."""
    months = lay.followup_months
    for m in months[1:]:
        if m[5:7] == "04":  # a fiscal year starts: a page break before its column
            ws.col_breaks.append(Break(id=lay.col_fu(m) - 1))
    widest = max(sum(1 for m in months if _fiscal_year(m) == fy) for fy in {_fiscal_year(m) for m in months})
    printed_rows = [lay.rows_fu[spec.key] for spec in ROWS_FU if not spec.key.startswith("chart.")]
    for row in printed_rows:
        ws.row_dimensions[row].height = _FU_ROW_HEIGHT
    ws.row_dimensions[1].height = 22
    ws.row_dimensions[2].height = 62
    ws.merge_cells("A2:B2")  # the usage note wraps under the title, on every page
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    width = _width_pt(16) + _width_pt(30) + widest * _width_pt(10.5)
    height = 22 + 62 + 20 * (FU_HEADER_ROW - 2) + _FU_ROW_HEIGHT * len(printed_rows)
    scale = _scale_to_fit(width, height, "A4", True)
    area = f"A1:{ref(lay.last_col_fu, max(printed_rows))}"
    _print_setup(ws, area, f"1:{FU_HEADER_ROW}", "A:B", paper="A4", landscape=True, scale=scale)


def _fiscal_year(month: str) -> int:
    year, mon = int(month[:4]), int(month[5:7])
    return year if mon >= 4 else year - 1



def _row_name(key: str) -> str:
    """The defined name of a 本表1-1 row."""
    return next(spec.name for spec in ROWS_11 if spec.key == key and spec.name)


def _static(sh: _Sheet, cell: str, value: Any, fmt: str | None) -> None:
    """A computed cell holding a value the builder derives from the schedule (no formula)."""
    c = sh.cell(cell)
    put(c, value)
    sh.style(c, CALC_FILL, CALC_FONT, LOCKED, fmt)


# ---------------------------------------------------------------- 国基準, charts, result sheets


def _sheet_national(sh: _Sheet, plan: Plan, lay: Layout, schedule: Schedule, wb: Workbook) -> int:
    ws = sh.ws
    _heading(ws, "国基準・設定")
    sh.label("B3", "設定", fill=HEADER_FILL)
    sh.label("C3", "値", fill=HEADER_FILL)
    for path in ("basic.population_date", "basic.base_issued_date", "parameters.capacity_cards_per_month", "parameters.capacity_staff", "title"):
        s = lay.scalars[path]
        assert s.label_cell
        sh.label(s.label_cell, s.label)
        sh.input(s.cell, _get(plan, path), s.fmt)
    wb.defined_names[CAPACITY_CARDS_NAME] = DefinedName(CAPACITY_CARDS_NAME, attr_text=_abs(NATIONAL, lay.scalars["parameters.capacity_cards_per_month"].cell))
    wb.defined_names[CAPACITY_STAFF_NAME] = DefinedName(CAPACITY_STAFF_NAME, attr_text=_abs(NATIONAL, lay.scalars["parameters.capacity_staff"].cell))
    top = NATIONAL_TABLE_HEADER_ROW
    ws.cell(row=top - 1, column=2, value=schedule.title).font = LABEL_FONT
    heads = ("時点（月末）", "説明", "交付枚数 下限（枚）", "交付枚数 上限（枚）", "基準人口（人）", "下限値", "上限値")
    for i, h in enumerate(heads):
        sh.label(ref(2 + i, top), h, fill=HEADER_FILL, align=CENTER)
    for j, cp in enumerate(schedule.checkpoints):
        row = top + 1 + j
        sh.label(ref(2, row), month_label(cp.month, short=False) + "末", fill=None, font=CALC_FONT)
        sh.label(ref(3, row), cp.title, fill=None, font=CALC_FONT)
        for k, v in enumerate((cp.lower_cards, cp.upper_cards, schedule.base_population)):
            c = ws.cell(row=row, column=4 + k)
            put(c, v)
            c.number_format = "#,##0"
            c.border = BORDER
        # ROUND(cards / population, 3): the bound in 0.1 % as the form prints it
        sh.computed(ref(NATIONAL_LOWER_COL, row), "0.0%")
        sh.computed(ref(NATIONAL_UPPER_COL, row), "0.0%")
    # the keys the threshold cells of 本表1-1 and 実績比較 look a checkpoint's bounds up by
    sh.label(ref(NATIONAL_KEY11_COL, top), "本表1-1 の列", fill=HEADER_FILL, align=CENTER)
    sh.label(ref(NATIONAL_KEY_FU_COL, top), "実績比較の列", fill=HEADER_FILL, align=CENTER)
    for j, (key11, key_fu) in enumerate(national_keys(plan, schedule)):
        sh.label(ref(NATIONAL_KEY11_COL, top + 1 + j), key11, fill=None, font=CALC_FONT)
        sh.label(ref(NATIONAL_KEY_FU_COL, top + 1 + j), key_fu, fill=None, font=CALC_FONT)
    wb.defined_names[BASE_POPULATION_NAME] = DefinedName(BASE_POPULATION_NAME, attr_text=_abs(NATIONAL, ref(6, top + 1)))
    note = top + len(schedule.checkpoints) + 2
    ws.cell(row=note, column=2, value=f"基準人口は {schedule.base_population_date:%Y年%m月%d日} 時点の全国人口。下限値・上限値は交付枚数÷基準人口を小数第1位の%に四捨五入した値です。").font = NOTE_FONT
    # dropdown answers for the start dates
    choices = month_choices()
    sh.label("J3", "開始時期の選択肢", fill=HEADER_FILL)
    for i, text in enumerate(choices):
        ws.cell(row=4 + i, column=10, value=text).protection = LOCKED
    rng = f"'{NATIONAL}'!$J$4:$J${3 + len(choices)}"
    wb.defined_names[MONTH_LIST_NAME] = DefinedName(MONTH_LIST_NAME, attr_text=rng)
    ws.column_dimensions["A"].width = 2
    ws.column_dimensions["B"].width = 30
    ws.column_dimensions["C"].width = 44
    for col in "DEFGH":
        ws.column_dimensions[col].width = 14
    ws.column_dimensions["J"].width = 20
    ws.column_dimensions["J"].hidden = True  # an internal list: the dropdowns read it by its name
    _print_setup(ws, f"A1:H{note}", paper="A4", landscape=True)
    for col in (NATIONAL_KEY11_COL, NATIONAL_KEY_FU_COL):
        ws.column_dimensions[col_letter(col)].width = 14
    return len(choices)


def _sheet_chart(ws: Worksheet, ws_fu: Worksheet, lay: Layout) -> None:
    """One line chart over the months of 実績比較: the plan, the actual, the national band."""
    _heading(ws, "推移グラフ: 計画・実績の交付枚数率と国の想定（下限値・上限値）", "率はすべて本表1-1 の人口に対する値です。実績は「実績比較」シートの月末の累計交付枚数（「実績取込」で公表統計から取り込み）。")
    chart = LineChart()
    chart.title = "人口に対する交付枚数率の推移（計画と実績）"
    chart.y_axis.title = "交付枚数率"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1  # a rate: 0 % to 100 %
    chart.x_axis.title = "月末"
    first, last = FU_FIRST_COL, lay.last_col_fu
    cats = Reference(ws_fu, min_col=first, max_col=last, min_row=FU_HEADER_ROW, max_row=FU_HEADER_ROW)
    series = (
        ("chart.plan_rate", "計画（交付枚数率）", "circle", "2F5597"),
        ("chart.lower", "国の下限値", "triangle", "548235"),
        ("chart.upper", "国の上限値", "diamond", "ED7D31"),
        ("chart.actual_rate", "実績（交付枚数率）", "square", "C00000"),
    )
    for key, title, _marker, _colour in series:
        row = lay.rows_fu[key]
        data = Reference(ws_fu, min_col=first, max_col=last, min_row=row, max_row=row)
        chart.add_data(data, from_rows=True, titles_from_data=False)
        chart.series[-1].tx = SeriesLabel(v=title)
    chart.set_categories(cats)
    for s in chart.series:  # the month labels are text
        s.cat = AxDataSource(strRef=StrRef(f=s.cat.numRef.f))
    for s, (key, _title, marker, colour) in zip(chart.series, series, strict=True):
        s.marker.symbol = marker
        s.marker.graphicalProperties = GraphicalProperties(solidFill=colour)
        s.marker.graphicalProperties.line.solidFill = colour
        s.smooth = False
        if key in ("chart.lower", "chart.upper"):
            s.graphicalProperties.line.noFill = True  # the band: markers at the checkpoints only
        else:
            s.graphicalProperties.line.solidFill = colour
            s.graphicalProperties.line.width = 22225  # 1.75 pt
        if key == "chart.actual_rate":
            s.graphicalProperties.line.dashStyle = "dash"
    chart.display_blanks = "gap"
    chart.visible_cells_only = False  # its rows of 実績比較 are hidden
    chart.x_axis.delete = False  # written out: Excel hides an axis without <c:delete val="0"/>
    chart.y_axis.delete = False
    chart.legend.position = "b"
    # the chart spans the cells below the title, so it fills the printed page whatever a renderer's
    # column widths are; the page is those cells and the title above them
    first_row, last_row = 3, 3 + _CHART_ROWS - 1
    chart.anchor = TwoCellAnchor(
        _from=AnchorMarker(col=0, row=first_row - 1), to=AnchorMarker(col=_CHART_COLS, row=last_row)
    )
    ws.add_chart(chart)
    for col in range(1, _CHART_COLS + 1):
        ws.column_dimensions[col_letter(col)].width = _CHART_COL_WIDTH
    for row in range(first_row, last_row + 1):
        ws.row_dimensions[row].height = 15
    _print_setup(ws, f"A1:{ref(_CHART_COLS, last_row)}", paper="A4", landscape=True, fit_height=1)


_CHART_COLS, _CHART_COL_WIDTH, _CHART_ROWS = 12, 12, 34  # about an A4 landscape page


def _sheet_proposal(sh: _Sheet, plan: Plan, lay: Layout, schedule: Schedule) -> None:
    """計画案: the choices, the proposal per column, its checkpoints and cost, a chart, the backup."""
    ws = sh.ws
    _heading(
        ws,
        sheet_title(PROPOSAL, plan),
        "黄色の欄で条件を選び「計画案」ボタンを押すと、このシートに案を書きます（本表1-1 は変わりません）。"
        "「計画案を採用」で本表1-1 の②⑤と本表1-2・経費積算の臨時・非常勤職員の経費に写します（元の値はこのシートの下に残ります）。",
    )
    first, last = FIRST_DATA_COL, lay.last_col11
    choices = Choices()
    for (key, label, fmt), (value,) in zip(PP_SETTINGS, settings_values(choices), strict=True):
        cell = lay.pp_settings[key]
        row = int(cell[1:])
        sh.label(f"A{row}", label, align=Alignment(vertical="center"))
        sh.merge(f"A{row}:D{row}")
        sh.input(cell, value if value != "" else None, fmt)
    ws[lay.pp_settings["first_month"]].number_format = "@"
    aim = DataValidation(type="list", formula1='"下限値,中間"', allow_blank=True, showErrorMessage=True, errorTitle="目標", error="下限値 か 中間 を選んでください。")
    aim.add(lay.pp_settings["aim"])
    months = ",".join(month_label(c.key, short=False) for c in plan.columns if c.is_month)
    first_month = DataValidation(type="list", formula1=f'"{months}"', allow_blank=True)
    first_month.add(lay.pp_settings["first_month"])
    ws.add_data_validation(aim)
    ws.add_data_validation(first_month)
    sh.label(f"A{PP_HEADER_ROW}", "列", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{PP_HEADER_ROW}:D{PP_HEADER_ROW}")
    for col in plan.columns:
        sh.label(ref(lay.col11(col.key), PP_HEADER_ROW), col.label, fill=HEADER_FILL, align=CENTER)
    for spec in ROWS_PP:
        row = lay.rows_pp[spec.key]
        sh.label(f"A{row}", spec.labels[0])
        sh.label(f"B{row}", spec.labels[1])
        sh.merge(f"B{row}:D{row}")
        for c in range(first, last + 1):
            sh.style(ws[ref(c, row)], CALC_FILL, CALC_FONT, LOCKED, spec.fmt)
    sh.label(f"A{lay.pp_checkpoint_first_row - 1}", "国の全体スケジュール（チェックポイント）", fill=None, font=LABEL_FONT, align=Alignment())
    sh.label(ref(1, lay.pp_cost_header_row), "本表1-2 に加わる経費（追加職員は臨時・非常勤職員）", fill=HEADER_FILL, align=CENTER)
    sh.merge(f"A{lay.pp_cost_header_row}:D{lay.pp_cost_header_row}")
    for i, year in enumerate(lay.cost_years):
        sh.label(ref(first + i, lay.pp_cost_header_row), fiscal_year_label(int(year[2:])), fill=HEADER_FILL, align=CENTER)
    for key, label, fmt in PP_COST_ROWS:
        row = lay.rows_pp_cost[key]
        sh.label(f"A{row}", label)
        sh.merge(f"A{row}:D{row}")
        for i in range(len(lay.cost_years)):
            sh.style(ws[ref(first + i, row)], CALC_FILL, CALC_FONT, LOCKED, fmt)
    ws[lay.pp_backup_note_cell] = "採用前の値（「計画案を採用」が書き換えた欄の元の値。元に戻すときは「採用前の値」を各セルに入力してください）: まだ採用していません"
    ws[lay.pp_backup_note_cell].font = LABEL_FONT
    for i, h in enumerate(PP_BACKUP_HEADERS):
        sh.label(ref(1 + i, lay.pp_backup_header_row), h, fill=HEADER_FILL, align=CENTER)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 26
    for (r, c), value in proposal_cells(plan, lay, schedule, choices).items():
        put(ws.cell(row=r, column=c), value)  # text stays text, as everywhere
    chart = LineChart()
    chart.title = "計画案・現在の計画の交付枚数率と国の想定（下限値・上限値）"
    chart.y_axis.title = "交付枚数率"
    chart.y_axis.number_format = "0%"
    chart.height = 9
    chart.width = 30
    series = (
        ("proposal.rate", "計画案", "2F5597", None),
        ("proposal.current_rate", "現在の計画", "7F7F7F", "dash"),
        ("proposal.lower", "国の下限値（次のチェックポイント）", "548235", "sysDot"),
        ("proposal.upper", "国の上限値（次のチェックポイント）", "548235", "sysDot"),
    )
    for key, title, _colour, _dash in series:
        row = lay.rows_pp[key]
        chart.add_data(Reference(ws, min_col=first, max_col=last, min_row=row, max_row=row), from_rows=True, titles_from_data=False)
        chart.series[-1].tx = SeriesLabel(v=title)
    chart.set_categories(Reference(ws, min_col=first, max_col=last, min_row=PP_HEADER_ROW, max_row=PP_HEADER_ROW))
    for s, (_key, _title, colour, dash) in zip(chart.series, series, strict=True):
        s.smooth = False
        s.marker.symbol = "none" if dash == "sysDot" else "circle"
        s.graphicalProperties.line.solidFill = colour
        s.graphicalProperties.line.width = 19050
        if dash:
            s.graphicalProperties.line.dashStyle = dash
    chart.display_blanks = "gap"
    ws.add_chart(chart, lay.pp_chart_cell)
    ws.freeze_panes = ws[ref(first, PP_HEADER_ROW + 1)]
    _print_setup(ws, None, title_rows=f"{PP_HEADER_ROW}:{PP_HEADER_ROW}", title_cols="A:C")


def _sheet_table(sh: _Sheet, title: str, headers: tuple[str, ...], widths: tuple[int, ...]) -> None:
    ws = sh.ws
    _heading(ws, title)
    for i, h in enumerate(headers):
        sh.label(ref(1 + i, 3), h, fill=HEADER_FILL, align=CENTER)
        ws.column_dimensions[col_letter(1 + i)].width = widths[i]
    ws.freeze_panes = "A4"
    # the table grows downwards: its whole columns print (the used rows of them), every
    # column on the page; an internal memo to the right stays out
    _print_setup(ws, None, "1:3", paper="A4", landscape=True)
    last = col_letter(len(headers))
    ws.defined_names["_xlnm.Print_Area"] = DefinedName("_xlnm.Print_Area", attr_text=f"'{ws.title}'!$A$1:${last}$1048576")


def _results_memo(ws: Worksheet) -> None:
    """Captions of the hidden colour memo (K:N) that lets 検証 put cell colours back."""
    for i, text in enumerate((*HIGHLIGHT_MEMO_HEADERS, MEMO_STYLE_HEADER)):
        ws.cell(row=3, column=HIGHLIGHT_MEMO_COL + i, value=text).font = NOTE_FONT
        ws.column_dimensions[col_letter(HIGHLIGHT_MEMO_COL + i)].hidden = True


def _sheet_conf(ws: Worksheet) -> None:
    for i, (k, v) in enumerate(XLWINGS_CONF, start=1):
        ws.cell(row=i, column=1, value=k)
        if v:  # an empty B cell is an empty value (the key still pins it)
            ws.cell(row=i, column=2, value=v)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 40
    ws.sheet_state = "hidden"


# ---------------------------------------------------------------- names, validation, formats


def _names(wb: Workbook, lay: Layout) -> None:
    def row_name(name: str, sheet: str, row: int, first: int, last: int) -> None:
        rng = f"{_abs(sheet, ref(first, row))}:{_abs(sheet, ref(last, row)).split('!')[1]}"
        wb.defined_names[name] = DefinedName(name, attr_text=rng)

    years = len(lay.cost_years)
    for spec in ROWS_11:
        if spec.name:
            row_name(spec.name, S11, lay.rows11[spec.key], FIRST_DATA_COL, lay.last_col11)
    for spec in ROWS_12:
        if spec.name:
            row_name(spec.name, S12, lay.rows12[spec.key], COST_FIRST_COL, COST_FIRST_COL + years - 1)
    for spec in ROWS_WORK:
        if spec.name:
            row_name(spec.name, WORK, lay.rows_work[spec.key], WORK_FIRST_COL, WORK_FIRST_COL + years - 1)
    for s in lay.scalars.values():
        if s.name:
            wb.defined_names[s.name] = DefinedName(s.name, attr_text=_abs(s.sheet, s.cell))


# The rule each kind of input cell gets (data validation): whole numbers, decimals, dates,
# the month list, text lengths. Kinds are the model's (kofu_xl.model Meta.kind).
_DATE_MIN, _DATE_MAX = dt.date(1989, 1, 8), dt.date(2099, 12, 31)  # 平成 onwards


def _validation_for(kind: str) -> DataValidation:
    common = {"allow_blank": True, "showErrorMessage": True}
    if kind == "count":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", errorTitle="件数・枚数・台数・回数", error="0 以上の整数を入力してください。", **common)
    if kind in ("amount", "money", "yen", "factor"):
        return DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", errorTitle="人数・金額・係数", error="0 以上の数値を入力してください。", **common)
    if kind == "date":
        return DataValidation(
            type="date", operator="between", formula1=str(int(to_excel(_DATE_MIN))), formula2=str(int(to_excel(_DATE_MAX))),
            errorTitle="日付", error="日付を「2019/8/31」のように入力してください。", **common,
        )
    if kind == "month":
        return DataValidation(
            type="list", formula1=f"={MONTH_LIST_NAME}", errorStyle="warning", errorTitle="開始時期",
            error="一覧から選んでください（「未定(実施予定なし)」または年月）。", promptTitle="開始時期", prompt="一覧から選びます。", showInputMessage=True, **common,
        )
    if kind == "code":
        return DataValidation(type="textLength", operator="equal", formula1="6", errorTitle="団体コード", error="検査数字を含む6桁の団体コードを入力してください（例: 122327）。", **common)
    if kind == "capacity_cards":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1="1", errorTitle="処理能力", error="1 以上の整数を入力してください。", **common)
    if kind == "capacity_staff":
        return DataValidation(type="decimal", operator="greaterThan", formula1="0", errorTitle="処理能力", error="0 より大きい数値を入力してください。", **common)
    # text
    return DataValidation(type="textLength", operator="lessThanOrEqual", formula1="2000", errorTitle="文字", error="2,000 文字以内で入力してください。", **common)


# inputs whose kind is not a model field's
_SETTING_KINDS = {
    "parameters.capacity_cards_per_month": "capacity_cards",
    "parameters.capacity_staff": "capacity_staff",
    "title": "text",
}


def input_kinds(lay: Layout) -> dict[tuple[str, str], str]:
    """(sheet, cell) -> kind of every input cell the layout map names: 基礎情報 and the other
    single cells, every column of each input row of 本表1-1, 本表1-2 and 経費積算, and every day
    of 日次実績. (実績比較's input rows are validated where that sheet is drawn.)"""
    kinds = {leaf.path: leaf.meta.kind for leaf in iter_leaves()}
    out: dict[tuple[str, str], str] = {}
    for path, sc in lay.scalars.items():
        if path == "basic.base_rate_pct":
            continue  # computed
        kind = _SETTING_KINDS.get(path) or kinds.get(path) or ("month" if path.startswith("budget_timing.") else "text")
        out[(sc.sheet, sc.cell)] = kind
    for spec in ROWS_11:
        if spec.role == "input":
            for col in lay.columns:
                out[lay.series_cell(spec.key, col)] = kinds.get(spec.key, "count")
    for specs, rows in ((ROWS_12, lay.rows12), (ROWS_WORK, lay.rows_work)):
        for spec in specs:
            if spec.role == "input":
                for year in lay.cost_years:
                    out[lay.cost_cell(spec.key, year)] = kinds.get(spec.key) or ("text" if spec.fmt == "@" else "amount")
    for block in lay.daily_blocks.values():
        for _d, _dc, count_cell in block.cells():
            out[(DAILY, count_cell)] = "count"
    return out


def _validation(sheets: dict[str, Worksheet], lay: Layout) -> None:
    """Data validation on every input cell, by kind (one rule per sheet and kind)."""
    rules: dict[str, DataValidation] = {}
    made: dict[tuple[str, tuple[object, ...]], tuple[DataValidation, list[str]]] = {}
    for (sheet, cell), kind in input_kinds(lay).items():
        rule = rules.get(kind) or rules.setdefault(kind, _validation_for(kind))
        key = (sheet, (rule.type, rule.operator, rule.formula1, rule.formula2, rule.error))
        if key not in made:
            made[key] = (_validation_for(kind), [])
            sheets[sheet].add_data_validation(made[key][0])
        made[key][1].append(cell)
    for dv, cells in made.values():
        # all its cells at once: openpyxl's add compares each new cell with every range
        # already added (quadratic in the 270 days of 日次実績); the cells are distinct
        dv.sqref = _single_cells(cells)


def _single_cells(cells: list[str]) -> MultiCellRange:
    """``MultiCellRange(" ".join(cells))`` for distinct single cells ("E9"), each CellRange made
    with the four bounds and the title its ``__init__`` sets, without its parsing and per-field
    checks (which took a tenth of drawing a package: ~1,900 cells). tests/book/test_build.py
    compares the parts written with openpyxl's own construction."""
    ranges = []
    for cell in cells:
        row, col = parse_ref(cell)
        one = CellRange.__new__(CellRange)
        one.__dict__.update(min_col=col, min_row=row, max_col=col, max_row=row, title=None)
        ranges.append(one)
    return MultiCellRange(ranges)


def _conditional(ws11: Worksheet, lay: Layout) -> None:
    first, last = FIRST_DATA_COL, lay.last_col11
    check_row = lay.rows11["calc.check"]
    rate_row = lay.rows11["calc.rate"]
    red = PatternFill("solid", fgColor="FFC7CE", bgColor="FFC7CE")
    orange = PatternFill("solid", fgColor="FFEB9C", bgColor="FFEB9C")
    rng = f"{ref(first, check_row)}:{ref(last, check_row)}"
    ws11.conditional_formatting.add(rng, CellIsRule(operator="equal", formula=['"下限値未満"'], fill=red, font=Font(color="9C0006", bold=True)))
    ws11.conditional_formatting.add(rng, CellIsRule(operator="equal", formula=['"上限値超"'], fill=orange, font=Font(color="9C5700", bold=True)))
    rate_rng = f"{ref(first, rate_row)}:{ref(last, rate_row)}"
    top = ref(first, check_row).replace(str(check_row), f"${check_row}")
    ws11.conditional_formatting.add(rate_rng, FormulaRule(formula=[f'{top}="下限値未満"'], fill=red))
    ws11.conditional_formatting.add(rate_rng, FormulaRule(formula=[f'{top}="上限値超"'], fill=orange))


# ---------------------------------------------------------------- entry point


def build_sheets(
    plan: Plan,
    *,
    schedule: Schedule | None = None,
    blank: bool = False,
    values_only: bool = False,
    actuals: Mapping[str, Any] | None = None,
) -> BuiltSheets:
    """Draw every sheet of the workbook for ``plan``; return the .xlsx and each formula's value.

    ``blank`` makes a new plan: totals, 実績 and costs are prefilled with formulas
    over their parts even where the plan has no figure yet. ``values_only`` writes
    what the prefecture receives: the same sheets with values instead of formulas,
    and without the tool's own sheets (検証結果, 提出記録, xlwings.conf). ``actuals``
    ({"YYYY-MM": kofu_xl.app.followup.Actual}) prefill 実績比較's input rows.
    """
    schedule = schedule or default_schedule()
    lay = layout_for(plan.parameters)
    derived = calc.derive(plan, schedule.bounds_by_column(plan.columns))
    out = BuiltSheets(b"", layout=lay)
    wb = Workbook()
    wb.remove(wb.active)
    sheets: dict[str, Worksheet] = {}
    for name, code_name in SHEETS:
        if values_only and name in (PROPOSAL, RESULTS, LOG, CONF):
            continue
        ws = wb.create_sheet(name)
        ws.sheet_properties.codeName = code_name
        sheets[name] = ws
    wb.code_name = "ThisWorkbook"
    wb.properties.creator = "kofu-xl"
    wb.properties.title = document_title(plan)
    fixed = dt.datetime(2019, 10, 3, 0, 0, 0)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.lastModifiedBy = "kofu-xl"

    wb.defined_names[POPULATION_NAME] = DefinedName(POPULATION_NAME, attr_text=_abs(S11, lay.scalars["basic.population"].cell))
    wb.defined_names[BASE_ISSUED_NAME] = DefinedName(BASE_ISSUED_NAME, attr_text=_abs(S11, lay.scalars["basic.base_issued"].cell))
    if blank:  # a new plan shows its prefilled formulas' values: compute from those
        plan = with_prefills(plan, lay, schedule)
        derived = calc.derive(plan, schedule.bounds_by_column(plan.columns))
    comp = computed_cells(plan, lay, schedule, derived, actuals)
    looks: dict[tuple[Any, ...], Any] = {}
    s = {name: _Sheet(ws, out, comp, values_only, looks) for name, ws in sheets.items()}
    _sheet_11(s[S11], plan, lay, derived, schedule, blank)
    _sheet_12(s[S12], plan, lay, derived, blank)
    _sheet_work(s[WORK], plan, lay, derived)
    _sheet_daily(s[DAILY], plan, lay, derived)
    _sheet_national(s[NATIONAL], plan, lay, schedule, wb)
    _sheet_followup(s[FOLLOWUP], plan, lay, derived, schedule, wb, actuals or {})
    _sheet_chart(sheets[CHART], sheets[FOLLOWUP], lay)
    if not values_only:
        _sheet_proposal(s[PROPOSAL], plan, lay, schedule)
        _sheet_table(s[RESULTS], "検証結果（「検証」ボタンで更新されます）", RESULT_HEADERS, (8, 22, 30, 16, 12, 14, 14, 80))
        _results_memo(sheets[RESULTS])
        _sheet_table(s[LOG], "提出記録（「検証して提出」ボタンで追記されます）", LOG_HEADERS, (20, 60, 68, 8, 8, 8, 68))
        _sheet_conf(sheets[CONF])
    _names(wb, lay)
    _validation(sheets, lay)
    _conditional(sheets[S11], lay)
    for name in (S11, S12, WORK, DAILY, FOLLOWUP, NATIONAL):
        _protect(sheets[name])
    wb.active = 0
    # Open as saved: every formula carries the value the core computed (no recalculation on
    # load, which would turn every KOFU_* cell into an error where Python is missing);
    # the calculation engine id of Excel 2019/365, so that no current Excel recalculates
    # the book because it looks older than itself.
    wb.calculation = CalcProperties(calcId=CALC_ID, fullCalcOnLoad=None)
    buf = io.BytesIO()
    wb.save(buf)
    out.xlsx = buf.getvalue()
    return out
