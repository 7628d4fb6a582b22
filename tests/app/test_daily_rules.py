"""The 日次実績 checks are rules of the one catalogue: every entrance reports the same findings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.app.check import check
from kofu_xl.app.followup import run_followup
from kofu_xl.app.submit import validate
from kofu_xl.book.layout import DAILY, FOLLOWUP, layout_for
from kofu_xl.book.surfaces import FileSurface
from kofu_xl.core.findings import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped workbook with 7 typed into 日次実績!B7 (the Monday before 2019-01-01, a
    locked position of the January calendar) and 日次実績!B18 (January's Monday total)
    overwritten by a constant — what a script or an unprotected book can hold."""
    path = tmp_path_factory.mktemp("daily") / "計画.xlsm"
    shutil.copy(SHIPPED, path)
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb[DAILY]["B7"] = 7
    wb[DAILY]["B18"] = 123
    _sheet, cell = layout_for(None).fu_cell("followup.actual_cumulative", "2020-07")
    wb[FOLLOWUP][cell] = 13039  # an actual typed on 実績比較, so that followup has something to compare
    wb.save(path)
    return path


def _daily(findings) -> set[tuple[str, str | None, str | None]]:
    return {(f.rule, f.sheet, f.cell) for f in findings if f.rule.startswith("daily-")}


def test_the_daily_rules_are_in_the_catalogue() -> None:
    assert {"daily-outside-month", "daily-closed-day", "daily-total-overwritten"} <= set(CATALOGUE)


def test_check_reports_a_count_outside_its_month(planted: Path) -> None:
    result = check(planted)
    outside = [f for f in result.findings if f.rule == "daily-outside-month"]
    assert [(f.sheet, f.cell, f.severity.value) for f in outside] == [(DAILY, "B7", "error")]
    assert "平成30年12月31日" in outside[0].message
    overwritten = [(f.sheet, f.cell) for f in result.findings if f.rule == "daily-total-overwritten"]
    assert overwritten == [(DAILY, "B18")]


def test_the_shipped_workbook_has_no_such_finding() -> None:
    rules = {f.rule for f in check(SHIPPED).findings}
    assert "daily-outside-month" not in rules and "daily-total-overwritten" not in rules


def test_check_command_exits_1_naming_the_cell(planted: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "check", str(planted)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1
    assert "[daily-outside-month] 日次実績!B7" in r.stdout


def test_every_entrance_gives_the_same_daily_findings(planted: Path, tmp_path: Path) -> None:
    from_check = _daily(check(planted).findings)
    copy = tmp_path / "copy.xlsm"
    shutil.copy(planted, copy)
    from_validate = _daily(validate(FileSurface(copy)).result.findings)
    from_followup = _daily(run_followup(planted).findings)
    assert from_check == from_validate == from_followup
    assert ("daily-outside-month", DAILY, "B7") in from_check
