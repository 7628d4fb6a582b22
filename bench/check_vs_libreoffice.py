"""Benchmark: `kofu-xl check` on the shipped workbook against LibreOffice's headless recalculation.

Runs both alternately in one process (so machine load affects both alike), N rounds,
and prints each median and the ratio. Target: check <= 0.3 x LibreOffice.

    python bench/check_vs_libreoffice.py [--rounds 7] [WORKBOOK]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _time(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, **kw)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("workbook", nargs="?", default=str(REPO / "workbook" / "交付円滑化計画.xlsm"))
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    soffice = shutil.which("soffice")
    if not soffice:
        print("soffice not found: install LibreOffice (apt-get install libreoffice-calc)")
        return 2
    kofu = [sys.executable, "-m", "kofu_xl", "check", args.workbook]
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / f"profile-{uuid.uuid4().hex}"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
        lo = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
              "--convert-to", "xlsx", "--outdir", str(Path(tmp) / "out"), args.workbook]
        _time(lo)  # first start creates the profile: not measured
        _time(kofu, cwd=REPO)
        kofu_times, lo_times = [], []
        for _ in range(args.rounds):
            kofu_times.append(_time(kofu, cwd=REPO))
            lo_times.append(_time(lo))
    k, lmed = statistics.median(kofu_times), statistics.median(lo_times)
    print(f"workbook: {args.workbook}")
    print(f"rounds: {args.rounds} (alternating)")
    print(f"kofu-xl check   median {k:.3f} s  (min {min(kofu_times):.3f}, max {max(kofu_times):.3f})")
    print(f"LibreOffice     median {lmed:.3f} s  (min {min(lo_times):.3f}, max {max(lo_times):.3f})")
    print(f"ratio check / LibreOffice = {k / lmed:.2f}  (target <= 0.30)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
