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
