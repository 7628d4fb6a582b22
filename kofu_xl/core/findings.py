"""Findings: what a check says about a plan.

Modelled on frictionless' errors: each kind of finding is a :class:`RuleSpec` with a
stable slug, a fixed severity, a Japanese title and description, and a message
template. A :class:`Finding` is one occurrence, with the form's field label, the
column, both sides (expected / actual) and, once located in a workbook, sheet!cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from kofu_xl.core.calendar import column_label, wareki_date
from kofu_xl.core.numbers import to_json_number

__all__ = [
    "CATALOGUE",
    "Finding",
    "HasFindings",
    "RuleSpec",
    "Severity",
    "count_by_severity",
    "format_value",
    "register",
    "sort_findings",
]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def ja(self) -> str:
        return {"error": "エラー", "warning": "警告", "info": "情報"}[self.value]

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class RuleSpec:
    """The stable identity of one kind of finding."""

    slug: str
    severity: Severity
    title: str  # Japanese, short
    description: str  # Japanese: what it means
    fix: str  # Japanese: how to fix it
    fields: str  # Japanese: which fields it looks at
    template: str  # Japanese message with {field} {column} {expected} {actual} and rule-specific keys


CATALOGUE: dict[str, RuleSpec] = {}
"""Every kind of finding kofu-xl can report, by slug (filled by the modules that check)."""


def register(spec: RuleSpec) -> RuleSpec:
    if spec.slug in CATALOGUE and CATALOGUE[spec.slug] != spec:
        raise ValueError(f"duplicate rule slug {spec.slug}")
    CATALOGUE[spec.slug] = spec
    return spec


def format_value(value: Any) -> str:
    """A value as the message shows it: 1,234 / 23.5% / 空欄."""
    if value is None:
        return "空欄"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, dt.date):
        return wareki_date(value)
    if isinstance(value, (int, Decimal)):
        dec = Decimal(value)
        if dec == dec.to_integral_value():
            return f"{int(dec):,}"
        return f"{dec:,f}"
    return str(value)


@dataclass(frozen=True)
class Finding:
    spec: RuleSpec
    field: str  # the form's own label, e.g. "⑤職員配置数 合計"
    path: str  # model path, e.g. "staff.total"
    column: str | None = None  # column key, e.g. "2020-03"
    expected: Any = None
    actual: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    cell: str | None = None

    @property
    def rule(self) -> str:
        return self.spec.slug

    @property
    def severity(self) -> Severity:
        return self.spec.severity

    @property
    def column_label(self) -> str | None:
        if self.column is None:
            return None
        try:
            if len(self.column) == 10:  # a day of the daily calendar, "2019-08-05"
                return wareki_date(dt.date.fromisoformat(self.column))
            return column_label(self.column.split(":")[0])  # "2019-08:0": a weekday total of a month
        except ValueError:
            return self.column

    @property
    def where(self) -> str:
        """``本表1-1!F30`` when located, else the field label and column."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return ""

    @property
    def message(self) -> str:
        values = {k: format_value(v) if not isinstance(v, str) else v for k, v in self.params.items()}
        text = self.spec.template.format(
            field=self.field,
            column=self.column_label or "",
            col=f"（{self.column_label}）" if self.column_label else "",
            expected=format_value(self.expected),
            actual=format_value(self.actual),
            **values,
        )
        return f"{self.where} {text}" if self.where else text

    def located(self, sheet: str | None, cell: str | None) -> Finding:
        return replace(self, sheet=sheet, cell=cell)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "field": self.field,
            "path": self.path,
            "column": self.column,
            "column_label": self.column_label,
            "sheet": self.sheet,
            "cell": self.cell,
            "expected": _json_value(self.expected),
            "actual": _json_value(self.actual),
            "message": self.message,
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return to_json_number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Severity first, then the order in which the checks found them (stable)."""
    return sorted(findings, key=lambda f: f.severity.rank)


class HasFindings:
    """Mixin for results that carry a ``findings`` list: counts and the error flag."""

    findings: list[Finding]

    @property
    def counts(self) -> dict[str, int]:
        return count_by_severity(self.findings)

    @property
    def has_errors(self) -> bool:
        return self.counts["error"] > 0


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[f.severity.value] += 1
    return counts
