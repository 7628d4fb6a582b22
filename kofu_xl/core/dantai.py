"""団体コード (local government codes) and the prefectures they belong to."""

from __future__ import annotations

import csv
import unicodedata
from functools import cache

from kofu_xl.data import data_path

__all__ = ["PREFECTURES", "check_digit", "code_suggestions", "dantai_problem", "municipality_of", "name_key"]

# JIS X 0401 prefecture codes: the first two digits of a 団体コード.
PREFECTURES: dict[str, str] = dict(
    zip(
        [f"{i:02d}" for i in range(1, 48)],
        (
            "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 "
            "新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 "
            "奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 "
            "熊本県 大分県 宮崎県 鹿児島県 沖縄県"
        ).split(),
        strict=True,
    )
)


def check_digit(first5: str) -> str:
    """Modulus 11 with weights 6,5,4,3,2; check = 11 - (sum mod 11), last digit (122327 -> 7)."""
    total = sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def dantai_problem(code: str, prefecture: str | None) -> tuple[str, str] | None:
    """None when the code is valid for the prefecture; else (expected, reason in Japanese)."""
    text = unicodedata.normalize("NFKC", code).strip()
    if not (len(text) == 6 and text.isdecimal()):  # (str.isdecimal is the regular expressions' \d)
        if len(text) == 5 and text.isdecimal() and (hints := code_suggestions(text)):
            return (hints[0][:6], f"5桁です。{'または'.join(hints)}ではありませんか。団体コードは検査数字を含む6桁で入力してください")
        return ("6桁の数字", "6桁の数字ではありません。検査数字を含む6桁（例: 122327）で入力してください")
    pref = PREFECTURES.get(text[:2])
    if pref is None:
        return ("01〜47 で始まるコード", f"先頭2桁 {text[:2]} は都道府県コード（01〜47）ではありません。自団体の6桁のコードを入力してください")
    expected = text[:5] + check_digit(text[:5])
    if expected != text:
        found = municipality_of(expected)
        whose = f"で、{expected} は{found[0]}{found[1]}のコードです" if found else "です"
        return (expected, f"検査数字（6桁目）が正しくありません。{text[:5]} の検査数字は {expected[-1]} {whose}。正しいコードを入力してください")
    if prefecture and unicodedata.normalize("NFKC", prefecture).strip() != pref:
        return (pref, f"先頭2桁 {text[:2]} は{pref}のコードですが、都道府県名は「{prefecture}」です。団体コードか都道府県名を直してください")
    return None


@cache
def _municipality_data() -> bytes:
    """The shipped table of the 1,741 municipalities as stored: UTF-8 text, 団体コード its first
    column (tests/core/test_dantai.py holds it valid UTF-8)."""
    return data_path("municipalities.csv").read_bytes()


@cache
def _municipality_columns() -> tuple[int, int]:
    """The table's columns of 都道府県名 and 市区町村名 (its first line, as a text reading gives it)."""
    data = _municipality_data()
    end = data.find(b"\n")
    first = (data if end < 0 else data[: end + 1]).decode("utf-8").splitlines()
    columns = next(csv.reader(first[:1] or [""]))
    if columns[0] != "団体コード":
        raise ValueError("municipalities.csv: 団体コード must be the first column")
    return columns.index("都道府県名"), columns.index("市区町村名")


@cache
def _municipality_table() -> str:
    """The table as text, as a reading with universal newlines gives it (of the same bytes the
    search reads: the file is read once)."""
    text = _municipality_data().decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@cache
def _municipality_index() -> dict[str, str]:
    """The table's lines by 団体コード (what precedes a line's first comma; the last line of a
    code given twice)."""
    _header, *lines = _municipality_table().splitlines()
    return {line[: line.find(",")]: line for line in lines}


# Lookups answered by searching the table's bytes before it is decoded and indexed: a check
# looks up one or two codes (decoding and indexing all 1,741 lines cost ~2 ms of its start), a
# roll-up thousands.
_SEARCHED_LOOKUPS = 8
_searched = 0


def _municipality_line(code: str) -> str | None:
    """The table's line of ``code``, as :func:`_municipality_index` gives it. A search of the
    stored bytes finds the same line where the index is exact for it: a code of six ASCII digits
    (no comma, no line break) in a table whose only line break is "\n" (no "\r" for the text
    reading to translate, none of the others str.splitlines knows), the last such line as the
    index keeps."""
    global _searched
    if _searched < _SEARCHED_LOOKUPS and len(code) == 6 and code.isascii() and code.isdigit():
        data = _municipality_data()
        if _plain_lines(data):
            _searched += 1
            at = data.rfind(b"\n" + code.encode("ascii") + b",")
            if at < 0:
                return None
            end = data.find(b"\n", at + 1)
            return data[at + 1 : end if end >= 0 else len(data)].decode("utf-8")
    return _municipality_index().get(code)


# Every line boundary of str.splitlines but "\n", and the "\r" a text reading translates, as
# UTF-8 encodes them (a byte sequence only these characters' encodings hold, in valid UTF-8)
_OTHER_BREAKS = tuple(sep.encode("utf-8") for sep in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@cache
def _plain_lines(data: bytes) -> bool:
    """True when "\n" is the only line boundary of the table's text, and the text is ``data``."""
    return not any(sep in data for sep in _OTHER_BREAKS)


def municipality_of(code: str) -> tuple[str, str] | None:
    """(都道府県名, 市区町村名) of a 団体コード, None when it is not a municipality's code."""
    line = _municipality_line(unicodedata.normalize("NFKC", code).strip())
    if line is None:
        return None
    pref, name = _municipality_columns()
    row = next(csv.reader([line]))
    return row[pref], row[name]


def name_key(name: str) -> str:
    """A name as compared: NFKC, without spaces (全角・半角 and 「白井 市」 compare equal)."""
    return "".join(unicodedata.normalize("NFKC", name).split())  # (str.split's white space is the regular expressions' \s)


def _named(code: str) -> str:
    found = municipality_of(code)
    return f"{code}（{found[0]}{found[1]}）" if found else code


def code_suggestions(text: str) -> list[str]:
    """Codes a clerk probably meant by ``text`` (already NFKC, digits only), each with its name:
    for 5 digits the code without its leading zero and the code without its check digit; for 6
    digits with a wrong check digit, the first five with the right one. Only codes of the
    municipality table (or, without a match there, with a valid check digit)."""
    candidates: list[str] = []
    if len(text) == 5:
        candidates = ["0" + text, text + check_digit(text)]
    elif len(text) == 6:
        candidates = [text[:5] + check_digit(text[:5])]
    valid = [c for c in candidates if c[:2] in PREFECTURES and check_digit(c[:5]) == c[5]]
    known = [c for c in valid if municipality_of(c)]
    return [_named(c) for c in (known or valid)]
