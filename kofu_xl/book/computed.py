"""Every computed cell of the workbook: the formula the build writes there and its value.

One map, ``{(sheet, cell): Computed(formula, value, prefill)}``, built from a plan and its
layout without drawing anything (a few milliseconds), used by

* the build, which writes each formula with its value as the cached result, so the book
  opens showing the figures the core computed (no recalculation on load);
* the reader, which takes the value of a cell still holding its formula from here (the
  core's figure of the inputs), never from the cached result another program may have
  dropped or replaced by an error;
* the check ``formula-overwritten``: a computed cell whose formula was changed, or typed
  over with a constant, is named with the formula to restore.

Formulas are ordinary per-cell formulas (no array formulas: LibreOffice never keeps the
saved result of one). Readers that cannot run KOFU_* (LibreOffice, Excel without Python)
keep a numeric saved result but recompute a blank or text one, so every KOFU_* call sits
behind a native guard that yields the blank itself (``IF(x="","",KOFU_…)``), and the two
functions whose results are texts (KOFU_CHECK, KOFU_WAREKI) have a native fallback
(``IFERROR(KOFU_…, native)``). Sums, running totals and look-ups are native formulas.

``prefill`` marks input cells the build prefills with a formula over their parts (totals,
the 実績 columns, cost links): the clerk may type over them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from kofu_xl.book.layout import (
    CHART_SOURCE_ROWS,
    DAILY,
    FIRST_DATA_COL,
    FOLLOWUP,
    FU_HEADER_ROW,
    FU_POPULATION_CELL,
    FU_POPULATION_DATE_CELL,
    NATIONAL,
    NATIONAL_KEY11_COL,
    NATIONAL_KEY_FU_COL,
    NATIONAL_LOWER_COL,
    NATIONAL_TABLE_HEADER_ROW,
    NATIONAL_UPPER_COL,
    ROW_HEADER,
    ROWS_11,
    ROWS_12,
    S11,
    S12,
    STATUS_CELL,
    WORK,
    Layout,
    layout_for,
)
from kofu_xl.core import calc
from kofu_xl.core.calendar import month_label, months_of_fiscal_year, wareki_date
from kofu_xl.core.model import CostYear, Declared, Parameters, Plan, Working, load_plan, plan_to_json
from kofu_xl.core.schedule import Schedule, default_schedule
from kofu_xl.data import data_path
from kofu_xl.ooxml.cellref import col_letter, parse_ref, ref

__all__ = [
    "BASE_ISSUED_NAME",
    "BASE_POPULATION_NAME",
    "CAPACITY_CARDS_NAME",
    "CAPACITY_STAFF_NAME",
    "CHECK_LABELS",
    "Computed",
    "POPULATION_NAME",
    "STATUS_AS_SAVED",
    "STATUS_LIVE",
    "VS_PLAN_BEHIND",
    "VS_PLAN_OK",
    "computed_cells",
    "computed_inputs",
    "national_keys",
    "normalize_formula",
    "prefill_values",
    "stored_formulas",
    "stored_formulas_of_shape",
    "stored_positions",
]

POPULATION_NAME = "人口"
BASE_ISSUED_NAME = "交付枚数"
CAPACITY_CARDS_NAME = "処理能力枚数"
CAPACITY_STAFF_NAME = "処理能力職員数"
BASE_POPULATION_NAME = "基準人口"  # the national population the schedule's bounds divide by
VS_PLAN_BEHIND = "計画を下回る"
VS_PLAN_OK = "計画以上"
CHECK_LABELS = {"ok": "OK", "below": "下限値未満", "above": "上限値超", None: ""}

STATUS_LIVE = "最新の計算結果です（Python 接続中: 灰色のセルは入力に合わせて計算されています）"
STATUS_AS_SAVED = (
    "保存時の値です（Python が接続されていないか、開いてから再計算していません。"
    "入力を変えると、KOFU_* のセルは Python なしでは再計算できずエラー表示になります）"
)

# Every figure of the plan's rules; the parts of each total the build prefills as a SUM.
PARTS: dict[str, tuple[str, ...]] = {
    "windows.total": ("windows.honcho", "windows.shisho", "windows.other"),
    "staff.total": tuple(f"staff.{p}" for p in ("honcho_regular", "honcho_temporary", "honcho_other", "shisho_regular", "shisho_temporary", "shisho_other", "other_regular", "other_temporary", "other_other")),
    "terminals.total": ("terminals.issuing", "terminals.presetting"),
    "terminals.issuing": ("terminals.honcho_issuing", "terminals.shisho_issuing", "terminals.other_issuing"),
    "terminals.presetting": ("terminals.honcho_presetting", "terminals.shisho_presetting", "terminals.other_presetting"),
    "terminals.honcho": ("terminals.honcho_issuing", "terminals.honcho_presetting"),
    "terminals.shisho": ("terminals.shisho_issuing", "terminals.shisho_presetting"),
    "terminals.other": ("terminals.other_issuing", "terminals.other_presetting"),
}
SUBSIDY_ITEMS = ("costs.personnel_total", "costs.tablet.subsidized", "costs.printer.subsidized", "costs.webcam.subsidized", "costs.postage", "costs.reservation", "costs.terminals", "costs.other")
PERSONNEL_ITEMS = ("costs.personnel_regular", "costs.personnel_temporary", "costs.personnel_other")


NA = "#N/A"  # a cached error value: the chart rows' "no figure"


class Computed(Struct, frozen=True):
    formula: str
    value: Any  # the core's figure: a Decimal, a text, or "" for an empty result
    prefill: bool = False


def normalize_formula(text: str) -> str:
    """A formula as compared between writers: no leading "=", no whitespace or quotes
    outside string literals, no function prefixes, upper case outside string literals
    (LibreOffice writes 日次実績!$J$10 and TRUE() where the build wrote '日次実績'!$J$10
    and TRUE)."""
    text = text.strip()
    if text.startswith("="):
        text = text[1:]
    out: list[str] = []
    parts = text.split('"')
    for i, part in enumerate(parts):
        if i % 2:  # inside a string literal
            out.append(part)
        else:
            part = "".join(part.split()).replace("'", "").upper().replace("_XLUDF.", "").replace("_XLFN.", "")
            out.append(part.replace("TRUE()", "TRUE").replace("FALSE()", "FALSE"))
    return '"'.join(out)


def _empty(value: Any) -> Any:
    return "" if value is None else value


def _num0(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _abs(sheet: str, cell: str) -> str:
    col = "".join(ch for ch in cell if ch.isalpha())
    return f"'{sheet}'!${col}${cell[len(col):]}"


def _abs_range(sheet: str, first: str, last: str) -> str:
    return f"{_abs(sheet, first)}:{_abs(sheet, last).split('!')[1]}"


def _row_name(key: str) -> str:
    return next(spec.name for spec in ROWS_11 if spec.key == key and spec.name)  # type: ignore[return-value]


def national_keys(plan: Plan, schedule: Schedule) -> list[tuple[str, str]]:
    """Per checkpoint of the schedule: the label of its column on 本表1-1 ("R3年度" for the
    end of FY2021; "" when the plan has no such column) and on 実績比較 ("R4年3月")."""
    out = []
    for cp in schedule.checkpoints:
        col = next((c for c in plan.columns if (found := schedule.checkpoint_for_column(c)) is not None and found.month == cp.month), None)
        out.append((col.label if col is not None else "", month_label(cp.month)))
    return out


def _keys_range(col: int, schedule: Schedule) -> str:
    first = NATIONAL_TABLE_HEADER_ROW + 1
    last = NATIONAL_TABLE_HEADER_ROW + len(schedule.checkpoints)
    return _abs_range(NATIONAL, ref(col, first), ref(col, last))


def _bound_lookup(header: str, kind_cell: str, keys: str) -> str:
    """A bound by its column's label: blank natively where the column is no checkpoint."""
    return f'=IF(ISNA(MATCH({header},{keys},0)),"",KOFU_THRESHOLD({header},{kind_cell}))'


def _check(rate: str, lower: str, upper: str, header: str) -> str:
    """KOFU_CHECK with its native equivalent (0.1 point as shown, against the printed bound)."""
    shown = f"ROUND({rate}*100,1)"
    native = f'IF({shown}<ROUND({lower}*100,1),"{CHECK_LABELS["below"]}",IF({shown}>ROUND({upper}*100,1),"{CHECK_LABELS["above"]}","{CHECK_LABELS["ok"]}"))'
    return f'=IF(OR({lower}="",{rate}=""),"",IFERROR(KOFU_CHECK({rate},{header}),{native}))'


def computed_inputs(plan: Plan) -> Plan:
    """The plan as :func:`computed_cells` sees it: the figures the workbook itself computes
    (the declared running totals, rates and per-unit figures of 本表1-1, the base rate, the
    totals under each month of 日次実績) left out. Two plans
    with equal inputs give equal computed cells (a reader settling a file's formulas
    recomputes only when the inputs changed)."""
    return msgspec.structs.replace(
        plan,
        declared=Declared(),
        basic=msgspec.structs.replace(plan.basic, base_rate_pct=None),
        daily=msgspec.structs.replace(plan.daily, declared={}),
    )


def computed_cells(
    plan: Plan,
    lay: Layout,
    schedule: Schedule,
    derived: calc.Derived | None = None,
    actuals: Mapping[str, Any] | None = None,
) -> dict[tuple[str, str], Computed]:
    """The formula and value of every computed cell (and every prefill) of ``plan``'s workbook
    (a function of :func:`computed_inputs` of the plan)."""
    plan = computed_inputs(plan)
    derived = derived or calc.derive(plan, schedule.bounds_by_column(plan.columns))
    out: dict[tuple[str, str], Computed] = {}
    _sheet_11(out, plan, lay, derived, schedule)
    _sheet_12(out, plan, lay, derived)
    _sheet_work(out, plan, lay, derived)
    _sheet_daily(out, lay, derived)
    _sheet_national(out, schedule)
    _sheet_followup(out, plan, lay, derived, schedule, actuals or {})
    return out


# ---------------------------------------------------------------- the stored formulas

# The formulas of computed_cells for the form's default shape (the shipped workbook's, and every
# new plan's), with their prefill marks: a reader settling a workbook of that shape compares the
# workbook's formulas with these instead of building ~1,250 formula texts (~20 M instructions of
# a check). Formulas depend on the plan's shape (its parameters' months, years and 実績
# columns, the layout) and the schedule, never on its figures; tests/book/test_computed.py holds
# the file equal to computed_cells of plans of that shape. Written by `kofu-xl build` in a checkout
# (or `python -m kofu_xl.book.computed`).
STORED_FORMULAS_PATH = data_path("computed_formulas.txt")
_STORED: list[Any] = []  # [(shape, {(sheet, cell): (formula, prefill)}, {(sheet, cell): (row, column)})] once read


def formula_shape(plan: Plan, lay: Layout) -> list[Any]:
    """What the formulas of computed_cells depend on besides the schedule (as JSON holds it)."""
    return _shape(plan.parameters, lay)


def _shape(p: Parameters, lay: Layout) -> list[Any]:
    return [p.first_month, p.last_month, list(p.fiscal_years), p.actual_through, list(p.cost_years), list(lay.columns), list(lay.cost_years), list(lay.daily_blocks), list(lay.followup_months)]


def stored_formulas_data(plan: Plan, lay: Layout, schedule: Schedule) -> bytes:
    """The stored file's contents for plans of ``plan``'s shape under ``schedule``: a line of
    JSON (the shape; per run of cells of one sheet, in computed_cells' order: the sheet, its
    cells joined by spaces, their prefill marks as "0"/"1", rows and columns), then each
    cell's formula on a line of its own (read as one text, split at once: ~4 M instructions
    where JSON lists of the same took ~10 M)."""
    runs: list[list[Any]] = []
    formulas: list[str] = []
    for (sheet, cell), c in computed_cells(plan, lay, schedule).items():
        if not runs or runs[-1][0] != sheet:
            runs.append([sheet, [], "", [], []])
        row, col = parse_ref(cell)
        run = runs[-1]
        run[1].append(cell)
        run[2] += "1" if c.prefill else "0"
        run[3].append(row)
        run[4].append(col)
        if "\n" in c.formula or "\r" in c.formula:
            raise ValueError(f"a formula of {sheet}!{cell} holds a line end")
        formulas.append(c.formula)
    head = {"shape": formula_shape(plan, lay), "sheets": [[sheet, " ".join(cells), marks, rows, cols] for sheet, cells, marks, rows, cols in runs]}
    return msgspec.json.encode(head) + b"\n" + "\n".join(formulas).encode() + b"\n"


def stored_formulas(plan: Plan, lay: Layout, schedule: Schedule) -> dict[tuple[str, str], tuple[str, bool]] | None:
    """{(sheet, cell): (formula, prefill)} of computed_cells of ``plan`` (in its order), from
    the stored file; None when the plan is of another shape, or the schedule is not the default."""
    return stored_formulas_of_shape(plan.parameters, lay, schedule)


def stored_formulas_of_shape(params: Parameters, lay: Layout, schedule: Schedule) -> dict[tuple[str, str], tuple[str, bool]] | None:
    """:func:`stored_formulas` of every plan with these parameters (the formulas depend on the
    shape alone: a reader can look them up before it has loaded the plan)."""
    if schedule is not default_schedule():
        return None
    if not _STORED:
        head, _, body = STORED_FORMULAS_PATH.read_bytes().partition(b"\n")
        data = msgspec.json.decode(head)
        formulas = body.decode().split("\n")
        formulas.pop()  # (after the last line end)
        keys: list[tuple[str, str]] = []
        marks: list[bool] = []
        positions: list[tuple[int, int]] = []
        for sheet, cells, prefill, rows, cols in data["sheets"]:
            keys += zip(itertools.repeat(sheet), cells.split(" "))
            marks += map("1".__eq__, prefill)
            positions += zip(rows, cols)
        _STORED.append((data["shape"], dict(zip(keys, zip(formulas, marks, strict=True), strict=True)), dict(zip(keys, positions, strict=True))))
    shape, cells_, _positions = _STORED[0]
    return cells_ if shape == _shape(params, lay) else None


def stored_positions() -> dict[tuple[str, str], tuple[int, int]]:
    """{(sheet, cell): (row, column)} of the stored formulas' cells (``parse_ref`` of each, as
    the file holds it): read after :func:`stored_formulas` answered."""
    return _STORED[0][2]


def prefill_values(plan: Plan, lay: Layout) -> dict[tuple[str, str], Any]:
    """{(sheet, cell): value} of every prefilled input of computed_cells (a cell it marks
    prefill: totals over their parts, the 実績 columns' links to 日次実績, cost links) without
    building a formula: the same values (tests/book/test_computed.py holds them equal)."""
    out: dict[tuple[str, str], Any] = {}
    r = lay.rows11
    actual_through = plan.parameters.actual_through
    parts_series = {p: plan.series(p) for parts in PARTS.values() for p in parts}
    totals = [(total, r[total], parts) for total, parts in PARTS.items()]
    daily = None
    for i, col in enumerate(plan.columns):
        c = lay.col11(col.key)
        for _total, row, parts in totals:
            out[(S11, ref(c, row))] = _num0(calc.sum_parts(parts_series[p][i] for p in parts))
        if col.is_month and actual_through and col.key <= actual_through and col.key in lay.daily_blocks:
            if daily is None:
                daily = calc.daily_totals(plan.daily.days)
            out[(S11, ref(c, r["issuance"]))] = daily.get(col.key, (None, Decimal(0)))[1]
    r12 = lay.rows12
    for key in lay.cost_years:
        col = lay.col12(key)
        year = plan.costs.get(key, CostYear())
        w = calc.WorkingAmounts.of(plan.working.get(key, Working()), year)
        out[(S12, ref(col, r12["costs.total"]))] = _num0(calc.subsidy_sum(year))
        out[(S12, ref(col, r12["costs.personnel_total"]))] = _num0(calc.personnel_sum(year))
        for path, yen in (("costs.personnel_regular", w.overtime_yen), ("costs.personnel_temporary", w.temporary_yen), ("costs.postage", w.postage_yen)):
            out[(S12, ref(col, r12[path]))] = _empty(calc.senyen(yen))
        for item in CostYear.PURCHASES:
            out[(S12, ref(col, r12[f"costs.{item}.cost"]))] = _empty(calc.senyen(w.purchases_yen[item]))
    return out


# ---------------------------------------------------------------- 本表1-1


def _sheet_11(out: dict, plan: Plan, lay: Layout, d: calc.Derived, schedule: Schedule) -> None:
    def put(cell: str, formula: str, value: Any, prefill: bool = False) -> None:
        out[(S11, cell)] = Computed(formula, value, prefill)

    put(STATUS_CELL, f'=IF(ISNUMBER(KOFU_RATE(1,1+0*NOW())),"{STATUS_LIVE}","{STATUS_AS_SAVED}")', STATUS_AS_SAVED)
    base = BASE_ISSUED_NAME
    put(lay.scalars["basic.base_rate_pct"].cell, f'=IF({base}="","",KOFU_RATE({base},{POPULATION_NAME}))', _empty(d.base_rate))
    r = lay.rows11
    keys11 = _keys_range(NATIONAL_KEY11_COL, schedule)
    actual_through = plan.parameters.actual_through
    parts_series = {p: plan.series(p) for parts in PARTS.values() for p in parts}  # once, not per column
    for i, col in enumerate(plan.columns):
        c = lay.col11(col.key)
        letter = col_letter(c)

        def at(key: str, c: int = c) -> str:
            return ref(c, r[key])

        header = f"{letter}${ROW_HEADER}"
        issued = at("issuance")
        # inputs prefilled with a formula over their parts
        for total, parts in PARTS.items():
            summed = calc.sum_parts(parts_series[p][i] for p in parts)
            put(at(total), "=SUM(" + ",".join(at(p) for p in parts) + ")", _num0(summed), prefill=True)
        if col.is_month and actual_through and col.key <= actual_through and col.key in lay.daily_blocks:
            total = d.daily.get(col.key, (None, Decimal(0)))[1]
            put(issued, f"={_abs(DAILY, lay.daily_blocks[col.key].month_total_cell)}", total, prefill=True)
        # the running total: native (whole numbers add exactly in every reader)
        cum = at("calc.cumulative")
        if i == 0:
            put(cum, f'=IF({base}="","",{base})', _empty(d.cumulative[i]))
        else:
            prev = ref(c - 1, r["calc.cumulative"])
            put(cum, f'=IF(OR({prev}="",{issued}=""),"",{prev}+{issued})', _empty(d.cumulative[i]))
        rate = at("calc.rate")
        put(rate, f'=IF({cum}="","",KOFU_RATE({cum},{POPULATION_NAME}))', _empty(d.coverage_rate[i]))
        bounds = d.bounds.get(col.key)
        for k, key in enumerate(("calc.lower", "calc.upper")):
            put(at(key), _bound_lookup(header, f"$D{r[key]}", keys11), "" if bounds is None else bounds[k] / 100)
        cp = schedule.checkpoint_for_column(col)
        status = calc.bound_status(d.coverage_rate[i], schedule.lower_pct(cp), schedule.upper_pct(cp)) if cp else None
        put(at("calc.check"), _check(rate, at("calc.lower"), at("calc.upper"), header), CHECK_LABELS[status])
        if i > 0:  # the base column has no increase
            put(at("calc.increase"), f'=IF({issued}="","",KOFU_INCREASE({issued},{POPULATION_NAME}))', _empty(d.increase[i]))
        if col.is_month:
            for key, units in (
                ("calc.per_window", "windows.total"),
                ("calc.per_staff", "staff.total"),
                ("calc.per_issuing_terminal", "terminals.issuing"),
                ("calc.per_presetting_terminal", "terminals.presetting"),
            ):
                u = at(units)
                put(at(key), f'=IF(OR({issued}="",{u}="",{u}=0),"",KOFU_PER({issued},{u}))', _empty(getattr(d, key[5:])[i]))
            put(
                at("calc.staff_needed"),
                f'=IF({issued}="","",KOFU_STAFF_NEEDED({issued},{CAPACITY_CARDS_NAME},{CAPACITY_STAFF_NAME}))',
                _empty(d.staff_needed[i]),
            )


# ---------------------------------------------------------------- 本表1-2 and 経費積算


_MIRRORS = ("basic.dantai_code", "basic.prefecture", "basic.municipality", "basic.population", "basic.base_issued", "basic.base_rate_pct")


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
        if obj is None:
            return None
    return obj


def _sheet_12(out: dict, plan: Plan, lay: Layout, d: calc.Derived) -> None:
    for i, path in enumerate(_MIRRORS):
        source = _abs(S11, lay.scalars[path].cell)
        value = d.base_rate if path == "basic.base_rate_pct" else _get(plan, path)
        out[(S12, ref(2 + i, 4))] = Computed(f'=IF({source}="","",{source})', _empty(value))
    for key in lay.cost_years:
        col = lay.col12(key)
        year = plan.costs.get(key, CostYear())
        w = d.working[key]
        wcol = lay.col_work(key)

        def at(row_key: str, col: int = col) -> str:
            return ref(col, lay.rows12[row_key])

        subsidy = "=SUM(" + ",".join(at(p) for p in SUBSIDY_ITEMS) + ")"
        personnel = "=SUM(" + ",".join(at(p) for p in PERSONNEL_ITEMS) + ")"
        out[(S12, at("calc.cost_total_check"))] = Computed(subsidy, _num0(calc.subsidy_sum(year)))
        out[(S12, at("calc.personnel_check"))] = Computed(personnel, _num0(calc.personnel_sum(year)))
        out[(S12, at("costs.total"))] = Computed(subsidy, _num0(calc.subsidy_sum(year)), prefill=True)
        out[(S12, at("costs.personnel_total"))] = Computed(personnel, _num0(calc.personnel_sum(year)), prefill=True)
        for path, row_key, yen in (
            ("costs.personnel_regular", "calc.overtime_senyen", w.overtime_yen),
            ("costs.personnel_temporary", "calc.temporary_senyen", w.temporary_yen),
            ("costs.postage", "calc.postage_senyen", w.postage_yen),
        ):
            source = _abs(WORK, ref(wcol, lay.rows_work[row_key]))
            out[(S12, at(path))] = Computed(f"={source}", _empty(calc.senyen(yen)), prefill=True)
        for item in CostYear.PURCHASES:
            source = _abs(WORK, ref(wcol, lay.rows_work[f"calc.{item}_yen"]))
            out[(S12, at(f"costs.{item}.cost"))] = Computed(
                f'=IF({source}="","",KOFU_SENYEN({source}))', _empty(calc.senyen(w.purchases_yen[item])), prefill=True
            )


def _blank_if_any(cells: list[str]) -> str:
    return "OR(" + ",".join(f'{c}=""' for c in cells) + ")" if len(cells) > 1 else f'{cells[0]}=""'


def _sheet_work(out: dict, plan: Plan, lay: Layout, d: calc.Derived) -> None:
    r = lay.rows_work
    for key in lay.cost_years:
        c = lay.col_work(key)
        w = d.working[key]
        def at(k: str, c: int = c) -> str:
            return ref(c, r[k])

        def guarded(cells: list[str], call: str) -> str:
            return f'=IF({_blank_if_any(cells)},"",{call})'

        def put(k: str, formula: str, value: Any) -> None:
            out[(WORK, at(k))] = Computed(formula, value)

        ot = [at(f"working.overtime.{k}") for k in ("hourly_yen", "premium", "days", "staff", "hours")]
        put("calc.overtime_yen", guarded(ot, f"KOFU_OVERTIME({','.join(ot)})"), _empty(w.overtime_yen))
        put("calc.overtime_senyen", guarded([at("calc.overtime_yen")], f"KOFU_SENYEN({at('calc.overtime_yen')})"), _empty(calc.senyen(w.overtime_yen)))
        put("calc.temporary_senyen", guarded([at("working.temporary_yen")], f"KOFU_SENYEN({at('working.temporary_yen')})"), _empty(calc.senyen(w.temporary_yen)))
        pg = [at(f"working.postage.{k}") for k in ("per_month", "months", "unit_yen")]
        put("calc.postage_yen", guarded(pg, f"KOFU_POSTAGE({','.join(pg)})"), _empty(w.postage_yen))
        put("calc.postage_senyen", guarded([at("calc.postage_yen")], f"KOFU_SENYEN({at('calc.postage_yen')})"), _empty(calc.senyen(w.postage_yen)))
        p = plan.working.get(key, Working()).postage
        volume = p.per_month * p.months if p.per_month is not None and p.months is not None else None
        put("calc.postage_volume", guarded(pg[:2], f"{pg[0]}*{pg[1]}"), _empty(volume))
        fy = set(months_of_fiscal_year(int(key[2:])))
        cols = [col for col in plan.columns if set(col.months) <= fy]
        if cols:
            row = lay.rows11["at_application.counts"]
            planned = calc.sum_parts(v for col, v in zip(plan.columns, plan.series("at_application.counts"), strict=True) if col in cols)
            rng = _abs_range(S11, ref(lay.col11(cols[0].key), row), ref(lay.col11(cols[-1].key), row))
            put("calc.at_application_volume", f"=SUM({rng})", _num0(planned))
        else:
            put("calc.at_application_volume", "=0", Decimal(0))
        for item in CostYear.PURCHASES:
            count = _abs(S12, ref(lay.col12(key), lay.rows12[f"costs.{item}.count"]))
            unit = at(f"working.{item}_unit_yen")
            put(f"calc.{item}_yen", guarded([count, unit], f"KOFU_PURCHASE({count},{unit})"), _empty(w.purchases_yen[item]))


# ---------------------------------------------------------------- 日次実績, 国基準


def _sheet_daily(out: dict, lay: Layout, d: calc.Derived) -> None:
    for month, block in lay.daily_blocks.items():
        weekday, total = d.daily.get(month, ([Decimal(0)] * 7, Decimal(0)))
        for i, cell in block.total_cells():
            out[(DAILY, cell)] = Computed(block.total_formula(i), total if i == 7 else weekday[i])


def _sheet_national(out: dict, schedule: Schedule) -> None:
    for j, cp in enumerate(schedule.checkpoints):
        row = NATIONAL_TABLE_HEADER_ROW + 1 + j
        # ROUND(cards / population, 3): the bound in 0.1 % as the form prints it
        out[(NATIONAL, ref(NATIONAL_LOWER_COL, row))] = Computed(f"=ROUND({ref(4, row)}/{BASE_POPULATION_NAME},3)", schedule.lower_pct(cp) / 100)
        out[(NATIONAL, ref(NATIONAL_UPPER_COL, row))] = Computed(f"=ROUND({ref(5, row)}/{BASE_POPULATION_NAME},3)", schedule.upper_pct(cp) / 100)


# ---------------------------------------------------------------- 実績比較


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _sheet_followup(out: dict, plan: Plan, lay: Layout, d: calc.Derived, schedule: Schedule, actuals: Mapping[str, Any]) -> None:
    # (imported here: a reading of a workbook of the stored shape never builds the cells, and
    # check then loads no follow-up code: ~2 M instructions)
    from kofu_xl.core.followup import plan_by_month, required_monthly

    def put(cell: str, formula: str, value: Any) -> None:
        out[(FOLLOWUP, cell)] = Computed(formula, value)

    pop = plan.basic.population
    pop_cell = _abs(S11, lay.scalars["basic.population"].cell)
    put(FU_POPULATION_CELL, f'=IF({pop_cell}="","",{POPULATION_NAME})', _empty(pop))
    date_scalar = lay.scalars["basic.population_date"]
    date_cell = _abs(date_scalar.sheet, date_scalar.cell)
    day = plan.basic.population_date
    put(
        FU_POPULATION_DATE_CELL,
        f'=IF({date_cell}="","",IFERROR(KOFU_WAREKI({date_cell},TRUE),TEXT({date_cell},"yyyy年m月d日")))',
        wareki_date(day) if day else "",
    )
    r = lay.rows_fu
    months = lay.followup_months
    planned = plan_by_month(plan.columns, d.cumulative)
    actual = {m: (actuals[m].cumulative if m in actuals else None) for m in months}
    keys_fu = _keys_range(NATIONAL_KEY_FU_COL, schedule)
    s11_header = _abs_range(S11, ref(FIRST_DATA_COL, ROW_HEADER), ref(lay.last_col11, ROW_HEADER))
    covering = {m: col for col in plan.columns for m in col.months}
    cum_row = lay.rows11["calc.cumulative"]
    for m in months:
        c = lay.col_fu(m)

        def at(key: str, c: int = c) -> str:
            return ref(c, r[key])

        header = f"{col_letter(c)}${FU_HEADER_ROW}"
        plan_rate = calc.coverage_rate(planned.get(m), pop)
        actual_rate = calc.coverage_rate(actual[m], pop)
        if m in covering:  # blank where the plan's cumulative of the column holding the month is
            guard = _abs(S11, ref(lay.col11(covering[m].key), cum_row))
            put(at("calc.plan_cumulative"), f'=IF({guard}="","",KOFU_PLAN_CUMULATIVE({_row_name("calc.cumulative")},{s11_header},{header}))', _empty(planned.get(m)))
        put(at("calc.plan_rate"), f'=IF({at("calc.plan_cumulative")}="","",KOFU_RATE({at("calc.plan_cumulative")},{POPULATION_NAME}))', _empty(plan_rate))
        cp = schedule.checkpoint_for_key(m)
        for k, key in enumerate(("calc.lower", "calc.upper")):
            bound = None if cp is None else (schedule.lower_pct(cp), schedule.upper_pct(cp))[k] / 100
            put(at(key), _bound_lookup(header, f"$B${r[key]}", keys_fu), _empty(bound))
        a_cell = at("followup.actual_cumulative")
        put(at("calc.actual_rate"), f'=IF({a_cell}="","",KOFU_RATE({a_cell},{POPULATION_NAME}))', _empty(actual_rate))
        both = actual[m] is not None and planned.get(m) is not None
        p_cell = at("calc.plan_cumulative")
        put(at("calc.gap_cards"), f'=IF(OR({a_cell}="",{p_cell}=""),"",{a_cell}-{p_cell})', actual[m] - planned[m] if both else "")
        ar, pr = at("calc.actual_rate"), at("calc.plan_rate")
        put(at("calc.gap_rate"), f'=IF(OR({ar}="",{pr}=""),"",{ar}-{pr})', actual_rate - plan_rate if both and pop else "")
        put(
            at("calc.vs_plan"),
            f'=IF(OR({a_cell}="",{p_cell}=""),"",IF({a_cell}<{p_cell},"{VS_PLAN_BEHIND}","{VS_PLAN_OK}"))',
            (VS_PLAN_BEHIND if actual[m] < planned[m] else VS_PLAN_OK) if both else "",
        )
        status = calc.bound_status(actual_rate, schedule.lower_pct(cp), schedule.upper_pct(cp)) if cp else None
        put(at("calc.check"), _check(ar, at("calc.lower"), at("calc.upper"), header), CHECK_LABELS[status])
        nxt = next((p for p in schedule.checkpoints if p.month > m), None)
        next_lower = schedule.lower_pct(nxt) / 100 if nxt else None
        put(at("calc.next_lower"), f'=IF({at("calc.next_checkpoint")}="","",KOFU_THRESHOLD({at("calc.next_checkpoint")},$B${r["calc.lower"]}))', _empty(next_lower))
        ok = actual[m] is not None and nxt is not None and pop
        months_left = _month_index(nxt.month) - _month_index(m) if nxt else None
        required = required_monthly(actual[m], next_lower, pop, months_left) if ok else None
        # the chart's hidden rows: the figure, or #N/A where there is none (a line chart draws
        # "" as 0 %); the band only at the checkpoints (an empty cell is a gap in every reader)
        figures = {"chart.plan_rate": plan_rate, "chart.actual_rate": actual_rate}
        if cp is not None:
            figures["chart.lower"], figures["chart.upper"] = schedule.lower_pct(cp) / 100, schedule.upper_pct(cp) / 100
        for chart_key, source_key in CHART_SOURCE_ROWS.items():
            if chart_key in ("chart.lower", "chart.upper") and cp is None:
                continue
            source = at(source_key)
            value = figures.get(chart_key)
            put(at(chart_key), f"=IF(ISNUMBER({source}),{source},NA())", NA if value is None else value)
        put(
            at("calc.required_monthly"),
            f'=IF(OR({a_cell}="",{at("calc.next_lower")}=""),"",KOFU_REQUIRED_MONTHLY({a_cell},{at("calc.next_lower")},{POPULATION_NAME},{at("calc.months_left")}))',
            _empty(required),
        )


def static_followup(plan: Plan, lay: Layout, schedule: Schedule) -> dict[str, tuple[Any, Any]]:
    """実績比較's next checkpoint and months left per month (values the build writes)."""
    out = {}
    for m in lay.followup_months:
        nxt = next((p for p in schedule.checkpoints if p.month > m), None)
        out[m] = (month_label(nxt.month) if nxt else None, (_month_index(nxt.month) - _month_index(m)) if nxt else None)
    return out



def _prefill_fields(lay: Layout) -> dict[tuple[str, str], tuple[str, str]]:
    """{(sheet, cell): (model path, column or fiscal-year key)} of every input a formula may prefill."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for spec in ROWS_11:
        if spec.role == "input":
            for key in lay.columns:
                out[lay.series_cell(spec.key, key)] = (spec.key, key)
    for spec in ROWS_12:
        if spec.role == "input":
            for key in lay.cost_years:
                out[lay.cost_cell(spec.key, key)] = (spec.key, key)
    return out


def with_prefills(plan: Plan, lay: Layout, schedule: Schedule) -> Plan:
    """The plan as its new workbook shows it: every input the build prefills with a formula
    (totals, the 実績 columns, cost links) holding that formula's value."""
    fields = _prefill_fields(lay)
    for _ in range(8):  # totals of totals: a few rounds reach the fixed point
        data = plan_to_json(plan)
        changed = False
        for key, c in computed_cells(plan, lay, schedule).items():
            if not c.prefill or key not in fields:
                continue
            path, column = fields[key]
            value = None if c.value == "" else c.value
            parts = path.split(".")
            if parts[0] == "costs":
                holder: Any = data["costs"].setdefault(column, {})
                for part in parts[1:-1]:
                    holder = holder.setdefault(part, {})
                last: Any = parts[-1]
            else:
                holder = data
                for part in parts[:-1]:
                    holder = holder[part]
                series = holder[parts[-1]]
                series.extend([None] * (len(plan.columns) - len(series)))
                holder, last = series, plan.columns.index(next(col for col in plan.columns if col.key == column))
            current = holder[last] if isinstance(holder, list) else holder.get(last)
            if current is None and value is None:  # an empty formula over empty parts: nothing to fill
                continue
            if current is None or Decimal(str(current)) != value:
                holder[last] = None if value is None else str(value)
                changed = True
        if not changed:
            return plan
        plan = load_plan(data)[0]
    return plan


def write_stored_formulas() -> Path:
    """Write the stored formulas of the default shape (`kofu-xl build` in a checkout does)."""
    plan = load_plan({})[0]
    STORED_FORMULAS_PATH.write_bytes(stored_formulas_data(plan, layout_for(plan.parameters), default_schedule()))
    return STORED_FORMULAS_PATH


if __name__ == "__main__":  # python -m kofu_xl.book.computed: write the stored formulas
    print(write_stored_formulas())
