"""The titles (A1) of the sheets that name the municipality: the builder draws them, the
stored blank's splice (kofu_xl.book.template) rewrites them. Apart from both so that the
builder does not load the splice's machinery (kofu_xl.ooxml.package) to draw a package."""

from __future__ import annotations

from kofu_xl.book.layout import FOLLOWUP, PROPOSAL, S11, S12
from kofu_xl.core.model import Plan

__all__ = ["TITLED_SHEETS", "sheet_title"]

_TITLES = {
    S11: "【本表1-1】交付枚数想定・体制整備等（市町村用）",
    S12: "【本表1-2】所要経費見込み額（市町村用）",
    FOLLOWUP: "実績比較（計画と実績）",
    PROPOSAL: "計画案（国の全体スケジュールを満たす②交付枚数・⑤職員・経費の案）",
}

TITLED_SHEETS = tuple(_TITLES)


def sheet_title(sheet: str, plan: Plan) -> str:
    """The title (A1) of a sheet that names the municipality."""
    return f"{_TITLES[sheet]}　{plan.basic.municipality or ''}"
