"""Careful in-place edits of a clerk's .xlsx/.xlsm file.

`kofu-xl submit` writes the findings sheet (検証結果), colours offending cells and
appends to 提出記録 *inside the clerk's own workbook*. A load/save round trip through
openpyxl would drop the charts, the ribbon (customUI) relationship and the cached
value of every formula cell, so this module edits the package itself:

* Only the XML parts that must change are parsed (lxml) and written back; every
  other zip entry is copied byte for byte (same content, same entry order, same
  compression method, same date_time and attributes taken from the input's
  ``ZipInfo``). A part that was parsed but not changed is copied from the input too.
* Parsing is hardened: the parser never resolves entities, never touches the
  network and keeps libxml2's size limits (``huge_tree=False``). A DOCTYPE (and so
  any entity declaration: "billion laughs", XXE) is refused *before* the parser
  sees the part, and checked again after parsing. Every entry's declared and
  actual uncompressed size is bounded by ``max_part_bytes`` (zip bombs).
* Namespace declarations and prefixes are kept as written (Excel's
  ``mc:Ignorable="x14ac xr xr2 xr3"`` needs those prefixes declared), and so is
  the part's XML declaration: the bytes before the root element are re-emitted
  verbatim. New elements are placed where the schema's sequence wants them
  (``CT_Worksheet``, ``CT_Stylesheet``), and ``<dimension>`` is recomputed for every
  worksheet that was changed.
* Strings are written as inline strings (``t="inlineStr"``) so sharedStrings.xml
  is never touched; an inline string can never be a formula, so text that starts
  with "=" stays text.

Text written to cells follows Excel's own ``ST_Xstring`` convention:

* C0 control characters other than TAB, LF and CR (which XML 1.0 cannot hold)
  are escaped as ``_xHHHH_`` (upper-case hex), which Excel, LibreOffice and
  python-calamine decode back to the character;
* a literal ``_xHHHH_`` already in the text gets its underscore escaped as
  ``_x005F_`` so that Excel shows it literally instead of decoding it;
* lone surrogates (which UTF-8 cannot encode) and the non-characters
  U+FFFE/U+FFFF (which XML cannot hold and readers do not agree on) become U+FFFD;
* CR is kept (serialised as ``&#13;``); an empty string writes no value.

:meth:`XlsxEditor.read_rows` decodes ``_xHHHH_`` the same way, so text written
here reads back exactly (see :func:`clean_text`). Argument mistakes (a bad cell
reference, an unsupported value type) raise ``ValueError``/``TypeError``; problems
with the file raise :class:`CannotEdit` with a Japanese message naming the
part or sheet.

Around the rows it replaces, :meth:`XlsxEditor.replace_rows` keeps the sheet
consistent: hyperlinks anchored there are dropped (with their now unused
relationships), merged ranges are removed or cut above ``first_row``, a shared
formula kept above is shortened, an array formula crossing ``first_row`` is
refused, and cells that lose a formula leave calcChain.xml (the part itself goes
when it empties), since Excel calls a chain naming a formula-less cell corrupt.

Limits: only transitional (not "Strict Open XML") UTF-8 packages; conditional
formats, data validations, tables and drawings are not moved or resized; zip
"extra" fields are not carried over and changed or unchanged entries are
re-compressed (their *content* is the input's, byte for byte); parts are read
whole into memory (bounded by ``max_part_bytes`` each).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import numbers
import posixpath
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import unquote

from lxml import etree

from kofu_xl.errors import CannotEdit
from kofu_xl.ooxml.cellref import MAX_COL, MAX_ROW, parse_ref
from kofu_xl.ooxml.cellref import ref as cell_ref

__all__ = [
    "MAX_CELL_CHARS",
    "CannotEdit",
    "XlsxEditor",
    "clean_text",
    "highlight_cells",
]

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_MAIN_STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
NS_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

REL_OFFICE_DOCUMENT = NS_REL + "/officeDocument"
REL_WORKSHEET = NS_REL + "/worksheet"
REL_STYLES = NS_REL + "/styles"
REL_SHARED_STRINGS = NS_REL + "/sharedStrings"
REL_CALC_CHAIN = NS_REL + "/calcChain"

MAX_CELL_CHARS = 32_767  # Excel's limit, counted in UTF-16 code units
MAX_ENTRIES = 10_000


# CT_Worksheet's child sequence (ECMA-376 Part 1, 18.3.1.99; drawingHF from the 2nd edition on).
WORKSHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate",
    "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting", "dataValidations",
    "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
    "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
    "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
    "tableParts", "extLst",
)  # fmt: skip
# CT_Stylesheet's child sequence (18.8.39).
STYLESHEET_ORDER = (
    "numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
    "tableStyles", "colors", "extLst",
)  # fmt: skip


# ---------------------------------------------------------------- text


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_UNSTORABLE_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_ESCAPE_RE = re.compile("_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_UNESCAPE_RE = re.compile("_x([0-9A-Fa-f]{4})_")
_NEEDS_PRESERVE_RE = re.compile(r"^\s|\s$")


def clean_text(text: str) -> str:
    """The text a cell holds after writing ``text`` and reading it back.

    Only lone surrogates and the non-characters U+FFFE/U+FFFF change (to U+FFFD);
    every other character, control characters included, survives through the
    ``_xHHHH_`` escape.
    """
    return _UNSTORABLE_RE.sub("\ufffd", text)


def _escape_text(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        ch = m.group()
        return "_x005F_" if ch == "_" else f"_x{ord(ch):04X}_"

    return _ESCAPE_RE.sub(one, clean_text(text))


def _unescape_text(text: str) -> str:
    if "_x" not in text:
        return text
    out = _UNESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if _SURROGATE_RE.search(out):  # UTF-16 pairs written as two escapes
        out = out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return out


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# ---------------------------------------------------------------- cell references


def _parse_range(text: str) -> tuple[int, int, int, int]:
    first, _, last = text.partition(":")
    r1, c1 = parse_ref(first)
    r2, c2 = parse_ref(last) if last else (r1, c1)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _range_text(r1: int, c1: int, r2: int, c2: int) -> str:
    return cell_ref(c1, r1) if (r1, c1) == (r2, c2) else f"{cell_ref(c1, r1)}:{cell_ref(c2, r2)}"


# ---------------------------------------------------------------- XML helpers


def _q(local: str) -> str:
    return f"{{{NS_MAIN}}}{local}"


def _local(el: etree._Element) -> str | None:
    if not isinstance(el.tag, str):
        return None  # comment or processing instruction
    return etree.QName(el).localname


def _is(el: etree._Element, local: str) -> bool:
    return isinstance(el.tag, str) and el.tag == _q(local)


def _rank(el: etree._Element, order: tuple[str, ...]) -> int | None:
    """The position of ``el`` in a schema sequence; None when unknown.

    ``mc:AlternateContent`` takes the rank of the element it wraps (Excel uses it
    around ``controls``/``oleObjects``)."""
    if not isinstance(el.tag, str):
        return None
    q = etree.QName(el)
    if q.namespace == NS_MAIN and q.localname in order:
        return order.index(q.localname)
    if q.namespace == NS_MC and q.localname == "AlternateContent":
        for branch in el:
            for inner in branch:
                r = _rank(inner, order)
                if r is not None:
                    return r
    return None


def _new_child(parent: etree._Element, local: str, order: tuple[str, ...]) -> etree._Element:
    """Create <local> under ``parent`` at its place in the schema sequence ``order``.

    It goes right after the last child whose rank is not greater; an unknown child
    travels with the known element before it."""
    new = etree.SubElement(parent, _q(local))  # created in place: reuses the parent's prefix
    target = order.index(local)
    pos, last = 0, None
    for i, child in enumerate(parent):
        if child is new:
            continue
        r = _rank(child, order)
        r = last if r is None else r
        if r is not None and r <= target:
            pos = i + 1
        if r is not None:
            last = r
    parent.insert(pos, new)
    return new


@functools.lru_cache(maxsize=1 << 16)
def _ref_col(text: str) -> int:
    """The column of a cell reference, ``parse_ref(text)[1]`` (ValueError when it is none),
    remembered: an edit walks a sheet's cells several times (numbering, lookups, dimension)."""
    return parse_ref(text)[1]


def _key(el: etree._Element, attrib: Mapping[str, str] | None = None) -> tuple:
    """A comparable form of an element (tag, attributes, text, children); ``attrib``
    stands in for the element's own attributes."""
    return (
        el.tag,
        tuple(sorted((el.attrib if attrib is None else attrib).items())),
        (el.text or "").strip(),
        tuple(_key(c) for c in el if isinstance(c.tag, str)),
    )


def _clone_into(parent: etree._Element, src: etree._Element) -> etree._Element:
    """Copy ``src`` under ``parent`` without carrying namespace declarations along."""
    el = etree.SubElement(parent, src.tag, dict(src.attrib))
    el.text = src.text
    for child in src:
        if isinstance(child.tag, str):
            _clone_into(el, child).tail = child.tail
    return el


# ---------------------------------------------------------------- parts


@dataclass
class _Part:
    name: str
    head: bytes  # everything before the root element, re-emitted verbatim
    root: etree._Element


@dataclass
class _Rel:
    rid: str
    type: str
    target: str | None  # resolved zip entry name; None when external or missing
    external: bool


@dataclass
class _SheetRef:
    name: str
    sheet_id: str
    rel_type: str
    part: str | None


_DECL_ENCODING_RE = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _prolog(part: str, data: bytes) -> bytes:
    """The bytes before the root element; refuses DOCTYPEs and non-UTF-8 parts."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:2] in (b"<\x00", b"\x00<"):
        raise CannotEdit(f"{part} は UTF-8 以外の文字コードで書かれているため、処理できません。", part=part)
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    n = len(data)
    while True:
        while i < n and data[i] in b" \t\r\n":
            i += 1
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
            if end < 0:
                break
            m = _DECL_ENCODING_RE.search(data, i, end) if data.startswith(b"<?xml", i) else None
            if m and m.group(1).lower() not in (b"utf-8", b"utf8"):
                raise CannotEdit(
                    f"{part} は UTF-8 以外の文字コード（{m.group(1).decode('ascii')}）で書かれているため、処理できません。",
                    part=part,
                )
            i = end + 2
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            if end < 0:
                break
            i = end + 3
        elif data.startswith(b"<!", i):
            raise CannotEdit(
                f"{part} に DOCTYPE 宣言（文書型・実体の定義）があります。Excel が保存したファイルには無いもので、"
                "安全のため処理しません。元のブックを Excel で開いて保存し直してください。",
                part=part,
            )
        elif data.startswith(b"<", i):
            return data[:i]
        else:
            break
    raise CannotEdit(f"{part} は XML として読めません（ルート要素が見つかりません）。", part=part)


# ---------------------------------------------------------------- cell values


@dataclass(frozen=True)
class _Cell:
    col: int
    kind: str | None  # "n", "b", "s" (inline string) or None (no value, style only)
    text: str
    style: int | None


def _plan_value(value: object, where: str) -> tuple[str | None, str]:
    """(kind, XML text) for one Python value."""
    if value is None:
        return None, ""
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, str):
        return _plan_text(value, where)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _plan_text(value.isoformat(), where)
    if isinstance(value, Decimal):
        if not value.is_finite() or not math.isfinite(float(value)):
            raise ValueError(f"{where}: 有限の数値ではありません: {value!r}")
        return "n", str(value)
    if isinstance(value, numbers.Integral):
        try:
            math.isfinite(float(value))
        except OverflowError:
            raise ValueError(f"{where}: Excel で扱えない大きさの数値です: {value!r}") from None
        return "n", str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f):
            raise ValueError(f"{where}: 有限の数値ではありません: {value!r}")
        return "n", repr(f)
    raise TypeError(f"{where}: セルに書けない型です: {type(value).__name__}")


def _plan_text(value: str, where: str) -> tuple[str | None, str]:
    if value == "":
        return None, ""
    text = clean_text(value)
    if _utf16_len(text) > MAX_CELL_CHARS:
        raise ValueError(f"{where}: 文字列が長すぎます（{_utf16_len(text):,} 文字、Excel の上限は {MAX_CELL_CHARS:,} 文字）。")
    return "s", _escape_text(text)


def _string_item_text(el: etree._Element) -> str:
    """Text of an <si>/<is>: plain <t> or rich-text runs; phonetic runs (<rPh>) are not text."""
    parts: list[str] = []
    for child in el:
        if _is(child, "t"):
            parts.append(child.text or "")
        elif _is(child, "r"):
            for t in child.iterchildren(_q("t")):
                parts.append(t.text or "")
    return _unescape_text("".join(parts))


_INT_RE = re.compile(r"[+-]?[0-9]+")


def _argb(rgb: str) -> str:
    text = rgb.strip().lstrip("#").upper() if isinstance(rgb, str) else ""
    if len(text) == 6:
        text = "FF" + text
    if len(text) != 8 or any(ch not in "0123456789ABCDEF" for ch in text):
        raise ValueError(f"色は RRGGBB か AARRGGBB の 16 進で指定してください: {rgb!r}")
    return text


# ---------------------------------------------------------------- the editor


class XlsxEditor:
    """Edit the values and styles of a few sheets of an .xlsx/.xlsm held in memory."""

    def __init__(self, data: bytes, *, max_part_bytes: int = 50 * 1024 * 1024) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be the bytes of an .xlsx/.xlsm file")
        self._data = bytes(data)
        self._max = int(max_part_bytes)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(self._data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            raise CannotEdit("ブックを開けません: Excel ファイル（.xlsx / .xlsm）ではないか、壊れています。") from e
        if len(infos) > MAX_ENTRIES:
            raise CannotEdit(f"ブックの中の部品が多すぎます（{len(infos):,} 個）。Excel のファイルとは考えにくいため処理しません。")
        self._infos = infos
        self._names: dict[str, str] = {}
        for info in infos:
            name = info.filename
            if name.lower() in self._names:
                raise CannotEdit(f"ブックの中に同じ名前の部品が二つあります: {name}", part=name)
            if info.flag_bits & 0x1:
                raise CannotEdit(f"{name} が暗号化されています。パスワード付きのブックは処理できません。", part=name)
            if info.file_size > self._max:
                raise CannotEdit(self._too_big(name, info.file_size), part=name)
            self._names[name.lower()] = name
        self._parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False
        )
        self._parts: dict[str, _Part] = {}
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._edited_sheets: set[str] = set()
        self._removed_formulas: set[tuple[str, str]] = set()  # (sheetId, "A1") for calcChain
        self._sst: list[str] | None = None
        self._highlights: dict[tuple[int, str], int] = {}  # (base style, ARGB) -> highlight_style's answer
        self._load_workbook()

    # ------------------------------------------------------------ package plumbing

    def _too_big(self, name: str, size: int) -> str:
        return f"{name} が大きすぎます（{size:,} バイト、上限 {self._max:,} バイト）。交付円滑化計画のブックとしては大きすぎるため処理しません。"

    def _entry(self, name: str) -> str | None:
        return self._names.get(name.lower()) if name not in self._removed else None

    def _read_entry(self, name: str) -> bytes:
        info = self._zip.getinfo(name)
        chunks, total = [], 0
        try:
            with self._zip.open(info) as fh:
                while True:
                    chunk = fh.read(1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > self._max:
                        raise CannotEdit(self._too_big(name, total), part=name)
                    chunks.append(chunk)
        except CannotEdit:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as e:
            raise CannotEdit(f"{name} を取り出せません（ブックが壊れています）: {e}", part=name) from e
        return b"".join(chunks)

    def _part(self, name: str) -> _Part:
        part = self._parts.get(name)
        if part is not None:
            return part
        data = self._read_entry(name)
        head = _prolog(name, data)
        try:
            root = etree.fromstring(data, self._parser)
        except etree.XMLSyntaxError as e:
            raise CannotEdit(f"{name} の XML を読めません: {e}", part=name) from e
        info = root.getroottree().docinfo
        if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
            raise CannotEdit(f"{name} に DOCTYPE 宣言があります。安全のため処理しません。", part=name)
        part = _Part(name, head, root)
        self._parts[name] = part
        return part

    @staticmethod
    def _rels_name(source: str) -> str:
        folder, base = posixpath.split(source)
        return posixpath.join(folder, "_rels", base + ".rels")

    def _resolve(self, source: str, target: str) -> str | None:
        target = unquote(target)
        path = target[1:] if target.startswith("/") else posixpath.join(posixpath.dirname(source), target)
        path = posixpath.normpath(path)
        if path.startswith("../") or path == "..":
            return None
        return self._entry(path)

    def _rels(self, source: str) -> dict[str, _Rel]:
        name = self._entry(self._rels_name(source))
        if name is None:
            return {}
        rels = {}
        for el in self._part(name).root.iterchildren(f"{{{NS_PKG_REL}}}Relationship"):
            rid, typ, target = el.get("Id"), el.get("Type", ""), el.get("Target", "")
            external = el.get("TargetMode") == "External"
            rels[rid] = _Rel(rid, typ, None if external else self._resolve(source, target), external)
        return rels

    def _load_workbook(self) -> None:
        office = [r for r in self._rels("").values() if r.type.endswith("/officeDocument")]
        if not office:
            raise CannotEdit("ブックの本体（workbook.xml）が見つかりません。Excel のファイルではないようです。", part="_rels/.rels")
        if office[0].type != REL_OFFICE_DOCUMENT:
            raise CannotEdit("「Strict Open XML」形式のブックには対応していません。通常の Excel ブックとして保存し直してください。")
        wb_name = office[0].target
        if wb_name is None:
            raise CannotEdit("ブックの本体（workbook.xml）が見つかりません。", part="_rels/.rels")
        root = self._part(wb_name).root
        if root.tag != _q("workbook"):
            raise CannotEdit(f"{wb_name} が Excel のブックではありません（{root.tag}）。", part=wb_name)
        self._workbook = wb_name
        rels = self._rels(wb_name)
        self._sheets: dict[str, _SheetRef] = {}
        sheets = root.find(_q("sheets"))
        for el in sheets.iterchildren(_q("sheet")) if sheets is not None else ():
            name = el.get("name", "")
            rel = rels.get(el.get(f"{{{NS_REL}}}id", ""))
            if name in self._sheets:
                raise CannotEdit(f"同じ名前のシートが二つあります: {name}", part=wb_name, sheet=name)
            self._sheets[name] = _SheetRef(
                name, el.get("sheetId", ""), rel.type if rel else "", rel.target if rel else None
            )

        def first(rel_type: str) -> str | None:
            return next((r.target for r in rels.values() if r.type == rel_type and r.target), None)

        self._styles = first(REL_STYLES)
        self._shared_strings = first(REL_SHARED_STRINGS)
        self._calc_chain = first(REL_CALC_CHAIN)

    def _serialize(self, name: str) -> bytes:
        part = self._parts[name]
        if name in self._edited_sheets:
            sheet = next((r.name for r in self._sheets.values() if r.part == name), name)
            self._fix_dimension(part.root, sheet)
        return part.head + etree.tostring(part.root, encoding="UTF-8", xml_declaration=False)

    def _sheet_root(self, sheet: str) -> tuple[str, etree._Element]:
        ref = self._sheets.get(sheet)
        if ref is None:
            names = "、".join(self._sheets) or "（なし）"
            raise CannotEdit(f"シート「{sheet}」がありません（あるシート: {names}）。", sheet=sheet)
        if ref.rel_type != REL_WORKSHEET:
            raise CannotEdit(f"シート「{sheet}」はワークシートではありません（グラフシートなど）。", sheet=sheet)
        if ref.part is None:
            raise CannotEdit(f"シート「{sheet}」の部品がブックの中にありません。", sheet=sheet)
        root = self._part(ref.part).root
        if root.tag != _q("worksheet"):
            raise CannotEdit(f"シート「{sheet}」（{ref.part}）がワークシートとして読めません。", part=ref.part, sheet=sheet)
        if root.find(_q("sheetData")) is None:
            raise CannotEdit(f"シート「{sheet}」（{ref.part}）に sheetData がありません。", part=ref.part, sheet=sheet)
        return ref.part, root

    def _edit_sheet(self, sheet: str) -> etree._Element:
        """The worksheet root, marked as changed; implicit row/cell numbers made explicit."""
        name, root = self._sheet_root(sheet)
        if name not in self._edited_sheets:
            sd = root.find(_q("sheetData"))
            for rn, row in self._rows(sd, sheet):
                number = str(rn)
                if row.get("r") != number:  # (setting an attribute to the value it has changes nothing)
                    row.set("r", number)
                width = len(number)
                for col, c in self._cells(row, rn, sheet):
                    r = c.get("r")
                    # a reference of capitals and this row's number is the one cell_ref gives
                    # (the capitals are its column: _cells read them), without making it
                    if r is not None and r.endswith(number) and r.isascii() and r[:-width].isalpha() and r[:-width].isupper():
                        continue
                    c.set("r", cell_ref(col, rn))
            self._edited_sheets.add(name)
        self._dirty.add(name)
        return root

    # ------------------------------------------------------------ sheet structure

    @staticmethod
    def _rows(sd: etree._Element, sheet: str) -> Iterator[tuple[int, etree._Element]]:
        last = 0
        for row in sd.iterchildren(_q("row")):
            r = row.get("r")
            if r is None:
                n = last + 1
            elif r.isdigit() and 1 <= int(r) <= MAX_ROW:
                n = int(r)
            else:
                raise CannotEdit(f"シート「{sheet}」に読めない行番号があります: {r!r}", sheet=sheet)
            last = n
            yield n, row

    @staticmethod
    def _cells(row: etree._Element, rn: int, sheet: str) -> Iterator[tuple[int, etree._Element]]:
        last = 0
        for c in row.iterchildren(_q("c")):
            r = c.get("r")
            if r is None:
                col = last + 1
            else:
                try:
                    col = _ref_col(r)
                except ValueError:
                    raise CannotEdit(f"シート「{sheet}」に読めないセル番地があります: {r!r}", sheet=sheet) from None
            last = col
            yield col, c

    def _find_row(self, sd: etree._Element, rn: int, sheet: str, *, create: bool) -> etree._Element | None:
        before = None
        for n, row in self._rows(sd, sheet):
            if n == rn:
                return row
            if n > rn:
                before = row
                break
        if not create:
            return None
        row = etree.SubElement(sd, _q("row"), r=str(rn))
        if before is not None:
            sd.insert(sd.index(before), row)
        return row

    def _find_cell(self, row: etree._Element, rn: int, col: int, sheet: str, *, create: bool) -> etree._Element | None:
        """The <c> of column ``col`` in ``row`` (an edited sheet: every cell has its r)."""
        pos = 0
        for i, child in enumerate(row):
            if not _is(child, "c"):
                continue
            ccol = _ref_col(child.get("r", ""))
            if ccol == col:
                return child
            if ccol > col:
                pos = i
                break
            pos = i + 1
        if not create:
            return None
        c = etree.SubElement(row, _q("c"), r=cell_ref(col, rn))
        row.insert(pos, c)
        if row.get("spans") is not None:
            cols = [ccol for ccol, _ in self._cells(row, rn, sheet)]
            row.set("spans", f"{min(cols)}:{max(cols)}")
        return c

    def _cell_formula_removed(self, sheet: str, c: etree._Element) -> None:
        if c.find(_q("f")) is not None:
            self._removed_formulas.add((self._sheets[sheet].sheet_id, (c.get("r") or "").upper()))

    def _write_cell(self, sheet: str, c: etree._Element, kind: str | None, text: str) -> None:
        """Replace a cell's content (its style stays)."""
        self._cell_formula_removed(sheet, c)
        for child in list(c):
            if _local(child) in ("f", "v", "is"):
                c.remove(child)
        for attr in ("t", "vm", "cm"):
            c.attrib.pop(attr, None)
        if kind is None:
            return
        if kind == "s":
            c.set("t", "inlineStr")
            holder = etree.SubElement(c, _q("is"))
            t = etree.SubElement(holder, _q("t"))
            t.text = text
            if _NEEDS_PRESERVE_RE.search(text):
                t.set(XML_SPACE, "preserve")
        else:
            if kind == "b":
                c.set("t", "b")
            holder = etree.SubElement(c, _q("v"))
            holder.text = text
        c.insert(0, holder)  # before a possible <extLst>

    @staticmethod
    def _has_value(c: etree._Element) -> bool:
        return any(_local(child) in ("f", "v", "is") for child in c)

    def _fix_dimension(self, root: etree._Element, sheet: str) -> None:
        sd = root.find(_q("sheetData"))
        r1 = c1 = None
        r2 = c2 = 0
        for rn, row in self._rows(sd, sheet):
            cols = [col for col, _c in self._cells(row, rn, sheet)]
            if not cols:
                continue
            low, high = min(cols), max(cols)  # per row: the sheets edited hold thousands of cells
            r1 = rn if r1 is None else min(r1, rn)
            c1 = low if c1 is None else min(c1, low)
            r2, c2 = max(r2, rn), max(c2, high)
        ref = "A1" if r1 is None or c1 is None else _range_text(r1, c1, r2, c2)
        dim = root.find(_q("dimension"))
        if dim is None:
            dim = _new_child(root, "dimension", WORKSHEET_ORDER)
        if dim.get("ref") != ref:
            dim.set("ref", ref)

    # ------------------------------------------------------------ styles

    def _stylesheet(self) -> etree._Element:
        if self._styles is None:
            raise CannotEdit("ブックに書式の部品（styles.xml）がありません。", part="xl/styles.xml")
        root = self._part(self._styles).root
        if root.tag != _q("styleSheet"):
            raise CannotEdit(f"{self._styles} が書式の部品として読めません。", part=self._styles)
        return root

    def _xf_count(self) -> int:
        if self._styles is None:
            return 1  # only the implicit default style 0
        xfs = self._stylesheet().find(_q("cellXfs"))
        return 0 if xfs is None else sum(1 for _ in xfs.iterchildren(_q("xf")))

    def _check_style(self, style: int, where: str, count: int) -> None:
        if isinstance(style, bool) or not isinstance(style, int):
            raise TypeError(f"{where}: 書式番号は整数で指定してください: {style!r}")
        if not 0 <= style < max(count, 1):
            raise ValueError(f"{where}: 書式番号 {style} がありません（cellXfs は {count} 個）。")

    def highlight_style(self, base_style: int, rgb: str) -> int:
        """The cellXfs index of ``base_style`` with a solid ``rgb`` fill (added once, then reused).

        Answers are remembered: only this method changes the styles, and only by appending a
        fill and an xf, so a second search for the same pair would find the same index."""
        argb = _argb(rgb)
        known = self._highlights.get((base_style, argb)) if type(base_style) is int else None  # (False == 0: refused below)
        if known is not None:
            return known
        found = self._highlight_style(base_style, argb)
        self._highlights[(base_style, argb)] = found
        return found

    def _highlight_style(self, base_style: int, argb: str) -> int:
        root = self._stylesheet()
        cell_xfs = root.find(_q("cellXfs"))
        xfs = [] if cell_xfs is None else list(cell_xfs.iterchildren(_q("xf")))
        self._check_style(base_style, "highlight_style", len(xfs))
        if not xfs:
            raise CannotEdit(f"{self._styles} に cellXfs がありません。", part=self._styles)
        fills_el = root.find(_q("fills"))
        fills = [] if fills_el is None else list(fills_el.iterchildren(_q("fill")))

        # the fill Excel itself writes for a solid colour
        want_fill = etree.Element(_q("fill"))
        pattern = etree.SubElement(want_fill, _q("patternFill"), patternType="solid")
        etree.SubElement(pattern, _q("fgColor"), rgb=argb)
        etree.SubElement(pattern, _q("bgColor"), indexed="64")
        fill_key = _key(want_fill)
        fill_id = next((i for i, f in enumerate(fills) if _key(f) == fill_key), None)

        base = xfs[base_style]
        if fill_id is not None:
            want_key = _key(base, dict(base.attrib, fillId=str(fill_id), applyFill="1"))
            for i, xf in enumerate(xfs):
                if _key(xf) == want_key:
                    return i
        else:
            if fills_el is None:
                fills_el = _new_child(root, "fills", STYLESHEET_ORDER)
            _clone_into(fills_el, want_fill)
            fill_id = len(fills)
            fills_el.set("count", str(fill_id + 1))
        xf = _clone_into(cell_xfs, base)
        xf.set("fillId", str(fill_id))
        xf.set("applyFill", "1")
        cell_xfs.set("count", str(len(xfs) + 1))
        self._dirty.add(self._styles)
        return len(xfs)

    # ------------------------------------------------------------ public API

    def sheet_names(self) -> list[str]:
        """Sheet names in workbook order (worksheets and any other sheet kinds)."""
        return list(self._sheets)

    def show_only(self, sheets: Sequence[str]) -> None:
        """Hide every sheet not named in ``sheets`` (their state; the named ones keep theirs)
        and drop the print area of each sheet it hides: LibreOffice prints a hidden sheet
        that has a print area."""
        unknown = [s for s in sheets if s not in self._sheets]
        if unknown:
            raise ValueError(f"no sheet {unknown[0]!r}")
        root = self._part(self._workbook).root
        hidden: set[str] = set()
        for i, el in enumerate(root.find(_q("sheets")).iterchildren(_q("sheet"))):
            if el.get("name", "") not in sheets:
                el.set("state", "hidden")
                hidden.add(str(i))  # a defined name's localSheetId: the sheet's position
        names = root.find(_q("definedNames"))
        if names is not None:
            for el in list(names.iterchildren(_q("definedName"))):
                if el.get("name") == "_xlnm.Print_Area" and el.get("localSheetId") in hidden:
                    names.remove(el)
            if len(names) == 0:
                root.remove(names)
        self._dirty.add(self._workbook)

    def replace_rows(
        self,
        sheet: str,
        first_row: int,
        rows: Sequence[Sequence[object]],
        *,
        hyperlinks: Mapping[str, str] | None = None,
        style_of: Callable[[int, int], int | None] | None = None,
    ) -> None:
        """Delete every row >= ``first_row`` of ``sheet`` and write ``rows`` from there down.

        ``hyperlinks`` maps a cell ("D4") to an internal location ("'本表1-1'!L25");
        hyperlinks anchored at rows >= ``first_row`` are dropped first. ``style_of(row,
        col)`` gives a cell's cellXfs index (None or 0: default); a None value with a
        style writes an empty, styled cell. Merged ranges starting at or below
        ``first_row`` are removed and ranges crossing it are cut above it.
        """
        if not isinstance(first_row, int) or not 1 <= first_row <= MAX_ROW:
            raise ValueError(f"first_row が範囲外です: {first_row!r}")
        if first_row + len(rows) - 1 > MAX_ROW:
            raise ValueError("行数が Excel の上限を超えます。")
        xf_count = self._xf_count()
        planned: list[tuple[int, list[_Cell]]] = []
        for i, values in enumerate(rows):
            rn = first_row + i
            planned.append((rn, self._plan_row(sheet, rn, values, style_of, xf_count)))
        links = self._plan_links(sheet, first_row, hyperlinks or {}, planned)

        _name, root = self._sheet_root(sheet)
        sd = root.find(_q("sheetData"))
        kept = [(rn, row) for rn, row in self._rows(sd, sheet) if rn < first_row]
        for rn, row in kept:  # refuse before changing anything
            for _col, c in self._cells(row, rn, sheet):
                f = c.find(_q("f"))
                if f is not None and f.get("t") in ("array", "dataTable") and f.get("ref"):
                    if _parse_range(f.get("ref"))[2] >= first_row:
                        raise CannotEdit(
                            f"シート「{sheet}」の配列数式 {f.get('ref')} が {first_row} 行目をまたいでいるため、書き換えられません。",
                            sheet=sheet,
                        )

        root = self._edit_sheet(sheet)
        sd = root.find(_q("sheetData"))
        for rn, row in list(self._rows(sd, sheet)):
            if rn >= first_row:
                for _col, c in self._cells(row, rn, sheet):
                    self._cell_formula_removed(sheet, c)
                sd.remove(row)
            else:
                for _col, c in self._cells(row, rn, sheet):
                    f = c.find(_q("f"))
                    if f is not None and f.get("t") == "shared" and f.get("ref"):
                        r1, c1, r2, c2 = _parse_range(f.get("ref"))
                        if r2 >= first_row:
                            f.set("ref", _range_text(r1, c1, first_row - 1, c2))
        for rn, cells in planned:
            if not cells:
                continue
            row = etree.SubElement(sd, _q("row"), r=str(rn))
            for cell in cells:
                c = etree.SubElement(row, _q("c"), r=cell_ref(cell.col, rn))
                if cell.style:
                    c.set("s", str(cell.style))
                self._write_cell(sheet, c, cell.kind, cell.text)
        self._cut_merges(root, first_row)
        self._replace_links(sheet, root, first_row, links)

    def append_row(self, sheet: str, values: Sequence[object], *, min_row: int = 1) -> int:
        """Write ``values`` (from column A) after the last row holding a value, at
        ``min_row`` at the earliest; returns the row number. Styles already on that
        row's cells (a pre-formatted log table) are kept."""
        if not isinstance(min_row, int) or not 1 <= min_row <= MAX_ROW:
            raise ValueError(f"min_row が範囲外です: {min_row!r}")
        _name, root = self._sheet_root(sheet)
        sd = root.find(_q("sheetData"))
        last = 0
        for rn, row in self._rows(sd, sheet):
            if any(self._has_value(c) for _col, c in self._cells(row, rn, sheet)):
                last = max(last, rn)
        target = max(last + 1, min_row)
        if target > MAX_ROW:
            raise CannotEdit(f"シート「{sheet}」に追記する行がありません（最終行に達しています）。", sheet=sheet)
        cells = [c for c in self._plan_row(sheet, target, values, None, 1) if c.kind is not None]
        root = self._edit_sheet(sheet)
        sd = root.find(_q("sheetData"))
        row = self._find_row(sd, target, sheet, create=True)
        for cell in cells:
            c = self._find_cell(row, target, cell.col, sheet, create=True)
            self._write_cell(sheet, c, cell.kind, cell.text)
        return target

    def set_values(self, sheet: str, values: Mapping[str, object]) -> None:
        """Write constants into single cells ({"C5": 2000, "D7": "未定"}); each cell keeps
        its style, a formula in it is replaced, None empties it."""
        planned = []
        for ref, value in values.items():
            rn, col = parse_ref(ref)
            kind, text = _plan_value(value, f"{sheet}!{ref}")
            planned.append((rn, col, kind, text))
        root = self._edit_sheet(sheet)
        sd = root.find(_q("sheetData"))
        for rn, col, kind, text in sorted(planned):
            row = self._find_row(sd, rn, sheet, create=kind is not None)
            if row is None:
                continue
            c = self._find_cell(row, rn, col, sheet, create=kind is not None)
            if c is not None:
                self._write_cell(sheet, c, kind, text)

    def read_rows(self, sheet: str, first_row: int = 1) -> list[list[object]]:
        """Cell values from ``first_row`` down: one list per row from column A,
        trailing empty cells and rows left out (a missing row is ``[]``).

        Strings (inline or shared) are ``str``, numbers ``int`` when integral text
        else ``float``, booleans ``bool``, errors their text ("#N/A"); a formula
        gives its cached value (None if it has none)."""
        _name, root = self._sheet_root(sheet)
        sd = root.find(_q("sheetData"))
        grid: dict[int, list[object]] = {}
        for rn, row in self._rows(sd, sheet):
            if rn < first_row:
                continue
            line: list[object] = []
            for col, c in self._cells(row, rn, sheet):
                value = self._cell_value(sheet, c)
                if value is None:
                    continue
                line.extend([None] * (col - len(line)))
                line[col - 1] = value
            if line:
                grid[rn] = line
        if not grid:
            return []
        return [grid.get(rn, []) for rn in range(first_row, max(grid) + 1)]

    def cell_style(self, sheet: str, ref: str) -> int:
        """The cellXfs index of a cell (its ``s``; 0 if absent). For a cell with no
        ``<c>`` element, the style Excel would give it: the row's style if the row
        is custom-formatted, else the column's, else 0."""
        rn, col = parse_ref(ref)
        _name, root = self._sheet_root(sheet)
        sd = root.find(_q("sheetData"))
        row = self._find_row(sd, rn, sheet, create=False)
        if row is not None:
            for ccol, c in self._cells(row, rn, sheet):
                if ccol == col:
                    return self._int_attr(c, "s", sheet)
            if row.get("customFormat") in ("1", "true"):
                return self._int_attr(row, "s", sheet)
        return self._column_style(root, col, sheet)

    def _column_style(self, root: etree._Element, col: int, sheet: str) -> int:
        """The style of a column (its ``<col>``'s), else 0: a cell's without a ``<c>`` of its
        own in a row that is not custom-formatted."""
        cols = root.find(_q("cols"))
        for el in cols.iterchildren(_q("col")) if cols is not None else ():
            lo, hi = self._int_attr(el, "min", sheet), self._int_attr(el, "max", sheet)
            if lo <= col <= hi:
                return self._int_attr(el, "style", sheet)
        return 0

    def cell_styles(self, sheet: str, refs: Iterable[str]) -> dict[str, int]:
        """``cell_style`` of several cells of one sheet ({"C5": 12, ...}), the sheet's rows
        walked once instead of once per cell."""
        wanted: dict[int, dict[int, list[str]]] = {}
        for ref in refs:
            rn, col = parse_ref(ref)
            wanted.setdefault(rn, {}).setdefault(col, []).append(ref)
        if not wanted:
            return {}
        _name, root = self._sheet_root(sheet)
        sd = root.find(_q("sheetData"))
        out: dict[str, int] = {}
        # as _find_row: a row number's row is the first row numbered at least that, if equal
        rows: dict[int, etree._Element] = {}
        pending, i = sorted(wanted), 0
        for n, row in self._rows(sd, sheet):
            while i < len(pending) and pending[i] <= n:
                if pending[i] == n:
                    rows[n] = row
                i += 1
            if i == len(pending):
                break
        for rn, cols in wanted.items():
            row = rows.get(rn)
            if row is not None:
                found: dict[int, etree._Element] = {}
                for ccol, c in self._cells(row, rn, sheet):
                    if ccol in cols and ccol not in found:  # the first cell of a column, as cell_style takes it
                        found[ccol] = c
                for col, refs_ in cols.items():
                    if col in found:
                        style = self._int_attr(found[col], "s", sheet)
                    elif row.get("customFormat") in ("1", "true"):
                        style = self._int_attr(row, "s", sheet)
                    else:
                        continue
                    for ref in refs_:
                        out[ref] = style
            for col, refs_ in cols.items():
                for ref in refs_:
                    if ref not in out:  # no cell, no formatted row: the column's
                        out[ref] = self._column_style(root, col, sheet)
        return out

    def set_styles(self, sheet: str, styles: Mapping[str, int]) -> None:
        """Set the cellXfs index of cells ("C5" -> 12), creating empty cells where needed."""
        count = self._xf_count()
        wanted: dict[tuple[int, int], int] = {}
        for ref, style in styles.items():
            self._check_style(style, f"シート「{sheet}」{ref}", count)
            wanted[parse_ref(ref)] = style
        if not wanted:
            return
        root = self._edit_sheet(sheet)
        sd = root.find(_q("sheetData"))
        for (rn, col), style in sorted(wanted.items()):
            row = self._find_row(sd, rn, sheet, create=True)
            c = self._find_cell(row, rn, col, sheet, create=True)
            if style:
                c.set("s", str(style))
            else:
                c.attrib.pop("s", None)

    def to_bytes(self) -> bytes:
        """The edited package: input entry order, compression and timestamps; parts
        that were not changed are the input's bytes."""
        self._flush_calc_chain()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zout:
            zout.comment = self._zip.comment
            for info in self._infos:
                name = info.filename
                if name in self._removed:
                    continue
                data = self._serialize(name) if name in self._dirty else self._read_entry(name)
                zi = zipfile.ZipInfo(name, date_time=info.date_time)
                zi.compress_type = info.compress_type
                zi.comment = info.comment
                zi.create_system = info.create_system
                zi.external_attr = info.external_attr
                zi.internal_attr = info.internal_attr
                zout.writestr(zi, data)
        return out.getvalue()

    # ------------------------------------------------------------ helpers of the API

    @staticmethod
    def _int_attr(el: etree._Element, name: str, sheet: str) -> int:
        text = el.get(name)
        if text is None:
            return 0
        try:
            return int(text)
        except ValueError:
            raise CannotEdit(f"シート「{sheet}」に読めない値 {name}={text!r} があります。", sheet=sheet) from None

    def _plan_row(
        self,
        sheet: str,
        rn: int,
        values: Sequence[object],
        style_of: Callable[[int, int], int | None] | None,
        xf_count: int,
    ) -> list[_Cell]:
        if isinstance(values, (str, bytes)):
            raise TypeError("each row must be a sequence of cell values, not a string")
        if len(values) > MAX_COL:
            raise ValueError(f"シート「{sheet}」{rn} 行目: 列が多すぎます（{len(values)} 列）。")
        cells = []
        for i, value in enumerate(values):
            col = i + 1
            where = f"シート「{sheet}」{cell_ref(col, rn)}"
            kind, text = _plan_value(value, where)
            style = style_of(rn, col) if style_of else None
            if style is not None:
                self._check_style(style, where, xf_count)
            if kind is None and not style:
                continue
            cells.append(_Cell(col, kind, text, style or None))
        return cells

    def _plan_links(
        self, sheet: str, first_row: int, hyperlinks: Mapping[str, str], planned: list[tuple[int, list[_Cell]]]
    ) -> list[tuple[int, int, str, str]]:
        texts = {(rn, c.col): c.text for rn, cells in planned for c in cells if c.kind == "s"}
        links = []
        for ref, location in hyperlinks.items():
            rn, col = parse_ref(ref)
            if rn < first_row:
                raise ValueError(f"シート「{sheet}」のハイパーリンク {ref} が書き換える範囲（{first_row} 行目から）の外にあります。")
            if not isinstance(location, str) or not location.strip():
                raise ValueError(f"シート「{sheet}」{ref} のリンク先が空です。")
            if _ILLEGAL_RE.search(location):
                raise ValueError(f"シート「{sheet}」{ref} のリンク先に使えない文字があります: {location!r}")
            display = texts.get((rn, col)) or _escape_text(location)
            links.append((rn, col, location, display))
        links.sort()
        return links

    def _cut_merges(self, root: etree._Element, first_row: int) -> None:
        merges = root.find(_q("mergeCells"))
        if merges is None:
            return
        for m in list(merges.iterchildren(_q("mergeCell"))):
            try:
                r1, c1, r2, c2 = _parse_range(m.get("ref", ""))
            except ValueError:
                continue
            if r1 >= first_row or (r2 >= first_row and r1 == first_row - 1 and c1 == c2):
                merges.remove(m)  # inside the replaced rows, or cut down to a single cell
            elif r2 >= first_row:
                m.set("ref", _range_text(r1, c1, first_row - 1, c2))
        left = sum(1 for _ in merges.iterchildren(_q("mergeCell")))
        if left:
            merges.set("count", str(left))
        else:
            root.remove(merges)

    def _replace_links(self, sheet: str, root: etree._Element, first_row: int, links: list[tuple[int, int, str, str]]) -> None:
        box = root.find(_q("hyperlinks"))
        dropped: set[str] = set()
        if box is not None:
            for h in list(box.iterchildren(_q("hyperlink"))):
                try:
                    top = _parse_range(h.get("ref", ""))[0]
                except ValueError:
                    continue
                if top >= first_row:
                    rid = h.get(f"{{{NS_REL}}}id")
                    if rid:
                        dropped.add(rid)
                    box.remove(h)
        if links and box is None:
            box = _new_child(root, "hyperlinks", WORKSHEET_ORDER)
        for rn, col, location, display in links:
            etree.SubElement(box, _q("hyperlink"), ref=cell_ref(col, rn), location=location, display=display)
        if box is not None and next(box.iterchildren(_q("hyperlink")), None) is None:
            root.remove(box)
        if dropped:
            self._drop_relationships(self._sheets[sheet].part, root, dropped)

    def _drop_relationships(self, source: str, root: etree._Element, rids: set[str]) -> None:
        """Remove relationships of ``source`` that nothing in ``root`` refers to any more."""
        used = {v for el in root.iter() if isinstance(el.tag, str) for k, v in el.attrib.items() if k.startswith(f"{{{NS_REL}}}")}
        name = self._entry(self._rels_name(source))
        if name is None:
            return
        rels = self._part(name).root
        for el in list(rels.iterchildren(f"{{{NS_PKG_REL}}}Relationship")):
            if el.get("Id") in rids and el.get("Id") not in used:
                rels.remove(el)
                self._dirty.add(name)

    def _cell_value(self, sheet: str, c: etree._Element) -> object:
        t = c.get("t", "n")
        v = c.find(_q("v"))
        text = v.text if v is not None else None
        if t == "inlineStr":
            holder = c.find(_q("is"))
            return _string_item_text(holder) if holder is not None else text
        if text is None:
            return None
        if t == "s":
            sst = self._shared()
            try:
                return sst[int(text)]
            except (ValueError, IndexError):
                raise CannotEdit(f"シート「{sheet}」{c.get('r')} の共有文字列番号 {text!r} がありません。", sheet=sheet) from None
        if t == "b":
            return text.strip() in ("1", "true")
        if t == "str":
            return _unescape_text(text)
        if t in ("e", "d"):
            return text
        s = text.strip()
        try:
            return int(s) if _INT_RE.fullmatch(s) else float(s)
        except ValueError:
            raise CannotEdit(f"シート「{sheet}」{c.get('r')} の数値 {text!r} が読めません。", sheet=sheet) from None

    def _shared(self) -> list[str]:
        if self._sst is None:
            self._sst = []
            if self._shared_strings is not None:
                root = self._part(self._shared_strings).root
                self._sst = [_string_item_text(si) for si in root.iterchildren(_q("si"))]
        return self._sst

    def _flush_calc_chain(self) -> None:
        """Take removed formula cells out of calcChain.xml (Excel reports a corrupt
        file when the chain names a cell without a formula)."""
        removed, self._removed_formulas = self._removed_formulas, set()
        if not removed or self._calc_chain is None or self._calc_chain in self._removed:
            return
        root = self._part(self._calc_chain).root
        current = kept_i = None
        kept = 0
        changed = False
        for c in list(root.iterchildren(_q("c"))):
            if c.get("i") is not None:
                current = c.get("i")
            if (current, (c.get("r") or "").upper()) in removed:
                root.remove(c)
                changed = True
                continue
            if c.get("i") is None and current is not None and current != kept_i:
                c.set("i", current)  # its sheet was implied by an entry just removed
            kept_i = current
            kept += 1
        if not changed:
            return
        if kept:
            self._dirty.add(self._calc_chain)
            return
        # an empty chain is not allowed: drop the part, its relationship and its content type
        self._removed.add(self._calc_chain)
        wb_rels = self._entry(self._rels_name(self._workbook))
        if wb_rels is not None:
            rels = self._part(wb_rels).root
            for el in list(rels.iterchildren(f"{{{NS_PKG_REL}}}Relationship")):
                if el.get("Type") == REL_CALC_CHAIN:
                    rels.remove(el)
                    self._dirty.add(wb_rels)
        types = self._entry("[Content_Types].xml")
        if types is not None:
            root = self._part(types).root
            for el in list(root.iterchildren(f"{{{NS_CT}}}Override")):
                if el.get("PartName", "").lstrip("/").lower() == self._calc_chain.lower():
                    root.remove(el)
                    self._dirty.add(types)


def highlight_cells(editor: XlsxEditor, cells: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Colour each (sheet, cell) with its rgb; returns the ORIGINAL style indexes,
    so a later run can put them back with ``editor.set_styles(sheet, {cell: original})``."""
    originals: dict[tuple[str, str], int] = {}
    per_sheet: dict[str, dict[str, int]] = defaultdict(dict)
    for (sheet, ref), rgb in cells.items():
        original = editor.cell_style(sheet, ref)
        originals[(sheet, ref)] = original
        per_sheet[sheet][ref] = editor.highlight_style(original, rgb)
    for sheet, styles in per_sheet.items():
        editor.set_styles(sheet, styles)
    return originals
