"""A log a helpdesk can read: one rotating file in the user's local application data folder.

Every entry point (the ribbon's buttons through kofu_xl.excel, the KOFU_* functions, the
command line) calls :func:`setup_logging`; failures are written there with their traceback,
and every message box that reports a failure names :func:`log_path`. The folder follows the
platform's convention through platformdirs (Windows: ``%LOCALAPPDATA%\\kofu-xl\\Logs``, the
local, not roaming, profile); ``$KOFU_LOG_DIR`` overrides it. Logging never stops a run: a
folder that cannot be written leaves the file out (``log_path()`` still says where it would be).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

__all__ = ["LOG_DIR_ENV", "LOG_FILE", "log_dir", "log_path", "setup_logging"]

APP_NAME = "kofu-xl"
LOG_DIR_ENV = "KOFU_LOG_DIR"
LOG_FILE = "kofu-xl.log"
MAX_BYTES = 1_000_000
BACKUPS = 5  # kofu-xl.log.1 … .5: at most ~6 MB
LOGGERS = ("kofu_xl", "kofu_udfs")
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_MARK = "_kofu_log_handler"


class _LogFile(logging.FileHandler):
    """The log file, rotated by :class:`logging.handlers.RotatingFileHandler` at ``maxBytes``.

    That module loads socket, pickle and queue (~25 M instructions under callgrind, 3.5 % of a
    ``kofu-xl check``), and most processes write a line or two to a file far from full:
    records are appended as :class:`logging.FileHandler` appends them until one would take the
    file to ``maxBytes``, the point where the rotating handler looks at rolling over
    (``shouldRollover``: its length + the record's, as written, ``>= maxBytes``). From that record
    on, the rotating handler writes every record, rolling over as it decides.
    """

    def __init__(self, path: Path, *, maxBytes: int, backupCount: int) -> None:  # the rotating handler's names
        super().__init__(path, encoding="utf-8", delay=True)
        self.maxBytes = maxBytes
        self.backupCount = backupCount
        self._rotating: logging.FileHandler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rotating is None:
            try:
                if self._below_the_limit(record):
                    super().emit(record)
                    return
                self._close_stream()
                import logging.handlers  # only when the file is about to be full: see the class

                self._rotating = logging.handlers.RotatingFileHandler(
                    self.baseFilename, maxBytes=self.maxBytes, backupCount=self.backupCount, encoding="utf-8", delay=True
                )
            except Exception:  # noqa: BLE001 (as logging's handlers do: a record never stops the run)
                self.handleError(record)
                return
        self._rotating.setFormatter(self.formatter)
        self._rotating.emit(record)

    def _below_the_limit(self, record: logging.LogRecord) -> bool:
        """True where the rotating handler would certainly not roll over before this record: the
        file's length plus the record's, as written, stays below ``maxBytes``. Otherwise the
        rotating handler decides (it never rolls over what is not a regular file)."""
        try:
            size = os.stat(self.baseFilename).st_size
        except OSError:  # none yet (or unreadable: opening it says so, as it did)
            size = 0
        return size + len(f"{self.format(record)}\n") < self.maxBytes

    def _close_stream(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]

    def close(self) -> None:
        if self._rotating is not None:
            self._rotating.close()
        super().close()


def log_dir(environ: os._Environ[str] | dict[str, str] | None = None, *, platform: str | None = None) -> Path:
    """The folder of the log: $KOFU_LOG_DIR, else the platform's user log folder."""
    env = os.environ if environ is None else environ
    if env.get(LOG_DIR_ENV):
        return Path(env[LOG_DIR_ENV])
    if platform == "win32":  # (doctor and tests ask for a Windows PC's answer from anywhere)
        from platformdirs.windows import Windows  # loads ctypes: only when asked

        return Path(Windows(APP_NAME, appauthor=False).user_log_dir)
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_path() -> Path:
    return log_dir() / LOG_FILE


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach the rotating file to kofu-xl's loggers (once per process and path).
    Returns the file, or None when it cannot be opened."""
    path = log_path()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if any(getattr(h, _MARK, None) == str(path) for h in logger.handlers):
            continue
        for h in [h for h in logger.handlers if getattr(h, _MARK, None)]:
            logger.removeHandler(h)
            h.close()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _LogFile(path, maxBytes=MAX_BYTES, backupCount=BACKUPS)
        except OSError:
            return None
        handler.setFormatter(logging.Formatter(_FORMAT))
        setattr(handler, _MARK, str(path))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    return path
