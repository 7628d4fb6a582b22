"""`kofu-xl propose`: the 計画案 use case over the core's :func:`kofu_xl.propose.propose`.

Reads a plan (a file, or a new plan for a 団体コード from the shipped statistics), asks the
core for a proposal, and renders it: a Japanese table for the terminal, a JSON object, or a
new workbook with the proposal in its input cells (built like ``kofu-xl build``, then checked
with the whole rule catalogue).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core import calc
from ..core.model import Plan, load_plan
from ..core.numbers import to_json_number
from ..core.propose import Choices, Proposal, apply_proposal, propose
from ..core.schedule import Schedule, default_schedule

__all__ = ["PROPOSAL_HEADERS", "check_file", "load_for_proposal", "make_proposal", "number_option", "proposal_json", "proposal_rows", "proposal_workbook", "render_proposal"]

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


def checkpoint_sentence(c: Any) -> str:
    shown = calc.rate_pct(c.rate)
    head = f"{c.label}: 累計 {c.cumulative:,} 枚 {shown}%（目標 {c.target_pct}% = {c.target_cards:,} 枚、下限 {c.lower_pct}%・上限 {c.upper_pct}%）"
    if c.reachable:
        tail = "達成" + ("（上限値を超えます）" if c.status == "above" else "")
    elif c.fixed:
        tail = f"届きません（変更できない月の実績・計画で決まっています。{c.shortfall:,} 枚不足）"
    else:
        tail = f"届きません（最大限の計画でも {c.shortfall:,} 枚不足。最も近い計画を示しています）"
    return f"{head} … {tail}"


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
    from ..core.numbers import parse_number
    from ..errors import NumberError, UnreadableInput

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
    from ..book.sources import load_raw, shipped_plan_raw
    from ..errors import UnreadableInput

    if dantai is not None:
        if path is not None:
            raise UnreadableInput(None, "計画ファイルと --dantai は同時に指定できません")
        from .municipalities import new_plan

        try:
            return new_plan(dantai), True
        except LookupError as exc:
            raise UnreadableInput(None, str(exc)) from None
    raw = load_raw(path)[0] if path else shipped_plan_raw()
    plan, _ = load_plan(raw)
    return plan, False


def make_proposal(plan: Plan, choices: Choices, schedule: Schedule | None = None) -> Proposal:
    return propose(plan, schedule or default_schedule(), choices)


def proposal_workbook(plan: Plan, p: Proposal, *, blank: bool) -> bytes:
    """A new workbook (.xlsm bytes) of the plan with the proposal in its input cells."""
    from ..book.build import build_xlsm

    return build_xlsm(apply_proposal(plan, p), blank=blank)


def check_file(path: Path) -> Any:
    """`kofu-xl check` of a written file (the one reader, the whole catalogue)."""
    from ..book.sources import load_raw
    from ..core.rules import check_plan
    from .report import make_result

    raw, layout = load_raw(path)
    checked, findings = check_plan(raw)
    if layout is not None:
        findings = layout.locate_findings(findings)
    return make_result(checked, findings, source=str(path))
