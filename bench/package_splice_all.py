"""Every package of the aggregate bench, its workbook spliced into the stored blank of its shape
and drawn by the builder: are they the same bytes? (A check over 1,741 plans, minutes long; not a
test. The suite compares a sample: tests/book/test_package_content.py.)

The plans are the "plan" of each package JSON in ``--dir``/json (bench/aggregate_bench.py writes
them, by what submit itself calls), plus the bench's submit plan (the corrected seed,
/work/team/sub_setup.sh). Both are put at one moment (openpyxl stamps a save with its time).
Prints how many were spliced equal to their drawing, how many the splice declined (they are
drawn, which is correct but slow) and every plan whose spliced package differs (a bug).

    python bench/package_splice_all.py [--dir /tmp/agg18] [--jobs 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _splice_tally import tally  # bench/, first on the path of a script run from it

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MOMENT = 1_700_000_000.0


def _one(source: str) -> tuple[str, str]:
    from kofu_xl.app.package_workbook import draw_package
    from kofu_xl.book.package_content import splice_package
    from kofu_xl.core.model import load_plan
    from kofu_xl.core.schedule import default_schedule
    from tests.ooxml.test_splice import at_moment

    if source == "seed":
        from tests.core.test_rules import corrected_seed

        raw = corrected_seed()
    else:
        raw = json.loads(Path(source).read_text(encoding="utf-8"))["plan"]
    plan, _ = load_plan(raw)
    schedule = default_schedule()
    spliced = splice_package(plan, schedule, moment=MOMENT)
    if spliced is None:
        return source, "declined"
    return source, "equal" if spliced == at_moment(draw_package(plan, schedule), MOMENT) else "DIFFERENT"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/agg18"), help="the aggregate bench's folder (its json/ holds the packages' JSON)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    sources = ["seed", *(str(p) for p in sorted((args.dir / "json").glob("*.json"))[: args.limit])]
    return tally(_one, sources, "plans", args.jobs)


if __name__ == "__main__":
    sys.exit(main())
