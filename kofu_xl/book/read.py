"""Reading a plan out of a workbook, through the layout map.

The reading works on any *cell source* (a grid of values per sheet): a file
read with python-calamine (fast, values only, no macro ever runs), or a live
Excel book through xlwings. The shape of the plan (its columns and fiscal years)
is read from the sheets' own header rows, so a workbook describes itself.
"""

from __future__ import annotations

import io
import itertools
import os
import pyexpat
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import python_calamine
from msgspec import Struct, convert

from kofu_xl._lazy_re import compiled_at_first_use
from kofu_xl.book.computed import computed_cells, computed_inputs, normalize_formula, prefill_values, stored_formulas, stored_formulas_of_shape, stored_positions
from kofu_xl.book.layout import (
    COST_FIRST_COL,
    DAILY,
    DAILY_FIRST_COL,
    FIRST_DATA_COL,
    FOLLOWUP,
    FU_FIRST_COL,
    FU_HEADER_ROW,
    FU_INPUT_PATHS,
    NATIONAL,
    ROW_COST_HEADER,
    ROW_HEADER,
    ROWS_11,
    ROWS_12,
    ROWS_FU,
    ROWS_WORK,
    S11,
    S12,
    WORK,
    Layout,
    layout_for,
)
from kofu_xl.core.calendar import CalendarError, parse_column
from kofu_xl.core.daily import SHEET_FACTS_KEY
from kofu_xl.core.findings import Finding
from kofu_xl.core.model import Parameters, Plan, canonical, iter_leaves, load_plan
from kofu_xl.core.rules import FORMULA_FACTS_KEY
from kofu_xl.core.schedule import default_schedule
from kofu_xl.errors import UnreadableInput
from kofu_xl.ooxml.cellref import parse_ref
from kofu_xl.ooxml.cellref import ref as _ref
from kofu_xl.ooxml.formulas import formula_texts, xml_text
from kofu_xl.ooxml.limits import MAX_ENTRIES, MAX_FILE_BYTES, MAX_PART_BYTES, MAX_SHEET_ROWS, MAX_UNCOMPRESSED, MAX_XML_DEPTH, READ_CHUNK

__all__ = [
    "CellSource",
    "GridSource",
    "MAX_UNCOMPRESSED",
    "read_daily_outside",
    "read_followup_raw",
    "read_plan",
    "read_plan_raw",
    "read_workbook_plan",
    "read_workbook_raw",
    "workbook_layout",
]

# The bounds a workbook is read within live in kofu_xl.ooxml.limits (one place, every command).


class CellSource(Protocol):
    def sheet_names(self) -> list[str]: ...

    def value(self, sheet: str, row: int, col: int) -> Any:
        """The value of a cell (1-based row/column); None when empty."""
        ...


class GridSource:
    """Cell values held as one 2-D list per sheet (row 1 / column 1 at [0][0]).

    ``formulas``: {sheet: {cell: formula text}} for the sheets whose formulas were read
    (from a file); a sheet missing there has unknown formulas (a live book read as values).
    """

    def __init__(self, grids: dict[str, list[list[Any]]], formulas: dict[str, dict[str, str]] | None = None) -> None:
        self.grids = grids
        self.formulas = formulas or {}
        self.data: bytes | None = None  # the file's bytes, when read from a file

    def sheet_names(self) -> list[str]:
        return list(self.grids)

    def value(self, sheet: str, row: int, col: int) -> Any:
        grid = self.grids.get(sheet)
        if grid is None or row > len(grid):
            return None
        line = grid[row - 1]
        if col > len(line):
            return None
        v = line[col - 1]
        return None if v == "" else v

    def row_values(self, sheet: str, row: int, first: int, count: int) -> list[Any]:
        """``count`` cells of a row from column ``first``, as ``value`` gives each."""
        grid = self.grids.get(sheet)
        line = grid[row - 1] if grid is not None and row <= len(grid) else ()
        out = [None if v == "" else v for v in line[first - 1 : first - 1 + count]]
        return out + [None] * (count - len(out))

    @classmethod
    def from_path(cls, path: Path, sheets: Iterable[str] | None = None, with_formulas: Iterable[str] = ()) -> GridSource:
        """Read the values of a .xlsx/.xlsm with python-calamine (never runs macros).

        The file is read once: the guard inflates and checks every part of these bytes and
        keeps the sheets' XML for their error cells and formulas; python-calamine reads the
        same bytes (``data``, for a caller that edits or hashes the file). The sheets named
        in ``with_formulas`` are read only when the workbook holds formulas (a values-only
        copy has none to compare with)."""
        scan = _guard_zip(path, sheets)
        errors, formulas = scan.errors, scan.formulas
        if sheets is not None:
            sheets = set(sheets)
            if not any(formulas.values()):
                sheets -= set(with_formulas)
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(scan.data))
            wanted = [s for s in book.sheet_names if sheets is None or s in sheets]
            grids = {}
            for name in wanted:
                sheet = book.get_sheet_by_name(name)
                # no reader looks below MAX_SHEET_ROWS: rows added there cost no memory
                rows = list(itertools.islice(sheet.iter_rows(), MAX_SHEET_ROWS))
                first_col = sheet.start[1] if sheet.start else 0
                if first_col:  # iter_rows starts at the first used column; to_python would pad
                    rows = [[""] * first_col + list(r) for r in rows]
                _blank_merged(rows, sheet.merged_cell_ranges or ())
                for ref, text in errors.get(name, {}).items():
                    r, c = parse_ref(ref)
                    while len(rows) < r:
                        rows.append([])
                    line = rows[r - 1] = list(rows[r - 1])
                    line.extend([""] * (c - len(line)))
                    line[c - 1] = text
                grids[name] = rows
        except UnreadableInput:
            raise
        except Exception as exc:  # calamine raises its own error types for broken files
            raise UnreadableInput(path, f"Excel ファイルとして読めません（{exc.__class__.__name__}: {str(exc)[:200]}）") from None
        if not any(formulas.values()):
            formulas = {}  # a values-only copy (a submission package, an export): formulas unknown
        src = cls(grids, formulas)
        src.data = scan.data
        return src


def _blank_merged(rows: list[list[Any]], ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    """Empty every cell a merge hides (all but its top-left): Excel shows none of them, so
    nothing there is read, checked or packaged."""
    for (r0, c0), (r1, c1) in ranges:
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            line = rows[r]
            for c in range(c0, min(c1, len(line) - 1) + 1):
                if (r, c) != (r0, c0) and line[c] != "":
                    if not isinstance(line, list):
                        line = rows[r] = list(line)
                    line[c] = ""


class _Settled:
    """A cell source whose cells in ``overrides`` read as given there (None = empty); whole
    rows at once where the source reads them so. Given ``sheets``, only the overrides of those
    sheets are taken (the others are of sheets its reader never reads); ``positions`` gives
    the (row, column) of a cell, as ``parse_ref`` reads it, where it is known."""

    def __init__(
        self, src: CellSource, overrides: dict[tuple[str, str], Any], sheets: Iterable[str] | None = None, positions: dict[tuple[str, str], tuple[int, int]] | None = None
    ) -> None:
        self.src = src
        self.formulas = getattr(src, "formulas", {})
        self.rows: dict[tuple[str, int], dict[int, Any]] = {}  # (sheet, row) -> {column: value}
        for key, value in overrides.items():
            sheet, cell = key
            if sheets is not None and sheet not in sheets:
                continue
            row, col = positions[key] if positions is not None and key in positions else parse_ref(cell)
            self.rows.setdefault((sheet, row), {})[col] = value
        if getattr(src, "row_values", None) is not None:
            self.row_values = self._row_values

    def sheet_names(self) -> list[str]:
        return self.src.sheet_names()

    def value(self, sheet: str, row: int, col: int) -> Any:
        line = self.rows.get((sheet, row))
        if line is not None and col in line:
            return line[col]
        return self.src.value(sheet, row, col)

    def _row_values(self, sheet: str, row: int, first: int, count: int) -> list[Any]:
        out = self.src.row_values(sheet, row, first, count)  # type: ignore[attr-defined]
        for col, value in self.rows.get((sheet, row), {}).items():
            if first <= col < first + count:
                out[col - first] = value
        return out


class _Scan(Struct):
    """What the guard read of a workbook: the file's bytes, and of the wanted sheets the
    error cells ({sheet: {cell: "#REF!"}}) and the formulas ({sheet: {cell: text}})."""

    data: bytes
    errors: dict[str, dict[str, str]]
    formulas: dict[str, dict[str, str]]


_WORKBOOK_PART, _WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"


def _kept(name: str) -> bool:
    """The parts whose inflated bytes the guard keeps for the reading after it: the workbook,
    its relationships and the worksheets (a sheet stored elsewhere is inflated again)."""
    return name in (_WORKBOOK_PART, _WORKBOOK_RELS) or (name.startswith("xl/worksheets/") and name.endswith(".xml"))


def _guard_zip(path: Path, sheets: Iterable[str] | None = None) -> _Scan:
    """Refuse what is not a safe workbook before any parser sees it: one guard, the same
    verdict for every command (check, submit, build, followup, aggregate).

    The file is read once. Every part is inflated in pieces and the bytes that actually come
    out are counted (declared sizes can lie: a 1.5 MB zip can claim 1 KB and inflate to
    gigabytes); the reading stops as soon as a part or the whole passes its limit. Every XML
    part is streamed through a parser that refuses DOCTYPE/ENTITY declarations (entity
    expansion, external entities), nesting deeper than MAX_XML_DEPTH and anything not
    well-formed. The inflated sheets are scanned, without inflating them again, for their
    error cells — python-calamine reads them as empty, the clerk should hear which error is
    where — and the cells that hold a formula, with their formulas.
    """
    size = input_size(path)
    if size > MAX_FILE_BYTES:
        raise UnreadableInput(path, f"ファイルが大きすぎます（{size:,} バイト、上限 {MAX_FILE_BYTES:,} バイト）")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # grew since it was measured
            raise UnreadableInput(path, f"ファイルが大きすぎます（上限 {MAX_FILE_BYTES:,} バイト）")
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            _check_sizes(path, infos, len(data))
            names = {i.filename for i in infos}
            if _WORKBOOK_PART not in names:
                raise UnreadableInput(path, "Excel ブックの中身（xl/workbook.xml）がありません")
            total = 0
            kept: dict[str, bytes] = {}
            view = memoryview(data)
            for info in infos:
                keep: list[bytes] | None = [] if _kept(info.filename) else None
                total = _inflate(path, view, info, total, keep)
                if keep is not None:
                    kept[info.filename] = b"".join(keep)
            parts = _sheet_parts(kept.get(_WORKBOOK_PART, b""), kept.get(_WORKBOOK_RELS))
            wanted = set(sheets) if sheets is not None else None
            sheet_xml = {}
            for name, part in parts.items():
                if wanted is not None and name not in wanted:
                    continue
                if part in kept:
                    sheet_xml[name] = kept[part]
                elif part in names:
                    sheet_xml[name] = z.read(part)  # checked above; not where sheets usually live
            errors, formulas = _sheet_cells(sheet_xml)
            return _Scan(data, errors, formulas)
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise UnreadableInput(path, "ブックの部品の中身が見出しの情報と合いません（壊れているか、圧縮爆弾の可能性があります）") from None
        raise UnreadableInput(path, "Excel ブック（.xlsx/.xlsm）ではありません（壊れているか、別の形式です）") from None
    except (OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise UnreadableInput(path, f"ファイルを読めません（壊れています: {exc.__class__.__name__}）") from None


def input_size(path: Path) -> int:
    """The size of an input file, refused when it is missing, a folder, or no regular file: a
    named pipe would block the reading for ever, a device (/dev/zero) never end."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise UnreadableInput(path, "ファイルが見つかりません") from None
    except OSError as exc:
        raise UnreadableInput(path, f"ファイルを開けません（{exc.strerror or exc}）") from None
    return regular_size(path, st)


def regular_size(path: Path, st: os.stat_result) -> int:
    """The size of an input file from its status, refused when it is a folder or no regular
    file (:func:`input_size`, for a reader that says itself why the status cannot be had)."""
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableInput(path, "フォルダーです。ファイルを指定してください")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableInput(path, "通常のファイルではありません（名前付きパイプやデバイスは読めません）。保存したファイルを指定してください")
    return st.st_size


class _UnsafeXml(Exception):
    pass


def _xml_parser() -> Any:
    """A streaming XML parser that keeps no tree: refuses declarations and deep nesting."""
    parser = pyexpat.ParserCreate()
    depth = [0]

    def start(_name: str, _attrs: Any) -> None:
        depth[0] += 1
        if depth[0] > MAX_XML_DEPTH:
            raise _UnsafeXml(f"XML の入れ子が深すぎます（{MAX_XML_DEPTH} 段を超えています）")

    def end(_name: str) -> None:
        depth[0] -= 1

    def doctype(*_args: Any) -> None:
        raise _UnsafeXml("安全でない XML（DOCTYPE/ENTITY 宣言）が含まれています")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.ordered_attributes = True
    return parser


# What _plainly_safe keeps of a tag (bytes.translate deletes the rest): its < and >, the 0x02
# an empty-element tag's /> became, the / of an end tag's </, the = of an attribute (which
# parts a start tag's < from any / in its attribute values) and the ! of a <! (told here)
_NOT_TAG_MARKS = bytes(b for b in range(256) if b not in b"<>/=!\x02")
_NOT_MARKERS = bytes(b for b in range(256) if b not in b"<\x02")  # what _depth_markers keeps
# The XML declaration _plainly_safe accepts before the root: version 1.0, UTF-8 (or none).
# Compiled at first use: the declarations writers emit (_WRITTEN_DECLS, each one match of it)
# are compared as bytes first
_plain_decl = compiled_at_first_use(rb"""<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.0"|'1\.0')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"(?i:utf-8)"|'(?i:utf-8)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>""")
_WRITTEN_DECLS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',  # Excel, the build, XlsxWriter
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<?xml version="1.0"?>',  # a theme part
    b"<?xml version='1.0' encoding='UTF-8'?>",  # lxml
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>',
)


def _decl_end(body: bytes) -> int | None:
    """Where ``_plain_decl().match(body)`` ends, or None when it does not match. A written
    declaration that ``body`` starts with is that match: the pattern matches each whole, and a
    match ends at the first "?>" after its "<?" (nothing else in it holds a "?"), the end of
    each of them."""
    for decl in _WRITTEN_DECLS:
        if body.startswith(decl):
            return len(decl)
    m = _plain_decl().match(body)
    return None if m is None else m.end()


def _plainly_safe(xml: bytes) -> bool:
    """True when ``xml`` is plainly safe: well-formed, without declarations, nested at most
    MAX_XML_DEPTH deep; False when it is not, or when it is not plain enough to tell this way
    (then the parser with its per-element depth handlers decides, and says why it refuses).

    The same verdict as that parser, without a Python call per element (which costs ~1 µs an
    element, most of the guard's time): expat (no handlers) decides well-formedness, and the
    depth is counted on the bytes, which is exact for a *plain* document. Plain: UTF-8 (no NUL
    byte, so no UTF-16/32; no declaration of another encoding), no ``<!`` (no DOCTYPE, comment
    or CDATA), no processing instruction but the XML declaration, and no ``/>`` but at the
    end of an empty-element tag. In a well-formed document every ``<`` outside comments, CDATA
    and processing instructions starts a tag (neither text nor attribute values may hold a
    ``<``): ``</`` is exactly the start of an end tag, every other ``<`` the start of a start
    tag or an empty-element tag, and every empty-element tag ends in ``/>`` (text and
    attribute values may hold one too: see below).

    The bytes are reduced in two passes over the whole: /> becomes 0x02 > (the same length:
    replaced in place, a search and a copy), then all but ``< > / = !`` and 0x02 is deleted
    (``_NOT_TAG_MARKS``). A start or empty-element tag's ``<`` is then
    followed by ``=`` (its first attribute's; names hold no ``/``), ``>`` or 0x02, an end tag's
    by its ``/`` (text, which may hold a ``/``, follows a ``>``), a ``<!`` by its ``!``: ``</``
    still marks exactly the end tags, ``<!`` the declarations, comments and CDATA. In the
    reduced bytes (a few times shorter) ``</`` becomes 0x02 / (again in place), then all but
    ``<`` and 0x02 is deleted: the markers of _depth_markers. Of a well-formed document they
    hold a ``<`` for each start and empty-element tag and a 0x02 for each end tag and each
    ``/>``, in document order: as many start tags as end tags, so as many 0x02 as ``<`` when
    every ``/>`` ends an empty-element tag, and then they are the tags' nesting exactly. A
    ``/>`` in text or an attribute value is one 0x02 more, and nothing here can be one ``<``
    more (no comment, CDATA or processing instruction): such markers never balance, and
    _depth_markers finds them at the limit (then the handlers decide). The depth is at most
    the number of ``<``, at most half the markers: a part of at most MAX_XML_DEPTH elements
    needs no counting."""
    if b"\x00" in xml:  # one byte: memchr-fast
        return False
    body = xml[3:] if xml.startswith(b"\xef\xbb\xbf") else xml
    if body.startswith(b"<?"):
        end = _decl_end(body)
        if end is None:
            return False
        body = body[end:]
    if b"?" in body and b"<?" in body:
        return False
    tags = body.replace(b"/>", b"\x02>").translate(None, _NOT_TAG_MARKS)
    if b"!" in tags and b"<!" in tags:
        return False
    try:
        pyexpat.ParserCreate().Parse(xml, True)
    except (pyexpat.ExpatError, LookupError, ValueError):  # the parser with handlers says why
        return False
    marks = tags.replace(b"</", b"\x02/").translate(None, _NOT_MARKERS)
    return len(marks) <= 2 * MAX_XML_DEPTH or _depth_markers(marks, MAX_XML_DEPTH + 1) <= MAX_XML_DEPTH


def _depth_markers(marks: bytes, limit: int) -> int:
    """The deepest nesting of the elements of a plain, well-formed document, from its markers
    (see _plainly_safe), or ``limit`` when it reaches that. The markers are in document order:
    ``<`` opens an element (a start tag, or an empty-element tag), 0x02 closes it (an end
    tag's ``</``, an empty-element tag's ``/>``); an element holding no element (a leaf) is
    then ``<`` 0x02. Every leaf is removed at once, pass after pass: a pass lowers the deepest
    nesting by exactly one (every deepest element is a leaf, and the parent of one becomes a
    leaf), so the passes it takes to empty the markers are the depth. Markers that do not
    balance (see _plainly_safe) are never emptied: ``limit`` as soon as a pass finds no leaf."""
    depth = 0
    while marks and depth < limit:
        shorter = marks.replace(b"<\x02", b"")
        if len(shorter) == len(marks):
            return limit
        marks = shorter
        depth += 1
    return depth


def _compressed(data: memoryview, info: zipfile.ZipInfo) -> Iterator[memoryview]:
    """The stored (compressed) bytes of one part, in pieces, from the file's bytes."""
    start = info.header_offset
    head = data[start : start + 30]
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    pos = start + 30 + name_len + extra_len
    end = pos + info.compress_size
    if end > len(data):
        raise EOFError("truncated part")
    while pos < end:
        yield data[pos : min(pos + READ_CHUNK, end)]
        pos += READ_CHUNK


def _inflate(path: Path, data: memoryview, info: zipfile.ZipInfo, total: int, keep: list[bytes] | None = None) -> int:
    """Inflate one part in pieces with zlib itself, counting the bytes that come out (the
    headers' sizes are not trusted: a reader that believes them can be made to inflate
    gigabytes), and parse it when XML; the pieces go to ``keep`` when given. Returns the
    running total."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnreadableInput(path, f"部品 {info.filename} は Excel が使わない圧縮形式です（{info.compress_type}）")
    xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    # a small XML part is held whole and parsed only if these very bytes were not found safe
    # before (many workbooks share their theme, styles, workbook part, charts...); a larger
    # one is parsed piece by piece as it is inflated
    held: list[bytes] | None = [] if xml and info.file_size <= _HELD_PART_BYTES else None
    parser = _xml_parser() if xml and held is None else None
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    n = 0
    crc = 0

    def take(out: bytes) -> None:
        nonlocal n, crc
        n += len(out)
        if n > info.file_size:  # more than the headers declare: a lie, stop at once
            raise UnreadableInput(
                path,
                f"部品 {info.filename} の中身が見出しの情報より大きくなっています（見出し {info.file_size:,} バイト）。壊れているか、圧縮爆弾の可能性があります",
            )
        if n > MAX_PART_BYTES or total + n > MAX_UNCOMPRESSED:
            raise UnreadableInput(
                path,
                f"部品 {info.filename} の展開後のサイズが大きすぎます（{total + n:,} バイトを超えました。上限は部品ごとに {MAX_PART_BYTES:,} バイト、全体で {MAX_UNCOMPRESSED:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります",
            )
        crc = zlib.crc32(out, crc)
        if held is not None:
            held.append(bytes(out))
            return
        if parser is not None:
            _feed(parser, out, False)
        if keep is not None:
            keep.append(bytes(out))

    try:
        for chunk in _compressed(data, info):
            if inflater is None:
                take(chunk)
                continue
            while chunk and not inflater.eof:
                take(inflater.decompress(chunk, READ_CHUNK))
                chunk = inflater.unconsumed_tail
        if inflater is not None:
            take(inflater.flush())
        known = None  # the part's bytes, when small enough to be remembered as found safe
        plain = False  # found safe by _plainly_safe (parsed whole, depth counted without handlers)
        if held is not None:
            whole = b"".join(held)
            known = whole if len(whole) <= _SAFE_PART_BYTES else None
            if known is None or known not in _SAFE_XML:
                plain = _plainly_safe(whole)
                if not plain:  # refused, or not plain enough to tell: the parser with handlers decides
                    parser = _xml_parser()
                    _feed(parser, whole, False)
            if keep is not None:
                keep.append(whole)
        if n != info.file_size or crc != info.CRC:
            raise UnreadableInput(
                path,
                f"部品 {info.filename} の中身が見出しの情報と合いません（見出し {info.file_size:,} バイト、実際 {n:,} バイト）。壊れているか、圧縮爆弾の可能性があります",
            )
        if parser is not None:
            _feed(parser, b"", True)
        if known is not None and (plain or parser is not None):
            if len(_SAFE_XML) >= _SAFE_XML_MAX:
                _SAFE_XML.clear()
            _SAFE_XML[known] = None
    except _UnsafeXml as exc:
        raise UnreadableInput(path, f"{exc}（{info.filename}）") from None
    except pyexpat.ExpatError as exc:
        raise UnreadableInput(path, f"{info.filename} の XML が壊れています（{exc.lineno} 行 {exc.offset + 1} 文字目: {pyexpat.ErrorString(exc.code)}）") from None
    return total + n


def _feed(parser: Any, data: bytes, final: bool) -> None:
    """``parser.Parse``, with an encoding pyexpat cannot read (an unknown name: LookupError; a
    multi-byte one such as Shift_JIS: ValueError) refused as unsafe XML, as nothing else is."""
    try:
        parser.Parse(data, final)
    except (LookupError, ValueError):
        raise _UnsafeXml("XML の文字コードが読めません（Excel のブックの XML は UTF-8 か UTF-16 です）。壊れているか、別の形式のファイルです") from None


# The small XML parts this process found well-formed and safe, by their bytes (a lookup
# compares them whole: no digest to trust, no hashing library to load): the same bytes give
# the same verdict, so a part shared by many workbooks (aggregate: theme, styles, workbook,
# relationships, charts) is parsed once. At most _SAFE_XML_MAX parts of _SAFE_PART_BYTES each
# (8 MiB; a workbook's own small sheets fill it too, and it starts again when full).
_SAFE_XML: dict[bytes, None] = {}
_SAFE_XML_MAX = 256
_SAFE_PART_BYTES = 32 * 1024
_HELD_PART_BYTES = 256 * 1024


def _check_sizes(path: Path, infos: list[zipfile.ZipInfo], size: int) -> None:
    """What the headers declare (a cheap early refusal; the inflating counts the real bytes)."""
    if len(infos) > MAX_ENTRIES:
        raise UnreadableInput(path, f"ブックの部品が多すぎます（{len(infos):,} 個）")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnreadableInput(path, "暗号化（パスワード保護）されたブックは読めません。保護を解除してから指定してください")
        if info.file_size > MAX_PART_BYTES:
            raise UnreadableInput(path, f"部品 {info.filename} の展開後のサイズが大きすぎます（{info.file_size:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります")
        total += info.file_size
    if total > MAX_UNCOMPRESSED:
        raise UnreadableInput(path, f"展開後のサイズが大きすぎます（{total:,} バイト）。壊れたファイルか圧縮爆弾の可能性があります")


# [^<>], not [^>]: a tag's attributes never hold a raw "<"; see kofu_xl/ooxml/formulas.py.
# All compiled at first use: a workbook and relationships part of the plain form (_plain_pairs)
# are read without the first three, and the error cells of the plain form without the rest
_sheet_re = compiled_at_first_use(rb'<sheet\b[^<>]*?\bname="([^"]*)"[^<>]*?\br:id="([^"]*)"')
_rel_re = compiled_at_first_use(rb'<Relationship\b[^<>]*?\bId="([^"]*)"[^<>]*?\bTarget="([^"]*)"')
_rel_re2 = compiled_at_first_use(rb'<Relationship\b[^<>]*?\bTarget="([^"]*)"[^<>]*?\bId="([^"]*)"')
_error_cell_re = compiled_at_first_use(rb'<c\b([^<>]*\bt="e"[^<>]*)>(?:<f\b[^<>]*/>|<f\b[^<>]*>[^<]*</f>)?<v>([^<]*)</v>')
_ref_attr_re = compiled_at_first_use(rb'\br="([A-Z]{1,3}[0-9]+)"')
# The bytes that are word characters to \b of a bytes pattern
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_PLAIN_TAGS_MAX = 1000  # more such tags in a part: the patterns read it
_SHEET_NAMES = frozenset((b"name", b"sheetId", b"state", b"r:id", b"xmlns:r"))
_REL_NAMES = frozenset((b"Id", b"Type", b"Target", b"TargetMode"))


def _plain_pairs(data: bytes, tag: bytes, names: frozenset[bytes], first: bytes, second: bytes) -> list[tuple[bytes, bytes, bool]] | None:
    """What the patterns find of the elements ``tag`` in ``data`` when it is of the plain form,
    else None (then the patterns read it): (the value of ``first``, of ``second``, whether
    ``first`` comes first) for each element that holds both, in order.

    Plain: every ``<tag`` followed by no word character is followed by a space (a start a
    pattern tries), and the bytes after it up to the first ">" hold no "<" and are attributes
    ``name="value"`` separated by one space, then "/", " /" or nothing: each of ``names`` (at
    most once, ``first`` and ``second`` among them; no name of them ends in another preceded
    by a non-word character), each value without "<", ">", "=" or a quote. Then ``first="``
    and ``second="`` occur in such a tag only as its attributes' (a value holds no "=", a
    pattern's match cannot pass its ">" as [^<>] stops there and the values hold no quote),
    and a pattern that asks for ``first`` and then ``second`` (``_sheet_re``, ``_rel_re``)
    matches the tag exactly when ``first`` comes first, with their values (``_rel_re2``, asking
    the other way, when ``second`` comes first)."""
    out: list[tuple[bytes, bytes, bool]] = []
    skip = len(tag)
    at = data.find(tag)
    for _ in range(_PLAIN_TAGS_MAX):
        if at < 0:
            return out
        at += skip
        after = data[at : at + 1]
        if after and after[0] in _WORD_BYTES:  # another element's name: no start of a match
            at = data.find(tag, at)
            continue
        if after != b" ":
            return None
        at += 1
        lt = data.find(b"<", at)
        gt = data.find(b">", at, len(data) if lt < 0 else lt)  # (each search stops at the next tag)
        if gt < 0:
            return None
        fields = data[at:gt].split(b'"')
        if len(fields) % 2 == 0 or fields[-1] not in (b"/", b" /", b""):
            return None
        attrs: dict[bytes, bytes] = {}
        for i in range(0, len(fields) - 1, 2):
            name, value = fields[i], fields[i + 1]
            space = 1 if i else 0  # (the space after the tag's name is the first's)
            if not (name.endswith(b"=") and name.startswith(b" " * space)):
                return None
            name = name[space:-1]
            if name not in names or name in attrs or b"=" in value or b"<" in value or b">" in value:
                return None
            attrs[name] = value
        if first in attrs and second in attrs:
            order = list(attrs)
            out.append((attrs[first], attrs[second], order.index(first) < order.index(second)))
        at = data.find(tag, gt)
    return None


def _sheet_parts(wb: bytes, rels: bytes | None) -> dict[str, str]:
    """{sheet name: zip part} from the workbook and its relationships."""
    if rels is None:
        return {}
    rel_pairs = _plain_pairs(rels, b"<Relationship", _REL_NAMES, b"Id", b"Target")
    if rel_pairs is not None:
        targets = {i: t for i, t, id_first in rel_pairs if id_first} | {i: t for i, t, id_first in rel_pairs if not id_first}
    else:
        targets = {m[1]: m[2] for m in _rel_re().finditer(rels)} | {m[2]: m[1] for m in _rel_re2().finditer(rels)}
    sheet_pairs = _plain_pairs(wb, b"<sheet", _SHEET_NAMES, b"name", b"r:id")
    if sheet_pairs is not None:
        sheets = [(name, rid) for name, rid, name_first in sheet_pairs if name_first]
    else:
        sheets = [(m[1], m[2]) for m in _sheet_re().finditer(wb)]
    out = {}
    for name, rid in sheets:
        target = targets.get(rid)
        if target:
            t = target.decode("utf-8", "replace")
            out[xml_text(name.decode("utf-8", "replace"))] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


def _error_cells(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """The matches of ``_error_cell_re().finditer(data)`` as (start, end, group 1, group 2),
    tried only where one can start: a match's cell tag holds t="e" and no "<", so it starts at
    the last "<" before a t="e" (the pattern is not tried at each of a sheet's thousands of
    cells). Tried in order, a start inside the match before it skipped: the matches finditer
    finds, none else. The t="e" are found with bytes.find (they cannot overlap: the matches of
    the pattern t="e"), each start is read once, in one pass (:func:`_error_cell_at`), however
    many t="e" its tag holds."""
    end = 0
    tried = -1
    at = data.find(b't="e"')
    while at >= 0:
        start = data.rfind(b"<", end, at)
        if start >= 0 and start != tried:
            tried = start
            m = _error_cell_at(data, start)
            if m is not None:
                end = m[1]
                yield m
        at = data.find(b't="e"', at + 5)


def _error_cell_at(data: bytes, start: int) -> tuple[int, int, bytes, bytes] | None:
    """``_error_cell_re().match(data, start)`` as (start, end, group 1, group 2), or None, in one
    pass over the bytes it covers (the pattern backtracks over every t="e" of a tag that has
    no match: a tag of n of them cost it ~n² steps, and the guard tried it once for each, n³).

    Each part of the pattern has one way to match here: neither ``[^<>]*`` may pass a ">", so
    the first group runs from ``<c`` (a non-word byte after it) to the first ">", before any
    "<", and holds a t="e" after a non-word byte somewhere; ``<f\b[^<>]*/>`` ends at the formula
    tag's first ">" after a "/"; ``[^<]*</f>`` and ``[^<]*</v>`` end at the first "<". The
    formula tags are tried as the pattern tries them: closed by "/>", then with a text, then
    none -- the first after which ``<v>`` text ``</v>`` follows."""
    i = start + 2
    if not data.startswith(b"<c", start) or i >= len(data) or data[i] in _WORD_BYTES:
        return None
    gt = data.find(b">", i)
    lt = data.find(b"<", i, gt)
    if gt < 0 or lt >= 0:
        return None
    at = data.find(b't="e"', i, gt)
    while at >= 0 and data[at - 1] in _WORD_BYTES:
        at = data.find(b't="e"', at + 1, gt)
    if at < 0:
        return None
    p = gt + 1
    tries = []
    if data.startswith(b"<f", p) and p + 2 < len(data) and data[p + 2] not in _WORD_BYTES:
        tag_end = data.find(b">", p + 2)
        if tag_end >= 0 and data.find(b"<", p + 2, tag_end) < 0:
            if data[tag_end - 1] == 0x2F:  # "/>" (the byte before is at least the "f"'s next one)
                tries.append(tag_end + 1)
            close = data.find(b"<", tag_end + 1)
            if close >= 0 and data.startswith(b"</f>", close):
                tries.append(close + 4)
    tries.append(p)
    for q in tries:
        if data.startswith(b"<v>", q):
            close = data.find(b"<", q + 3)
            if close >= 0 and data.startswith(b"</v>", close):
                return start, close + 4, data[i:gt], data[q + 3 : close]
    return None


_UPPER_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _error_ref(attrs: bytes) -> bytes | None:
    """The group of ``_ref_attr_re().search(attrs)``, or None when it finds none. Where the
    attributes (after their space) start with r="REF" of a REF of 1-3 letters A-Z and digits 0-9,
    that is the first match (none can start before it) and REF its group; else the pattern."""
    if attrs.startswith(b' r="'):
        close = attrs.find(b'"', 4)
        ref = attrs[4:close] if close >= 0 else b""
        digits = ref.lstrip(_UPPER_BYTES)
        if 1 <= len(ref) - len(digits) <= 3 and digits.isdigit():  # (bytes.isdigit: 0-9 only)
            return ref
    found = _ref_attr_re().search(attrs)
    return None if found is None else found[1]


def _sheet_cells(sheet_xml: dict[str, bytes]) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Of each sheet's XML: {sheet: {cell: "#REF!"}} for cells holding an Excel error value,
    and {sheet: {cell: formula text}} (python-calamine gives values only)."""
    errors: dict[str, dict[str, str]] = {}
    formulas: dict[str, dict[str, str]] = {}
    for sheet, data in sheet_xml.items():
        formulas[sheet] = formula_texts(data)
        if b't="e"' not in data:
            continue
        cells = {}
        for _start, _end, attrs, value in _error_cells(data):
            ref = _error_ref(attrs)
            if ref:
                cells[ref.decode()] = xml_text(value.decode("utf-8", "replace"))
        if cells:
            errors[sheet] = cells
    return errors, formulas


def _cell(src: CellSource, sheet: str, ref: str) -> Any:
    row, col = parse_ref(ref)
    return src.value(sheet, row, col)


def _labels(src: CellSource, sheet: str, row: int, first: int) -> tuple[Any, ...]:
    out = []
    col = first
    while (label := src.value(sheet, row, col)) is not None:
        out.append(label)
        col += 1
    return tuple(out)


# Layouts by the header rows they were read from (a prefecture's 1,741 books share a few); a
# layout is never changed once made, so the readers share it.
_LAYOUTS: dict[tuple[tuple[Any, ...], tuple[Any, ...]], Layout] = {}


def workbook_layout(src: CellSource, path: Path | str | None = None) -> Layout:
    """The layout of this workbook, read from its header rows."""
    names = set(src.sheet_names())
    for required in (S11, S12):
        if required not in names:
            raise UnreadableInput(path, f"シート「{required}」がありません（交付円滑化計画の様式ではないか、シート名が変更されています）")
    headers = (_labels(src, S11, ROW_HEADER, FIRST_DATA_COL), _labels(src, S12, ROW_COST_HEADER, COST_FIRST_COL))
    lay = _LAYOUTS.get(headers)
    if lay is None:
        lay = _workbook_layout(src, path)
        if len(_LAYOUTS) >= 64:
            _LAYOUTS.clear()
        _LAYOUTS[headers] = lay
    return lay


def _workbook_layout(src: CellSource, path: Path | str | None) -> Layout:
    keys: list[str] = []
    actual_through = None
    col = FIRST_DATA_COL
    while True:
        label = src.value(S11, ROW_HEADER, col)
        if label is None:
            break
        try:
            key = parse_column(str(label))
        except CalendarError:
            raise UnreadableInput(path, f"{S11}!{_ref(col, ROW_HEADER)} の列見出し「{label}」が読めません（様式の列見出しを変更しないでください）") from None
        if "実績" in str(label):
            actual_through = key
        keys.append(key)
        col += 1
    months = [k for k in keys if not k.startswith("FY")]
    years = [int(k[2:]) for k in keys if k.startswith("FY")]
    if not months:
        raise UnreadableInput(path, f"{S11} の列見出し（{S11}!{_ref(FIRST_DATA_COL, ROW_HEADER)} から右）がありません")
    cost_years = []
    col = COST_FIRST_COL
    while (label := src.value(S12, ROW_COST_HEADER, col)) is not None:
        try:
            cost_years.append(int(parse_column(str(label))[2:]))
        except (CalendarError, ValueError):
            raise UnreadableInput(path, f"{S12}!{_ref(col, ROW_COST_HEADER)} の年度見出し「{label}」が読めません") from None
        col += 1
    params = Parameters(
        first_month=months[0],
        last_month=months[-1],
        fiscal_years=years,
        actual_through=actual_through,
        cost_years=cost_years or Parameters().cost_years,
    )
    return layout_for(params)


_PCT_PATHS = {"declared.rate_pct", "declared.increase_pct", "basic.base_rate_pct"}


def _as_pct(value: Any) -> Any:
    """A rate cell holds a fraction (0.149 shown as 14.9%); the model keeps percent points."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(repr(float(value))) * 100
    return value  # text such as "14.9%" is read by the model's tolerant loader


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        tree = tree.setdefault(p, {})
    tree[parts[-1]] = value


def read_plan_raw(src: CellSource, path: Path | str | None = None) -> tuple[dict[str, Any], Layout]:
    """Raw plan data (as the model's loader takes it) and the layout it was read with: see
    :func:`read_plan`."""
    raw, lay, _loaded = read_plan(src, path)
    return raw, lay


def read_plan(src: CellSource, path: Path | str | None = None) -> tuple[dict[str, Any], Layout, Loaded | None]:
    """Raw plan data (as the model's loader takes it) and the layout it was read with.

    Where the source knows a sheet's formulas (a file), a cell still holding the formula the
    build writes there is never read for its saved result, which another program may have
    dropped (openpyxl) or replaced by an error (a reader without KOFU_*): a computed cell
    declares nothing (empty), a prefilled input (a total, a 実績 column, a cost link) takes
    the core's figure of the inputs. The computed cells whose formula was changed or typed
    over go to ``kofu_xl.core.rules.FORMULA_FACTS_KEY`` (formula-overwritten).

    The third item: where settling loaded the plan from the raw data returned, (plan,
    findings of loading it) as :func:`kofu_xl.core.model.load_plan` gives them, for
    :func:`kofu_xl.core.rules.check_plan` to take instead of loading the same data again;
    None where nothing was loaded.
    """
    lay = workbook_layout(src, path)
    if not getattr(src, "formulas", None):
        return _read_raw(src, lay), lay, None
    settled = _read_settled(src, lay)
    if settled is None:  # a plan of another shape: read as saved, then settled round by round
        settled = _settle(src, lay, _read_raw(src, lay))
    return settled[0], lay, settled[1]


def _plain(value: Any) -> Any:
    """A computed value as a cell reader gives it: "" empty, numbers as int or float."""
    if value == "" or value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _reads_alike(saved: Any, computed: Any) -> bool:
    """True when the loader reads a prefilled cell's saved value (``saved``, as the source
    gives it) exactly as the figure settling puts there (``computed``, :func:`_plain`): the same
    type and value, or a whole number saved as the float a spreadsheet keeps it as (the loader
    reads a float and an int of the same whole number below its plain limit, 10**12, as the same
    Decimal: tests/book/test_read_pass.py holds it)."""
    if type(saved) is type(computed):
        return saved is None or saved == computed
    return type(saved) is float and type(computed) is int and 0 <= computed < _ALIKE_LIMIT and saved == computed


_ALIKE_LIMIT = 10**12


Loaded = tuple[Plan, list[Finding]]  # what load_plan gives


def _loaded(raw: dict[str, Any]) -> Loaded:
    """The plan of raw data as check_plan loads it (the facts left out)."""
    return load_plan({k: v for k, v in raw.items() if k not in (SHEET_FACTS_KEY, FORMULA_FACTS_KEY)})


def _read_settled(src: CellSource, lay: Layout) -> tuple[dict[str, Any], Loaded] | None:
    """:func:`_settle` of :func:`_read_raw` for a plan of the stored shape, read settled from
    the start: the formulas depend on the shape alone (the header rows), so the intact cells
    are known before any value is read. The first reading takes every intact computed cell
    empty and every intact prefilled input as saved; where each of those reads as the figure
    of the inputs read (a workbook saved by Excel, or by kofu-xl), that reading is the settled
    one: one reading and one loading where :func:`_settle` takes two of each. Otherwise the
    rounds of :func:`_settle` go on from it. None for a plan of another shape (or a shape
    that the reading does not confirm): then :func:`_settle` reads it.

    The same raw data, facts and plan as :func:`_settle` (tests/book/test_read_pass.py holds
    them equal over edited workbooks): the computed cells read empty feed only what
    :func:`computed_inputs` leaves out, so the inputs are those :func:`_settle` starts from."""
    params = _parameters(src, lay)
    try:
        shape = convert(params, Parameters, strict=False)
    except (ValueError, TypeError):  # load_plan reports it; _settle reads it as it can
        return None
    schedule = default_schedule()
    cells = stored_formulas_of_shape(shape, lay, schedule)
    if cells is None:
        return None
    positions = stored_positions()
    intact, facts = _formula_facts(src, lay, cells)
    empty = {k: None for k in intact if not cells[k][1]}
    raw = _read_raw(_Settled(src, empty, _RAW_SHEETS, positions), lay)
    loaded = _loaded(raw)
    inputs = computed_inputs(loaded[0])
    if stored_formulas(inputs, lay, schedule) is not cells:  # the plan loaded is of another shape
        return None
    values = prefill_values(inputs, lay)
    for k in intact:
        if cells[k][1] and not _reads_alike(src.value(k[0], *positions[k]), _plain(values[k])):
            raw, loaded = _rounds(src, lay, schedule, intact, empty, (cells, values, positions), inputs, raw, loaded)
            break
    raw[FORMULA_FACTS_KEY] = facts
    return raw, loaded


def _formula_facts(src: CellSource, lay: Layout, cells: dict[tuple[str, str], tuple[str, bool]]) -> tuple[set[tuple[str, str]], list[list[Any]]]:
    """(the computed cells still holding the formula the build writes there, the facts of those
    whose formula was changed or typed over) of a source that knows its sheets' formulas."""
    formulas: dict[str, dict[str, str]] = src.formulas  # type: ignore[attr-defined]
    intact: set[tuple[str, str]] = set()
    facts = []
    for (sheet, cell), (formula, prefill) in cells.items():
        if sheet not in formulas:  # not read, or read as values only
            continue
        text = formulas[sheet].get(cell)
        if text is not None and (text == formula[1:] or normalize_formula(text) == normalize_formula(formula)):  # as written, or as another writer spells it
            intact.add((sheet, cell))
        elif text is not None or not (prefill or sheet == DAILY):
            # a value typed over a prefilled input is an input; over a 日次実績 total it is
            # daily-total-overwritten's
            row, col = parse_ref(cell)
            value = None if text is not None else src.value(sheet, row, col)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # as the clerk typed it (calamine reads every number as a float)
            facts.append([sheet, cell, _computed_label(lay, sheet, cell), formula, text, value])
    return intact, facts


def _settle(src: CellSource, lay: Layout, raw: dict[str, Any]) -> tuple[dict[str, Any], Loaded]:
    """The raw data with every cell still holding its formula read as the core computes it,
    and the plan loaded from that raw data (every round ends by loading the raw data it read)."""
    schedule = default_schedule()
    loaded = _loaded(raw)
    inputs = computed_inputs(loaded[0])
    computed = _computed(inputs, lay, schedule)
    intact, facts = _formula_facts(src, lay, computed[0])
    raw, loaded = _rounds(src, lay, schedule, intact, {}, computed, inputs, raw, loaded)
    raw[FORMULA_FACTS_KEY] = facts
    return raw, loaded


def _rounds(
    src: CellSource,
    lay: Layout,
    schedule: Any,
    intact: set[tuple[str, str]],
    overrides: dict[tuple[str, str], Any],
    computed: tuple[dict[tuple[str, str], tuple[str, bool]], dict[tuple[str, str], Any], dict[tuple[str, str], tuple[int, int]] | None],
    inputs: Plan,
    raw: dict[str, Any],
    loaded: Loaded,
) -> tuple[dict[str, Any], Loaded]:
    """Settling's rounds, from ``raw`` (read with ``overrides``) and what was loaded and computed
    of it, until a round reads what the one before read."""
    cells, values, positions = computed
    parted = None  # (the intact cells computed, the intact prefilled cells) of these cells
    for _ in range(8):  # totals of totals: a few rounds reach the fixed point
        if parted is None or parted[0] is not cells:
            parted = (cells, [k for k in intact if cells[k][1]])
        # every intact cell: a prefilled one at its computed value, any other empty
        settled = dict.fromkeys(intact)
        for k in parted[1]:
            settled[k] = _plain(values[k])
        if settled == overrides:
            break
        overrides = settled
        raw = _read_raw(_Settled(src, overrides, _RAW_SHEETS, positions), lay)
        loaded = _loaded(raw)
        settled_inputs = computed_inputs(loaded[0])
        if settled_inputs != inputs:  # equal inputs, equal computed cells: the next round ends
            inputs = settled_inputs
            cells, values, positions = _computed(inputs, lay, schedule)
    return raw, loaded


def _computed(
    inputs: Plan, lay: Layout, schedule: Any
) -> tuple[dict[tuple[str, str], tuple[str, bool]], dict[tuple[str, str], Any], dict[tuple[str, str], tuple[int, int]] | None]:
    """Of computed_cells of ``inputs``: {(sheet, cell): (formula, prefill)} in its order,
    {(sheet, cell): value} of the prefilled cells, and the cells' (row, column) where known.
    For a plan of the stored shape the formulas and positions are the stored ones and the
    values :func:`prefill_values` (no formula text is built, no reference parsed)."""
    cells = stored_formulas(inputs, lay, schedule)
    if cells is not None:
        return cells, prefill_values(inputs, lay), stored_positions()
    comp = computed_cells(inputs, lay, schedule)
    return {k: (c.formula, c.prefill) for k, c in comp.items()}, {k: c.value for k, c in comp.items() if c.prefill}, None


def _computed_label(lay: Layout, sheet: str, cell: str) -> str:
    """The row's caption of a computed cell, e.g. "本表1-1 参考 人口に対する交付枚数率"."""
    row, _col = parse_ref(cell)
    for name, rows, specs in ((S11, lay.rows11, ROWS_11), (S12, lay.rows12, ROWS_12), (WORK, lay.rows_work, ROWS_WORK), (FOLLOWUP, lay.rows_fu, ROWS_FU)):
        if name != sheet:
            continue
        for spec in specs:
            if rows.get(spec.key) == row:
                return f"{sheet} " + " ".join(dict.fromkeys(t for t in spec.labels if t))
    return f"{sheet} の計算セル"


# Every sheet _read_raw reads (実績比較 is read by read_followup_raw, 国基準 only for its capacity cells)
_RAW_SHEETS = frozenset((S11, S12, WORK, NATIONAL, DAILY))


def _read_raw(src: CellSource, lay: Layout) -> dict[str, Any]:
    names = set(src.sheet_names())
    raw: dict[str, Any] = {"parameters": _parameters(src, lay)}
    row_values = getattr(src, "row_values", None)  # a whole row at once, where the source can
    for leaf in iter_leaves():
        path_ = leaf.path
        if leaf.group in ("costs", "working"):
            sheet = S12 if leaf.group == "costs" else WORK
            if sheet not in names:
                continue
            per_year = {}
            for key in lay.cost_years:
                s, ref = lay.cost_cell(path_, key)
                per_year[key] = _cell(src, s, ref)
            for key, value in per_year.items():
                _set(raw.setdefault(leaf.group, {}).setdefault(key, {}), ".".join(leaf.attr_path), value)
        elif path_ == "budget_timing":
            raw["budget_timing"] = [_cell(src, *_loc(lay, f"budget_timing.{i}")) for i in (1, 2, 3)]
        elif leaf.meta.series:
            row = lay.rows11[path_]
            if row_values is not None:
                values = row_values(S11, row, FIRST_DATA_COL, len(lay.columns))
            else:
                values = [src.value(S11, row, col) for col in range(FIRST_DATA_COL, FIRST_DATA_COL + len(lay.columns))]
            if path_ in _PCT_PATHS:
                values = [_as_pct(v) for v in values]
            _set(raw, path_, values)
        elif path_ in lay.scalars:
            s = lay.scalars[path_]
            if s.sheet not in names:
                continue
            value = _cell(src, s.sheet, s.cell)
            if path_ in _PCT_PATHS:
                value = _as_pct(value)
            _set(raw, path_, value)
    if NATIONAL in names:
        for key in ("parameters.capacity_cards_per_month", "parameters.capacity_staff"):
            value = _cell(src, *_loc(lay, key))
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                raw["parameters"][key.split(".")[1]] = canonical(Decimal(repr(float(value))))
    if DAILY in names:
        if row_values is not None:
            raw["daily"], raw[SHEET_FACTS_KEY] = _daily_by_rows(src, lay, row_values)
        else:
            raw["daily"] = _read_daily(src, lay)
            raw[SHEET_FACTS_KEY] = daily_sheet_facts(src, lay)
    return raw


def _parameters(src: CellSource, lay: Layout) -> dict[str, Any]:
    """The plan's shape as the sheets' header rows give it (raw data's "parameters")."""
    return {
        "first_month": lay.columns[0],
        "last_month": [k for k in lay.columns if not k.startswith("FY")][-1],
        "fiscal_years": [int(k[2:]) for k in lay.columns if k.startswith("FY")],
        "actual_through": _actual(lay, src),
        "cost_years": [int(k[2:]) for k in lay.cost_years],
    }


def _daily_by_rows(src: CellSource, lay: Layout, row_values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(:func:`_read_daily`, :func:`daily_sheet_facts`) of a source that reads whole rows: the
    same values, each block's count rows and totals row read once, a row at once (instead of
    every count cell twice and every total twice, a cell at a time)."""
    days: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    outside: list[list[Any]] = []
    formulas = getattr(src, "formulas", {}).get(DAILY)
    totals: list[list[Any]] | None = [] if formulas else None
    width = 8  # the seven weekdays and the month's total
    for month, block in lay.daily_blocks.items():
        top = block.top
        rows = {row: row_values(DAILY, row, DAILY_FIRST_COL, width) for row in range(top + 3, top + 14, 2)}
        inside, outside_positions = block.count_positions()
        for day, row, col in inside:
            value = rows[row][col - DAILY_FIRST_COL]
            if value is not None:
                days[day.isoformat()] = value
        for day, count_ref, row, col in outside_positions:
            value = rows[row][col - DAILY_FIRST_COL]
            if value is not None and not (isinstance(value, str) and not value.strip()):
                outside.append([month, day.isoformat(), count_ref, value])
        positions = block.total_positions()
        line = row_values(DAILY, positions[0][2], DAILY_FIRST_COL, width)
        weekday, total = line[:7], line[7]
        if total is not None or any(v is not None for v in weekday):
            declared[month] = {"weekday": weekday, "total": total}
        if totals is not None:
            for index, cell, _row, col in positions:
                totals.append([month, index, cell in formulas, line[col - DAILY_FIRST_COL], cell, block.total_formula(index)])  # type: ignore[operator]
    return {"days": days, "declared": declared}, {"sheet": DAILY, "outside": outside, "totals": totals}


def _loc(lay: Layout, path: str) -> tuple[str, str]:
    s = lay.scalars[path]
    return s.sheet, s.cell


def _actual(lay: Layout, src: CellSource) -> str | None:
    last = None
    for i, key in enumerate(lay.columns):
        label = src.value(S11, ROW_HEADER, FIRST_DATA_COL + i)
        if label is not None and "実績" in str(label):
            last = key
    return last


def _read_daily(src: CellSource, lay: Layout) -> dict[str, Any]:
    days: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    for month, block in lay.daily_blocks.items():
        for day, row, col in block.count_positions()[0]:
            value = src.value(DAILY, row, col)
            if value is not None:
                days[day.isoformat()] = value
        totals = block.total_positions()
        weekday = [src.value(DAILY, row, col) for _i, _ref, row, col in totals[:7]]
        total = src.value(DAILY, totals[7][2], totals[7][3])
        if total is not None or any(v is not None for v in weekday):
            declared[month] = {"weekday": weekday, "total": total}
    return {"days": days, "declared": declared}


def read_daily_outside(src: CellSource, lay: Layout) -> list[tuple[str, Any, str, Any]]:
    """Values typed in a calendar block of 日次実績 outside its month.

    Every one of the 6 × 7 count cells of each block is read: (block month, the day the
    position stands for, cell, value) for each non-empty one that is not a day of the month.
    """
    out: list[tuple[str, Any, str, Any]] = []
    if DAILY not in src.sheet_names():
        return out
    for month, block in lay.daily_blocks.items():
        for day, count_ref, row, col in block.count_positions()[1]:
            value = src.value(DAILY, row, col)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                out.append((month, day, count_ref, value))
    return out


def daily_sheet_facts(src: CellSource, lay: Layout) -> dict[str, Any]:
    """The facts of 日次実績 that the daily rules check (see ``kofu_xl.core.daily``): values in
    the positions outside each month (all 6 × 7 are read) and, when the source knows the
    sheet's formulas, whether each totals cell still holds the builder's formula."""
    outside = [[month, day.isoformat(), cell, value] for month, day, cell, value in read_daily_outside(src, lay)]
    formulas = getattr(src, "formulas", {}).get(DAILY)
    totals = None
    if formulas:  # None: a live book read as values; empty: a values-only copy (a package), not the clerk's book
        totals = []
        for month, block in lay.daily_blocks.items():
            for index, cell, row, col in block.total_positions():
                totals.append([month, index, cell in formulas, src.value(DAILY, row, col), cell, block.total_formula(index)])
    return {"sheet": DAILY, "outside": outside, "totals": totals}


def read_followup_raw(src: CellSource, lay: Layout, path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """The input rows of 実績比較 as typed: {model path: {month: value}}.

    Months are read from the sheet's own header row (C5 →), like 本表1-1's columns; a month
    the layout does not know is ignored. Empty when the book has no 実績比較.
    """
    out: dict[str, dict[str, Any]] = {p: {} for p in FU_INPUT_PATHS}
    if FOLLOWUP not in src.sheet_names():
        return out
    col = FU_FIRST_COL
    while (label := src.value(FOLLOWUP, FU_HEADER_ROW, col)) is not None:
        try:
            month = parse_column(str(label))
        except CalendarError:
            raise UnreadableInput(path, f"{FOLLOWUP}!{_ref(col, FU_HEADER_ROW)} の年月の見出し「{label}」が読めません（見出しを変更しないでください）") from None
        if month in lay.followup_months:
            for key in FU_INPUT_PATHS:
                value = src.value(FOLLOWUP, lay.rows_fu[key], col)
                if value is not None:
                    out[key][month] = value
        col += 1
    return out


# The sheets a plan is read from (charts, results and logs are not needed); 実績比較 only for its
# computed cells' formulas (a values-only copy, such as a submission package, skips it).
PLAN_SHEETS = (S11, S12, WORK, DAILY, NATIONAL, FOLLOWUP)
FORMULA_ONLY_SHEETS = (FOLLOWUP,)


def read_workbook_raw(path: str | Path) -> dict[str, Any]:
    """Raw plan data from a .xlsx/.xlsm file (values in the cells)."""
    raw, _ = read_workbook(path)
    return raw


def read_workbook(path: str | Path) -> tuple[dict[str, Any], Layout]:
    raw, lay, _loaded = read_workbook_plan(path)
    return raw, lay


def read_workbook_plan(path: str | Path) -> tuple[dict[str, Any], Layout, Loaded | None]:
    """:func:`read_plan` of a .xlsx/.xlsm file."""
    p = Path(path)
    src = GridSource.from_path(p, sheets=PLAN_SHEETS, with_formulas=FORMULA_ONLY_SHEETS)
    return read_plan(src, p)
