"""Messages that say exactly what is wrong, on planted workbooks read back like a clerk's file.

Each test plants one mistake into the built workbook of the seed plan (openpyxl, at the cell
the layout map names), runs `kofu-xl check --json` on it and reads the findings: values as
typed (negatives, blanks, text, 202004), nothing false about the other cells, Japanese spacing,
a fix in every message, one finding per fact and cause, codes with the code meant.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kofu_xl.book.build import build_sheets
from kofu_xl.book.layout import layout_for
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.cli import main
from kofu_xl.core.model import load_plan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seed_book(tmp_path_factory) -> tuple[Path, Any]:
    plan, _ = load_plan(shipped_plan_raw())
    path = tmp_path_factory.mktemp("seed") / "seed.xlsx"
    # values, not formulas: openpyxl keeps no cached formula values when it saves a plant
    path.write_bytes(build_sheets(plan, values_only=True).xlsx)
    return path, layout_for(plan.parameters)


def planted(seed_book, tmp_path: Path, edits: dict[tuple[str, str | None], Any]) -> Path:
    """The seed's workbook with values typed at the cells of (model path, column)."""
    src, lay = seed_book
    wb = openpyxl.load_workbook(src)
    for (path, column), value in edits.items():
        sheet, cell = lay.locate(path, column)
        wb[sheet][cell].value = value
    out = tmp_path / "planted.xlsx"
    wb.save(out)
    return out


def check(path: Path, capsys) -> list[dict[str, Any]]:
    main(["check", str(path), "--json"])
    return json.loads(capsys.readouterr().out)["findings"]


def at(findings: list[dict[str, Any]], path: str, column: str | None = None) -> list[dict[str, Any]]:
    return [f for f in findings if f["path"] == path and (column is None or f["column"] == column or column in [p["column"] for p in f["parts"]])]


def assert_well_formed(findings: list[dict[str, Any]]) -> None:
    """Every error and warning says what to do; no word runs into a number (「0の和」); no
    float echo (「.0」」); no cell is reported twice for one rule."""
    seen: set[tuple[str, str]] = set()
    for f in findings:
        if f["severity"] in ("error", "warning"):
            assert "ください" in f["message"], f["message"]
        assert not re.search(r"\d[のはがをに]和", f["message"]), f["message"]
        assert ".0」" not in f["message"], f["message"]
        for cell in f["cells"]:
            assert (f["rule"], cell) not in seen, (f["rule"], cell)
            seen.add((f["rule"], cell))


def test_a_negative_part_is_stated_and_counted(seed_book, tmp_path, capsys) -> None:
    path = planted(seed_book, tmp_path, {("staff.honcho_other", "2020-03"): -2})
    found = check(path, capsys)
    assert_well_formed(found)
    (neg,) = at(found, "staff.honcho_other", "2020-03")
    assert neg["rule"] == "negative-value" and "-2" in neg["message"]
    (total,) = at(found, "staff.total", "2020-03")
    # 2 + 3 + (-2) = 3, the -2 as typed; the other six parts are 0 in the seed
    assert "内訳（本庁正規 2 + 本庁臨時 3 + 本庁その他 -2、他は 0）の和は 3 です" in total["message"]
    assert total["expected"] == 3


def test_blank_others_are_not_called_zero(seed_book, tmp_path, capsys) -> None:
    edits = {(f"staff.{p}", "2020-03"): None for p in ("shisho_regular", "shisho_temporary", "shisho_other", "other_regular", "other_temporary", "other_other", "honcho_other")}
    found = check(planted(seed_book, tmp_path, edits), capsys)
    assert_well_formed(found)
    (total,) = at(found, "staff.total", "2020-03")
    assert "他は空欄" in total["message"] and "他は 0" not in total["message"]
    # some blank, some 0: said as it is
    edits.pop(("staff.honcho_other", "2020-03"))
    (total,) = at(check(planted(seed_book, tmp_path, edits), capsys), "staff.total", "2020-03")
    assert "他は 0 または空欄" in total["message"]


def test_text_in_a_part_is_one_finding_as_typed(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("windows.honcho", "2020-03"): "ふたつ"}), capsys)
    assert_well_formed(found)
    (bad,) = at(found, "windows.honcho", "2020-03")
    assert bad["rule"] == "not-a-number" and "「ふたつ」" in bad["message"]
    # the sum of the parts is unknown: the total is not said to disagree with a made-up sum
    assert at(found, "windows.total", "2020-03") == []


def test_terminal_totals_read_with_spaces(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("terminals.issuing", "2020-03"): None, ("terminals.total", "2020-03"): 3}), capsys)
    assert_well_formed(found)
    totals = [f for f in at(found, "terminals.total", "2020-03") if f["rule"] == "terminal-total-mismatch"]
    assert any("内訳（交付前設定 1、他は空欄）の和は 1 です" in f["message"] for f in totals), [f["message"] for f in totals]


def test_cumulative_mismatch_says_how_to_fix(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("declared.cumulative", "2020-03"): 99999}), capsys)
    assert_well_formed(found)
    (cum,) = at(found, "declared.cumulative", "2020-03")
    assert cum["rule"] == "cumulative-mismatch" and "99,999" in cum["message"]
    assert "累計の欄を計算式に戻すか" in cum["message"]


def test_a_month_is_echoed_as_typed(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("promotion.start", None): 202004}), capsys)
    assert_well_formed(found)
    (bad,) = at(found, "promotion.start")
    assert bad["rule"] == "invalid-date" and "「202004」" in bad["message"] and bad["actual"] == "202004"


def test_a_date_in_a_number_cell_is_one_finding_saying_so(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("issuance", "2020-04"): dt.datetime(2020, 4, 1)}), capsys)
    assert_well_formed(found)
    here = at(found, "issuance", "2020-04")
    assert [f["rule"] for f in here] == ["not-a-number"]  # not also 未入力
    assert "「令和2年4月1日」" in here[0]["message"] and "日付が入っています" in here[0]["message"]


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("122328", ["12232 の検査数字は 7", "122327 は千葉県白井市のコードです"]),
        ("12232", ["5桁です", "122327（千葉県白井市）ではありませんか"]),
    ],
)
def test_codes_suggest_the_code_meant(seed_book, tmp_path, capsys, typed, words) -> None:
    found = check(planted(seed_book, tmp_path, {("basic.dantai_code", None): typed}), capsys)
    assert_well_formed(found)
    (bad,) = at(found, "basic.dantai_code")
    for w in words:
        assert w in bad["message"], bad["message"]


def test_a_blank_name_is_suggested_from_the_code(seed_book, tmp_path, capsys) -> None:
    found = check(planted(seed_book, tmp_path, {("basic.municipality", None): None, ("basic.prefecture", None): None}), capsys)
    assert_well_formed(found)
    (name,) = at(found, "basic.municipality")
    (pref,) = at(found, "basic.prefecture")
    assert "団体コード 122327 は千葉県白井市です。「白井市」を入力してください" in name["message"]
    assert "「千葉県」を入力してください" in pref["message"]


@pytest.mark.parametrize(("code", "words"), [("12204", ["122041（千葉県船橋市）ではありませんか"]), ("122042", ["12204 の検査数字は 1", "122041 は千葉県船橋市"])])
def test_new_suggests_the_code_meant(code, words, tmp_path, capsys) -> None:
    assert main(["new", "--dantai", code, "--out", str(tmp_path / "n.xlsm")]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert not (tmp_path / "n.xlsm").exists()


def test_the_report_of_the_shipped_plan_says_each_fact_once(capsys) -> None:
    main(["check", str(REPO / "workbook" / "交付円滑化計画.xlsm")])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  [")]
    assert len(lines) == len(set(lines)) == 8  # 6 errors, 1 warning, 1 information
    facts = [(ln.split("]")[0], ln.split(" ")[3] if len(ln.split(" ")) > 3 else "") for ln in lines]
    rules_paths = [ln.split("]")[0] + ln.split("!")[0] for ln in lines]
    # no rule speaks twice of one row: the ⑧ row and the capacity months are one line each
    assert sum("[capacity-shortfall]" in ln for ln in lines) == 1
    assert sum("[daily-closed-day]" in ln for ln in lines) == 1
    assert sum("[missing-required]" in ln and "⑧申請時来庁" in ln for ln in lines) == 1
    assert facts and rules_paths
    main(["check", str(REPO / "workbook" / "交付円滑化計画.xlsm"), "--json"])
    assert_well_formed(json.loads(capsys.readouterr().out)["findings"])
