"""Errors propagate: an unusable input never changes a computed number silently.

The shipped workbook is recalculated headlessly (pycel with the KOFU_* plugged in, cached
values stripped so every formula is evaluated). Each numeric input cell (unlocked, holding a
number) in turn gets a clerk's 「未定」: every computed cell whose value changes must become an
Excel error value (so SUM, charts and dependents show it), or `check` must name that input
cell in a finding. The reason is available in a cell through =KOFU_WHY(...).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import openpyxl
import pytest

import kofu_udfs
from kofu_xl.book.layout import LOG, RESULTS
from kofu_xl.book.read import GridSource, read_plan_raw
from kofu_xl.core.rules import check_plan
from tests.support.recalc import FormulaCell, Recalculator, is_error, same_value, strip_cached_values

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
UNUSABLE = "未定"


def numeric_inputs(path: Path) -> list[tuple[str, str, float]]:
    wb = openpyxl.load_workbook(path)
    try:
        return [
            (ws.title, c.coordinate, c.value)
            for ws in wb.worksheets
            if ws.sheet_state == "visible" and ws.title not in (RESULTS, LOG)
            for row in ws.iter_rows()
            for c in row
            if c.protection.locked is False and isinstance(c.value, (int, float)) and not isinstance(c.value, bool)
        ]
    finally:
        wb.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = strip_cached_values(SHIPPED, tmp_path_factory.mktemp("strip") / "book.xlsm")
    with Recalculator(path) as engine:
        engine.baseline = engine.evaluate()
        yield engine


@pytest.fixture(scope="module")
def grid():
    return GridSource.from_path(SHIPPED)


def flagged_cells(grid: GridSource, sheet: str, cell: str, value: object) -> set[tuple[str, str]]:
    """The sheet!cell of every finding `check` reports with `value` typed into sheet!cell."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    letters, row = coordinate_from_string(cell)
    col = column_index_from_string(letters)
    line = grid.grids[sheet][row - 1]
    saved = line[col - 1]
    line[col - 1] = value
    try:
        raw, layout = read_plan_raw(grid, SHIPPED.name)
        _plan, findings = check_plan(raw)
        return {(f.sheet, f.cell) for f in layout.locate_findings(findings)}
    finally:
        line[col - 1] = saved


def silent_changes(engine, sheet: str, cell: str, original: object) -> list[tuple[str, str, object, object]]:
    if not engine.set(sheet, cell, UNUSABLE):
        return []  # no formula refers to it
    try:
        got = engine.evaluate()
    finally:
        engine.set(sheet, cell, original)
    return [(s, c, engine.baseline[(s, c)], v) for (s, c), v in got.items()
            if not same_value(v, engine.baseline[(s, c)]) and not is_error(v)]


def test_the_clerks_hourly_wage_left_undecided_gives_an_error_not_a_smaller_total(engine):
    assert engine.baseline[("本表1-2", "D8")] == 3088
    engine.set("経費積算", "C5", UNUSABLE)
    try:
        got = engine.evaluate()
    finally:
        engine.set("経費積算", "C5", 2000)
    assert got[("本表1-2", "D8")] == got[("本表1-2", "D9")] == got[("経費積算", "C10")] == "#VALUE!"
    assert kofu_udfs.KOFU_WHY("KOFU_OVERTIME", UNUSABLE, 1.35, 12.0, 1.0, 3.0) == "時間単価が数値でない"
    assert engine.evaluate()[("本表1-2", "D8")] == 3088  # restored


def refers_to(formula: FormulaCell, sheet: str, cell: str) -> bool:
    """Whether the formula names sheet!cell in one of its operands (a cell or a range)."""
    from openpyxl.formula.tokenizer import Token, Tokenizer
    from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

    row, col = coordinate_to_tuple(cell)
    for token in Tokenizer(formula.formula).items:
        if token.type != Token.OPERAND or token.subtype != Token.RANGE:
            continue
        where, _, ref = token.value.rpartition("!")
        if (where.strip("'").replace("''", "'") or formula.sheet) != sheet:
            continue
        with contextlib.suppress(ValueError, TypeError):
            c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
            if r1 <= row <= r2 and c1 <= col <= c2:
                return True
    return False


def test_no_computed_number_changes_silently_for_any_numeric_input(engine, grid):
    """Every changed cell is an error value, or check names the input cell. A KOFU_* cell that
    takes the input as an argument is always an error: the check is no excuse for it."""
    inputs = numeric_inputs(SHIPPED)
    sheets = {s for s, _c, _v in inputs}
    assert len(inputs) > 600 and {"本表1-1", "本表1-2", "経費積算", "日次実績", "国基準"} <= sheets
    formulas = {(f.sheet, f.cell): f for f in engine.cells}
    silent, hidden_by_kofu, flagged_only = [], [], 0
    for sheet, cell, original in inputs:
        changes = silent_changes(engine, sheet, cell, original)
        if not changes:
            continue
        direct = [c for c in changes if formulas[c[:2]].calls_kofu and refers_to(formulas[c[:2]], sheet, cell)]
        if direct:
            hidden_by_kofu.append((sheet, cell, direct[:3]))
        if (sheet, cell) not in flagged_cells(grid, sheet, cell, UNUSABLE):
            silent.append((sheet, cell, changes[:3]))
        else:
            flagged_only += 1
    assert hidden_by_kofu == []
    assert silent == []
    # Native SUMs skip text, as in Excel: those inputs are caught by the check alone.
    assert flagged_only < len(inputs) / 2
