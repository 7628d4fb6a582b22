"""The guard reads an error cell's reference without the pattern when the cell tag starts with
r="REF" (the pattern, compiled at first use, reads the rest): the same reference as the
pattern, which is written out here."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.book import read

OLD_REF_ATTR_RE = re.compile(rb'\br="([A-Z]{1,3}[0-9]+)"')


def old_ref(attrs):
    found = OLD_REF_ATTR_RE.search(attrs)
    return None if found is None else found[1]


def test_the_pattern_is_the_old_one():
    assert read._ref_attr_re().pattern == OLD_REF_ATTR_RE.pattern


_piece = st.sampled_from([b" ", b"r=", b'r="', b'"', b"A", b"Z", b"XFD", b"ABCD", b"a", b"0", b"9", b"12", b"\xd9\xa3", b"$", b" s=", b'"1"', b"xr=", b" t=", b'"e"', b"\t"])


@settings(max_examples=2000)
@given(st.lists(_piece, max_size=8).map(b"".join))
def test_error_ref_is_the_old_pattern(attrs):
    assert read._error_ref(attrs) == old_ref(attrs)
    assert read._error_ref(b' r="' + attrs) == old_ref(b' r="' + attrs)


def test_every_byte_in_a_reference():
    for b in range(256):
        for ref in (bytes([b]), b"A" + bytes([b]), bytes([b]) + b"1", b"AB" + bytes([b]) + b"1", b"A1" + bytes([b])):
            attrs = b' r="' + ref + b'" t="e"'
            assert read._error_ref(attrs) == old_ref(attrs), attrs


def test_the_shipped_workbook_s_error_cells_are_read_without_the_patterns(monkeypatch):
    import zipfile

    from tests.book.test_read_pass import SHIPPED

    with zipfile.ZipFile(SHIPPED) as z:
        sheets = {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")}
    expected = {n: [(m.span(), m.groups()) for m in read._error_cell_re().finditer(x)] for n, x in sheets.items()}
    assert sum(map(len, expected.values())) > 40  # the gaps of the charts' lines: #N/A

    def refused():
        raise AssertionError("a pattern was asked")

    monkeypatch.setattr(read, "_error_cell_re", refused)
    monkeypatch.setattr(read, "_ref_attr_re", refused)
    for name, xml in sheets.items():
        cells = list(read._error_cells(xml))
        assert [((s, e), (a, v)) for s, e, a, v in cells] == expected[name]
        assert [read._error_ref(a) for _s, _e, a, _v in cells] == [OLD_REF_ATTR_RE.search(a)[1] for _s, _e, a, _v in cells]


_CELL_PIECES = [
    b"<c", b"<c ", b"<cx", b' t="e"', b't="e"', b'xt="e"', b' r="A1"', b" ", b"/", b">", b"<", b"/>", b"<f", b"<f ", b"<fx",
    b"<f/>", b"<f>", b"</f>", b"<f t=\"shared\"/>", b"<v>", b"</v>", b"#N/A", b"x", b"\t", b"_",
]


_ATTR_PIECES = [b" ", b"x", b"_", b"/", b' t="e"', b't="e"', b'xt="e"', b"<", b">", b' r="A1"']
_FORMULAS = [b"", b"<f/>", b"<f />", b"<f>", b"<f>x</f>", b"<f>1</f>", b"<f x/>", b"<fx/>", b"<f/", b"<f <>", b"<f/>x</f>", b"<f>x<", b"<f>x</v>", b"</f>", b"<f x>y</f>", b"<f/></f>"]
_VALUES = [b"<v>x</v>", b"<v></v>", b"<v>x", b"<v>x</f>", b"", b"<v/>", b"<v>a<b</v>", b"<v>#N/A</v>"]
_cells = st.builds(
    lambda head, attrs, close, f, v, tail: head + attrs + close + f + v + tail,
    st.sampled_from([b"<c", b"<cx", b"<c_", b"x<c", b"<<c"]),
    st.lists(st.sampled_from(_ATTR_PIECES), max_size=5).map(b"".join),
    st.sampled_from([b">", b"", b"<>", b"/>"]),
    st.sampled_from(_FORMULAS),
    st.sampled_from(_VALUES),
    st.lists(st.sampled_from(_CELL_PIECES), max_size=4).map(b"".join),
)


@settings(max_examples=3000)
@given(st.one_of(_cells, st.lists(st.sampled_from(_CELL_PIECES), max_size=16).map(b"".join)))
def test_the_error_cell_at_a_start_is_the_pattern_s_match(data):
    """_error_cell_at, one pass, gives what the pattern's match at the same start gives, at
    every start of any string of the pieces cells are made of."""
    pattern = read._error_cell_re()
    for start in range(len(data)):
        found = pattern.match(data, start)
        expected = None if found is None else (found.start(), found.end(), found[1], found[2])
        assert read._error_cell_at(data, start) == expected, (data, start)


def test_a_tag_of_many_t_e_is_read_in_one_pass():
    """A cell tag holding thousands of t="e" and no ">" (it fits in an XML comment of a sheet
    that stays well-formed): the pattern, tried at each of them, took ~n³ steps (4 s for 400,
    minutes for a few thousand); the guard now reads each start once, in one pass. Run in a
    child process with a bound far above the one pass, far below the pattern's time."""
    code = "from kofu_xl.book import read; read._sheet_cells({'s': b'<!--<c ' + b' t=\"e\"' * 5000 + b'-->'}); print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "ok", r.stderr[-400:]
