"""The guard reads an error cell's reference without the pattern when the cell tag starts with
r="REF" (the pattern, compiled at first use, reads the rest): the same reference as the
pattern, which is written out here."""

from __future__ import annotations

import re

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
