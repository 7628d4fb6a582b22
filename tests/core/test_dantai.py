"""The shipped index of municipalities (kofu_xl/core/dantai.py), read back by the csv module."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# A check's first lookups search the table's text (kofu_xl.core.dantai._municipality_line);
# later ones, and any code the search cannot answer exactly, take the index of every line.
_CODES = ["011002", "122327", "122328", "471003", "000001"]
_NAMES = st.text(alphabet="北海道白井市千葉県,\"\r\u2028 \x85x", max_size=6)


def _uncached_index():
    from kofu_xl.core import dantai

    return dantai._municipality_index.__wrapped__


_UNCACHED_INDEX = _uncached_index()


def _searched_and_indexed(monkeypatch, text: str, code: str) -> tuple[str | None, str | None]:
    from kofu_xl.core import dantai

    monkeypatch.setattr(dantai, "_municipality_data", lambda: text.encode("utf-8"))  # what the search reads
    monkeypatch.setattr(dantai, "_municipality_table", lambda: text)  # what the index reads
    monkeypatch.setattr(dantai, "_municipality_index", _UNCACHED_INDEX)
    monkeypatch.setattr(dantai, "_searched", 0)
    searched = dantai._municipality_line(code)
    monkeypatch.setattr(dantai, "_searched", dantai._SEARCHED_LOOKUPS)  # the index from here on
    return searched, dantai._municipality_line(code)


def test_the_searched_line_of_every_shipped_code_is_the_indexed_one(monkeypatch) -> None:
    from kofu_xl.core import dantai

    text = dantai._municipality_table()
    assert text.encode("utf-8") == dantai._municipality_data()  # valid UTF-8, no line break a text reading translates
    codes = [line[:6] for line in text.splitlines()[1:]]
    for code in [*codes, "", "12232", "1223270", "000000", "団体コード", "122327,千葉県", "１２２３２７", "12232\n"]:
        searched, indexed = _searched_and_indexed(monkeypatch, text, code)
        assert searched == indexed, code


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.sampled_from(_CODES), _NAMES), max_size=6),
    st.sampled_from(["\n", "\r\n", "\u2028"]),
    st.booleans(),
    st.one_of(st.sampled_from(_CODES), st.text(alphabet="0123456789,\n\r", max_size=8)),
)
def test_a_searched_line_is_the_indexed_one_in_any_table(monkeypatch, rows, newline, trailing, code) -> None:
    """Duplicated codes (the index keeps the last), other line breaks, commas and line breaks in
    names or in the code, a last line without its line break: the same line either way."""
    text = newline.join(["団体コード,都道府県名,市区町村名", *(f"{c},{n},{n}" for c, n in rows)]) + (newline if trailing else "")
    searched, indexed = _searched_and_indexed(monkeypatch, text, code)
    assert searched == indexed



def _problem_by_expressions(code: str, prefecture: str | None):
    """dantai_problem as it was written with regular expressions (its digit questions)."""
    import re
    import unicodedata

    from kofu_xl.core import dantai

    text = unicodedata.normalize("NFKC", code).strip()
    if not re.fullmatch(r"\d{6}", text):
        if re.fullmatch(r"\d{5}", text) and (hints := dantai.code_suggestions(text)):
            return (hints[0][:6], f"5桁です。{'または'.join(hints)}ではありませんか。団体コードは検査数字を含む6桁で入力してください")
        return ("6桁の数字", "6桁の数字ではありません。検査数字を含む6桁（例: 122327）で入力してください")
    return dantai.dantai_problem(text, prefecture)  # six decimal digits: the rest is unchanged


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(["1", "2", "7", "２", "٣", "\u0660", "\u1369", "\U00010a40", " ", "\u3000", "\u2028", "\x1c", "\n", "a", "白"]), max_size=8)
    | st.sampled_from(["122327", "12232", "１２２３２", "12232\n", "٠١٢٣٤", "122320"])
    | st.text(max_size=8)
)
def test_code_and_name_questions_read_as_their_expressions_did(text) -> None:
    """dantai_problem's digit questions and name_key without regular expressions:
    str.isdecimal is \\d, str.split's white space is \\s."""
    import re
    import unicodedata

    from kofu_xl.core.dantai import dantai_problem, name_key

    assert dantai_problem(text, "千葉県") == _problem_by_expressions(text, "千葉県")
    assert name_key(text) == re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.mark.parametrize("stored", ["a\r\nb\rc\nd", "a\r\r\nb\r", "\r\n", "no break", "行\r\n"])
def test_the_table_s_text_is_the_universal_newline_reading_of_its_bytes(monkeypatch, tmp_path, stored):
    from kofu_xl.core import dantai

    path = tmp_path / "t.csv"
    path.write_bytes(stored.encode("utf-8"))
    monkeypatch.setattr(dantai, "_municipality_data", lambda: path.read_bytes())
    assert dantai._municipality_table.__wrapped__() == path.read_text(encoding="utf-8")
