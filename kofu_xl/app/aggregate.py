"""`kofu-xl aggregate`: roll many plans up into one table (a prefecture, the nation).

A prefecture collects its municipalities' submission packages and forwards them; the
nation sees 1,741. This module reads every package (values only: .xlsx/.xlsm through
python-calamine, or the package's .json), checks each plan with the whole rule
catalogue, and writes one workbook: a row per municipality, a subtotal per
prefecture, the national total, every finding, and every input that could not be
used with the reason. One bad file never stops the run.

The core is pure: :func:`plan_row` turns a :class:`CheckResult` into a row of plain
values and :func:`roll_up` groups rows into subtotals. The edges are
:func:`collect_inputs` (files and folders), :func:`read_inputs` (a process pool),
:func:`write_workbook` and the command.

Weighting. The rate of a group of municipalities at a checkpoint is the sum of their
projected cumulative issuance divided by the sum of their populations,

    rate = Σ cumulativeᵢ / Σ populationᵢ = Σ (populationᵢ / Σ population) × rateᵢ,

i.e. the population-weighted mean of their rates, never the plain mean. Only the
plans that project a cumulative figure at that checkpoint (and state a population)
enter both sums; the row says how many did when some did not. The verdict of a
subtotal against the national band uses the same rule as a plan
(:func:`kofu_xl.core.calc.bound_status`: percent rounded half up to 0.1 point, compared
with the bounds as printed).
"""

from __future__ import annotations

import hashlib
import io
import math
import multiprocessing
import os
import stat
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TextIO

import msgspec
import python_calamine  # noqa: F401  (loaded before the pool forks)
from msgspec import Struct, ValidationError, field

from kofu_xl.app import collector
from kofu_xl.app.report import CheckResult
from kofu_xl.book.layout import layout_for
from kofu_xl.book.sources import load_package_json, load_raw
from kofu_xl.core.calc import bound_status, coverage_rate, cumulative, rate_pct, subsidy_sum
from kofu_xl.core.calendar import column_label, fiscal_year_label
from kofu_xl.core.dantai import PREFECTURES, dantai_problem
from kofu_xl.core.findings import Finding, count_by_severity, format_value, sort_findings
from kofu_xl.core.model import CostYear, Plan, iter_leaves, shape_problem
from kofu_xl.core.numbers import CTX, to_json_number
from kofu_xl.core.rules import check_plan
from kofu_xl.core.schedule import Checkpoint, Schedule, default_schedule
from kofu_xl.errors import UnreadableInput
from kofu_xl.ooxml.limits import MAX_FILE_BYTES
from kofu_xl.ooxml.stream import PAPER_A3, PrintSetup, XlsxStream

__all__ = [
    "AGGREGATE_MARKER",
    "FindingRow",
    "Money",
    "PlanRow",
    "Point",
    "Rollup",
    "Subtotal",
    "Unused",
    "aggregate",
    "collect_inputs",
    "plan_row",
    "read_inputs",
    "read_plan_file",
    "roll_up",
    "rollup_json",
    "row_of",
    "subtotal",
    "write_workbook",
]

AGGREGATE_MARKER = "kofu-xl aggregate"  # docProps/core.xml keywords of the workbooks written here
SHEET_TABLE, SHEET_FINDINGS, SHEET_UNUSED = "集計", "指摘事項", "読めなかったファイル"
STATUS_JA = {"below": "下限未満", "ok": "範囲内", "above": "上限超"}
UNKNOWN_PREFECTURE = "99"  # sorts after 47: plans whose 団体コード is missing or invalid

Num = Decimal | None


# ---------------------------------------------------------------- plain rows (picklable, no plan structs)


class Point(Struct, frozen=True):
    """A projected figure at one checkpoint: of one plan, or summed over a group."""

    cumulative: Num  # projected cumulative issuance at the checkpoint
    population: Num  # the population it is divided by (of the plans that enter the sum)
    rate: Num  # exact fraction cumulative / population
    shown: Num  # percent as the form shows it (0.1 point, half up)
    status: str | None  # "below" / "ok" / "above" against the band; None without a rate
    plans: int = 1  # plans that entered the sums (1 or 0 for a single plan)


class Money(Struct, frozen=True):
    """One fiscal year's ① 補助対象経費 in 千円: as typed and as the sum of its parts."""

    declared: Num
    computed: Num


class FindingRow(Struct, frozen=True):
    severity: str  # Japanese: エラー / 警告 / 情報
    rule: str
    field: str
    where: str  # sheet!cell, or ""
    column: str  # the form's column label, or ""
    expected: str
    actual: str
    message: str


class PlanRow(Struct, frozen=True):
    """What the roll-up needs of one checked plan, as plain values."""

    source: str
    code: str | None
    prefecture: str | None  # as typed in the plan
    municipality: str | None
    population: Num
    base_issued: Num
    points: tuple[Point, ...]  # aligned with the schedule's checkpoints
    errors: int
    warnings: int
    infos: int
    costs: tuple[tuple[str, Money], ...]  # ("FY2019", Money), in the plan's order
    findings: tuple[FindingRow, ...] = ()

    @property
    def prefecture_code(self) -> str:
        """The JIS prefecture code from a valid 団体コード; UNKNOWN_PREFECTURE otherwise."""
        if self.code and dantai_problem(self.code, None) is None:
            return self.code[:2]
        return UNKNOWN_PREFECTURE

    @property
    def figures(self) -> tuple[Any, ...]:
        """Everything the table shows of this plan except where it came from."""
        return (
            self.code, self.prefecture, self.municipality, self.population, self.base_issued,
            self.points, self.errors, self.warnings, self.infos, self.costs,
        )  # fmt: skip


UnusedKind = Literal["unreadable", "conflict", "duplicate", "skipped", "excluded"]
UNUSED_JA: dict[str, str] = {
    "unreadable": "読めない",
    "excluded": "計（都道府県計・全国計）から除外（値がありえないか不足）",
    "conflict": "重複（内容が異なるため集計から除外）",
    "duplicate": "重複（同じ内容のため1件として集計）",
    "skipped": "対象外",
}


class Unused(Struct, frozen=True):
    """An input that is not (or not separately) in the totals, and why."""

    source: str
    reason: str  # Japanese
    kind: UnusedKind = "unreadable"

    @property
    def counts_as_failure(self) -> bool:
        """True when the totals lack something because of this input (exit code 1)."""
        return self.kind in ("unreadable", "conflict", "excluded")


# ---------------------------------------------------------------- the pure core


def _checkpoint_points(plan: Plan, schedule: Schedule) -> tuple[Point, ...]:
    """The plan's projection at each checkpoint, by the same calc functions the form uses
    (cumulative issuance, coverage rate, band verdict), without deriving every other row."""
    pop = plan.basic.population
    cum = cumulative(plan.basic.base_issued, plan.series("issuance"))
    by_cp: dict[str, Num] = {}
    for col, c in zip(plan.columns, cum, strict=True):
        cp = schedule.checkpoint_for_column(col)
        if cp is not None and cp.month not in by_cp:
            by_cp[cp.month] = c
    points = []
    for cp in schedule.checkpoints:
        c = by_cp.get(cp.month)
        rate = coverage_rate(c, pop)
        if rate is None:
            points.append(Point(c, pop, None, None, None, 0))
            continue
        status = bound_status(rate, schedule.lower_pct(cp), schedule.upper_pct(cp))
        points.append(Point(c, pop, rate, rate_pct(rate), status, 1))
    return tuple(points)


def _finding_row(f: Finding) -> FindingRow:
    return FindingRow(
        f.severity.ja,
        f.rule,
        f.field,
        f"{f.sheet}!{f.cell}" if f.sheet and f.cell else "",
        f.column_label or "",
        "" if f.expected is None else format_value(f.expected),
        "" if f.actual is None else format_value(f.actual),
        f.message,
    )


def plan_row(result: CheckResult, source: str) -> PlanRow:
    """The roll-up's row of one checked plan (pure)."""
    return row_of(result.plan, result.findings, result.schedule, source)


def row_of(plan: Plan, findings: Sequence[Finding], schedule: Schedule, source: str) -> PlanRow:
    """The roll-up's row of a plan and its findings (pure; what :func:`plan_row` does
    without a :class:`CheckResult`, whose full derivation the roll-up does not need)."""
    b = plan.basic
    counts = count_by_severity(findings)
    costs = []
    for key in plan.cost_keys:
        year = plan.costs.get(key, CostYear())
        costs.append((key, Money(year.total, subsidy_sum(year))))
    return PlanRow(
        source=source,
        code=b.dantai_code,
        prefecture=b.prefecture,
        municipality=b.municipality,
        population=b.population,
        base_issued=b.base_issued,
        points=_checkpoint_points(plan, schedule),
        errors=counts["error"],
        warnings=counts["warning"],
        infos=counts["info"],
        costs=tuple(costs),
        findings=tuple(_finding_row(f) for f in sort_findings(findings)),
    )


def _sum(values: Iterable[Num]) -> Num:
    filled = [v for v in values if v is not None]
    return sum(filled, Decimal(0)) if filled else None


class Subtotal(Struct, frozen=True):
    """A prefecture's or the nation's figures."""

    key: str  # prefecture code, "" for the nation
    label: str  # 千葉県 / 全国
    plans: int
    plans_with_errors: int
    population: Num  # Σ population of the plans that state one
    base_issued: Num
    base_rate: Num  # Σ base issued / Σ population over plans stating both
    points: tuple[Point, ...]
    errors: int
    warnings: int
    infos: int
    costs: tuple[tuple[str, Money], ...]


def _weighted(pairs: Iterable[tuple[Num, Num]]) -> tuple[Num, Num, Num, int]:
    """(Σ numerator, Σ population, Σ numerator / Σ population, count) over the pairs with both."""
    num, den, n = Decimal(0), Decimal(0), 0
    for a, pop in pairs:
        if a is None or pop is None or pop <= 0:
            continue
        num += a
        den += pop
        n += 1
    if n == 0:
        return None, None, None, 0
    return num, den, CTX.divide(num, den), n


def subtotal(rows: Sequence[PlanRow], key: str, label: str, schedule: Schedule) -> Subtotal:
    """Sum a group of plans; rates are population-weighted (see the module's docstring)."""
    points = []
    for i, cp in enumerate(schedule.checkpoints):
        cum, pop, rate, n = _weighted((r.points[i].cumulative, r.population) for r in rows if r.points[i].rate is not None)
        status = None if rate is None else bound_status(rate, schedule.lower_pct(cp), schedule.upper_pct(cp))
        points.append(Point(cum, pop, rate, rate_pct(rate), status, n))
    _, _, base_rate, _ = _weighted((r.base_issued, r.population) for r in rows)
    years: dict[str, list[Money]] = {}
    for r in rows:
        for k, m in r.costs:
            years.setdefault(k, []).append(m)
    costs = tuple(
        (k, Money(_sum(m.declared for m in ms), _sum(m.computed for m in ms))) for k, ms in sorted(years.items())
    )
    return Subtotal(
        key=key,
        label=label,
        plans=len(rows),
        plans_with_errors=sum(1 for r in rows if r.errors),
        population=_sum(r.population for r in rows),
        base_issued=_sum(r.base_issued for r in rows),
        base_rate=base_rate,
        points=tuple(points),
        errors=sum(r.errors for r in rows),
        warnings=sum(r.warnings for r in rows),
        infos=sum(r.infos for r in rows),
        costs=costs,
    )


class Rollup(Struct, frozen=True):
    schedule: Schedule
    groups: list[tuple[Subtotal, list[PlanRow]]]  # by prefecture code
    national: Subtotal
    unused: list[Unused] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # source -> why not in the totals

    @property
    def rows(self) -> list[PlanRow]:
        return [r for _, rows in self.groups for r in rows]

    @property
    def cost_keys(self) -> list[str]:
        return [k for k, _ in self.national.costs]


def _sort_key(r: PlanRow) -> tuple[str, str, str]:
    return (r.prefecture_code, r.code or "~", r.source)


def _deduplicate(rows: Sequence[PlanRow]) -> tuple[list[PlanRow], list[Unused]]:
    """One row per 団体コード. Equal figures count once; different figures are not guessed
    between: all of them stay out of the totals and are listed."""
    by_code: dict[str, list[PlanRow]] = {}
    kept: list[PlanRow] = []
    for r in rows:
        if r.code and r.prefecture_code != UNKNOWN_PREFECTURE:
            by_code.setdefault(r.code, []).append(r)
        else:
            kept.append(r)  # no usable code: nothing to match it with
    unused: list[Unused] = []
    for code, group in by_code.items():
        group = sorted(group, key=lambda r: r.source)
        if len(group) == 1:
            kept.append(group[0])
            continue
        name = group[0].municipality or ""
        others = "、".join(r.source for r in group)
        if all(r.figures == group[0].figures for r in group[1:]):
            kept.append(group[0])
            for r in group[1:]:
                unused.append(Unused(r.source, f"団体コード {code}（{name}）の計画が複数あり、内容が同じため1件として集計しました（集計したファイル: {group[0].source}）", "duplicate"))
        else:
            for r in group:
                unused.append(
                    Unused(
                        r.source,
                        f"団体コード {code}（{name}）の計画が {len(group)} 件あり、内容が異なります（{others}）。"
                        "どれを集計するか決められないため、いずれも集計に含めていません。古い方を除いてから再実行してください",
                        "conflict",
                    )
                )
    return kept, unused


def excluded_reason(r: PlanRow, schedule: Schedule) -> str | None:
    """Why a plan cannot enter the totals (Japanese), None when it can.

    A total row is summed over one set of plans, every column over the same set: a plan
    enters only with a population, a base count and a projection at every checkpoint, and
    only when none of them is impossible (a count above the population)."""
    pop = r.population
    if pop is None or pop <= 0:
        return "人口がありません"
    if r.base_issued is None:
        return "交付枚数（基準日）がありません"
    if r.base_issued > pop:
        return f"交付枚数（基準日）{format_value(r.base_issued)} 枚が人口 {format_value(pop)} 人を超えています"
    for cp, p in zip(schedule.checkpoints, r.points, strict=True):
        if p.cumulative is None:
            return f"{_checkpoint_label(cp)}の交付枚数（累計）の見込みがありません"
        if p.cumulative > pop:
            return f"{_checkpoint_label(cp)}の見込み {format_value(p.cumulative)} 枚が人口 {format_value(pop)} 人を超えています（交付率 {format_value(p.shown)}%）"
    return None


def roll_up(rows: Sequence[PlanRow], schedule: Schedule | None = None, unused: Sequence[Unused] = ()) -> Rollup:
    """Group plan rows by prefecture, with subtotals and the national total (pure).

    Every plan keeps its own row; the 都道府県計 and 全国計 are summed over the plans that
    can enter them (:func:`excluded_reason`), the others are listed with the reason."""
    schedule = schedule or default_schedule()
    kept, dupes = _deduplicate(rows)
    kept.sort(key=_sort_key)
    excluded = {r.source: reason for r in kept if (reason := excluded_reason(r, schedule))}
    by_pref: dict[str, list[PlanRow]] = {}
    for r in kept:
        by_pref.setdefault(r.prefecture_code, []).append(r)
    groups = []
    for key in sorted(by_pref):
        label = PREFECTURES.get(key, "団体コード不明")
        included = [r for r in by_pref[key] if r.source not in excluded]
        groups.append((subtotal(included, key, label, schedule), by_pref[key]))
    national = subtotal([r for r in kept if r.source not in excluded], "", "全国", schedule)
    out = [Unused(source, f"都道府県計・全国計に含めていません: {reason}", "excluded") for source, reason in excluded.items()]
    all_unused = sorted([*unused, *dupes, *out], key=lambda u: (u.source, u.kind))
    return Rollup(schedule, groups, national, all_unused, excluded)


# ---------------------------------------------------------------- reading inputs (edge)


def _is_noise(name: str) -> bool:
    """Files a folder scan passes over silently: hidden files, Office lock files (~$…)."""
    return name.startswith((".", "~$"))


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]], exclude: Iterable[Path] = ()
) -> tuple[list[Path], dict[Path, Path], list[Unused]]:
    """Expand files and folders (recursively, sorted) into the files to read.

    A submission package is one stem with .xlsx, .json, .html (and .pdf) beside each other:
    its .json is read (it holds the plan itself, and reading it is cheaper than the
    workbook), its .xlsx only if the .json cannot be read, its .html never. A workbook of the
    stem that is not the package's `<stem>.xlsx` (another case, an .xlsm) is read as well.
    Returns (files to read, {json: its .xlsx fallback}, inputs that do not exist).
    """
    excluded = {p.resolve() for p in exclude}
    seen: set[Path] = set()
    files: list[Path] = []
    missing: list[Unused] = []

    def add(p: Path, key: Path) -> None:
        if key in seen or key in excluded:
            return
        seen.add(key)
        files.append(p)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            top = p.resolve()  # once: resolving each of thousands of files costs ~0.1 s
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not _is_noise(d))
                real_root = top / os.path.relpath(root, p)
                for name in sorted(names):
                    if not _is_noise(name):
                        f = Path(root) / name
                        add(f, f.resolve() if os.path.islink(f) else real_root / name)
        elif p.exists():
            add(p, p.resolve())
        else:
            missing.append(Unused(str(p), "ファイルまたはフォルダーが見つかりません"))

    by_stem: dict[tuple[Path, str], dict[str, Path]] = {}
    for f in files:
        by_stem.setdefault((f.parent, f.stem), {})[f.suffix.lower()] = f
    read: list[Path] = []
    fallback: dict[Path, Path] = {}
    for f in files:
        siblings = by_stem[(f.parent, f.stem)]
        suffix = f.suffix.lower()
        has_json = ".json" in siblings
        if suffix in (".xlsx", ".xlsm") and has_json and _is_package_workbook(f, siblings[".json"]):
            fallback.setdefault(siblings[".json"], f)
            continue
        if suffix in (".html", ".htm", ".pdf") and (has_json or ".xlsx" in siblings or ".xlsm" in siblings):
            continue  # the package's summary page and its PDF
        read.append(f)
    return read, fallback, missing


def _is_package_workbook(workbook: Path, package_json: Path) -> bool:
    """The .xlsx a package's JSON vouches for (the one its digest is compared with,
    :func:`_edited_workbook`). Another workbook of the stem (p.XLSX on a case-sensitive disk,
    an .xlsm saved from it) is read as an input of its own: passed over, an edited copy would
    hide behind the JSON's figures."""
    return os.path.normcase(workbook.name) == os.path.normcase(package_json.with_suffix(".xlsx").name)


_PLAN_KEYS: frozenset[str] | None = None


def _looks_like_plan(data: dict[str, Any]) -> bool:
    global _PLAN_KEYS
    if _PLAN_KEYS is None:
        _PLAN_KEYS = frozenset(Plan.__struct_fields__) - {"title"}
    return bool(_PLAN_KEYS & set(data))


def _is_aggregate_output(path: Path) -> bool:
    """A workbook this command wrote (it may sit in the folder being aggregated)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a named pipe would block
            return False
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("docProps/core.xml")
            if info.file_size > 64 * 1024:
                return False
            return AGGREGATE_MARKER.encode() in z.read(info)
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
        return False


def _edited_workbook(package_json: Path, digest: str) -> Path | None:
    """The .xlsx beside a submission package's JSON when it is no longer the workbook the JSON
    was written with (opened and saved, edited by hand or by a script): the package then has
    one truth, its workbook, which is read instead. None while it is unchanged, or absent."""
    workbook = package_json.with_suffix(".xlsx")
    try:
        if not stat.S_ISREG(workbook.stat().st_mode):
            return workbook  # reading it says what is wrong with it (a named pipe would block)
        with workbook.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # more is refused when it is read
    except FileNotFoundError:
        return None
    except OSError:
        return workbook  # reading it says what is wrong with it
    return None if hashlib.sha256(data).hexdigest() == digest.lower() else workbook


def read_plan_file(path: str | Path) -> PlanRow | Unused:
    """Read and check one input; never raises for a bad file."""
    p = Path(path)
    source = str(p)
    try:
        if p.suffix.lower() == ".json":
            raw, digest = load_package_json(p)
            layout = None
            if digest is not None and (workbook := _edited_workbook(p, digest)) is not None:
                return read_plan_file(workbook)  # the package's workbook was changed after submit: it is what people see
        else:
            raw, layout = load_raw(p)
        if layout is None and not _looks_like_plan(raw):
            if "schema" in raw and "municipality" in raw:
                return Unused(source, "`check --json` の結果で、計画そのものが含まれていません。提出パッケージの .json を使ってください")
            return Unused(source, "交付円滑化計画の JSON ではありません（basic・issuance などの項目がありません）")
        plan, findings = check_plan(raw)
    except UnreadableInput as exc:
        if p.suffix.lower() in (".xlsx", ".xlsm") and _is_aggregate_output(p):
            return Unused(source, "kofu-xl aggregate が作成した集計ファイルです（計画ではないため読み飛ばしました）", "skipped")
        return Unused(source, exc.reason)
    except ValidationError as exc:
        return Unused(source, f"計画の設定（parameters）か日次実績の形が正しくありません（{shape_problem(exc)}）"[:300])
    except RecursionError:
        return Unused(source, "データの入れ子が深すぎます（壊れたファイルか、計画ではありません）")
    except Exception as exc:  # one bad file never stops the run
        return Unused(source, f"読み込み中に予期しないエラーが発生しました（{exc.__class__.__name__}: {str(exc)[:200]}）")
    except BaseException as exc:  # a Rust panic in the reader arrives as a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return Unused(source, f"読み込み中に予期しないエラーが発生しました（{exc.__class__.__name__}）")
    if layout is None:  # a JSON plan: its cells on the official layout of its shape
        par = plan.parameters
        key = (par.first_month, par.last_month, tuple(par.fiscal_years), par.actual_through, tuple(par.cost_years))
        layout = _LAYOUTS.get(key)
        if layout is None:
            layout = _LAYOUTS[key] = layout_for(par)
    return row_of(plan, layout.locate_findings(findings), default_schedule(), source)


_LAYOUTS: dict[tuple[Any, ...], Any] = {}


def _read_chunk(paths: Sequence[str]) -> list[PlanRow | Unused]:
    # a plan's reading makes thousands of objects and no cycles: 1,741 packages read with the
    # collector off peak at the same memory, their workbooks ~9 % and their .json ~25 % faster
    with collector.paused():
        return [read_plan_file(p) for p in paths]


# A chunk's results cross from a worker to the parent as MessagePack (msgspec): ~6 x faster
# to write than pickling the structs (1,741 plans: 0.04 s against 0.27 s), as fast to read,
# equal when read back (the fields are typed: Decimals come back as Decimals). A text that
# UTF-8 cannot carry (a file name of undecodable bytes reads as lone surrogates on Linux)
# sends its chunk pickled, as before.
_Packed = list[tuple[PlanRow | None, Unused | None]]


def _read_chunk_packed(paths: Sequence[str]) -> bytes | list[PlanRow | Unused]:
    results = _read_chunk(paths)
    try:
        return msgspec.msgpack.encode([(r, None) if isinstance(r, PlanRow) else (None, r) for r in results])
    except (UnicodeEncodeError, OverflowError, TypeError):  # (and an int beyond 64 bits, a new field's type)
        return results


def _unpack(data: bytes | list[PlanRow | Unused]) -> list[PlanRow | Unused]:
    if not isinstance(data, bytes):
        return data
    return [row if row is not None else unused for row, unused in _UNPACK.decode(data)]  # type: ignore[misc]


_UNPACK = msgspec.msgpack.Decoder(_Packed)


def _warm_up() -> None:
    """Import and cache what every file needs, once, before the pool forks."""
    iter_leaves()
    layout_for(None)
    default_schedule()


def _jobs(requested: int | None) -> int:
    if requested and requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every OS
        return max(1, os.cpu_count() or 1)


def read_inputs(
    paths: Sequence[Path], *, jobs: int | None = None, progress: Callable[[int], None] | None = None
) -> list[PlanRow | Unused]:
    """Read and check every file, in parallel processes when there are enough of them.
    The results are in the order of ``paths``."""
    tick = progress or (lambda n: None)
    names = [str(p) for p in paths]
    jobs = _jobs(jobs)
    if jobs == 1 or len(names) < 8:
        out = []
        with collector.paused():
            for name in names:
                out.append(read_plan_file(name))
                tick(1)
        return out
    _warm_up()
    size = max(1, min(16, len(names) // (jobs * 8) or 1))  # small chunks: no core idles at the end
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    ctx = _mp_context()
    results: list[list[PlanRow | Unused] | None] = [None] * len(chunks)
    broken: list[int] = []
    with collector.frozen(), ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=ctx) as pool:
        futures = {pool.submit(_read_chunk_packed, chunk): i for i, chunk in enumerate(chunks)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = _unpack(fut.result())
                tick(len(chunks[i]))
            except Exception:  # a worker died (BrokenProcessPool): every unfinished chunk fails
                broken.append(i)
    for i in sorted(broken):  # again, one file per process, so that only the culprit is lost
        results[i] = [_read_isolated(name, ctx) for name in chunks[i]]
        tick(len(chunks[i]))
    return [r for chunk in results for r in (chunk or [])]


def _mp_context() -> Any:
    """fork on Linux (the warmed-up parent is copied, no re-import); the platform's default
    elsewhere (macOS and Windows spawn)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)


def _read_isolated(name: str, ctx: Any) -> PlanRow | Unused:
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        try:
            return _unpack(pool.submit(_read_chunk_packed, [name]).result())[0]
        except Exception as exc:
            return Unused(name, f"読み込み中に処理が異常終了しました（{exc.__class__.__name__}）。壊れたファイルの可能性があります")


def aggregate(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    exclude: Iterable[Path] = (),
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    schedule: Schedule | None = None,
) -> Rollup:
    """Collect, read and check every input, and roll the plans up."""
    files, fallback, missing = collect_inputs(inputs, exclude)
    if on_total:
        on_total(len(files))
    results = read_inputs(files, jobs=jobs, progress=progress)
    retry = [fallback[Path(r.source)] for r in results if isinstance(r, Unused) and Path(r.source) in fallback]
    if retry:
        results += read_inputs(retry, jobs=jobs)
    rows = [r for r in results if isinstance(r, PlanRow)]
    unused = missing + [r for r in results if isinstance(r, Unused)]
    return roll_up(rows, schedule, unused)


# ---------------------------------------------------------------- the workbook (edge)


def _num(value: Num | int) -> int | float | None:
    """A Decimal as a worksheet number: an int when integral, else the nearest double."""
    return to_json_number(value) if value is not None else None


def _checkpoint_label(cp: Checkpoint) -> str:
    return f"{column_label(cp.month)}末"


def _cost_label(key: str) -> str:
    return fiscal_year_label(int(key[2:]))


def _headers(schedule: Schedule, cost_keys: Sequence[str]) -> list[tuple[str, str | None, float]]:
    """(header, number format or None for text, column width) of the 集計 sheet."""
    cols: list[tuple[str, str | None, float]] = [
        ("区分", None, 10),
        ("団体コード", None, 10),
        ("都道府県", None, 10),
        ("市区町村", None, 16),
        ("人口", "#,##0", 12),
        ("交付枚数（基準日）", "#,##0", 12),
        ("交付率（基準日）(%)", "0.0", 9),
    ]
    for cp in schedule.checkpoints:
        label = _checkpoint_label(cp)
        lower, upper = schedule.lower_pct(cp), schedule.upper_pct(cp)
        cols += [
            (f"{label} 累計", "#,##0", 12),
            (f"{label} 交付率(%) [{lower}〜{upper}]", "0.0", 12),
            (f"{label} 判定", None, 9),
        ]
    cols += [("エラー", "#,##0", 7), ("警告", "#,##0", 7), ("情報", "#,##0", 7)]
    for key in cost_keys:
        label = _cost_label(key)
        cols += [(f"{label} 補助対象経費(千円)", "#,##0", 13), (f"{label} 内訳の合計(千円)", "#,##0", 13)]
    cols += [("ファイル", None, 40), ("備考", None, 50)]
    return cols


def _plan_values(r: PlanRow, cost_keys: Sequence[str], excluded: str | None = None) -> list[Any]:
    base_rate = None
    if r.base_issued is not None and r.population:
        base_rate = rate_pct(CTX.divide(r.base_issued, r.population))
    values: list[Any] = ["団体", r.code, r.prefecture, r.municipality, _num(r.population), _num(r.base_issued), _num(base_rate)]
    notes = []
    for p in r.points:
        values += [_num(p.cumulative), _num(p.shown), STATUS_JA.get(p.status or "", "")]
    values += [r.errors, r.warnings, r.infos]
    costs = dict(r.costs)
    for key in cost_keys:
        m = costs.get(key)
        values += [None, None] if m is None else [_num(m.declared), _num(m.computed)]
        if m is not None and m.declared is not None and m.computed is not None and m.declared != m.computed:
            notes.append(f"{_cost_label(key)}の補助対象経費が内訳の合計と合いません")
    if r.errors:
        notes.insert(0, "エラーがあります（指摘事項を参照）")
    if excluded:
        notes.insert(0, f"都道府県計・全国計に含めていません（{excluded}）")
    values += [r.source, "。".join(notes)]
    return values


def _subtotal_values(s: Subtotal, schedule: Schedule, cost_keys: Sequence[str]) -> list[Any]:
    kind = "全国計" if s.key == "" else "都道府県計"
    values: list[Any] = [kind, s.key if s.key not in ("", UNKNOWN_PREFECTURE) else "", s.label, f"計（{s.plans:,} 団体）",
                         _num(s.population), _num(s.base_issued), _num(rate_pct(s.base_rate))]  # fmt: skip
    notes = []
    for cp, p in zip(schedule.checkpoints, s.points, strict=True):
        values += [_num(p.cumulative), _num(p.shown), STATUS_JA.get(p.status or "", "")]
        if p.plans < s.plans:
            notes.append(f"{_checkpoint_label(cp)}の率は見込みのある {p.plans:,}/{s.plans:,} 団体で算出")
    values += [s.errors, s.warnings, s.infos]
    costs = dict(s.costs)
    for key in cost_keys:
        m = costs.get(key)
        values += [None, None] if m is None else [_num(m.declared), _num(m.computed)]
    if s.plans_with_errors:
        notes.insert(0, f"エラーのある計画 {s.plans_with_errors:,} 団体を含む")
    values += ["", "。".join(notes)]
    return values


FINDING_HEADERS: list[tuple[str, str | None, float]] = [
    ("団体コード", None, 10),
    ("都道府県", None, 10),
    ("市区町村", None, 14),
    ("重要度", None, 7),
    ("ルール", None, 22),
    ("項目", None, 28),
    ("場所", None, 16),
    ("列", None, 10),
    ("期待値", None, 12),
    ("実際の値", None, 12),
    ("内容", None, 80),
    ("ファイル", None, 40),
]
UNUSED_HEADERS: list[tuple[str, str | None, float]] = [("ファイル", None, 50), ("扱い", None, 26), ("理由", None, 90)]
HEADER_FILL, SUBTOTAL_FILL = "DDEBF7", "F2F2F2"
NOTES = (
    "※ 都道府県計・全国計の交付率 ＝ 各団体の見込み累計の合計 ÷ 人口の合計（人口で加重した平均。単純平均ではありません）。",
    "※ 判定は各団体と同じく、交付率を小数第1位（%、四捨五入）で表した値を国の下限値・上限値（見出しの [ ] 内）と比べたものです。",
    "※ 団体の交付率・判定は、読み込んだ計画から kofu-xl が計算し直した値です（様式に記載の値ではありません）。",
)


def _text_lines(text: str, width: float) -> int:
    """Lines a text takes when it wraps in a column ``width`` characters wide (a full-width
    character takes two)."""

    chars = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return max(1, math.ceil(chars / max(width - 1, 1)))


def _header_height(headers: Sequence[tuple[str, str | None, float]]) -> float:
    """The height (points) of a header row whose texts wrap in their columns."""
    return 15.0 * max(_text_lines(h, w) for h, _f, w in headers) + 3


def _row_height(values: Sequence[Any], wrapped: Sequence[tuple[int, float]]) -> float | None:
    """The height of a row whose long texts wrap (None: one line, the default height)."""
    n = max((_text_lines(values[i], w) for i, w in wrapped if isinstance(values[i], str) and values[i]), default=1)
    return 15.0 * n if n > 1 else None


def write_workbook(rollup: Rollup, fh: IO[bytes] | None = None) -> bytes:
    """The roll-up as an .xlsx: 集計, 指摘事項, 読めなかったファイル. Writes into ``fh`` when
    given (and returns b""), else returns the bytes. Text from inputs is always a text cell."""
    buf = io.BytesIO() if fh is None else fh
    book = XlsxStream(buf, title="マイナンバーカード交付円滑化計画 集計", keywords=AGGREGATE_MARKER)
    head = book.style(bold=True, fill=HEADER_FILL, wrap=True)
    schedule, cost_keys = rollup.schedule, rollup.cost_keys

    headers = _headers(schedule, cost_keys)
    # long texts (file, notes) wrap in their columns instead of running off the printed page
    text = book.style(wrap=True)
    plain = [book.style(number_format=fmt) if fmt else (text if w >= 30 else 0) for _h, fmt, w in headers]
    strong = [book.style(bold=True, fill=SUBTOTAL_FILL, number_format=fmt, wrap=not fmt and w >= 30) for _h, fmt, w in headers]
    # every sheet prints its columns on the page width, the header row on every page
    wide = PrintSetup(paper=PAPER_A3, title_rows=(1, 1))
    ws = book.sheet(SHEET_TABLE, [w for _h, _f, w in headers], freeze="E2", print_setup=wide)
    ws.append([h for h, _f, _w in headers], head, height=_header_height(headers))
    wrapped = [(i, w) for i, (_h, fmt, w) in enumerate(headers) if not fmt and w >= 30]
    for sub, rows in rollup.groups:
        for r in rows:
            values = _plan_values(r, cost_keys, rollup.excluded.get(r.source))
            ws.append(values, plain, height=_row_height(values, wrapped))
        values = _subtotal_values(sub, schedule, cost_keys)
        ws.append(values, strong, height=_row_height(values, wrapped))
    values = _subtotal_values(rollup.national, schedule, cost_keys)
    ws.append(values, strong, height=_row_height(values, wrapped))
    ws.end_table()
    ws.append([])
    for note in NOTES:
        ws.append([note])

    ws = book.sheet(SHEET_FINDINGS, [w for _h, _f, w in FINDING_HEADERS], freeze="D2", print_setup=wide)
    ws.append([h for h, _f, _w in FINDING_HEADERS], head, height=_header_height(FINDING_HEADERS))
    for r in rollup.rows:
        for f in r.findings:
            ws.append((r.code, r.prefecture, r.municipality, f.severity, f.rule, f.field, f.where, f.column, f.expected, f.actual, f.message, r.source))
    if ws.rows == 1:
        ws.append([None] * 10 + ["指摘事項はありません。"])
    ws.end_table()

    ws = book.sheet(SHEET_UNUSED, [w for _h, _f, w in UNUSED_HEADERS], freeze="A2", print_setup=PrintSetup(title_rows=(1, 1)))
    ws.append([h for h, _f, _w in UNUSED_HEADERS], head, height=_header_height(UNUSED_HEADERS))
    for u in rollup.unused:
        ws.append((u.source, UNUSED_JA[u.kind], u.reason))
    if not rollup.unused:
        ws.append([None, None, "すべてのファイルを集計しました。"])
    ws.end_table()
    book.close()
    return buf.getvalue() if fh is None else b""


# ---------------------------------------------------------------- JSON (the same figures, for programs)


def _point_json(p: Point) -> dict[str, Any]:
    return {
        "cumulative": _num(p.cumulative),
        "population": _num(p.population),
        "rate": _num(p.rate),
        "rate_pct": _num(p.shown),
        "status": p.status,
        "plans": p.plans,
    }


def _costs_json(costs: Sequence[tuple[str, Money]]) -> dict[str, Any]:
    return {k: {"declared": _num(m.declared), "computed": _num(m.computed)} for k, m in costs}


def rollup_json(rollup: Rollup) -> dict[str, Any]:
    s = rollup.schedule

    def sub(t: Subtotal) -> dict[str, Any]:
        return {
            "code": t.key or None, "name": t.label, "plans": t.plans, "plans_with_errors": t.plans_with_errors,
            "population": _num(t.population), "base_issued": _num(t.base_issued), "base_rate": _num(t.base_rate),
            "checkpoints": [_point_json(p) for p in t.points],
            "counts": {"error": t.errors, "warning": t.warnings, "info": t.infos}, "costs": _costs_json(t.costs),
        }  # fmt: skip

    return {
        "schema": 1,
        "kind": "aggregate",
        "weighting": "rate = sum(cumulative) / sum(population) over the plans with a projection at the checkpoint",
        "schedule": {"id": s.id, "base_population": s.base_population},
        "checkpoints": [{"month": cp.month, "label": _checkpoint_label(cp), "lower_pct": _num(s.lower_pct(cp)), "upper_pct": _num(s.upper_pct(cp))} for cp in s.checkpoints],
        "plans": [
            {
                "source": r.source, "code": r.code, "prefecture": r.prefecture, "name": r.municipality,
                "population": _num(r.population), "base_issued": _num(r.base_issued),
                "checkpoints": [_point_json(p) for p in r.points],
                "counts": {"error": r.errors, "warning": r.warnings, "info": r.infos}, "costs": _costs_json(r.costs),
            }  # fmt: skip
            for r in rollup.rows
        ],
        "prefectures": [sub(t) for t, _ in rollup.groups],
        "national": sub(rollup.national),
        "unused": [{"source": u.source, "kind": u.kind, "reason": u.reason} for u in rollup.unused],
    }


# ---------------------------------------------------------------- progress and the command


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, label: str = "集計中", enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.total, self.done = label, 0, 0
        self.start = self.last = time.monotonic()

    def set_total(self, total: int) -> None:
        self.total = total
        self._draw(force=True)

    def update(self, n: int) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or not self.total or (not force and now - self.last < 0.1):
            return
        self.last = now
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done:,}/{self.total:,} 件 {now - self.start:5.1f} 秒")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.total:
            self.stream.write("\n")
            self.stream.flush()


DEFAULT_OUT = "集計.xlsx"


def out_problem(out: Path) -> str | None:
    """Why the table cannot be written to ``out`` (Japanese), or None."""
    if out.suffix.lower() != ".xlsx":
        return "集計表の出力先は .xlsx にしてください"
    if out.is_dir():
        return "フォルダーです。集計表のファイル名を指定してください"
    if out.exists() and not _is_aggregate_output(out):
        return "同じ名前のファイルが既にあり、kofu-xl の集計表ではありません。上書きしないため、別の --out を指定してください"
    return None
