"""The check result: the `check --json` schema and the Japanese text report.

The JSON schema is stable; other tools read it (submit packages, aggregate,
follow-up). Numbers are JSON numbers: integers where exact, else the nearest
float; the coverage rate is an unrounded fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from msgspec import Struct

from kofu_xl.core.calc import Derived, derive, personnel_sum, subsidy_sum
from kofu_xl.core.calendar import fiscal_year_label
from kofu_xl.core.findings import Finding, HasFindings, Severity, sort_findings
from kofu_xl.core.model import CostYear, Plan
from kofu_xl.core.numbers import to_json_number
from kofu_xl.core.schedule import Schedule, default_schedule

__all__ = ["CheckResult", "SCHEMA_VERSION", "make_result", "render_text"]

SCHEMA_VERSION = 1


class CheckResult(Struct, HasFindings, frozen=True):
    plan: Plan
    derived: Derived
    findings: list[Finding]
    schedule: Schedule
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return result_json(self)


def make_result(plan: Plan, findings: Sequence[Finding], schedule: Schedule | None = None, source: str | None = None) -> CheckResult:
    schedule = schedule or default_schedule()
    derived = derive(plan, schedule.bounds_by_column(plan.columns))
    return CheckResult(plan, derived, list(findings), schedule, source)


def _nums(values: Sequence[Decimal | None]) -> list[int | float | None]:
    return [to_json_number(v) for v in values]


def _year_code(key: str) -> str:
    """"FY2019" -> "R1" (the 本表1-2 column 令和元年度)."""
    label = fiscal_year_label(int(key[2:]))  # "R元年度"
    return label[0] + label[1:-2].replace("元", "1")


def _costs(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in plan.cost_keys:
        y = plan.costs.get(key, CostYear())
        items = {
            "personnel_regular": y.personnel_regular,
            "personnel_temporary": y.personnel_temporary,
            "personnel_other": y.personnel_other,
            "personnel_total": y.personnel_total,
            "tablet": y.tablet.subsidized,
            "mobile_printer": y.printer.subsidized,
            "webcam": y.webcam.subsidized,
            "postage": y.postage,
            "reservation": y.reservation,
            "terminals": y.terminals,
            "other": y.other,
        }
        out[_year_code(key)] = {
            "fiscal_year": key,
            "label": fiscal_year_label(int(key[2:])),
            "unit": "千円",
            "items": {k: to_json_number(v) for k, v in items.items()},
            "total": to_json_number(y.total),
            "total_computed": to_json_number(subsidy_sum(y)),
            "personnel_total_computed": to_json_number(personnel_sum(y)),
        }
    return out


def result_json(r: CheckResult) -> dict[str, Any]:
    plan, d = r.plan, r.derived
    b = plan.basic
    bounds = d.bounds
    return {
        "schema": SCHEMA_VERSION,
        "source": r.source,
        "municipality": {
            "code": b.dantai_code,
            "prefecture": b.prefecture,
            "name": b.municipality,
            "population": to_json_number(b.population),
            "population_date": b.population_date.isoformat() if b.population_date else None,
            "base_issued": to_json_number(b.base_issued),
            "base_issued_date": b.base_issued_date.isoformat() if b.base_issued_date else None,
        },
        "columns": [c.key for c in d.columns],
        "column_labels": [c.label for c in d.columns],
        "series": {
            "issued": _nums(plan.series("issuance")),
            "cumulative": _nums(d.cumulative),
            "coverage_rate": _nums(d.coverage_rate),
            "increase": _nums(d.increase),
            "per_window": _nums(d.per_window),
            "per_staff": _nums(d.per_staff),
            "per_issuing_terminal": _nums(d.per_issuing_terminal),
            "per_presetting_terminal": _nums(d.per_presetting_terminal),
            "window_total": _nums(plan.series("windows.total")),
            "staff_total": _nums(plan.series("staff.total")),
            "terminal_total": _nums(plan.series("terminals.total")),
            "staff_needed": _nums(d.staff_needed),
            "lower_bound": [to_json_number(bounds[c.key][0] / 100) if c.key in bounds else None for c in d.columns],
            "upper_bound": [to_json_number(bounds[c.key][1] / 100) if c.key in bounds else None for c in d.columns],
        },
        "costs": _costs(plan),
        "schedule": {"id": r.schedule.id, "base_population": r.schedule.base_population},
        "counts": r.counts,
        "findings": [f.to_dict() for f in sort_findings(r.findings)],
    }


def render_text(r: CheckResult) -> str:
    """The Japanese report a clerk reads in a terminal."""
    b = r.plan.basic
    lines = [
        f"交付円滑化計画の検証: {b.prefecture or ''}{b.municipality or ''}（団体コード {b.dantai_code or '未入力'}）",
    ]
    if r.source:
        lines.append(f"対象: {r.source}")
    c = r.counts
    lines.append(f"結果: エラー {c['error']} 件、警告 {c['warning']} 件、情報 {c['info']} 件")
    for sev in Severity:
        group = [f for f in r.findings if f.severity is sev]
        if not group:
            continue
        lines.append("")
        lines.append(f"■ {sev.ja}（{len(group)} 件）")
        for f in group:
            lines.append(f"  [{f.rule}] {f.message}")
    lines.append("")
    if c["error"]:
        lines.append("エラーを直してから提出してください。")
    elif c["warning"]:
        lines.append("エラーはありません。警告の内容を確認してください。")
    else:
        lines.append("エラー・警告はありません。")
    return "\n".join(lines)
