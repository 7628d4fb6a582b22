"""Writing the files a command produces: never over a file that is not ours, always atomically."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from kofu_xl.core.text import strip_invisible
from kofu_xl.errors import CannotWrite
from kofu_xl.ooxml.atomic import atomic_write

__all__ = ["safe_filename", "write_new_file"]


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


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def safe_filename(text: str, *, limit: int = 40) -> str:
    """A name from the workbook made safe as a file name (no path, no control characters,
    no bidirectional override or zero-width character that would make it read differently)."""
    text = strip_invisible(unicodedata.normalize("NFKC", text or ""))
    text = _UNSAFE.sub("_", text).strip(" .")
    text = text.replace("..", "_")
    return text[:limit] or "未入力"
