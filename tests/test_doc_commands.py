"""Every command line in README.md and docs/*.md is executed (or, where it cannot run here,
parsed by its own program), so the documentation cannot drift from the tool.

Fenced blocks (sh, bat, powershell, …) are split into commands (`&&` chains, comments off).
- `kofu-xl …` runs as `python -m kofu_xl …` from this checkout in a temporary folder holding
  what the docs refer to (交付円滑化計画.xlsm, 提出/, 公表統計/); a Windows path under
  C:\\交付円滑化計画\\ becomes that folder. It must exit 0 or 1 (1 = the plan has errors, as
  documented), never 2 (unreadable, unknown option) or 3, and never print a traceback.
- `python …` runs with this interpreter, except pip (it installs and downloads packages: the
  command line is parsed by pip's own parser instead, which refuses an unknown option) and
  pytest (the suite itself).
- The rest needs Windows or root and is skipped with the reason stated in SKIP below.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import reference_stats_dir

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
WINDOWS_DIR = "C:\\交付円滑化計画\\"

# first word -> why it is not run here
SKIP = {
    "apt-get": "installs system packages (root, network); the packages it names are checked by test_apt_line_*",
    "where": "a Windows command (cmd.exe)",
    "dir": "a Windows command (cmd.exe)",
    "cd": "a Windows command (cmd.exe: cd /d)",
    "echo": "writes a file in a Windows folder (cmd.exe redirection)",
    "Get-ChildItem": "a PowerShell command (Windows)",
    "Get-MpPreference": "a PowerShell command (Windows Defender)",
}
PYTHONS = {"python", "python3", "py", "C:\\Program Files\\Python312\\python.exe"}


@dataclass
class Command:
    doc: str
    lang: str
    line: str
    argv: list[str]


def commands() -> list[Command]:
    out: list[Command] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", text, re.M | re.S):
            lang = m.group(1)
            if lang in ("text", "json", "python", "toml", "xml", "vb", "csv"):
                continue
            for raw in m.group(2).splitlines():
                line = raw.strip()
                if not line or line.startswith("#") or line.upper().startswith("REM "):
                    continue
                line = re.sub(r"\s+#\s.*$", "", line)  # a trailing comment
                for part in line.split("&&"):
                    part = part.strip()
                    if "|" in part and lang == "powershell":
                        part = part.split("|")[0].strip()
                    argv = shlex.split(part, posix=lang not in ("bat", "powershell"))
                    if lang in ("bat", "powershell"):
                        argv = [a[1:-1] if len(a) > 1 and a[0] == a[-1] == '"' else a for a in argv]
                    out.append(Command(doc.name, lang, part, argv))
    return out


COMMANDS = commands()


def _kind(cmd: Command) -> str:
    first = cmd.argv[0]
    if first == "kofu-xl":
        return "run"
    if first in PYTHONS:
        args = cmd.argv[1:]
        if first == "py" and args and args[0].startswith("-3"):
            args = args[1:]
        if args[:2] == ["-m", "pip"]:
            return "pip"
        if args[:2] == ["-m", "pytest"]:
            return "skip: the test suite itself"
        if args and args[0].replace("\\", "/").startswith("tests/excel/"):
            return "skip: the acceptance script needs Excel on Windows"
        return "python"
    if first in SKIP:
        return "skip: " + SKIP[first]
    return "unknown"


def test_every_command_line_is_covered() -> None:
    kinds = {(c.doc, c.line): _kind(c) for c in COMMANDS}
    assert [k for k, v in kinds.items() if v == "unknown"] == []
    ran = [k for k, v in kinds.items() if v in ("run", "python", "pip")]
    assert len(ran) >= 20, ran  # most of the docs run
    for doc in ("README.md", "install.md", "guide.md"):
        assert any(d == doc for d, _ in ran), doc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """What the docs refer to: the shipped workbook (as 交付円滑化計画.xlsm and in workbook/),
    a 提出 folder, a 公表統計 folder, and C:\\交付円滑化計画\\ as a folder."""
    root = tmp_path_factory.mktemp("docs")
    book = REPO / "workbook" / "交付円滑化計画.xlsm"
    (root / "workbook").mkdir()
    shutil.copy(book, root / "workbook" / book.name)
    shutil.copy(book, root / book.name)
    (root / "提出").mkdir()
    shutil.copy(book, root / "提出" / "122327_白井市_交付円滑化計画.xlsm")
    (root / "公表統計").mkdir()
    shutil.copy(reference_stats_dir() / "20221231.csv", root / "公表統計" / "20221231.csv")
    (root / "交付円滑化計画").mkdir()
    return root


def _translate(argv: list[str], root: Path) -> list[str]:
    out = []
    for a in argv:
        if a.startswith(WINDOWS_DIR):
            a = str(root / "交付円滑化計画" / a[len(WINDOWS_DIR):])
        out.append(a)
    return out


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KOFU_SHARED"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _doc_order(doc: str) -> list[Command]:
    return [c for c in COMMANDS if c.doc == doc]


@pytest.mark.parametrize("doc", [d.name for d in DOCS])
def test_commands_of_a_document_run(doc: str, workdir: Path) -> None:
    """In the order the document gives them (`new` before `doctor` before `build`)."""
    cwd = workdir / doc
    if cwd.exists():
        shutil.rmtree(cwd)
    shutil.copytree(workdir, cwd, ignore=shutil.ignore_patterns("README.md*", "*.md"))
    if not any(c.argv[:2] == ["kofu-xl", "new"] for c in _doc_order(doc)):
        # the clerk's workbook the document names exists already
        shutil.copy(workdir / "交付円滑化計画.xlsm", cwd / "交付円滑化計画" / "122327_白井市_交付円滑化計画.xlsm")
    results = []
    for cmd in _doc_order(doc):
        kind = _kind(cmd)
        if kind == "run":
            argv = [sys.executable, "-m", "kofu_xl", *_translate(cmd.argv[1:], cwd)]
            r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=600)
            ok = r.returncode in (0, 1) and "Traceback" not in r.stderr + r.stdout and "usage:" not in r.stderr
            results.append((cmd.line, r.returncode, ok, r.stderr[-300:]))
        elif kind == "python":
            args = cmd.argv[1:]
            r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=_env(), timeout=600)
            results.append((cmd.line, r.returncode, r.returncode == 0, r.stderr[-300:]))
        elif kind == "pip":
            args = cmd.argv[cmd.argv.index("pip") + 1:]
            from pip._internal.commands import create_command

            try:
                create_command(args[0]).parse_args(args[1:])
                ok = True
            except SystemExit:
                ok = False
            results.append((cmd.line, 0, ok, "pip parser"))
    assert [r for r in results if not r[2]] == []


def test_the_offline_recipe_collects_pywin32() -> None:
    """pip evaluates xlwings' `platform_system == "Windows"` marker on the machine that
    downloads: off Windows the recipe has to name pywin32 itself."""
    downloads = [c for c in COMMANDS if c.doc == "install.md" and "download" in c.argv and "--platform" in c.argv]
    assert downloads
    for c in downloads:
        assert "pywin32" in c.argv and c.argv[c.argv.index("--platform") + 1] == "win_amd64", c.line
        assert "--only-binary=:all:" in c.argv


def test_apt_line_installs_what_the_tests_and_the_html_to_pdf_step_need() -> None:
    (apt,) = [c for c in COMMANDS if c.argv[:2] == ["apt-get", "install"]]
    for package in ("libreoffice-calc", "libreoffice-writer", "libreoffice-core", "fonts-noto-cjk", "poppler-utils"):
        assert package in apt.argv, package


def test_check_debug_is_documented_and_runs() -> None:
    assert any(c.argv == ["kofu-xl", "check", "--debug"] for c in COMMANDS if c.doc == "README.md")
