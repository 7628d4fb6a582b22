"""kofu_xl.core.text's patterns, compiled at first use behind a cheap pre-test, give what the
patterns compiled at import gave: the old patterns are written out here and compared."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.core import text

OLD_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
OLD_DDE_RE = re.compile(r"[A-Za-z0-9_.\\-]+\s*\|\s*'[^']*'\s*!")


def old_control_chars(s: str) -> list[str]:
    seen: list[str] = []
    for ch in OLD_CONTROL_RE.findall(s):
        name = f"U+{ord(ch):04X}"
        if name not in seen:
            seen.append(name)
    return seen


def test_every_control_character_makes_a_text_unprintable():
    # the pre-test: isprintable() True means no character of the class is in the text
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if OLD_CONTROL_RE.match(ch):
            assert not ch.isprintable(), hex(cp)
            assert text.control_chars(ch) == [f"U+{cp:04X}"]
            assert text.strip_controls(ch) == ""
            assert text.strip_controls("a" + ch + "b") == "ab"


# texts of printable characters, the class's own, tab/line ends and other unprintable ones
_chars = st.one_of(
    st.characters(),
    st.sampled_from("\x00\x07\x08\t\n\x0b\x0c\r\x0e\x1f\x7f\x80\x85\x9f\xa0\u2028\u3000 |'!-_.=@"),
)
_texts = st.text(_chars, max_size=30)


@settings(max_examples=1000)
@given(_texts)
def test_control_chars_and_strip_controls_are_the_old_patterns(s):
    assert text.control_chars(s) == old_control_chars(s)
    assert text.strip_controls(s) == OLD_CONTROL_RE.sub("", s)


def old_formula_like(s: str) -> bool:
    import unicodedata

    t = unicodedata.normalize("NFKC", s).lstrip(" \t\r\n\u3000")
    if len(t) > 1 and t.startswith(text.FORMULA_START):
        return True
    return bool(OLD_DDE_RE.search(t))


# DDE-shaped texts: a word, spaces, "|", spaces, a quoted part, spaces, "!" -- pieces shuffled
_dde_piece = st.sampled_from(["cmd", "MSEXCEL", "a.b-c_1", " ", "\t", "\u3000", "\u2003", "|", "'", "' /C calc'", "!", "A0", "=", "ｃｍｄ", "｜", "！", "＇"])
_dde_texts = st.one_of(_texts, st.lists(_dde_piece, max_size=9).map("".join))


@settings(max_examples=1000)
@given(_dde_texts)
def test_formula_like_is_the_old_pattern(s):
    assert text.formula_like(s) is old_formula_like(s)


def test_formula_like_finds_dde_calls():
    assert text.formula_like("cmd|' /C calc'!A0")
    assert text.formula_like("x MSEXCEL | '\\..\\calc.exe' !")
    assert text.formula_like("ｃｍｄ｜＇ /C calc＇！A0")  # full width: NFKC first
    assert not text.formula_like("cmd|' /C calc'")
    assert not text.formula_like("a|b!c")
