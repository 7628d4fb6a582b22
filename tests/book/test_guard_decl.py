"""_plainly_safe compares the XML declarations writers emit as bytes before its pattern
(compiled at first use for the rest): the same end of the declaration as the pattern, which is
written out here."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kofu_xl.book import read

OLD_PLAIN_DECL = re.compile(
    rb"""<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.0"|'1\.0')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"(?i:utf-8)"|'(?i:utf-8)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>"""
)


def test_the_pattern_is_the_old_one():
    assert read._plain_decl().pattern == OLD_PLAIN_DECL.pattern


def test_each_written_declaration_is_one_match_of_the_pattern():
    for decl in read._WRITTEN_DECLS:
        assert OLD_PLAIN_DECL.fullmatch(decl), decl
        for rest in (b"", b"\r\n<a/>", b"<a/>", b"?>", b" ?>"):
            assert read._decl_end(decl + rest) == OLD_PLAIN_DECL.match(decl + rest).end() == len(decl)


_decl_piece = st.sampled_from([b"<?xml", b" ", b"\t", b"\r\n", b"version", b"=", b'"1.0"', b"'1.0'", b'"1.1"', b"encoding", b'"UTF-8"', b'"utf-8"', b"'UTF-8'", b'"Shift_JIS"', b"standalone", b'"yes"', b"'no'", b"?>", b"<a/>", b"?"])


@settings(max_examples=1500)
@given(st.one_of(st.lists(_decl_piece, max_size=14).map(b"".join), st.sampled_from(read._WRITTEN_DECLS).flatmap(lambda d: st.binary(max_size=4).map(lambda b: d + b))))
def test_decl_end_is_the_pattern_s_match(body):
    m = OLD_PLAIN_DECL.match(body)
    assert read._decl_end(body) == (None if m is None else m.end())
