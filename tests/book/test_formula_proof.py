"""The workbook's formulas, proven from the inputs and guarded against change.

- Open as saved: no recalculation on load, a current calcId, and every formula cell's saved
  result is the core's figure (all formula cells, the shipped workbook and a new one).
- The proof: pycel evaluates every formula from the inputs (saved results stripped), once with
  the KOFU_* functions and once without (a reader without Python: every blank or text result
  must come out of a native formula). A mutation test changes each formula of the shipped
  workbook (one reference, one operator) and the proof must fail for every mutant.
- check compares every computed cell with the build's formula (formula-overwritten) and never
  reads a computed cell's saved result.
"""

from __future__ import annotations

import collections
import logging
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formula.tokenizer import Token, Tokenizer

from kofu_xl.app.followup import actuals_from_sheet
from kofu_xl.app.municipalities import new_plan
from kofu_xl.book.build import CALC_ID
from kofu_xl.book.computed import STATUS_AS_SAVED, computed_cells
from kofu_xl.book.layout import DAILY, FOLLOWUP, FU_POPULATION_DATE_CELL, S11, STATUS_CELL, WORK, layout_for
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.followup import Actual
from kofu_xl.core.model import load_plan, plan_to_json
from kofu_xl.core.rules import check_plan
from kofu_xl.core.schedule import default_schedule
from tests.support import recalc

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
STATUS = (S11, STATUS_CELL)  # "live" when Python answers, "as saved" in the file: not a figure


@pytest.fixture(autouse=True, scope="module")
def _quiet_pycel():
    logging.getLogger("pycel").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def plan():
    return load_plan(shipped_plan_raw())[0]


@pytest.fixture(scope="module")
def new_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("new") / "122041_船橋市.xlsm"
    path.write_bytes(build_xlsm(new_plan("122041"), blank=True))
    return path


def probe_plan():
    """The shipped plan with a different number in every input a formula reads: every day
    of every calendar, every part of every total (so that no changed reference can meet a
    cell of the same value by chance)."""
    base = load_plan(shipped_plan_raw())[0]
    data = plan_to_json(base)
    lay = layout_for(base.parameters)
    for month, block in lay.daily_blocks.items():
        for day, _date, _count in block.cells():
            data["daily"]["days"].setdefault(day.isoformat(), str(day.toordinal() % 97 + 1))
    n = 0
    for group in ("windows", "staff", "terminals"):
        for name, values in data[group].items():
            if name.endswith("total") or name in ("issuing", "presetting", "honcho", "shisho", "other") and group == "terminals":
                continue
            n += 1
            data[group][name] = [str(n * 3 + i) for i in range(len(base.columns))]
    return load_plan(data)[0]


@pytest.fixture(scope="module")
def probe_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("probe") / "probe.xlsm"
    plan = probe_plan()
    months = layout_for(plan.parameters).followup_months
    # above the band at the first checkpoint, below it later; every fifth month blank
    actuals = {m: Actual(m, Decimal(9000 + 1800 * i if i <= 12 else 20000 + 100 * i), "probe") for i, m in enumerate(months) if i % 5}
    path.write_bytes(build_xlsm(plan, blank=True, actuals=actuals))
    return path


def _excel(value):
    if isinstance(value, Decimal):
        return float(value)
    return "" if value is None else value


def _core(path: Path) -> dict:
    """The core's figure of every computed cell, from the plan (and the actuals typed in
    実績比較) read back from the file."""
    from kofu_xl.book.read import GridSource, read_followup_raw

    raw, lay = load_raw(path)
    plan, _ = check_plan(raw)
    actuals, _ = actuals_from_sheet(read_followup_raw(GridSource.from_path(path), lay), lay)
    return {k: _excel(c.value) for k, c in computed_cells(plan, lay, default_schedule(), actuals=actuals).items()}


# ---------------------------------------------------------------- open as saved


@pytest.mark.parametrize("which", ["shipped", "new"])
def test_opens_as_saved_every_cached_value_is_the_core_figure(which, new_book):
    path = SHIPPED if which == "shipped" else new_book
    with zipfile.ZipFile(path) as z:
        calc_pr = re.search(r"<calcPr\b[^>]*>", z.read("xl/workbook.xml").decode()).group()
    assert "fullCalcOnLoad" not in calc_pr and f'calcId="{CALC_ID}"' in calc_pr, calc_pr
    assert 'calcMode="manual"' not in calc_pr
    formulas = openpyxl.load_workbook(path)
    saved = openpyxl.load_workbook(path, data_only=True)
    core = _core(path)
    cells = [(ws.title, c.coordinate) for ws in formulas.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert len(cells) > 600
    assert not [k for k in cells if k not in core]  # every formula is the build's
    wrong = [(k, saved[k[0]][k[1]].value, core[k]) for k in cells if not recalc.same_value(_none(saved[k[0]][k[1]].value), core[k])]
    assert wrong == []
    assert saved[S11][STATUS_CELL].value == STATUS_AS_SAVED


def _none(value):
    return "" if value is None else value


def test_the_saved_figures_are_the_checks_figures(plan):
    """Independently of the build's map: 本表1-1's saved rows equal check --json's series."""
    from kofu_xl.app.report import make_result, result_json

    raw, lay = load_raw(SHIPPED)
    checked, findings = check_plan(raw)
    series = result_json(make_result(checked, findings))["series"]
    saved = openpyxl.load_workbook(SHIPPED, data_only=True)[S11]
    for row, key in (("calc.cumulative", "cumulative"), ("calc.rate", "coverage_rate"), ("calc.per_staff", "per_staff"), ("calc.staff_needed", "staff_needed")):
        got = [saved.cell(row=lay.rows11[row], column=lay.col11(k)).value for k in lay.columns]
        want = series[key]
        assert len(got) == len(want)
        for col, g, w in zip(checked.columns, got, want, strict=True):
            if row in ("calc.per_staff", "calc.staff_needed") and not col.is_month:
                continue  # the form shows these for the months only
            assert (g in (None, "") and w is None) or g == pytest.approx(w, rel=1e-12), (row, got, want)


# ---------------------------------------------------------------- the proof


def _numbers(core: dict) -> dict:
    """The saved numbers a reader without Python keeps (it computes blanks and texts)."""
    return {k: v for k, v in core.items() if not isinstance(v, str) and k != STATUS}


def _away(path: Path, core: dict) -> dict:
    """What a reader without Python computes for the blank and text results: the core's
    figure, except the population date of 実績比較, whose fallback gives the same day in the
    Western calendar (TEXT has no 和暦 in every reader)."""
    out = {k: v for k, v in core.items() if isinstance(v, str) and k != STATUS}
    day = load_plan(load_raw(path)[0])[0].basic.population_date
    if day is not None:
        out[(FOLLOWUP, FU_POPULATION_DATE_CELL)] = f"{day.year}年{day.month}月{day.day}日"
    return out


def _prove(path: Path) -> dict:
    """What the proof finds wrong: {cell: (evaluated, core)}, with and without Python."""
    core = _core(path)
    away_core = _away(path, core)
    wrong = {}
    with recalc.recalculation(path) as live, recalc.recalculation(path, python=False) as away:
        away.hold(_numbers(core))
        for fc in live.cells:
            key = (fc.sheet, fc.cell)
            if key == STATUS:
                continue
            got = live.evaluate(*key)
            if not recalc.same_value(got, core[key]):
                wrong[key] = (got, core[key])
            if key in away_core:  # blank or text: a reader without Python computes it
                got = away.evaluate(*key)
                if not recalc.same_value(got, away_core[key]):
                    wrong[key] = ("without Python", got, away_core[key])
        assert live.evaluate(*STATUS) != away.evaluate(*STATUS) == STATUS_AS_SAVED
    return wrong


@pytest.mark.parametrize("which", ["shipped", "new", "probe"])
def test_every_formula_evaluated_from_the_inputs_is_the_core_figure(which, new_book, probe_book):
    path = {"shipped": SHIPPED, "new": new_book, "probe": probe_book}[which]
    assert _prove(path) == {}


def test_the_proof_reads_inputs_not_saved_results(tmp_path):
    """経費積算!C7 from 12 to 24 days: C10 is computed again (194,400), not read (97,200)."""
    path = tmp_path / "book.xlsm"
    wb = openpyxl.load_workbook(SHIPPED, keep_vba=True)
    assert wb[WORK]["C7"].value == 12
    wb[WORK]["C7"] = 24
    wb.save(path)
    assert recalc.recalculate(path)[(WORK, "C10")] == 194400


_OPS = {"+": "-", "-": "+", "*": "/", "/": "*", "=": "<>", "<>": "=", "<": ">=", ">": "<=", "<=": ">", ">=": "<", "&": "+"}
_REF = re.compile(r"^(.*?)(\$?)([A-Z]{1,3})(\$?)(\d+)$")


def _is_ref(token) -> bool:
    return token.type == Token.OPERAND and token.subtype == Token.RANGE and ":" not in token.value and bool(_REF.match(token.value))


def mutant(formula: str, kind: str) -> str | None:
    """The formula with its last cell reference moved one row down ("ref"), or its first
    operator reversed ("op"); None when it has none."""
    tokens = Tokenizer(formula).items
    if kind == "ref":
        found = [i for i, t in enumerate(tokens) if _is_ref(t)]
    else:
        found = [i for i, t in enumerate(tokens) if t.type == Token.OP_IN and t.value in _OPS]
    if not found:
        return None
    i = found[-1] if kind == "ref" else found[0]
    parts = [t.value for t in tokens]
    if kind == "ref":
        m = _REF.match(parts[i])
        parts[i] = f"{m[1]}{m[2]}{m[3]}{m[4]}{int(m[5]) + 1}"
    else:
        parts[i] = _OPS[parts[i]]
    return "=" + "".join(parts)


def test_mutant_formula():
    assert mutant("=IF(C9=\"\",\"\",KOFU_SENYEN(C9))", "ref") == "=IF(C9=\"\",\"\",KOFU_SENYEN(C10))"
    assert mutant("=IF(C9=\"\",\"\",KOFU_SENYEN(C9))", "op") == "=IF(C9<>\"\",\"\",KOFU_SENYEN(C9))"
    assert mutant("=SUM(人口)", "op") is None


def _formulas(path: Path) -> dict[tuple[str, int, tuple], list]:
    """Formula cells grouped into the build's formulas: one per row of a sheet and shape (a
    row's consistent formula, as the build writes it with one template)."""
    with recalc.recalculation(path) as r:
        cells = r.cells
    groups: dict[tuple[str, int, tuple], list] = collections.defaultdict(list)
    for fc in cells:
        if (fc.sheet, fc.cell) == STATUS:
            continue
        shape = tuple("R" if _is_ref(t) else t.value for t in Tokenizer(fc.formula).items)
        groups[(fc.sheet, int(re.sub(r"[A-Z$]", "", fc.cell)), shape)].append(fc)
    return groups


def test_every_mutant_of_every_formula_fails_the_proof(probe_book):
    """Each formula of the shipped workbook, changed in turn (one reference, one operator, in
    every cell it fills): the proof must fail on the shipped inputs or on the probe inputs
    (the same formulas, a different number in every input)."""
    books = [SHIPPED, probe_book]
    cores = [(core, _away(p, core)) for p in books for core in [_core(p)]]
    survivors = []
    n = 0
    with contextlib_all(books) as engines:
        for key, cells in _formulas(SHIPPED).items():
            for kind in ("ref", "op"):
                changed = [(fc, mutant(fc.formula, kind)) for fc in cells]
                if changed[0][1] is None:
                    continue
                n += 1
                if not any(_fails(live, away, core, changed) for (live, away), core in zip(engines, cores, strict=True)):
                    survivors.append((key[0], cells[0].cell, kind, changed[0][1]))
    assert n > 120
    assert survivors == []


def _fails(live, away, cores, changed) -> bool:
    core, away_core = cores
    for fc, formula in changed:
        key = (fc.sheet, fc.cell)
        try:
            if not recalc.same_value(live.evaluate(*key, formula), core[key]):
                return True
        except recalc.RecalcError:  # e.g. a reference made circular
            return True
        if key in away_core and not recalc.same_value(away.evaluate(*key, formula), away_core[key]):
            return True
    return False


class contextlib_all:  # noqa: N801 - used as a context manager
    """Both engines (with and without Python) of each book."""

    def __init__(self, books):
        import contextlib

        self.stack = contextlib.ExitStack()
        self.books = books

    def __enter__(self):
        out = []
        for book in self.books:
            live = self.stack.enter_context(recalc.recalculation(book))
            away = self.stack.enter_context(recalc.recalculation(book, python=False))
            live.values()
            away.hold(_numbers(_core(book)))
            out.append((live, away))
        return out

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)


# ---------------------------------------------------------------- check guards the formulas


def _rules(path: Path) -> set[tuple[str, str | None, str | None]]:
    raw, lay = load_raw(path)
    _plan, findings = check_plan(raw)
    return {(f.rule, f.sheet, f.cell) for f in lay.locate_findings(findings)}


def test_a_changed_or_overwritten_computed_cell_is_named_with_its_formula(tmp_path):
    path = tmp_path / "book.xlsm"
    wb = openpyxl.load_workbook(SHIPPED, keep_vba=True)
    original = wb[WORK]["C10"].value
    assert "KOFU_OVERTIME(C5,C6,C7,C8,C9)" in original
    wb[WORK]["C10"] = original.replace("C8,C9)", "C8,C8)")  # one reference swapped
    wb[WORK]["D11"] = 389  # a constant typed over a computed cell
    month_total = layout_for(load_plan(shipped_plan_raw())[0].parameters).daily_blocks["2019-08"].month_total_cell
    wb[DAILY][month_total] = None  # a total cleared
    total = next(c.coordinate for row in wb[S11].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=SUM("))
    wb[S11][total] = 99  # a value typed over a prefilled total: an input, no formula finding
    wb.save(path)
    raw, lay = load_raw(path)
    _plan, findings = check_plan(raw)
    found = {f.cell: f for f in findings if f.rule == "formula-overwritten"}
    assert set(found) == {"C10", "D11"}, found
    assert all(f.sheet == WORK and f.severity.value == "warning" for f in found.values())
    assert found["C10"].message.startswith("経費積算!C10 ") and original in found["C10"].message
    assert "C8,C8" in found["C10"].message and "値「389」" in found["D11"].message
    # a 日次実績 total is said once, by daily-total-overwritten
    daily = [f for f in findings if f.cell == month_total]
    assert [f.rule for f in daily] == ["daily-total-overwritten"] and "空欄" in daily[0].message
    # the figures are still computed from the inputs: 97,200円 -> 98千円
    assert _plan.costs["FY2019"].personnel_regular == 98


def test_the_shipped_workbook_has_no_changed_formula():
    assert not [r for r in _rules(SHIPPED) if r[0] == "formula-overwritten"]


def test_findings_survive_an_openpyxl_round_trip(tmp_path):
    """openpyxl keeps the formulas and drops every saved result: the same findings."""
    path = tmp_path / "roundtrip.xlsm"
    wb = openpyxl.load_workbook(SHIPPED, keep_vba=True)
    wb.save(path)
    assert openpyxl.load_workbook(path, data_only=True)[WORK]["C10"].value is None  # no saved result left
    assert _rules(path) == _rules(SHIPPED)
