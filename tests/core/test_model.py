"""Reading raw values into the typed plan (kofu_xl.core.model): tolerant, never raising."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import Plan, iter_leaves, load_plan, plan_from_json, plan_to_json, shape_problem
from kofu_xl.core.schedule import load_schedule


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
    basic = msgspec.structs.asdict(plan.basic)
    assert isinstance(basic["population"], Decimal)
    assert not any(isinstance(v, float) for v in basic.values())
    # JSON keeps every amount exact: decimal strings, never binary floats
    assert plan_to_json(plan)["basic"]["population"] == str(basic["population"])


def test_plan_json_round_trips_exactly():
    plan, _ = load_plan(shipped_plan_raw())
    again = plan_from_json(plan_to_json(plan))
    assert again == plan
    assert isinstance(again.basic.population, Decimal)


def test_the_typed_plan_still_refuses_wrong_types():
    data = plan_to_json(load_plan(shipped_plan_raw())[0])
    for bad in ({"basic": {**data["basic"], "population": "たくさん"}}, {"basic": {**data["basic"], "unknown_field": 1}}, {"issuance": {"x": 1}}):
        with pytest.raises(msgspec.ValidationError) as info:
            plan_from_json({**data, **bad})
        assert isinstance(info.value, ValueError)  # callers catch ValueError
    with pytest.raises(msgspec.ValidationError):
        load_schedule(b'{"id": "x", "title": "t", "base_population": "many"}')


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"parameters": {"first_month": 5}}, "parameters.first_month: 文字列が必要なところが整数です"),
        ({"parameters": {"zzz": 1}}, "parameters: 知らない項目 zzz があります"),
        ({"basic": {"population": "たくさん"}}, "人口（basic.population）: 値が読めません（形式が違います）"),
        ({"daily": []}, "daily: 項目の表が必要なところが値の並びです"),
    ],
)
def test_a_refused_shape_is_told_in_japanese_naming_the_field(data, expected):
    with pytest.raises(msgspec.ValidationError) as info:
        plan_from_json(data)
    message = shape_problem(info.value)
    assert message == expected
    assert "Expected" not in message and "Object" not in message


@contextlib.contextmanager
def _full_reading_only() -> Iterator[None]:
    """The loader without its shortcut for whole numbers (and its cache of those seen)."""
    from kofu_xl.core import model

    whole, seen = model._whole, model._WHOLES
    model._whole, model._WHOLES = (lambda _raw: None), {}
    try:
        yield
    finally:
        model._whole, model._WHOLES = whole, seen


# The loader's shortcut for the commonest cells (a whole-number float from a workbook, a string
# of ASCII digits from a package's JSON) must give exactly what the full reading gives.
_NUMBER_KINDS = ("count", "amount", "money", "yen", "factor", "pct")
_EDGE_TEXTS = ("0", "00", "007", "1", "999999999999", "1000000000000", "0000000000001", "１２", "²", "٣", "1.0", "-1", " 1", "1 ", "")


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**13), max_value=10**13),
        st.from_regex(r"[0-9]{0,14}", fullmatch=True),
        st.text(alphabet="0123456789１２³٣.,- ", max_size=14),
        st.sampled_from(_EDGE_TEXTS),
        st.booleans(),
    ),
    kind=st.sampled_from(_NUMBER_KINDS),
)
def test_the_whole_number_shortcut_reads_as_the_full_reading(raw, kind):
    from kofu_xl.core import model

    meta = model.Meta("テスト", kind)
    model._whole(1.0), model._whole(float(len(str(raw))))  # in the cache of numbers seen: True == 1.0 must not find them
    fast = model._Loader(["2020-07"], [])
    fast_value = fast.value(raw, meta, "x", "2020-07")
    fast_series = fast.series([raw], meta, "y", ["2020-07"])
    again = model._Loader(["2020-07"], [])  # the second time from the cache of numbers seen
    assert repr(again.value(raw, meta, "x", "2020-07")) == repr(fast_value)
    assert repr(again.series([raw], meta, "y", ["2020-07"])) == repr(fast_series)
    assert again.findings == fast.findings
    with _full_reading_only():
        slow = model._Loader(["2020-07"], [])
        slow_value = slow.value(raw, meta, "x", "2020-07")
        slow_series = slow.series([raw], meta, "y", ["2020-07"])
    assert repr(fast_value) == repr(slow_value)
    assert repr(fast_series) == repr(slow_series)
    assert fast.findings == slow.findings


_DAY_KEYS = ("2019-08-05", "2019-08-31", "2019-02-29", "2020-02-29", "2019-13-01", "2019/08/05", "2019-W32-1", "令和元年8月5日", "20190805", " 2019-08-05", "2019-08-5")


@settings(max_examples=300, deadline=None)
@given(
    days=st.dictionaries(
        st.one_of(st.sampled_from(_DAY_KEYS), st.dates().map(dt.date.isoformat), st.text(max_size=11), st.integers()),
        st.one_of(st.none(), st.floats(), st.integers(min_value=-5, max_value=10**13), st.from_regex(r"[0-9]{0,14}", fullmatch=True),
                  st.sampled_from(["１２", "1.5", "-3", " 4", "", "abc"])),
        max_size=12,
    )
)
def test_the_daily_calendars_shortcut_reads_as_the_full_reading(days):
    """A canonical date with a whole count is taken directly; everything else, and the
    findings, as the full reading takes it (its shortcut off: no whole number found)."""
    from kofu_xl.core import model

    fast = model._Loader(["2020-07"], [])
    fast_daily = fast.daily({"days": days})
    with _full_reading_only():
        slow = model._Loader(["2020-07"], [])
        slow_daily = slow.daily({"days": days})
    assert repr(fast_daily) == repr(slow_daily)
    assert fast.findings == slow.findings


def _model_structs() -> list[type]:
    from msgspec import Struct

    from kofu_xl.core import model

    return [v for v in vars(model).values() if isinstance(v, type) and issubclass(v, Struct) and v.__module__ == model.__name__]


def test_the_fields_are_read_as_get_type_hints_reads_them():
    """fields_of reads the annotations as written (_hints) instead of through
    typing.get_type_hints: the same hints for every struct of the model, and for a struct
    whose annotations override its base's."""
    from typing import Annotated, get_type_hints

    from msgspec import Struct

    from kofu_xl.core import model

    # (defined without this module's ``from __future__ import annotations``: objects, as in the model)
    ns = {"Struct": Struct, "Annotated": Annotated, "Meta": model.Meta, "__name__": __name__}
    source = (
        "class Base(Struct):\n"
        "    a: int = 0\n"
        "    b: Annotated[int, Meta('b', 'count')] = 0\n"
        "class Derived(Base):\n"
        "    b: Annotated[str, Meta('b2', 'text')] = ''\n"
        "    c: list[int] = []\n"
    )
    exec(compile(source, "<structs>", "exec", dont_inherit=True), ns)  # noqa: S102 - a fixed text
    assert not isinstance(ns["Derived"].__annotations__["b"], str)
    classes = [*_model_structs(), ns["Base"], ns["Derived"]]
    assert len(classes) > 20
    for cls in classes:
        assert model._hints(cls) == get_type_hints(cls, include_extras=True), cls


def _annotated_twins() -> dict[str, type]:
    """The parts of the plan declared as they were before the FORM tables: each leaf's Meta in
    its annotation (``Annotated[type, Meta]``), the same fields, defaults and configuration, the
    same names and module (msgspec's reading shows them), nested parts referring to twins."""
    import typing
    from typing import Annotated

    from kofu_xl.core import model

    twins: dict[str, type] = {}

    def swap(ann: object) -> object:  # a nested part's type: its twin
        if isinstance(ann, type) and issubclass(ann, model._Part):
            return twins[ann.__name__]
        if typing.get_origin(ann) is dict:
            key, value = typing.get_args(ann)
            return dict[key, swap(value)]  # type: ignore[index]
        return ann

    def default(value: object) -> object:
        factory = getattr(value, "factory", None)
        if factory is None:
            return value
        if isinstance(factory, type) and issubclass(factory, model._Part):
            factory = twins[factory.__name__]
        return msgspec.field(default_factory=factory)

    order = (model.Purchase, model.Overtime, model.Postage, model.DailyTotals, model.Basic, model.Promotion, model.Declared,
             model.Windows, model.Openings, model.Staff, model.Terminals, model.Invite, model.AtApplication, model.Outreach,
             model.Support, model.CostYear, model.Working, model.Daily, model.Parameters, model.Plan)
    assert {c.__name__ for c in order} == {c.__name__ for c in _model_structs() if issubclass(c, model._Part) and c is not model._Part}
    for cls in order:
        fields = []
        defaults = dict(zip(cls.__struct_fields__[len(cls.__struct_fields__) - len(cls.__struct_defaults__):], cls.__struct_defaults__, strict=True))
        for info in model.fields_of(cls):
            ann = swap(info.annotation)
            if info.meta is not None:
                ann = Annotated[ann, info.meta]
            fields.append((info.name, ann, default(defaults[info.name])) if info.name in defaults else (info.name, ann))
        twins[cls.__name__] = msgspec.defstruct(cls.__name__, fields, bases=(model._Part,), module=model.__name__)
    return twins


def test_the_form_tables_read_as_the_annotated_declaration():
    """The form's metadata moved out of the annotations (``FORM`` tables, cheaper to import and
    to convert through): msgspec reads every part exactly as it read them declared with
    ``Annotated[type, Meta]``, the shipped plan and refused plans convert to the same values, and
    each field's Meta is the one the annotation carried."""
    import re
    from typing import get_args, get_type_hints

    from kofu_xl.core import model

    twins = _annotated_twins()

    def reading(classes: list[type]) -> str:
        return re.sub(r" at 0x[0-9a-f]+", "", repr(msgspec.inspect.multi_type_info(classes)))

    names = sorted(twins)
    assert reading([getattr(model, n) for n in names]) == reading([twins[n] for n in names])
    for name in names:
        hints = get_type_hints(twins[name], include_extras=True)
        for info in model.fields_of(getattr(model, name)):
            extras = getattr(hints[info.name], "__metadata__", ())
            assert (info.meta,) == (extras or (None,)), (name, info.name)
            if extras:
                assert get_args(hints[info.name])[0] == info.annotation
    raw = shipped_plan_raw()
    refused = [dict(raw, basic={"population": [1]}), dict(raw, staff={"total": "x"}), dict(raw, costs={"FY2019": {"tablet": 3}}),
               dict(raw, parameters={"first_month": 3}), dict(raw, nope=1)]
    for case in (raw, *refused):
        plan, _findings = load_plan(case)
        data = plan_to_json(plan)
        assert msgspec.to_builtins(msgspec.convert(data, twins["Plan"], strict=False)) == data
        for bad in ({"basic": {"population": [1]}}, {"costs": {"FY2019": {"tablet": 3}}}, {"nope": 1}):
            with pytest.raises(msgspec.ValidationError) as ours:
                msgspec.convert(dict(data, **bad), Plan, strict=False)
            with pytest.raises(msgspec.ValidationError) as theirs:
                msgspec.convert(dict(data, **bad), twins["Plan"], strict=False)
            assert str(ours.value) == str(theirs.value)


def test_every_form_table_names_fields_and_every_leaf_has_its_meta():
    """A FORM key that names no field (a typo) would leave a leaf without its label, read as a
    nested value: every key is a field, and the fields without a Meta are the nested parts, the
    per-year tables, the parameters and the daily calendar's."""
    import typing

    from kofu_xl.core import model

    parts = [c for c in _model_structs() if issubclass(c, model._Part) and c is not model._Part]
    for cls in parts:
        assert set(cls.__dict__.get("FORM", {})) <= set(cls.__struct_fields__), cls
        for info in model.fields_of(cls):
            if info.meta is None:
                ann = info.annotation
                nested = model._is_part(ann) or (typing.get_origin(ann) is dict and cls is model.Plan)
                assert nested or cls in (model.Parameters, model.Daily, model.DailyTotals), (cls, info.name)
    assert len(iter_leaves()) == 104
