"""The macro-enabled workbook from drawn sheets: the VBA project, the ribbon and the cached
values put into the .xlsx `kofu_xl.book.build.build_sheets` drew.

Apart from the builder so that drawing submit's values-only package (an .xlsx, no macros)
does not load the package writer (kofu_xl.ooxml.package).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from kofu_xl.book.sources import SHIPPED_WORKBOOK_NAME, installed_workbook_path
from kofu_xl.ooxml.package import CUSTOM_UI_PART, VBA_PROJECT_PART, assemble_xlsm

if TYPE_CHECKING:
    from kofu_xl.book.build import BuiltSheets

__all__ = ["assemble_workbook", "shipped_macro_parts"]


def assemble_workbook(built: BuiltSheets, vba_project: bytes, custom_ui: bytes) -> bytes:
    """The macro-enabled workbook: the drawn sheets, the VBA project and the ribbon, with the
    value of every formula cell injected. The VBA project and the ribbon depend on the code
    only, never on the plan (``kofu_xl.book.vba.macro_parts`` generates them)."""
    return assemble_xlsm(built.xlsx, vba_project=vba_project, custom_ui=custom_ui, cached_values=built.cached, require_cached_values=True)


def shipped_macro_parts() -> tuple[bytes, bytes] | None:
    """(xl/vbaProject.bin, customUI/customUI14.xml) of the workbook shipped with this code (the
    checkout's ``workbook/``, else the copy installed with the package), or None.

    Both depend on the code only, and the shipped workbook is this code's own build (a test
    holds it to a fresh build, byte for byte), so a new workbook can take them instead of
    generating them (which loads xlwings and compresses every VBA module)."""
    checkout = Path(__file__).resolve().parents[2] / "workbook" / SHIPPED_WORKBOOK_NAME
    for candidate in (checkout, installed_workbook_path()):
        if candidate is None or not candidate.is_file():
            continue
        try:
            with zipfile.ZipFile(candidate) as z:
                return z.read(VBA_PROJECT_PART), z.read(CUSTOM_UI_PART)
        except (OSError, KeyError, zipfile.BadZipFile):
            continue
    return None
