"""The shipped index of municipalities (kofu_xl/core/dantai.py), read back by the csv module."""

from __future__ import annotations

import csv
import io
from importlib import resources

from kofu_xl.core.dantai import municipality_of


def test_every_code_of_the_shipped_table_names_its_municipality() -> None:
    text = resources.files("kofu_xl.data").joinpath("municipalities.csv").read_text(encoding="utf-8")
    table = {row["団体コード"]: (row["都道府県名"], row["市区町村名"]) for row in csv.DictReader(io.StringIO(text))}
    assert len(table) == 1741
    assert {code: municipality_of(code) for code in table} == table


def test_a_code_is_compared_as_typed_in_any_width_and_nothing_else_matches() -> None:
    assert municipality_of("１２２３２７") == ("千葉県", "白井市")
    assert municipality_of(" 122327 ") == ("千葉県", "白井市")
    for other in ("", "12232", "1223270", "000000", "団体コード", "122327,千葉県"):
        assert municipality_of(other) is None, other


def test_a_code_searched_for_in_the_text_finds_the_indexed_line(monkeypatch):
    """municipality_of searches the table's text for the first few 6-digit codes instead of
    indexing its 1,741 lines: the same line (or none) as the index for every code of the
    table and for codes it does not hold, and the header read the same way."""
    import random

    from kofu_xl.core import dantai

    text, columns = dantai._table()
    lines = text.splitlines()
    header = next(csv.reader([lines[0]]))
    assert columns == (header.index("都道府県名"), header.index("市区町村名"))
    index = dantai._municipalities()
    assert len(index) == len(lines) - 1 > 1700  # no code twice: the index keeps the last line, the search finds the first
    rng = random.Random(17)
    absent = [f"{rng.randrange(1_000_000):06d}" for _ in range(2000)] + ["000000", "999999", "団体コード"[:6]]
    for code in [*index, *absent]:
        monkeypatch.setattr(dantai, "_searches", 0)
        assert dantai._line_of(code) == index.get(code), code
    monkeypatch.setattr(dantai, "_searches", dantai._FOUND_IN_TEXT)  # from the index from now on
    assert dantai._line_of("122327") == index["122327"]
    assert municipality_of("１２２３２７") == ("千葉県", "白井市")
