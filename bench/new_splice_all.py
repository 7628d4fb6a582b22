"""Every municipality's new workbook, spliced from the stored blank and drawn by the builder:
are they the same bytes? (A check over all 1,741 codes, minutes long; not a test. The suite
compares a sample: tests/book/test_template.py.)

Prints how many codes were spliced equal to their drawing, how many the splice declined (they
are drawn, which is correct but slow) and every code whose spliced workbook differs (a bug).

    python bench/new_splice_all.py [--jobs 2] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _splice_tally import tally  # bench/, first on the path of a script run from it

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _one(code: str) -> tuple[str, str]:
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.app.new import draw_new
    from kofu_xl.book.template import TEMPLATE_DANTAI, splice_new

    plan = new_plan(code)
    spliced = splice_new(plan, new_plan(TEMPLATE_DANTAI))
    if spliced is None:
        return code, "declined"
    return code, "equal" if spliced == draw_new(plan) else "DIFFERENT"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    from kofu_xl.app.stats import load_municipalities

    codes = sorted(load_municipalities())[: args.limit]
    return tally(_one, codes, "codes", args.jobs)


if __name__ == "__main__":
    sys.exit(main())
