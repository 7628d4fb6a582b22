"""Benchmark of `kofu-xl aggregate` over the 1,741 municipalities (prints figures; not a test).

1. Generate one submission package per municipality of the official statistics
   (kofu_xl/data/municipalities.csv: real populations and issued counts): the seed
   plan (白井市, as printed) with 基礎情報 from `new_plan(code)` and its counts scaled by
   population, written as submit writes them — the values-only .xlsx of
   `build_sheets(values_only=True)` into DIR/xlsx and the package .json into DIR/json.
   DIR/packages holds both side by side, as submit leaves them (aggregate then reads the
   .json of each package). Generation is slow (~0.3 s a workbook) and is not timed; `--dir`
   keeps it for the next run.
2. Time, each in a fresh process (so that peak memory is its own):
   - aggregate in-process over DIR/xlsx, DIR/json and DIR/packages (`aggregate()` + `write_workbook()`),
   - the command line `kofu-xl aggregate DIR/xlsx --out …` (wall time, process start included),
   - a naive loop that reads every value of every DIR/xlsx file with openpyxl
     (read-only, data_only) and checks nothing, on one core,
   - the same loop with python-calamine, for scale.
   Prints wall time, files per second, peak RSS (the process and its workers) and the ratios.

    python bench/aggregate_bench.py [--dir DIR] [--limit N] [--jobs N]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
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
    from kofu_xl.app.submit import package_json, safe_filename
    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.rules import check_plan

    code, out = args
    plan, findings = check_plan(scaled_plan_raw(shipped_plan_raw(), code))
    result = make_result(plan, findings)
    stem = f"{code}_{safe_filename(plan.basic.municipality or '')}_交付円滑化計画_20191003"
    (Path(out) / "xlsx" / f"{stem}.xlsx").write_bytes(build_sheets(plan, values_only=True).xlsx)
    (Path(out) / "json" / f"{stem}.json").write_text(json.dumps(package_json(result), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def generate(out: Path, codes: list[str], jobs: int) -> None:
    (out / "xlsx").mkdir(parents=True, exist_ok=True)
    (out / "json").mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_", 1)[0] for p in (out / "json").glob("*.json")} & {p.name.split("_", 1)[0] for p in (out / "xlsx").glob("*.xlsx")}
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


# ---------------------------------------------------------------- measurements (each in its own process)


def _peak_mb() -> tuple[float, float]:
    """Peak RSS in MB of this process and of its largest waited-for child (Linux: KiB)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def measure_aggregate(folder: str, jobs: int | None) -> dict:
    from kofu_xl.app.aggregate import aggregate, write_workbook

    cpu0 = _cpu()
    t = time.perf_counter()
    rollup = aggregate([folder], jobs=jobs)
    t_read = time.perf_counter() - t
    data = write_workbook(rollup)
    wall = time.perf_counter() - t
    cpu1 = _cpu()
    return {
        "cpu_parent": cpu1[0] - cpu0[0], "cpu_workers": cpu1[1] - cpu0[1],
        "wall": wall, "read": t_read, "write": wall - t_read, "files": rollup.national.plans + len(rollup.unused),
        "plans": rollup.national.plans, "findings": sum(len(r.findings) for r in rollup.rows),
        "unused": len(rollup.unused), "bytes": len(data), "peak": _peak_mb(),
    }  # fmt: skip


def measure_openpyxl(folder: str) -> dict:
    import openpyxl

    files = sorted(Path(folder).glob("*.xlsx"))
    t = time.perf_counter()
    values = 0
    for f in files:
        wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                values += sum(v is not None for v in row)
        wb.close()
    wall = time.perf_counter() - t
    return {"wall": wall, "files": len(files), "values": values, "peak": _peak_mb()}


def measure_calamine(folder: str) -> dict:
    import python_calamine

    files = sorted(Path(folder).glob("*.xlsx"))
    t = time.perf_counter()
    values = 0
    for f in files:
        book = python_calamine.CalamineWorkbook.from_path(str(f))
        for name in book.sheet_names:
            for row in book.get_sheet_by_name(name).to_python():
                values += sum(v != "" for v in row)
    wall = time.perf_counter() - t
    return {"wall": wall, "files": len(files), "values": values, "peak": _peak_mb()}


def _child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"measurement failed: {args}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _cli(folder: Path, out: Path, jobs: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "kofu_xl", "aggregate", str(folder), "--out", str(out)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t
    if r.returncode not in (0, 1):
        raise SystemExit(f"kofu-xl aggregate failed ({r.returncode}): {r.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall": wall, "exit": r.returncode, "stdout": r.stdout.strip(), "peak_children_mb": max(before, after)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="where the packages are (generated when missing); default: a temporary folder")
    ap.add_argument("--limit", type=int, help="only the first N municipalities")
    ap.add_argument("--jobs", type=int, help="worker processes for aggregate (default: the CPUs)")
    ap.add_argument("--measure", nargs=2, metavar=("WHAT", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.measure:
        what, folder = args.measure
        if what == "aggregate":
            res = measure_aggregate(folder, args.jobs)
        elif what == "openpyxl":
            res = measure_openpyxl(folder)
        else:
            res = measure_calamine(folder)
        print(json.dumps(res))
        return

    from kofu_xl.app.stats import load_municipalities

    codes = sorted(load_municipalities())[: args.limit]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    tmp = None
    if args.dir:
        base = Path(args.dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kofu-bench-")
        base = Path(tmp.name)
    generate(base, codes, cpus or 1)
    n = len(codes)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmachine: {cpus} CPU(s), Python {sys.version.split()[0]}; {n:,} municipalities; workers: {args.jobs or cpus}; load average before: {load:.2f}")
    agg_x = _child(*jobs, "--measure", "aggregate", str(base / "xlsx"))
    agg_j = _child(*jobs, "--measure", "aggregate", str(base / "json"))
    agg_p = _child(*jobs, "--measure", "aggregate", str(base / "packages"))
    with tempfile.TemporaryDirectory() as out:
        cli = _cli(base / "xlsx", Path(out) / "集計.xlsx", args.jobs)
    naive = _child("--measure", "openpyxl", str(base / "xlsx"))
    cala = _child("--measure", "calamine", str(base / "xlsx"))

    def line(label: str, wall: float, files: int, peak: str, extra: str = "") -> None:
        print(f"{label:44s} {wall:7.2f} s  {files / wall:7.0f} files/s  peak {peak}{extra}")

    print(f"{'':44s} {'wall':>9s}  {'':>13s}")
    for label, r in (("aggregate, in-process, .xlsx packages", agg_x), ("aggregate, in-process, .json packages", agg_j),
                     ("aggregate, in-process, .xlsx+.json side by side", agg_p)):  # fmt: skip
        me, kids = r["peak"]
        line(label, r["wall"], r["files"], f"{me:.0f} MB (largest worker {kids:.0f} MB)",
             f"  [read+check {r['read']:.2f} s, write {r['write']:.2f} s; CPU: parent {r['cpu_parent']:.2f} s, workers {r['cpu_workers']:.2f} s"
             f" = {(r['cpu_parent'] + r['cpu_workers']) / r['files'] * 1000:.1f} ms a file; {r['plans']:,} plans, {r['findings']:,} findings, {r['bytes'] / 1e6:.1f} MB]")  # fmt: skip
    line("kofu-xl aggregate (command line), .xlsx", cli["wall"], n, f"{cli['peak_children_mb']:.0f} MB (largest process)", f"  exit {cli['exit']}")
    me, _ = naive["peak"]
    line("naive openpyxl read loop (values only), .xlsx", naive["wall"], naive["files"], f"{me:.0f} MB", f"  [{naive['values']:,} values, no checks]")
    me, _ = cala["peak"]
    line("calamine read loop (values only), .xlsx", cala["wall"], cala["files"], f"{me:.0f} MB", f"  [{cala['values']:,} values, no checks]")
    print(f"\nratio naive openpyxl / aggregate (.xlsx): {naive['wall'] / agg_x['wall']:.1f}×;  / command line: {naive['wall'] / cli['wall']:.1f}×")
    for label, r in ((".xlsx", agg_x), (".json", agg_j), ("side by side", agg_p)):
        print(f"target {n:,} plans in < 5 s, {label}: {'met' if r['wall'] < 5 else 'NOT met'} ({r['wall']:.2f} s)")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
