"""The workbook's macros: its VBA project (the xlwings runtime, the KOFU_* wrappers, the ribbon's
callbacks) and its ribbon, generated from the code, and the whole .xlsm built with them.

The one module of the workbook layer that loads xlwings and the UDF module (to write the
wrappers): what only draws sheets (submit's package, `kofu-xl new` with the shipped
workbook's macros, see `kofu_xl.book.assemble.shipped_macro_parts`) never loads them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from kofu_xl.book.assemble import assemble_workbook
from kofu_xl.book.build import build_sheets
from kofu_xl.book.layout import SHEETS
from kofu_xl.core.model import Plan
from kofu_xl.core.schedule import Schedule
from kofu_xl.ooxml.ribbon import RIBBON_MODULE_NAME, custom_ui_xml, ribbon_vba, workbook_module_vba
from kofu_xl.ooxml.vba.ovba import VbaModule, build_vba_project
from kofu_xl.ooxml.vba.xlwings_vba import generate_macro_options, generate_udf_wrappers, runtime_modules

__all__ = ["UDF_MODULE", "UDF_PYTHON_MODULE", "build_xlsm", "macro_parts", "vba_modules"]

UDF_MODULE = "KofuUdfs"
UDF_PYTHON_MODULE = "kofu_udfs"


def vba_modules() -> list[Any]:
    """Every module of the workbook's VBA project, in project order."""
    modules = [VbaModule("ThisWorkbook", "document", workbook_module_vba())]
    modules += [VbaModule(code, "document", "") for _name, code in SHEETS]
    for m in runtime_modules():
        modules.append(VbaModule(m.name, "class" if m.kind == "class" else "standard", m.source))
    # the module xlwings.conf names (UDF Modules), by its name: the build writes wrappers for
    # whatever module the workbook's configuration points xlwings at
    udf_module = importlib.import_module(UDF_PYTHON_MODULE)
    udfs = generate_udf_wrappers(UDF_PYTHON_MODULE, udf_module) + "\r\n" + generate_macro_options(udf_module)
    modules.append(VbaModule(UDF_MODULE, "standard", udfs))
    modules.append(VbaModule(RIBBON_MODULE_NAME, "standard", ribbon_vba()))
    return modules


def macro_parts() -> tuple[bytes, bytes]:
    """(xl/vbaProject.bin, customUI/customUI14.xml) as this version of the code writes them."""
    return build_vba_project(vba_modules(), project_name="KofuXl"), custom_ui_xml()


def build_xlsm(plan: Plan, *, schedule: Schedule | None = None, blank: bool = False, actuals: Mapping[str, Any] | None = None) -> bytes:
    """The macro-enabled workbook for ``plan``, byte-identical for identical input
    (``actuals`` prefill 実績比較, see `kofu_xl.book.build.build_sheets`)."""
    return assemble_workbook(build_sheets(plan, schedule=schedule, blank=blank, actuals=actuals), *macro_parts())
