"""The sheet 計画案: what 「計画案」 writes there, the choices it reads, what 「計画案を採用」 changes.

One module for every surface: the builder draws the sheet (labels, styles, the chart, and the
proposal for the built plan) and the live book (``kofu_xl.excel``) writes the same blocks
through :func:`proposal_blocks`. Every address comes from the layout map
(:mod:`kofu_xl.book.layout`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kofu_xl.book.layout import (
    FIRST_DATA_COL,
    PP_AIM_WORDS,
    PP_BACKUP_HEADERS,
    PP_COST_ROWS,
    PP_SETTINGS,
    PROPOSAL,
    ROWS_PP,
    Layout,
)
from kofu_xl.core import calc
from kofu_xl.core.calendar import column_label, fiscal_year_label, month_label, parse_month
from kofu_xl.core.model import Plan, iter_leaves
from kofu_xl.core.numbers import parse_number
from kofu_xl.core.propose import Choices, Proposal, propose
from kofu_xl.core.schedule import Schedule
from kofu_xl.errors import CalendarError, NumberError, ProposalError, UnreadableInput
from kofu_xl.ooxml.cellref import parse_ref, ref

__all__ = ["Change", "adoption_changes", "backup_rows", "checkpoint_sentence", "choices_from", "proposal_blocks", "proposal_cells", "settings_values"]

AIM_TEXT = {v: k for k, v in PP_AIM_WORDS.items()}


def _num(value: Decimal | int | None) -> Any:
    if value is None:
        return ""
    v = Decimal(value)
    return int(v) if v == v.to_integral_value() else float(v)


def checkpoint_sentence(c: Any) -> str:
    shown = calc.rate_pct(c.rate)
    head = f"{c.label}: 累計 {c.cumulative:,} 枚 {shown}%（目標 {c.target_pct}% = {c.target_cards:,} 枚、下限 {c.lower_pct}%・上限 {c.upper_pct}%）"
    if c.reachable:
        tail = "達成" + ("（上限値を超えます）" if c.status == "above" else "")
    elif c.fixed:
        tail = f"届きません（変えられない月の実績・計画で決まっています。{c.shortfall:,} 枚不足）"
    else:
        tail = f"届きません（最大限の計画でも {c.shortfall:,} 枚不足。最も近い計画を示しています）"
    return f"{head} … {tail}"


def settings_values(choices: Choices) -> list[list[Any]]:
    """The choice cells (E4 …) as values, in PP_SETTINGS order."""
    values = {
        "aim": AIM_TEXT[choices.aim],
        "max_step": _num(choices.max_step),
        "max_staff": _num(choices.max_staff),
        "first_month": month_label(choices.first_month, short=False) if choices.first_month else "",
        "staff_on_hand": _num(choices.staff_on_hand),
        "monthly_cost": _num(choices.monthly_temporary_yen),
    }
    return [[values[key]] for key, _label, _fmt in PP_SETTINGS]


def choices_from(value: Callable[[str], Any], lay: Layout) -> Choices:
    """The choices typed on 計画案 (``value(cell)`` reads a cell of that sheet).

    A value that cannot be read stops with a Japanese message naming 計画案!cell and the field.
    """
    labels = {key: label for key, label, _fmt in PP_SETTINGS}

    def bad(key: str, raw: Any, why: str) -> UnreadableInput:
        return UnreadableInput(None, f"{PROPOSAL}!{lay.pp_settings[key]}（{labels[key]}）の「{raw}」は{why}")

    def number(key: str, *, whole: bool = False) -> Decimal | None:
        raw = value(lay.pp_settings[key])
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            n = parse_number(raw).value
        except NumberError as exc:
            raise bad(key, raw, f"数値として読めません（{exc.reason}）") from None
        if n < 0:
            raise bad(key, raw, "負の値です。0 以上を入力してください")
        if whole and n != n.to_integral_value():
            raise bad(key, raw, "整数ではありません。整数（枚）を入力してください")
        return n

    aim_raw = value(lay.pp_settings["aim"])
    aim_text = str(aim_raw).strip() if aim_raw is not None else ""
    if aim_text and aim_text not in PP_AIM_WORDS:
        raise bad("aim", aim_raw, f"選べる値ではありません（{'／'.join(PP_AIM_WORDS)} のどちらか）")
    first_raw = value(lay.pp_settings["first_month"])
    first = None
    if first_raw is not None and str(first_raw).strip():
        try:
            first = parse_month(first_raw if not isinstance(first_raw, str) else first_raw.strip())
        except CalendarError as exc:
            raise bad("first_month", first_raw, f"年月として読めません（{exc.reason}）。「令和2年8月」のように入力してください") from None
    step = number("max_step", whole=True)
    return Choices(
        aim=PP_AIM_WORDS.get(aim_text, "lower"),  # type: ignore[arg-type]
        max_step=None if step is None else int(step),
        first_month=first,
        max_staff=number("max_staff"),
        staff_on_hand=number("staff_on_hand"),
        monthly_temporary_yen=number("monthly_cost"),
    )


def proposal_cells(plan: Plan, lay: Layout, schedule: Schedule, choices: Choices) -> dict[tuple[int, int], Any]:
    """(row, column) -> value of every cell a new workbook's 計画案 shows for ``choices`` (None
    for an empty one); nothing when no proposal can be made (no population or base count yet:
    the button tells the clerk). The builder writes these, and so does a new workbook spliced
    from the stored blank (kofu_xl.book.template)."""
    try:
        proposal = propose(plan, schedule, choices)
    except ProposalError:
        return {}
    out: dict[tuple[int, int], Any] = {}
    for top_left, rows in proposal_blocks(lay, plan, proposal, schedule):
        r0, c0 = parse_ref(top_left)
        for i, values in enumerate(rows):
            for j, value in enumerate(values):
                out[(r0 + i, c0 + j)] = None if value == "" else value
    return out


def _next_bounds(p: Proposal, schedule: Schedule) -> tuple[list[Any], list[Any]]:
    """Per column, the bounds of the checkpoint it leads to (the band the chart draws)."""
    lower, upper = [], []
    for col in p.columns:
        cp = next((c for c in schedule.checkpoints if c.month >= col.last_month), None)
        lower.append(float(schedule.lower_pct(cp) / 100) if cp else "")
        upper.append(float(schedule.upper_pct(cp) / 100) if cp else "")
    return lower, upper


def proposal_blocks(lay: Layout, plan: Plan, p: Proposal, schedule: Schedule) -> list[tuple[str, list[list[Any]]]]:
    """(top-left cell on 計画案, rows of values) for everything the proposal shows.

    The choice cells (the clerk's inputs on 計画案) are not among them."""
    lower, upper = _next_bounds(p, schedule)
    current_cum = calc.cumulative(plan.basic.base_issued, p.current)
    rows = {
        "proposal.changed": ["変更" if ch else "固定" for ch in p.changed],
        "proposal.issuance": [_num(v) for v in p.issuance],
        "proposal.cumulative": [_num(v) for v in p.cumulative],
        "proposal.rate": [float(r) if r is not None else "" for r in p.rate],
        "proposal.lower": lower,
        "proposal.upper": upper,
        "proposal.current": [_num(v) for v in p.current],
        "proposal.current_rate": [float(r) if (r := calc.coverage_rate(c, plan.basic.population)) is not None else "" for c in current_cum],
        "proposal.staff_needed": [_num(v) for v in p.staff_needed],
        "proposal.staff_on_hand": [_num(v) for v in p.staff_on_hand],
        "proposal.staff_added": [_num(v) for v in p.staff_added],
    }
    out: list[tuple[str, list[list[Any]]]] = [(ref(FIRST_DATA_COL, lay.rows_pp[ROWS_PP[0].key]), [rows[spec.key] for spec in ROWS_PP])]
    lines = [[checkpoint_sentence(c)] for c in p.checkpoints]
    lines += [[note] for note in p.notes]
    reserved = lay.pp_cost_header_row - 1 - lay.pp_checkpoint_first_row
    lines = (lines + [[""]] * reserved)[:reserved]
    out.append((f"A{lay.pp_checkpoint_first_row}", lines))
    by_year = {e.key: e for e in p.costs}
    cost_rows = [[_num(getattr(by_year[y], key)) if y in by_year else "" for y in lay.cost_years] for key, _l, _f in PP_COST_ROWS]
    out.append((ref(FIRST_DATA_COL, lay.rows_pp_cost[PP_COST_ROWS[0][0]]), cost_rows))
    return out


# ---------------------------------------------------------------- 「計画案を採用」


@dataclass(frozen=True)
class Change:
    sheet: str
    cell: str
    field: str
    column: str  # the form's column label or fiscal year ("R2年8月", "R2年度")
    before: Any
    after: Any

    def row(self) -> list[Any]:
        return [self.sheet, self.cell, self.field, self.column, _cell(self.before), _cell(self.after)]


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _num(value)
    return "" if value is None else value


def adoption_changes(lay: Layout, plan: Plan, adopted: Plan) -> list[Change]:
    """Every input cell whose value the adopted plan changes: ②, ⑤ and the 臨時・非常勤 cost."""
    out: list[Change] = []
    for leaf in iter_leaves():
        if not (leaf.path == "issuance" or leaf.path.startswith("staff.")):
            continue
        before, after = plan.series(leaf.path), adopted.series(leaf.path)
        for key, b, a in zip(lay.columns, before, after, strict=True):
            if b != a:
                sheet, cell = lay.series_cell(leaf.path, key)
                out.append(Change(sheet, cell, leaf.meta.label, column_label(key), b, a))
    for year in lay.cost_years:
        old_c, new_c = plan.costs.get(year), adopted.costs.get(year)
        old_w, new_w = plan.working.get(year), adopted.working.get(year)
        pairs = [
            ("costs.personnel_temporary", old_c and old_c.personnel_temporary, new_c and new_c.personnel_temporary),
            ("costs.personnel_total", old_c and old_c.personnel_total, new_c and new_c.personnel_total),
            ("costs.total", old_c and old_c.total, new_c and new_c.total),
            ("working.temporary_yen", old_w and old_w.temporary_yen, new_w and new_w.temporary_yen),
        ]
        for path, b, a in pairs:
            if b != a and a is not None:
                sheet, cell = lay.cost_cell(path, year)
                label = next(leaf.meta.label for leaf in iter_leaves() if leaf.path == path)
                out.append(Change(sheet, cell, label, fiscal_year_label(int(year[2:])), b, a))
    return out


def backup_rows(changes: list[Change]) -> list[list[Any]]:
    return [list(PP_BACKUP_HEADERS), *(c.row() for c in changes)]
