"""Benchmark of kofu-xl's entrances, each as a whole process (prints figures; not a test).

Every figure is a median of alternating rounds, beside the reference measured in the same
rounds, with its target (issue 17):

- ``python -c pass`` and ``kofu-xl --help``: the start-up beyond the interpreter's (≤ +0.10 s);
- ``kofu-xl check`` on the shipped workbook against LibreOffice's headless convert of the same
  file (full recalculation): CPU ≤ 0.15 s and ≤ 0.08 × LibreOffice's CPU;
- ``import xlwings`` and ``import xlwings, kofu_udfs`` (what Excel waits for before the first
  KOFU_* value): ≤ +0.05 s CPU;
- ``kofu-xl new --dantai 122327`` (≤ 0.5 s) and ``kofu-xl submit`` of an unchanged plan and of
  a plan giving a new package (≤ 0.4 s each). A new package also gets a PDF made by LibreOffice
  (a separate program, seconds): the target is measured with ``--no-pdf`` and the run with the
  PDF is printed beside it (``--skip-libreoffice`` leaves it out).

``--before DIR`` runs the same commands from another checkout (e.g. a worktree of an older
commit: ``git worktree add /tmp/before <commit>``) in the same rounds, so before and after are
measured under the same load.

CPU is user + system time of the process and the processes it waited for (os.wait4), the
figure the targets use on a shared machine; wall time and peak RSS are printed beside it.

    python bench/entrances_bench.py [--rounds 5] [--before DIR] [--skip-libreoffice]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import HERE, REPO, Checkout, Run, Series, alternate, load, machine, run, verdict

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
except ImportError:  # the VBA project generated in book/build.py (older commits)
    from kofu_xl.book.build import build_xlsm
from kofu_xl.core.model import load_plan
from tests.core.test_rules import corrected_seed
Path(sys.argv[1]).write_bytes(build_xlsm(load_plan(corrected_seed())[0]))
"""

NEW = "kofu-xl new --dantai 122327"
SUBMIT_SAME = "kofu-xl submit (unchanged plan)"
SUBMIT_NEW = "kofu-xl submit --no-pdf (new package)"
SUBMIT_PDF = "kofu-xl submit (new package, PDF by LibreOffice)"
LO = "LibreOffice headless convert (same file)"


def _line(s: Series, ref: Series | None = None, extra: str = "") -> str:
    out = f"  {s.label:58s} cpu {s.cpu:6.3f} s  wall {s.wall:6.3f} s  peak {s.rss:5.0f} MiB"
    if ref is not None:
        out += f"   ratio to {ref.label}: cpu {s.cpu / ref.cpu:5.3f}, +{s.cpu - ref.cpu:5.3f} s"
    return out + extra


def _commands(co: Checkout, tmp: Path, prefix: str, pdf: bool) -> dict[str, Callable[[], Run]]:
    """The measured commands of one checkout (labels prefixed with ``prefix``), each run in
    that checkout's folder: ``python -c`` puts its working folder first on the path, ahead of
    PYTHONPATH, so from another folder holding a kofu_xl the command would run that one."""
    env = co.env()
    no_pdf: tuple[str, ...] = ("--no-pdf",)
    env_no_pdf = env
    if "--no-pdf" not in (co.repo / "kofu_xl" / "cli" / "__init__.py").read_text(encoding="utf-8"):
        # an older checkout without the option: the same effect, LibreOffice out of its sight
        no_pdf = ()
        visible = [d for d in env.get("PATH", "").split(os.pathsep) if not any((Path(d) / n).exists() for n in ("soffice", "libreoffice"))]
        env_no_pdf = {**env, "PATH": os.pathsep.join(visible)}
    work = tmp / (prefix.strip(": ") or "after")
    work.mkdir()
    submittable = work / "submittable.xlsm"
    run([*co.py(MAKE_SUBMITTABLE), str(submittable)], cwd=co.repo, env=env)
    unchanged = work / "unchanged" / "計画.xlsm"
    unchanged.parent.mkdir()
    shutil.copy(submittable, unchanged)
    run([*co.kofu, "submit", str(unchanged), *no_pdf], cwd=co.repo, env=env_no_pdf)  # its package exists: later submits are "unchanged"
    counter = iter(range(10**6))

    def new_package(*options: str, env: dict[str, str] = env) -> Run:
        d = work / f"new{next(counter)}"
        d.mkdir()
        shutil.copy(submittable, d / "計画.xlsm")
        return run([*co.kofu, "submit", str(d / "計画.xlsm"), *options], cwd=co.repo, env=env)

    def new_book() -> Run:
        d = work / f"book{next(counter)}"
        d.mkdir()
        return run([*co.kofu, "new", "--dantai", "122327"], cwd=d, env=env)

    cmds: dict[str, Callable[[], Run]] = {
        "kofu-xl --help": lambda: run([*co.kofu, "--help"], cwd=co.repo, env=env),
        "kofu-xl check (shipped workbook)": lambda: run([*co.kofu, "check", str(SHIPPED)], ok=(0, 1), cwd=co.repo, env=env),
        "import xlwings, kofu_udfs": lambda: run(co.py("import xlwings, kofu_udfs"), cwd=co.repo, env=env),
        NEW: new_book,
        SUBMIT_SAME: lambda: run([*co.kofu, "submit", str(unchanged)], cwd=co.repo, env=env),
        SUBMIT_NEW: lambda: new_package(*no_pdf, env=env_no_pdf),
    }
    if pdf:
        cmds[SUBMIT_PDF] = new_package
    return {prefix + k: v for k, v in cmds.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", type=Path, help="another checkout measured in the same rounds (before/after)")
    ap.add_argument("--skip-libreoffice", action="store_true")
    args = ap.parse_args()
    print(f"machine: {machine()}; {load()} (before)")
    print(f"rounds: {args.rounds}, alternating; medians; kofu-xl = {sys.executable} -c 'from kofu_xl.cli import <the console script's function>' with the checkout first on the path")
    print(f"after: {REPO}" + (f"; before: {args.before.resolve()}" if args.before else "") + "\n")

    soffice = None if args.skip_libreoffice else shutil.which("soffice")
    with tempfile.TemporaryDirectory(prefix="kofu-bench-") as tmp_:
        tmp = Path(tmp_)
        commands: dict[str, Callable[[], Run]] = {
            "python -c pass": lambda: run(HERE.py("pass")),
            "import xlwings": lambda: run(HERE.py("import xlwings")),
        }
        commands.update(_commands(HERE, tmp, "", pdf=bool(soffice)))
        if args.before:
            commands.update(_commands(Checkout(args.before.resolve()), tmp, "before: ", pdf=False))
        if soffice:
            profile = tmp / f"lo-{uuid.uuid4().hex}"
            (profile / "user").mkdir(parents=True)
            (profile / "user" / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
            lo = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore", "--convert-to", "xlsx", "--outdir", str(tmp / "lo"), str(SHIPPED)]
            commands[LO] = lambda: run(lo)
        s = alternate(commands, args.rounds)

    print(f"{load()} (after)\n")
    base, xw = s["python -c pass"], s["import xlwings"]
    lo_s = s.get(LO)
    for prefix in ("", "before: ") if args.before else ("",):
        print(f"== {prefix.strip(': ') or 'after (this checkout)'}")
        helps, check, udf = s[prefix + "kofu-xl --help"], s[prefix + "kofu-xl check (shipped workbook)"], s[prefix + "import xlwings, kofu_udfs"]
        print("start-up")
        print(_line(base))
        print(_line(helps, base, f"   target +≤ 0.100 s: {verdict(helps.cpu - base.cpu, 0.100)}"))
        print("check")
        if lo_s:
            print(_line(lo_s))
            print(_line(check, lo_s, f"   targets cpu ≤ 0.150 s: {verdict(check.cpu, 0.150)}; ratio ≤ 0.08: {verdict(check.cpu / lo_s.cpu, 0.08)} (wall ratio {check.wall / lo_s.wall:.3f})"))
        else:
            print(_line(check, base, f"   target cpu ≤ 0.150 s: {verdict(check.cpu, 0.150)} (LibreOffice not measured)"))
        print("UDF server start")
        print(_line(xw))
        print(_line(udf, xw, f"   target +≤ 0.050 s: {verdict(udf.cpu - xw.cpu, 0.050)}"))
        print("new and submit")
        for label, target in ((NEW, 0.5), (SUBMIT_SAME, 0.4), (SUBMIT_NEW, 0.4)):
            print(_line(s[prefix + label], base, f"   target cpu ≤ {target:.2f} s: {verdict(s[prefix + label].cpu, target)}"))
        if prefix + SUBMIT_PDF in s:
            print(_line(s[prefix + SUBMIT_PDF], base, "   (LibreOffice's PDF included; no target)"))
        print()
    print(json.dumps({k: {"cpu": round(v.cpu, 4), "wall": round(v.wall, 4), "peak_mib": round(v.rss, 1)} for k, v in s.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
