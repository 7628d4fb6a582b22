"""Many cells of an openpyxl-written .xlsx rewritten in one pass, as openpyxl would have written them.

`rewrite_cells` takes a package openpyxl 3.1 saved (lxml's writer) and returns the package
openpyxl would have saved had the same workbook held other values in some cells: each
listed cell's element is written again (its style ``s`` kept), every other byte of the
sheets stays, the core properties get the document's title and the moment of the save,
and the zip is written entry by entry as openpyxl writes it (same order, attributes and
compression; every entry dated the moment of the save; the title marked xml:space="preserve"
when it has white space at either end, as openpyxl marks it). One scan over each sheet's cells,
whatever the number of cells rewritten (`kofu_xl.ooxml.package.splice_cells` looks its few
cells up by a pattern per call).

What is written, as openpyxl writes a value it is given: None an empty ``t="n"`` cell, ""
an empty ``t="inlineStr"`` cell, a text inline (``&``, ``<``, ``>``, CR escaped, every
character beyond ASCII as a character reference, ``xml:space="preserve"`` when it has
white space at either end), a number ``t="n"`` in ``%.16g``, a date as its serial day
(1900 date system). Anything else raises ValueError: a bool, a time, a text that XML cannot
carry or longer than a cell holds, a non-finite number, a cell that is not in the part or
that holds a formula. Nothing here knows what the cells mean.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import time
import zipfile
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kofu_xl.ooxml.formulas import xml_text

__all__ = ["rewrite_cells"]

_CORE_PART = "docProps/core.xml"
_MAX_TEXT = 32_767  # openpyxl cuts a longer text: not written here
# a character XML 1.0 cannot carry (lxml refuses it), a lone surrogate, U+FFFE/U+FFFF
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# a cell as openpyxl's lxml writer writes it: r, then s and t when present, and always a closing tag
_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"( s="[0-9]+")?(?: t="[A-Za-z]+")?>(.*?)</c>', re.DOTALL)
_SHEET = re.compile(rb'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_SHEET_ALT = re.compile(rb'<sheet\b[^>]*?\br:id="([^"]*)"[^>]*?\bname="([^"]*)"')
_REL = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"|<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
_TITLE = re.compile(rb"(<dc:title\b[^>]*>)(.*?)(</dc:title>)", re.DOTALL)
_MODIFIED = re.compile(rb"(<dcterms:modified\b[^>]*>)([^<]*)(</dcterms:modified>)")
_EPOCH = dt.datetime(1899, 12, 30)
_PRESERVE = b' xml:space="preserve"'


def _sheet_parts(parts: Mapping[str, bytes]) -> dict[str, str]:
    """Sheet name -> part name, from xl/workbook.xml and its relationships (openpyxl's paths),
    by pattern: ooxml.package's reading of them loads the XML toolkit, which submit does not."""
    workbook = parts.get("xl/workbook.xml")
    rels = parts.get("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        raise ValueError("not a package openpyxl wrote: no xl/workbook.xml or its relationships")
    targets: dict[str, str] = {}
    for m in _REL.finditer(rels):
        target, rid = (m[1], m[2]) if m[1] is not None else (m[4], m[3])
        t = target.decode("utf-8")
        targets[rid.decode("utf-8")] = t[1:] if t.startswith("/") else "xl/" + t
    out: dict[str, str] = {}
    found = [(m[1], m[2]) for m in _SHEET.finditer(workbook)] or [(m[2], m[1]) for m in _SHEET_ALT.finditer(workbook)]
    for name, rid in found:
        part = targets.get(rid.decode("utf-8"))
        if part is not None:
            out[xml_text(name.decode("utf-8"))] = part  # (an attribute's references decode as character data's)
    return out


def _escaped(text: str) -> str:
    """Character data as openpyxl's lxml writer escapes it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _text_xml(value: str) -> str:
    if len(value) > _MAX_TEXT or _BAD_TEXT.search(value):
        raise ValueError(f"a text openpyxl would not write as given: {value[:40]!r}")
    text = _escaped(value)
    if not text.isascii():
        text = text.encode("ascii", "xmlcharrefreplace").decode("ascii")
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f"<is><t{space}>{text}</t></is>"


def _cell_xml(ref: str, style: str, value: Any) -> str:
    head = f'<c r="{ref}"{style}'
    if value is None:
        return f'{head} t="n"></c>'
    if isinstance(value, str):
        return f'{head} t="inlineStr"></c>' if value == "" else f'{head} t="inlineStr">{_text_xml(value)}</c>'
    if isinstance(value, bool):
        raise ValueError(f"{ref}: a bool is not rewritten")  # noqa: TRY004 - one error for whatever is not rewritten
    if isinstance(value, (int, float, Decimal)):
        if not math.isfinite(value):
            raise ValueError(f"{ref}: not a finite number")
        return f'{head} t="n"><v>{"%.16g" % value}</v></c>'  # noqa: UP031 - openpyxl's own format
    if type(value) is dt.date:
        days = (dt.datetime(value.year, value.month, value.day) - _EPOCH).days
        if days <= 60:
            raise ValueError(f"{ref}: a date before 1900-03-01 is not rewritten")
        return f'{head} t="n"><v>{days}</v></c>'
    raise ValueError(f"{ref}: a {type(value).__name__} is not rewritten")


def _rewrite_sheet(data: bytes, cells: Mapping[str, Any], part: str) -> bytes:
    out: list[bytes] = []
    cursor = 0
    done = 0
    wanted = {ref.encode("ascii"): value for ref, value in cells.items()}
    for m in _CELL.finditer(data):
        raw = m[1]
        if raw not in wanted:
            continue
        ref = raw.decode("ascii")
        if b"<f" in m[3]:
            raise ValueError(f"{part}!{ref} holds a formula")
        out.append(data[cursor : m.start()])
        out.append(_cell_xml(ref, "" if m[2] is None else m[2].decode("ascii"), wanted[raw]).encode("ascii"))
        cursor = m.end()
        done += 1
    if done != len(cells):
        raise ValueError(f"{part}: {len(cells) - done} of the cells to rewrite are not in the part (or are there twice)")
    out.append(data[cursor:])
    return b"".join(out)


def _core(data: bytes, title: str | None, moment: float) -> bytes:
    stamp = dt.datetime.fromtimestamp(moment, dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    data, n = _MODIFIED.subn(lambda m: m[1] + stamp.encode("ascii") + m[3], data, count=1)
    if n != 1:
        raise ValueError("the core properties hold no modification time")
    if title is not None:
        if _BAD_TEXT.search(title):
            raise ValueError(f"a title openpyxl would not write as given: {title[:40]!r}")
        text = _escaped(title).encode("utf-8")
        # openpyxl marks a title with white space at either end (not one of white space only)
        space = _PRESERVE if title.strip() and title != title.strip() else b""
        data, n = _TITLE.subn(lambda m: m[1][:-1].replace(_PRESERVE, b"") + space + b">" + text + m[3], data, count=1)
        if n != 1:
            raise ValueError("the core properties hold no title to replace")
    return data


def rewrite_cells(
    package: bytes,
    values: Mapping[str, Mapping[str, Any]],
    *,
    title: str | None = None,
    moment: float | None = None,
    zip_time: tuple[int, int, int, int, int, int] | None = None,
) -> bytes:
    """``package`` (an .xlsx openpyxl 3.1 saved) with ``values`` ({sheet: {"E9": value}}) in
    those cells and ``title`` as the document's title (None: kept), saved at ``moment``
    (seconds since the epoch; now by default) as openpyxl saves: core properties'
    modification time in UTC, every zip entry dated in local time (``zip_time`` instead, when
    given: a stored copy that must not depend on the time zone). Raises ValueError for a
    value, a cell, a sheet or a package it does not rewrite (see the module)."""
    moment = time.time() if moment is None else moment
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        infos = zf.infolist()
        parts = {info.filename: zf.read(info) for info in infos}
    if len(parts) != len(infos):
        raise ValueError("duplicate zip entries")
    sheets = _sheet_parts(parts)
    for sheet, cells in values.items():
        part = sheets.get(sheet)
        if part is None or part not in parts:
            raise ValueError(f"no sheet {sheet!r} in the package")
        if cells:
            parts[part] = _rewrite_sheet(parts[part], cells, part)
    if _CORE_PART not in parts:
        raise ValueError("the package has no core properties")
    parts[_CORE_PART] = _core(parts[_CORE_PART], title, moment)
    stamp = zip_time or time.localtime(moment)[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
        for info in infos:
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            entry.create_system = info.create_system
            out.writestr(entry, parts[info.filename])
    return buffer.getvalue()
