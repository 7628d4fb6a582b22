"""Replace a file so that it is either the old one or the new one (no package knowledge).

Kept apart from :mod:`kofu_xl.ooxml.package` so that the writers of a workbook in place
(`kofu-xl submit`'s 検証結果 and 提出記録, `upgrade`, a new file) load only this: the
package module's XML and zip machinery is ~1 % of a submit's instructions to import.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is either the old one or the new one.

    The bytes go to a temporary file in the same folder, are flushed and fsync'ed, then
    renamed over ``path`` (os.replace); the folder is fsync'ed where the OS allows it.
    On any failure the temporary file is removed and the exception propagates; ``path``
    is untouched. An existing file keeps its permission bits.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
