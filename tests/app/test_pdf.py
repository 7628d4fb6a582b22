"""The PDF in the submission package: LibreOffice from the command line, Excel's own export
from the ribbon; figures, never error values."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from kofu_xl.app import pdf as pdf_mod
from kofu_xl.app.pdf import PdfLeftOut, libreoffice_pdf, pdf_source
from kofu_xl.app.submit import submit
from kofu_xl.book.layout import LOG
from kofu_xl.book.surfaces import FileSurface
from kofu_xl.book.vba import build_xlsm
from kofu_xl.cli import main
from kofu_xl.core.model import load_plan
from tests.core.test_rules import corrected_seed

NOW = dt.datetime(2019, 10, 4, 9, 30, 0)
needs_lo = pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None, reason="LibreOffice/pdftotext not installed")
ERRORS = ("#VALUE!", "#DIV/0!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#NULL!")


def clean_book(tmp_path: Path) -> Path:
    plan, _ = load_plan(corrected_seed())
    path = tmp_path / "白井市.xlsm"
    path.write_bytes(build_xlsm(plan))
    return path


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@needs_lo
def test_command_line_submit_writes_a_pdf_of_the_form_with_figures_only(tmp_path, capsys):
    path = clean_book(tmp_path)
    out = tmp_path / "提出"
    assert main(["submit", str(path), "--out", str(out)]) == 0
    pdfs = list(out.glob("*.pdf"))
    assert [p.name for p in pdfs] == [f"122327_白井市_交付円滑化計画_{dt.date.today():%Y%m%d}.pdf"]
    text = pdf_text(pdfs[0])
    for expected in ("【本表1-1】交付枚数想定・体制整備等", "【本表1-2】所要経費見込み額", "61,831", "23.5%", "122327"):
        assert expected in text, expected
    assert not any(e in text for e in ERRORS)
    pages = subprocess.run(["pdfinfo", str(pdfs[0])], capture_output=True, text=True).stdout
    assert "Pages:" in pages and "経費積算（本表1-2 の根拠・円）" not in text  # the other sheets are not printed
    # 提出記録 names the PDF with its SHA-256 like the other files
    log = [r for r in openpyxl.load_workbook(path)[LOG].iter_rows(min_row=4, values_only=True) if any(r)]
    names, digests = log[0][1].split(" / "), log[0][2].split(" / ")
    assert pdfs[0].name in names
    assert hashlib.sha256(pdfs[0].read_bytes()).hexdigest() == digests[names.index(pdfs[0].name)]


def test_without_libreoffice_the_package_says_the_pdf_was_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_mod, "soffice", lambda: None)
    path = clean_book(tmp_path)
    outcome = submit(FileSurface(path, quiet=True), tmp_path / "o", now=NOW, pdf=libreoffice_pdf)
    assert outcome.status == "written"
    assert sorted(p.suffix for p in outcome.files) == [".html", ".json", ".xlsx"]
    assert "LibreOffice（soffice）がこの PC にないため、PDF は作成しませんでした" in outcome.message


def test_no_pdf_option_leaves_libreoffice_alone(tmp_path, monkeypatch, capsys):
    def forbidden(_xlsx: bytes) -> bytes:
        raise AssertionError("LibreOffice started despite --no-pdf")

    monkeypatch.setattr(pdf_mod, "libreoffice_pdf", forbidden)
    path = clean_book(tmp_path)
    assert main(["submit", str(path), "--out", str(tmp_path / "o"), "--no-pdf"]) == 0
    assert sorted(p.suffix for p in (tmp_path / "o").iterdir()) == [".html", ".json", ".xlsx"]
    assert "PDF" not in capsys.readouterr().out


def test_a_sheet_with_an_error_value_gives_no_pdf(tmp_path):
    import io

    plan, _ = load_plan(corrected_seed())
    from kofu_xl.book.build import build_sheets

    wb = openpyxl.load_workbook(io.BytesIO(build_sheets(plan, values_only=True).xlsx))
    wb["本表1-2"]["D8"] = "#VALUE!"
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(PdfLeftOut, match="本表1-2!D8"):
        pdf_source(buf.getvalue())


def test_ribbon_pdf_is_excels_own_export_of_the_three_sheets(tmp_path):
    """The ribbon's maker calls xlwings' Book.to_pdf on the live book (a fake here)."""
    from kofu_xl.excel import excel_pdf

    calls = []

    class Sheet:
        def __init__(self, name, values):
            self.name, self.values = name, values

        @property
        def used_range(self):
            sheet = self

            class Rng:
                def options(self, **kw):
                    assert kw.get("err_to_str") is True
                    return type("V", (), {"value": sheet.values})()
            return Rng()

    class Book:
        def __init__(self, values):
            self.sheets = {n: Sheet(n, values) for n in ("本表1-1", "本表1-2", "推移グラフ")}

        def to_pdf(self, path, include=None, **kw):
            calls.append((Path(path).suffix, include))
            Path(path).write_bytes(b"%PDF-1.7 fake")

    maker = excel_pdf(Book([[1.0, "R2年7月"]]))
    assert maker(b"") == b"%PDF-1.7 fake" and calls == [(".pdf", ["本表1-1", "本表1-2", "推移グラフ"])]
    with pytest.raises(PdfLeftOut, match="#VALUE!|エラー値"):
        excel_pdf(Book([[1.0, "#VALUE!"]]))(b"")


def _openpyxl_pdf_source(xlsx: bytes) -> bytes:
    """What pdf_source did before it edited the package in place: an openpyxl load and save,
    the other sheets hidden and their print areas dropped."""
    import io

    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    for ws in wb.worksheets:
        if ws.title not in pdf_mod.PDF_SHEETS:
            ws.sheet_state = "hidden"
            ws._print_area = type(ws._print_area)()
    wb.active = wb.sheetnames.index(pdf_mod.PDF_SHEETS[0])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _pages(pdf: bytes, folder: Path) -> list[bytes]:
    """The PDF's pages as grey pixels (poppler's pdftoppm, 100 dpi, PGM)."""
    path = folder / "x.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-gray", str(path), str(folder / "page")], check=True, capture_output=True)
    pages = [p.read_bytes() for p in sorted(folder.glob("page-*.pgm"))]
    for p in folder.glob("page-*.pgm"):
        p.unlink()
    return pages


@needs_lo
@pytest.mark.parametrize("dantai", [None, "011002"])
def test_the_pdf_source_prints_as_openpyxl_round_trip_did(dantai, tmp_path, monkeypatch):
    """The package edited in place (sheets hidden, their print areas dropped) prints, pixel for
    pixel, as the openpyxl load-and-save it replaces: the same pages, nothing more, nothing less."""
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book.build import build_sheets

    plan = load_plan(corrected_seed())[0] if dantai is None else new_plan(dantai)
    xlsx = build_sheets(plan, values_only=True).xlsx
    sources = pdf_source(xlsx), _openpyxl_pdf_source(xlsx)
    monkeypatch.setattr(pdf_mod, "pdf_source", lambda x: x)  # LibreOffice prints each source as it is
    ours, theirs = (libreoffice_pdf(x) for x in sources)
    ours_pages, their_pages = _pages(ours, tmp_path), _pages(theirs, tmp_path)
    assert len(ours_pages) == len(their_pages) == 3
    assert [i for i, (a, b) in enumerate(zip(ours_pages, their_pages, strict=True)) if a != b] == []
