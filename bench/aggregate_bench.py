"""Benchmark of `kofu-xl aggregate` over the 1,741 municipalities (prints figures; not a test).

1. Generate one submission package per municipality of the official statistics
   (kofu_xl/data/municipalities.csv: real populations and issued counts): the seed
   plan (白井市, as printed) with 基礎情報 from `new_plan(code)` and its counts scaled by
   population, its files made by what submit calls (``submit._package_files``): the
   values-only .xlsx into DIR/xlsx, the package .json (which names the .xlsx's SHA-256) into
   DIR/json. DIR/packages holds both side by side, as submit leaves them. Generation is slow
   (~0.3 s a package) and is not timed; `--dir` keeps it for the next run.
2. Measure, alternating round by round (median of ``--rounds``, default 5), each as its own
   process (wall, CPU of it and its workers, peak RSS of the largest process):
   - ``kofu-xl aggregate DIR/packages``: the packages as submit leaves them; aggregate reads
     each package's .json once the .xlsx beside it is found unchanged (its SHA-256);
   - ``kofu-xl aggregate DIR/xlsx``: the same workbooks without their .json;
   - the reference, a bare python-calamine loop reading every sheet of the workbooks on one
     core, and the same loop over only the sheets a plan's check reads (what reading the
     workbooks themselves costs at least).
   ``--compare-jobs`` runs the command with ``--jobs 1`` and ``--jobs 2`` in the same rounds.
   Targets (issue 17): ≤ 5 s wall on 2 cores, ≤ 0.6 × the calamine loop, peak RSS ≤ 300 MiB.
3. In one process, one core (CPU time), for the packages' .json and for the workbooks: the
   split of aggregate's work between reading (for a workbook, of which the guard: every part
   inflated and every XML part parsed), re-checking with the rule catalogue (``check_plan`` on
   the raw data already read; target ≤ 3 ms a plan), the table's row and writing 集計.xlsx.

``--before DIR`` runs the command line from another checkout (e.g. ``git archive <commit> | tar
-x -C DIR``) in the same rounds, and its in-process split after this one's.

    python bench/aggregate_bench.py [--dir DIR] [--limit N] [--jobs N | --compare-jobs] [--rounds 5] [--no-generate] [--before DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEED_POPULATION = Decimal(63723)  # 白井市, the template's own population
SCALED_SERIES = ("issuance", "expiry_card", "expiry_cert")
SCALED_NESTED = (("at_application", "counts"), ("outreach", "counts"))
STAFFING = ("windows", "staff", "terminals")  # multiplied by a whole factor: parts keep adding up


def _scale(value, ratio: Decimal):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int((Decimal(repr(value)) * ratio).to_integral_value(rounding=ROUND_HALF_UP))
    return value


def _scale_series(series, ratio: Decimal):
    if isinstance(series, dict):
        return {k: _scale(v, ratio) for k, v in series.items()}
    if isinstance(series, list):
        return [_scale(v, ratio) for v in series]
    return series


def scaled_plan_raw(template: dict, code: str) -> dict:
    """The template's plan for municipality ``code``: 基礎情報 from the official statistics,
    issuance and counts scaled by population, staffing by a whole factor."""
    from kofu_xl.app.municipalities import new_plan

    basic = new_plan(code).basic
    raw = copy.deepcopy(template)
    ratio = basic.population / SEED_POPULATION
    whole = max(Decimal(1), ratio.to_integral_value(rounding=ROUND_HALF_UP))
    raw["title"] = f"{basic.municipality}マイナンバーカード交付円滑化計画"
    raw["basic"].update(
        dantai_code=basic.dantai_code,
        prefecture=basic.prefecture,
        municipality=basic.municipality,
        population=int(basic.population),
        population_date=basic.population_date.isoformat(),
        base_issued=int(basic.base_issued),
        base_issued_date=basic.base_issued_date.isoformat(),
        base_rate_pct=None,
    )
    raw["declared"] = {}  # the form's derived rows: computed again for the new figures
    for key in SCALED_SERIES:
        raw[key] = _scale_series(raw.get(key), ratio)
    for group, key in SCALED_NESTED:
        raw[group][key] = _scale_series(raw[group].get(key), ratio)
    for group in STAFFING:
        raw[group] = {k: _scale_series(v, whole) for k, v in raw[group].items()}
    return raw


def _generate_one(args: tuple[str, str]) -> None:
    from kofu_xl.app.report import make_result
    from kofu_xl.app.submit import _package_files, safe_filename
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.rules import check_plan

    code, out = args
    plan, findings = check_plan(scaled_plan_raw(shipped_plan_raw(), code))
    result = make_result(plan, findings)
    stem = f"{code}_{safe_filename(plan.basic.municipality or '')}_交付円滑化計画_20191003"
    files = _package_files(result)  # the package's files, made by what submit itself calls
    (Path(out) / "xlsx" / f"{stem}.xlsx").write_bytes(files[".xlsx"])
    (Path(out) / "json" / f"{stem}.json").write_bytes(files[".json"])


def generate(out: Path, codes: list[str], jobs: int) -> None:
    (out / "xlsx").mkdir(parents=True, exist_ok=True)
    (out / "json").mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_", 1)[0] for p in (out / "json").glob("*.json")} & {p.name.split("_", 1)[0] for p in (out / "xlsx").glob("*.xlsx")}
    sample = next(iter(sorted((out / "json").glob("*.json"))), None)
    if sample is not None and b'"workbook_sha256"' not in sample.read_bytes():
        have = set()  # made before packages named their workbook's digest: made again
    todo = [(c, str(out)) for c in codes if c not in have]
    if not todo:
        print(f"packages: {len(codes):,} already in {out}", flush=True)
        _side_by_side(out)
        return
    print(f"generating {len(todo):,} packages into {out} (not timed) …", flush=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        for i, _ in enumerate(pool.map(_generate_one, todo, chunksize=8), 1):
            if i % 200 == 0:
                print(f"  {i:,}/{len(todo):,}", flush=True)
    print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
    _side_by_side(out)


def _side_by_side(out: Path) -> None:
    """DIR/packages: each package as submit leaves it, .xlsx and .json of one stem side by side
    (hard links to the generated files)."""
    both = out / "packages"
    both.mkdir(exist_ok=True)
    for sub in ("xlsx", "json"):
        for f in (out / sub).iterdir():
            target = both / f.name
            if not target.exists():
                try:
                    os.link(f, target)
                except OSError:
                    target.write_bytes(f.read_bytes())


# ---------------------------------------------------------------- measurements


CALAMINE_LOOP = """
import sys
from pathlib import Path
import python_calamine
only = set(sys.argv[2:])  # sheet names; none: every sheet
values = 0
for f in sorted(Path(sys.argv[1]).glob("*.xlsx")):
    book = python_calamine.CalamineWorkbook.from_path(str(f))
    for name in book.sheet_names:
        if only and name not in only:
            continue
        for row in book.get_sheet_by_name(name).to_python():
            values += sum(v != "" for v in row)
print(values)
"""
CALAMINE = "calamine loop (every sheet, one core)"
CALAMINE_PLAN = "calamine loop (a plan's sheets, one core)"
# the sheets a plan's check reads of a values-only workbook (kofu_xl.book.read.PLAN_SHEETS but
# FORMULA_ONLY_SHEETS; listed here so that a checkout measured with --before gets the same reference)
PLAN_SHEETS = ("本表1-1", "本表1-2", "経費積算", "日次実績", "国基準")

IN_PROCESS = """
import json, statistics, sys, time
from pathlib import Path
from kofu_xl.app.aggregate import read_plan_file, roll_up, row_of, write_workbook, _warm_up
from kofu_xl.book import read as book_read
from kofu_xl.book.layout import layout_for
from kofu_xl.book.sources import load_raw
try:
    from kofu_xl.app.aggregate import _edited_workbook
    from kofu_xl.book.sources import load_package_json
except ImportError:  # a checkout from before packages named their workbook's digest
    _edited_workbook = None
    def load_package_json(f):
        return load_raw(f)[0], None
from kofu_xl.core.rules import check_plan
from kofu_xl.core.schedule import default_schedule
files = sorted(Path(sys.argv[1]).glob(sys.argv[2]))
_warm_up()
import gc
gc.disable()  # as aggregate reads (and so that the 1,741 plans held for the split are not walked again and again)
cpu = time.process_time
guard = None
if sys.argv[2] == "*.xlsx":
    t = cpu()
    for f in files:
        book_read._guard_zip(f, book_read.PLAN_SHEETS)
    guard = cpu() - t
def load(f):
    if f.suffix != ".json":
        return load_raw(f)
    raw, digest = load_package_json(f)
    assert digest is None or _edited_workbook(f, digest) is None
    return raw, None
t = cpu(); loaded = [load(f) for f in files]; read = cpu() - t
per_plan, checked = [], []
for raw, _lay in loaded:
    t = cpu(); checked.append(check_plan(raw)); per_plan.append(cpu() - t)
t = cpu()
for (plan, findings), (_raw, lay), f in zip(checked, loaded, files):
    lay = lay or layout_for(plan.parameters)
    row_of(plan, lay.locate_findings(findings), default_schedule(), str(f))
rows_s = cpu() - t
t = cpu(); rows = [read_plan_file(f) for f in files]; whole = cpu() - t
t = cpu(); data = write_workbook(roll_up(rows)); write = cpu() - t
ms = lambda s: s / len(files) * 1000
print(json.dumps({"files": len(files), "guard_ms": None if guard is None else ms(guard), "read_ms": ms(read), "check_median_ms": statistics.median(per_plan) * 1000,
                  "check_mean_ms": ms(sum(per_plan)), "row_ms": ms(rows_s), "read_and_check_ms": ms(whole),
                  "write_s": write, "findings": sum(len(r.findings) for r in rows if hasattr(r, "findings")), "bytes": len(data)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="where the packages are (generated when missing); default: a temporary folder")
    ap.add_argument("--limit", type=int, help="only the first N municipalities")
    ap.add_argument("--jobs", type=int, help="worker processes for aggregate (default: the CPUs)")
    ap.add_argument("--compare-jobs", action="store_true", help="run aggregate with --jobs 1 and --jobs 2 in the same rounds")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-generate", action="store_true", help="measure the packages already in DIR/xlsx")
    ap.add_argument("--before", type=Path, help="another checkout whose command line is measured in the same rounds (before/after)")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _measure import KOFU, Checkout, alternate, child_env, load, machine, py, run, verdict

    from kofu_xl.app.stats import load_municipalities

    codes = sorted(load_municipalities())[: args.limit]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    tmp = None
    if args.dir:
        base = Path(args.dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kofu-bench-")
        base = Path(tmp.name)
    if not args.no_generate:
        generate(base, codes, cpus or 1)
    folders = {"packages": base / "packages", "workbooks": base / "xlsx"}
    n = len(list(folders["workbooks"].glob("*.xlsx")))
    print(f"machine: {machine()}; {load()} (before)")
    print(f"{n:,} packages as submit leaves them (.xlsx and .json side by side) in {folders['packages']},"
          f" their values-only .xlsx alone in {folders['workbooks']}; aggregate workers: {args.jobs or cpus};"
          f" rounds: {args.rounds}, alternating; medians\n")

    before = Checkout(args.before.resolve()) if args.before else None
    with tempfile.TemporaryDirectory() as out:
        def command(folder: Path, jobs: list[str], checkout: Checkout | None = None):
            kofu, cwd, env = (checkout.kofu, checkout.repo, checkout.env()) if checkout else (KOFU, REPO, child_env())
            return lambda: run([*kofu, "aggregate", str(folder), "--out", str(Path(out) / "集計.xlsx"), *jobs], cwd=cwd, env=env, ok=(0, 1))

        commands = {
            CALAMINE: lambda: run([*py(CALAMINE_LOOP), str(folders["workbooks"])]),
            CALAMINE_PLAN: lambda: run([*py(CALAMINE_LOOP), str(folders["workbooks"]), *PLAN_SHEETS]),
        }
        for prefix, checkout in (("", None), ("before: ", before)) if before else (("", None),):
            for what, folder in folders.items():
                if args.compare_jobs:
                    commands[f"{prefix}aggregate {what} --jobs 1"] = command(folder, ["--jobs", "1"], checkout)
                    commands[f"{prefix}aggregate {what} --jobs 2"] = command(folder, ["--jobs", "2"], checkout)
                else:
                    commands[f"{prefix}aggregate {what}"] = command(folder, ["--jobs", str(args.jobs)] if args.jobs else [], checkout)
        s = alternate(commands, args.rounds)

    def in_process(checkout: Checkout | None, pattern: str) -> dict:
        code, cwd, env = (checkout.py(IN_PROCESS), checkout.repo, checkout.env()) if checkout else (py(IN_PROCESS), REPO, child_env())
        folder = folders["packages"] if pattern == "*.json" else folders["workbooks"]
        r = subprocess.run([*code, str(folder), pattern], capture_output=True, text=True, cwd=cwd, env=env, check=False)
        if r.returncode:
            raise SystemExit(r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    splits = [(f"{label}{kind}", in_process(checkout, pattern))
              for label, checkout in (("", None), ("before: ", before)) if label == "" or before
              for kind, pattern in (("packages (their .json)", "*.json"), ("workbooks (.xlsx alone)", "*.xlsx"))]
    print(f"{load()} (after)\n")
    cal = s.pop(CALAMINE)
    floor = s.pop(CALAMINE_PLAN)
    for r in (cal, floor, *s.values()):
        print(f"  {r.label:44s} wall {r.wall:7.2f} s  cpu {r.cpu:7.2f} s  peak {r.rss:5.0f} MiB  ({n / r.wall:5.0f} files/s)")
    print(f"\nthe reference: {CALAMINE}, {cal.wall:.2f} s wall")
    print(f"  the same loop over only the {len(PLAN_SHEETS)} sheets a plan's check reads: {floor.wall / cal.wall:.2f} × the reference"
          " (what any reading of the workbooks themselves costs at least, before the guard and the check)")
    for agg in s.values():
        print(f"{agg.label}:")
        print(f"  ratio to the calamine loop: wall {agg.wall / cal.wall:.2f}   (target ≤ 0.60: {verdict(agg.wall / cal.wall, 0.60)}); cpu {agg.cpu / cal.cpu:.2f}")
        print(f"  wall {agg.wall:.2f} s   (target ≤ 5 s for 1,741: {verdict(agg.wall * 1741 / n, 5.0)}; scaled to 1,741: {agg.wall * 1741 / n:.2f} s)")
        print(f"  peak RSS {agg.rss:.0f} MiB (largest process)   (target ≤ 300 MiB: {verdict(agg.rss, 300)})")
    for label, i in splits:
        print(f"{label}, in one process, one core, CPU ({i['files']:,} files, {i['findings']:,} findings):")
        if i["guard_ms"] is not None:
            print(f"  reading a package {i['read_ms']:.2f} ms; the guard alone {i['guard_ms']:.2f} ms (every part inflated, every XML part parsed;"
                  " measured first, so it also fills the cache of shared parts found safe that the reading then uses)")
        else:
            print(f"  reading a package's .json (and comparing its workbook's SHA-256) {i['read_ms']:.2f} ms")
        print(f"  re-checking a plan median {i['check_median_ms']:.2f} ms, mean {i['check_mean_ms']:.2f} ms (target ≤ 3 ms: {verdict(i['check_mean_ms'], 3.0)});"
              f" the table's row {i['row_ms']:.2f} ms")
        print(f"  read + check + row (read_plan_file) {i['read_and_check_ms']:.2f} ms a file; writing 集計.xlsx {i['write_s']:.2f} s ({i['bytes'] / 1e6:.1f} MB)")
        print(f"  split: reading {i['read_ms'] * i['files'] / 1000:.2f} s, checking {i['check_mean_ms'] * i['files'] / 1000:.2f} s,"
              f" rows {i['row_ms'] * i['files'] / 1000:.2f} s, writing {i['write_s']:.2f} s")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
