"""The guard reads a workbook's sheet list and relationships of the plain form without its
patterns (compiled at first use for the rest): the same answers as the patterns, which are
written out here."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.book import read
from kofu_xl.ooxml.formulas import xml_text

OLD_SHEET_RE = re.compile(rb'<sheet\b[^<>]*?\bname="([^"]*)"[^<>]*?\br:id="([^"]*)"')
OLD_REL_RE = re.compile(rb'<Relationship\b[^<>]*?\bId="([^"]*)"[^<>]*?\bTarget="([^"]*)"')
OLD_REL_RE2 = re.compile(rb'<Relationship\b[^<>]*?\bTarget="([^"]*)"[^<>]*?\bId="([^"]*)"')
def old_sheet_parts(wb, rels):
    if rels is None:
        return {}
    targets = {m[1]: m[2] for m in OLD_REL_RE.finditer(rels)} | {m[2]: m[1] for m in OLD_REL_RE2.finditer(rels)}
    out = {}
    for m in OLD_SHEET_RE.finditer(wb):
        target = targets.get(m[2])
        if target:
            t = target.decode("utf-8", "replace")
            out[xml_text(m[1].decode("utf-8", "replace"))] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


def test_the_patterns_are_the_old_ones():
    assert read._sheet_re().pattern == OLD_SHEET_RE.pattern
    assert read._rel_re().pattern == OLD_REL_RE.pattern and read._rel_re2().pattern == OLD_REL_RE2.pattern


# Tags of attributes: the plain form's names and others (one ending in a name the patterns ask
# for), values plain and not (an "=", a quote, a "<", a ">", a value ending in a name), spaces
# and ends of every kind, and junk between the tags
_names = st.sampled_from([b"name", b"r:id", b"sheetId", b"state", b"xmlns:r", b"Id", b"Target", b"Type", b"TargetMode", b"x:name", b"xr:id", b"nam", b"rId"])
_values = st.sampled_from([b"rId1", b"rId2", b"a", b"", b"/xl/worksheets/sheet1.xml", b"w.xml", b"a=b", b"x name", b"y Id", b"t Target", b"y Id=", b"u name=", b"v r:id=", b"t Target=", b"a>b", b"a<b", b"\xe6\x9c\xac"])
_attr = st.tuples(st.sampled_from([b" ", b" ", b" ", b"  ", b"\t", b""]), _names, st.sampled_from([b'="', b'="', b"='", b' = "']), _values, st.sampled_from([b'"', b'"', b"'", b""]))
_plain_attr = st.tuples(st.just(b" "), _names, st.just(b'="'), st.sampled_from([b"rId1", b"rId2", b"a", b"", b"w.xml", b"\xe6\x9c\xac"]), st.just(b'"'))
_end = st.sampled_from([b"/>", b"/>", b"/>", b"/>", b">", b" />", b"", b"/ >", b"x/>"])
_between = st.sampled_from([b"", b"", b"", b"", b"", b"", b"", b"<sheets>", b"<Relationships>", b"<!-- <sheet ", b"-->", b"<sheetPr/>", b"<sheet\t", b"<Relationship", b"<sheet", b"<", b">", b'"', b"</sheets>"])


_GOOD = {b"<sheet": [b"name", b"r:id", b"sheetId", b"state", b"xmlns:r"], b"<Relationship": [b"Id", b"Target", b"Type", b"TargetMode"]}


@st.composite
def _parts(draw, tag):
    good = st.tuples(st.just(b" "), st.sampled_from(_GOOD[tag]), st.just(b'="'), st.sampled_from([b"rId1", b"rId2", b"a", b"", b"w.xml", b"y Id=", b"u name=", b"v r:id=", b"t Target="]), st.just(b'"'))
    out = []
    for _ in range(draw(st.integers(0, 5))):
        out.append(draw(_between))
        attrs = draw(st.lists(st.one_of(good, good, good, _plain_attr, _attr), max_size=4))
        out.append(tag + b"".join(b"".join(a) for a in attrs) + draw(_end))
    out.append(draw(_between))
    return b"".join(out)


@settings(max_examples=1500)
@given(_parts(b"<sheet"), _parts(b"<Relationship"))
def test_plain_pairs_are_the_patterns_matches(wb, rels):
    sheets = read._plain_pairs(wb, b"<sheet", read._SHEET_NAMES, b"name", b"r:id")
    if sheets is not None:
        assert [(a, b) for a, b, name_first in sheets if name_first] == [m.groups() for m in OLD_SHEET_RE.finditer(wb)]
    relationships = read._plain_pairs(rels, b"<Relationship", read._REL_NAMES, b"Id", b"Target")
    if relationships is not None:
        assert [(a, b) for a, b, id_first in relationships if id_first] == [m.groups() for m in OLD_REL_RE.finditer(rels)]
        assert [(b, a) for a, b, id_first in relationships if not id_first] == [m.groups() for m in OLD_REL_RE2.finditer(rels)]
    assert read._sheet_parts(wb, rels) == old_sheet_parts(wb, rels)




@st.composite
def _plain_parts(draw, tag):
    out = [b"<x>"]
    for _ in range(draw(st.integers(0, 5))):
        good = st.tuples(st.just(b" "), st.sampled_from(_GOOD[tag]), st.just(b'="'), st.sampled_from([b"rId1", b"rId2", b"a", b"", b"w.xml", b"\xe6\x9c\xac"]), st.just(b'"'))
        attrs = draw(st.lists(st.integers(0, 30).flatmap(lambda k: _plain_attr if k == 0 else good), min_size=1, max_size=5, unique_by=lambda a: a[1]))
        out.append(tag + b"".join(b"".join(a) for a in attrs) + draw(st.sampled_from([b"/>", b" />", b">"])))
    return b"".join(out)


@settings(max_examples=800)
@given(_plain_parts(b"<sheet"), _plain_parts(b"<Relationship"))
def test_parts_of_the_plain_form_are_read_without_the_patterns(wb, rels):
    sheets = read._plain_pairs(wb, b"<sheet", read._SHEET_NAMES, b"name", b"r:id")
    relationships = read._plain_pairs(rels, b"<Relationship", read._REL_NAMES, b"Id", b"Target")
    if b"x:name" not in wb and b"xr:id" not in wb and b"nam=" not in wb and b"rId=" not in wb and b" Id=" not in wb and b"Target" not in wb and b"Type" not in wb:
        assert sheets is not None
        assert [(a, b) for a, b, first in sheets if first] == [m.groups() for m in OLD_SHEET_RE.finditer(wb)]
    if all(n not in rels for n in (b"x:name", b"xr:id", b"nam=", b"rId=", b" name=", b"r:id", b"sheetId", b"state", b"xmlns:r")):
        assert relationships is not None
        assert [(a, b) for a, b, first in relationships if first] == [m.groups() for m in OLD_REL_RE.finditer(rels)]
        assert [(b, a) for a, b, first in relationships if not first] == [m.groups() for m in OLD_REL_RE2.finditer(rels)]
    assert read._sheet_parts(wb, rels) == old_sheet_parts(wb, rels)


_trap = st.sampled_from([b"=", b" Id=", b" name=", b" r:id=", b" Target=", b'"', b"'", b"<", b">", b" ", b"\t", b"/", b"x:name", b"xr:id", b" Id", b"Target", b"s", b"<sheet ", b"<Relationship "])


@st.composite
def _near_plain(draw, tag):
    data = draw(_plain_parts(tag))
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(_trap) + data[at:]
    return data


@settings(max_examples=1000)
@given(_near_plain(b"<sheet"), _near_plain(b"<Relationship"))
def test_near_plain_parts_are_read_as_the_patterns_read_them(wb, rels):
    test_plain_pairs_are_the_patterns_matches.hypothesis.inner_test(wb, rels)


def test_the_shipped_workbook_is_of_the_plain_form():
    import zipfile

    from tests.book.test_read_pass import SHIPPED

    with zipfile.ZipFile(SHIPPED) as z:
        wb, rels = z.read("xl/workbook.xml"), z.read("xl/_rels/workbook.xml.rels")
    assert read._plain_pairs(wb, b"<sheet", read._SHEET_NAMES, b"name", b"r:id") is not None
    assert read._plain_pairs(rels, b"<Relationship", read._REL_NAMES, b"Id", b"Target") is not None
    assert read._sheet_parts(wb, rels) == old_sheet_parts(wb, rels)
    assert len(read._sheet_parts(wb, rels)) == 11


def test_a_thousand_tags_and_more_go_to_the_patterns():
    wb = b"".join(b'<sheet name="s%d" r:id="rId%d"/>' % (i, i) for i in range(read._PLAIN_TAGS_MAX + 1))
    assert read._plain_pairs(wb, b"<sheet", read._SHEET_NAMES, b"name", b"r:id") is None
    rels = b"".join(b'<Relationship Id="rId%d" Target="s%d.xml"/>' % (i, i) for i in range(read._PLAIN_TAGS_MAX + 1))
    assert read._sheet_parts(wb, rels) == old_sheet_parts(wb, rels)
