"""A package's workbook spliced into the stored blank of its shape is the workbook the builder
draws, byte for byte (saved at the same moment: openpyxl stamps the zip entries and the core
properties with the time of the save).

(bench/package_splice_all.py compares the 1,741 packages of the aggregate bench.)
"""

from __future__ import annotations

import copy
import time

import pytest

from kofu_xl.app.package_workbook import blank_plans, draw_package, package_workbook, stored_blank
from kofu_xl.book.layout import S11, layout_for
from kofu_xl.book.package_content import BLANK_DIR, BLANK_PREFIX, splice_package
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import load_plan, plan_to_json
from kofu_xl.core.schedule import default_schedule
from tests.core.test_rules import corrected_seed
from tests.ooxml.test_splice import MOMENT, at_moment


def _plan(raw: dict):
    plan, _ = load_plan(raw)
    return plan


def _edited(change) -> object:
    raw = corrected_seed()
    change(raw)
    return _plan(raw)


@pytest.fixture(scope="module")
def schedule():
    return default_schedule()


def test_the_stored_blanks_equal_fresh_drawings(schedule):
    expected = {}
    for plan in blank_plans():
        path, data = stored_blank(plan, schedule)
        expected[path] = data
    stored = set(BLANK_DIR.glob(f"{BLANK_PREFIX}*.xlsx"))
    assert stored == set(expected), f"stored blanks {sorted(p.name for p in stored)} are not the shapes of blank_plans(): run `kofu-xl build`"
    for path, data in expected.items():
        assert path.read_bytes() == data, f"{path.name} is stale (what the builder writes changed): run `kofu-xl build`"


def test_a_drawn_package_is_dated_only_by_its_save():
    """What at_moment changes is all openpyxl's save stamps: the same plan drawn twice, a second
    apart, gives the same bytes once both are put at one moment, and different bytes before."""
    plan = _plan(corrected_seed())
    first = draw_package(plan, default_schedule())
    time.sleep(1.05)
    second = draw_package(plan, default_schedule())
    assert first != second
    assert at_moment(first, MOMENT) == at_moment(second, MOMENT)


def _seed_like_plans():
    """The plans the packages of every bench are made from, and edits of every kind of input
    that keeps the shape."""

    def texts(raw):
        raw["basic"]["department"] = "市民課 & <窓口> 係"  # escaped characters
        raw["basic"]["phone"] = " 047-492-1111"  # leading white space: xml:space="preserve"
        raw["basic"]["email"] = "a\nb@example.jp"  # a line break inside
        raw["issuance_note"] = "𠮷野家の\r\n前で"  # beyond the BMP, a carriage return
        raw["promotion"]["detail"] = "x" * 2000
        raw["title"] = "白井市 & <計画>"

    def numbers(raw):
        raw["basic"]["population"] = 1
        raw["issuance"]["2019-09"] = 1.5
        raw["issuance"]["2019-10"] = None
        raw["costs"]["FY2019"]["other"] = 123456789012
        raw["working"]["FY2020"]["postage"]["per_month"] = 0.001

    def daily(raw):
        days = sorted(raw["daily"]["days"])
        raw["daily"]["days"][days[0]] = 99999
        del raw["daily"]["days"][days[1]]  # a day of a month that still has others

    def names(raw):
        raw["basic"]["municipality"] = "ＡＢＣ市"
        raw["basic"]["prefecture"] = "東京都"
        raw["basic"]["dantai_code"] = "131016"
        raw["basic"]["population_date"] = "2019-03-31"
        raw["basic"]["base_issued_date"] = "2019-08-31"  # a month's end: "R元.8末"

    return {
        "seed": _plan(corrected_seed()),
        "shipped": _plan(shipped_plan_raw()),
        "texts": _edited(texts),
        "numbers": _edited(numbers),
        "daily": _edited(daily),
        "names": _edited(names),
    }


SAMPLES = _seed_like_plans()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_spliced_package_equals_its_drawing(schedule, name):
    plan = SAMPLES[name]
    spliced = splice_package(plan, schedule, moment=MOMENT)
    assert spliced is not None, "a plan of the blank's shape"
    assert spliced == at_moment(draw_package(plan, schedule), MOMENT)


def _shape_changes():
    def other_months(raw):
        raw["parameters"]["last_month"] = "2021-06"

    def no_daily(raw):
        raw["daily"] = {}

    def one_month_more(raw):
        raw["daily"]["days"]["2020-06-15"] = 3

    def formula_like(raw):
        raw["basic"]["department"] = "=市民課"  # drawn with Excel's leading apostrophe

    def number_where_text(raw):
        raw["openings"]["honcho_per_month"] = None  # a single input of 本表1-1: text format when empty

    def no_dates(raw):
        raw["basic"]["population_date"] = None  # a date cell: openpyxl gave it a date format

    return {f.__name__: f for f in (other_months, no_daily, one_month_more, formula_like, number_where_text, no_dates)}


SHAPES = _shape_changes()


def _stored_shape() -> str:
    [stored] = (p.name[len(BLANK_PREFIX) : -len(".xlsx")] for p in BLANK_DIR.glob(f"{BLANK_PREFIX}*.xlsx"))
    return stored


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_plan_of_another_shape_is_drawn(schedule, name, monkeypatch):
    plan = _edited(SHAPES[name])
    assert splice_package(plan, schedule, moment=MOMENT) is None
    drawn = package_workbook(plan, schedule)  # the caller's fallback: the drawing
    assert at_moment(drawn, MOMENT) == at_moment(draw_package(plan, schedule), MOMENT)
    # and the decline is needed: forced into the stored blank, the plan's package would differ
    # from its drawing (or the splice would refuse it)
    import kofu_xl.book.package_content as pc

    monkeypatch.setattr(pc, "package_shape", lambda *_a: _stored_shape())
    monkeypatch.setattr(pc, "_shown", lambda v: v if not isinstance(v, str) else pc.xml_text(pc.cell_value(v)))
    forced = pc.splice_package(plan, schedule, moment=MOMENT)
    assert forced is None or forced != at_moment(drawn, MOMENT)


def test_the_splice_reads_no_drawing(schedule, monkeypatch):
    """Splice or decline is decided from the plan: the builder is never called."""
    import kofu_xl.app.package_workbook as pw

    def no_drawing(*_a, **_k):
        raise AssertionError("drawn")

    monkeypatch.setattr(pw, "draw_package", no_drawing)
    assert package_workbook(SAMPLES["seed"], schedule)[:2] == b"PK"


def test_a_value_left_out_of_the_content_is_seen(schedule, monkeypatch):
    """The comparison sees one cell's value: the splice with one input left as the blank's
    differs from the drawing."""
    import kofu_xl.book.package_content as pc

    real = pc.package_values

    def one_left_out(*args):
        values = real(*args)
        del values[S11][layout_for().scalars["basic.dantai_code"].cell]
        return values

    plan = _edited(lambda raw: raw["basic"].update(dantai_code="131016"))
    monkeypatch.setattr(pc, "package_values", one_left_out)
    monkeypatch.setattr(pc, "package_shape", lambda *_a: _stored_shape())  # (its cells are part of the shape)
    spliced = pc.splice_package(plan, schedule, moment=MOMENT)
    assert spliced is not None
    assert spliced != at_moment(draw_package(plan, schedule), MOMENT)


def test_the_blank_plans_cover_the_bench_plans(schedule):
    """The bench's submit (the corrected seed) and the aggregate bench's packages (the shipped
    plan scaled per municipality) have the stored blank's shape."""
    raw = copy.deepcopy(shipped_plan_raw())
    raw["basic"]["municipality"] = "別の市"
    for plan in (SAMPLES["seed"], _plan(raw), _plan(plan_to_json(SAMPLES["numbers"]))):
        assert splice_package(plan, schedule, moment=MOMENT) is not None


@pytest.mark.parametrize("title", [" 前に空白の計画", "後ろに空白の計画 ", "\t計画\n"])
def test_a_title_with_white_space_at_its_ends_is_spliced_as_drawn(schedule, title):
    """A plan built in code keeps its title as given (the loader strips what a clerk types):
    openpyxl marks such a title xml:space="preserve" in the core properties."""
    from msgspec.structs import replace

    plan = replace(SAMPLES["seed"], title=title)
    spliced = splice_package(plan, schedule, moment=MOMENT)
    assert spliced is not None
    assert spliced == at_moment(draw_package(plan, schedule), MOMENT)


def _every_value_changed(plan):
    """``plan`` with every value it holds changed and its shape kept: each number n becomes
    3n + 7, each date moves by a day, each month by one, each other text gets a character
    more; the parameters and the days of 日次実績 stay (their counts change)."""
    import re
    from decimal import Decimal

    from kofu_xl.core.model import plan_from_json

    def changed(value):
        if isinstance(value, dict):
            return {k: changed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [changed(v) for v in value]
        if not isinstance(value, str):
            return value
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            y, m, d = map(int, value.split("-"))
            return f"{y}-{m:02d}-{d + 1 if d < 28 else d - 1:02d}"
        if re.fullmatch(r"\d{4}-\d{2}", value):
            y, m = map(int, value.split("-"))
            return f"{y}-{m % 12 + 1:02d}"
        try:
            return str(Decimal(value) * 3 + 7)  # a number (plan_to_json writes it as a string)
        except ArithmeticError:
            return value + "改"

    data = plan_to_json(plan)
    out = changed({k: v for k, v in data.items() if k not in ("parameters", "daily")})
    out["parameters"] = data["parameters"]
    out["daily"] = {**data["daily"], "days": {day: str(Decimal(n) * 3 + 7) for day, n in data["daily"]["days"].items()}}
    return plan_from_json(out)


def test_a_plan_with_every_value_changed_is_spliced_as_drawn(schedule):
    """Every value of the blank's plan changed (its shape kept): a value the builder draws from
    the plan that the content leaves out would keep the blank's value and differ."""
    plan = _every_value_changed(_plan(shipped_plan_raw()))
    assert plan.basic.department != _plan(shipped_plan_raw()).basic.department
    spliced = splice_package(plan, schedule, moment=MOMENT)
    assert spliced is not None, "a plan of the blank's shape"
    assert spliced == at_moment(draw_package(plan, schedule), MOMENT)


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "a part missing"])
def test_a_damaged_blank_is_drawn_instead(schedule, damage, monkeypatch, tmp_path):
    """An installation whose stored blank was damaged still writes the package (drawn)."""
    import io
    import zipfile

    import kofu_xl.book.package_content as pc

    plan = SAMPLES["seed"]
    real = pc.blank_path(pc.plan_content(plan, schedule)[2]).read_bytes()
    path = tmp_path / "blank.xlsx"
    if damage == "truncated":
        path.write_bytes(real[: len(real) // 2])
    elif damage == "not a zip":
        path.write_bytes(b"x" * 100)
    else:
        with zipfile.ZipFile(path, "w") as z, zipfile.ZipFile(io.BytesIO(real)) as src:
            for info in src.infolist():
                if info.filename != "xl/worksheets/sheet1.xml":
                    z.writestr(info, src.read(info))
    monkeypatch.setattr(pc, "blank_path", lambda _shape: path)
    assert pc.splice_package(plan, schedule, moment=MOMENT) is None
    assert at_moment(package_workbook(plan, schedule), MOMENT) == at_moment(draw_package(plan, schedule), MOMENT)
