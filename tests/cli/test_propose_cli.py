"""`kofu-xl propose` (run in this process, so this checkout's kofu_udfs builds the workbook)."""

from __future__ import annotations

import copy

from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import load_plan

MONTHS = [c.key for c in load_plan(shipped_plan_raw())[0].columns[1:]]


# ---------------------------------------------------------------- the command line (in process)


class _Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(*args: str, cwd=None):
    """`kofu-xl ARGS` in this process (this checkout's kofu_udfs, mapped by conftest)."""
    import contextlib
    import io
    import os

    from kofu_xl.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    return _Ran(code, out.getvalue(), err.getvalue())


def test_cli_table_for_shiroi():
    r = _run("propose", "--dantai", "122327", "--aim", "lower")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "計画案: 千葉県白井市（団体コード 122327）" in out
    assert "R2年7月末: 累計 14,975 枚 23.5%" in out and "R3年3月末: 累計 30,014 枚 47.1%" in out and "R4年3月末: 累計 44,989 枚 70.6%" in out
    assert out.count("… 達成") == 3
    row = next(line for line in out.splitlines() if line.startswith("R2年8月"))
    assert row.split()[1:5] == ["1,879", "16,854", "26.4", "12"]
    assert "R2年度: 追加 112 人月 × 132,500円 = 14,840,000円" in out and "本表1-2 0千円 → 14,840千円" in out


def test_cli_json_and_unreachable_exit(tmp_path):
    import json

    r = _run("propose", "--json", "--from", "R2年8月", "--max-step", "200", cwd=tmp_path)  # the embedded 白井市 plan
    assert r.returncode == 1, r.stderr  # a checkpoint out of reach
    data = json.loads(r.stdout)
    assert data["kind"] == "proposal" and data["first_changed"] == "2020-08"
    mar = data["checkpoints"][1]
    assert (mar["label"], mar["reachable"], mar["shortfall"]) == ("R3年3月末", False, 1783)
    assert data["series"]["issued"][12:14] == [950, 1150]


def test_cli_out_writes_a_workbook_that_checks_clean(tmp_path):
    import json

    raw = copy.deepcopy(shipped_plan_raw())
    raw["basic"]["email"] = "imin@city.shiroi.chiba.lg.jp"
    counts = raw["at_application"]["counts"]
    for key in MONTHS[7:19]:
        counts[key] = 300
    counts["FY2021"] = counts["FY2022"] = 3600
    src = tmp_path / "plan.json"
    src.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "計画案.xlsm"
    r = _run("propose", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "検証: エラーはありません" in r.stdout
    checked = _run("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout[-2000:]
    data = json.loads(checked.stdout)
    assert data["counts"]["error"] == 0
    # what remains is the seed's own 日次実績 (weekend counts before 土日開庁): no capacity shortfall
    assert {f["rule"] for f in data["findings"]} == {"daily-closed-day"}
    assert data["series"]["issued"][12] == 1879 and data["series"]["cumulative"][11] == 14975
    assert data["costs"]["R2"]["items"]["personnel_temporary"] == 12720
    # never over an existing file
    again = _run("propose", str(src), "--out", str(out))
    assert again.returncode == 2 and "上書きしない" in again.stderr


def test_cli_unknown_code_is_a_japanese_error():
    r = _run("propose", "--dantai", "999999")
    assert r.returncode == 2 and "団体コード" in r.stderr and "Traceback" not in r.stderr


def test_readme_shows_the_current_table_for_shiroi():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    out = _run("propose", "--dantai", "122327", "--aim", "lower").stdout.rstrip("\n")
    assert f"```text\n{out}\n```" in readme
