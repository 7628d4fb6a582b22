"""The guard's XML check without a Python call per element (book.read._plainly_safe) gives
the verdict the parser with its depth handlers gives, for every part: the same refusals, the
same messages. The reference is the same guard with the plain path switched off (then every
XML part goes through book.read._xml_parser, as before the plain path existed)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kofu_xl.book import read as book_read
from kofu_xl.errors import UnreadableInput
from kofu_xl.ooxml.limits import MAX_XML_DEPTH

SHIPPED = Path(__file__).resolve().parents[2] / "workbook" / "交付円滑化計画.xlsm"
DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _verdict(xml: bytes, *, plain: bool, name: str = "xl/worksheets/sheet1.xml", monkeypatch=None) -> str | None:
    """The guard's verdict on one part: None (safe) or the message it refuses with."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, xml)
    data = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    book_read._SAFE_XML.clear()
    real = book_read._plainly_safe
    if not plain:
        book_read._plainly_safe = lambda _xml: False
    try:
        book_read._inflate(Path("t.xlsx"), memoryview(data), info, 0)
        return None
    except UnreadableInput as exc:
        return exc.reason
    except Exception as exc:  # what escapes the guard (an unknown encoding: LookupError), escapes both ways
        return f"{exc.__class__.__name__}: {exc}"
    finally:
        book_read._plainly_safe = real
        book_read._SAFE_XML.clear()


def _same(xml: bytes, name: str = "xl/worksheets/sheet1.xml") -> str | None:
    new, old = _verdict(xml, plain=True, name=name), _verdict(xml, plain=False, name=name)
    assert new == old, (xml[:200], new, old)
    if book_read._plainly_safe(xml):
        assert old is None  # what the plain path passes, the handlers pass
    return new


def _nest(depth: int, inner: bytes = b"x", open_: bytes = b"<a>", close: bytes = b"</a>") -> bytes:
    """A document nested ``depth`` deep (the root counts as 1)."""
    return open_ * depth + inner + close * depth


DEEP_REFUSAL = f"XML の入れ子が深すぎます（{MAX_XML_DEPTH} 段を超えています）"


@pytest.mark.parametrize(
    "shape",
    [
        "plain",
        "declaration",
        "bom",
        "empty-tags-between",
        "attributes-with-gt",
        "attributes-with-slash-gt",
        "text-with-gt",
        "end-tags-with-spaces",
        "comment-inside",
        "cdata-inside",
        "processing-instruction",
        "utf-16",
        "latin-1",
    ],
)
def test_depth_exactly_the_limit_is_accepted_and_one_more_refused(shape):
    def doc(depth: int) -> bytes:
        if shape == "plain":
            return _nest(depth)
        if shape == "declaration":
            return DECL + _nest(depth)
        if shape == "bom":
            return b"\xef\xbb\xbf" + DECL + _nest(depth)
        if shape == "empty-tags-between":
            return _nest(depth - 1, b"<e/>", b'<a><b x="1"/><c/><d />', b"<f/></a>")  # <e/> is the deepest
        if shape == "attributes-with-gt":
            return _nest(depth, b"x", b'<a v="1>0" w=\'>\'>')
        if shape == "attributes-with-slash-gt":
            return _nest(depth - 1, b"x", b'<a v="/>" w="x/"><b v="&lt;/"/>')  # the last <b/> is the deepest
        if shape == "text-with-gt":
            return _nest(depth, b"a > b /> c")
        if shape == "end-tags-with-spaces":
            return _nest(depth, b"", b"<a >", b"</a \n>")
        if shape == "comment-inside":
            return _nest(depth, b"<!-- <a><a><a> -->")
        if shape == "cdata-inside":
            return _nest(depth, b"<![CDATA[<a><a></a>]]>")
        if shape == "processing-instruction":
            return DECL + _nest(depth, b"<?pi <a><a> ?>")
        if shape == "utf-16":
            return '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + _nest(depth).decode().encode("utf-16-le")
        if shape == "latin-1":
            return b'<?xml version="1.0" encoding="ISO-8859-1"?>' + _nest(depth, b"\xe9")
        raise AssertionError(shape)

    assert _same(doc(MAX_XML_DEPTH)) is None
    assert _same(doc(MAX_XML_DEPTH + 1)) == f"{DEEP_REFUSAL}（xl/worksheets/sheet1.xml）"


def test_a_plain_document_is_told_without_the_handlers():
    """The common case (what Excel, openpyxl and kofu-xl write) takes the plain path."""
    assert book_read._plainly_safe(DECL + _nest(MAX_XML_DEPTH))
    assert not book_read._plainly_safe(DECL + _nest(MAX_XML_DEPTH + 1))
    # slashes in attribute values and text, empty-element tags with and without attributes
    odd = (b'<a k="/x" j="/"><e/><e k="/"/>', b"</a>")
    assert book_read._plainly_safe(DECL + _nest(MAX_XML_DEPTH - 1, b"x/y<e/>", *odd))
    assert not book_read._plainly_safe(DECL + _nest(MAX_XML_DEPTH, b"x/y", *odd))
    with zipfile.ZipFile(SHIPPED) as z:
        parts = [i.filename for i in z.infolist() if i.filename.endswith((".xml", ".rels", ".vml"))]
        assert all(book_read._plainly_safe(z.read(n)) for n in parts)


def test_depth_in_a_small_shared_part_and_in_a_large_part():
    theme = zipfile.ZipFile(SHIPPED).read("xl/theme/theme1.xml")
    assert b"<a:theme " in theme[:200] and theme.count(b"<a:themeElements>") == 1  # a:theme (1) > a:themeElements (2)
    for depth, verdict in ((MAX_XML_DEPTH, None), (MAX_XML_DEPTH + 1, f"{DEEP_REFUSAL}（xl/theme/theme1.xml）")):
        chain = _nest(depth - 2, b"", b"<a:x>", b"</a:x>")
        assert _same(theme.replace(b"<a:themeElements>", b"<a:themeElements>" + chain), name="xl/theme/theme1.xml") == verdict
    big = DECL + b"<worksheet>" + b"<r/>" * (book_read._HELD_PART_BYTES // 4) + _nest(MAX_XML_DEPTH) + b"</worksheet>"
    assert len(big) > book_read._HELD_PART_BYTES  # streamed: the handlers decide, as before
    assert _verdict(big, plain=True) == f"{DEEP_REFUSAL}（xl/worksheets/sheet1.xml）"


@pytest.mark.parametrize(
    "xml",
    [
        b"",
        b"<a>",
        b"<a></b>",
        b"<a/><b/>",
        b"<a>\x1b</a>",
        b"<a>&undefined;</a>",
        b'<a b="<"/>',
        b"<a>]]></a>",
        b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
        b'<?xml version="1.1"?><a/>',
        b'<?xml version="1.0" encoding="x-unknown"?><a/>',
        b"<a></a><!-- after -->",
        b"<a></a>\n<?pi after?>",
        b"<a x='1' x='2'/>",
        b"\xef\xbb\xbf<a>\xff</a>",
        b"<a>\x00</a>",
        b"<a></a >",
        b"</a>",
        b"<a/>>",
        b"<a>></a>",
    ],
)
def test_refusals_and_their_messages_are_the_handlers(xml):
    _same(xml)


def _tree(depth_left: int) -> st.SearchStrategy[bytes]:
    leaf = st.sampled_from([b"", b"t", b"a > b", b"x/y", b"&amp;", b"<e/>", b'<e k="v"/>', b"<e />", b"<!-- c <a> -->", b"<![CDATA[<a>]]>", b"<?p x?>", b"\xe6\x97\xa5"])
    if depth_left <= 0:
        return leaf
    open_tag = st.sampled_from([b"<a>", b'<a k="1">', b"<a k='>'>", b'<a k="/>">', b'<a k="x/">', b"<a\n>", b"<ns:a>"])
    return st.one_of(
        leaf,
        st.tuples(open_tag, st.lists(st.deferred(lambda: _tree(depth_left - 1)), max_size=3)).map(
            lambda t: t[0] + b"".join(t[1]) + (b"</ns:a>" if t[0].startswith(b"<ns:") else b"</a>")
        ),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(min_value=MAX_XML_DEPTH - 3, max_value=MAX_XML_DEPTH + 2),
    inner=_tree(3),
    decl=st.sampled_from([b"", DECL, b"\xef\xbb\xbf", b"<?xml version='1.0'?>"]),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
    insert=st.sampled_from([b"", b"<", b">", b"/", b'"', b"<!", b"\x00"]),
)
def test_random_documents_get_the_handlers_verdict(depth, inner, decl, cut, insert):
    xml = decl + b'<ns:w xmlns:ns="urn:x">' + _nest(depth - 1, inner) + b"</ns:w>"
    if cut is not None:  # a mutation: one byte sequence inserted somewhere (mostly malformed)
        cut %= len(xml) + 1
        xml = xml[:cut] + insert + xml[cut:]
    _same(xml)


def _rezip(src: bytes, part: str, edit) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(src))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = zin.read(info.filename)
            z.writestr(info, edit(data) if info.filename == part else data)
    return buf.getvalue()


def _table(rollup) -> dict[str, bytes]:
    from kofu_xl.app.aggregate import write_workbook

    z = zipfile.ZipFile(io.BytesIO(write_workbook(rollup)))
    return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}  # core.xml: the time written


def test_aggregate_writes_the_same_table_with_and_without_the_plain_path(tmp_path, monkeypatch):
    """Every row, finding and reason of 集計.xlsx (and its JSON) is the same when every XML part
    goes through the parser with depth handlers, as before the plain path existed."""
    from kofu_xl.app import aggregate as agg
    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.model import load_plan

    package = build_sheets(load_plan(shipped_plan_raw())[0], values_only=True).xlsx
    sheet = "xl/worksheets/sheet1.xml"
    tail = b"</worksheet>"
    files = {
        "package.xlsx": package,
        "book.xlsm": SHIPPED.read_bytes(),
        "depth64.xlsx": _rezip(package, sheet, lambda d: d.replace(tail, b"<extLst>" + _nest(MAX_XML_DEPTH - 2, b"", b"<ext>", b"</ext>") + b"</extLst>" + tail)),
        "depth65.xlsx": _rezip(package, sheet, lambda d: d.replace(tail, b"<extLst>" + _nest(MAX_XML_DEPTH - 1, b"", b"<ext>", b"</ext>") + b"</extLst>" + tail)),
        "comment.xlsx": _rezip(package, sheet, lambda d: d.replace(tail, b"<!-- <a><a> -->" + tail)),
        "gt-in-attribute.xlsx": _rezip(package, sheet, lambda d: d.replace(tail, b'<extLst><ext uri="a>b">x > y</ext></extLst>' + tail)),
        "malformed.xlsx": _rezip(package, "xl/workbook.xml", lambda d: d.replace(b"</sheets>", b"<sheets>")),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    def run() -> tuple[dict, dict[str, bytes]]:
        book_read._SAFE_XML.clear()
        rollup = agg.aggregate([tmp_path], jobs=1)
        return agg.rollup_json(rollup), _table(rollup)

    plain = run()
    monkeypatch.setattr(book_read, "_plainly_safe", lambda _xml: False)
    handlers = run()
    assert plain == handlers
    reasons = {Path(u["source"]).name: u["reason"] for u in plain[0]["unused"] if u["kind"] == "unreadable"}
    assert reasons["depth65.xlsx"] == f"{DEEP_REFUSAL}（{sheet}）" and "depth64.xlsx" not in reasons
    assert set(reasons) == {"depth65.xlsx", "malformed.xlsx"}  # the others are read (one row: the same 団体コード)
