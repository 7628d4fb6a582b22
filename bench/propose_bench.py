"""Benchmark: 計画案 (kofu_xl.core.propose) for every municipality of the shipped statistics.

For each of the 1,741 new plans, times ``propose`` and, as the reference measured in the same
run (same plans, same machine load), the rule catalogue's check of the adopted plan
(``run_rules``) — what every command does to a plan anyway. Alternates the two per round and
prints the medians over the rounds, per plan, and the ratio.

    python bench/propose_bench.py [--rounds 3] [--aim lower|middle] [--max-step N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kofu_xl.app.municipalities import new_plan  # noqa: E402
from kofu_xl.app.stats import load_municipalities  # noqa: E402
from kofu_xl.core.propose import Choices, apply_proposal, propose  # noqa: E402
from kofu_xl.core.rules import run_rules  # noqa: E402
from kofu_xl.core.schedule import default_schedule  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--aim", choices=("lower", "middle"), default="lower")
    ap.add_argument("--max-step", type=int, default=None)
    args = ap.parse_args()
    schedule = default_schedule()
    plans = [new_plan(code) for code in sorted(load_municipalities())]
    choices = Choices(aim=args.aim, max_step=args.max_step)
    adopted = [apply_proposal(p, propose(p, schedule, choices)) for p in plans]
    t_prop, t_rules = [], []
    unreachable = 0
    for _ in range(args.rounds):
        t = time.perf_counter()
        results = [propose(p, schedule, choices) for p in plans]
        t_prop.append(time.perf_counter() - t)
        unreachable = sum(1 for r in results if r.out_of_reach)
        t = time.perf_counter()
        for a in adopted:
            run_rules(a, schedule)
        t_rules.append(time.perf_counter() - t)
    prop, rules = statistics.median(t_prop), statistics.median(t_rules)
    n = len(plans)
    print(f"plans: {n} (aim {args.aim}, max step {args.max_step}); out of reach: {unreachable}")
    print(f"propose:   {prop:.2f} s  ({prop / n * 1000:.2f} ms a plan)")
    print(f"run_rules: {rules:.2f} s  ({rules / n * 1000:.2f} ms a plan)  [reference]")
    print(f"ratio propose / run_rules: {prop / rules:.2f}")


if __name__ == "__main__":
    main()
