"""One error tree for kofu-xl.

Every exception the package raises on purpose is a :class:`KofuError`. Each class has a stable
``slug`` (for programs, logs and the JSON output; never renamed), an ``exit_code`` (what the
command line returns when it stops on it) and a Japanese message for the clerk, built from the
class's ``template``. Where a class also behaves like a builtin (``ValueError`` for values that
cannot be read, ``LookupError`` for lookups), it inherits from both, so ``except ValueError``
keeps working for callers that only know the builtin.

This module imports nothing from the package: every layer may import it.

    KofuError                    exit 2 unless said otherwise
    ├── UnreadableInput          a file cannot be read at all
    │   └── StatsFormatError     a statistics file or value is malformed (also ValueError)
    ├── CannotWrite              an output cannot be written
    ├── CannotEdit               a workbook cannot be edited safely in place
    ├── InputValueError          a typed value cannot be read (also ValueError)
    │   ├── NumberError          text that is not a number
    │   └── CalendarError        a date or column label that cannot be read
    ├── StatsLookupError         a municipality or date is not in the statistics (also LookupError)
    ├── OvbaError                a VBA project is not valid MS-OVBA (also ValueError)
    └── InternalError            exit 3: a defect of kofu-xl, not of the input
        └── MissingCachedValuesError
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXIT_ERRORS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_UNREADABLE",
    "CalendarError",
    "CannotEdit",
    "CannotWrite",
    "InputValueError",
    "InternalError",
    "KofuError",
    "MissingCachedValuesError",
    "NumberError",
    "OvbaError",
    "StatsFormatError",
    "StatsLookupError",
    "UnreadableInput",
]

EXIT_OK = 0  # done; no error finding
EXIT_ERRORS = 1  # done; the plan has error findings (or a submit was refused)
EXIT_UNREADABLE = 2  # an input could not be read or an output not written (KofuError)
EXIT_INTERNAL = 3  # a defect of kofu-xl


class KofuError(Exception):
    """A failure the user can act on: a Japanese message naming what to fix, no traceback."""

    slug = "kofu-error"
    exit_code = 2

    def __str__(self) -> str:  # LookupError would repr() its message
        return str(self.args[0]) if self.args else self.slug


class UnreadableInput(KofuError):
    """An input that cannot be read at all."""

    slug = "unreadable-input"
    template = "{where}を読めません: {reason}"

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        where = f"「{self.path}」" if self.path else "入力"
        super().__init__(self.template.format(where=where, reason=reason))


class StatsFormatError(UnreadableInput, ValueError):
    """A statistics file (or a value in it) is not in the expected format.

    ``file``, ``line`` (1-based, the header is line 1), ``column`` (the header label) and
    ``value`` carry the location for programs; the message names them in Japanese.
    """

    slug = "stats-format"

    def __init__(
        self,
        detail: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.detail = detail
        self.file = file
        self.line = line
        self.column = column
        self.value = value
        self.path = file
        self.reason = detail
        where = []
        if file:
            where.append(f"ファイル「{file}」")
        if line is not None:
            where.append(f"{line}行目")
        if column:
            where.append(f"列「{column}」")
        prefix = " ".join(where)
        KofuError.__init__(self, f"{prefix}: {detail}" if prefix else detail)


class CannotWrite(KofuError):
    """An output that cannot be written (read-only folder, disk full, file open in Excel)."""

    slug = "cannot-write"
    template = "「{path}」に書き込めません: {reason}"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(self.template.format(path=self.path, reason=reason))

    @classmethod
    def from_os_error(cls, path: str | Path, exc: OSError) -> CannotWrite:
        if isinstance(exc, PermissionError):
            return cls(path, "書き込みの権限がありません（読み取り専用のフォルダーか、Excel などで開いたままです）")
        if getattr(exc, "errno", None) == 28:
            return cls(path, "ディスクの空きがありません")
        if getattr(exc, "errno", None) == 36:
            return cls(path, "ファイル名が長すぎます")
        if getattr(exc, "errno", None) == 17:
            return cls(path, "同じ名前のファイルがすでにあります")
        return cls(path, exc.strerror or str(exc))


class CannotEdit(KofuError):
    """The workbook file cannot be edited safely in place (message in Japanese)."""

    slug = "cannot-edit"

    def __init__(self, message: str, *, part: str | None = None, sheet: str | None = None) -> None:
        super().__init__(message)
        self.part = part
        self.sheet = sheet


class InputValueError(KofuError, ValueError):
    """A typed value that cannot be read. ``reason`` is a short Japanese phrase."""

    slug = "invalid-value"

    def __init__(self, original: object, reason: str) -> None:
        super().__init__(f"{original!r}: {reason}")
        self.original = original
        self.reason = reason


class NumberError(InputValueError):
    """Text that is not a number."""

    slug = "not-a-number"

    def __init__(self, original: object, reason: str = "数値ではありません") -> None:
        super().__init__(original, reason)


class CalendarError(InputValueError):
    """A date or column label that cannot be read."""

    slug = "invalid-date"


class StatsLookupError(KofuError, LookupError):
    """A municipality or date asked for is not in the statistics (Japanese message)."""

    slug = "stats-lookup"


class OvbaError(KofuError, ValueError):
    """The data is not a valid [MS-OVBA] structure (or exceeds a size limit)."""

    slug = "invalid-vba-project"


class InternalError(KofuError):
    """A defect of kofu-xl itself, not of the input (exit code 3)."""

    slug = "internal-error"
    exit_code = 3


class MissingCachedValuesError(InternalError, ValueError):
    """Formula cells were left without a cached value although the caller required one."""

    slug = "missing-cached-values"

    def __init__(self, cells: Sequence[tuple[str, str]]):
        self.cells = tuple(cells)
        shown = ", ".join(f"{sheet}!{ref}" for sheet, ref in self.cells[:20])
        more = f" (+{len(self.cells) - 20} more)" if len(self.cells) > 20 else ""
        super().__init__(f"{len(self.cells)} formula cell(s) without a cached value: {shown}{more}")
