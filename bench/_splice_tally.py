"""The tally the splice benches print (new_splice_all.py, package_splice_all.py): each item
spliced and drawn in a pool of processes, counted equal / declined / DIFFERENT."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor


def tally(one: Callable[[str], tuple[str, str]], items: Sequence[str], noun: str, jobs: int) -> int:
    """Run ``one`` over ``items`` with ``jobs`` processes, print the counts and every item that is
    not equal; 1 when any came out DIFFERENT."""
    start = time.perf_counter()
    counts: dict[str, int] = {}
    odd: list[tuple[str, str]] = []
    with ProcessPoolExecutor(jobs) as pool:
        for item, verdict in pool.map(one, items, chunksize=8):
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict != "equal":
                odd.append((item, verdict))
    print(f"{len(items):,} {noun} in {time.perf_counter() - start:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    for item, verdict in odd:
        print(f"  {item}: {verdict}")
    return 1 if counts.get("DIFFERENT") else 0
