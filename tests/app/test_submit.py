"""「検証して提出」 on the file surface: findings shown, package written, nothing lost."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.app import submit as submit_mod
from kofu_xl.app.submit import plan_hash, submit, validate
from kofu_xl.book.layout import LOG, RESULTS, S11, S12
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.book.surfaces import FileSurface
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.model import load_plan, plan_to_json
from kofu_xl.core.rules import check_plan
from kofu_xl.errors import CannotWrite
from tests.core.test_rules import corrected_seed

NOW = dt.datetime(2019, 10, 4, 9, 30, 0)


def _book(tmp_path: Path, raw: dict, name: str = "白井市 計画.xlsm") -> Path:
    plan, _ = load_plan(raw)
    path = tmp_path / name
    path.write_bytes(build_xlsm(plan))
    return path


def _inputs(path: Path) -> dict:
    """Every input value of the plan as the reader sees it (the clerk's typing)."""
    raw, _ = load_raw(path)
    plan, _ = load_plan(raw)
    data = plan_to_json(plan)
    data.pop("declared")
    data["basic"].pop("base_rate_pct")
    data["daily"].pop("declared")
    return data


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_refused_plan_shows_every_finding_and_writes_no_package(tmp_path):
    path = _book(tmp_path, shipped_plan_raw())
    before_inputs, before_parts = _inputs(path), _parts(path)
    out = tmp_path / "out"
    outcome = submit(FileSurface(path, quiet=True), out, now=NOW)
    assert outcome.status == "refused" and "エラーが 6 件" in outcome.message  # one per fact
    assert not out.exists() or list(out.iterdir()) == []
    # 検証結果 holds every finding, with links to the cells
    wb = openpyxl.load_workbook(path)
    ws = wb[RESULTS]
    rows = [r for r in ws.iter_rows(min_row=4, max_col=8, values_only=True) if r[1]]
    _plan, findings = check_plan(load_raw(path)[0])
    assert len(rows) == len(findings) == 8  # one per fact: 6 errors, 1 warning, the 11 weekend counts as 1 (info)
    assert {r[1] for r in rows} == {f.rule for f in findings}
    assert rows[0][0] == "エラー" and rows[-1][0] == "情報"
    staff = next(r for r in rows if r[1] == "staff-total-mismatch")
    assert staff[3] == "本表1-1!L25" and staff[4] == "R2年3月" and staff[5] == "5" and staff[6] == "4"
    link = next(c.hyperlink for c in ws["D"] if c.value == "本表1-1!L25")
    assert link.location == "'本表1-1'!L25"
    # the offending cells are coloured, other cells keep their fill
    assert wb[S11]["L25"].fill.fgColor.rgb.endswith("FFC7CE")
    assert wb[S11]["K25"].fill.fgColor.rgb.endswith("FFF2CC")
    assert wb[S12]["D7"].fill.fgColor.rgb.endswith("FFC7CE")
    # a grouped finding colours every one of its cells: ⑧ Q52:Z52 (error), ② G8, Q8:Y8 (warning)
    blank = next(r for r in rows if r[1] == "missing-required" and "Q52" in r[3])
    assert blank[3] == "本表1-1!Q52:Z52"
    for col in "QRSTUVWXYZ":
        assert wb[S11][f"{col}52"].fill.fgColor.rgb.endswith("FFC7CE"), col
    for cell in ("G8", "Q8", "U8", "Y8"):
        assert wb[S11][cell].fill.fgColor.rgb.endswith("FFEB9C"), cell
    # nothing the clerk typed changed; VBA, ribbon and chart parts are untouched
    assert _inputs(path) == before_inputs
    after = _parts(path)
    for part in ("xl/vbaProject.bin", "customUI/customUI14.xml", "[Content_Types].xml"):
        assert after[part] == before_parts[part]
    assert [n for n in before_parts if "chart" in n] and all(after[n] == before_parts[n] for n in before_parts if "chart" in n)
    # 提出記録 stays empty
    assert [r for r in wb[LOG].iter_rows(min_row=4, values_only=True) if any(r)] == []


def test_clean_plan_is_packaged_logged_and_recognised_when_unchanged(tmp_path):
    path = _book(tmp_path, corrected_seed())
    out = tmp_path / "提出"
    outcome = submit(FileSurface(path, quiet=True), out, now=NOW)
    assert outcome.status == "written", outcome.message
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"122327_白井市_交付円滑化計画_20191004{ext}" for ext in (".html", ".json", ".xlsx")]
    # the values-only workbook: no macros, the official layout, read back equal to the plan
    package = out / "122327_白井市_交付円滑化計画_20191004.xlsx"
    with zipfile.ZipFile(package) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
    wb = openpyxl.load_workbook(package)
    assert RESULTS not in wb.sheetnames and S11 in wb.sheetnames
    assert all(not isinstance(c.value, str) or not c.value.startswith("=") for ws in wb for row in ws.iter_rows() for c in row)
    assert _inputs(package) == _inputs(path)
    # the JSON: check schema + the plan
    data = json.loads((out / "122327_白井市_交付円滑化計画_20191004.json").read_text(encoding="utf-8"))
    assert data["counts"]["error"] == 0 and data["municipality"]["code"] == "122327"
    assert data["plan"]["basic"]["email"] == "shimin@city.shiroi.chiba.lg.jp"
    html = (out / "122327_白井市_交付円滑化計画_20191004.html").read_text(encoding="utf-8")
    assert "<svg" in html and "国の想定との比較" in html
    # 提出記録: one row naming the files with their SHA-256
    log = [r for r in openpyxl.load_workbook(path)[LOG].iter_rows(min_row=4, values_only=True) if any(r)]
    assert len(log) == 1
    files = log[0][1].split(" / ")
    digests = log[0][2].split(" / ")
    for name, digest in zip(files, digests, strict=True):
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert log[0][3] == 0 and log[0][4] > 0  # errors, warnings
    # an unchanged plan is recognised by its hash: no second package
    again = submit(FileSurface(path, quiet=True), out, now=NOW + dt.timedelta(days=1))
    assert again.status == "unchanged" and "変更がありません" in again.message
    assert sorted(p.name for p in out.iterdir()) == names


def _set_number(path: Path, part: str, ref: str, value: int) -> None:
    """What a clerk's edit in Excel does to one number cell (the rest of the file untouched)."""
    import re

    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename == part:
                data, n = re.subn(rf'(<c r="{ref}"[^>]*>(?:<f>[^<]*</f>)?)<v>[^<]*</v>'.encode(), rb"\g<1><v>" + str(value).encode() + b"</v>", data)
                assert n == 1
            z.writestr(info, data)
    path.write_bytes(buf.getvalue())


def test_revalidation_restores_previous_colours(tmp_path):
    raw = corrected_seed()
    raw["staff"]["total"]["2020-04"] = 7  # parts sum to 6: one error at 本表1-1!M25
    path = _book(tmp_path, raw)
    s = FileSurface(path, quiet=True)
    assert validate(s).result.counts["error"] == 1
    s.save()
    wb = openpyxl.load_workbook(path)
    assert wb[S11]["M25"].fill.fgColor.rgb.endswith("FFC7CE")
    memo = [r for r in wb[RESULTS].iter_rows(min_row=4, min_col=11, max_col=14, values_only=True) if r[0]]
    m25 = [r for r in memo if r[1] == "M25"]
    assert m25 == [(S11, "M25", "#FFF2CC", m25[0][3])] and isinstance(m25[0][3], int)
    assert len(memo) == 23  # and the eleven capacity warnings on ②交付枚数, the eleven weekend counts on 日次実績
    assert wb[S11]["Q8"].fill.fgColor.rgb.endswith("FFEB9C")
    # the clerk fixes the total; Excel recalculates 1人当たり (600 / 6)
    _set_number(path, "xl/worksheets/sheet1.xml", "M25", 6)
    _set_number(path, "xl/worksheets/sheet1.xml", "M35", 100)
    s = FileSurface(path, quiet=True)
    assert validate(s).result.counts["error"] == 0
    s.save()
    wb = openpyxl.load_workbook(path)
    assert wb[S11]["M25"].fill.fgColor.rgb.endswith("FFF2CC")  # back to the input colour
    assert wb[S11]["M25"].number_format == "#,##0.0" and wb[S11]["M25"].protection.locked is False
    assert [r[1] for r in wb[RESULTS].iter_rows(min_row=4, min_col=11, max_col=14, values_only=True) if r[0]].count("M25") == 0
    assert wb[S11]["Q8"].fill.fgColor.rgb.endswith("FFEB9C")  # the warnings stay


def test_failure_mid_write_leaves_no_partial_file_and_the_workbook_unchanged(tmp_path, monkeypatch):
    path = _book(tmp_path, corrected_seed())
    before = path.read_bytes()
    out = tmp_path / "out"
    calls = {"n": 0}
    real = os.link

    def flaky(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second package file is placed (never replacing a file)
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(submit_mod.os, "link", flaky)
    with pytest.raises((OSError, CannotWrite)):
        submit(FileSurface(path, quiet=True), out, now=NOW)
    assert list(out.iterdir()) == []  # no package, no temp file
    assert path.read_bytes() == before


def test_submit_refuses_when_the_file_changed_meanwhile(tmp_path):
    from kofu_xl.errors import UnreadableInput

    path = _book(tmp_path, corrected_seed())
    surface = FileSurface(path, quiet=True)
    validate(surface)
    path.write_bytes(path.read_bytes() + b"")  # same bytes: fine
    surface.save()
    surface = FileSurface(path, quiet=True)
    validate(surface)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("docProps/custom-note.txt", "edited in Excel meanwhile")
    with pytest.raises(UnreadableInput, match="変更されました"):
        surface.save()


def test_cli_submit_and_check_is_read_only(tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    path = _book(tmp_path, shipped_plan_raw(), name="計画 (写し).xlsm")
    before = path.read_bytes()
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "check", str(path)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 1 and path.read_bytes() == before
    r = subprocess.run([sys.executable, "-m", "kofu_xl", "submit", str(path), "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 1 and "提出ファイルを作成しませんでした" in r.stdout
    assert "Traceback" not in r.stderr


def test_an_unchanged_submit_loads_neither_openpyxl_nor_xlwings(tmp_path: Path) -> None:
    """Validating a workbook, recording 検証結果 and recognising an unchanged plan need no drawing
    library (a fresh interpreter: openpyxl's import alone is ~0.2 s of the command)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    book = _book(tmp_path, corrected_seed(), "計画.xlsm")
    assert submit(FileSurface(book), now=NOW).status == "written"
    code = (
        "import sys; from kofu_xl.cli import main; rc = main(sys.argv[1:]); "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('openpyxl', 'xlwings', 'kofu_udfs')})); sys.exit(rc)"
    )
    r = subprocess.run([sys.executable, "-c", code, "submit", str(book)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(repo)},
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert "変更がありません" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "[]"


# plan_hash of the shipped plan when the plan was a pydantic model (model_dump(mode="json")):
# 提出記録 rows written by earlier versions keep matching after the move to msgspec structs.
SHIPPED_PLAN_SHA256 = "49120c79b3402b2136071a7b16d1fbaf2e001d8b3234c7ffb96a33870e4d260d"


def test_plan_hash_is_the_one_earlier_versions_wrote():
    from kofu_xl.app.report import make_result
    from kofu_xl.book.sources import shipped_plan_raw

    plan, _ = load_plan(shipped_plan_raw())
    assert plan_hash(make_result(plan, [])) == SHIPPED_PLAN_SHA256
