"""The guard's plain path (book.read._plainly_safe: expat without handlers, the depth counted on
the bytes) against the parser with per-element handlers (book.read._xml_parser), the path
every part took before: the same verdict and message on many documents, generated and
hand-written, around MAX_XML_DEPTH. What the plain path passes the handlers pass; what it
does not pass goes to the handlers (then the verdict is theirs by construction): so the
property is "never a pass the handlers would refuse", and the guard's verdict is compared
whole both ways (tests/book/test_guard_depth.py's _same)."""

from __future__ import annotations

import pyexpat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kofu_xl.book import read as book_read
from kofu_xl.ooxml.limits import MAX_XML_DEPTH

from .test_guard_depth import DECL, _same

DEEP = MAX_XML_DEPTH


def _handlers_pass(xml: bytes) -> bool:
    """The verdict of the parser with per-element handlers (the reference): True when it passes."""
    parser = book_read._xml_parser()
    try:
        book_read._feed(parser, xml, False)
        book_read._feed(parser, b"", True)
    except (book_read._UnsafeXml, pyexpat.ExpatError):
        return False
    return True


def _check(xml: bytes) -> None:
    plain = book_read._plainly_safe(xml)
    assert not plain or _handlers_pass(xml), xml[:300]
    _same(xml)


def _chain(depth: int, at: int, inner: bytes, filler: bytes = b"", after: bytes = b"", after_at: int = 0) -> bytes:
    """Elements nested ``depth`` deep (the root counts as 1), ``inner`` inside the one at level
    ``at`` before its child, ``filler`` inside the deepest, ``after`` inside the one at level
    ``after_at`` after its child."""
    out = b"".join((b"<d%d>" % i) + (inner if i == at else b"") for i in range(1, depth + 1))
    return out + filler + b"".join((after if i == after_at else b"") + b"</d%d>" % i for i in range(depth, 0, -1))


# what may sit in text or between elements, plain or not: each is placed at one level of a chain
# nested around MAX_XML_DEPTH; the ones that fake a closing "/>" or an opening "<" must not
# let a chain one level too deep pass
SNIPPETS = [
    b"x",
    b"a > b",
    b"a /> b",
    b"/>",
    b"/> />",
    b"x/",
    b"/",
    b"=/",
    b"!",
    b"?",
    b"<e/>",
    b"<e />",
    b'<e k="v"/>',
    b'<e k="/>"/>',
    b'<e k="/>">t</e>',
    b"<e k='/>' j=\"'\"/>",
    b'<e k="a>b"/>',
    b'<e k="x/">t</e>',
    b'<e k="=/"/>',
    b"<e></e >",
    b"<e\n/>",
    b"<ns:e xmlns:ns='urn:n'/>",
    b"<!-- /> -->",
    b"<!-- /> /> --><!---->",
    b"<!-- <e> -->",
    b"<![CDATA[/>]]>",
    b"<![CDATA[/> />]]><!---->",
    b"<![CDATA[<e>]]>",
    b"<?p />?>",
    b"<?p <e>?>",
    b"&amp;/&gt;",
    b"&#47;>",
    b"\xe6\x97\xa5/>",
    b"\x02",
    b"<e>\x02</e>",
    b"</e>",
    b"<e>",
]


@pytest.mark.parametrize("snippet", SNIPPETS)
@pytest.mark.parametrize("depth", [DEEP - 1, DEEP, DEEP + 1])
@pytest.mark.parametrize("where", ["top", "middle", "deepest"])
def test_snippets_in_a_chain_around_the_limit(snippet, depth, where):
    at = {"top": 1, "middle": depth // 2, "deepest": depth}[where]
    _check(DECL + _chain(depth, at, snippet))
    _check(_chain(depth, at, snippet, filler=snippet))


FAKED_CLOSES = [b"a /> b", b'<e k="/>"/>', b"<!-- /> /> -->", b"<![CDATA[/> />]]>", b"<?p /> />?>"]
FAKED_OPENS = [b"", b"<!---->", b"<![CDATA[]]>", b"<?p?>", b"<!-- <e> -->"]


@pytest.mark.parametrize("close", FAKED_CLOSES)
@pytest.mark.parametrize("open_", FAKED_OPENS)
def test_a_faked_close_inside_a_chain_one_too_deep_is_refused(close, open_):
    """A "/>" in text, an attribute value, a comment, CDATA or a processing instruction closes
    nothing, a "<" in a comment, CDATA or a processing instruction opens nothing: a chain one
    level too deep, with a faked close before its deepest element and a faked open after it,
    is refused (markers that took them for a close and an open would be balanced, and find the
    chain one level shallower)."""
    deep = f"XML の入れ子が深すぎます（{DEEP} 段を超えています）（xl/worksheets/sheet1.xml）"
    for depth, verdict in ((DEEP + 1, deep), (DEEP, None)):
        assert _same(DECL + _chain(depth, depth // 2, close, after=open_, after_at=depth - 1)) == verdict
        assert _same(DECL + _chain(depth, 1, close, after=open_, after_at=1)) == verdict


@pytest.mark.parametrize(
    "xml",
    [
        DECL + _chain(DEEP, 3, b"a > b"),
        DECL + _chain(DEEP, 3, b'<e k="a>b" j="x/"/>'),
        DECL + _chain(DEEP - 1, DEEP - 1, b"x/y<e/><e />"),  # <e/> is the 64th level
        b"\xef\xbb\xbf" + DECL + _chain(DEEP, 1, b"<ns:e xmlns:ns='urn:n'/>"),
        b'<?xml version="1.0"?>' + _chain(DEEP, 2, b"=/!"),
        _chain(2, 1, b"<e/>" * 100),
    ],
)
def test_plain_documents_take_the_plain_path(xml):
    """Not vacuous: what Excel and the build write, and more (a ">" in text or an attribute
    value), is told without the handlers."""
    assert book_read._plainly_safe(xml)
    assert _handlers_pass(xml)


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0" encoding="UTF-16"?><a/>'.decode().encode("utf-16"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',
        b'<?xml version="1.0" encoding="Shift_JIS"?><a/>',
        b"<!DOCTYPE a><a/>",
        b"<a><!-- c --></a>",
        b"<a><?p?></a>",
        b"<a>\x00</a>",
    ],
)
def test_what_is_not_plain_goes_to_the_handlers(xml):
    assert not book_read._plainly_safe(xml)
    _same(xml)


_NAMES = st.sampled_from([b"a", b"ns:a", b"b_1", b"\xe6\x97\xa5", b"c.d"])
_VALUES = st.sampled_from([b"1", b"", b"/", b"x/", b"/>", b">", b"a>b", b"=", b"'", b"&amp;", b"&lt;/", b"\xe6\x97\xa5"])
_TEXT = st.sampled_from([b"", b"t", b"a > b", b"x/y", b"/>", b"/", b"!", b"&amp;", b"&#47;>", b"\n", b"\xe6\x97\xa5", b"]]>"])
_ODD = st.sampled_from([b"<!-- /> -->", b"<!---->", b"<![CDATA[/></e>]]>", b"<?p />?>", b"<!-- <e> -->"])


@st.composite
def _element(draw, depth_left: int) -> bytes:
    name = draw(_NAMES)
    attrs = b"".join(b" k%d=%s" % (i, (b"'" + v + b"'") if b"'" not in v else (b'"' + v + b'"')) for i, v in enumerate(draw(st.lists(_VALUES, max_size=2))))
    space = draw(st.sampled_from([b"", b" ", b"\n"]))
    kids = []
    if depth_left > 0:
        kids = draw(st.lists(st.one_of(_TEXT, _ODD, _element(depth_left - 1)), max_size=3))
    if not kids and draw(st.booleans()):
        return b"<" + name + attrs + space + b"/>"
    return b"<" + name + attrs + b">" + b"".join(kids) + b"</" + name + space + b">"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(min_value=DEEP - 4, max_value=DEEP + 2),
    at=st.integers(min_value=1, max_value=DEEP + 2),
    inner=_element(3),
    extra=st.lists(st.one_of(_TEXT, _ODD), max_size=2),
    after=st.sampled_from([b"", b"<!---->", b"<![CDATA[]]>", b"<?p?>", b"x", b"<e/>"]),
    after_at=st.integers(min_value=0, max_value=DEEP + 2),
    head=st.sampled_from([b"", DECL, b"\xef\xbb\xbf", b"\xef\xbb\xbf" + DECL, b"<?xml version='1.0' encoding='utf-8'?>", b'<?xml version="1.0" encoding="latin-1"?>']),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=20_000)),
    edit=st.sampled_from([b"", b"<", b">", b"/", b"/>", b"</", b'"', b"=", b"<!", b"<?", b"\x00", b"\x02", b"-->", b"]]>", b"<a>", b"</a>", b"<e/>"]),
    drop=st.integers(min_value=0, max_value=3),
)
def test_generated_documents_get_the_handlers_verdict(depth, at, inner, extra, after, after_at, head, cut, edit, drop):
    xml = head + _chain(depth, min(at, depth), inner + b"".join(extra), after=after, after_at=after_at)
    if cut is not None:  # a mutation: a few bytes dropped and a sequence inserted (mostly malformed)
        cut %= len(xml) + 1
        xml = xml[:cut] + edit + xml[cut + drop :]
    _check(xml)
