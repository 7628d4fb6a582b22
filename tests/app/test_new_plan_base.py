"""The base of a new plan (本表1-1 「R元年8月(実績)」): the 8月末 count, or a warning that says it
is not.

The first column is the cumulative count at the end of 2019-08 and the cumulative row adds the
plan of every later month to it. A count of a later day (the 2019-09-16 statistic) would count
the first half of September twice. `new` prefills the newest statistic at or before the end of
the month (no statistic describes 2019-08-31 itself: the newest before it is 20190701.csv, the
end of 2019-06) and the check warns, naming the statistic's date, until the municipality types
its own 8月末 count.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from kofu_xl.core.calc import derive
from kofu_xl.app.municipalities import new_plan
from kofu_xl.core.rules import run_rules
from kofu_xl.app.stats import build_municipality_table, described_date, shipped_stats

REPO = Path(__file__).resolve().parents[1]
BASE_END = dt.date(2019, 8, 31)

# ten municipalities of every size, each in the statistics before and after the base date
TEN = ["122327", "011002", "131016", "271004", "401005", "152021", "133817", "134015", "473821", "324418"]


def _statistics(code: str) -> list[tuple[dt.date, int, str]]:
    """(described date, cumulative count, file) of every publication, from the shipped table."""
    return [(described_date(t.count_date), t.get(code).issued, t.name) for t in shipped_stats() if code in t]


@pytest.mark.parametrize("code", TEN)
def test_the_base_never_counts_a_day_twice(code: str) -> None:
    points = _statistics(code)
    before = [p for p in points if p[0] <= BASE_END]
    after = [p for p in points if p[0] > BASE_END]
    assert before and after  # statistics on both sides of the base date
    plan = new_plan(code)
    newest = max(before)
    # the newest statistic at or before 8月末, labelled with its date (交付件数基準日 2019-07-01)
    assert plan.basic.base_issued == newest[1] and plan.basic.base_issued_date == dt.date(2019, 7, 1)
    assert newest[2] == "20190701.csv"
    # no later statistic is below it: the base holds no day after 8月末, so the cumulative
    # row (base + September's plan + …) counts no day twice
    assert all(plan.basic.base_issued <= issued for _, issued, _ in after)
    # a plan issuing exactly what the statistics show month by month lands at or below them
    plan.issuance = [Decimal(0)] * len(plan.columns)
    cumulative = derive(plan).cumulative
    assert cumulative[0] == plan.basic.base_issued <= min(issued for _, issued, _ in after)
    # and the check says that the base is not 8月末, naming the statistic's date
    (warning,) = [f for f in run_rules(plan) if f.rule == "base-not-month-end"]
    assert warning.severity.value == "warning" and warning.path == "basic.base_issued"
    assert "令和元年7月1日時点" in warning.message and "R元年8月末" in warning.message
    assert "令和元年7月1日から令和元年8月31日までの交付が累計に入りません" in warning.message


def test_shiroi_base_is_consistent_with_its_own_8月末_count(seed_ref: dict) -> None:
    """白井市 typed 9,470 at the end of 2019-08; the prefilled base (9,262 at the end of 2019-06)
    is at or below it, never above (9,522 of 2019-09-16 was)."""
    typed = Decimal(seed_ref["本表1-1"]["交付枚数_累計"][0])
    plan = new_plan("122327")
    assert plan.basic.base_issued == 9262 <= typed == 9470


def test_an_exact_month_end_statistic_is_used_without_a_warning(tmp_path: Path) -> None:
    """Where a publication describes 8月末 (a 20190901.csv), it is the base and nothing is said;
    the mid-month 20190916.csv after it is not used."""
    from tests.conftest import reference_stats_dir

    folder = tmp_path / "stats"
    folder.mkdir()
    for name in ("20190701.csv", "20190916.csv"):
        (folder / name).write_bytes((reference_stats_dir() / name).read_bytes())
    text = (reference_stats_dir() / "20190916.csv").read_text(encoding="utf-8-sig")
    text = text.replace('"2019/09/16"', '"2019/09/01"').replace(",9522,14.9,", ",9470,14.9,")
    (folder / "20190901.csv").write_text(text, encoding="utf-8")
    rows = {r["団体コード"]: r for r in build_municipality_table(folder)}
    shiroi = rows["122327"]
    assert (shiroi["交付枚数"], shiroi["交付枚数基準日"]) == (9470, dt.date(2019, 9, 1))
    plan = new_plan("122327")
    plan.basic.base_issued, plan.basic.base_issued_date = Decimal(9470), dt.date(2019, 9, 1)
    assert [f for f in run_rules(plan) if f.rule == "base-not-month-end"] == []
    plan.basic.base_issued_date = dt.date(2019, 8, 31)
    assert [f for f in run_rules(plan) if f.rule == "base-not-month-end"] == []


def test_a_later_count_is_said_to_count_days_twice() -> None:
    """A plan made by an older version (base as of 2019-09-16) gets the warning too."""
    plan = new_plan("122327")
    plan.basic.base_issued, plan.basic.base_issued_date = Decimal(9522), dt.date(2019, 9, 16)
    (warning,) = [f for f in run_rules(plan) if f.rule == "base-not-month-end"]
    assert "令和元年9月1日から令和元年9月16日までの交付が翌月の計画と二重に数えられます" in warning.message


def test_new_prints_the_warning_and_the_workbook_carries_it(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO)}
    import os

    env = {**os.environ, **env}
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "new", "--dantai", "122327", "--out", "n.xlsm"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "本表1-1!" in r.stdout and "9,262 枚は令和元年7月1日時点（R元年6月末の累計）" in r.stdout
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "check", "n.xlsm", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
    import json

    data = json.loads(r.stdout)
    (f,) = [f for f in data["findings"] if f["rule"] == "base-not-month-end"]
    assert f["sheet"] == "本表1-1" and f["expected"] == "2019-08-31" and f["actual"] == 9262
    assert data["municipality"]["base_issued_date"] == "2019-07-01"
