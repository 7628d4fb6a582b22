"""`kofu-xl new`'s workbook: the stored blank with the municipality's cells, or drawn."""

from __future__ import annotations

from pathlib import Path

from kofu_xl.app.municipalities import new_plan
from kofu_xl.book.template import TEMPLATE_DANTAI, TEMPLATE_PATH, splice_new
from kofu_xl.core.model import Plan

__all__ = ["draw_new", "new_workbook", "write_blank"]


def new_workbook(plan: Plan) -> bytes:
    """The workbook of a plan `new_plan` made: the stored blank with the municipality's cells
    (kofu_xl.book.template, without openpyxl) when it can be, else drawn (`draw_new`). Both
    give the same bytes (tests/book/test_template.py)."""
    spliced = splice_new(plan, new_plan(TEMPLATE_DANTAI))
    return spliced if spliced is not None else draw_new(plan)


def draw_new(plan: Plan) -> bytes:
    """The workbook of a new plan drawn by the builder (openpyxl, imported only here)."""
    from kofu_xl.book import assemble, build, vba  # vba loads xlwings only to generate the macros

    parts = assemble.shipped_macro_parts() or vba.macro_parts()  # the shipped workbook's: the same bytes, without xlwings
    return assemble.assemble_workbook(build.build_sheets(plan, blank=True), *parts)


def write_blank() -> Path:
    """Store the blank: TEMPLATE_DANTAI's new workbook, drawn. Run after any change to what
    the builder writes (after rebuilding the shipped workbook, whose macros it takes);
    tests/book/test_template.py says when."""
    TEMPLATE_PATH.write_bytes(draw_new(new_plan(TEMPLATE_DANTAI)))
    return TEMPLATE_PATH


if __name__ == "__main__":  # python -m kofu_xl.app.new: regenerate the blank
    print(f"新規作成用のひな形を作成しました: {write_blank()}")
