"""Benchmark: reading all official statistics (prints figures; not a test).

    python bench/stats_read.py [STATS_DIR]

Times the 40 publication CSVs read one by one (STATS_DIR, default: recreated from the shipped
table in a temporary folder) against unpacking the shipped table (one gzip'd CSV).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kofu_xl.app.stats import SHIPPED_STATS, read_stats_dir, render_stats_csv, shipped_stats, unpack_stats  # noqa: E402


def _median_ms(fn, runs: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        if len(sys.argv) <= 1:
            for table in shipped_stats():
                (folder / table.name).write_text("\ufeff" + render_stats_csv(table), encoding="utf-8")
        csv_ms, tables = _median_ms(lambda: read_stats_dir(folder))
    data = SHIPPED_STATS.read_bytes()
    packed_ms, _ = _median_ms(lambda: unpack_stats(data))
    rows = sum(len(t) for t in tables)
    print(f"{len(tables)} CSV files, {rows:,} rows: median {csv_ms:.0f} ms")
    print(f"shipped table ({len(data) / 1024:.0f} KB): median {packed_ms:.0f} ms (ratio to the CSVs {packed_ms / csv_ms:.2f})")


if __name__ == "__main__":
    main()
