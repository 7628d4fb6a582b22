"""A package's values-only workbook: spliced into the stored blank of its shape, or drawn.

`package_workbook` is what `submit` writes as the package's .xlsx: the blank of the plan's shape
with the plan's values (kofu_xl.book.package_content, without openpyxl) when there is one, else
the builder's drawing (openpyxl, imported only then). Both give the same bytes
(tests/book/test_package_content.py; bench/package_splice_all.py for the 1,741 packages).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kofu_xl.book.package_content import BLANK_DIR, BLANK_PREFIX, blank_path, plan_content, splice_package
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import Plan, load_plan
from kofu_xl.core.schedule import Schedule, default_schedule
from kofu_xl.ooxml.splice import rewrite_cells

__all__ = ["BLANK_MOMENT", "BLANK_ZIP_TIME", "blank_plans", "draw_package", "package_workbook", "stored_blank", "write_package_blanks"]

# A stored blank is saved as of the builder's fixed document date (its core properties'
# creation), so that its bytes depend on nothing but the code; a splice stamps its own moment.
BLANK_ZIP_TIME = (2019, 10, 3, 0, 0, 0)
BLANK_MOMENT = dt.datetime(*BLANK_ZIP_TIME, tzinfo=dt.UTC).timestamp()


def package_workbook(plan: Plan, schedule: Schedule) -> bytes:
    """The package's .xlsx of ``plan``: spliced when a blank of its shape is stored, else drawn."""
    spliced = splice_package(plan, schedule)
    return spliced if spliced is not None else draw_package(plan, schedule)


def draw_package(plan: Plan, schedule: Schedule) -> bytes:
    """The package's .xlsx drawn by the builder (openpyxl, imported only here)."""
    from kofu_xl.book.build import build_sheets

    return build_sheets(plan, schedule=schedule, values_only=True).xlsx


def blank_plans() -> list[Plan]:
    """The plans whose packages are stored as blanks: the shipped plan (every package the
    benches make, from the seed, has its shape)."""
    return [load_plan(shipped_plan_raw())[0]]


def stored_blank(plan: Plan, schedule: Schedule) -> tuple[Path, bytes]:
    """Where the blank of ``plan``'s shape is stored, and what it holds: ``plan``'s drawn
    package saved at BLANK_MOMENT."""
    _lay, _values, shape = plan_content(plan, schedule)
    return blank_path(shape), rewrite_cells(draw_package(plan, schedule), {}, moment=BLANK_MOMENT, zip_time=BLANK_ZIP_TIME)


def write_package_blanks() -> list[Path]:
    """Store the blanks of `blank_plans` (and remove any other): run after any change to what
    the builder writes; tests/book/test_package_content.py says when."""
    schedule = default_schedule()
    written = []
    for plan in blank_plans():
        path, data = stored_blank(plan, schedule)
        path.write_bytes(data)
        written.append(path)
    for old in BLANK_DIR.glob(f"{BLANK_PREFIX}*.xlsx"):
        if old not in written:
            old.unlink()
    return written


if __name__ == "__main__":  # python -m kofu_xl.app.package_workbook: regenerate the blanks
    for path in write_package_blanks():
        print(f"提出用のひな形を作成しました: {path}")
