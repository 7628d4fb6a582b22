"""Read VBA module source from a ``vbaProject.bin`` ([MS-OVBA], compound file via olefile).

The counterpart of :mod:`kofu_xl.ooxml.vba.ovba` (which only writes): `decompress` undoes
[MS-OVBA] 2.4.1 compression, `parse_dir` reads the ``dir`` stream's PROJECTCODEPAGE
and MODULE records, and `read_module_sources` returns the source text of modules.

A module stream starts with the module's compiled p-code (the "performance cache")
when Excel saved the project, and the compressed source follows at MODULEOFFSET
([MS-OVBA] 2.3.4.2.3.2.5). Workbooks written by kofu-xl use offset 0; any
Excel-saved workbook does not, so the offset is always taken from the dir stream.

Every reader is bounded: input sizes are checked by the caller (see
`read_module_sources`) and `decompress` refuses to produce more than ``max_size`` bytes.
"""

from __future__ import annotations

import codecs
import io
import struct
from dataclasses import dataclass

import olefile

from kofu_xl.errors import OvbaError

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED",
    "MAX_VBA_PROJECT_BYTES",
    "ModuleInfo",
    "OvbaError",
    "ProjectInfo",
    "decompress",
    "parse_dir",
    "read_module_sources",
]

DEFAULT_MAX_DECOMPRESSED = 32 * 1024 * 1024
MAX_VBA_PROJECT_BYTES = 32 * 1024 * 1024  # our project is ~45 kB; Excel's with p-code < 1 MB

_CHUNK = 4096


# ---------------------------------------------------------------------------
# Decompression: [MS-OVBA] 2.4.1.3.1 - 2.4.1.3.5
# ---------------------------------------------------------------------------


def decompress(data: bytes, *, max_size: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """Return the bytes of the CompressedContainer ``data`` ([MS-OVBA] 2.4.1.1.1).

    The container is a SignatureByte 0x01 followed by CompressedChunks. Each chunk
    header holds the chunk size - 3 in bits 0-11, the signature 0b011 in bits 12-14
    and in bit 15 whether the chunk is compressed (TokenSequences) or raw (4096
    bytes copied as they are). Raises OvbaError on malformed input or when the
    result would exceed ``max_size`` bytes.
    """
    data = bytes(data)
    if not data or data[0] != 0x01:
        raise OvbaError("not a compressed container (signature byte is not 0x01)")
    out = bytearray()
    pos = 1
    end = len(data)
    while pos < end:
        if pos + 2 > end:
            raise OvbaError(f"truncated chunk header at offset {pos}")
        (header,) = struct.unpack_from("<H", data, pos)
        if (header >> 12) & 0b111 != 0b011:
            raise OvbaError(f"invalid chunk signature at offset {pos}")
        chunk_end = min(pos + (header & 0x0FFF) + 3, end)
        compressed = bool(header & 0x8000)
        pos += 2
        chunk_start = len(out)
        if not compressed:  # raw chunk: 4096 bytes (fewer only when the data ends)
            out += data[pos : pos + _CHUNK]
            pos += _CHUNK
        else:
            while pos < chunk_end:
                flags = data[pos]
                pos += 1
                for bit in range(8):
                    if pos >= chunk_end:
                        break
                    if not flags & (1 << bit):  # LiteralToken
                        out.append(data[pos])
                        pos += 1
                        continue
                    if pos + 2 > chunk_end:
                        raise OvbaError(f"truncated copy token at offset {pos}")
                    (token,) = struct.unpack_from("<H", data, pos)
                    pos += 2
                    # CopyToken Help ([MS-OVBA] 2.4.1.3.19.1): the offset uses
                    # ceil(log2(difference)) bits, never fewer than 4.
                    difference = len(out) - chunk_start
                    bit_count = max((difference - 1).bit_length(), 4)
                    length = (token & (0xFFFF >> bit_count)) + 3
                    offset = (token >> (16 - bit_count)) + 1
                    source = len(out) - offset
                    if source < chunk_start:
                        raise OvbaError(f"copy token points before its chunk at offset {pos - 2}")
                    if offset >= length:
                        out += out[source : source + length]
                    else:  # overlapping copy: the last ``offset`` bytes repeat
                        pattern = bytes(out[source:])
                        out += (pattern * (length // offset + 1))[:length]
            pos = chunk_end
        if len(out) - chunk_start > _CHUNK:
            raise OvbaError(f"chunk at offset {chunk_start} decompresses to more than 4096 bytes")
        if len(out) > max_size:
            raise OvbaError(f"decompressed data exceeds {max_size:,} bytes")
    return bytes(out)


# ---------------------------------------------------------------------------
# dir stream: [MS-OVBA] 2.3.4.2
# ---------------------------------------------------------------------------

_PROJECTCODEPAGE = 0x0003
_PROJECTNAME = 0x0004
_PROJECTVERSION = 0x0009
_PROJECTMODULES = 0x000F
_DIR_TERMINATOR = 0x0010
_MODULENAME = 0x0019
_MODULESTREAMNAME = 0x001A
_MODULETYPE_STANDARD = 0x0021
_MODULETYPE_OTHER = 0x0022  # class, document and designer modules
_MODULE_TERMINATOR = 0x002B
_MODULEOFFSET = 0x0031
_MODULESTREAMNAMEUNICODE = 0x0032  # the "Reserved" id before SizeOfStreamNameUnicode
_MODULENAMEUNICODE = 0x0047


@dataclass(frozen=True)
class ModuleInfo:
    """One MODULE record group of the dir stream."""

    name: str
    stream_name: str
    offset: int  # MODULEOFFSET: where the compressed source starts in the stream
    kind: str  # "standard" or "other" (class, document, designer)


@dataclass(frozen=True)
class ProjectInfo:
    codepage: int
    name: str
    modules: tuple[ModuleInfo, ...]

    @property
    def codec(self) -> str:
        return f"cp{self.codepage}"


def _records(data: bytes) -> list[tuple[int, bytes]]:
    """The (Id, payload) records of a decompressed dir stream, up to its Terminator.

    Every record is Id (2 bytes), Size (4 bytes), Size bytes -- except PROJECTVERSION,
    whose Size field is a Reserved 0x00000004 followed by 6 bytes
    ([MS-OVBA] 2.3.4.2.1.11). REFERENCECONTROL's extended part (Reserved3 = 0x0030,
    SizeExtended) and the *Unicode companions (Reserved id, size) fit the same shape.
    """
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 6 > end:
            raise OvbaError(f"truncated dir record at offset {pos}")
        rec_id, size = struct.unpack_from("<HI", data, pos)
        pos += 6
        if rec_id == _PROJECTVERSION:
            size = 6
        if pos + size > end:
            raise OvbaError(f"dir record 0x{rec_id:04X} at offset {pos - 6} overruns the stream")
        out.append((rec_id, data[pos : pos + size]))
        pos += size
        if rec_id == _DIR_TERMINATOR:
            break
    return out


def parse_dir(data: bytes) -> ProjectInfo:
    """The code page, project name and modules of a *decompressed* dir stream."""
    codepage = 1252
    project_name = ""
    modules: list[ModuleInfo] = []
    current: dict[str, object] | None = None
    names: dict[int, bytes] = {}
    for rec_id, payload in _records(data):
        if rec_id == _PROJECTCODEPAGE and len(payload) == 2:
            (codepage,) = struct.unpack("<H", payload)
        elif rec_id == _PROJECTNAME:
            project_name = payload.decode(_codec(codepage), "replace")
        elif rec_id == _MODULENAME:
            current, names = {"offset": 0, "kind": "other"}, {_MODULENAME: payload}
        elif current is None:
            continue
        elif rec_id in (_MODULENAMEUNICODE, _MODULESTREAMNAME, _MODULESTREAMNAMEUNICODE):
            names[rec_id] = payload
        elif rec_id == _MODULEOFFSET and len(payload) == 4:
            (current["offset"],) = struct.unpack("<I", payload)
        elif rec_id == _MODULETYPE_STANDARD:
            current["kind"] = "standard"
        elif rec_id == _MODULETYPE_OTHER:
            current["kind"] = "other"
        elif rec_id == _MODULE_TERMINATOR:
            codec = _codec(codepage)
            name = _text(names, _MODULENAMEUNICODE, _MODULENAME, codec)
            stream = _text(names, _MODULESTREAMNAMEUNICODE, _MODULESTREAMNAME, codec) or name
            modules.append(ModuleInfo(name, stream, int(current["offset"]), str(current["kind"])))  # type: ignore[call-overload]
            current = None
    return ProjectInfo(codepage, project_name, tuple(modules))


def _codec(codepage: int) -> str:
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        return "latin-1"


def _text(names: dict[int, bytes], unicode_id: int, mbcs_id: int, codec: str) -> str:
    if names.get(unicode_id):
        return names[unicode_id].decode("utf-16-le", "replace")
    return names.get(mbcs_id, b"").decode(codec, "replace")


# ---------------------------------------------------------------------------
# The compound file
# ---------------------------------------------------------------------------


def read_module_sources(vba_project: bytes, names: set[str] | None = None) -> dict[str, str]:
    """Source text of the project's modules (all, or those in ``names``), by module name.

    ``vba_project`` is the content of ``xl/vbaProject.bin``. Raises OvbaError when
    it is too large or not a VBA project.
    """
    if len(vba_project) > MAX_VBA_PROJECT_BYTES:
        raise OvbaError(f"VBA project larger than {MAX_VBA_PROJECT_BYTES:,} bytes")
    if not olefile.isOleFile(io.BytesIO(vba_project)):
        raise OvbaError("not a compound file")
    try:
        with olefile.OleFileIO(io.BytesIO(vba_project)) as ole:
            root = _vba_root(ole)
            info = parse_dir(decompress(_stream(ole, root + ["dir"])))
            codec = _codec(info.codepage)
            out: dict[str, str] = {}
            for module in info.modules:
                if names is not None and module.name not in names:
                    continue
                raw = _stream(ole, root + [module.stream_name])
                if module.offset > len(raw):
                    raise OvbaError(f"module {module.name!r}: offset {module.offset} beyond its stream")
                out[module.name] = decompress(raw[module.offset :]).decode(codec, "replace")
            return out
    except OvbaError:
        raise
    except (OSError, ValueError, struct.error) as exc:  # olefile reports damage as OSError
        raise OvbaError(f"unreadable VBA project ({exc.__class__.__name__}: {exc})") from None


def _vba_root(ole: object) -> list[str]:
    """The storage holding dir and the module streams: "VBA" at the root (Excel),
    or below a storage (other hosts embed the project one level down)."""
    for entry in ole.listdir(streams=True, storages=False):  # type: ignore[attr-defined]
        if len(entry) >= 2 and entry[-1].lower() == "dir" and entry[-2].upper() == "VBA":
            return list(entry[:-1])
    raise OvbaError("no VBA/dir stream")


def _stream(ole: object, path: list[str]) -> bytes:
    size = ole.get_size("/".join(path))  # type: ignore[attr-defined]
    if size > MAX_VBA_PROJECT_BYTES:
        raise OvbaError(f"stream {'/'.join(path)} larger than {MAX_VBA_PROJECT_BYTES:,} bytes")
    with ole.openstream(path) as stream:  # type: ignore[attr-defined]
        return stream.read()
