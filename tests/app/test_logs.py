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


def test_check_logs_only_its_failure_and_other_commands_log_that_they_ran(log_dir):
    """check writes nothing and logs only a failure (its run loads no logging); a command that
    writes logs the line it ran with, as the ribbon's buttons do."""
    from kofu_xl import cli

    assert cli.main(["check", str(REPO / "workbook" / "交付円滑化計画.xlsm")]) in (0, 1)
    log = log_dir / "kofu-xl.log"
    assert not log.exists() or "kofu-xl check" not in log.read_text(encoding="utf-8")
    assert cli.main(["new", "--dantai", "122327", "--out", str(log_dir.parent / "新規.xlsm")]) == 0
    assert "INFO kofu_xl.cli: kofu-xl new" in log.read_text(encoding="utf-8")


def test_doctor_prints_the_log(log_dir):
    done = subprocess.run([sys.executable, "-m", "kofu_xl", "doctor"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, logs.LOG_DIR_ENV: str(log_dir)})
    assert f"ログ: {log_dir / 'kofu-xl.log'}" in done.stdout
    assert "OK    推奨  log" in done.stdout


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_log_file_rolls_over_where_the_rotating_handler_does(tmp_path):
    """The log appends as logging.FileHandler does and hands its records to
    logging.handlers.RotatingFileHandler once one would take the file to maxBytes (so that a
    check does not import logging.handlers). Fed the same records, with the same existing files,
    the two leave the same files, byte for byte, after every record: records of every length
    (ASCII, Japanese, one longer than maxBytes), one that fills the file exactly to maxBytes and
    one that stops a character short of it."""
    import logging.handlers
    import random

    max_bytes, backups = 200, 3
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    line = len("INFO t: \n")  # a record's length beyond its message
    rng = random.Random(17)
    # "b" is the file's first line after a roll-over at the latest (10 characters); then records
    # that take the file exactly to max_bytes (each rolls over) and one that stops one short
    messages = ["b", "c" * (max_bytes - 10 - line), "d", "e" * (max_bytes - 10 - line - 1), "f"]
    messages += ["".join(rng.choice("xy交付円滑化") for _ in range(rng.randrange(0, 90))) for _ in range(150)]
    messages += ["z" * (max_bytes * 2), "after"]
    for start in ("", "x" * (max_bytes - 5), "交" * (max_bytes - 5)):  # no file, a nearly full one (ASCII, UTF-8)
        ours, theirs = tmp_path / f"ours{len(start)}{start[:1]}", tmp_path / f"theirs{len(start)}{start[:1]}"
        handlers = []
        for folder, make in ((ours, logs._LogFile), (theirs, logging.handlers.RotatingFileHandler)):
            folder.mkdir()
            if start:
                (folder / "k.log").write_text(start, encoding="utf-8")
            options = {"maxBytes": max_bytes, "backupCount": backups}
            h = make(folder / "k.log", **options) if make is logs._LogFile else make(folder / "k.log", encoding="utf-8", delay=True, **options)
            h.setFormatter(formatter)
            handlers.append(h)
        try:
            for i, message in enumerate(messages):
                record = logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)
                for h in handlers:
                    h.handle(record)
                assert _files(ours) == _files(theirs), (start[:1], i)
            assert len(_files(ours)) == 1 + backups  # it did roll over, more than once
        finally:
            for h in handlers:
                h.close()
