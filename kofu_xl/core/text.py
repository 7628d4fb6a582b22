"""Text from outside, made safe to hold, show and write (pure: no I/O).

One place decides what counts as a control character, what text an Excel cell
would take for a formula (or a DDE call), and what may appear in a file name.
"""

from __future__ import annotations

import unicodedata

from kofu_xl._lazy_re import compiled_at_first_use

__all__ = [
    "FORMULA_START",
    "compiled_at_first_use",
    "control_chars",
    "formula_like",
    "strip_controls",
    "strip_invisible",
    "xml_text",
]

# C0 controls but TAB/LF/CR (which a cell may hold), DEL and the C1 controls. Compiled at first
# use: a text holding none (nearly every cell) is told by str.isprintable, which every one of
# them makes False (they are all of category Cc), as a line end or a tab does.
_CONTROL_CHARS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_control_re = compiled_at_first_use(_CONTROL_CHARS)
# What XML 1.0 cannot carry at all (a subset of _CONTROL_CHARS plus non-characters and lone surrogates)
_xml_illegal_re = compiled_at_first_use("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Bidirectional overrides/isolates, zero-width characters and the BOM: invisible, they make a
# name read differently from what it is ("白井市\u202egpj.exe").
_invisible_re = compiled_at_first_use("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
# A spreadsheet takes text starting with these for a formula (CSV/Excel injection).
FORMULA_START = ("=", "+", "-", "@")
# Dynamic Data Exchange: cmd|' /C calc'!A0, =MSEXCEL|'\..\..\calc.exe'!''. Compiled at first
# use: a text can match only when it holds a "|", a "'" and a "!" (each a literal of the pattern)
_dde_re = compiled_at_first_use(r"[A-Za-z0-9_.\\-]+\s*\|\s*'[^']*'\s*!")
MAX_CELL_TEXT = 32_767  # Excel's limit for one cell


def control_chars(text: str) -> list[str]:
    """The distinct control characters in ``text`` as U+XXXX, in order of appearance."""
    seen: list[str] = []
    if text.isprintable():
        return seen
    for ch in _control_re().findall(text):
        name = f"U+{ord(ch):04X}"
        if name not in seen:
            seen.append(name)
    return seen


def strip_controls(text: str) -> str:
    return text if text.isprintable() else _control_re().sub("", text)


def strip_invisible(text: str) -> str:
    """``text`` without control, bidirectional-override and zero-width characters."""
    return _invisible_re().sub("", strip_controls(text))


def formula_like(text: str) -> bool:
    """True when a spreadsheet would run ``text`` as a formula or a DDE call if it were typed in."""
    t = unicodedata.normalize("NFKC", text).lstrip(" \t\r\n\u3000")
    if len(t) > 1 and t.startswith(FORMULA_START):
        return True
    return "|" in t and "!" in t and "'" in t and _dde_re().search(t) is not None


def xml_text(text: str) -> str:
    """Text a cell can hold: characters XML 1.0 cannot carry become U+FFFD; at most 32,767."""
    illegal = _xml_illegal_re()
    if illegal.search(text):
        text = illegal.sub("\ufffd", text)
    return text[:MAX_CELL_TEXT]
