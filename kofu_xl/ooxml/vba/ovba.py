"""Write ``xl/vbaProject.bin`` from VBA module sources ([MS-OVBA], [MS-CFB]).

The project is written the way [MS-OVBA] asks an interoperable writer to write it:
``_VBA_PROJECT`` carries version 0xFFFF and no performance cache, and every module
stream holds only its compressed source (MODULEOFFSET 0), so the host compiles the
project from source when it opens the workbook.

Choices (all fixed, so the same input always gives the same bytes):

* SYSKIND is 0x00000001 (32-bit Windows). Without a compiled cache the platform
  the project was "last saved on" has no effect: the host recompiles on load.
* LCID and LCIDINVOKE are 0x00000409, as [MS-OVBA] 2.3.4.2.1.3/2.3.4.2.1.4 require
  ("MUST be 0x00000409"). The text encoding is governed by PROJECTCODEPAGE alone.
* PROJECTCODEPAGE is 932 by default: Japanese Excel reads module source as cp932.
* References: stdole ("OLE Automation") and Office ("Microsoft Office 16.0 Object
  Library"), the two a new Excel project stores (VBA and Excel are built in).
* The PROJECT stream's ID is a UUID derived from the project name and module names;
  CMG/DPB/GC use a fixed seed and describe an unprotected, visible project.

Module source (``VbaModule.source``) is the module *body*: the writer adds the
module-level ``Attribute VB_*`` lines Excel stores. A source may start with such
lines itself (an exported .bas starts with ``Attribute VB_Name``; an exported .cls
with ``VERSION 1.0 CLASS`` / ``BEGIN`` ... ``END`` and attribute lines): they are
parsed, checked against the module's name and kind, and merged into the stored
header. Attribute lines inside procedures stay part of the body. Line endings are
normalised to CRLF, as VBA stores them. Text the code page cannot represent exactly
(for cp932: em dash, euro sign, U+301C wave dash, ...) raises ValueError.
"""

from __future__ import annotations

import codecs
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Literal, Sequence

__all__ = ["VbaModule", "build_vba_project", "compress"]

ModuleKind = Literal["document", "standard", "class"]


@dataclass(frozen=True)
class VbaModule:
    """One VBA module.

    ``name`` is the module's VBA name (ASCII identifier, at most 31 characters);
    for a ``document`` module it must equal the workbook's or sheet's ``codeName``.
    A document module named ``ThisWorkbook`` gets the workbook VB_Base; any other
    document module gets the worksheet VB_Base unless its source header says
    otherwise. ``source`` is the module body (see the module docstring).
    """

    name: str
    kind: ModuleKind
    source: str


# ---------------------------------------------------------------------------
# Compression: [MS-OVBA] 2.4.1
# ---------------------------------------------------------------------------

_CHUNK = 4096


def _copy_token_help(difference: int) -> tuple[int, int]:
    """Bit count and maximum length of a CopyToken ([MS-OVBA] 2.4.1.3.19.1).

    ``difference`` is DecompressedCurrent - DecompressedChunkStart; the offset
    field uses ceil(log2(difference)) bits, never fewer than 4.
    """
    bit_count = max((difference - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _match_length(buf: bytes, cand: int, cur: int, limit: int) -> int:
    """Length of the common run of ``buf[cand:]`` and ``buf[cur:]``, at most ``limit``.

    The first three bytes are known to match. Overlapping runs (cand + n > cur)
    are allowed, as in [MS-OVBA] 2.4.1.3.19.4.
    """
    n, step = 3, 8
    while n < limit:
        m = min(limit, n + step)
        if buf[cand + n:cand + m] == buf[cur + n:cur + m]:
            n, step = m, step * 2
            continue
        lo, hi = n, m  # equal up to lo; a mismatch lies in [lo, hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if buf[cand + lo:cand + mid] == buf[cur + lo:cur + mid]:
                lo = mid
            else:
                hi = mid
        return lo
    return n


def _compress_chunk(chunk: bytes) -> bytes | None:
    """Compress one DecompressedChunk into TokenSequences ([MS-OVBA] 2.4.1.3.7).

    Matching follows [MS-OVBA] 2.4.1.3.19.4: the longest earlier match in the
    chunk wins, the nearest one on ties, and a match of fewer than 3 bytes is a
    literal. Returns None when the result would not fit in 4096 bytes, in which
    case the caller writes a raw chunk ([MS-OVBA] 2.4.1.3.10).
    """
    end = len(chunk)
    seen: dict[bytes, list[int]] = {}
    out = bytearray()
    pos = 0
    while pos < end:
        flag_index = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):  # one TokenSequence ([MS-OVBA] 2.4.1.1.7)
            if pos >= end:
                break
            best_len, best_pos = 0, -1
            if pos + 3 <= end:
                limit = end - pos
                for cand in reversed(seen.get(chunk[pos:pos + 3], ())):
                    length = _match_length(chunk, cand, pos, limit)
                    if length > best_len:
                        best_len, best_pos = length, cand
                        if length == limit:
                            break
            if best_len >= 3:
                bit_count, max_len = _copy_token_help(pos)
                length = min(best_len, max_len)
                token = ((pos - best_pos - 1) << (16 - bit_count)) | (length - 3)
                out += struct.pack("<H", token)  # CopyToken, [MS-OVBA] 2.4.1.3.19.3
                flags |= 1 << bit
            else:
                length = 1
                out.append(chunk[pos])  # LiteralToken
            for i in range(pos, min(pos + length, end - 2)):
                seen.setdefault(chunk[i:i + 3], []).append(i)
            pos += length
        out[flag_index] = flags
        if len(out) > _CHUNK:
            return None
    return bytes(out)


def compress(data: bytes) -> bytes:
    """Return the CompressedContainer for ``data`` ([MS-OVBA] 2.4.1.1.1, 2.4.1.3.6).

    A SignatureByte 0x01 is followed by one CompressedChunk per 4096 input bytes.
    Each chunk header ([MS-OVBA] 2.4.1.1.5) holds CompressedChunkSize - 3 in bits
    0-11, the signature 0b011 in bits 12-14 and the CompressedChunkFlag in bit 15.
    A chunk whose compressed form would exceed 4096 bytes is stored raw and, as
    [MS-OVBA] 2.4.1.3.10 requires, padded to 4096 bytes with 0x00: only a final
    partial chunk of incompressible data (never VBA text in practice) gains padding.
    """
    out = bytearray(b"\x01")
    for start in range(0, len(data), _CHUNK):
        chunk = bytes(data[start:start + _CHUNK])
        body = _compress_chunk(chunk)
        if body is None:
            out += struct.pack("<H", 0x3000 | (_CHUNK + 2 - 3))
            out += chunk.ljust(_CHUNK, b"\x00")
        else:
            out += struct.pack("<H", 0x8000 | 0x3000 | (len(body) + 2 - 3))
            out += body
    return bytes(out)


# ---------------------------------------------------------------------------
# Module source: attribute header and encoding
# ---------------------------------------------------------------------------

WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")
_ATTR_RE = re.compile(r"Attribute\s+(VB_\w+)\s*=\s*(.*?)\s*\Z")
_MANAGED = ("VB_Name", "VB_Base", "VB_GlobalNameSpace", "VB_Creatable",
            "VB_PredeclaredId", "VB_Exposed", "VB_TemplateDerived", "VB_Customizable")


def _default_header(module: VbaModule) -> tuple[dict[str, str], frozenset[str]]:
    """Module-level attributes as Excel stores them, and those the source may not change."""
    quoted = f'"{module.name}"'
    if module.kind == "standard":
        return {"VB_Name": quoted}, frozenset({"VB_Name"})
    if module.kind == "document":
        base = WORKBOOK_BASE if module.name == "ThisWorkbook" else WORKSHEET_BASE
        values = (f'"{base}"', "False", "False", "True", "True", "False", "True")
        fixed = frozenset(_MANAGED) - {"VB_Base"}
    else:
        values = (f'"{CLASS_BASE}"', "False", "False", "False", "False", "False", "False")
        fixed = frozenset({"VB_Name", "VB_Base", "VB_TemplateDerived", "VB_Customizable"})
    return dict(zip(_MANAGED, (quoted, *values))), fixed


def _stored_source(module: VbaModule) -> str:
    """Return the module text as stored in its module stream, lines ending in CRLF.

    [MS-OVBA] 2.3.4.3: the stream holds the compressed source text, which starts
    with the module's ``Attribute`` lines ([MS-VBAL] 4.2 module header).
    """
    lines = module.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    if lines and lines[0].strip().upper().startswith("VERSION "):
        if module.kind != "class" or not lines[0].strip().upper().endswith("CLASS"):
            raise ValueError(f"module {module.name!r}: only class modules may start with "
                             f"an exported-class header, got {lines[0].strip()!r}")
        if len(lines) < 2 or lines[1].strip().upper() != "BEGIN":
            raise ValueError(f"module {module.name!r}: VERSION line not followed by BEGIN")
        i = 2
        while i < len(lines) and lines[i].strip().upper() != "END":
            i += 1
        if i == len(lines):
            raise ValueError(f"module {module.name!r}: BEGIN block without END")
        i += 1
    header, fixed = _default_header(module)
    extras: list[str] = []
    while i < len(lines):
        match = _ATTR_RE.match(lines[i].strip())
        if not match:
            break
        key, value = match.groups()
        if key in header:
            if key in fixed and value != header[key]:
                raise ValueError(f"module {module.name!r}: Attribute {key} = {value} "
                                 f"conflicts with {header[key]}")
            header[key] = value
        elif key in _MANAGED:
            raise ValueError(f"module {module.name!r}: Attribute {key} is not valid "
                             f"for a {module.kind} module")
        else:
            extras.append(f"Attribute {key} = {value}")
        i += 1
    head = [f"Attribute {key} = {header[key]}" for key in _MANAGED if key in header]
    return "".join(line + "\r\n" for line in head + extras + lines[i:])


def _encode(text: str, codec: str, what: str) -> bytes:
    """Encode MBCS text, naming ``what`` and the first offending character on failure.

    Characters the code page maps to a look-alike (cp932 writes U+301C WAVE DASH
    as 0x8160, which reads back as U+FF5E FULLWIDTH TILDE) are refused as well:
    the stored text must read back exactly as given.
    """
    try:
        data = text.encode(codec)
    except UnicodeEncodeError as exc:
        bad, at, reads_as = text[exc.start], exc.start, None
    else:
        if data.decode(codec) == text:
            return data
        at = next(i for i, ch in enumerate(text) if ch.encode(codec).decode(codec) != ch)
        bad, reads_as = text[at], text[at].encode(codec).decode(codec)
    line = text.count("\n", 0, at) + 1
    problem = (f"cannot be encoded in code page {codec[2:]}" if reads_as is None else
               f"would read back as {reads_as!r} in code page {codec[2:]}")
    raise ValueError(f"{what}: character {bad!r} (U+{ord(bad):04X}) on line {line} {problem}")


# ---------------------------------------------------------------------------
# dir stream: [MS-OVBA] 2.3.4.2
# ---------------------------------------------------------------------------

_SYSKIND_WIN32 = 0x00000001
_LCID = 0x00000409
_REFERENCES = (  # (name, LibidReference) -- REFERENCEREGISTERED, [MS-OVBA] 2.3.4.2.2.5
    ("stdole", "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0"
               "#C:\\Windows\\System32\\stdole2.tlb#OLE Automation"),
    ("Office", "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0"
               "#C:\\Program Files\\Common Files\\Microsoft Shared\\OFFICE16\\MSO.DLL"
               "#Microsoft Office 16.0 Object Library"),
)


def _rec(rec_id: int, payload: bytes) -> bytes:
    """A dir record: Id (2 bytes), Size (4 bytes), then Size bytes."""
    return struct.pack("<HI", rec_id, len(payload)) + payload


def _u16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _dir_stream(name: bytes, modules: Sequence[tuple[VbaModule, bytes]], codepage: int,
                codec: str) -> bytes:
    """The decompressed dir stream ([MS-OVBA] 2.3.4.2).

    PROJECTINFORMATION (2.3.4.2.1), PROJECTREFERENCES (2.3.4.2.2), PROJECTMODULES
    (2.3.4.2.3) with one MODULE record group per module (2.3.4.2.3.2), Terminator.
    """
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", _SYSKIND_WIN32))       # PROJECTSYSKIND
    out += _rec(0x0002, struct.pack("<I", _LCID))                # PROJECTLCID
    out += _rec(0x0014, struct.pack("<I", _LCID))                # PROJECTLCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", codepage))             # PROJECTCODEPAGE
    out += _rec(0x0004, name)                                    # PROJECTNAME
    out += _rec(0x0005, b"") + _rec(0x0040, b"")                 # PROJECTDOCSTRING
    out += _rec(0x0006, b"") + _rec(0x003D, b"")                 # PROJECTHELPFILEPATH
    out += _rec(0x0007, struct.pack("<I", 0))                    # PROJECTHELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))                    # PROJECTLIBFLAGS
    # PROJECTVERSION: Reserved is 4, then VersionMajor (4 bytes), VersionMinor (2).
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)
    out += _rec(0x000C, b"") + _rec(0x003C, b"")                 # PROJECTCONSTANTS
    for ref_name, libid in _REFERENCES:
        out += _rec(0x0016, ref_name.encode(codec)) + _rec(0x003E, _u16(ref_name))
        raw = libid.encode(codec)
        out += _rec(0x000D, struct.pack("<I", len(raw)) + raw + struct.pack("<IH", 0, 0))
    out += _rec(0x000F, struct.pack("<H", len(modules)))         # PROJECTMODULES
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))               # PROJECTCOOKIE
    for module, mbcs_name in modules:
        out += _rec(0x0019, mbcs_name)                           # MODULENAME
        out += _rec(0x0047, _u16(module.name))                   # MODULENAMEUNICODE
        out += _rec(0x001A, mbcs_name) + _rec(0x0032, _u16(module.name))  # MODULESTREAMNAME
        out += _rec(0x001C, b"") + _rec(0x0048, b"")             # MODULEDOCSTRING
        out += _rec(0x0031, struct.pack("<I", 0))                # MODULEOFFSET
        out += _rec(0x001E, struct.pack("<I", 0))                # MODULEHELPCONTEXT
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))           # MODULECOOKIE
        out += _rec(0x0021 if module.kind == "standard" else 0x0022, b"")  # MODULETYPE
        out += _rec(0x002B, b"")                                 # module Terminator
    out += _rec(0x0010, b"")                                     # dir Terminator
    return bytes(out)


# ---------------------------------------------------------------------------
# PROJECT and PROJECTwm streams: [MS-OVBA] 2.3.1, 2.3.3
# ---------------------------------------------------------------------------

_ENCRYPTION_SEED = 0x4B
_HOST_EXTENDER = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"


def _encrypt(project_id: str, data: bytes) -> str:
    """Data Encryption ([MS-OVBA] 2.4.3.2), hex-encoded for CMG/DPB/GC.

    Seed, VersionEnc, ProjKeyEnc, IgnoredEnc, DataLengthEnc, DataEnc; each byte
    after ProjKeyEnc is XORed with (EncryptedByte2 + UnencryptedByte1) & 0xFF.
    A fixed seed and fixed ignored bytes keep the output deterministic.
    """
    seed, version = _ENCRYPTION_SEED, 2
    proj_key = sum(project_id.encode("ascii")) & 0xFF
    out = bytearray([seed, seed ^ version, seed ^ proj_key])
    unencrypted1, encrypted1, encrypted2 = proj_key, out[2], out[1]
    ignored = bytes((seed & 6) // 2)
    for byte in ignored + struct.pack("<I", len(data)) + data:
        enc = byte ^ ((encrypted2 + unencrypted1) & 0xFF)
        out.append(enc)
        encrypted2, encrypted1, unencrypted1 = encrypted1, enc, byte
    return out.hex().upper()


def _project_stream(project_id: str, name: str, modules: Sequence[VbaModule]) -> str:
    """VBAPROJECTText ([MS-OVBA] 2.3.1) for an unprotected, visible project."""
    lines = [f'ID="{project_id}"']
    for m in modules:
        if m.kind == "document":
            lines.append(f"Document={m.name}/&H00000000")
        else:
            lines.append(f"{'Module' if m.kind == 'standard' else 'Class'}={m.name}")
    lines += [
        f'Name="{name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{_encrypt(project_id, bytes(4))}"',     # ProjectProtectionState 2.3.1.15
        f'DPB="{_encrypt(project_id, bytes(1))}"',     # ProjectPassword 2.3.1.16: none
        f'GC="{_encrypt(project_id, bytes([0xFF]))}"',  # ProjectVisibilityState 2.3.1.17
        "",
        "[Host Extender Info]",
        _HOST_EXTENDER,
        "",
        "[Workspace]",
    ]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return "".join(line + "\r\n" for line in lines)


def _projectwm_stream(modules: Sequence[tuple[VbaModule, bytes]]) -> bytes:
    """PROJECTwm ([MS-OVBA] 2.3.3): MBCS and UTF-16 name pairs, then 0x0000."""
    out = bytearray()
    for module, mbcs_name in modules:
        out += mbcs_name + b"\x00" + _u16(module.name) + b"\x00\x00"
    return bytes(out + b"\x00\x00")


# ---------------------------------------------------------------------------
# Compound file: [MS-CFB] version 3, 512-byte sectors
# ---------------------------------------------------------------------------

_SECTOR, _MINI, _CUTOFF = 512, 64, 4096
_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


class _Entry:
    """A directory entry ([MS-CFB] 2.6): storage (children) or stream (data)."""

    def __init__(self, name: str, data: bytes | None = None,
                 children: list[_Entry] | None = None) -> None:
        self.name, self.data, self.children = name, data, children
        self.left = self.right = self.child = _NOSTREAM
        self.black, self.start, self.sid = True, 0, 0


def _tree(entries: list[_Entry]) -> int:
    """Link siblings into a red-black tree ([MS-CFB] 2.6.4); return the root's id.

    Entries are ordered by name length, then by upper-cased name. The tree is
    built by halving, so every leaf is on the last two levels; nodes on an
    incomplete last level are red, all others black, which keeps the black
    height equal on every path.
    """
    ordered = sorted(entries, key=lambda e: (len(e.name), e.name.upper()))
    height = len(ordered).bit_length()
    full = len(ordered) == (1 << height) - 1

    def build(lo: int, hi: int, depth: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        node.black = full or depth < height - 1
        node.left, node.right = build(lo, mid, depth + 1), build(mid + 1, hi, depth + 1)
        return node.sid

    return build(0, len(ordered), 0)


def _cfb(root_children: list[_Entry]) -> bytes:
    """Serialise a compound file: header, directory, MiniFAT, mini stream, streams, FAT."""
    root = _Entry("Root Entry", children=root_children)
    entries: list[_Entry] = []

    def number(entry: _Entry) -> None:
        entry.sid = len(entries)
        entries.append(entry)
        for child in entry.children or ():
            number(child)

    number(root)
    for entry in entries:
        if entry.children:
            entry.child = _tree(entry.children)

    mini = bytearray()
    minifat: list[int] = []
    big: list[_Entry] = []
    for entry in entries:
        if entry.data is None:
            continue
        if len(entry.data) >= _CUTOFF:
            big.append(entry)
        elif entry.data:
            entry.start = len(minifat)
            count = -(-len(entry.data) // _MINI)
            minifat += [len(minifat) + k + 1 for k in range(count - 1)] + [_END]
            mini += entry.data.ljust(count * _MINI, b"\x00")
        else:
            entry.start = _END

    def sectors(size: int) -> int:
        return -(-size // _SECTOR)

    n_dir = sectors(len(entries) * 128)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini))
    n_big = sum(sectors(len(e.data)) for e in big)
    content = n_dir + n_minifat + n_mini + n_big
    n_fat = 1
    while n_fat * (_SECTOR // 4) < content + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("VBA project too large for a compound file without DIFAT sectors")

    fat: list[int] = []

    def chain(count: int) -> int:
        first = len(fat)
        fat.extend(first + k + 1 for k in range(count - 1))
        fat.append(_END)
        return first

    dir_start = chain(n_dir)
    minifat_start = chain(n_minifat) if n_minifat else _END
    root.start = chain(n_mini) if n_mini else _END
    for entry in big:
        entry.start = chain(sectors(len(entry.data)))
    fat_start = len(fat)
    fat += [_FATSECT] * n_fat
    fat += [_FREE] * (n_fat * (_SECTOR // 4) - len(fat))

    directory = bytearray()
    for entry in entries:
        name = _u16(entry.name) + b"\x00\x00"
        kind = 5 if entry is root else (1 if entry.children is not None else 2)
        size = len(mini) if entry is root else len(entry.data or b"")
        directory += name.ljust(64, b"\x00") + struct.pack(
            "<HBBIII16sIQQIQ", len(name), kind, 1 if entry.black else 0,
            entry.left, entry.right, entry.child, bytes(16), 0, 0, 0,
            entry.start if (entry.data is not None or entry is root) else 0, size)
    directory = directory.ljust(n_dir * _SECTOR, b"\x00")
    for k in range(len(entries), n_dir * 4):  # unused entries: no siblings/child
        struct.pack_into("<III", directory, k * 128 + 68, _NOSTREAM, _NOSTREAM, _NOSTREAM)

    body = bytearray(directory)
    body += b"".join(struct.pack("<I", v) for v in minifat).ljust(n_minifat * _SECTOR, b"\xff")
    body += bytes(mini).ljust(n_mini * _SECTOR, b"\x00")
    for entry in big:
        body += entry.data.ljust(sectors(len(entry.data)) * _SECTOR, b"\x00")
    body += b"".join(struct.pack("<I", v) for v in fat)

    difat = [fat_start + k for k in range(n_fat)] + [_FREE] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("D0CF11E0A1B11AE1"), bytes(16),
        0x003E, 0x0003, 0xFFFE, 9, 6, bytes(6), 0, n_fat, dir_start, 0, _CUTOFF,
        minifat_start, n_minifat, _END, 0)
    header += b"".join(struct.pack("<I", v) for v in difat)
    return header + bytes(body)


# ---------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------

def build_vba_project(modules: Sequence[VbaModule], *, project_name: str = "VBAProject",
                      codepage: int = 932) -> bytes:
    """Return the bytes of a ``vbaProject.bin`` holding ``modules`` in the given order.

    Module names must be ASCII VBA identifiers (at most 31 characters), unique
    regardless of case. Source text must be encodable in ``codepage``; otherwise a
    ValueError names the module, the character and its line.
    """
    codec = f"cp{codepage}"
    try:
        codecs.lookup(codec)
    except LookupError:
        raise ValueError(f"unsupported code page {codepage}") from None
    if not _NAME_RE.match(project_name):
        raise ValueError(f"project name {project_name!r} is not a VBA identifier")
    seen: set[str] = set()
    for m in modules:
        if m.kind not in ("document", "standard", "class"):
            raise ValueError(f"module {m.name!r}: unknown kind {m.kind!r}")
        if not _NAME_RE.match(m.name):
            raise ValueError(f"module name {m.name!r} is not an ASCII VBA identifier "
                             "of at most 31 characters")
        if m.name.upper() in seen:
            raise ValueError(f"duplicate module name {m.name!r}")
        seen.add(m.name.upper())

    named = [(m, m.name.encode(codec)) for m in modules]
    sources = [_encode(_stored_source(m), codec, f"module {m.name!r}") for m in modules]
    project_id = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "kofu-xl:vba:" + project_name + ":"
                                      + ",".join(m.name for m in modules))).upper() + "}"

    vba = [
        _Entry("_VBA_PROJECT", struct.pack("<HHBH", 0x61CC, 0xFFFF, 0x00, 0x0001)),
        _Entry("dir", compress(_dir_stream(project_name.encode(codec), named, codepage, codec))),
    ]
    vba += [_Entry(m.name, compress(src)) for m, src in zip(modules, sources)]
    project = _project_stream(project_id, project_name, modules).encode(codec)
    return _cfb([
        _Entry("VBA", children=vba),
        _Entry("PROJECT", project),
        _Entry("PROJECTwm", _projectwm_stream(named)),
    ])
