"""Benchmark: reading all official statistics files (prints figures; not a test).

    python bench/stats_read.py [STATS_DIR]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kofu_xl.app.stats import read_stats_dir  # noqa: E402


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "reference" / "issuance_stats"
    times = []
    for _ in range(5):
        t = time.perf_counter()
        tables = read_stats_dir(folder)
        times.append(time.perf_counter() - t)
    rows = sum(len(t) for t in tables)
    print(f"{len(tables)} files, {rows:,} rows: median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
