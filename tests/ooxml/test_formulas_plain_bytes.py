"""formula_texts' gate and one-pass reading ask bytes methods where they asked two of their
patterns (now compiled at first use, asked only when the bytes methods cannot tell; the other
three too, which a part without formulas does not need): the same answers as before, the old
reading written out here with its patterns."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.ooxml import formulas as formulas_mod

OLD_PLAIN_FORMULA = re.compile(rb"<f[\s/>]")
OLD_F_TAG = re.compile(rb"<f\b")
_PLAIN_TAG = rb'r="[^"<>]{0,32}"[^<>]{0,4000}'
OLD_PLAIN_TAGS = re.compile(_PLAIN_TAG + rb"(?:<" + _PLAIN_TAG + rb")*")
OLD_TAG_CELL = re.compile(r'r="([^"]*)"')
OLD_PLAIN_TEXT = re.compile(rb"><f>([^<]*)</f>")


def old_plain_formula_texts(sheet_xml):
    if len(sheet_xml) > formulas_mod._ONE_PASS_MAX:
        return None
    pieces = sheet_xml.split(b"><f>")
    if len(pieces) - 1 != len(OLD_F_TAG.findall(sheet_xml)):
        return None
    n = len(pieces) - 1
    if not n:
        return {}
    heads = [piece.rpartition(b"<c ") for piece in pieces[:-1]]
    if len(b"".join([head[1] for head in heads])) != 3 * n:
        return None
    tags = b"<".join([head[2] for head in heads])
    if OLD_PLAIN_TAGS.fullmatch(tags) is None or tags.count(b'r="') != n:
        return None
    texts = OLD_PLAIN_TEXT.findall(sheet_xml)
    if len(texts) != n:
        return None
    cells = OLD_TAG_CELL.findall(tags.decode("utf-8", "replace"))
    return dict(zip(cells, formulas_mod.xml_texts(texts), strict=True))


def outcome(f, xml):
    try:
        got = f(xml)
    except Exception as exc:  # noqa: BLE001 - the same exception, or the same answer
        return type(exc)
    return got if got is None or isinstance(got, bool) else list(got.items())


def test_the_patterns_are_the_old_ones():
    assert formulas_mod._PLAIN_FORMULA().pattern == OLD_PLAIN_FORMULA.pattern
    assert formulas_mod._F_TAG().pattern == OLD_F_TAG.pattern
    assert formulas_mod._PLAIN_TAGS().pattern == OLD_PLAIN_TAGS.pattern
    assert formulas_mod._TAG_CELL().pattern == OLD_TAG_CELL.pattern
    assert formulas_mod._PLAIN_TEXT().pattern == OLD_PLAIN_TEXT.pattern


def test_every_byte_after_f_as_the_old_patterns():
    for b in range(256):
        for xml in (b"<f" + bytes([b]), b"x<f" + bytes([b]) + b"<f", b"<fo" * 70 + b"<f" + bytes([b])):
            assert formulas_mod._plain_formula_tag(xml) is (OLD_PLAIN_FORMULA.search(xml) is not None), xml[-4:]
    assert formulas_mod._plain_formula_tag(b"<f") is False


_GATE_PIECES = st.sampled_from([b"<f>", b"<f/>", b"<f ", b"<f\t", b"<f\x0b", b"<f\x1c", b"<f\xa0", b"<formula1>", b"<fo", b"<f_", b"<f-", b"<f", b"f>", b"<", b"x", b"<fi" * 30])


@settings(max_examples=1000, deadline=None)
@given(st.lists(_GATE_PIECES, max_size=10))
def test_the_formula_gate_is_the_old_pattern(pieces):
    xml = b"".join(pieces)
    assert formulas_mod._plain_formula_tag(xml) is (OLD_PLAIN_FORMULA.search(xml) is not None)


# parts near the build's: cells with formulas, tags plain and not, texts with and without "</f>"
_CELL_PIECES = [
    b'<c r="A1">', b'<c r="B2" s="3">', b'<c r="C3" t="str">', b'<c r="D4" s="1" r="E5">', b'<c s="2" r="F6">',
    b'<c\tr="G7">', b'<x:c r="H8">', b'<c r="">', b'<c r="' + b"Z" * 32 + b'">', b'<c r="' + b"Z" * 33 + b'">',
    b'<c r="I9" s="' + b"9" * 3990 + b'">', b'<c r="I9" s="' + b"9" * 4100 + b'">', b'<c r="\xe6\x97\xa5">', b'<c r="\xe6\x97">', b'<c r="A\xff1">',
    b"<f>", b"<f>SUM(A1:B2)</f>", b"<f>&#26085;&amp;&quot;x&quot;</f>", b'<f t="shared" si="0">A1+1</f>', b"<f><f>1</f>",
    b'<f t="shared" si="0"/>', b"<f/>", b"</f>", b"</f", b"<v>1</v>", b"</c>", b"<formula1>1</formula1>", b"<firstHeader>x</firstHeader>",
    b"<f >A1</f>", b"<f", b" ", b">", b"<", b'"', b"r=", b'r="', b"&#x41;", b"x", b"<fo" * 70,
]
_PLAIN_CELLS = [b'<c r="A1"><f>1</f><v>1</v></c>', b'<c r="B2" s="3"><f>A1+1</f></c>', b'<c r="AB12" t="str"><f>&quot;x&quot;</f><v>x</v></c>', b"<row>", b"</row>"]


# whole cells, each off the build's form in one way (at the edges of the pattern's bounds too)
_ONE_OFF_CELLS = [
    b'<c r="' + b"Z" * 32 + b'"><f>1</f></c>', b'<c r="' + b"Z" * 33 + b'"><f>1</f></c>',
    b'<c r="A1" s="' + b"1" * 3994 + b'"><f>1</f></c>', b'<c r="A1" s="' + b"1" * 3995 + b'"><f>1</f></c>', b'<c r="A1" s="' + b"1" * 3996 + b'"><f>1</f></c>',
    b'<c r="A1"><f>1</fo></c>', b'<c r="A1"><f>1</f</c>', b'<c r="A1"><f>1</ f></c>', b'<c r="A1"><f>1<f>2</f></c>', b'<c r="A1"><f><f>1</f></c>',
    b'<c r="A1>"><f>1</f></c>', b'<c r="A1" s="<"><f>1</f></c>', b'<c r="A1"/><f>1</f>', b'<c r="A1" r="B1"><f>1</f></c>', b'<c r="A1" xr="B1"><f>1</f></c>',
    b'<c r="A1"><formula>1</formula><f>2</f></c>', b'<c r="A1"><f>1</f><fi/></c>', b'<c r="A1"><f>1</f><f/></c>', b'<c r="A1"><f>1</f></c><f',
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_PLAIN_CELLS), st.sampled_from(_PLAIN_CELLS), st.sampled_from(_ONE_OFF_CELLS), st.sampled_from(_CELL_PIECES)), max_size=14))
def test_the_one_pass_reading_is_the_old_one(pieces):
    xml = b"".join(pieces)
    assert outcome(formulas_mod._plain_formula_texts, xml) == outcome(old_plain_formula_texts, xml)
    assert outcome(formulas_mod._has_formula, xml) == outcome(lambda x: OLD_PLAIN_FORMULA.search(x) is not None or (b":f" in x and formulas_mod._HAS_FORMULA().search(x) is not None), xml)


_REF_BYTES = st.binary(max_size=6).map(lambda b: b.replace(b'"', b"").replace(b"<", b"").replace(b">", b""))


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(_REF_BYTES, st.sampled_from([b"", b' s="1"', b' t="str"', b" x", b"\xe6\x97\xa5"])), min_size=1, max_size=6))
def test_references_of_any_bytes_decode_as_before(cells):
    """Texts after references holding any bytes (invalid UTF-8 too) are read as before."""
    xml = b"".join(b'<c r="' + ref + b'"' + rest + b"><f>1</f></c>" for ref, rest in cells)
    assert outcome(formulas_mod._plain_formula_texts, xml) == outcome(old_plain_formula_texts, xml)


def test_the_shipped_workbook_is_read_without_the_two_patterns(monkeypatch):
    import zipfile
    from pathlib import Path

    def refused(*_args):
        raise AssertionError("a pattern was asked")

    for name in ("_PLAIN_FORMULA", "_PLAIN_TEXT"):
        monkeypatch.setattr(formulas_mod, name, refused)
    with zipfile.ZipFile(Path(__file__).parents[2] / "workbook" / "交付円滑化計画.xlsm") as z:
        sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    found = 0
    for xml in sheets:
        if formulas_mod._has_formula(xml):
            plain = formulas_mod._plain_formula_texts(xml)
            monkeypatch.undo()
            assert plain is not None and list(plain.items()) == list(old_plain_formula_texts(xml).items())
            found += len(plain)
            for name in ("_PLAIN_FORMULA", "_PLAIN_TEXT"):
                monkeypatch.setattr(formulas_mod, name, refused)
    assert found > 1000
