"""The cells of a finding's parts are split without a pattern when they are ASCII (the pattern,
compiled at first use, splits the rest): the same groups as the pattern it was."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.core import findings

OLD_CELL_RE = re.compile(r"([A-Z]{1,3})(\d+)")


def old_parts(cell):
    m = OLD_CELL_RE.fullmatch(cell)
    return (m[1], m[2]) if m else None


_piece = st.sampled_from(["A", "Q", "Z", "XFD", "ABCD", "a", "0", "5", "52", "٣", "１", " ", "\n", "$", ":", "é"])
_cells = st.one_of(st.lists(_piece, max_size=6).map("".join), st.text(max_size=6))


@settings(max_examples=1000)
@given(_cells)
def test_cell_parts_are_the_old_pattern(cell):
    assert findings._cell_parts(cell) == old_parts(cell)


def test_every_short_ascii_cell_splits_as_the_old_pattern():
    alphabet = "AZa09 \n$"
    cells = [""]
    for _ in range(5):
        cells = [t + c for t in cells for c in alphabet] + cells
    for cell in set(cells):
        assert findings._cell_parts(cell) == old_parts(cell), repr(cell)


def test_cell_runs():
    assert findings._cell_runs(["Q52", "R52", "S52", "U52", "U53", "X٣", "Y٣"]) == ["Q52:S52", "U52", "U53", "X٣:Y٣"]
