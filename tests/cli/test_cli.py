"""The `kofu-xl` command line, run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "kofu_xl", *args], capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=120)


def test_check_embedded_plan_json_schema(tmp_path):
    # outside the checkout there is no workbook: the embedded plan is checked
    r = run("check", "--json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["municipality"] == {
        "code": "122327", "prefecture": "千葉県", "name": "白井市", "population": 63723,
        "population_date": "2019-01-01", "base_issued": 9470, "base_issued_date": "2019-08-31",
    }
    assert data["columns"][0] == "2019-08" and data["columns"][-2:] == ["FY2021", "FY2022"]
    s = data["series"]
    for key in ("issued", "cumulative", "coverage_rate", "per_window", "per_staff", "per_issuing_terminal", "staff_total"):
        assert len(s[key]) == 22, key
    assert s["cumulative"][-1] == 61831
    assert abs(s["coverage_rate"][0] - 9470 / 63723) < 1e-15
    assert s["per_window"][-1] is None and s["per_staff"][9] == 650 / 6
    assert data["costs"]["R1"]["items"]["personnel_regular"] == 98 and data["costs"]["R2"]["items"]["postage"] == 1772
    assert data["costs"]["R1"]["total"] == 3143 and data["costs"]["R1"]["total_computed"] == 3153
    f = data["findings"][0]
    assert set(f) >= {"rule", "severity", "field", "column", "sheet", "cell", "expected", "actual", "message"}
    assert data["counts"]["error"] == len([x for x in data["findings"] if x["severity"] == "error"]) > 0


def test_check_text_report_is_japanese(tmp_path):
    r = run("check", cwd=tmp_path)
    assert r.returncode == 1
    assert "エラー" in r.stdout and "[staff-total-mismatch]" in r.stdout and "R2年3月" in r.stdout


def test_unreadable_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "壊れた 計画.json"
    bad.write_text("{not json", encoding="utf-8")
    for target in (str(bad), str(tmp_path / "ない.json"), str(tmp_path / "plan.txt")):
        r = run("check", target, cwd=tmp_path)
        assert r.returncode == 2, (target, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and "読めません" in r.stderr


def test_check_is_read_only_and_clean_plan_exits_0(tmp_path):
    sys.path.insert(0, str(REPO / "tests"))
    from tests.core.test_rules import corrected_seed

    path = tmp_path / "plan.json"
    path.write_text(json.dumps(corrected_seed(), ensure_ascii=False), encoding="utf-8")
    before = path.read_bytes()
    r = run("check", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "警告" in r.stdout
    assert path.read_bytes() == before


def test_debug_is_accepted_before_and_after_the_command(monkeypatch, capsys) -> None:
    """`kofu-xl check --debug` (as the README documents) and `kofu-xl --debug check` both show
    the traceback of an internal error; without it, a one-line message and exit 3."""
    import kofu_xl.app.check as check_mod
    from kofu_xl.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("planted")

    monkeypatch.setattr(check_mod, "check", broken)
    for argv in (["check", "--debug"], ["--debug", "check"]):
        with pytest.raises(RuntimeError, match="planted"):
            main(argv)
    assert main(["check"]) == 3
    assert "--debug" in capsys.readouterr().err


COMMANDS = ("check", "build", "new", "submit", "upgrade", "followup", "aggregate", "doctor", "propose")
PARSED_ARGVS = [
    [], ["-h"], ["--help"], ["--debug"], ["--"], [""], ["chek"], ["-x"], ["--deb", "check"], ["--de", "check", "--json"],
    ["--debug", "--debug", "check"], ["-h", "check"], ["--debug", "-h"], ["--", "check"], ["--debug=1", "check"],
    ["check"], ["check", "plan.xlsm", "--json"], ["check", "--deb"], ["check", "-h"], ["check", "a", "b"], ["check", "--bogus"],
    ["check", "new", "--help"], ["check", "--", "--json"], ["--debug", "check", "x.json", "--debug"], ["check", "--js", "x"],
    ["build", "--plan", "p.json", "--out", "o.xlsm"], ["build", "--out"], ["new"], ["new", "--dantai", "122327"],
    ["new", "--dantai", "1", "--out"], ["new", "--da", "1"], ["submit"], ["submit", "a.xlsm", "--no-pdf", "--out", "d"],
    ["upgrade", "old.xlsm", "--out", "new.xlsm"], ["followup", "--stats", "a.csv", "b", "--as-of", "2021-03", "--json"],
    ["followup", "--stats"], ["aggregate"], ["aggregate", "a", "b", "--jobs", "2", "--json"], ["aggregate", "a", "--jobs", "x"],
    ["doctor", "--json"], ["doctor", "book.xlsm", "extra"], ["propose", "--aim", "x"], ["propose", "--aim", "middle", "--from", "2020-04"],
    ["propose", "p.xlsm", "--max-step", "300", "--max-staff", "12", "--staff", "3", "--monthly-cost", "1", "--out", "o.xlsm"],
    *(["--debug", name, "--help"] for name in COMMANDS), *([name, "--help"] for name in COMMANDS),
]


@pytest.mark.parametrize("argv", PARSED_ARGVS, ids=" ".join)
def test_the_parser_built_for_argv_parses_it_as_the_full_parser(argv: list[str]) -> None:
    """`_parser(argv)` builds only what argv needs (the command it runs, with its arguments);
    every outcome equals the full parser's (every command with every argument): the namespace,
    or the exit code with the help or the error message."""
    import contextlib
    import io

    from kofu_xl.cli import _parser

    def outcome(parser: object) -> tuple[object, ...]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return vars(parser.parse_args(argv)), None, out.getvalue(), err.getvalue()
            except SystemExit as exc:
                return None, exc.code, out.getvalue(), err.getvalue()

    full = _parser(["--help", *COMMANDS])  # not a command first: every command, each with its arguments
    assert outcome(_parser(argv)) == outcome(full)


# a city (the shipped plan's), a designated city, a ward, a town and a village of 159 people
NEW_PLAN_CODES = ("122327", "011002", "131016", "013030", "134023")


@pytest.mark.parametrize("dantai", NEW_PLAN_CODES)
def test_new_takes_the_shipped_macros_and_equals_a_fresh_build(tmp_path: Path, dantai: str) -> None:
    """`kofu-xl new` splices the municipality's cells into the stored blank (kofu_xl.book.template):
    neither openpyxl, xlwings, the UDF module nor numpy is loaded; byte for byte it is the
    workbook a fresh build gives here (openpyxl, with numpy, and the VBA project generated)."""
    import openpyxl.compat.numbers

    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book.vba import build_xlsm

    out = tmp_path / "new.xlsm"
    code = (
        "import sys; from kofu_xl.cli import main; rc = main(sys.argv[1:]); "
        "print(sorted(m for m in sys.modules if m.startswith(('xlwings', 'kofu_udfs', 'numpy', 'openpyxl')))); sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code, "new", "--dantai", dantai, "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"  # neither openpyxl, xlwings, the UDF module nor numpy was loaded
    assert openpyxl.compat.numbers.NUMPY  # the reference is drawn the other way
    assert out.read_bytes() == build_xlsm(new_plan(dantai), blank=True)


SUBMIT_PROBE = """
import builtins, json, sys
from kofu_xl.cli import main

tried = set()
_import = builtins.__import__

def probe(name, globals=None, *args, **kwargs):
    if name.split(".")[0] == "numpy":
        tried.add((globals or {}).get("__name__"))
    return _import(name, globals, *args, **kwargs)

builtins.__import__ = probe
rc = main(sys.argv[1:])
builtins.__import__ = _import
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "subprocess", "openpyxl") or m in ("kofu_xl.app.pdf", "kofu_xl.ooxml.package", "kofu_xl.book.template"))
print(json.dumps({"tried": sorted(tried), "loaded": loaded}))
sys.exit(rc)
"""


def _parts_without_save_time(xlsx: bytes) -> dict[str, bytes]:
    """Every part of a package; openpyxl stamps docProps/core.xml with the time of saving."""
    import io
    import re
    import zipfile

    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return {n: re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b"", z.read(n)) for n in z.namelist()}


def test_submit_without_pdf_draws_the_package_without_numpy_or_the_pdf_maker(tmp_path: Path) -> None:
    """`kofu-xl submit --no-pdf` of a plan whose package is new and of a shape without a stored
    blank (no daily counts; a plan of the blank's shape is spliced without openpyxl, held by
    tests/test_architecture.py), so it is drawn: openpyxl comes without numpy
    (openpyxl's own optional import is the only attempt: nothing else on the path wants numpy),
    and LibreOffice's PDF maker (kofu_xl.app.pdf, subprocess) is not loaded, nor the package
    writer (kofu_xl.ooxml.package) or the stored blank's splice (kofu_xl.book.template): the
    values-only package is openpyxl's save, the workbook is written by the editor. The package's
    every part equals the one drawn here, where openpyxl did import numpy (openpyxl stamps the
    time of saving into docProps/core.xml: that stamp is left out)."""
    import openpyxl.compat.numbers

    from kofu_xl.app.check import check
    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    raw = corrected_seed()
    raw["daily"] = {}  # a shape without a stored blank (tests/book/test_package_content.py)
    book = tmp_path / "計画.xlsm"
    book.write_bytes(build_xlsm(load_plan(raw)[0]))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", SUBMIT_PROBE, "submit", str(book), "--no-pdf"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["tried"] == ["openpyxl.compat.numbers"], seen["tried"]
    assert "openpyxl" in seen["loaded"]  # the package was drawn in the probed process
    assert [m for m in seen["loaded"] if not m.startswith("openpyxl")] == [], seen["loaded"]
    [xlsx] = (tmp_path / "提出").glob("*.xlsx")
    result = check(book)
    assert openpyxl.compat.numbers.NUMPY  # the reference is drawn the other way
    reference = build_sheets(result.plan, schedule=result.schedule, values_only=True).xlsx
    assert _parts_without_save_time(xlsx.read_bytes()) == _parts_without_save_time(reference)


def test_new_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new` pauses the cycle collector while it draws (its objects live until written); a
    caller running it in-process gets the collector back as it was."""
    import gc

    from kofu_xl.cli import main

    assert gc.isenabled()
    assert main(["new", "--dantai", "134023", "--out", str(tmp_path / "a.xlsm")]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == 0  # frozen only where the process ends (run)
    gc.disable()
    try:
        assert main(["new", "--dantai", "134023", "--out", str(tmp_path / "b.xlsm")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert (tmp_path / "a.xlsm").read_bytes() == (tmp_path / "b.xlsm").read_bytes()
    assert "青ヶ島村" in capsys.readouterr().out


def test_check_leaves_the_cycle_collector_as_it_found_it(capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from kofu_xl.cli import main

    assert gc.isenabled()
    assert main(["check", str(REPO / "workbook" / "交付円滑化計画.xlsm")]) == 1  # the seed's own errors
    assert gc.isenabled() and gc.get_freeze_count() == 0  # main, as the ribbon and tests call it
    capsys.readouterr()


def test_the_process_entry_runs_main_and_spares_the_last_collections() -> None:
    """`kofu-xl` (the console script) and `python -m kofu_xl` run ``run``: main's exit code,
    then every object frozen out of the interpreter's last cycle collections."""
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["kofu-xl"] == "kofu_xl.cli:run"
    code = "import gc, sys; from kofu_xl.cli import run; rc = run(); print(rc, gc.get_freeze_count() > 0, file=sys.stderr)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code, "new", "--dantai", "000000"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert r.stderr.strip().splitlines()[-1] == "2 True", r.stderr
    assert run("--help").returncode == 0  # python -m kofu_xl


@pytest.mark.parametrize("args", [["--json"], [], ["--json", "nonexistent.xlsm"]])
def test_check_ends_its_process_without_the_teardown_and_with_all_its_output(args, capsys) -> None:
    """check, which only reads, ends its process once its output is out (os._exit: nothing
    registered to run at exit runs); what it printed, to a pipe, is all there, byte for byte
    what main prints, with main's exit code."""
    from kofu_xl.cli import main

    argv = ["check", *args]
    if all(a.startswith("--") for a in args):  # the shipped workbook
        argv.append(str(REPO / "workbook" / "交付円滑化計画.xlsm"))
    code = main(argv)
    printed = capsys.readouterr()
    probe = "import atexit, sys; atexit.register(lambda: print('TEARDOWN', file=sys.stderr)); from kofu_xl.cli import run; run()"
    # (buffered, as a clerk's pipe is: this machine's environment may say PYTHONUNBUFFERED)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, encoding="utf-8", cwd=REPO, env=env, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (code, printed.out, printed.err)
    if args and args[0] == "--json" and len(args) == 1:
        assert json.loads(r.stdout)["counts"]["error"] > 0  # the whole report, parsed back


@pytest.mark.skipif(sys.platform == "win32", reason="closes a descriptor before the child runs (POSIX)")
@pytest.mark.parametrize("closed", [1, 2])
def test_check_with_a_closed_standard_stream_ends_as_main_returns(closed) -> None:
    """A process started with its standard output or error closed (`>&-`, `2>&-`: Python's
    sys.stdout or sys.stderr is None) still ends check with main's exit code, and with no
    traceback: the flush before os._exit skips a stream that is not there."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "check", "nonexistent.xlsm"], capture_output=True, text=True,
                       encoding="utf-8", cwd=REPO, env=env, timeout=120, preexec_fn=lambda: os.close(closed))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    if closed == 1:
        assert "nonexistent.xlsm" in r.stderr


@pytest.mark.parametrize("tool, report", [(["cProfile", "-m"], "function calls"), (["trace", "--listfuncs", "--module"], "functions called:")])
def test_check_under_a_profiler_or_tracer_ends_as_usual(tool, report) -> None:
    """A process whose run is profiled or traced (cProfile, trace, coverage, a debugger: they
    report after the command returns, or at exit) is not ended by os._exit: their report is
    printed, as it was before check skipped the teardown."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", *tool, "kofu_xl", "check", "nonexistent.xlsm"], capture_output=True, text=True,
                       encoding="utf-8", cwd=REPO, env=env, timeout=300)
    assert "「nonexistent.xlsm」を読めません" in r.stderr, r.stderr
    assert report in r.stdout, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])


def test_build_in_a_checkout_also_writes_the_blank_new_fills_in(tmp_path, monkeypatch):
    """`kofu-xl build` (the shipped workbook) in a checkout writes `new`'s stored blank too, equal
    to the committed one; elsewhere (an installed package) it leaves the blank alone."""
    from kofu_xl.app import new
    from kofu_xl.book import template
    from kofu_xl.cli import main

    committed = template.TEMPLATE_PATH.read_bytes()
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    (checkout / "kofu_xl" / "data").mkdir(parents=True)
    elsewhere.mkdir()
    blank = checkout / "kofu_xl" / "data" / template.TEMPLATE_PATH.name
    monkeypatch.setattr(template, "TEMPLATE_PATH", blank)
    monkeypatch.setattr(new, "TEMPLATE_PATH", blank)
    monkeypatch.chdir(elsewhere)
    assert main(["build"]) == 0 and (elsewhere / "workbook" / "交付円滑化計画.xlsm").is_file()
    assert not blank.exists()
    monkeypatch.chdir(checkout)
    assert main(["build"]) == 0
    assert blank.read_bytes() == committed
