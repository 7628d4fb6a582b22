"""The rule catalogue on the seed's plan as printed, and on targeted edits of it."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.findings import CATALOGUE
from kofu_xl.core.model import load_plan
from kofu_xl.core.rules import RULES, check_plan

# Every inconsistency the seed contains, as (rule, path, column, expected, actual).
SEED_FINDINGS = {
    # 本表1-1 ⑤: the R4年度 staff total is blank (the 本庁 rows too) while 15,000 cards are planned.
    ("missing-required", "staff.total", "FY2022", None, None),
    # ⑧申請時来庁 starts 令和2年4月 but its counts stop after R2年7月.
    *{("missing-required", "at_application.counts", c, None, None) for c in
      ("2020-08", "2020-09", "2020-10", "2020-11", "2020-12", "2021-01", "2021-02", "2021-03", "FY2021", "FY2022")},
    # 本表1-1's e-mail is cut at both ends (the 概要 sheet has shimin@city.shiroi.chiba.lg.jp).
    ("invalid-email", "basic.email", None, None, "imin@city.shiroi.chiba.lg"),
    # R2年3月: 正規職員 already 2 (the plan says 2 from 令和2年4月): parts 5, total 4.
    ("staff-total-mismatch", "staff.total", "2020-03", Decimal(5), Decimal("4.0")),
    # 本表1-2 R元年度: I 3,088 + II 55 + その他 10 = 3,153, printed ① 3,143.
    ("cost-total-mismatch", "costs.total", "FY2019", Decimal(3153), Decimal(3143)),
    # 本人限定受取郵便 R2: 月300人×12月 = 3,600 sendings, ⑧ plans 250×4 = 1,000.
    ("cost-working-mismatch", "working.postage.per_month", "FY2020", Decimal(1000), Decimal(3600)),
    # The meeting's own capacity (1,000 cards / 6 staff) is exceeded.
    ("capacity-shortfall", "issuance", "2019-10", Decimal(3), Decimal("2.0")),
    *{("capacity-shortfall", "issuance", c, Decimal(n), Decimal("6.0")) for c, n in
      (("2020-08", 7), ("2020-09", 9), ("2020-10", 10), ("2020-11", 12), ("2020-12", 14),
       ("2021-01", 16), ("2021-02", 18), ("2021-03", 19), ("FY2021", 8))},
    # 日次実績: counts on Saturdays and (mostly the last) Sundays of 2019, before the weekend
    # openings the plan starts in 令和2年4月 (④): a warning to check the dates or the start.
    *{("daily-closed-day", "daily.days", day, None, Decimal(n)) for day, n in
      (("2019-01-05", 1), ("2019-01-27", 9), ("2019-02-24", 14), ("2019-03-31", 15), ("2019-04-27", 2),
       ("2019-04-28", 15), ("2019-05-26", 10), ("2019-06-30", 9), ("2019-07-28", 5), ("2019-08-25", 15),
       ("2019-09-29", 22))},
}


def _keys(findings):
    """(rule, path, column, expected, actual) of every cell reported (the parts of a grouped
    finding one by one)."""
    return {(p.rule, p.path, p.column, p.expected, p.actual) for f in findings for p in (f.parts or (f,))}


def test_seed_as_printed_reports_exactly_its_inconsistencies():
    _, findings = check_plan(shipped_plan_raw())
    assert _keys(findings) == SEED_FINDINGS
    assert sum(len(f.parts) or 1 for f in findings) == len(SEED_FINDINGS)  # no cell twice
    # one finding per fact: the ten blank ⑧ cells of one row and the ten months short of
    # staff are one finding each, listing their cells
    assert len(findings) == 8  # 6 errors, the capacity months, the 11 weekend counts (info)
    (blank,) = [f for f in findings if f.path == "at_application.counts"]
    assert len(blank.parts) == 10 and "（R2年8月〜R4年度）" in blank.message
    (short,) = [f for f in findings if f.rule == "capacity-shortfall"]
    assert [p.column for p in short.parts][:2] == ["2019-10", "2020-08"] and "（R元年10月、R2年8月〜R3年度）" in short.message
    for f in findings:
        assert f.message and f.field and f.severity.value in ("error", "warning", "info")


def corrected_seed() -> dict:
    """The seed with its inconsistencies mended the way the meeting intended."""
    raw = copy.deepcopy(shipped_plan_raw())
    raw["basic"]["email"] = "shimin@city.shiroi.chiba.lg.jp"
    raw["staff"]["honcho_regular"]["2020-03"] = 1
    for key, value in (("total", 6), ("honcho_regular", 2), ("honcho_temporary", 4), ("honcho_other", 0)):
        raw["staff"][key]["FY2022"] = value
    for col in ("2020-04", "2020-05", "2020-06", "2020-07", "2020-08", "2020-09", "2020-10", "2020-11", "2020-12", "2021-01", "2021-02", "2021-03"):
        raw["at_application"]["counts"][col] = 250
    raw["at_application"]["counts"]["FY2021"] = 3000
    raw["at_application"]["counts"]["FY2022"] = 3000
    raw["working"]["FY2020"]["postage"]["per_month"] = 250  # 250 × 12 × 492 = 1,476,000 円
    raw["costs"]["FY2020"]["postage"] = 1476
    raw["costs"]["FY2020"]["total"] = 6749 + 1476
    raw["costs"]["FY2019"]["other"] = 0
    return raw


def test_corrected_seed_has_no_error():
    _, findings = check_plan(corrected_seed())
    assert [f for f in findings if f.severity.value == "error"] == []
    assert {f.rule for f in findings} == {"capacity-shortfall", "daily-closed-day"}  # warnings the meeting knew of


def _edit(path: str, value, column=None):
    raw = corrected_seed()
    obj = raw
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj.setdefault(p, {})
    if column is None:
        obj[parts[-1]] = value
    else:
        obj.setdefault(parts[-1], {})[column] = value
    return raw


def _key(f):
    return (f.rule, f.path, f.column)


def _only(raw, rule):
    """The findings of ``rule`` and the rules of every OTHER finding the edit brought (findings
    the unedited corrected seed already has are not the edit's)."""
    _, findings = check_plan(raw)
    baseline = {_key(f) for f in check_plan(corrected_seed())[1]}
    hits = [f for f in findings if f.rule == rule]
    others = {f.rule for f in findings if f.rule != rule and _key(f) not in baseline}
    return hits, others


@pytest.mark.parametrize(
    ("path", "column", "value", "rule", "expected", "actual", "also"),
    [
        ("basic.dantai_code", None, "122328", "invalid-dantai-code", "122327", "122328", set()),
        ("basic.prefecture", None, "東京都", "invalid-dantai-code", "千葉県", "122327", set()),
        ("basic.phone", None, "47-492-1111", "invalid-phone", None, "47-492-1111", set()),
        ("basic.email", None, "shimin@@city.shiroi.chiba.lg.jp", "invalid-email", None, "shimin@@city.shiroi.chiba.lg.jp", set()),
        ("declared.cumulative", "2020-07", 15030, "cumulative-mismatch", Decimal(15031), Decimal(15030), set()),
        ("declared.rate_pct", "2020-07", 23.5, "rate-mismatch", Decimal("23.6"), Decimal("23.5"), set()),
        ("declared.increase_pct", "2019-09", 0.1, "rate-mismatch", Decimal("0.2"), Decimal("0.1"), set()),
        ("basic.base_rate_pct", None, 14.8, "rate-mismatch", Decimal("14.9"), Decimal("14.8"), set()),
        ("declared.per_staff", "2020-05", 108.4, "per-unit-mismatch", Decimal("108.3"), Decimal("108.4"), set()),
        ("windows.total", "2020-01", 2, "window-total-mismatch", Decimal(1), Decimal(2), {"per-unit-mismatch"}),
        ("terminals.issuing", "2020-01", 3, "terminal-total-mismatch", None, None, {"per-unit-mismatch"}),
        ("costs.FY2020.personnel_total", None, 6750, "cost-total-mismatch", None, None, set()),
        ("costs.FY2019.tablet.subsidized", None, 31, "subsidy-exceeds-cost", Decimal(30), Decimal(31), {"cost-total-mismatch"}),
        ("working.FY2019.overtime.days", None, 13, "cost-working-mismatch", Decimal(106), Decimal(98), set()),
        ("issuance", "2019-08", 104, "daily-total-mismatch", Decimal(103), Decimal(104), {"per-unit-mismatch"}),
        ("issuance", "2020-07", -5, "negative-value", None, Decimal(-5), {"missing-required", "per-unit-mismatch"}),
        ("staff.total", "2020-07", "六", "not-a-number", None, "六", {"missing-required", "per-unit-mismatch"}),
        ("promotion.start", None, "令和元年4月", "invalid-date", None, "令和元年4月", {"missing-required"}),
        # a date the form cannot spell in 和暦 (its captions): check refuses it, as submit would fail on it
        ("basic.population_date", None, "1920-01-01", "invalid-date", None, "1920-01-01", set()),
        ("issuance", "2019-09", None, "missing-required", None, None, {"per-unit-mismatch"}),
    ],
)
def test_each_rule_fires_on_its_defect(path, column, value, rule, expected, actual, also):
    """The rule fires, and nothing else fires but the declared consequences of the edit
    (a false alarm beside the expected finding fails)."""
    hits, others = _only(_edit(path, value, column), rule)
    assert hits, f"{rule} did not fire"
    assert others <= also, f"unexpected findings beside {rule}: {sorted(others - also)}"
    f = hits[0]
    if expected is not None:
        assert f.expected == expected
    if actual is not None:
        assert f.actual == actual
    assert f.message


def test_rate_bounds():
    raw = corrected_seed()
    # fewer cards before R2年7月 → below the 23.5 % lower bound at 2020-07 (and later checkpoints)
    for col in ("2020-04", "2020-05", "2020-06", "2020-07"):
        raw["issuance"][col] = 100
    raw["declared"] = {}
    _, findings = check_plan(raw)
    below = [f for f in findings if f.rule == "rate-below-lower-bound"]
    # cumulative at 2020-07 = 12,331 + 400 = 12,731 → 20.0 %; later checkpoints fall short too
    assert [(f.column, f.expected, f.actual) for f in below] == [
        ("2020-07", Decimal("23.5"), Decimal("20.0")),
        ("2021-03", Decimal("47.1"), Decimal("46.3")),
        ("FY2021", Decimal("70.6"), Decimal("69.9")),
    ]
    assert below[0].params["short"] == 2244  # 23.5 % of 63,723 = 14,974.9 → 14,975 − 12,731
    # far more → above the upper bound at 2021-03 (warning)
    raw = corrected_seed()
    raw["issuance"]["2021-01"] = 6000
    raw["declared"] = {}
    _, findings = check_plan(raw)
    above = [f for f in findings if f.rule == "rate-above-upper-bound"]
    assert {f.column for f in above} >= {"2021-03"}
    assert all(f.severity.value == "warning" for f in above)


def test_rate_bound_uses_the_form_rounding():
    """23.46 % shows as 23.5 % on the form: it meets the 23.5 % lower bound there."""
    raw = corrected_seed()
    raw["declared"] = {}
    pop = 63723
    target = Decimal("0.2346") * pop  # cumulative needed at 2020-07 ≈ 14,949.4
    raw["issuance"]["2020-07"] = int(target) + 1 - 14281  # cumulative 14,950 → 23.461 %
    _, findings = check_plan(raw)
    assert not [f for f in findings if f.rule == "rate-below-lower-bound" and f.column == "2020-07"]


def test_tolerant_reading_gives_info_findings():
    raw = corrected_seed()
    raw["basic"]["population"] = "６３，７２３人"
    raw["issuance"]["2019-10"] = "３５０"
    raw["windows"]["total"]["2019-10"] = "1 "
    raw["basic"]["base_rate_pct"] = "14.9%"
    raw["promotion"]["start"] = "未定"
    raw["invite"]["honcho_start"] = "R2.4"
    raw["basic"]["dantai_code"] = "１２２３２７"
    plan, findings = check_plan(raw)
    assert plan.basic.population == 63723
    assert plan.issuance[2] == 350
    assert plan.basic.base_rate_pct == Decimal("14.9")
    assert plan.promotion.start == "未定(実施予定なし)"
    assert plan.invite.honcho_start == "2020-04"
    assert plan.basic.dantai_code == "122327"
    infos = [f for f in findings if f.rule == "normalized-input"]
    assert {f.path for f in infos} >= {"basic.population", "issuance", "basic.base_rate_pct", "promotion.start", "basic.dantai_code"}
    assert all(f.severity.value == "info" for f in infos)
    assert not [f for f in findings if f.severity.value == "error"]


def test_bad_values_name_their_field_and_never_raise():
    raw = corrected_seed()
    raw["staff"]["total"]["2020-04"] = "#REF!"
    raw["issuance"]["2020-04"] = 10.5
    raw["costs"]["FY2019"]["postage"] = "abc"
    raw["windows"]["total"] = [1, 2, 3]  # too short: the rest are blank
    raw["expiry_card"] = "many"
    plan, findings = load_plan(raw)
    by = {(f.rule, f.path, f.column) for f in findings}
    assert ("not-a-number", "staff.total", "2020-04") in by
    assert ("not-a-number", "issuance", "2020-04") in by
    assert ("not-a-number", "costs.postage", "FY2019") in by
    assert ("invalid-structure", "expiry_card", None) in by
    assert plan.staff.total[8] is None and plan.windows.total[3] is None


def test_catalogue_specs_are_complete():
    required = {
        "missing-required", "not-a-number", "negative-value", "invalid-dantai-code", "invalid-email", "invalid-phone",
        "cumulative-mismatch", "rate-mismatch", "window-total-mismatch", "staff-total-mismatch", "terminal-total-mismatch",
        "per-unit-mismatch", "rate-below-lower-bound", "rate-above-upper-bound", "capacity-shortfall", "cost-total-mismatch",
        "cost-working-mismatch", "daily-total-mismatch",
    }
    assert required <= set(CATALOGUE)
    assert CATALOGUE["rate-below-lower-bound"].severity.value == "error"
    assert CATALOGUE["rate-above-upper-bound"].severity.value == "warning"
    assert CATALOGUE["capacity-shortfall"].severity.value == "warning"
    for spec in CATALOGUE.values():
        assert spec.title and spec.description and spec.fix and spec.template
    assert len(RULES) >= 10
