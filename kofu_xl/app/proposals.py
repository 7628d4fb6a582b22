"""`kofu-xl propose`: the 計画案 use case over the core's :func:`kofu_xl.propose.propose`.

Reads a plan (a file, or a new plan for a 団体コード from the shipped statistics), asks the
core for a proposal, and renders it: a Japanese table for the terminal, a JSON object, or a
new workbook with the proposal in its input cells (built like ``kofu-xl build``, then checked
with the whole rule catalogue).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..book.layout import PP_BACKUP_HEADERS, PROPOSAL
from ..book.proposal_sheet import adoption_changes, backup_rows, checkpoint_sentence, choices_from, proposal_blocks
from ..book.read import read_plan_raw
from ..book.sources import load_raw, shipped_plan_raw
from ..core import calc
from ..core.model import Plan, load_plan
from ..core.numbers import parse_number, to_json_number
from ..core.propose import Choices, Proposal, apply_proposal, propose
from ..core.schedule import Schedule, default_schedule
from ..errors import NumberError, UnreadableInput
from ..ooxml.cellref import parse_ref, ref
from .municipalities import new_plan

__all__ = ["PROPOSAL_HEADERS", "load_for_proposal", "make_proposal", "number_option", "proposal_json", "proposal_rows", "render_proposal", "BookOutcome", "adopt_on", "propose_on"]

AIM_LABEL = {"lower": "下限値", "middle": "下限値と上限値の中間"}
PROPOSAL_HEADERS = ("列", "②交付枚数（計画案）", "累計", "交付率(%)", "⑤必要職員", "配置済み", "追加職員", "現在の計画②", "下限値(%)", "上限値(%)")


def _fmt(value: Decimal | int | None, places: int = 0) -> str:
    if value is None:
        return "—"
    if places:
        return f"{Decimal(value):,.{places}f}"
    v = Decimal(value)
    return f"{v:,.0f}" if v == v.to_integral_value() else f"{v:,.1f}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def proposal_rows(p: Proposal) -> list[list[Any]]:
    """One row per form column, as values (the table, the 計画案 sheet)."""
    bounds = {c.column: c for c in p.checkpoints}
    rows = []
    for i, col in enumerate(p.columns):
        cp = bounds.get(col.key)
        rows.append(
            [
                col.label,
                p.issuance[i],
                p.cumulative[i],
                calc.rate_pct(p.rate[i]),
                p.staff_needed[i],
                p.staff_on_hand[i],
                p.staff_added[i],
                p.current[i],
                cp.lower_pct if cp else None,
                cp.upper_pct if cp else None,
            ]
        )
    return rows


def cost_sentence(e: Any) -> str:
    return (
        f"{e.label}: 追加 {_fmt(e.staff_months)} 人月 × {_fmt(e.unit_yen)}円 = {_fmt(e.added_yen)}円 → "
        f"臨時・非常勤職員 {_fmt(e.temporary_yen_before)}円 → {_fmt(e.temporary_yen_after)}円、"
        f"本表1-2 {_fmt(e.senyen_before)}千円 → {_fmt(e.senyen_after)}千円（+{_fmt(e.added_senyen)}千円）"
    )


def render_proposal(plan: Plan, p: Proposal) -> str:
    b = plan.basic
    params = plan.parameters
    ch = p.choices
    lines = [
        f"計画案: {b.prefecture or ''}{b.municipality or ''}（団体コード {b.dantai_code or '未入力'}）",
        f"人口 {_fmt(b.population)} 人、基準日の交付枚数 {_fmt(b.base_issued)} 枚。目標: {AIM_LABEL[ch.aim]}。"
        f"{p.columns[p.first_changed].label if p.first_changed < len(p.columns) else '—'}から計画案。"
        f"職員: 月 {_fmt(params.capacity_cards_per_month)} 枚につき {_fmt(params.capacity_staff)} 人"
        + (f"、月の増加は {ch.max_step:,} 枚まで" if ch.max_step is not None else "")
        + (f"、職員は {_fmt(ch.max_staff)} 人まで" if ch.max_staff is not None else ""),
        "",
    ]
    rows = [[str(h) for h in PROPOSAL_HEADERS]]
    for i, r in enumerate(proposal_rows(p)):
        mark = "" if p.changed[i] else "（固定）"
        rows.append([r[0] + mark, _fmt(r[1]), _fmt(r[2]), _fmt(r[3], 1), _fmt(r[4]), _fmt(r[5]), _fmt(r[6]), _fmt(r[7]), _fmt(r[8], 1) if r[8] is not None else "", _fmt(r[9], 1) if r[9] is not None else ""])
    widths = [max(_width(row[k]) for row in rows) for k in range(len(rows[0]))]
    for n, row in enumerate(rows):
        lines.append("  ".join(_pad(cell, widths[k], right=k > 0 and n > 0) for k, cell in enumerate(row)))
    lines += ["", "国の全体スケジュール:"]
    lines += [f"  {checkpoint_sentence(c)}" for c in p.checkpoints]
    lines += ["", "本表1-2 に加わる経費（⑤の追加職員を臨時・非常勤職員として、千円未満切り上げ）:"]
    lines += [f"  {cost_sentence(e)}" for e in p.costs]
    for note in p.notes:
        lines.append(f"注: {note}")
    return "\n".join(lines)


def _n(v: Decimal | int | None) -> Any:
    return None if v is None else to_json_number(Decimal(v))


def proposal_json(plan: Plan, p: Proposal) -> dict[str, Any]:
    b = plan.basic
    return {
        "schema": 1,
        "kind": "proposal",
        "municipality": {"code": b.dantai_code, "prefecture": b.prefecture, "name": b.municipality, "population": _n(b.population), "base_issued": _n(b.base_issued)},
        "choices": {
            "aim": p.choices.aim,
            "max_step": p.choices.max_step,
            "first_month": p.choices.first_month,
            "max_staff": _n(p.choices.max_staff),
            "staff_on_hand": _n(p.choices.staff_on_hand),
            "capacity_cards_per_month": _n(plan.parameters.capacity_cards_per_month),
            "capacity_staff": _n(plan.parameters.capacity_staff),
        },
        "columns": [c.key for c in p.columns],
        "column_labels": [c.label for c in p.columns],
        "first_changed": p.columns[p.first_changed].key if p.first_changed < len(p.columns) else None,
        "series": {
            "issued": [_n(v) for v in p.issuance],
            "current": [_n(v) for v in p.current],
            "cumulative": [_n(v) for v in p.cumulative],
            "coverage_rate": [_n(v) for v in p.rate],
            "staff_needed": [_n(v) for v in p.staff_needed],
            "staff_on_hand": [_n(v) for v in p.staff_on_hand],
            "staff_added": [_n(v) for v in p.staff_added],
        },
        "checkpoints": [
            {
                "month": c.month,
                "column": c.column,
                "label": c.label,
                "lower_pct": _n(c.lower_pct),
                "upper_pct": _n(c.upper_pct),
                "target_pct": _n(c.target_pct),
                "target_cards": c.target_cards,
                "cumulative": c.cumulative,
                "rate": _n(c.rate),
                "rate_pct": _n(calc.rate_pct(c.rate)),
                "status": c.status,
                "reachable": c.reachable,
                "shortfall": c.shortfall,
            }
            for c in p.checkpoints
        ],
        "costs": [
            {
                "fiscal_year": e.key,
                "label": e.label,
                "staff_months": _n(e.staff_months),
                "unit_yen": _n(e.unit_yen),
                "added_yen": _n(e.added_yen),
                "temporary_yen_before": _n(e.temporary_yen_before),
                "temporary_yen_after": _n(e.temporary_yen_after),
                "personnel_temporary_before": _n(e.senyen_before),
                "personnel_temporary_after": _n(e.senyen_after),
                "added_senyen": _n(e.added_senyen),
                "unit": "千円",
            }
            for e in p.costs
        ],
        "peak": _n(p.peak),
        "notes": p.notes,
    }


# ---------------------------------------------------------------- use case


def number_option(text: str | None, option: str) -> Decimal | None:
    """A number typed on the command line or in a dialog (full-width digits, "1,000")."""

    if text is None:
        return None
    try:
        value = parse_number(text).value
    except NumberError as exc:
        raise UnreadableInput(None, f"{option}「{text}」は数値として読めません（{exc.reason}）") from None
    if value < 0:
        raise UnreadableInput(None, f"{option}「{text}」は 0 以上で指定してください")
    return value


def load_for_proposal(path: Path | None, dantai: str | None) -> tuple[Plan, bool]:
    """The plan to propose for: a file, a new plan for a 団体コード, else the embedded 白井市 plan.

    Returns the plan and whether it is new (a workbook for it is built blank, like `kofu-xl new`).
    """

    if dantai is not None:
        if path is not None:
            raise UnreadableInput(None, "計画ファイルと --dantai は同時に指定できません")
        try:
            return new_plan(dantai), True
        except LookupError as exc:
            raise UnreadableInput(None, str(exc)) from None
    raw = load_raw(path)[0] if path else shipped_plan_raw()
    plan, _ = load_plan(raw)
    return plan, False


def make_proposal(plan: Plan, choices: Choices, schedule: Schedule | None = None) -> Proposal:
    return propose(plan, schedule or default_schedule(), choices)


# ---------------------------------------------------------------- the live book: 「計画案」「計画案を採用」


@dataclass
class BookOutcome:
    """What a button did: the message for the clerk, the proposal, the cells it changed."""

    status: str  # "proposed" / "adopted" / "unchanged" / "cancelled"
    message: str
    proposal: Proposal | None = None
    changes: list[Any] = field(default_factory=list)


def _read(surface: Any) -> tuple[Plan, Any, Any, Choices]:
    """The plan (the one reader), its layout, the snapshot and the choices typed on 計画案."""

    src = surface.cells()
    raw, lay = read_plan_raw(src, getattr(surface, "book_name", None))
    plan, _ = load_plan(raw)
    if PROPOSAL not in src.sheet_names():
        raise UnreadableInput(None, f"シート「{PROPOSAL}」がありません。kofu-xl build で作り直したワークブックで実行してください")

    def value(cell: str) -> Any:
        row, col = parse_ref(cell)
        return src.value(PROPOSAL, row, col)

    return plan, lay, src, choices_from(value, lay)


def _write_proposal(surface: Any, lay: Any, plan: Plan, p: Proposal) -> None:

    for cell, rows in proposal_blocks(lay, plan, p, default_schedule()):
        surface.write_values(PROPOSAL, cell, rows)


def _summary(p: Proposal) -> str:
    lines = [checkpoint_sentence(c) for c in p.checkpoints]
    added = [f"{e.label} +{e.added_senyen:,}千円" for e in p.costs if e.added_senyen]
    if added:
        lines.append("本表1-2 臨時・非常勤職員: " + "、".join(added))
    return "\n".join(lines)


def propose_on(surface: Any) -> BookOutcome:
    """「計画案」: write the proposal on 計画案 (and nowhere else)."""
    plan, lay, _src, choices = _read(surface)
    p = make_proposal(plan, choices)
    _write_proposal(surface, lay, plan, p)
    head = "計画案をシート「計画案」に書きました（本表1-1 は変わっていません）。"
    tail = "\n\nこの案でよければ「計画案を採用」を押してください。" if not p.out_of_reach else "\n\n届かないチェックポイントがあります。条件（増加の上限・職員数の上限・変えてよい最初の月）を見直してください。"
    return BookOutcome("proposed", f"{head}\n\n{_summary(p)}{tail}", p)


def adopt_on(surface: Any, confirm: Any, *, now: Any = None) -> BookOutcome:
    """「計画案を採用」: after ``confirm(text)`` says yes, copy the proposal into the input cells.

    The values the cells held before go to the backup table at the foot of 計画案 (sheet, cell,
    field, column, before, after), replacing the previous backup; 計画案 shows the proposal.
    """

    plan, lay, src, choices = _read(surface)
    p = make_proposal(plan, choices)
    changes = adoption_changes(lay, plan, apply_proposal(plan, p))
    if not changes:
        _write_proposal(surface, lay, plan, p)
        return BookOutcome("unchanged", "本表1-1・本表1-2 は計画案と同じです。書き換えた欄はありません。", p)
    sheets = sorted({c.sheet for c in changes})
    question = (
        f"計画案を採用すると、{'・'.join(sheets)} の {len(changes)} 欄を書き換えます"
        "（②交付枚数・⑤職員配置数・臨時・非常勤職員の経費）。\n"
        f"元の値はシート「{PROPOSAL}」の下の「採用前の値」に残ります。\n\n{_summary(p)}\n\n採用しますか？"
    )
    if not confirm(question):
        return BookOutcome("cancelled", "計画案の採用を取りやめました。どの欄も変えていません。", p)
    # 1. the backup first: the previous one is cleared, the values before go below the header
    width = len(PP_BACKUP_HEADERS)
    header = lay.pp_backup_header_row
    used = 0
    row = header + 1
    while any(src.value(PROPOSAL, row, c) not in (None, "") for c in range(1, width + 1)):
        used += 1
        row += 1
    rows = backup_rows(changes)
    blank = max(0, used - (len(rows) - 1))
    surface.write_values(PROPOSAL, ref(1, header), rows + [[""] * width] * blank)
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    surface.write_values(PROPOSAL, lay.pp_backup_note_cell, [[f"採用前の値（{stamp} に「計画案を採用」が書き換えた {len(changes)} 欄の元の値。元に戻すときは「採用前の値」を各セルに入力してください）"]])
    # 2. the new values, one block per run of adjacent cells in a row
    for sheet, cell, values in _runs(changes):
        surface.write_values(sheet, cell, [values])
    _write_proposal(surface, lay, plan, p)
    return BookOutcome(
        "adopted",
        f"計画案を採用しました: {'・'.join(sheets)} の {len(changes)} 欄を書き換えました。元の値はシート「{PROPOSAL}」の「採用前の値」にあります。\n\n「検証」で計画全体を確認してください。",
        p,
        changes,
    )


def _runs(changes: list[Any]) -> list[tuple[str, str, list[Any]]]:
    """Changes grouped into runs of adjacent cells of one row (one write each)."""
    out: list[tuple[str, str, list[Any]]] = []
    last: tuple[str, int, int] | None = None
    for c in sorted(changes, key=lambda c: (c.sheet, *parse_ref(c.cell))):
        row, col = parse_ref(c.cell)
        value = c.row()[5]
        if last is not None and last == (c.sheet, row, col - 1):
            out[-1][2].append(value)
        else:
            out.append((c.sheet, ref(col, row), [value]))
        last = (c.sheet, row, col)
    return out
