"""Data validation on every input cell, cell by cell against the layout map.

The built workbook is read back with openpyxl; for each input cell the layout map names, the
data validation that covers it must be the rule of the field's kind (the model's Meta.kind):
whole numbers ≥ 0 for counts (⑥統合端末台数 and ④実施回数 included), decimals ≥ 0 for people and
money, dates, the month list, text lengths. And no input cell of the book is left without one.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from kofu_xl.book.build import ROWS_11, ROWS_12, ROWS_WORK
from kofu_xl.book.layout import DAILY, FOLLOWUP, NATIONAL, S11, layout_for
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.model import iter_leaves, load_plan

REPO = Path(__file__).resolve().parents[2]

# the rule a kind gets: (type, operator, formula1)
EXPECTED = {
    "count": ("whole", "greaterThanOrEqual", "0"),
    "amount": ("decimal", "greaterThanOrEqual", "0"),
    "money": ("decimal", "greaterThanOrEqual", "0"),
    "yen": ("decimal", "greaterThanOrEqual", "0"),
    "factor": ("decimal", "greaterThanOrEqual", "0"),
    "date": ("date", "between", None),
    "month": ("list", None, "=開始時期の選択肢"),
    "code": ("textLength", "equal", "6"),
    "text": ("textLength", "lessThanOrEqual", "2000"),
}


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    plan, _ = load_plan(shipped_plan_raw())
    path = tmp_path_factory.mktemp("v") / "v.xlsm"
    path.write_bytes(build_xlsm(plan))
    return openpyxl.load_workbook(path), layout_for(plan.parameters)


def _rules(ws) -> dict[str, tuple[str | None, str | None, str | None]]:
    """cell -> (type, operator, formula1) of the data validation covering it (read back)."""
    out: dict[str, tuple[str | None, str | None, str | None]] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            for row in ws.iter_rows(min_row=rng.min_row, max_row=rng.max_row, min_col=rng.min_col, max_col=rng.max_col):
                for c in row:
                    assert c.coordinate not in out, f"{ws.title}!{c.coordinate} has two validations"
                    out[c.coordinate] = (dv.type, dv.operator, dv.formula1)
    return out


def _expected_cells(lay) -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
    """Independent of the builder: the layout map's input cells and the model's kinds."""
    kinds = {leaf.path: leaf.meta.kind for leaf in iter_leaves()}
    want: dict[tuple[str, str], tuple[str, str | None, str | None]] = {}
    for path, sc in lay.scalars.items():
        if path == "basic.base_rate_pct":
            continue
        if path == "parameters.capacity_cards_per_month":
            rule = ("whole", "greaterThanOrEqual", "1")
        elif path == "parameters.capacity_staff":
            rule = ("decimal", "greaterThan", "0")
        elif path.startswith("budget_timing."):
            rule = EXPECTED["month"]
        else:
            rule = EXPECTED[kinds.get(path, "text")]
        want[(sc.sheet, sc.cell)] = rule
    for spec in ROWS_11:
        if spec.role == "input":
            for col in lay.columns:
                want[lay.series_cell(spec.key, col)] = EXPECTED[kinds[spec.key]]
    for specs in (ROWS_12, ROWS_WORK):
        for spec in specs:
            if spec.role == "input":
                for year in lay.cost_years:
                    want[lay.cost_cell(spec.key, year)] = EXPECTED[kinds[spec.key]]
    for block in lay.daily_blocks.values():
        for _d, _dc, cell in block.cells():
            want[(DAILY, cell)] = EXPECTED["count"]
    for month in lay.followup_months:
        want[lay.locate("followup.actual_cumulative", month)] = EXPECTED["count"]
        want[lay.locate("followup.official_population", month)] = EXPECTED["count"]
        want[lay.locate("followup.official_rate", month)] = ("decimal", "between", "0")
    return want


def test_every_input_cell_has_the_rule_of_its_kind(book) -> None:
    wb, lay = book
    rules = {name: _rules(wb[name]) for name in wb.sheetnames}
    want = _expected_cells(lay)
    assert len(want) > 1500
    wrong = []
    for (sheet, cell), (typ, op, f1) in sorted(want.items()):
        got = rules[sheet].get(cell)
        if got is None or got[0] != typ or got[1] != op or (f1 is not None and got[2] != f1):
            wrong.append((sheet, cell, (typ, op, f1), got))
    assert wrong == []


def test_terminals_and_opening_counts_are_whole_numbers(book) -> None:
    """⑥統合端末台数 and ④実施回数(一月当たり): whole numbers ≥ 0, in Excel and in the check."""
    wb, lay = book
    rules = _rules(wb[S11])
    for key in ("terminals.total", "terminals.issuing", "terminals.other_presetting"):
        for col in lay.columns:
            assert rules[lay.series_cell(key, col)[1]] == ("whole", "greaterThanOrEqual", "0"), (key, col)
    for place in ("honcho", "shisho", "other"):
        assert rules[lay.scalars[f"openings.{place}_per_month"].cell] == ("whole", "greaterThanOrEqual", "0")
    # the check refuses what Excel refuses: 1.5 terminals is no count
    from kofu_xl.core.rules import check_plan

    raw = shipped_plan_raw()
    raw["terminals"]["issuing"]["2020-04"] = 1.5
    raw["openings"]["honcho_per_month"] = 2.5
    _plan, findings = check_plan(raw)
    bad = {(f.path, f.column) for f in findings if f.rule == "not-a-number"}
    assert ("terminals.issuing", "2020-04") in bad and ("openings.honcho_per_month", None) in bad


def test_no_unlocked_cell_is_left_without_validation(book) -> None:
    """Every cell a clerk can type into (unlocked; the first cell of a merged block) has a
    validation, so nothing outside the layout map is an unchecked input."""
    wb, _lay = book
    missing = []
    for ws in wb:
        if not ws.protection.sheet:
            continue
        rules = _rules(ws)
        covered_by_merge = {c for r in ws.merged_cells.ranges for c in (cell.coordinate for row in ws.iter_rows(min_row=r.min_row, max_row=r.max_row, min_col=r.min_col, max_col=r.max_col) for cell in row) if c != r.start_cell.coordinate}
        for row in ws.iter_rows():
            for c in row:
                if c.protection.locked is False and c.coordinate not in rules and c.coordinate not in covered_by_merge:
                    missing.append(f"{ws.title}!{c.coordinate}")
    assert missing == []


def test_the_shipped_workbook_carries_the_same_validation(book) -> None:
    wb, _lay = book
    shipped = openpyxl.load_workbook(REPO / "workbook" / "交付円滑化計画.xlsm")
    for name in (S11, NATIONAL, FOLLOWUP, DAILY):
        assert _rules(shipped[name]) == _rules(wb[name])
