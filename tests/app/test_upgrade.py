"""`kofu-xl upgrade`: a book of the previous version (tests/fixtures/previous_72cd2d8.xlsm, built
by commit 72cd2d8 with daily counts, actuals, 「未定」, 検証結果 and 提出記録 planted: see
tests/fixtures/make_previous_book.py) becomes a book of this version without losing a cell."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.app.upgrade import upgrade
from kofu_xl.cli import main
from kofu_xl.errors import CannotWrite

FIXTURE = Path(__file__).parents[1] / "fixtures" / "previous_72cd2d8.xlsm"


def vba_source(path: Path) -> str:
    from kofu_xl.ooxml.vba.ovba_read import read_module_sources

    with zipfile.ZipFile(path) as z:
        return "\n".join(read_module_sources(z.read("xl/vbaProject.bin")).values())


def _array_cells(ws) -> set[str]:
    """The cells of every legacy array formula's range (the previous version computed whole
    rows that way: only the top-left cell holds the formula, the others its results)."""
    from openpyxl.utils.cell import range_boundaries

    out = set()
    for rng in ws.array_formulae.values():
        c1, r1, c2, r2 = range_boundaries(rng)
        out |= {f"{openpyxl.utils.get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    return out


def constants(path: Path) -> dict[tuple[str, str], object]:
    """Every cell holding a typed value (not a formula, not a result of an array formula), by
    sheet and address."""
    wb = openpyxl.load_workbook(path)
    try:
        computed = {ws.title: _array_cells(ws) for ws in wb.worksheets}
        return {
            (ws.title, c.coordinate): c.value
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if c.value is not None and not (isinstance(c.value, str) and c.value.startswith("="))
            and not isinstance(c.value, openpyxl.worksheet.formula.ArrayFormula)
            and c.coordinate not in computed[ws.title]
        }
    finally:
        wb.close()


def fills(path: Path, sheet: str) -> dict[str, str | None]:
    wb = openpyxl.load_workbook(path)
    try:
        return {c.coordinate: c.fill.fgColor.rgb for row in wb[sheet].iter_rows() for c in row}
    finally:
        wb.close()


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("up") / "新.xlsm"
    before = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    outcome = upgrade(FIXTURE, out)
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == before  # the old book is never changed
    assert outcome.out == out and outcome.results == 32 and outcome.log == 2 and outcome.inputs > 900
    return out


def test_the_fixture_is_a_previous_version_book_with_records():
    old = constants(FIXTURE)
    assert old[("経費積算", "D5")] == "未定"
    assert old[("実績比較", "V10")] == 20768 and old[("日次実績", next(c for (s, c), v in old.items() if s == "日次実績" and v == 62))] == 62
    assert sum(1 for (s, _c) in old if s == "提出記録") > 10 and sum(1 for (s, _c) in old if s == "検証結果") > 100
    assert "KofuCellErrors" not in vba_source(FIXTURE)  # the previous version's VBA


def test_every_typed_cell_is_carried_over(upgraded):
    old, new = constants(FIXTURE), constants(upgraded)
    # 検証結果!N is the colour memo's style number of each coloured cell: an index into the
    # book's own style table, which the new book numbers anew (the memo is rewritten for it)
    lost = {k: (v, new.get(k)) for k, v in old.items() if new.get(k) != v and not (k[0] == "検証結果" and k[1].startswith("N"))}
    assert lost == {}
    assert new[("経費積算", "D5")] == "未定"  # kept as typed, though the plan model cannot hold it


def test_the_new_book_is_this_version_and_its_records_are_coloured_again(upgraded):
    assert "KofuCellErrors" in vba_source(upgraded)
    assert "KofuCellErrors" in vba_source(Path(__file__).parents[2] / "workbook" / "交付円滑化計画.xlsm")
    old, new = fills(FIXTURE, "本表1-1"), fills(upgraded, "本表1-1")
    highlighted = {c for c, rgb in old.items() if rgb in ("00FFC7CE", "FFFFC7CE")}
    assert highlighted and all(new[c] == old[c] for c in highlighted)


def test_never_overwrites_and_says_why(upgraded, tmp_path):
    before = upgraded.read_bytes()
    with pytest.raises(CannotWrite):
        upgrade(FIXTURE, upgraded)
    assert upgraded.read_bytes() == before


def test_command_line(tmp_path, capsys):
    out = tmp_path / "更新後.xlsm"
    assert main(["upgrade", str(FIXTURE), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "検証結果 32 行、提出記録 2 行" in text and out.is_file()
    assert main(["upgrade", str(FIXTURE), "--out", str(out)]) == 2  # exists: refused
