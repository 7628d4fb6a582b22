"""The acceptance script for real Excel (tests/excel/acceptance.py): run on Windows with Excel,
skipped elsewhere. Its Excel-free parts are checked everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.excel import acceptance

SHIPPED = Path(__file__).resolve().parents[2] / "workbook" / "交付円滑化計画.xlsm"


@pytest.mark.skipif(acceptance.excel_available() is not None, reason=acceptance.excel_available() or "")
def test_acceptance_on_real_excel():
    assert acceptance.main([str(SHIPPED)]) == 0


def test_without_excel_it_says_so_in_japanese(capsys):
    if acceptance.excel_available() is None:
        pytest.skip("Excel is here: the real run above applies")
    assert acceptance.main([str(SHIPPED)]) == 2
    out = capsys.readouterr().out
    assert "Windows ではない" in out or "Excel が見つかりません" in out


def test_the_core_values_it_compares_with_are_the_ones_the_build_caches():
    """Step 3's expectation is the core's value of every formula cell of the book; the built
    workbook carries exactly those (so a recalculating Excel must agree with them)."""
    from tests.support.recalc import cached_values, formula_cells, same_value

    expected = acceptance.core_values(SHIPPED)
    cells = {(c.sheet, c.cell) for c in formula_cells(SHIPPED)}
    assert cells and cells <= set(expected)
    cached = cached_values(SHIPPED, sorted(cells))
    wrong = [k for k in sorted(cells) if not same_value(cached.get(k), expected[k])]
    assert wrong == []
    assert expected[("本表1-2", "D8")] == 3088


def test_every_ribbon_button_is_pressed_and_checked():
    from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS

    source = Path(acceptance.__file__).read_text(encoding="utf-8")
    for button in RIBBON_BUTTONS:
        assert f'"{button.callback}"' in source, button.callback


def test_unattended_runs_use_the_status_bar_not_message_boxes(monkeypatch):
    from kofu_xl import excel

    shown = []

    class App:
        status_bar = None

        def alert(self, *a, **k):
            shown.append(a)

    book = type("Book", (), {"app": App()})()
    excel._tell(book, None, "「検証」を完了できませんでした。", critical=True)
    assert len(shown) == 1
    monkeypatch.setenv(excel.NO_MESSAGE_BOX_ENV, "1")
    excel._tell(book, None, "「検証」を完了できませんでした。\n理由", critical=True)
    assert len(shown) == 1 and book.app.status_bar == "「検証」を完了できませんでした。 理由"
