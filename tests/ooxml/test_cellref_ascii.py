"""parse_ref reads an ASCII reference without its pattern (compiled at first use for the rest):
the same answer, or the same refusal, as the pattern it was, written out here."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.ooxml import cellref

OLD_REF_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def old_parse_ref(text):
    m = OLD_REF_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"セル番地として読めません: {text!r}")
    row, col = int(m[2]), cellref.col_index(m[1])
    if not (1 <= row <= cellref.MAX_ROW and 1 <= col <= cellref.MAX_COL):
        raise ValueError(f"セル番地がシートの範囲外です: {text!r}")
    return row, col


def outcome(f, text):
    try:
        return f(text)
    except ValueError as exc:
        return str(exc)


# references and near-references: letters (any case, the German sharp s and a ligature that
# upper-case to ASCII), "$", digits (ASCII, Arabic-Indic, full width), spaces and line ends
_piece = st.sampled_from(["$", "A", "b", "Z", "XFD", "XFE", "ß", "ﬀ", "0", "1", "9", "٣", "１", "1048576", "1048577", " ", "\n", "\t", ":", "-", "é"])
_refs = st.one_of(st.lists(_piece, max_size=7).map("".join), st.text(max_size=8))


@settings(max_examples=1000)
@given(_refs)
def test_parse_ref_is_the_old_pattern(text):
    assert outcome(cellref.parse_ref.__wrapped__, text) == outcome(old_parse_ref, text)


def test_every_short_ascii_text_reads_as_the_old_pattern():
    alphabet = "$AZaz09 \n"
    texts = [""]
    for _ in range(5):
        texts = [t + c for t in texts for c in alphabet] + texts
    for text in set(texts):
        assert outcome(cellref.parse_ref.__wrapped__, text) == outcome(old_parse_ref, text), repr(text)


def test_parse_ref():
    assert cellref.parse_ref("E9") == (9, 5)
    assert cellref.parse_ref(" $ab$12 ") == (12, 28)
    assert cellref.parse_ref("A١٢") == (12, 1)  # any decimal digit, as before
    for bad in ("", "E", "9", "E9:F9", "ABCD1", "$$A1", "A$$1", "A0", None, 5):
        with pytest.raises(ValueError):
            cellref.parse_ref(bad)
