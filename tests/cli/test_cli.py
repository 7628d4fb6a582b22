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


def test_new_takes_the_shipped_macros_and_equals_a_fresh_build(tmp_path: Path) -> None:
    """`kofu-xl new` assembles the new workbook with the shipped workbook's VBA project and ribbon
    (xlwings is not loaded); byte for byte it is the workbook a fresh build gives."""
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book.vba import build_xlsm

    out = tmp_path / "new.xlsm"
    code = (
        "import sys; from kofu_xl.cli import main; rc = main(sys.argv[1:]); "
        "print(sorted(m for m in sys.modules if m.startswith(('xlwings', 'kofu_udfs')))); sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code, "new", "--dantai", "122327", "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"  # neither xlwings nor the UDF module was loaded
    assert out.read_bytes() == build_xlsm(new_plan("122327"), blank=True)
