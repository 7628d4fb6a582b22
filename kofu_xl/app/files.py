"""Writing the files a command produces: never over a file that is not ours, always atomically."""

from __future__ import annotations

from pathlib import Path

from kofu_xl.errors import CannotWrite
from kofu_xl.ooxml.package import atomic_write

__all__ = ["write_new_file"]


def write_new_file(path: Path, data: bytes, *, replace_ok: bool) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed into place).

    An existing file is replaced only when ``replace_ok``; otherwise the caller is told to
    choose another name (a clerk's file is never overwritten)."""
    if path.exists() and not replace_ok:
        raise CannotWrite(path, "同じ名前のファイルが既にあります。上書きしないため、別の --out を指定してください")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise CannotWrite.from_os_error(path, exc) from None
