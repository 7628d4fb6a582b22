"""The PDF of a submission package: 本表1-1, 本表1-2 and 推移グラフ, what a 課長 signs.

Two makers, one contract (:data:`PdfMaker`: the package's values-only workbook in, PDF bytes
out, or :class:`PdfLeftOut` with the Japanese reason):

- from the command line, LibreOffice headless (:func:`libreoffice_pdf`) where it is installed,
  in a throw-away profile, on a copy whose other sheets are hidden;
- from the ribbon, Excel's own export of the live book (xlwings ``Book.to_pdf``, see
  kofu_xl.excel.excel_pdf).

A PDF shows figures, never error values: a sheet holding one leaves the PDF out, saying where.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kofu_xl.book.layout import CHART, S11, S12
from kofu_xl.ooxml.cellref import ref
from kofu_xl.ooxml.edit import XlsxEditor

__all__ = ["EXCEL_ERRORS", "PDF_SHEETS", "PdfLeftOut", "PdfMaker", "error_cells", "libreoffice_pdf", "pdf_source"]

PDF_SHEETS = (S11, S12, CHART)
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
TIMEOUT = 180.0


class PdfLeftOut(Exception):
    """The PDF could not be made; ``reason`` says why, in Japanese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


PdfMaker = Callable[[bytes], bytes]


def error_cells(sheets: Iterable[tuple[str, list[list[Any]]]]) -> list[str]:
    """sheet!cell of every Excel error value in the given grids (row 1 / column A at [0][0])."""
    return [f"{name}!{ref(c + 1, r + 1)}" for name, grid in sheets for r, row in enumerate(grid) for c, v in enumerate(row)
            if isinstance(v, str) and v.strip() in EXCEL_ERRORS]


def pdf_source(xlsx: bytes) -> bytes:
    """The workbook with every sheet but PDF_SHEETS hidden (LibreOffice prints visible sheets);
    refuses (PdfLeftOut) when a printed sheet holds an Excel error value. An in-place edit of
    the package (kofu_xl.ooxml.edit): its other parts stay as written."""
    book = XlsxEditor(xlsx)
    printed = [name for name in book.sheet_names() if name in PDF_SHEETS]
    bad = error_cells((name, book.read_rows(name)) for name in printed)
    if bad:
        raise PdfLeftOut(f"エラー値のセルがあるため PDF を作成しませんでした（{'、'.join(bad[:5])}）")
    book.show_only(printed)
    return book.to_bytes()


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def libreoffice_pdf(xlsx: bytes, *, timeout: float = TIMEOUT) -> bytes:
    """PDF bytes of PDF_SHEETS of a values-only workbook, by LibreOffice headless."""
    program = soffice()
    if program is None:
        raise PdfLeftOut("LibreOffice（soffice）がこの PC にないため、PDF は作成しませんでした。必要なら提出用の .xlsx を Excel で開いて PDF に保存してください")
    source = pdf_source(xlsx)
    with tempfile.TemporaryDirectory(prefix="kofu-pdf-") as tmp:
        folder = Path(tmp)
        src = folder / "package.xlsx"
        src.write_bytes(source)
        profile = Path(tempfile.gettempdir()) / f"kofu-lo-{uuid.uuid4().hex}"
        try:
            done = subprocess.run(
                [program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(folder), str(src)],
                capture_output=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            raise PdfLeftOut(f"LibreOffice が {int(timeout)} 秒で終わらなかったため、PDF は作成しませんでした") from None
        except OSError as exc:
            raise PdfLeftOut(f"LibreOffice を起動できなかったため、PDF は作成しませんでした（{exc.strerror or exc}）") from None
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        pdf = folder / "package.pdf"
        if done.returncode != 0 or not pdf.is_file():
            detail = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise PdfLeftOut(f"LibreOffice が PDF を作成できませんでした（終了コード {done.returncode}。{detail[0][:160]}）")
        return pdf.read_bytes()
