"""Every derived number printed in the seed, reproduced from its inputs by the core.

The fixture is the hand transcription tests/fixtures/shiroi_2019.json (a copy of the team's reference/shiroi_2019.json); the
core only sees the inputs (base count, population, monthly issuance, totals of
windows / staff / terminals, cost working) and must print what the seed prints.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kofu_xl.core import calc
from kofu_xl.core.numbers import round_half_up, to_decimal
from kofu_xl.core.schedule import default_schedule


def D(values):
    return [None if v is None else to_decimal(v) for v in values]


@pytest.fixture()
def t(seed_ref):
    return seed_ref["本表1-1"]


@pytest.fixture()
def pop(seed_ref):
    return Decimal(seed_ref["basic"]["人口_H31_1_1"])


def test_cumulative_row(seed_ref, t):
    got = calc.cumulative(Decimal(seed_ref["basic"]["交付枚数_R1_8末"]), D(t["②交付枚数"]))
    assert got == D(t["交付枚数_累計"])


def test_rate_row_and_basic_rate(seed_ref, t, pop):
    cum = D(t["交付枚数_累計"])
    got = [calc.rate_pct(calc.coverage_rate(c, pop)) for c in cum]
    assert got == [round_half_up(v, 1) for v in D(t["人口に対する交付枚数率_pct"])]
    base = calc.coverage_rate(Decimal(seed_ref["basic"]["交付枚数_R1_8末"]), pop)
    assert calc.rate_pct(base) == Decimal("14.9") == to_decimal(seed_ref["basic"]["人口に対する交付枚数率_pct"])


def test_increase_row_is_issuance_over_population(t, pop):
    got = [calc.rate_pct(v) for v in calc.increase(D(t["②交付枚数"]), pop)]
    printed = D(t["人口に対する交付枚数率の前月からの増加分_pct"])
    assert got == printed
    # not the difference of rounded rates: 15.0 - 14.9 = 0.1, the seed prints 0.2
    assert printed[1] == Decimal("0.2")


@pytest.mark.parametrize(
    ("printed_key", "units"),
    [
        ("1窓口当たり交付枚数", ("③窓口数", "合計")),
        ("1人当たり交付枚数", ("⑤職員配置数", "合計")),
        ("交付用統合端末1台当たり交付枚数", ("⑥統合端末台数", "交付")),
        ("交付前設定用統合端末1台当たり交付枚数", ("⑥統合端末台数", "交付前設定")),
    ],
)
def test_per_unit_rows(seed_ref, t, printed_key, units):
    cols = seed_ref["columns"]
    issued = D(t["②交付枚数"])
    divisor = D(t[units[0]][units[1]])
    got = [
        None if c.startswith("FY") else (None if (v := calc.per_unit(i, u)) is None else round_half_up(v, 1))
        for c, i, u in zip(cols, issued, divisor)
    ]
    assert got == D(t[printed_key])


def test_cost_working(seed_ref):
    cf = seed_ref["cost_formulas_円"]
    for key in ("正規職員_時間外_R1", "正規職員_時間外_R2"):
        f = cf[key]
        yen = calc.overtime_yen(*(to_decimal(f[k]) for k in ("時給", "割増率", "日数", "人数", "時間")))
        assert yen == f["結果"]
        assert calc.senyen(yen) == f["計上_千円"]
    p = cf["本人限定受取郵便_R2"]
    yen = calc.postage_yen(Decimal(p["月当たり人数"]), Decimal(p["月数"]), Decimal(p["単価"]))
    assert yen == 1_771_200 == p["結果"]
    assert calc.senyen(yen) == 1772 == p["計上_千円"]
    assert [calc.senyen(Decimal(v)) for v in (97_200, 388_800, 1_771_200)] == [98, 389, 1772]


def test_cost_totals(seed_ref):
    c = seed_ref["本表1-2_千円"]
    personnel = [calc.sum_parts(D([c["I_正規職員"][i], c["I_臨時・非常勤職員"][i], c["I_その他"][i]])) for i in (0, 1)]
    assert personnel == [3088, 6749] == c["I_人件費"]
    # R2: I + III + IV + V + その他 = 8,521 as printed
    r2 = calc.sum_parts(D([c["I_人件費"][1], c["III_本人限定受取郵便"][1], c["IV_交付予約"][1], c["V_統合端末等"][1], c["その他補助対象経費"][1]]))
    assert r2 == 8521 == c["①補助対象経費"][1]
    # R1 without the stray その他 10 gives the printed 3,143; with it 3,153 (a seed inconsistency)
    purchases = sum(c[k]["うち補助対象分"][0] for k in ("II-1_タブレット端末", "II-2_モバイルプリンター", "II-3_ウェブカメラ"))
    assert c["I_人件費"][0] + purchases == 3143 == c["①補助対象経費"][0]


def test_daily_calendar_totals(seed_ref):
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.model import load_plan

    plan, _ = load_plan(shipped_plan_raw())
    totals = calc.daily_totals(plan.daily.days)
    ref = seed_ref["daily_actuals_2019"]
    months = [m for m in ref if m[0].isdigit()]
    assert len(months) == 9
    for m in months:
        weekday, total = totals[m]
        assert weekday == ref[m]["weekday_totals"], m
        assert total == ref[m]["total"], m
    # the plan's 実績 column equals August's daily total
    assert totals["2019-08"][1] == seed_ref["本表1-1"]["②交付枚数"][0] == 103


def test_national_bounds_from_targets(seed_ref):
    s = default_schedule()
    printed = seed_ref["本表1-1"]["国の全体スケジュールに基づく想定_pct"]
    got = {}
    for cp in s.checkpoints:
        key = "FY2021" if cp.month == "2022-03" else cp.month
        got[key] = {"下限値": s.lower_pct(cp), "上限値": s.upper_pct(cp)}
    assert got == {k: {kk: to_decimal(vv) for kk, vv in v.items()} for k, v in printed.items()}
    assert s.base_population == 127_443_563


def test_staff_needed_at_meeting_capacity():
    assert calc.staff_needed(Decimal(1000)) == 6
    assert calc.staff_needed(Decimal(1050)) == 7
    assert calc.staff_needed(Decimal(0)) == 0
    assert calc.staff_needed(Decimal(500), Decimal(500), Decimal(2)) == 2


def test_exact_decimal_where_binary_float_would_over_claim():
    """1,300円 × 1.35 × 25日 × 1人 × 8h = 351,000円 exactly; in binary floats it is
    351,000.00000000006, which rounds up to 352 千円: an over-claim of a subsidy."""
    import math

    floats = 1300 * 1.35 * 25 * 1 * 8
    assert floats != 351_000  # the trap is real
    assert math.ceil(floats / 1000) == 352
    # the same inputs as Excel hands them over (floats) give the exact amount
    yen = calc.overtime_yen(*(to_decimal(float(v)) for v in (1300, 1.35, 25, 1, 8)))
    assert yen == Decimal(351_000)
    assert calc.senyen(yen) == 351
