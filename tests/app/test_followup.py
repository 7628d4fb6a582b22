"""Plan against actual (kofu-xl followup, 「実績取込」, 実績比較): the real statistics.

Every expected figure here is computed in the test itself from the statistics CSVs, read
with the csv module (not kofu_xl.stats), and from the plans' own numbers; the month a file
describes is written out by hand (a file dated on the 1st describes the end of the month
before: 20200801.csv → end of 2020-07).
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from kofu_xl.app import followup
from kofu_xl.app.municipalities import new_plan
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.cli import main
from kofu_xl.core import calc
from kofu_xl.core.calc import derive
from kofu_xl.core.model import Plan, load_plan, plan_to_json

REPO = Path(__file__).resolve().parents[2]
SHIROI, SAPPORO, AWASHIMAURA, AOGASHIMA = "122327", "011002", "155861", "134023"

# file -> the month-end it describes (by hand)
MONTH_OF = {
    "20200301.csv": "2020-02",
    "20200601.csv": "2020-05",
    "20200801.csv": "2020-07",
    "20210201.csv": "2021-01",
    "20210401.csv": "2021-03",
    "20220301.csv": "2022-02",
    "20220501.csv": "2022-04",
    "20221231.csv": "2022-12",
}


# ---------------------------------------------------------------- independent helpers


def row(stats_dir: Path, name: str, code: str) -> dict[str, Any]:
    """One municipality's row of one statistics file, read with the csv module."""
    with open(stats_dir / name, encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["団体コード"].strip().zfill(6) == code:
                return {
                    "issued": int(r["交付枚数"]),
                    "population": int(r["総数（人口）"]),
                    "rate_pct": Decimal(r["人口に対する交付枚数率"]),
                    "population_date": r["人口算出基準日"],
                }
    raise AssertionError(f"{code} not in {name}")


def shown(count: int | Decimal, population: int | Decimal) -> Decimal:
    """A rate as the form shows it: percent, one decimal, half up."""
    return (Decimal(count) * 100 / Decimal(population)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def lower_cards(per_mille: int, population: int) -> int:
    """⌈bound × population⌉ for a bound in 0.1 % (235 = 23.5 %), in integers."""
    return ceil_div(per_mille * population, 1000)


@pytest.fixture(scope="module")
def actuals_of(stats_dir: Path):
    tables = followup.read_stats_paths([stats_dir])

    def of(code: str, without: tuple[str, ...] = ()) -> dict[str, followup.Actual]:
        """The municipality's month-ends; ``without``: publications left out (20220401.csv,
        the only figure for the end of FY2021, to follow up as before it was published)."""
        return followup.stats_actuals([t for t in tables if t.name not in without], code)[0]

    return of


@pytest.fixture(scope="module")
def seed() -> Plan:
    return load_plan(shipped_plan_raw())[0]


def verdict(fu: followup.FollowUp, month: str) -> followup.Verdict:
    (v,) = [v for v in fu.verdicts if v.checkpoint.month == month]
    return v


def plan_with(code: str, monthly: int, yearly: int) -> Plan:
    """A plan for any municipality: 基礎情報 from the statistics, an even issuance."""
    plan = new_plan(code)
    n_months = sum(1 for c in plan.columns if c.is_month)
    plan.issuance = [Decimal(0)] + [Decimal(monthly)] * (n_months - 1) + [Decimal(yearly)] * (len(plan.columns) - n_months)
    return plan


# ---------------------------------------------------------------- 白井市: the seed plan against what happened


def test_shiroi_plan_projections_and_what_happened(seed: Plan, stats_dir: Path, actuals_of) -> None:
    d = derive(seed)
    keys = seed.column_keys
    cum = dict(zip(keys, d.cumulative, strict=True))
    assert cum["2020-07"] == 15031 and shown(15031, 63723) == Decimal("23.6")
    assert cum["2021-03"] == 31831 and shown(31831, 63723) == Decimal("50.0")
    july, march = row(stats_dir, "20200801.csv", SHIROI), row(stats_dir, "20210401.csv", SHIROI)
    assert july["issued"] == 13039 and march["issued"] == 20768  # the statistics as we read them

    fu = followup.follow_up(seed, actuals_of(SHIROI))
    assert fu.population == 63723 and fu.as_of == "2022-12"
    for month, file, planned in (("2020-07", "20200801.csv", 15031), ("2021-03", "20210401.csv", 31831)):
        happened = row(stats_dir, file, SHIROI)["issued"]
        r = fu.by_month[month]
        assert (r.plan_cumulative, r.actual_cumulative) == (planned, happened)
        assert r.actual.source == file
        assert r.gap_cards == happened - planned
        # points of the plan's population (exact to the 28 digits of the test's own division)
        assert abs(r.gap_rate - Decimal(happened - planned) / 63723) < Decimal("1e-26")
        assert abs(r.actual_rate - Decimal(happened) / 63723) < Decimal("1e-26")
    assert shown(-1992, 63723) == Decimal("-3.1") and shown(-11063, 63723) == Decimal("-17.4")
    assert fu.by_month["2020-07"].gap_cards == -1992 and fu.by_month["2021-03"].gap_cards == -11063


def test_shiroi_checkpoint_verdicts(seed: Plan, stats_dir: Path, actuals_of) -> None:
    # 20220401.csv (the end of 2022-03) settles R3年度末 directly: 30,023 = 47.1 % < 70.6 %
    v = verdict(followup.follow_up(seed, actuals_of(SHIROI)), "2022-03")
    assert row(stats_dir, "20220401.csv", SHIROI)["issued"] == 30023
    assert (v.basis, v.met, v.status, v.actual.cumulative, v.actual.source) == ("actual", False, "below", 30023, "20220401.csv")
    fu = followup.follow_up(seed, actuals_of(SHIROI, without=("20220401.csv",)))
    pop = 63723
    for month, file, lower in (("2020-07", "20200801.csv", 235), ("2021-03", "20210401.csv", 471)):
        happened = row(stats_dir, file, SHIROI)["issued"]
        v = verdict(fu, month)
        assert (v.basis, v.actual.cumulative, v.lower_pct) == ("actual", happened, Decimal(lower) / 10)
        assert shown(happened, pop) < Decimal(lower) / 10
        assert (v.status, v.met) == ("below", False)
        assert v.lower_cards == lower_cards(lower, pop)
    # 2022-03 (R3年度末) without 20220401.csv: no file describes it (20220301.csv is the end of
    # 2022-02, the next one 20220501.csv the end of 2022-04); the later figure is still below
    # 70.6 %: missed.
    before, after = row(stats_dir, "20220301.csv", SHIROI), row(stats_dir, "20220501.csv", SHIROI)
    assert shown(after["issued"], pop) < Decimal("70.6")
    v = verdict(fu, "2022-03")
    assert (v.basis, v.met, v.status, v.actual) == ("inferred", False, "below", None)
    assert [(a.month, a.cumulative) for a in v.evidence] == [("2022-02", before["issued"]), ("2022-04", after["issued"])]
    assert v.column == "FY2021" and v.plan_cumulative == 46831

    below = sorted((f.column, f.severity.value) for f in fu.findings if f.rule == "actual-below-lower-bound")
    assert below == [("2020-07", "error"), ("2021-03", "error"), ("2022-03", "error")]
    first = next(f for f in fu.findings if f.rule == "actual-below-lower-bound" and f.column == "2020-07")
    assert first.expected == Decimal("23.5") and first.actual == shown(13039, pop)
    assert f"{lower_cards(235, pop) - 13039:,} 枚" in first.message  # 1,936 cards short
    (behind,) = [f for f in fu.findings if f.rule == "actual-behind-plan"]
    last = row(stats_dir, "20221231.csv", SHIROI)["issued"]
    assert behind.column == "2022-12" and behind.actual == last and behind.severity.value == "warning"
    # the plan at the end of 2022-12: R4年度 15,000 spread evenly, 9 months in
    assert behind.expected == 46831 + 15000 * 9 // 12
    assert fu.required is not None and fu.required.checkpoint is None  # every checkpoint has passed


def test_shiroi_required_monthly_as_of_may_2020(seed: Plan, stats_dir: Path, actuals_of) -> None:
    """Following up at the end of 2020-05: 2 months to the 2020-07 checkpoint."""
    fu = followup.follow_up(seed, actuals_of(SHIROI), as_of="2020-05")
    current = row(stats_dir, "20200601.csv", SHIROI)["issued"]
    assert current == 11523
    req = fu.required
    assert (req.from_month, req.current, req.checkpoint.month, req.months_left) == ("2020-05", current, "2020-07", 2)
    target = lower_cards(235, 63723)
    assert target == 14975 and req.target_cards == target
    assert req.monthly == ceil_div(target - current, 2) == 1726
    feb = row(stats_dir, "20200301.csv", SHIROI)["issued"]
    assert req.recent_months == 3 and abs(req.recent_monthly - Decimal(current - feb) / 3) < Decimal("1e-25")
    assert req.plan_monthly == Decimal(15031 - 13581) / 2
    assert req.staff_needed == ceil_div(1726 * 6, 1000)  # the meeting's 1,000 cards / 6 staff
    assert [v.basis for v in fu.verdicts] == ["pending", "pending", "pending"]
    assert not [f for f in fu.findings if f.rule == "actual-below-lower-bound"]
    (behind,) = [f for f in fu.findings if f.rule == "actual-behind-plan"]
    assert behind.column == "2020-05" and "月 1,726 枚" in behind.message
    assert max(fu.actuals) == "2020-05"  # nothing after as_of is used


def test_rates_use_the_plans_population_not_the_published_base(seed: Plan, stats_dir: Path, actuals_of) -> None:
    """From 2020-09 the statistics divide by the 2020-01-01 population: 白井市 2021-03 is
    32.8 % as published but 32.6 % of the plan's 63,723; verdicts use the latter."""
    published = row(stats_dir, "20210401.csv", SHIROI)
    assert published["population"] == 63324 and published["population_date"] == "2020/01/01"
    assert published["rate_pct"] == shown(published["issued"], published["population"]) == Decimal("32.8")
    fu = followup.follow_up(seed, actuals_of(SHIROI))
    v = verdict(fu, "2021-03")
    assert v.actual.official_rate_pct == Decimal("32.8") and v.actual.official_population == 63324
    assert calc.rate_pct(v.actual_rate) == shown(20768, 63723) == Decimal("32.6")
    base = followup.followup_json(fu)["followup"]["population_base"]
    assert (base["basis"], base["population"], base["date"]) == ("plan", 63723, "2019-01-01")
    assert "63,723" in base["description"]


def test_months_behind_plan(seed: Plan, actuals_of) -> None:
    plan = {"2020-01": Decimal(0), "2020-02": Decimal(100), "2020-03": Decimal(200), "2020-04": Decimal(300)}
    assert followup.months_behind(plan, "2020-04", Decimal(150)) == Decimal("1.5")  # 200 was planned at 2020-03, 150 half-way
    assert followup.months_behind(plan, "2020-04", Decimal(300)) == 0
    assert followup.months_behind(plan, "2020-04", Decimal(400)) == 0  # ahead of plan
    assert followup.months_behind(plan, "2020-02", Decimal(-5)) is None  # below where the plan started
    fu = followup.follow_up(seed, actuals_of(SHIROI))
    # 20,768 at 2021-03: the plan passed it in 2020-11 (19,081 → 21,031), 4 months + 263/1,950 earlier
    assert fu.by_month["2021-03"].months_behind == 4 + Decimal(21031 - 20768) / Decimal(21031 - 19081)


def test_plan_by_month_spreads_a_fiscal_year_evenly(seed: Plan) -> None:
    by = followup.plan_by_month(seed.columns, derive(seed).cumulative)
    assert list(by)[0] == "2019-08" and list(by)[-1] == "2023-03" and len(by) == 44
    assert by["2021-03"] == 31831 and by["2021-04"] == 31831 + 1250 and by["2022-03"] == 46831
    assert by["2022-12"] == 46831 + 15000 * 9 // 12 and by["2023-03"] == 61831


# ---------------------------------------------------------------- municipalities of other sizes


def test_sapporo_a_city_of_two_million(stats_dir: Path, actuals_of) -> None:
    plan = plan_with(SAPPORO, 30000, 360000)
    pop = 1955457
    base = row(stats_dir, "20190701.csv", SAPPORO)["issued"]  # new_plan's 交付枚数 (as of 2019-07-01: the end of 2019-06)
    assert plan.basic.population == pop and plan.basic.base_issued == base
    fu = followup.follow_up(plan, actuals_of(SAPPORO, without=("20220401.csv",)))
    july = row(stats_dir, "20200801.csv", SAPPORO)["issued"]
    march = row(stats_dir, "20210401.csv", SAPPORO)["issued"]
    planned_july, planned_march = base + 11 * 30000, base + 19 * 30000
    for month, happened, planned, lower in (("2020-07", july, planned_july, 235), ("2021-03", march, planned_march, 471)):
        v = verdict(fu, month)
        assert (v.actual.cumulative, v.plan_cumulative, v.gap_cards) == (happened, planned, happened - planned)
        assert v.status == ("below" if shown(happened, pop) < Decimal(lower) / 10 else "ok")
        assert v.met is False
    after = row(stats_dir, "20220501.csv", SAPPORO)["issued"]
    v = verdict(fu, "2022-03")
    assert shown(after, pop) < Decimal("70.6") and (v.basis, v.met) == ("inferred", False)
    # the plan inside R3年度: 360,000 spread evenly
    assert fu.by_month["2021-09"].plan_cumulative == planned_march + 360000 * 6 // 12
    data = followup.followup_json(fu)
    cols = data["columns"]
    s = data["series"]
    assert s["actual_cumulative"][cols.index("2020-07")] == july
    assert s["actual_cumulative"][cols.index("FY2021")] is None  # no statistics for the end of 2022-03
    assert s["actual_rate"][cols.index("2021-03")] == pytest.approx(march / pop, rel=1e-15)


def test_awashimaura_a_village_above_the_band(stats_dir: Path, actuals_of) -> None:
    """粟島浦村 (351 people): above the upper bound at the first two checkpoints; at 2022-03 the
    figures around it (77.5 % and 82.6 % of 351) prove the lower bound met but not the upper."""
    plan = plan_with(AWASHIMAURA, 1, 12)
    pop = 351
    assert plan.basic.population == pop
    fu = followup.follow_up(plan, actuals_of(AWASHIMAURA, without=("20220401.csv",)))
    for month, file in (("2020-07", "20200801.csv"), ("2021-03", "20210401.csv")):
        happened = row(stats_dir, file, AWASHIMAURA)["issued"]
        v = verdict(fu, month)
        assert shown(happened, pop) > v.upper_pct and (v.status, v.met, v.basis) == ("above", True, "actual")
    before, after = row(stats_dir, "20220301.csv", AWASHIMAURA), row(stats_dir, "20220501.csv", AWASHIMAURA)
    assert Decimal("70.6") <= shown(before["issued"], pop) <= Decimal("78.5") < shown(after["issued"], pop)
    # published on its own base (344 people) 2022-02 is already 79.1 %: above; on the plan's base it is not
    assert before["rate_pct"] == Decimal("79.1") and before["population"] == 344
    v = verdict(fu, "2022-03")
    assert (v.basis, v.met, v.status) == ("inferred", True, None)
    assert [f for f in fu.findings if f.severity.value in ("error", "warning")] == []
    # the 2022-04-01 publication settles it: inside the band
    march = row(stats_dir, "20220401.csv", AWASHIMAURA)["issued"]
    v = verdict(followup.follow_up(plan, actuals_of(AWASHIMAURA)), "2022-03")
    assert (v.basis, v.met, v.actual.cumulative) == ("actual", True, march)
    assert v.status == ("ok" if shown(march, pop) <= Decimal("78.5") else "above")


def test_aogashima_the_smallest_village(stats_dir: Path, actuals_of) -> None:
    """青ヶ島村 (159 people), following up at the end of 2021-01: 2 months to 47.1 %."""
    plan = plan_with(AOGASHIMA, 2, 24)
    pop = 159
    fu = followup.follow_up(plan, actuals_of(AOGASHIMA), as_of="2021-01")
    current = row(stats_dir, "20210201.csv", AOGASHIMA)["issued"]
    july = row(stats_dir, "20200801.csv", AOGASHIMA)["issued"]
    v = verdict(fu, "2020-07")
    assert (v.actual.cumulative, v.status) == (july, "below" if shown(july, pop) < Decimal("23.5") else "ok")
    assert verdict(fu, "2021-03").basis == "pending"
    req = fu.required
    assert (req.current, req.checkpoint.month, req.months_left) == (current, "2021-03", 2)
    assert req.target_cards == lower_cards(471, pop) == 75
    assert req.monthly == ceil_div(75 - current, 2)


# ---------------------------------------------------------------- the pieces


def test_required_monthly_and_its_worksheet_function() -> None:
    import kofu_udfs

    assert followup.required_monthly(Decimal(11523), Decimal("0.235"), Decimal(63723), 2) == 1726
    assert followup.required_monthly(Decimal(15000), Decimal("0.235"), Decimal(63723), 2) == 0  # reached
    assert followup.required_monthly(Decimal(14974), Decimal("0.235"), Decimal(63723), 3) == 1  # one card short
    with pytest.raises(ValueError):
        followup.required_monthly(Decimal(1), Decimal("0.5"), Decimal(10), 0)
    f = kofu_udfs.KOFU_REQUIRED_MONTHLY
    assert f(11523.0, 0.235, 63723.0, 2.0) == 1726.0
    assert f(11523.0, "23.5%", "63,723", 2.0) == 1726.0  # as clerks type
    assert f([[11523.0, 12245.0, None]], [[0.235, 0.235, 0.235]], 63723.0, [[2.0, 1.0, 1.0]]) == [[1726.0, 2730.0, ""]]
    from kofu_udfs._excel import explain

    for args, why in (((11523.0, 0.235, 63723.0, 0.0), "#残り月数が0以下"), ((11523.0, 0.235, 63723.0, 1.5), "#残り月数が整数でない"),
                      ((11523.0, 0.235, "", 2.0), "#人口が未入力")):
        assert f(*args) == "#VALUE!" and explain(f, *args) == why  # an Excel error in the cell, the reason kept
    assert f("", 0.235, 63723.0, 2.0) == ""


def test_plan_cumulative_worksheet_function(seed: Plan) -> None:
    import kofu_udfs

    d = derive(seed)
    cum = [[float(v) for v in d.cumulative]]
    heads = [[c.label for c in seed.columns]]
    got = kofu_udfs.KOFU_PLAN_CUMULATIVE(cum, heads, [["R元年8月", "R2年7月", "R3年4月", "R4年3月", "R5年3月", "R5年4月", "R元年7月"]])
    assert got == [[9470.0, 15031.0, 33081.0, 46831.0, 61831.0, "", ""]]
    assert kofu_udfs.KOFU_PLAN_CUMULATIVE(cum, [heads[0][:-1]], "R2年7月") == "#VALUE!"
    assert kofu_udfs.KOFU_WHY("KOFU_PLAN_CUMULATIVE", cum, [heads[0][:-1]], "R2年7月") == "範囲の大きさが不一致"
    # an unusable column: its month and every later one is an error, earlier ones keep the plan
    broken = [[*cum[0][:3], "未定", *cum[0][4:]]]
    got = kofu_udfs.KOFU_PLAN_CUMULATIVE(broken, heads, [["R元年10月", "R元年11月", "R2年7月"]])
    assert got == [[cum[0][2], "#VALUE!", "#VALUE!"]]


def test_a_checkpoint_without_figures_is_undecided_and_said_so(seed: Plan) -> None:
    a = followup.Actual
    actuals = {"2020-06": a("2020-06", Decimal(12000), "x.csv"), "2020-08": a("2020-08", Decimal(15500), "y.csv")}
    fu = followup.follow_up(seed, actuals)
    v = verdict(fu, "2020-07")
    # 12,000 (18.8 %) before and 15,500 (24.3 %) after: the end of July may be either side of 23.5 %
    assert (v.basis, v.met, v.status) == ("no_data", None, None)
    (info,) = [f for f in fu.findings if f.rule == "actual-checkpoint-unknown"]
    assert info.column == "2020-07" and info.severity.value == "info" and "15,500" in info.message
    # one figure after it that is still below the bound settles it
    actuals["2020-08"] = a("2020-08", Decimal(14000), "y.csv")
    assert verdict(followup.follow_up(seed, actuals), "2020-07").met is False
    # a figure before it already at the bound (15,000 = 23.5 %) settles it the other way; with
    # 21,000 (33.0 %, above 31.4 %) after it, whether it was above the band stays open
    actuals["2020-06"] = a("2020-06", Decimal(15000), "x.csv")
    actuals["2020-08"] = a("2020-08", Decimal(21000), "y.csv")
    v = verdict(followup.follow_up(seed, actuals), "2020-07")
    assert (v.met, v.status, v.basis) == (True, None, "inferred")
    actuals["2020-08"] = a("2020-08", Decimal(15400), "y.csv")  # 24.2 %: inside the band on both sides
    v = verdict(followup.follow_up(seed, actuals), "2020-07")
    assert (v.met, v.status, v.basis) == (True, "ok", "inferred")


# ---------------------------------------------------------------- the command line


def test_followup_json_extends_the_check_schema(stats_dir: Path, capsys) -> None:
    book = REPO / "workbook" / "交付円滑化計画.xlsm"
    code = main(["followup", str(book), "--stats", str(stats_dir), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # checkpoints missed
    assert data["schema"] == 1 and data["municipality"]["code"] == SHIROI
    cols = data["columns"]
    s = data["series"]
    assert len(s["actual_cumulative"]) == len(s["cumulative"]) == len(cols) == 22
    assert s["cumulative"][cols.index("2020-07")] == 15031 and s["actual_cumulative"][cols.index("2020-07")] == 13039
    assert s["actual_cumulative"][cols.index("2021-03")] == 20768
    assert s["actual_rate"][cols.index("2021-03")] == pytest.approx(20768 / 63723, rel=1e-15)
    assert s["actual_cumulative"][0] is None  # no statistics describe the end of 2019-08
    f = data["followup"]
    assert f["population_base"]["population"] == 63723 and f["as_of"] == "2022-12"
    assert [(v["checkpoint"], v["status"], v["met"], v["basis"]) for v in f["verdicts"]] == [
        ("2020-07", "below", False, "actual"), ("2021-03", "below", False, "actual"), ("2022-03", "below", False, "actual"),
    ]
    july = f["verdicts"][0]
    assert (july["actual_cumulative"], july["plan_cumulative"], july["gap_cards"], july["lower_cards"]) == (13039, 15031, -1992, 14975)
    assert july["actual"]["source"] == "20200801.csv" and july["actual"]["official_population"] == 63723
    assert f["required_monthly"]["from"] == "2022-12" and f["required_monthly"]["checkpoint"] is None
    months = {m["month"]: m for m in f["months"]}
    assert len(months) == 44 and months["2020-07"]["gap_cards"] == -1992
    rules = {x["rule"] for x in data["findings"]}
    assert {"actual-below-lower-bound", "actual-behind-plan", "daily-closed-day"} <= rules
    located = [x for x in data["findings"] if x["rule"] == "actual-below-lower-bound" and x["column"] == "2020-07"]
    assert located[0]["sheet"] == "実績比較" and located[0]["cell"]
    assert data["counts"]["error"] == 3


def test_followup_text_states_the_base_and_the_figures(stats_dir: Path, capsys) -> None:
    code = main(["followup", "--stats", str(stats_dir / "20200601.csv"), str(stats_dir / "20200801.csv"), "--as-of", "R2年5月"])
    out = capsys.readouterr().out
    assert code == 0  # as at 2020-05 no checkpoint has come: warnings only
    assert "率の分母: 計画の人口 63,723 人" in out
    assert "月 1,726 枚の交付が必要です" in out
    assert "R2年5月末" in out and "まだ到来していません" in out


def test_followup_exit_codes(stats_dir: Path, tmp_path: Path, capsys) -> None:
    # a village that met every checkpoint: no error, no warning
    plan = plan_with(AWASHIMAURA, 1, 12)
    path = tmp_path / "awashimaura.json"
    path.write_text(json.dumps(plan_to_json(plan), ensure_ascii=False), encoding="utf-8")
    assert main(["followup", str(path), "--stats", str(stats_dir)]) == 0
    capsys.readouterr()
    # an unreadable statistics file: exit 2, the file and the line named
    bad = tmp_path / "stats"
    bad.mkdir()
    lines = (stats_dir / "20200801.csv").read_text(encoding="utf-8-sig").splitlines()
    fields = lines[2].split(",")
    fields[4] = '"12x"'  # 交付枚数 of the second data row: line 3 of the file
    lines[2] = ",".join(fields)
    (bad / "20200801.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["followup", str(path), "--stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "20200801.csv" in err and "3行目" in err and "交付枚数" in err and "Traceback" not in err
    # a municipality the statistics do not have, and no statistics at all
    shutil.copy(stats_dir / "20200801.csv", bad / "20200801.csv")
    other = copy.deepcopy(plan_to_json(plan))
    other["basic"]["dantai_code"] = "122408"  # a valid check digit, no such municipality
    path.write_text(json.dumps(other, ensure_ascii=False), encoding="utf-8")
    assert main(["followup", str(path), "--stats", str(bad)]) == 2
    assert "122408" in capsys.readouterr().err
    assert main(["followup", str(path)]) == 2  # not in the shipped statistics, nothing typed
    assert "--stats" in capsys.readouterr().err


# ---------------------------------------------------------------- the workbook: 実績比較 and 日次実績


@pytest.fixture(scope="module")
def shiroi_book(tmp_path_factory, seed: Plan, actuals_of) -> tuple[Path, Any]:
    """The seed's workbook with 実績比較 filled from the statistics (as 実績取込 would)."""
    from kofu_xl.book.build import build_sheets
    from kofu_xl.ooxml.package import inject_cached_values

    actuals = actuals_of(SHIROI)
    # a month-end no statistic describes (the end of 2019-08), typed by the clerk
    actuals["2019-08"] = followup.Actual("2019-08", Decimal(9470), "typed")
    built = build_sheets(seed, actuals=actuals)
    data, report = inject_cached_values(built.xlsx, built.cached)
    assert report.missing == ()
    path = tmp_path_factory.mktemp("book") / "白井市.xlsx"
    path.write_bytes(data)
    return path, built


def test_the_sheet_holds_the_same_comparison(shiroi_book, seed: Plan, actuals_of, capsys) -> None:
    """Without --stats the shipped statistics give the month-ends they describe and 実績比較
    the others (the typed end of 2019-08); the verdicts are the same."""
    path, _built = shiroi_book
    code = main(["followup", str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(v["checkpoint"], v["status"]) for v in data["followup"]["verdicts"]] == [
        ("2020-07", "below"), ("2021-03", "below"), ("2022-03", "below"),
    ]
    july = data["followup"]["verdicts"][0]["actual"]
    assert july["actual_cumulative"] == 13039 and july["source"] == "20200801.csv"
    (august,) = [m for m in data["followup"]["months"] if m["month"] == "2019-08"]
    assert august["actual_cumulative"] == 9470 and august["actual"]["source"].startswith("実績比較!")
    assert july["official_population"] == 63723 and july["official_rate"] == pytest.approx(0.205)


def test_headless_recalculation_of_the_filled_sheet(shiroi_book) -> None:
    """pycel with the KOFU_* functions gives every formula cell of a book with actuals the
    value the core computed (gaps, verdicts, required monthly issuance included)."""
    from kofu_xl.book.layout import FOLLOWUP
    from tests.support.recalc import recalculate, same_value

    path, built = shiroi_book
    got = recalculate(path)

    def excel(v: Any) -> Any:
        return float(v) if isinstance(v, Decimal) else ("" if v is None else v)

    from kofu_xl.book.computed import STATUS_LIVE
    from kofu_xl.book.layout import S11, STATUS_CELL

    status = (S11, STATUS_CELL)  # saved "as saved"; live when Python answers
    wrong = [(k, got[k], built.cached.get(k)) for k in sorted(got) if k != status and not same_value(got[k], excel(built.cached.get(k)))]
    assert wrong == [] and got[status] == STATUS_LIVE
    sheet = {k: v for k, v in got.items() if k[0] == FOLLOWUP}
    assert "下限値未満" in sheet.values() and 1726.0 in sheet.values() and -1992.0 in sheet.values()


def test_daily_sheet_checks(tmp_path: Path, seed: Plan) -> None:
    """A count typed outside the month, a total typed over its formula, weekend counts before
    the weekend openings start (令和2年4月)."""
    import openpyxl

    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.read import GridSource, read_plan_raw
    from kofu_xl.core.daily import SHEET_FACTS_KEY
    from kofu_xl.core.rules import check_plan

    path = tmp_path / "daily.xlsx"
    path.write_bytes(build_sheets(seed).xlsx)
    wb = openpyxl.load_workbook(path)
    ws = wb["日次実績"]
    # The first block is 平成31年1月 (title in row 4); 2019-01-01 is a Tuesday, so the Monday
    # of its first week (B7) stands for 2018-12-31. Its month total is I18 (B + 7, row 4 + 14).
    assert ws["B7"].value is None and str(ws["I18"].value).startswith("=SUM(")
    ws["B7"] = 4
    ws["I18"] = 97
    wb.save(path)

    src = GridSource.from_path(path)
    raw, layout = read_plan_raw(src, path)
    plan, _ = load_plan(raw)
    found = layout.locate_findings(followup.daily_findings(plan, raw[SHEET_FACTS_KEY]))
    by_rule: dict[str, list[Any]] = {}
    for f in found:
        by_rule.setdefault(f.rule, []).append(f)
    (out,) = by_rule["daily-outside-month"]
    assert (out.sheet, out.cell, out.column, out.actual) == ("日次実績", "B7", "2019-01", 4)
    assert "平成30年12月31日" in out.message and out.severity.value == "error"
    (over,) = by_rule["daily-total-overwritten"]
    assert (over.sheet, over.cell, over.column, over.actual) == ("日次実績", "I18", "2019-01", 97)
    assert over.expected.startswith("=SUM(") and over.severity.value == "warning"
    assert "daily-total-mismatch" not in {f.rule for f in check_plan(raw)[1]}  # one fact, said once
    weekend = {d for d, n in seed.daily.days.items() if d.weekday() >= 5 and n > 0 and d < __import__("datetime").date(2020, 4, 1)}
    assert len(weekend) == 11
    (closed,) = by_rule["daily-closed-day"]  # one fact: one finding listing its 11 days
    assert {p.column for p in closed.parts} == {d.isoformat() for d in weekend}
    assert len(closed.cells) == 11 and all(sheet == "日次実績" for sheet, _cell in closed.cells)
    assert closed.message.startswith("日次実績!G7、H13、") and "土日 11 日に件数があります" in closed.message
    # the builder's own book: every total a formula, nothing outside the months
    clean = tmp_path / "clean.xlsx"
    clean.write_bytes(build_sheets(seed).xlsx)
    facts = read_plan_raw(GridSource.from_path(clean), clean)[0][SHEET_FACTS_KEY]
    assert facts["outside"] == [] and facts["totals"] and all(t[2] for t in facts["totals"])
    # weekend openings 未定: every weekend count is on a closed day; no start given: no check
    plan.openings.weekend_start = "未定(実施予定なし)"
    (closed,) = followup.daily_findings(plan)
    assert len(closed.parts) == len([d for d, n in plan.daily.days.items() if d.weekday() >= 5 and n > 0])
    plan.openings.weekend_start = None
    assert followup.daily_findings(plan) == []


# ---------------------------------------------------------------- the ribbon: 「実績取込」 on xlwings' remote engine


xw = pytest.importorskip("xlwings")
from kofu_xl import excel  # noqa: E402
from tests.app.test_excel import Built, alerts, area, remote_engine, run, sheet_of  # noqa: E402,F401  (remote_engine: autouse)


@pytest.fixture(scope="module")
def book() -> Built:
    return Built(shipped_plan_raw())


def _sheet_rows(built: Built, sheet: str) -> dict[str, int]:
    """Rows of 実績比較 by their labels (column A, merged down), independent of the layout."""
    grid = built.grids[sheet]
    out, group = {}, None
    for i, line in enumerate(grid, start=1):
        a = line[0] if line else None
        b = line[1] if len(line) > 1 else None
        group = a or group
        if b:
            out[f"{group}/{b}"] = i
    return out


def test_import_actuals_fills_only_the_actual_rows(book: Built, stats_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from kofu_xl.core.calendar import parse_column

    files = ("20200601.csv", "20200801.csv", "20210401.csv", "20220301.csv", "20220501.csv")
    for name in files:
        shutil.copy(stats_dir / name, tmp_path / name)
    monkeypatch.setenv(followup.STATS_DIR_ENV, str(tmp_path))
    sheet = "実績比較"
    rows = _sheet_rows(book, sheet)
    actual_row, pop_row, rate_row = rows["実績/交付枚数（累計・月末）"], rows["公表値（参考）/人口（統計の人口算出基準日）"], rows["公表値（参考）/交付枚数率（公表値）"]
    header = next(line for line in book.grids[sheet] if line and line[0] == "年月（月末）")
    col_of = {parse_column(v): i + 1 for i, v in enumerate(header) if i >= 2 and v}
    typed_col = col_of["2019-09"]  # a clerk's own figure for a month no file describes: kept
    payload = book.payload({sheet: {f"{chr(64 + typed_col)}{actual_row}": 9600}})

    outcome, actions = run(payload, excel.import_actuals)
    assert outcome is not None
    written: dict[tuple[int, int], Any] = {}
    for a in actions:
        if a["func"] == "alert":
            continue
        assert a["func"] == "setValues" and sheet_of(payload, a) == sheet, a
        r1, c1, r2, c2 = area(a)
        assert r1 == r2 and r1 in (actual_row, pop_row, rate_row), a
        for k, v in enumerate(a["values"][0]):
            written[(r1, c1 + k)] = v
    expected: dict[tuple[int, int], Any] = {}
    for name in files:
        r = row(stats_dir, name, SHIROI)
        c = col_of[MONTH_OF[name]]
        expected[(actual_row, c)] = r["issued"]
        expected[(pop_row, c)] = r["population"]
        expected[(rate_row, c)] = pytest.approx(float(r["rate_pct"]) / 100)
    assert written == expected
    assert (actual_row, typed_col) not in written
    (alert,) = alerts(actions)
    text = alert[0]
    assert "白井市" in text and "下限値未満" in text and "R2年7月末（下限値 23.5%）: 実績 13,039 枚（20.5%）" in text
    assert "日次実績の確認" in text and alert[3] == "info"
    assert outcome.result.actuals["2019-09"].cumulative == 9600  # the typed figure is used too
    assert [v.basis for v in outcome.result.verdicts] == ["actual", "actual", "inferred"]


def test_import_actuals_without_statistics_explains_where_to_put_them(book: Built, monkeypatch) -> None:
    monkeypatch.delenv(followup.STATS_DIR_ENV, raising=False)
    outcome, actions = run(book.payload(), excel.import_actuals)
    assert outcome is None
    (alert,) = alerts(actions)
    assert "公表統計" in alert[0] and followup.STATS_DIR_ENV in alert[0] and alert[3] == "critical"
    assert [a for a in actions if a["func"] != "alert"] == []


def test_import_actuals_names_a_broken_file_and_writes_nothing(book: Built, stats_dir: Path, tmp_path: Path, monkeypatch) -> None:
    lines = (stats_dir / "20200801.csv").read_text(encoding="utf-8-sig").splitlines()
    fields = lines[4].split(",")
    fields[3] = '"-"'  # 総数（人口） on line 5 of the file
    lines[4] = ",".join(fields)
    (tmp_path / "20200801.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv(followup.STATS_DIR_ENV, str(tmp_path))
    outcome, actions = run(book.payload(), excel.import_actuals)
    assert outcome is None
    (alert,) = alerts(actions)
    assert "20200801.csv" in alert[0] and "5行目" in alert[0] and "Traceback" not in alert[0]
    assert [a for a in actions if a["func"] != "alert"] == []


# ---------------------------------------------------------------- the README


def test_readme_documents_followup_and_its_json() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## `followup`"):]
    section = section[: section.find("\n## ", 4)] if "\n## " in section[4:] else section
    for needle in (
        "kofu-xl followup", "--stats", "--as-of", "actual_cumulative", "actual_rate", "followup.verdicts",
        "required_monthly", "population_base", "実績取込", "KOFU_REQUIRED_MONTHLY", "実績比較", "actual-below-lower-bound",
        "actual-behind-plan", "daily-outside-month", "daily-closed-day", "daily-total-overwritten",
    ):
        assert needle in section, needle
    assert "`kofu-xl followup" in text[: text.index("## `check --json` schema")]  # listed with the commands


def test_followup_of_the_shipped_workbook_needs_no_statistics_given(capsys) -> None:
    """The statistics ship with the package: `kofu-xl followup` on the shipped workbook gives
    the real verdicts (2020-07: 13,039 = 20.5 % against a lower bound of 23.5 %, missed)."""
    code = main(["followup", str(REPO / "workbook" / "交付円滑化計画.xlsm"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    july = data["followup"]["verdicts"][0]
    assert (july["checkpoint"], july["actual_cumulative"], july["lower_bound"], july["met"]) == ("2020-07", 13039, 0.235, False)
    assert round(july["actual_rate"] * 100, 1) == 20.5 and july["actual"]["source"] == "20200801.csv"
