"""email_problem and phone_problem tell the plain cases with str methods (the e-mail patterns,
compiled at first use, decide the rest): the same answers as the patterns they were, written
out here."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.core import rules

OLD_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
OLD_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def old_email_problem(address):
    if unicodedata.normalize("NFKC", address) != address:
        return "全角文字が含まれています。半角で入力してください"
    if address.count("@") != 1:
        return "@ がちょうど1つ必要です"
    local, domain = address.split("@")
    if not local or not OLD_LOCAL_RE.match(local):
        return "@ の前の部分が正しくありません"
    labels = domain.split(".")
    if len(labels) < 2 or not all(OLD_LABEL_RE.match(x) for x in labels):
        return "@ の後のドメインが正しくありません"
    tld = labels[-1].lower()
    if tld not in rules._TLDS:
        if tld == "lg":
            return f"ドメインが「.{tld}」で終わっています。地方公共団体のドメインは「.lg.jp」で終わります（末尾が切れていないかも確認してください）"
        return f"ドメインの末尾「.{tld}」は存在しないトップレベルドメインです"
    return None


def old_phone_problem(number):
    text = unicodedata.normalize("NFKC", number).strip()
    if not re.fullmatch(r"[0-9()\- ]+", text):
        return "数字・ハイフン・括弧以外の文字が含まれています"
    digits = re.sub(r"\D", "", text)
    if not digits.startswith("0"):
        return "0 で始まっていません（市外局番から入力してください）"
    if len(digits) not in (10, 11):
        return f"数字が {len(digits)} 桁です（10桁または11桁）"
    return None


_email_piece = st.sampled_from(
    ["@", ".", "..", "-", "a", "Z9", "o'brien", "x+y", "{|}~", "lg", "jp", "city", "\n", " ", "é", "Ａ", "_", "a" * 62, "b" * 63, "c" * 64, "\x00"]
)
_addresses = st.one_of(st.lists(_email_piece, max_size=8).map("".join), st.text(max_size=12))


@settings(max_examples=2000)
@given(_addresses)
def test_email_problem_is_the_old_patterns(address):
    assert rules.email_problem(address) == old_email_problem(address)


def test_every_character_in_a_local_part_and_a_label_as_the_old_patterns():
    for cp in range(0x3000):
        ch = chr(cp)
        for local in (ch, "a" + ch, ch + "b", "a.%s.b" % ch, ch + "\n"):
            assert (rules._plain_local(local) or bool(rules._local_re().match(local))) is bool(OLD_LOCAL_RE.match(local)), repr(local)
            if rules._plain_local(local):
                assert OLD_LOCAL_RE.match(local)
        for label in (ch, "a" + ch, ch + "b", "a%sb" % ch, ch + "\n"):
            assert (rules._plain_label(label) or bool(rules._label_re().match(label))) is bool(OLD_LABEL_RE.match(label)), repr(label)
            if rules._plain_label(label):
                assert OLD_LABEL_RE.match(label)


def test_email_problem_examples():
    assert rules.email_problem("kofu@city.shiroi.lg.jp") is None
    assert rules.email_problem("kofu\n@city.shiroi.lg.jp") is None  # "$" lets a final line feed through, as before
    assert rules.email_problem("a..b@city.lg.jp") == "@ の前の部分が正しくありません"
    assert rules.email_problem("a@" + "x" * 64 + ".jp") == "@ の後のドメインが正しくありません"
    assert rules.email_problem("a@" + "x" * 63 + ".jp") is None


_phone_piece = st.sampled_from(["0", "3", "9", "12", "-", "(", ")", " ", "\u3000", "０", "（", "－", "٣", "+81", "\n", "a", "ー"])
_numbers = st.one_of(st.lists(_phone_piece, max_size=14).map("".join), st.text(max_size=12))


@settings(max_examples=2000)
@given(_numbers)
def test_phone_problem_is_the_old_patterns(number):
    assert rules.phone_problem(number) == old_phone_problem(number)


def test_phone_problem_on_every_character():
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isdecimal() or cp < 0x3100 or 0xFF00 <= cp <= 0xFFEF:
            for number in (ch, "03-1234-567" + ch, ch + "0312345678"):
                assert rules.phone_problem(number) == old_phone_problem(number), repr(number)
