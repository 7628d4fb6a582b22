"""Formula texts of a worksheet part, read without a workbook library.

A regular-expression scan of the part's bytes: a few milliseconds for a plan's sheet, and
nothing heavy imported, so reading a file (``kofu-xl check``) does not load openpyxl. Only a
shared formula (Excel writes one when a clerk fills a formula down) needs translating to the
cells it covers; openpyxl's formula translator does that, imported the first time one is met.
"""

from __future__ import annotations

import pyexpat
import re

from kofu_xl._lazy_re import compiled_at_first_use

__all__ = ["formula_texts", "xml_text", "xml_texts"]


# The general scan's patterns (below, and _REFERENCE) are compiled at first use: the sheets of a
# workbook as the build writes it take the one-pass reading (_plain_formula_texts, xml_texts).
# A tag's attributes never hold a raw "<" (XML forbids it in attribute values): [^<>] stops each
# try at the next tag, where [^>] ran on to the next ">" -- quadratic over a comment, CDATA
# or processing instruction holding thousands of "<f" (a 150 KB file kept check busy for hours).
_FORMULA = compiled_at_first_use(rb"<(?:\w+:)?f\b([^<>]*?)(?:/>|>([^<]*)</(?:\w+:)?f>)")
# _FORMULA in a part without ":f", where no tag can have a prefix: the same matches, found by
# its literal prefix "<f" instead of trying the pattern at every "<" (a third of the time)
_UNPREFIXED_FORMULA = compiled_at_first_use(rb"<f\b([^<>]*?)(?:/>|>([^<]*)</f>)")
_CELL_START = compiled_at_first_use(rb"<(?:\w+:)?c\s([^<>]*)>")
_ATTR = compiled_at_first_use(rb'\b(r|t|si)="([^"]*)"')
# A part holding a formula holds a start tag "<f" (or "<x:f") and a space, "/" or ">": asked
# first, the fast way (a literal prefix), a sheet without one is not scanned (a values-only
# package's seven sheets: ~0.6 ms of aggregate's reading of it)
_HAS_FORMULA = compiled_at_first_use(rb"<(?:\w+:)?f[\s/>]")
_PLAIN_FORMULA = compiled_at_first_use(rb"<f[\s/>]")  # _HAS_FORMULA without a prefix
_F_TAG_ENDS = frozenset(b" \t\n\r\f\v/>")  # what [\s/>] matches in a bytes pattern
_TAG_TRIES = 64  # the "<f" looked at one by one before a pattern is asked


def _has_formula(sheet_xml: bytes) -> bool:
    """Whether _HAS_FORMULA matches: a match without a prefix is _PLAIN_FORMULA's, one with a
    prefix holds ":f"."""
    return _plain_formula_tag(sheet_xml) or (b":f" in sheet_xml and _HAS_FORMULA().search(sheet_xml) is not None)


def _plain_formula_tag(sheet_xml: bytes) -> bool:
    """Whether ``_PLAIN_FORMULA().search(sheet_xml)`` finds a match: at once when the part
    holds a "<f>" (a part with formulas); else each "<f" is looked at (a sheet without formulas
    holds a few, of <formula1> or <firstHeader>), the first _TAG_TRIES of them, and the pattern
    looks from the next one on."""
    if b"<f>" in sheet_xml:
        return True
    at = sheet_xml.find(b"<f")
    for _ in range(_TAG_TRIES):
        if at < 0:
            return False
        after = sheet_xml[at + 2 : at + 3]
        if after and after[0] in _F_TAG_ENDS:
            return True
        at = sheet_xml.find(b"<f", at + 2)
    return at >= 0 and _PLAIN_FORMULA().search(sheet_xml, at) is not None


_F_TAG = compiled_at_first_use(rb"<f\b")  # where any match of _UNPREFIXED_FORMULA starts (and maybe more)
# The largest part read in one pass (a plan's sheets: < 150 KB). A larger one goes to the
# general scan, which keeps nothing per "<f": split and findall hold every piece and every
# match at once, ~48 bytes each (a 40 MiB part of "<f" in a comment: ~1.1 GB; of 1.7 million
# one-cell formulas: check's peak 103 -> 265 MB), at most ~25 MiB for a part of this size.
_ONE_PASS_MAX = 1024 * 1024
# A cell start tag's attributes as the build writes them: the reference first (at most 32
# bytes, no quote), the rest at most 4,000 bytes, no "<" or ">" in either; _PLAIN_TAGS: such
# tags joined by "<"
_PLAIN_TAG = rb'r="[^"<>]{0,32}"[^<>]{0,4000}'
_PLAIN_TAGS = compiled_at_first_use(_PLAIN_TAG + rb"(?:<" + _PLAIN_TAG + rb")*")
_TAG_CELL = compiled_at_first_use(r'r="([^"]*)"')
_PLAIN_TEXT = compiled_at_first_use(rb"><f>([^<]*)</f>")
# _F_TAG and these compiled at first use: a part without formulas needs none of them, and the
# texts of the parts the build writes are cut with bytes methods (each piece's "</f>"), the
# pattern asked only when those cannot tell


def formula_texts(sheet_xml: bytes) -> dict[str, str]:
    """{cell: formula text without "="} of a worksheet part, as written (entities decoded).
    A shared formula is translated to each cell it covers; the cells of an array formula
    other than its anchor hold none. A regular-expression scan (a few milliseconds for a
    plan's sheet; the splicing scanner of kofu_xl.ooxml.package is far slower)."""
    if not _has_formula(sheet_xml):
        return {}
    if b":f" not in sheet_xml:
        plain = _plain_formula_texts(sheet_xml)
        if plain is not None:
            return plain
    return _scanned_formula_texts(sheet_xml)


def _plain_formula_texts(sheet_xml: bytes) -> dict[str, str] | None:
    """formula_texts of a part whose every formula is written as the build (and Excel) writes
    it, found with their cells by splitting the part at each "><f>"; None when any is not
    (then the general scan reads the part).

    Written as the build writes it: an attribute-less ``<f>text</f>`` (no "<" in the text)
    right after its cell's start tag ``<c r="REF" …>``, the reference first and the only r=
    (the tag holds no "<" or ">", its reference at most 32 bytes and the rest at most 4,000,
    so the tag lies within the 4,096 bytes the general scan looks back for it). Such a
    formula is one match of the general scan (_UNPREFIXED_FORMULA), and the cell the general
    scan finds for it is this tag, read for this r=. The general scan's matches never overlap
    and each starts at a "<f" followed by no word character (_F_TAG): as many of those as
    formulas found here means every formula of the part was found here. Only a part of at
    most _ONE_PASS_MAX bytes (what split and findall hold grows with the part).

    Nothing is asked formula by formula: the tags are cut in a list comprehension and checked
    joined (one pattern, one count), the texts found by one pattern and decoded at once
    (:func:`xml_texts`), the references decoded at once.
    A tag whose reference ends in r= reads as two r= here and sends the part to the general
    scan (never a wrong answer: the general scan is the answer)."""
    if len(sheet_xml) > _ONE_PASS_MAX:
        return None
    pieces = sheet_xml.split(b"><f>")
    if len(pieces) - 1 != len(_F_TAG().findall(sheet_xml)):
        return None
    n = len(pieces) - 1
    if not n:
        return {}
    # before each "><f>": the last cell start tag, whose attributes are the rest of the piece
    heads = [piece.rpartition(b"<c ") for piece in pieces[:-1]]
    if len(b"".join([head[1] for head in heads])) != 3 * n:
        return None
    # the tags joined by "<" (which none holds): each r="REF"REST as _PLAIN_TAG reads it, and
    # no other r=" in any (one each: REF holds no quote)
    tags = b"<".join([head[2] for head in heads])
    if _PLAIN_TAGS().fullmatch(tags) is None or tags.count(b'r="') != n:
        return None
    # after each "><f>": its text, up to the first "<", which is that of "</f>" (one match of
    # _PLAIN_TEXT for each "><f>", or None). When the first "<" after each "><f>" is that of
    # a "</f>", the matches of _PLAIN_TEXT are these texts: each starts at a "><f>" split at
    # (another "><f>" would start a piece with "<f>"), and ends before the next
    ends = [piece.partition(b"<") for piece in pieces[1:]]
    if b"".join([end[2][:3] for end in ends]) == b"/f>" * n:
        texts = [end[0] for end in ends]
    else:
        texts = _PLAIN_TEXT().findall(sheet_xml)
        if len(texts) != n:
            return None
    # the references decoded at once (UTF-8 decodes each piece between ASCII bytes alike)
    cells = _TAG_CELL().findall(tags.decode("utf-8", "replace"))
    return dict(zip(cells, xml_texts(texts), strict=True))


def xml_texts(texts: list[bytes]) -> list[str]:
    """:func:`xml_text` of each UTF-8 text (XML character data, decoded first as UTF-8), all
    at once: expat decodes them joined by line ends, when it reads them as character data
    holding no carriage return (expat reads one, alone or before a line feed, as a line feed)
    and no other line feed, written or referenced; otherwise (or when it refuses them:
    a bare "&", an unknown entity, a character XML forbids) each is decoded by
    :func:`xml_text`."""
    if not texts:
        return []
    joined = b"\n".join(texts)
    if b"&" not in joined:  # nothing to decode but UTF-8
        return [text.decode("utf-8") for text in texts]
    if b"\r" not in joined:  # (a written carriage return before a joining line feed would merge with it)
        try:
            joined.decode("utf-8")  # a text Python cannot decode raises as xml_text's caller would
        except UnicodeDecodeError:
            pass
        else:
            out: list[str] = []
            parser = pyexpat.ParserCreate()
            parser.buffer_text = True
            parser.CharacterDataHandler = out.append
            try:
                parser.Parse(b"<t>" + joined + b"</t>", True)
            except pyexpat.ExpatError:
                pass
            else:
                decoded = "".join(out).split("\n")
                if len(decoded) == len(texts):  # no other line feed
                    return decoded
    return [xml_text(text.decode("utf-8")) if text else "" for text in texts]


def _scanned_formula_texts(sheet_xml: bytes) -> dict[str, str]:
    """formula_texts by the general scan: each formula's cell is found by looking back from
    its <f> for the nearest cell start tag (any attributes, any prefix, shared formulas)."""
    out: dict[str, str] = {}
    shared: dict[str, tuple[str, str]] = {}  # si -> (anchor cell, text)
    for m in (_FORMULA() if b":f" in sheet_xml else _UNPREFIXED_FORMULA()).finditer(sheet_xml):
        window = max(0, m.start() - 4096)  # the cell's start tag is just before its <f>
        start = sheet_xml.rfind(b"<c ", window, m.start())
        if start < 0:  # a prefixed namespace: <x:c ...>
            colon = sheet_xml.rfind(b":c ", window, m.start())
            start = sheet_xml.rfind(b"<", window, colon) if colon >= 0 else -1
        tag = _CELL_START().match(sheet_xml, start) if start >= 0 else None
        cell = dict(_ATTR().findall(tag[1])).get(b"r") if tag else None
        if cell is None:
            continue
        ref = cell.decode("utf-8", "replace")  # (no cell of the layout: a non-ASCII r= is ignored)
        f = dict(_ATTR().findall(m[1])) if m[1] else {}  # (a plan's formulas have no attributes)
        text = xml_text(m[2].decode("utf-8")) if m[2] else ""
        if f.get(b"t") == b"shared":
            si = f.get(b"si", b"").decode("utf-8", "replace")
            if text:
                shared[si] = (ref, text)
            elif si in shared:
                anchor, master = shared[si]
                text = _translate(master, anchor, ref)
        out[ref] = text
    return out


_ENTITIES = {"quot": '"', "apos": "'", "lt": "<", "gt": ">", "amp": "&"}
_REFERENCE = compiled_at_first_use(r"&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|(quot|apos|lt|gt|amp));")


_DECODED: dict[str, str] = {}  # reference ("#20132", "amp") -> character: a plan's formulas repeat ~90 of them ~3,000 times


def _char(m: re.Match[str]) -> str:
    name = m[0][1:-1]
    decoded = _DECODED.get(name)
    if decoded is None:
        decoded = _ENTITIES[m[3]] if m[3] else chr(int(m[1], 16) if m[1] else int(m[2]))
        if len(_DECODED) < 4096:
            _DECODED[name] = decoded
    return decoded


def xml_text(text: str) -> str:
    """XML character data as text, as an XML parser decodes it, in one pass: character
    references (the workbook's writer spells every non-ASCII character of a formula as one)
    and the five predefined entities. No other entity can occur: a DOCTYPE, the only source
    of one, is refused before any part is read.

    A text whose every reference was decoded before is put together from memory (_DECODED
    holds only references _REFERENCE matched: the name up to the first ";" after an "&" is
    the one it matched there); any other is decoded by _REFERENCE, which fills the memory."""
    if "&" not in text:
        return text
    head, *pieces = text.split("&")
    out = [head]
    for piece in pieces:
        name, semicolon, rest = piece.partition(";")
        decoded = _DECODED.get(name) if semicolon else None
        if decoded is None:
            return _REFERENCE().sub(_char, text)
        out.append(decoded)
        out.append(rest)
    return "".join(out)


def _translate(master: str, anchor: str, ref: str) -> str:
    """The text of a shared formula written at ``anchor`` as it reads in ``ref``."""
    from openpyxl.formula.translate import Translator  # only files holding shared formulas need it

    return Translator("=" + master, origin=anchor).translate_formula(ref)[1:]
