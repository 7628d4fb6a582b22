"""How much Python work a recalculation of the shipped workbook asks of Excel.

Counts the KOFU_* calls and times their bodies in-process (pycel recalculates the workbook
from its inputs with the package's own KOFU_* functions, each wrapped with a counter and a
timer) for:

1. a full recalculation (Ctrl+Alt+F9: every formula);
2. one typed monthly count: 本表1-1 ②交付枚数 of the first planned month (a plan figure
   every later running total, rate, check and 実績比較's plan row depends on);
3. one typed daily count on 日次実績 (an actual month: flows into 本表1-1 through the
   month total).

Excel's classic (COM) UDFs add xlwings' own cost to each call: marshalling the arguments,
the call into the Python COM server and back. It cannot be measured here (no Excel); the
figure printed assumes XLWINGS_MS_PER_CALL milliseconds per call ("a few milliseconds each",
DESIGN.md §5) and shows what the goal allows. The volatile status cell on 本表1-1 adds one
call to every recalculation in Excel (counted below).

    python bench/udf_recalc_bench.py [--xlwings-ms 3.0]
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kofu_udfs  # noqa: E402
from kofu_xl.book.layout import DAILY, S11, layout_for  # noqa: E402
from kofu_xl.book.sources import shipped_plan_raw  # noqa: E402
from kofu_xl.core.model import load_plan  # noqa: E402
from tests.support import recalc  # noqa: E402

SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
XLWINGS_MS_PER_CALL = 3.0
GOAL_SECONDS = 0.5


class Meter:
    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    def reset(self) -> tuple[int, float]:
        out = (self.calls, self.seconds)
        self.calls, self.seconds = 0, 0.0
        return out


def metered(meter: Meter) -> types.ModuleType:
    """kofu_udfs with every KOFU_* counted and timed."""
    module = types.ModuleType("kofu_udfs_metered")
    for name in kofu_udfs.FUNCTION_NAMES:
        fn = getattr(kofu_udfs, name)

        @functools.wraps(fn)
        def wrapper(*args, _fn=fn, **kwargs):
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - start
                meter.calls += 1

        setattr(module, name, wrapper)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xlwings-ms", type=float, default=XLWINGS_MS_PER_CALL, help="assumed xlwings cost per UDF call (ms)")
    args = ap.parse_args(argv)
    logging.getLogger("pycel").setLevel(logging.CRITICAL)
    plan = load_plan(shipped_plan_raw())[0]
    lay = layout_for(plan.parameters)
    planned = next(c.key for c in plan.columns if c.is_month and c.key > (plan.parameters.actual_through or ""))
    typed = lay.series_cell("issuance", planned)
    day, _date_cell, daily_cell = next(iter(lay.daily_blocks[plan.parameters.actual_through].cells()))

    meter = Meter()
    rows = []
    with recalc.recalculation(SHIPPED, udfs=metered(meter)) as r:
        formulas = [(fc.sheet, fc.cell) for fc in r.cells]
        kofu_cells = sum(1 for fc in r.cells if fc.calls_kofu)
        r.values()
        rows.append(("full recalculation", *meter.reset(), len(formulas)))
        for label, (sheet, cell), value in (
            (f"typed monthly count ({S11}!{typed[1]}, {planned})", typed, 1234),
            (f"typed daily count ({DAILY}!{daily_cell}, {day})", (DAILY, daily_cell), 17),
        ):
            r.compiler.set_value(f"{sheet}!{cell}", value)
            before = {k: r.compiler.cell_map[f"{k[0]}!{k[1]}"].value for k in formulas}
            r.values()
            changed = sum(1 for k in formulas if r.compiler.cell_map[f"{k[0]}!{k[1]}"].value != before[k])
            calls, seconds = meter.reset()
            rows.append((label, calls + 1, seconds, changed))  # + the volatile status cell

    print(f"shipped workbook: {len(formulas)} formula cells, {kofu_cells} of them call KOFU_*")
    print(f"assumed xlwings cost per call: {args.xlwings_ms:.1f} ms (not measurable without Excel); goal: {GOAL_SECONDS} s per typed change")
    print()
    print(f"{'recalculation':58} {'KOFU calls':>10} {'bodies ms':>10} {'µs/call':>8} {'+xlwings s':>10} {'of goal':>8} {'cells changed':>13}")
    full_calls = rows[0][1]
    for label, calls, seconds, cells in rows:
        total = calls * args.xlwings_ms / 1000 + seconds
        per = seconds / calls * 1e6 if calls else 0.0
        print(f"{label:58} {calls:>10} {seconds * 1000:>10.1f} {per:>8.0f} {total:>10.2f} {total / GOAL_SECONDS:>7.0%} {cells:>13}")
    print()
    for label, calls, _s, _c in rows[1:]:
        print(f"{label}: {calls / full_calls:.0%} of a full recalculation's calls; at most {int(GOAL_SECONDS * 1000 / args.xlwings_ms)} calls fit the goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
