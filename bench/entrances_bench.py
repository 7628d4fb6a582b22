"""Benchmark of kofu-xl's entrances, each as a whole process (prints figures; not a test).

Every figure is a median of alternating rounds, beside the reference measured in the same
rounds, with its target (issue 17):

- ``python -c pass`` and ``kofu-xl --help``: the start-up beyond the interpreter's (≤ 0.10 s);
- ``kofu-xl check`` on the shipped workbook against LibreOffice's headless convert of the same
  file (full recalculation): CPU ≤ 0.15 s and ≤ 0.08 × LibreOffice's CPU;
- ``import xlwings`` and ``import xlwings, kofu_udfs`` (what Excel waits for before the first
  KOFU_* value): ≤ +0.05 s CPU;
- ``kofu-xl new --dantai 122327`` (≤ 0.5 s) and ``kofu-xl submit`` of an unchanged plan and of
  a plan giving a new package (≤ 0.4 s each). A new package also gets a PDF made by LibreOffice
  (a separate program, seconds): the target is measured with ``--no-pdf`` and the run with the
  PDF is printed beside it (``--skip-libreoffice`` leaves it out).

CPU is user + system time of the process and the processes it waited for (os.wait4), the
figure the targets use on a shared machine; wall time and peak RSS are printed beside it.

    python bench/entrances_bench.py [--rounds 7] [--skip-libreoffice]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import KOFU, REPO, Run, Series, alternate, child_env, load, machine, py, run, verdict

SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""
# A plan without errors (the seed with its inconsistencies mended), built once, not timed.
MAKE_SUBMITTABLE = """
import sys
from pathlib import Path
try:
    from kofu_xl.book.vba import build_xlsm
except ImportError:  # before the VBA project moved out of book/build.py (to measure older commits)
    from kofu_xl.book.build import build_xlsm
from kofu_xl.core.model import load_plan
from tests.core.test_rules import corrected_seed
Path(sys.argv[1]).write_bytes(build_xlsm(load_plan(corrected_seed())[0]))
"""


def _line(s: Series, ref: Series | None = None, extra: str = "") -> str:
    out = f"  {s.label:44s} cpu {s.cpu:6.3f} s  wall {s.wall:6.3f} s  peak {s.rss:5.0f} MiB"
    if ref is not None:
        out += f"   ratio to {ref.label}: cpu {s.cpu / ref.cpu:5.3f}, +{s.cpu - ref.cpu:5.3f} s"
    return out + extra


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--skip-libreoffice", action="store_true")
    args = ap.parse_args()
    env = child_env()
    print(f"machine: {machine()}; {load()} (before)")
    print(f"rounds: {args.rounds}, alternating; medians; kofu-xl = {sys.executable} -c 'from kofu_xl.cli import main' with {REPO} first on the path\n")

    with tempfile.TemporaryDirectory(prefix="kofu-bench-") as tmp_:
        tmp = Path(tmp_)
        submittable = tmp / "submittable.xlsm"
        run([*py(MAKE_SUBMITTABLE), str(submittable)])
        unchanged_book = tmp / "unchanged" / "計画.xlsm"
        unchanged_book.parent.mkdir()
        shutil.copy(submittable, unchanged_book)
        run([*KOFU, "submit", str(unchanged_book)])  # its package exists: every later submit is "unchanged"
        counter = iter(range(10**6))

        def new_package(*options: str) -> Run:
            d = tmp / f"new{next(counter)}"
            d.mkdir()
            shutil.copy(submittable, d / "計画.xlsm")
            return run([*KOFU, "submit", str(d / "計画.xlsm"), *options])

        def new_book() -> Run:
            d = tmp / f"book{next(counter)}"
            d.mkdir()
            return run([*KOFU, "new", "--dantai", "122327"], cwd=d)

        commands = {
            "python -c pass": lambda: run(py("pass")),
            "kofu-xl --help": lambda: run([*KOFU, "--help"]),
            "kofu-xl check (shipped workbook)": lambda: run([*KOFU, "check", str(SHIPPED)], ok=(0, 1)),
            "import xlwings": lambda: run(py("import xlwings")),
            "import xlwings, kofu_udfs": lambda: run(py("import xlwings, kofu_udfs")),
            "kofu-xl new --dantai 122327": new_book,
            "kofu-xl submit (unchanged plan)": lambda: run([*KOFU, "submit", str(unchanged_book)]),
            "kofu-xl submit --no-pdf (new package)": lambda: new_package("--no-pdf"),
        }
        soffice = None if args.skip_libreoffice else shutil.which("soffice")
        if soffice:
            profile = tmp / f"lo-{uuid.uuid4().hex}"
            (profile / "user").mkdir(parents=True)
            (profile / "user" / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
            lo = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--convert-to", "xlsx", "--outdir", str(tmp / "lo"), str(SHIPPED)]
            commands["LibreOffice headless convert (same file)"] = lambda: run(lo, env=env)
            commands["kofu-xl submit (new package, PDF by LibreOffice)"] = new_package
        s = alternate(commands, args.rounds)

    print(f"{load()} (after)\n")
    base, helps, check = s["python -c pass"], s["kofu-xl --help"], s["kofu-xl check (shipped workbook)"]
    print("start-up")
    print(_line(base))
    print(_line(helps, base, f"   target +≤ 0.100 s: {verdict(helps.cpu - base.cpu, 0.100)}"))
    print("check")
    lo_s = s.get("LibreOffice headless convert (same file)")
    if lo_s:
        print(_line(lo_s))
        print(_line(check, lo_s, f"   targets cpu ≤ 0.150 s: {verdict(check.cpu, 0.150)}; ratio ≤ 0.08: {verdict(check.cpu / lo_s.cpu, 0.08)}"
                                 f" (wall ratio {check.wall / lo_s.wall:.3f})"))
    else:
        print(_line(check, base, f"   target cpu ≤ 0.150 s: {verdict(check.cpu, 0.150)} (LibreOffice not measured)"))
    print("UDF server start")
    xw, udf = s["import xlwings"], s["import xlwings, kofu_udfs"]
    print(_line(xw))
    print(_line(udf, xw, f"   target +≤ 0.050 s: {verdict(udf.cpu - xw.cpu, 0.050)}"))
    print("new and submit")
    for label, target in (("kofu-xl new --dantai 122327", 0.5), ("kofu-xl submit (unchanged plan)", 0.4), ("kofu-xl submit --no-pdf (new package)", 0.4)):
        print(_line(s[label], base, f"   target cpu ≤ {target:.2f} s: {verdict(s[label].cpu, target)}"))
    with_pdf = s.get("kofu-xl submit (new package, PDF by LibreOffice)")
    if with_pdf:
        print(_line(with_pdf, base, "   (LibreOffice's PDF included; no target)"))
    print("\n" + json.dumps({k: {"cpu": round(v.cpu, 4), "wall": round(v.wall, 4), "peak_mib": round(v.rss, 1)} for k, v in s.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
