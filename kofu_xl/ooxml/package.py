"""Turn the .xlsx openpyxl saves into the macro-enabled workbook (.xlsm), reproducibly.

`assemble_xlsm` takes the bytes of an openpyxl .xlsx and returns a new package that

* declares the workbook part as macro-enabled and carries ``xl/vbaProject.bin``
  (content type ``application/vnd.ms-office.vbaProject``, workbook relationship of type
  ``.../office/2006/relationships/vbaProject``);
* carries the ribbon as ``customUI/customUI14.xml`` with a package relationship of type
  ``.../office/2007/relationships/ui/extensibility`` (added by this module, last: openpyxl
  would drop it);
* optionally holds cached results for formula cells (see `inject_cached_values`), so that
  readers which do not calculate (openpyxl ``data_only=True``, python-calamine, pandas)
  see values before Excel has recalculated the book;
* is byte-identical for identical input: zip entries in a fixed order with fixed
  timestamps, attributes and compression level, and ``docProps/core.xml`` rewritten
  with fixed creation/modification dates.

Only the parts that need it are changed: ``[Content_Types].xml``, ``_rels/.rels``,
the workbook's relationships, ``docProps/core.xml`` and, for cached values, the
``<c>`` elements of formula cells (spliced into the sheet XML; cells of array-formula
ranges that openpyxl left out are added, with their rows, and ``<dimension>`` widened to
match; everything else in the sheet stays byte for byte as openpyxl wrote it, namespace
declarations included).
XML is read with expat or defusedxml; DTDs and entity declarations are refused.
"""

from __future__ import annotations

import io
import logging
import math
import numbers
import posixpath
import re
import stat
import xml.etree.ElementTree
import xml.parsers.expat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union

from defusedxml import ElementTree as SafeET

from kofu_xl.errors import MissingCachedValuesError
from kofu_xl.ooxml.atomic import atomic_write  # here too: its home before the writers needed it without this module
from kofu_xl.ooxml.cellref import col_index, col_letter, range_bounds

__all__ = [
    "CONTENT_TYPE_MACRO_WORKBOOK",
    "CONTENT_TYPE_VBA_PROJECT",
    "CUSTOM_UI_PART",
    "CachedValueReport",
    "EXCEL_ERRORS",
    "MissingCachedValuesError",
    "REL_CUSTOM_UI_2010",
    "REL_VBA_PROJECT",
    "VBA_PROJECT_PART",
    "assemble_xlsm",
    "atomic_write",
    "document_module_names",
    "inject_cached_values",
    "splice_cells",
    "uncached_formula_cells",
    "workbook_code_name",
]

log = logging.getLogger(__name__)

CONTENT_TYPE_MACRO_WORKBOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CONTENT_TYPE_VBA_PROJECT = "application/vnd.ms-office.vbaProject"
REL_VBA_PROJECT = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
REL_CUSTOM_UI_2010 = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
VBA_PROJECT_PART = "xl/vbaProject.bin"
CUSTOM_UI_PART = "customUI/customUI14.xml"

_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_OFFICE_DOCUMENT = _DOC_RELS_NS + "/officeDocument"
_REL_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
_CONTENT_TYPES_PART = "[Content_Types].xml"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
_SHEET_MAIN_TYPES = frozenset({
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    CONTENT_TYPE_MACRO_WORKBOOK,
})
# Parts that come first, in this order; the rest follow in natural name order.
_PART_ORDER = (
    _CONTENT_TYPES_PART, "_rels/.rels", "docProps/app.xml", "docProps/core.xml",
    "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
)
_COMPRESS_LEVEL = 6  # zlib's default: level 9 took ~3 times as long for 0.3 % smaller workbooks

# Excel's error values (what openpyxl knows as ERROR_CODES; pycel returns these as text).
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
_MAX_TEXT = 32767  # Excel's limit for the text of a cell
# The characters XML 1.0 forbids, listed (compiling the complement of the allowed ranges costs
# ~8 ms at every import).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_VBA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")

CellKey = tuple[str, str]  # (sheet name, "E9")
CellValue = Union[int, float, Decimal, str, bool, None]


@dataclass(frozen=True)
class CachedValueReport:
    """What `inject_cached_values` did.

    ``missing``: formula cells (and cells of legacy array-formula ranges) the map had no
    value for, in workbook order. ``ignored``: map entries naming cells that hold no
    formula (left untouched). ``injected``: how many cells got a value.
    """

    missing: tuple[CellKey, ...]
    ignored: tuple[CellKey, ...]
    injected: int


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def assemble_xlsm(
    xlsx: bytes,
    *,
    vba_project: bytes,
    custom_ui: bytes | None,
    cached_values: Mapping[CellKey, CellValue] | None = None,
    fixed_time: tuple[int, int, int, int, int, int] = (2019, 10, 3, 0, 0, 0),
    require_cached_values: bool = False,
) -> bytes:
    """Return the bytes of the .xlsm built from ``xlsx`` (an .xlsx saved by openpyxl).

    ``vba_project``: the bytes of ``xl/vbaProject.bin`` (`kofu_xl.ooxml.vba.ovba.build_vba_project`).
    Its document modules must be named after the code names in the workbook
    (`document_module_names`, `workbook_code_name`); every sheet and the workbook must
    carry one, otherwise ValueError.
    ``custom_ui``: the bytes of ``customUI14.xml``, or None for no ribbon.
    ``cached_values``: results of formula cells, see `inject_cached_values`. Cells the map
    has no value for are logged as a warning, or raise `MissingCachedValuesError` when
    ``require_cached_values`` is true.
    ``fixed_time``: the timestamp of every zip entry and the document's created/modified
    date (UTC).
    """
    _check_time(fixed_time)
    parts = _read_package(xlsx)
    if VBA_PROJECT_PART in parts or CUSTOM_UI_PART in parts:
        raise ValueError("the input package already holds a VBA project or a ribbon")
    if not vba_project.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ValueError("vba_project is not a compound file (vbaProject.bin)")
    workbook = _main_part(parts)
    _check_code_names(parts, workbook)

    if cached_values is not None:
        report = _inject(parts, workbook, cached_values)
        if report.missing:
            if require_cached_values:
                raise MissingCachedValuesError(report.missing)
            log.warning("%s", MissingCachedValuesError(report.missing))

    # The VBA project: part, content type, workbook relationship.
    parts[VBA_PROJECT_PART] = bytes(vba_project)
    content_types = _ContentTypes.parse(parts[_CONTENT_TYPES_PART])
    content_types.set_override("/" + workbook, CONTENT_TYPE_MACRO_WORKBOOK)
    content_types.set_override("/" + VBA_PROJECT_PART, CONTENT_TYPE_VBA_PROJECT)
    workbook_rels = _rels_part(workbook)
    rels = _Relationships.parse(parts.get(workbook_rels))
    rels.add(REL_VBA_PROJECT, _relative_target(workbook, VBA_PROJECT_PART))
    parts[workbook_rels] = rels.serialize()

    # The ribbon: part and package relationship.
    package_rels = _Relationships.parse(parts.get("_rels/.rels"))
    if custom_ui is not None:
        _check_custom_ui(custom_ui)
        parts[CUSTOM_UI_PART] = bytes(custom_ui)
        if content_types.resolve("/" + CUSTOM_UI_PART) is None:
            content_types.set_override("/" + CUSTOM_UI_PART, "application/xml")
        package_rels.add(REL_CUSTOM_UI_2010, CUSTOM_UI_PART)

    # Fixed document dates.
    core = package_rels.target_of(_REL_CORE, "")
    if core is None:
        core = "docProps/core.xml"
        package_rels.add(_REL_CORE, core)
        content_types.set_override(
            "/" + core, "application/vnd.openxmlformats-package.core-properties+xml")
    parts[core] = _core_properties(parts.get(core), fixed_time)
    parts["_rels/.rels"] = package_rels.serialize()
    parts[_CONTENT_TYPES_PART] = content_types.serialize()
    return _write_package(parts, fixed_time)


def inject_cached_values(
    xlsx: bytes,
    cached_values: Mapping[CellKey, CellValue],
    *,
    fixed_time: tuple[int, int, int, int, int, int] = (2019, 10, 3, 0, 0, 0),
) -> tuple[bytes, CachedValueReport]:
    """Write cached results into the formula cells of a package; return it and a report.

    ``cached_values`` maps (sheet name, cell reference such as "E9") to the cell's result:

    * int / float / Decimal: a number (``<v>`` without ``t``); floats must be finite,
      Decimals are written as their shortest exact decimal text;
    * bool: ``t="b"``, 1 or 0;
    * str: ``t="str"``; a text that is exactly one of `EXCEL_ERRORS` (as pycel returns
      errors) is written as that error, ``t="e"``;
    * None: an empty text result, written as Excel writes a formula returning "".

    A legacy array formula (``<f t="array" ref="E9:Z9">``, what openpyxl writes for an
    ``ArrayFormula``) is stored in its top-left cell only; openpyxl writes the other cells
    of the range only when they carry a style. Each cell of the range is looked up in the
    map, and cells of the range that are absent from the sheet are created (with rows as
    needed) to hold their value, as Excel does. A formula cell without an entry stays as
    it is and is listed in the report's ``missing``.
    """
    _check_time(fixed_time)
    parts = _read_package(xlsx)
    report = _inject(parts, _main_part(parts), cached_values)
    return _write_package(parts, fixed_time), report


def splice_cells(
    package: bytes,
    values: Mapping[CellKey, CellValue],
    cached_values: Mapping[CellKey, CellValue],
    *,
    title: str | None = None,
    fixed_time: tuple[int, int, int, int, int, int] = (2019, 10, 3, 0, 0, 0),
) -> bytes:
    """A copy of ``package`` (one `assemble_xlsm` wrote) with other values in some cells: the
    package another workbook of the same shape would have been, without drawing it again.

    ``values``: (sheet, "E9") -> the value of a cell without a formula, written as openpyxl
    3.1 writes a value it is given (a number ``t="n"`` in ``%.16g``, a text inline, None an
    empty ``t="n"`` cell); the cell must exist, keeps its style (``s``) and must hold no formula.
    Only plain texts are taken (no character below U+0020, no leading or trailing white
    space, not starting with "="): anything else raises ValueError, as does a bool or a cell
    that is not there. ``cached_values``: the results of every formula cell, injected as
    `assemble_xlsm` does (a formula cell without one raises `MissingCachedValuesError`).
    ``title``: the document's title, when given (docProps/core.xml is then written as
    `assemble_xlsm` writes it). The zip is written as `assemble_xlsm` writes it: the same parts
    give the same bytes.
    """
    _check_time(fixed_time)
    parts = _read_package(package)
    workbook = _main_part(parts)
    sheets = dict(_sheet_parts(parts, workbook))
    by_part: dict[str, dict[str, CellValue]] = {}
    for (sheet, ref), value in values.items():
        if sheet not in sheets:
            raise ValueError(f"value for unknown sheet {sheet!r} ({ref})")
        by_part.setdefault(sheets[sheet], {})[ref] = value
    for part, cells in by_part.items():
        parts[part] = _splice_values(parts[part], cells, part)
    report = _inject(parts, workbook, cached_values)
    if report.missing:
        raise MissingCachedValuesError(report.missing)
    if title is not None:
        core = _Relationships.parse(parts.get("_rels/.rels")).target_of(_REL_CORE, "")
        if core is None or core not in parts:
            raise ValueError("the package has no core properties to hold a title")
        root = _parse(parts[core])
        element = root.find(f"{{{_CORE_NS['dc']}}}title")
        if element is None:
            element = xml.etree.ElementTree.SubElement(root, f"{{{_CORE_NS['dc']}}}title")
        element.text = _plain_text(title, "the title")
        parts[core] = _core_properties(xml.etree.ElementTree.tostring(root), fixed_time)
    return _write_package(parts, fixed_time)


_PLAIN_BAD = re.compile(r"[\x00-\x1f\ud800-\udfff\ufffe\uffff]")
# a cell as openpyxl writes it: r, then s and t when present; empty, or its children
_CELL_AT = r'<c r="({refs})"( s="[0-9]+")?(?: t="[A-Za-z]+")?(?:/>|>(.*?)</c>)'


def _plain_text(value: str, where: str) -> str:
    if _PLAIN_BAD.search(value) or value != value.strip() or value.startswith("="):
        raise ValueError(f"{where}: not a plain text: {value!r}")
    return value


def _openpyxl_text(value: str) -> str:
    """A text as openpyxl (lxml, writing ASCII) writes it: &, <, > escaped, every other
    character beyond ASCII as a decimal character reference."""
    text = _text(value)
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _splice_values(data: bytes, cells: Mapping[str, CellValue], part: str) -> bytes:
    pattern = re.compile(_CELL_AT.format(refs="|".join(re.escape(ref) for ref in cells)).encode(), re.DOTALL)
    edits: list[tuple[int, int, str]] = []
    for m in pattern.finditer(data):
        ref = m[1].decode()
        body = m[3]
        if body is not None and b"<f" in body:
            raise ValueError(f"{part}!{ref} holds a formula")
        head = f'<c r="{ref}"' + (m[2].decode() if m[2] else "")
        value = cells[ref]
        if value is None or value == "":
            xml = f'{head} t="n"></c>'
        elif isinstance(value, bool):
            raise ValueError(f"{part}!{ref}: a bool is not spliced")
        elif isinstance(value, str):
            text = _openpyxl_text(_plain_text(value, f"{part}!{ref}"))
            xml = f'{head} t="inlineStr"><is><t>{text}</t></is></c>'
        elif isinstance(value, (int, float, Decimal)):
            if not math.isfinite(value):
                raise ValueError(f"{part}!{ref}: not a finite number")
            xml = f'{head} t="n"><v>{"%.16g" % value}</v></c>'  # noqa: UP031 - openpyxl's own format (a Decimal as a float)
        else:
            raise ValueError(f"{part}!{ref}: a {type(value).__name__} is not spliced")
        edits.append((m.start(), m.end(), xml))
    if len(edits) != len(cells):
        raise ValueError(f"{part}: {len(cells) - len(edits)} of the cells to splice are not in the part")
    return _apply(data, edits)


def uncached_formula_cells(package: bytes) -> list[CellKey]:
    """Formula cells of a package (.xlsx/.xlsm) that hold no cached value, in workbook
    order; a cell of a legacy array-formula range counts as a formula cell."""
    parts = _read_package(package)
    out: list[CellKey] = []
    for name, part in _sheet_parts(parts, _main_part(parts)):
        if part not in parts:
            continue
        scan = _scan_sheet(parts[part])
        if scan is None:
            continue
        cells = {(c.row, c.col): c for c in scan.cells}
        for (row, col), _anchor in _formula_positions(scan):
            cell = cells.get((row, col))
            if cell is None or not cell.has_cached_value:
                out.append((name, f"{col_letter(col)}{row}"))
    return out


def workbook_code_name(xlsx: bytes) -> str | None:
    """The workbook's code name (``<workbookPr codeName=...>``), or None."""
    parts = _read_package(xlsx)
    root = _parse(parts[_main_part(parts)])
    pr = root.find(f"{{{_MAIN_NS}}}workbookPr")
    return None if pr is None else pr.get("codeName")


def document_module_names(xlsx: bytes) -> list[tuple[str, str]]:
    """(sheet name, code name) of every sheet, in the workbook's sheet order.

    Each pair needs a VBA document module named after the code name (and the workbook
    one named after `workbook_code_name`). Raises ValueError for a sheet without a code
    name, or a code name that is no ASCII VBA identifier or is used twice.
    """
    parts = _read_package(xlsx)
    names = _sheet_code_names(parts, _main_part(parts))
    missing = [sheet for sheet, code in names if not code]
    if missing:
        raise ValueError(f"sheets without a codeName: {missing!r} "
                         "(set ws.sheet_properties.codeName in openpyxl)")
    _check_identifiers([code for _, code in names])
    return [(sheet, code) for sheet, code in names]  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Zip package in and out
# ---------------------------------------------------------------------------

def _check_time(fixed_time: tuple[int, ...]) -> None:
    if len(fixed_time) != 6 or not (1980, 1, 1) <= tuple(fixed_time[:3]) <= (2107, 12, 31):
        raise ValueError(f"fixed_time {fixed_time!r} is not a zip timestamp (1980..2107)")


def _read_package(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts: dict[str, bytes] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            if info.filename in parts:
                raise ValueError(f"duplicate zip entry {info.filename!r}")
            parts[info.filename] = zf.read(info)
    if _CONTENT_TYPES_PART not in parts:
        raise ValueError("not an OPC package: [Content_Types].xml is missing")
    return parts


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name.lower()))


def _entry_order(name: str) -> tuple:
    if name in _PART_ORDER:
        return (0, _PART_ORDER.index(name))
    return (1, _natural_key(name), name)


def _write_package(parts: Mapping[str, bytes], fixed_time: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(parts, key=_entry_order):
            info = zipfile.ZipInfo(name, date_time=tuple(fixed_time))
            info.compress_type = zipfile.ZIP_DEFLATED
            # A regular file, rw-r--r--, made on "Unix" (zipfile would otherwise
            # substitute its own default for external_attr 0).
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, parts[name], compresslevel=_COMPRESS_LEVEL)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# OPC: content types, relationships, core properties
# ---------------------------------------------------------------------------

def _parse(data: bytes):
    return SafeET.fromstring(data, forbid_dtd=True)


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
            .replace("\r", "&#13;"))


def _text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


class _ContentTypes:
    def __init__(self, defaults: list[tuple[str, str]], overrides: list[tuple[str, str]]):
        self.defaults = defaults
        self.overrides = overrides

    @classmethod
    def parse(cls, data: bytes) -> "_ContentTypes":
        root = _parse(data)
        if root.tag != f"{{{_CT_NS}}}Types":
            raise ValueError("[Content_Types].xml: unexpected root element")
        defaults = [(e.get("Extension", ""), e.get("ContentType", ""))
                    for e in root.findall(f"{{{_CT_NS}}}Default")]
        overrides = [(e.get("PartName", ""), e.get("ContentType", ""))
                     for e in root.findall(f"{{{_CT_NS}}}Override")]
        return cls(defaults, overrides)

    def set_override(self, part_name: str, content_type: str) -> None:
        for i, (name, _) in enumerate(self.overrides):
            if name.lower() == part_name.lower():
                self.overrides[i] = (name, content_type)
                return
        self.overrides.append((part_name, content_type))

    def resolve(self, part_name: str) -> str | None:
        """The content type of a part, by the OPC rules (Override first, then Default)."""
        for name, content_type in self.overrides:
            if name.lower() == part_name.lower():
                return content_type
        extension = posixpath.splitext(part_name)[1][1:].lower()
        for ext, content_type in self.defaults:
            if ext.lower() == extension:
                return content_type
        return None

    def serialize(self) -> bytes:
        out = [_XML_DECLARATION, f'<Types xmlns="{_CT_NS}">']
        out += [f'<Default Extension="{_attr(e)}" ContentType="{_attr(t)}"/>'
                for e, t in self.defaults]
        out += [f'<Override PartName="{_attr(p)}" ContentType="{_attr(t)}"/>'
                for p, t in self.overrides]
        out.append("</Types>")
        return "".join(out).encode("utf-8")


_REL_ATTRS = ("Id", "Type", "Target", "TargetMode")


class _Relationships:
    def __init__(self, items: list[dict[str, str]]):
        self.items = items

    @classmethod
    def parse(cls, data: bytes | None) -> "_Relationships":
        if data is None:
            return cls([])
        root = _parse(data)
        if root.tag != f"{{{_RELS_NS}}}Relationships":
            raise ValueError("relationships part: unexpected root element")
        return cls([{k: e.get(k) for k in _REL_ATTRS if e.get(k) is not None}
                    for e in root.findall(f"{{{_RELS_NS}}}Relationship")])

    def target_of(self, rel_type: str, source: str | None = None) -> str | None:
        for item in self.items:
            if item.get("Type") == rel_type and item.get("TargetMode") != "External":
                return item["Target"] if source is None else _resolve(source, item["Target"])
        return None

    def by_id(self) -> dict[str, dict[str, str]]:
        return {item["Id"]: item for item in self.items}

    def add(self, rel_type: str, target: str) -> str:
        if any(item.get("Type") == rel_type for item in self.items):
            raise ValueError(f"a relationship of type {rel_type} exists already")
        ids = {item.get("Id") for item in self.items}
        n = len(self.items) + 1
        while f"rId{n}" in ids:
            n += 1
        self.items.append({"Id": f"rId{n}", "Type": rel_type, "Target": target})
        return f"rId{n}"

    def serialize(self) -> bytes:
        out = [_XML_DECLARATION, f'<Relationships xmlns="{_RELS_NS}">']
        for item in self.items:
            attrs = "".join(f' {k}="{_attr(item[k])}"' for k in _REL_ATTRS if k in item)
            out.append(f"<Relationship{attrs}/>")
        out.append("</Relationships>")
        return "".join(out).encode("utf-8")


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _resolve(source: str, target: str) -> str:
    """The part name (without leading slash) a relationship of ``source`` points to."""
    if target.startswith("/"):
        return posixpath.normpath(target)[1:]
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _relative_target(source: str, part: str) -> str:
    return posixpath.relpath(part, posixpath.dirname(source) or ".")


def _main_part(parts: Mapping[str, bytes]) -> str:
    rels = _Relationships.parse(parts.get("_rels/.rels"))
    main = rels.target_of(_REL_OFFICE_DOCUMENT, "")
    if main is None or main not in parts:
        raise ValueError("the package has no workbook part")
    content_type = _ContentTypes.parse(parts[_CONTENT_TYPES_PART]).resolve("/" + main)
    if content_type not in _SHEET_MAIN_TYPES:
        raise ValueError(f"the main part {main} is not a workbook ({content_type})")
    return main


def _sheet_parts(parts: Mapping[str, bytes], workbook: str) -> list[tuple[str, str]]:
    """(sheet name, part name) of every sheet, in the workbook's order."""
    root = _parse(parts[workbook])
    rels = _Relationships.parse(parts.get(_rels_part(workbook))).by_id()
    out = []
    for sheet in root.iterfind(f"{{{_MAIN_NS}}}sheets/{{{_MAIN_NS}}}sheet"):
        rel = rels.get(sheet.get(f"{{{_DOC_RELS_NS}}}id", ""))
        if rel is None:
            raise ValueError(f"sheet {sheet.get('name')!r} has no relationship")
        out.append((sheet.get("name", ""), _resolve(workbook, rel["Target"])))
    return out


def _sheet_code_name(data: bytes) -> str | None:
    """The codeName in a sheet part's <sheetPr>, reading no further than needed."""
    for _event, element in SafeET.iterparse(io.BytesIO(data), events=("start",),
                                            forbid_dtd=True):
        if element.tag == f"{{{_MAIN_NS}}}sheetPr":
            return element.get("codeName")
        if element.tag in (f"{{{_MAIN_NS}}}sheetData", f"{{{_MAIN_NS}}}dimension"):
            return None  # sheetPr, if any, comes first
    return None


def _sheet_code_names(parts: Mapping[str, bytes], workbook: str) -> list[tuple[str, str | None]]:
    return [(name, _sheet_code_name(parts[part]) if part in parts else None)
            for name, part in _sheet_parts(parts, workbook)]


def _check_identifiers(codes: Sequence[str]) -> None:
    bad = [code for code in codes if not _VBA_NAME.match(code)]
    if bad:
        raise ValueError(f"code names that are no ASCII VBA identifier (at most 31 "
                         f"characters): {bad!r}")
    seen: dict[str, str] = {}
    for code in codes:
        if code.upper() in seen:
            raise ValueError(f"code name {code!r} is used twice")
        seen[code.upper()] = code


def _check_code_names(parts: Mapping[str, bytes], workbook: str) -> None:
    pr = _parse(parts[workbook]).find(f"{{{_MAIN_NS}}}workbookPr")
    book_code = None if pr is None else pr.get("codeName")
    if not book_code:
        raise ValueError("the workbook has no codeName (set wb.code_name in openpyxl); "
                         "its VBA document module could not be matched")
    names = _sheet_code_names(parts, workbook)
    missing = [sheet for sheet, code in names if not code]
    if missing:
        raise ValueError(f"sheets without a codeName: {missing!r}; their VBA document "
                         "modules could not be matched")
    _check_identifiers([book_code] + [code for _, code in names])  # type: ignore[list-item]


def _check_custom_ui(data: bytes) -> None:
    root = _parse(data)
    expected = "{http://schemas.microsoft.com/office/2009/07/customui}customUI"
    if root.tag != expected:
        raise ValueError(f"custom_ui is not a customUI14 document (root {root.tag})")


_CORE_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "dcmitype": "http://purl.org/dc/dcmitype/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
# Text properties kept from the input, in the order they are written.
_CORE_TEXT = (("dc", "title"), ("dc", "subject"), ("dc", "creator"), ("cp", "keywords"),
              ("dc", "description"), ("cp", "lastModifiedBy"), ("cp", "category"),
              ("dc", "language"), ("cp", "contentStatus"), ("dc", "identifier"),
              ("cp", "version"))


def _core_properties(data: bytes | None, fixed_time: tuple[int, ...]) -> bytes:
    """docProps/core.xml with the input's text properties and fixed dates."""
    root = _parse(data) if data else None
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*fixed_time)
    decls = "".join(f' xmlns:{p}="{uri}"' for p, uri in _CORE_NS.items())
    out = [_XML_DECLARATION, f"<cp:coreProperties{decls}>"]
    for prefix, name in _CORE_TEXT:
        element = None if root is None else root.find(f"{{{_CORE_NS[prefix]}}}{name}")
        if element is not None and element.text:
            out.append(f"<{prefix}:{name}>{_text(element.text)}</{prefix}:{name}>")
    for name in ("created", "modified"):
        out.append(f'<dcterms:{name} xsi:type="dcterms:W3CDTF">{stamp}</dcterms:{name}>')
    out.append("</cp:coreProperties>")
    return "".join(out).encode("utf-8")


# ---------------------------------------------------------------------------
# Sheet XML scanning (expat, with byte offsets for splicing)
# ---------------------------------------------------------------------------

class _Element:
    """An element of a scanned part: where it lies and what its start tag says.

    The scan records only the offset of its "<" (and of its closing tag's "<"); the rest is
    read from the bytes when asked, once: most cells of a sheet are never edited, and
    finding every tag's end up front was most of the scan's time."""

    __slots__ = ("_attrs", "_data", "_end_at", "_name", "_ns", "_raw", "_tag_end", "start")

    def __init__(self, data: bytes, start: int, name: str, raw: list[str], ns: list[tuple[str, str]]):
        self._data = data
        self.start = start  # offset of "<"
        self._name = name  # expat's name: "uri local prefix"
        self._raw = raw  # expat's ordered attributes: [key, value, key, value, ...]
        self._ns = ns  # namespace declarations of the tag, as (attribute, uri)
        self._end_at = -1  # where expat reported the element's end
        self._tag_end = -1
        self._attrs: list[tuple[str, str]] | None = None

    @property
    def tag_end(self) -> int:
        """Offset after the start tag's ">"."""
        if self._tag_end < 0:
            self._tag_end = _tag_end(self._data, self.start)
        return self._tag_end

    @property
    def empty(self) -> bool:
        """Written as <x/>."""
        return self._data[self.tag_end - 2] == 0x2F

    @property
    def close(self) -> int:
        """Offset of the closing tag's "<" (== end for an empty element)."""
        # expat reports an empty-element tag's end after the tag, a closing tag at its "<".
        return self.tag_end if self.empty else self._end_at

    @property
    def end(self) -> int:
        """Offset after the element."""
        return self.tag_end if self.empty else _tag_end(self._data, self._end_at)

    @property
    def prefix(self) -> str:
        return _split(self._name)[2]

    @property
    def qname(self) -> str:
        """The tag as written (with its prefix)."""
        _, local, prefix = _split(self._name)
        return f"{prefix}:{local}" if prefix else local

    @property
    def attrs(self) -> list[tuple[str, str]]:
        """The attributes as written, namespace declarations first."""
        if self._attrs is None:
            raw = self._raw
            qualified = []
            for i in range(0, len(raw), 2):
                key = raw[i]
                if " " in key:  # a namespaced attribute: "uri local prefix"
                    _, a_local, a_prefix = _split(key)
                    key = f"{a_prefix}:{a_local}" if a_prefix else a_local
                qualified.append((key, raw[i + 1]))
            self._attrs = self._ns + qualified
        return self._attrs

    def get(self, name: str) -> str | None:
        if ":" not in name and name != "xmlns":
            # an attribute without a prefix has no namespace: expat gives its name as written
            raw = self._raw
            for i in range(0, len(raw), 2):
                if raw[i] == name:
                    return raw[i + 1]
            return None
        for key, value in self.attrs:
            if key == name:
                return value
        return None


def _split(name: str) -> tuple[str, str, str]:
    """(uri, local, prefix) of an expat name in namespace_prefixes mode."""
    pieces = name.split(" ")
    if len(pieces) == 3:
        return pieces[0], pieces[1], pieces[2]
    if len(pieces) == 2:
        return pieces[0], pieces[1], ""
    return "", pieces[0], ""


@dataclass
class _Cell:
    element: _Element
    row: int
    col: int
    f: _Element | None = None
    has_v: bool = False  # a <v> child, possibly empty
    v_text: str = ""
    children: list[tuple[str, _Element]] = field(default_factory=list)  # (local name, el)

    @property
    def formula_type(self) -> str:
        return (self.f.get("t") or "normal") if self.f is not None else ""

    @property
    def has_value(self) -> bool:
        return (self.has_v and self.v_text != "") or any(
            local == "is" for local, _ in self.children)

    @property
    def has_cached_value(self) -> bool:
        return self.has_value or (self.has_v and self.element.get("t") == "str")


@dataclass
class _Row:
    element: _Element
    r: int
    cells: list[_Cell] = field(default_factory=list)


@dataclass
class _SheetScan:
    data: bytes
    rows: list[_Row] = field(default_factory=list)
    sheet_data: _Element | None = None
    dimension: _Element | None = None

    @property
    def cells(self) -> list[_Cell]:
        return [c for row in self.rows for c in row.cells]


_TAG_REST = re.compile(rb"""(?:[^"'>]|"[^"]*"|'[^']*')*>""")


def _tag_end(data: bytes, pos: int) -> int:
    """Offset after the ">" closing the tag that starts at pos (quoted values respected)."""
    match = _TAG_REST.match(data, pos + 1)
    if match is None:
        raise ValueError("unterminated tag")
    return match.end()


class _Scanner:
    """Walk a worksheet with expat, recording rows, cells and their children."""

    def __init__(self, data: bytes):
        self.data = data
        self.scan = _SheetScan(data)
        self.stack: list[tuple[str, _Element]] = []  # (local name if main ns else "", el)
        self.pending_ns: list[tuple[str, str]] = []
        self.row: _Row | None = None
        self.cell: _Cell | None = None
        self.in_v = False
        self.v_parts: list[str] = []
        self.next_row = 1
        self.next_col = 1
        self.is_worksheet = False
        p = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        p.namespace_prefixes = True
        p.ordered_attributes = True
        p.StartElementHandler = self.start
        p.EndElementHandler = self.end
        p.CharacterDataHandler = self.chars
        p.StartNamespaceDeclHandler = self.ns_decl
        p.XmlDeclHandler = self.xml_decl
        p.StartDoctypeDeclHandler = self.forbidden
        p.EntityDeclHandler = self.forbidden
        p.ExternalEntityRefHandler = self.forbidden
        self.parser = p

    @staticmethod
    def forbidden(*_args) -> None:
        raise ValueError("DTDs and entities are not allowed in a worksheet part")

    @staticmethod
    def xml_decl(_version: str, encoding: str | None, _standalone: int) -> None:
        # Edits are spliced in as UTF-8: the part must be UTF-8 too.
        if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise ValueError(f"worksheet part in encoding {encoding}; expected UTF-8")

    def ns_decl(self, prefix: str | None, uri: str) -> None:
        self.pending_ns.append((f"xmlns:{prefix}" if prefix else "xmlns", uri))

    def _element(self, name: str, attrs: list[str]) -> _Element:
        return _Element(self.data, self.parser.CurrentByteIndex, name, attrs, self.pending_ns)

    def start(self, name: str, attrs: list[str]) -> None:
        uri, _, rest = name.partition(" ")
        main = rest.partition(" ")[0] if uri == _MAIN_NS else ""
        depth = len(self.stack)
        parent = self.stack[-1][0] if self.stack else None
        element = None
        if depth == 0:
            self.is_worksheet = main == "worksheet"
        elif not self.is_worksheet or depth > 4:
            pass
        elif depth == 1 and main in ("sheetData", "dimension"):
            element = self._element(name, attrs)
            if main == "sheetData":
                self.scan.sheet_data = element
            else:
                self.scan.dimension = element
        elif depth == 2 and main == "row" and parent == "sheetData":
            element = self._element(name, attrs)
            r = element.get("r")
            number = int(r) if r else self.next_row
            self.next_row = number + 1
            self.next_col = 1
            self.row = _Row(element, number)
            self.scan.rows.append(self.row)
        elif depth == 3 and main == "c" and parent == "row" and self.row is not None:
            element = self._element(name, attrs)
            ref = element.get("r")
            if ref:
                number, col = _cell_position(ref)
                if number != self.row.r:
                    raise ValueError(f"cell {ref} lies in row {self.row.r}")
            else:
                col = self.next_col
            self.next_col = col + 1
            self.cell = _Cell(element, self.row.r, col)
            self.row.cells.append(self.cell)
        elif depth == 4 and parent == "c" and self.cell is not None:
            if main == "v":
                self.cell.has_v = True
                self.in_v = True
                self.v_parts = []
            else:
                element = self._element(name, attrs)
                if main == "f":
                    self.cell.f = element
                else:
                    self.cell.children.append((main, element))
        self.pending_ns = []
        self.stack.append((main, element))

    def end(self, name: str) -> None:
        main, element = self.stack.pop()
        if element is not None:
            element._end_at = self.parser.CurrentByteIndex
        depth = len(self.stack)
        if depth == 4 and main == "v" and self.in_v:
            self.cell.v_text = "".join(self.v_parts)
            self.in_v = False
        elif depth == 3 and main == "c":
            self.cell = None
        elif depth == 2 and main == "row":
            self.row = None

    def chars(self, text: str) -> None:
        if self.in_v:
            self.v_parts.append(text)

    def run(self) -> _SheetScan | None:
        if self.data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ValueError("worksheet part in UTF-16; expected UTF-8")
        self.parser.Parse(self.data, True)
        return self.scan if self.is_worksheet else None


_CELL_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]*)\Z")
_COLUMNS: dict[str, int] = {}


def _cell_position(ref: str) -> tuple[int, int]:
    """(row, column) of a cell reference such as "E9"."""
    match = _CELL_REF.match(ref)
    if match is None:
        raise ValueError(f"invalid cell reference {ref!r}")
    letters, digits = match.groups()
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS.setdefault(letters, col_index(letters))
    return int(digits), col


def _scan_sheet(data: bytes) -> _SheetScan | None:
    """The rows and cells of a worksheet part, or None if the part is no worksheet."""
    return _Scanner(data).run()


def _formula_positions(scan: _SheetScan) -> list[tuple[tuple[int, int], _Cell]]:
    """((row, col), formula cell) for every formula cell and every cell of a legacy
    array-formula range, in row-major order."""
    positions: dict[tuple[int, int], _Cell] = {}
    for cell in scan.cells:
        if cell.f is None:
            continue
        positions[(cell.row, cell.col)] = cell
        if cell.formula_type == "array":
            ref = cell.f.get("ref") or f"{col_letter(cell.col)}{cell.row}"
            min_col, min_row, max_col, max_row = range_bounds(ref)
            if (min_row, min_col) != (cell.row, cell.col):
                raise ValueError(f"array formula {ref} is not anchored at its top-left "
                                 f"cell {col_letter(cell.col)}{cell.row}")
            for row in range(min_row, max_row + 1):
                for col in range(min_col, max_col + 1):
                    positions.setdefault((row, col), cell)
    return sorted(positions.items(), key=lambda item: item[0])


# ---------------------------------------------------------------------------
# Cached values
# ---------------------------------------------------------------------------

def _decimal_text(value: Decimal) -> str:
    """The shortest exact decimal text: plain digits for ordinary magnitudes, else
    scientific notation (as Python's float repr switches)."""
    if not value.is_finite():
        raise ValueError(f"cannot cache the non-finite number {value}")
    if value.is_zero():
        return "0"
    value = value.normalize()
    if -7 <= value.adjusted() < 16:
        return format(value, "f")
    sign, digits, _ = value.as_tuple()
    mantissa = "".join(map(str, digits))
    if len(mantissa) > 1:
        mantissa = mantissa[0] + "." + mantissa[1:]
    return ("-" if sign else "") + f"{mantissa}E{value.adjusted()}"


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"cannot cache the non-finite number {value!r}")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value).upper()  # shortest round-trip text; exponent as Excel writes it


def _cell_payload(value: object, where: str) -> tuple[str | None, str]:
    """(t attribute or None, text of <v>) for a cached value."""
    if value is None:
        return "str", ""
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, str):
        if value in EXCEL_ERRORS:
            return "e", value
        if len(value) > _MAX_TEXT:
            raise ValueError(f"{where}: text longer than {_MAX_TEXT} characters")
        bad = _XML_INVALID.search(value)
        if bad:
            raise ValueError(f"{where}: character U+{ord(bad.group()):04X} cannot be "
                             "stored in a cell")
        return "str", value
    if isinstance(value, Decimal):
        return None, _decimal_text(value)
    if isinstance(value, numbers.Integral):
        return None, str(int(value))
    if isinstance(value, numbers.Real):
        return None, _float_text(float(value))
    raise TypeError(f"{where}: cannot cache a value of type {type(value).__name__}")


def _start_tag(element: _Element, changes: Mapping[str, str | None]) -> str:
    """The element's start tag (not self-closing) with attributes changed/removed."""
    attrs = [(k, changes[k] if k in changes else v) for k, v in element.attrs]
    attrs += [(k, v) for k, v in changes.items() if v is not None and element.get(k) is None]
    text = "".join(f' {k}="{_attr(v)}"' for k, v in attrs if v is not None)
    return f"<{element.qname}{text}>"


def _q(prefix: str, local: str) -> str:
    return f"{prefix}:{local}" if prefix else local


def _cell_xml(data: bytes, cell: _Cell | None, ref: str, prefix: str,
              payload: tuple[str | None, str]) -> str:
    """The XML of a cell holding a cached value: an existing cell keeps its attributes
    (t changed), its <f> verbatim and its other children except <v>/<is>; a new cell (of
    an array-formula range) holds only the value, in the namespace prefix ``prefix``."""
    t, text = payload
    if cell is not None:
        prefix = cell.element.prefix
    v = f"<{_q(prefix, 'v')}>{_text(text)}</{_q(prefix, 'v')}>"
    if cell is None:
        t_attr = f' t="{t}"' if t else ""
        return f'<{_q(prefix, "c")} r="{ref}"{t_attr}>{v}</{_q(prefix, "c")}>'
    element = cell.element
    body = data[cell.f.start:cell.f.end].decode("utf-8") if cell.f is not None else ""
    body += v
    for local, child in cell.children:
        if local != "is":  # an inline string would contradict the cached value
            body += data[child.start:child.end].decode("utf-8")
    return f"{_start_tag(element, {'t': t})}{body}</{element.qname}>"


def _inject(parts: dict[str, bytes], workbook: str,
            cached_values: Mapping[CellKey, CellValue]) -> CachedValueReport:
    sheets = _sheet_parts(parts, workbook)
    by_sheet: dict[str, dict[tuple[int, int], CellValue]] = {name: {} for name, _ in sheets}
    for key, value in cached_values.items():
        sheet, ref = key
        if sheet not in by_sheet:
            raise ValueError(f"cached value for unknown sheet {sheet!r} ({ref})")
        by_sheet[sheet][_cell_position(ref.replace("$", "").upper())] = value

    missing: list[CellKey] = []
    ignored: list[CellKey] = []
    injected = 0
    for name, part in sheets:
        values = by_sheet[name]
        scan = _scan_sheet(parts[part]) if part in parts else None
        if scan is None:
            ignored += [(name, f"{col_letter(c)}{r}") for r, c in sorted(values)]
            continue
        data, edits, used, count = _sheet_edits(scan, name, values, missing)
        injected += count
        ignored += [(name, f"{col_letter(c)}{r}") for r, c in sorted(values)
                    if (r, c) not in used]
        if edits:
            parts[part] = _apply(data, edits)
    if ignored:
        log.debug("cached values for cells without a formula, ignored: %s", ignored)
    return CachedValueReport(tuple(missing), tuple(ignored), injected)


def _sheet_edits(scan: _SheetScan, sheet: str, values: Mapping[tuple[int, int], CellValue],
                 missing: list[CellKey]):
    data = scan.data
    edits: list[tuple[int, int, str]] = []
    used: set[tuple[int, int]] = set()
    cells = {(c.row, c.col): c for c in scan.cells}
    rows = {row.r: row for row in scan.rows}
    prefix = scan.sheet_data.prefix if scan.sheet_data is not None else ""
    new_cells: dict[int, list[tuple[int, str]]] = {}  # row -> [(col, xml)]
    count = 0
    for (row, col), anchor in _formula_positions(scan):
        ref = f"{col_letter(col)}{row}"
        cell = cells.get((row, col))
        if cell is not None and cell is not anchor and cell.f is not None:
            raise ValueError(f"{sheet}!{ref} lies in the array formula of "
                             f"{col_letter(anchor.col)}{anchor.row} but has its own formula")
        if (row, col) not in values:
            missing.append((sheet, ref))
            continue
        used.add((row, col))
        payload = _cell_payload(values[(row, col)], f"{sheet}!{ref}")
        count += 1
        if cell is not None:
            edits.append((cell.element.start, cell.element.end,
                          _cell_xml(data, cell, ref, prefix, payload)))
        else:
            new_cells.setdefault(row, []).append((col, _cell_xml(data, None, ref, prefix, payload)))

    if new_cells:
        if scan.sheet_data is None or scan.sheet_data.empty:
            raise ValueError(f"sheet {sheet!r}: no sheetData to hold array formula values")
        for r, additions in sorted(new_cells.items()):
            additions.sort()
            row = rows.get(r)
            if row is None:
                _insert_row(scan, r, additions, prefix, edits)
            else:
                _insert_cells(row, additions, edits)
        _widen_dimension(scan, new_cells, edits)
    return data, edits, used, count


def _insert_cells(row: _Row, additions: list[tuple[int, str]],
                  edits: list[tuple[int, int, str]]) -> None:
    """Insert new cells into an existing row, in column order (widening ``spans``)."""
    changes = _spans_change(row.element.get("spans"), additions)
    if row.element.empty:  # <row .../> becomes <row ...>cells</row>
        edits.append((row.element.start, row.element.end,
                       _start_tag(row.element, changes) + "".join(x for _, x in additions)
                       + f"</{row.element.qname}>"))
        return
    if changes:
        edits.append((row.element.start, row.element.tag_end, _start_tag(row.element, changes)))
    for col, xml_text in additions:
        following = next((c for c in row.cells if c.col > col), None)
        at = following.element.start if following is not None else row.element.close
        edits.append((at, at, xml_text))


def _spans_change(spans: str | None, additions: list[tuple[int, str]]) -> dict[str, str]:
    if not spans or ":" not in spans:
        return {}
    low, high = (int(x) for x in spans.split(":", 1))
    cols = [col for col, _ in additions]
    new = f"{min(low, *cols)}:{max(high, *cols)}"
    return {} if new == spans else {"spans": new}


def _insert_row(scan: _SheetScan, r: int, additions: list[tuple[int, str]], prefix: str,
                edits: list[tuple[int, int, str]]) -> None:
    following = next((row for row in scan.rows if row.r > r), None)
    at = following.element.start if following is not None else scan.sheet_data.close
    q = _q(prefix, "row")
    edits.append((at, at, f'<{q} r="{r}">' + "".join(x for _, x in additions) + f"</{q}>"))


def _widen_dimension(scan: _SheetScan, new_cells: Mapping[int, list[tuple[int, str]]],
                     edits: list[tuple[int, int, str]]) -> None:
    dim = scan.dimension
    ref = dim.get("ref") if dim is not None else None
    if not ref:
        return
    min_col, min_row, max_col, max_row = range_bounds(ref)
    rows = list(new_cells)
    cols = [col for additions in new_cells.values() for col, _ in additions]
    new = (min(min_col, *cols), min(min_row, *rows), max(max_col, *cols), max(max_row, *rows))
    if new == (min_col, min_row, max_col, max_row):
        return
    text = f"{col_letter(new[0])}{new[1]}:{col_letter(new[2])}{new[3]}"
    tag = _start_tag(dim, {"ref": text})
    if dim.empty:
        tag = tag[:-1] + "/>"
    edits.append((dim.start, dim.tag_end, tag))


def _apply(data: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    out = []
    cursor = 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < cursor:
            raise AssertionError("overlapping sheet edits")
        out.append(data[cursor:start])
        out.append(text.encode("utf-8"))
        cursor = end
    out.append(data[cursor:])
    return b"".join(out)
