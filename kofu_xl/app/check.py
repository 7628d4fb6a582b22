"""Checking a plan file: the one reader, the one catalogue, findings located on the sheet."""

from __future__ import annotations

from pathlib import Path

from kofu_xl.app.report import CheckResult, make_result
from kofu_xl.book.sources import load_raw_plan, shipped_plan_raw
from kofu_xl.core.rules import check_plan

__all__ = ["SHIPPED_PLAN_SOURCE", "check"]

SHIPPED_PLAN_SOURCE = "同梱の計画（白井市 令和元年10月3日）"


def check(path: str | Path | None = None) -> CheckResult:
    """Check the plan in ``path`` (.xlsm/.xlsx/.json; None: the plan embedded in the package).

    Every finding of the catalogue, each with its sheet!cell when the plan came from a workbook.
    Raises :class:`kofu_xl.errors.UnreadableInput` when the file cannot be read at all.
    """
    p = Path(path) if path is not None else None
    raw, layout, loaded = load_raw_plan(p) if p is not None else (shipped_plan_raw(), None, None)
    plan, findings = check_plan(raw, loaded=loaded)
    if layout is not None:
        findings = layout.locate_findings(findings)
    return make_result(plan, findings, source=str(p) if p is not None else SHIPPED_PLAN_SOURCE)
