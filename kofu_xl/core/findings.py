"""Findings: what a check says about a plan.

Modelled on frictionless' errors: each kind of finding is a :class:`RuleSpec` with a
stable slug, a fixed severity, a Japanese title and description, and a message
template. A :class:`Finding` is one occurrence, with the form's field label, the
column, both sides (expected / actual) and, once located in a workbook, sheet!cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from kofu_xl._lazy_re import compiled_at_first_use
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
    "group_findings",
    "GroupForm",
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


class GroupForm(Struct, frozen=True):
    """How one fact reported over several cells of one row (or one run of days) reads as one
    finding: ``template`` with {field} {columns} (the columns, runs as 「A〜B」) {count} {items}
    and the ``shared`` params; ``item`` formats each cell's part ({column} {actual}
    {expected} and its params). Findings of the rule are grouped by path, field and the
    ``shared`` params."""

    template: str
    item: str | None = None
    shared: tuple[str, ...] = ()


class RuleSpec(Struct, frozen=True):
    """The stable identity of one kind of finding."""

    slug: str
    severity: Severity
    title: str  # Japanese, short
    description: str  # Japanese: what it means
    fix: str  # Japanese: how to fix it
    fields: str  # Japanese: which fields it looks at
    template: str  # Japanese message with {field} {column} {expected} {actual} and rule-specific keys
    group: GroupForm | None = None  # how several findings of one row read as one


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
        try:
            return wareki_date(value)
        except ValueError:  # CalendarError: before 昭和
            return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"  # a whole number read as a float (11.0) as typed: 11
    if isinstance(value, (int, Decimal)):
        dec = Decimal(value)
        if dec == dec.to_integral_value():
            return f"{int(dec):,}"
        return f"{dec:,f}"
    return str(value)


class Finding(Struct, frozen=True):
    """One finding of the rule catalogue: which rule (``spec``), on which field and column, what
    was expected and found, and where it lives in the workbook (``sheet``/``cell``, set by
    the layout); a grouped finding carries one part per cell."""

    spec: RuleSpec
    field: str  # the form's own label, e.g. "⑤職員配置数 合計"
    path: str  # model path, e.g. "staff.total"
    column: str | None = None  # column key, e.g. "2020-03"
    expected: Any = None
    actual: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    cell: str | None = None
    parts: tuple[Finding, ...] = ()  # a grouped finding: one part per cell (see group_findings)

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
    def cells(self) -> list[tuple[str, str]]:
        """Every (sheet, cell) the finding is about: its parts' for a grouped finding."""
        if self.parts:
            return [(p.sheet, p.cell) for p in self.parts if p.sheet and p.cell]
        return [(self.sheet, self.cell)] if self.sheet and self.cell else []

    @property
    def columns(self) -> list[str]:
        return [p.column for p in self.parts if p.column] if self.parts else ([self.column] if self.column else [])

    @property
    def where(self) -> str:
        """``本表1-1!F30`` (``本表1-1!Q52、R52`` for a group) when located, else empty."""
        out: list[str] = []
        for sheet, cell in self.cells:
            if out and out[-1][0] == sheet:
                out[-1][1].append(cell)
            else:
                out.append((sheet, [cell]))
        return "、".join(f"{sheet}!{'、'.join(_cell_runs(cells))}" for sheet, cells in out)

    @property
    def message(self) -> str:
        values = {k: format_value(v) if not isinstance(v, str) else v for k, v in self.params.items()}
        if self.parts and self.spec.group is not None:
            return self._group_message(values)
        label = self.column_label  # each is worked out anew: once here
        text = self.spec.template.format(
            field=self.field,
            column=label or "",
            col=f"（{label}）" if label else "",
            expected=format_value(self.expected),
            actual=format_value(self.actual),
            **values,
        )
        where = self.where
        return f"{where} {text}" if where else text

    def _group_message(self, values: dict[str, str]) -> str:
        form = self.spec.group
        assert form is not None
        items = []
        if form.item:
            for p in self.parts:
                pv = {k: format_value(v) if not isinstance(v, str) else v for k, v in p.params.items()}
                items.append(form.item.format(column=p.column_label or "", actual=format_value(p.actual), expected=format_value(p.expected), **pv))
        text = form.template.format(
            field=self.field, columns=column_runs([p.column for p in self.parts if p.column]), count=len(self.parts),
            items="、".join(items), **{k: values[k] for k in form.shared if k in values},
        )
        where = self.where
        return f"{where} {text}" if where else text

    def located(self, sheet: str | None, cell: str | None) -> Finding:
        return replace(self, sheet=sheet, cell=cell)

    def with_parts(self, parts: list[Finding]) -> Finding:
        """This group with its parts replaced (e.g. located); sheet/cell are the first part's."""
        first = next((p for p in parts if p.sheet and p.cell), None)
        return replace(self, parts=tuple(parts), sheet=first.sheet if first else None, cell=first.cell if first else None)

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
            "cells": [f"{sheet}!{cell}" for sheet, cell in self.cells],
            "parts": [
                {"column": p.column, "column_label": p.column_label, "sheet": p.sheet, "cell": p.cell,
                 "expected": _json_value(p.expected), "actual": _json_value(p.actual)}
                for p in self.parts
            ],
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return to_json_number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# Compiled at first use: an ASCII cell (every cell a finding names) is split by _cell_parts
_cell_re = compiled_at_first_use(r"([A-Z]{1,3})(\d+)")
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _cell_parts(cell: str) -> tuple[str, str] | None:
    """The groups of ``_cell_re().fullmatch(cell)``: (column letters, row digits), or None."""
    if isinstance(cell, str) and cell.isascii():
        digits = cell.lstrip(_UPPER)
        letters = cell[: len(cell) - len(digits)]
        # (of ASCII characters only 0-9 are digits, as \d reads them)
        return (letters, digits) if 1 <= len(letters) <= 3 and digits.isdigit() else None
    m = _cell_re().fullmatch(cell)
    return (m[1], m[2]) if m else None


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _cell_runs(cells: list[str]) -> list[str]:
    """Cells of one row side by side as one range: Q52, R52, …, Z52 → Q52:Z52."""
    runs: list[list[str]] = []
    for cell in cells:
        m = _cell_parts(cell)
        if runs and m:
            last = _cell_parts(runs[-1][-1])
            if last and last[1] == m[1] and _col_number(m[0]) == _col_number(last[0]) + 1:
                runs[-1].append(cell)
                continue
        runs.append([cell])
    return [r[0] if len(r) == 1 else f"{r[0]}:{r[-1]}" for r in runs]


def _next_key(key: str) -> set[str]:
    """Column keys that directly follow ``key`` on the form (the next month; after March the
    fiscal year that starts in April; the next fiscal year; the next day)."""
    if key.startswith("FY"):
        return {f"FY{int(key[2:]) + 1}"}
    if len(key) == 10:
        day = dt.date.fromisoformat(key) + dt.timedelta(days=1)
        return {day.isoformat()}
    y, m = int(key[:4]), int(key[5:7])
    nxt = {f"{y + m // 12}-{m % 12 + 1:02d}"}
    if m == 3:
        nxt.add(f"FY{y}")
    return nxt


def column_runs(keys: list[str]) -> str:
    """Column labels, consecutive columns as one run: 「R2年8月〜R4年度」「R元年10月、R2年8月〜R3年3月」."""
    def label(key: str) -> str:
        if len(key) == 10:
            return wareki_date(dt.date.fromisoformat(key))
        try:
            return column_label(key)
        except ValueError:
            return key

    runs: list[list[str]] = []
    for key in keys:
        if runs and key in _next_key(runs[-1][-1]):
            runs[-1].append(key)
        else:
            runs.append([key])
    return "、".join(label(r[0]) if len(r) == 1 else f"{label(r[0])}〜{label(r[-1])}" for r in runs)


def group_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fact: the findings of a rule with a :class:`GroupForm` that share path,
    field and the form's shared params become one finding listing its parts (at the place of
    the first); a rule reported once stays as it is."""
    findings = list(findings)
    keyed: dict[tuple[Any, ...], list[Finding]] = {}
    for f in findings:
        form = f.spec.group
        if form is not None and not f.parts:
            key = (f.spec.slug, f.path, f.field, tuple(str(f.params.get(k)) for k in form.shared))
            keyed.setdefault(key, []).append(f)
    out: list[Finding] = []
    done: set[tuple[Any, ...]] = set()
    for f in findings:
        form = f.spec.group
        if form is None or f.parts:
            out.append(f)
            continue
        key = (f.spec.slug, f.path, f.field, tuple(str(f.params.get(k)) for k in form.shared))
        if key in done:
            continue
        done.add(key)
        members = keyed[key]
        if len(members) == 1:
            out.append(f)
        else:
            out.append(replace(f, parts=tuple(members), expected=None, actual=None))
    return out


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
