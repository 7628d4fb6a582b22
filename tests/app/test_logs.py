"""The helpdesk's log: a rotating file in the user's local app data folder, named by every
failure message, by the VBA message boxes and by `kofu-xl doctor`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kofu_xl import logs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "ログ"))
    yield tmp_path / "ログ"
    for name in logs.LOGGERS:  # detach the file handler bound to this tmp folder
        logger = logging.getLogger(name)
        for h in [h for h in logger.handlers if getattr(h, logs._MARK, None)]:
            logger.removeHandler(h)
            h.close()


def test_windows_folder_is_the_local_app_data_one_the_vba_names_too(monkeypatch):
    """On Windows platformdirs puts it under %LOCALAPPDATA% (not the roaming profile); the
    ribbon's VBA builds the same path from Environ("LOCALAPPDATA")."""
    import platformdirs.windows

    from kofu_xl.ooxml.ribbon import ribbon_vba

    local = r"C:\Users\clerk\AppData\Local"
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: local if csidl == "CSIDL_LOCAL_APPDATA" else r"C:\Roaming")
    monkeypatch.delenv(logs.LOG_DIR_ENV, raising=False)
    folder = logs.log_dir({}, platform="win32")
    assert str(folder).replace("/", "\\") == local + r"\kofu-xl\Logs"
    assert 'KofuLogPath = Environ("LOCALAPPDATA") & "\\kofu-xl\\Logs\\kofu-xl.log"' in ribbon_vba()
    assert 'KofuLogPath = Environ("KOFU_LOG_DIR") & "\\kofu-xl.log"' in ribbon_vba()
    assert ribbon_vba().count("& KofuLogPath()") == 2  # both failure message boxes


def test_a_failure_is_written_with_its_traceback_and_the_file_rotates(log_dir):
    path = logs.setup_logging()
    assert path == log_dir / "kofu-xl.log" == logs.log_path()
    assert logs.setup_logging() == path  # idempotent: one handler
    assert sum(bool(getattr(h, logs._MARK, None)) for h in logging.getLogger("kofu_xl").handlers) == 1
    try:
        raise ZeroDivisionError("planted")
    except ZeroDivisionError:
        logging.getLogger("kofu_xl.excel").exception("検証 failed")
    text = path.read_text(encoding="utf-8")
    assert "検証 failed" in text and "Traceback" in text and "ZeroDivisionError: planted" in text
    handler = next(h for h in logging.getLogger("kofu_xl").handlers if getattr(h, logs._MARK, None))
    assert (handler.maxBytes, handler.backupCount) == (logs.MAX_BYTES, logs.BACKUPS)


def test_a_kofu_function_failure_reaches_the_log(log_dir, monkeypatch):
    import kofu_udfs
    from kofu_xl.core import calc

    monkeypatch.setattr(calc, "coverage_rate", lambda *a: 1 / 0)
    assert kofu_udfs.KOFU_RATE(1.0, 2.0) == "#VALUE!"
    text = (log_dir / "kofu-xl.log").read_text(encoding="utf-8")
    assert "KOFU_RATE failed" in text and "ZeroDivisionError" in text


def test_every_failure_message_box_names_the_log(log_dir):
    from kofu_xl.errors import UnreadableInput
    from kofu_xl.excel import failure_message

    for exc in (RuntimeError("x"), PermissionError(13, "denied", "a.xlsx"), UnreadableInput(None, "読めません")):
        assert f"ログ: {log_dir / 'kofu-xl.log'}" in failure_message("検証", exc)


def test_cli_internal_error_goes_to_the_log_and_names_it(log_dir, monkeypatch, capsys):
    from kofu_xl import cli

    def broken(args):
        raise KeyError("planted")

    monkeypatch.setattr(cli, "cmd_check", broken)
    assert cli.main(["check"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert str(log_dir / "kofu-xl.log") in err and "Traceback" not in err
    assert "KeyError: 'planted'" in (log_dir / "kofu-xl.log").read_text(encoding="utf-8")


def test_doctor_prints_the_log(log_dir):
    done = subprocess.run([sys.executable, "-m", "kofu_xl", "doctor"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, logs.LOG_DIR_ENV: str(log_dir)})
    assert f"ログ: {log_dir / 'kofu-xl.log'}" in done.stdout
    assert "OK    推奨  log" in done.stdout
