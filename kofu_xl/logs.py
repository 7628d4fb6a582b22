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
import logging.handlers
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
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        except OSError:
            return None
        handler.setFormatter(logging.Formatter(_FORMAT))
        setattr(handler, _MARK, str(path))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    return path
