"""Reading raw values into the typed plan (kofu_xl.core.model): tolerant, never raising."""

from __future__ import annotations

from decimal import Decimal

from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import Plan, iter_leaves, load_plan


def _rules(findings):
    return [(f.rule, f.path, f.column) for f in findings]


def test_the_seed_loads_with_every_label():
    plan, findings = load_plan(shipped_plan_raw())
    assert plan.basic.dantai_code == "122327" and plan.basic.population == 63_723
    assert plan.issuance[0] == 103  # R元年8月（実績）: the month's issuance (the cumulative is 9,470)
    assert all(leaf.meta.label for leaf in iter_leaves())


def test_what_clerks_type_is_read_and_said():
    raw = shipped_plan_raw()
    raw["basic"]["population"] = "６３，７２３"
    raw["issuance"]["2020-07"] = "1,000"
    raw["staff"]["total"]["2020-07"] = "六"
    plan, findings = load_plan(raw)
    assert plan.basic.population == 63_723
    keys = [c.key for c in plan.columns]
    assert plan.issuance[keys.index("2020-07")] == 1_000
    assert plan.staff.total[keys.index("2020-07")] is None  # not a number: left empty, reported
    assert ("normalized-input", "basic.population", None) in _rules(findings)
    assert ("normalized-input", "issuance", "2020-07") in _rules(findings)
    assert ("not-a-number", "staff.total", "2020-07") in _rules(findings)


def test_junk_never_raises():
    for junk in ({}, {"basic": 5}, {"issuance": "x"}, {"costs": [1, 2]}, {"basic": {"population": -1}}):
        plan, findings = load_plan(junk)
        assert isinstance(plan, Plan)
    _plan, findings = load_plan({"basic": {"population": -1}})
    assert ("negative-value", "basic.population", None) in _rules(findings)


def test_money_is_decimal():
    plan, _ = load_plan(shipped_plan_raw())
    year = plan.costs["FY2019"]
    assert all(isinstance(v, Decimal) for v in (year.total,) if v is not None)
    assert not any(isinstance(v, float) for v in plan.model_dump().get("basic", {}).values())
