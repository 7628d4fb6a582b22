"""What a reader without KOFU_* sees: LibreOffice renders figures, never error values, and a
file it saved gives check the same findings.

LibreOffice keeps the saved number of an ordinary formula and computes blanks and texts
itself (../shared/notes/libreoffice-cached-values.md); the workbook's formulas are written
so that those come out of native formulas. Each test runs soffice with its own profile.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.app.municipalities import new_plan
from kofu_xl.book.layout import CHART_SOURCE_ROWS, FOLLOWUP, layout_for
from kofu_xl.book.sources import load_raw
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.rules import check_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
ERROR_VALUES = re.compile(r"#VALUE!|#NAME\?|#REF!|#DIV/0!|#N/A|#NUM!|#NULL!|Err:\d+")

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None, reason="LibreOffice / pdftotext not installed")


def soffice(path: Path, out_dir: Path, target: str) -> Path:
    profile = f"file:///tmp/kofu-lo-{uuid.uuid4().hex}"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", target, "--outdir", str(out_dir), str(path)],
        check=True, timeout=240, capture_output=True,
    )
    shutil.rmtree(profile.removeprefix("file://"), ignore_errors=True)
    return out_dir / (path.stem + "." + target.split(":")[0])


@pytest.fixture(scope="module", params=["shipped", "new"])
def book(request, tmp_path_factory) -> Path:
    if request.param == "shipped":
        return SHIPPED
    path = tmp_path_factory.mktemp("new") / "122041_船橋市_交付円滑化計画.xlsm"
    path.write_bytes(build_xlsm(new_plan("122041"), blank=True))
    return path


def test_the_pdf_shows_no_error_value(book, tmp_path):
    pdf = soffice(book, tmp_path, "pdf")
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    found = {i + 1: ERROR_VALUES.findall(page) for i, page in enumerate(pages) if ERROR_VALUES.search(page)}
    assert found == {}
    assert "交付枚数" in "".join(pages)


def test_every_sheet_as_libreoffice_computes_it_holds_no_error_value(book, tmp_path):
    """Sheet by sheet (printed or not): the values LibreOffice holds after opening the book."""
    saved = soffice(book, tmp_path, "xlsx")
    wb = openpyxl.load_workbook(saved, data_only=True)
    # the chart's own hidden rows on 実績比較 hold #N/A by design where there is no figure (a
    # line chart draws "" as 0 %); every other cell must hold a figure, a text or nothing
    lay = layout_for(None)
    chart_rows = {lay.rows_fu[key] for key in CHART_SOURCE_ROWS}
    errors = {
        ws.title: [
            c.coordinate for row in ws.iter_rows() for c in row
            if isinstance(c.value, str) and ERROR_VALUES.fullmatch(c.value) and not (ws.title == FOLLOWUP and c.row in chart_rows)
        ]
        for ws in wb.worksheets
    }
    assert {k: v for k, v in errors.items() if v} == {}
    figures = wb["本表1-1"]
    assert any(isinstance(c.value, (int, float)) for row in figures.iter_rows(min_row=9, max_row=12) for c in row)


def _findings(path: Path) -> set[tuple[str, str | None, str | None]]:
    raw, lay = load_raw(path)
    _plan, findings = check_plan(raw)
    return {(f.rule, f.sheet, f.cell) for f in lay.locate_findings(findings)}


def test_findings_survive_a_libreoffice_round_trip(book, tmp_path):
    """LibreOffice rewrites every formula and replaces each result by its own: the same findings."""
    saved = soffice(book, tmp_path, 'xlsm:"Calc MS Excel 2007 VBA XML"'.replace('"', ""))
    assert saved.read_bytes() != book.read_bytes()
    assert _findings(saved) == _findings(book)
