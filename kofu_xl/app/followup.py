"""Plan against actual: the monthly follow-up of a submitted plan (issue #6).

After submission a plan is followed up every month with the official issuance statistics,
and the question a 課長 asks is simple: are we on track for the next national checkpoint,
and if not, how many cards a month do we need from now on?

Decisions (also in the README, section ``followup``):

* **One denominator.** Every rate here — plan, actual, national bounds — is a count divided
  by the *plan's* population (本表1-1 人口, 住民基本台帳 of the plan's base date: 63,723 for
  白井市, 2019-01-01). The statistics divide by a population base that changes every autumn
  (2019-01-01 until 2020-08, 2020-01-01 from 2020-09-01, …); comparing such rates with the
  plan's would mix denominators (白井市 2021-03: 20,768 cards are 32.6 % of the plan's
  63,723 but 32.8 % as published, of 63,324). The published rate and its population are
  reported beside ours, never used for a verdict. The national bounds are themselves
  targets over one fixed population (2019-01-01), so this is the consistent reading.
* **Month-ends.** An actual is the cumulative count at a month-end; which file describes which
  month-end is :func:`kofu_xl.app.stats.month_end_for` (a 交付件数基準日 on the 1st is the end of
  the previous month: 20200801.csv → 2020-07; on the last day, that month; mid-month files
  such as 20190916.csv describe no month-end and are not used).
* **The plan per month.** Monthly columns are the plan's own month-ends; a fiscal-year column
  (R3年度 15,000) is spread evenly over its 12 months, as the staffing calculation does
  (:func:`kofu_xl.core.calc.monthly_volume`).
* **Verdicts** compare the actual rate as the form shows it (percent, 0.1 point, half up)
  with the printed bounds, like the plan's own check. A checkpoint month without a month-end
  figure (2022-03: there is no 20220401.csv) is judged from the nearest figures around it
  when they settle it — cumulative counts never decrease, so a later figure still below the
  lower bound proves the checkpoint was missed — else it stays undecided.
* **Required monthly issuance** = ⌈(⌈lower bound × population⌉ − actual) / months left⌉
  from the latest actual month to the next checkpoint after it (the bound reached as printed,
  not by rounding; the same figure as the plan check's 「あと N 枚」).
* **Actuals live outside the Plan.** They are follow-up data (monthly up to the end of the last
  fiscal year, beyond the plan's columns) from another source; the plan that was submitted,
  and its hash, do not change when actuals are typed or imported. In the workbook they are
  the input rows of 実績比較.

The pure part (:func:`follow_up`, :func:`plan_by_month`, :func:`months_behind`,
:func:`required_monthly`, the verdicts) is :mod:`kofu_xl.core.followup`; the 日次実績 checks are
rules of the one catalogue (:mod:`kofu_xl.core.daily`). This module reads statistics and
workbooks (:func:`run_followup`, what ``kofu-xl followup`` runs), reports, and fills 実績比較 in
a live book (:func:`import_into`, the ribbon's 「実績取込」).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from kofu_xl.app.report import make_result
from kofu_xl.app.stats import MonthlyActuals, StatsTable, actual_cumulative_by_month, normalize_dantai_code, read_stats, shipped_stats
from kofu_xl.book.layout import FOLLOWUP, Layout
from kofu_xl.book.read import PLAN_SHEETS, CellSource, GridSource, input_size, read_followup_raw, read_plan_raw
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.core.calendar import CalendarError, month_label, parse_month, wareki_date
from kofu_xl.core.daily import DAILY_CLOSED, DAILY_OUTSIDE, DAILY_OVERWRITTEN, SHEET_FACTS_KEY, daily_findings
from kofu_xl.core.findings import Finding, Severity, count_by_severity, format_value, sort_findings
from kofu_xl.core.followup import (
    ACTUAL_BEHIND,
    ACTUAL_BELOW,
    ACTUAL_UNKNOWN,
    Actual,
    FollowUp,
    MonthRow,
    Required,
    Verdict,
    _cards,
    _pct,
    _pts,
    _rate,
    _required_text,
    actuals_from_stats,
    follow_up,
    merge_actuals,
    months_behind,
    plan_by_month,
    plan_months,
    required_monthly,
    target_cards,
)
from kofu_xl.core.model import NEGATIVE, NORMALIZED, NOT_A_NUMBER, Meta, load_plan
from kofu_xl.core.numbers import NumberError, parse_number, round_half_up, to_json_number
from kofu_xl.errors import StatsFormatError, StatsLookupError, UnreadableInput

__all__ = [
    "ACTUAL_BEHIND",
    "ACTUAL_BELOW",
    "ACTUAL_UNKNOWN",
    "DAILY_CLOSED",
    "DAILY_OUTSIDE",
    "DAILY_OVERWRITTEN",
    "SHIPPED_PLAN_SOURCE",
    "STATS_DIR_ENV",
    "STATS_FOLDER",
    "Actual",
    "FollowUp",
    "MonthRow",
    "Required",
    "Verdict",
    "actuals_from_sheet",
    "actuals_from_stats",
    "with_shipped_stats",
    "daily_findings",
    "follow_up",
    "followup_json",
    "import_into",
    "merge_actuals",
    "months_behind",
    "plan_by_month",
    "plan_months",
    "render_followup_text",
    "required_monthly",
    "run_followup",
    "target_cards",
]

SHIPPED_PLAN_SOURCE = "同梱の計画（白井市 令和元年10月3日）"
# ---------------------------------------------------------------- reading 実績比較


def actuals_from_sheet(raw: Mapping[str, Mapping[str, Any]], layout: Layout) -> tuple[dict[str, Actual], list[Finding]]:
    """Typed actuals of 実績比較 (``raw`` from :func:`kofu_xl.book.read.read_followup_raw`):
    {month: Actual} and a finding per value that is not a count."""

    findings: list[Finding] = []
    metas = {
        "followup.actual_cumulative": Meta("実績 交付枚数（累計）", "count"),
        "followup.official_population": Meta("公表値 人口", "count"),
        "followup.official_rate": Meta("公表値 交付枚数率", "pct"),
    }
    values: dict[str, dict[str, Decimal]] = {}
    for path, meta in metas.items():
        for month, value in (raw.get(path) or {}).items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                parsed = parse_number(value)
            except NumberError as exc:
                findings.append(Finding(NOT_A_NUMBER, meta.label, path, month, actual=str(value), params={"reason": exc.reason}))
                continue
            number = parsed.value
            if meta.kind == "pct":
                # a fraction in a percent-formatted cell (0.205), or text "20.5%"
                number = number if parsed.percent else number * 100
            elif parsed.percent or number != number.to_integral_value():
                findings.append(Finding(NOT_A_NUMBER, meta.label, path, month, actual=str(value), params={"reason": "枚数・人数は整数で入力してください"}))
                continue
            if number < 0:
                findings.append(Finding(NEGATIVE, meta.label, path, month, actual=number))
                continue
            if parsed.normalized and isinstance(value, str):
                findings.append(Finding(NORMALIZED, meta.label, path, month, actual=value, params={"note": parsed.note}))
            values.setdefault(path, {})[month] = number
    actuals: dict[str, Actual] = {}
    for month, count in (values.get("followup.actual_cumulative") or {}).items():
        _sheet, cell = layout.fu_cell("followup.actual_cumulative", month)
        actuals[month] = Actual(
            month,
            count,
            f"{FOLLOWUP}!{cell}",
            official_population=values.get("followup.official_population", {}).get(month),
            official_rate_pct=values.get("followup.official_rate", {}).get(month),
        )
    return dict(sorted(actuals.items())), layout.locate_findings(findings)




STATS_DIR_ENV = "KOFU_STATS_DIR"  # a folder of statistics CSVs for 「実績取込」
STATS_FOLDER = "公表統計"  # else this folder beside the workbook

MONTH_END_RULE = (
    "交付件数基準日が月の初日のファイルは前月末の累計（20200801.csv → 2020年7月末）、"
    "月末日のファイルはその月末の累計とします。月の途中の日付のファイル（20190916.csv など）は月末値として使いません。"
)

# ---------------------------------------------------------------- statistics


def read_stats_paths(paths: Iterable[str | os.PathLike[str]]) -> list[StatsTable]:
    """Statistics CSVs from files and folders (a folder: every *.csv in it, by name).

    Raises :class:`kofu_xl.sources.UnreadableInput` naming the file (and the line) of the
    first file that cannot be read.
    """

    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.csv"))
            if not found:
                raise UnreadableInput(p, "公表統計の CSV ファイル（*.csv）がありません")
            for f in found:
                input_size(f)  # a named pipe met in the folder would block the reading for ever
            files.extend(found)
        else:
            files.append(p)
    tables = []
    for f in files:
        try:
            tables.append(read_stats(f))
        except StatsFormatError as exc:
            where = f"公表統計「{f.name}」"
            if exc.line is not None:
                where += f"の{exc.line}行目"
            if exc.column:
                where += f" 列「{exc.column}」"
            raise UnreadableInput(f, f"{where}: {exc.detail}") from None
        except StatsLookupError as exc:
            raise UnreadableInput(f, f"公表統計「{f.name}」を読めません（{str(exc).split(': ', 1)[-1]}）") from None
    return tables


def with_shipped_stats(tables: Sequence[StatsTable]) -> list[StatsTable]:
    """The shipped publications (:func:`kofu_xl.app.stats.shipped_stats`) plus ``tables``; a
    given table replaces a shipped one of the same 交付件数基準日."""
    given = {t.count_date for t in tables}
    return [t for t in shipped_stats() if t.count_date not in given] + list(tables)


def _in_any(tables: Sequence[StatsTable], code: str) -> bool:
    try:
        key = normalize_dantai_code(code)
    except StatsFormatError:
        return False
    return any(key in t for t in tables)


def stats_actuals(tables: Sequence[StatsTable], code: str | None) -> tuple[dict[str, Actual], list[str], MonthlyActuals]:
    """The municipality's month-ends in the statistics, and notes on what was not used."""

    if not code:
        raise UnreadableInput(None, "計画の団体コードが未入力のため、公表統計の市区町村を特定できません")
    try:
        points = actual_cumulative_by_month(tables, code)
    except StatsFormatError:
        raise UnreadableInput(None, f"計画の団体コード「{code}」が6桁の団体コードとして読めません") from None
    except StatsLookupError as exc:
        raise UnreadableInput(None, f"{exc}（指定した公表統計 {len(tables)} ファイル）") from None
    notes = []
    for p in points.as_of_points:
        notes.append(f"{p.source}（交付件数基準日 {p.count_date:%Y/%m/%d}）は月の途中の値のため使っていません。")
    for d in points.duplicates:
        notes.append(f"{month_label(d.month)}末を表す統計が複数あります: {d.chosen} を使い、{'、'.join(d.discarded)} は使っていません。")
    return actuals_from_stats(points), notes, points


# ---------------------------------------------------------------- reports


def _json_actual(a: Actual | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "month": a.month,
        "actual_cumulative": to_json_number(a.cumulative),
        "source": a.source,
        "count_date": a.count_date.isoformat() if a.count_date else None,
        "official_population": to_json_number(a.official_population),
        "official_population_date": a.official_population_date.isoformat() if a.official_population_date else None,
        "official_rate": to_json_number(a.official_rate_pct / 100) if a.official_rate_pct is not None else None,
    }


def _population_base(fu: FollowUp) -> dict[str, Any]:
    date = fu.population_date.isoformat() if fu.population_date else None
    return {
        "basis": "plan",
        "population": to_json_number(fu.population),
        "date": date,
        "description": (
            f"率はすべて計画の人口 {_cards(fu.population)} 人（住民基本台帳、{date or '基準日未入力'}）に対する値です。"
            "公表統計の率は人口算出基準日が毎年秋に変わるため、参考として official_rate に示します。"
        ),
    }


def followup_json(fu: FollowUp) -> dict[str, Any]:
    """The ``check --json`` object (schema 1) with the follow-up added: series
    ``actual_cumulative`` / ``actual_rate`` and the object ``followup``."""

    result = make_result(fu.plan, fu.findings, fu.schedule, fu.source)
    data = result.to_json()
    column_actuals = fu.column_actuals()
    data["series"]["actual_cumulative"] = [to_json_number(v) for v in column_actuals]
    data["series"]["actual_rate"] = [to_json_number(_rate(v, fu.population)) for v in column_actuals]
    req = fu.required
    data["followup"] = {
        "as_of": fu.as_of,
        "population_base": _population_base(fu),
        "month_end_rule": MONTH_END_RULE,
        "months": [
            {
                "month": r.month,
                "label": month_label(r.month),
                "plan_cumulative": to_json_number(r.plan_cumulative),
                "plan_rate": to_json_number(r.plan_rate),
                "actual_cumulative": to_json_number(r.actual_cumulative),
                "actual_rate": to_json_number(r.actual_rate),
                "gap_cards": to_json_number(r.gap_cards),
                "gap_rate": to_json_number(r.gap_rate),
                "months_behind": to_json_number(r.months_behind),
                "actual": _json_actual(r.actual),
            }
            for r in fu.months
        ],
        "verdicts": [
            {
                "checkpoint": v.checkpoint.month,
                "title": v.checkpoint.title,
                "column": v.column,
                "lower_bound": to_json_number(v.lower_pct / 100),
                "upper_bound": to_json_number(v.upper_pct / 100),
                "lower_cards": to_json_number(v.lower_cards),
                "plan_cumulative": to_json_number(v.plan_cumulative),
                "plan_rate": to_json_number(v.plan_rate),
                "actual_cumulative": to_json_number(v.actual.cumulative if v.actual else None),
                "actual_rate": to_json_number(v.actual_rate),
                "gap_cards": to_json_number(v.gap_cards),
                "gap_rate": to_json_number(_rate(v.gap_cards, fu.population)),
                "status": v.status,
                "met": v.met,
                "basis": v.basis,
                "actual": _json_actual(v.actual),
                "evidence": [_json_actual(a) for a in v.evidence],
            }
            for v in fu.verdicts
        ],
        "required_monthly": None if req is None else {
            "from": req.from_month,
            "current_cumulative": to_json_number(req.current),
            "checkpoint": req.checkpoint.month if req.checkpoint else None,
            "months_left": req.months_left,
            "target_rate": to_json_number(req.target_rate),
            "target_cards": to_json_number(req.target_cards),
            "cards_needed": to_json_number(req.cards_needed),
            "monthly": to_json_number(req.monthly),
            "plan_monthly": to_json_number(req.plan_monthly),
            "recent_monthly": to_json_number(req.recent_monthly),
            "recent_months": req.recent_months,
            "staff_needed": to_json_number(req.staff_needed),
        },
        "notes": fu.notes,
    }
    return data


_STATUS_JA = {"ok": "範囲内（下限値以上）", "below": "下限値未満", "above": "上限値超（下限値以上）"}


def _verdict_line(fu: FollowUp, v: Verdict) -> str:
    head = f"{v.checkpoint.title}: 国の下限値 {v.lower_pct}%（{_cards(v.lower_cards)} 枚）"
    plan = f"計画 {_cards(v.plan_cumulative)} 枚（{_pct(v.plan_rate)}）"
    if v.basis == "pending":
        return f"{head}、{plan} → まだ到来していません"
    if v.basis == "actual" and v.actual is not None:
        official = f"、公表 {v.actual.official_rate_pct}%" if v.actual.official_rate_pct is not None else ""
        gap = f" 計画との差 {_cards(v.gap_cards, sign=True)} 枚（{_pts(_rate(v.gap_cards, fu.population))} ポイント）" if v.gap_cards is not None else ""
        return f"{head}、{plan}、実績 {_cards(v.actual.cumulative)} 枚（{_pct(v.actual_rate)}{official}、{v.actual.source}）{gap} → {_STATUS_JA.get(v.status or '', '判定できません')}"
    near = "、".join(f"{month_label(a.month)}末 {_cards(a.cumulative)} 枚（{_pct(_rate(a.cumulative, fu.population))}）" for a in v.evidence)
    if v.met is None:
        return f"{head}、{plan}、実績 その月末の統計なし（前後: {near or 'なし'}）→ 判定できません"
    verdict = _STATUS_JA[v.status] if v.status else "下限値以上（上限値との関係は不明）"
    return f"{head}、{plan}、実績 その月末の統計なし（前後: {near}）→ {verdict}（前後の実績から判定）"


def render_followup_text(fu: FollowUp) -> str:
    """The Japanese follow-up report."""
    b = fu.plan.basic
    lines = [f"計画と実績の比較（フォローアップ）: {b.prefecture or ''}{b.municipality or ''}（団体コード {b.dantai_code or '未入力'}）"]
    if fu.source:
        lines.append(f"計画: {fu.source}")
    if fu.actuals:
        sources = sorted({a.source for a in fu.actuals.values()})
        shown = "、".join(sources[:3]) + (f" ほか {len(sources) - 3} 件" if len(sources) > 3 else "")
        lines.append(f"実績: {month_label(min(fu.actuals))}末〜{month_label(max(fu.actuals))}末の {len(fu.actuals)} か月（{shown}）")
    else:
        lines.append("実績: なし")
    if fu.as_of:
        lines.append(f"時点: {month_label(fu.as_of)}末")
    lines.append(
        f"率の分母: 計画の人口 {_cards(fu.population)} 人（住民基本台帳 {wareki_date(fu.population_date) if fu.population_date else '基準日未入力'}）。"
        "計画・実績・国の下限値/上限値を同じ分母で比べます。公表の率は人口算出基準日が毎年秋に変わるため参考として示します。"
    )
    lines.append(f"月末値: {MONTH_END_RULE}")
    lines.append("")
    lines.append("■ 国のチェックポイント")
    for v in fu.verdicts:
        lines.append("  " + _verdict_line(fu, v))
    lines.append("")
    lines.append("■ 次のチェックポイントまで")
    req = fu.required
    if req is None:
        lines.append("  実績がないため計算できません。")
    elif req.checkpoint is None:
        lines.append(f"  {month_label(req.from_month)}末の実績 {_cards(req.current)} 枚。{_required_text(req)}")
    else:
        lines.append(f"  {month_label(req.from_month)}末の実績 {_cards(req.current)} 枚。{_required_text(req)}")
        if req.monthly:
            extra = []
            if req.recent_monthly is not None:
                extra.append(f"直近 {req.recent_months} か月の実績は月 {_cards(req.recent_monthly)} 枚")
            if req.plan_monthly is not None:
                extra.append(f"計画では月 {_cards(req.plan_monthly)} 枚")
            if req.staff_needed is not None:
                p = fu.plan.parameters
                extra.append(f"必要な職員は {_cards(req.staff_needed)} 人（処理能力 月{_cards(p.capacity_cards_per_month)}枚につき{format_value(p.capacity_staff)}人）")
            if extra:
                lines.append("  （" + "、".join(extra) + "）")
    lines.append("")
    lines.append("■ 月別（実績のある月）")
    lines.append("  年月        計画累計    実績累計  実績の率  公表の率（人口）        差（枚）  差（pt）  遅れ（か月）  出典")
    for r in fu.months:
        if r.actual is None:
            continue
        a = r.actual
        official = f"{a.official_rate_pct}%（{_cards(a.official_population)}）" if a.official_rate_pct is not None else "—"
        behind = "—" if r.months_behind is None else f"{round_half_up(r.months_behind, 1)}"
        lines.append(
            f"  {month_label(r.month):<9} {_cards(r.plan_cumulative):>10} {_cards(r.actual_cumulative):>10} {_pct(r.actual_rate):>8}  "
            f"{official:<22} {_cards(r.gap_cards, sign=True):>9} {_pts(r.gap_rate):>7} {behind:>10}  {a.source}"
        )
    for note in fu.notes:
        lines.append(f"  注: {note}")
    lines.append("")
    c = fu.counts
    lines.append(f"結果: エラー {c['error']} 件、警告 {c['warning']} 件、情報 {c['info']} 件")
    for sev in Severity:
        group = [f for f in sort_findings(fu.findings) if f.severity is sev]
        if group:
            lines.append(f"■ {sev.ja}（{len(group)} 件）")
            lines.extend(f"  [{f.rule}] {f.message}" for f in group)
    return "\n".join(lines)


# ---------------------------------------------------------------- the live book: 「実績取込」


class ActualsSurface(Protocol):
    """What 「実績取込」 needs of a workbook (:class:`kofu_xl.excel.BookSurface` has it)."""

    book_name: str
    book_dir: Path | None

    def cells(self) -> CellSource: ...

    def write_values(self, sheet: str, cell: str, rows: list[list[Any]]) -> None:
        """Write a block of values with its top-left corner at ``cell``."""
        ...


@dataclass
class ImportOutcome:
    message: str
    result: FollowUp
    written: list[str]  # months filled from the statistics
    files: int


def stats_files(book_dir: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The folder of statistics for a book: $KOFU_STATS_DIR, else 公表統計 beside the book."""
    env = os.environ if env is None else env
    configured = env.get(STATS_DIR_ENV)
    if configured:
        return Path(os.path.expandvars(os.path.expanduser(configured)))
    if book_dir is not None and (book_dir / STATS_FOLDER).is_dir():
        return book_dir / STATS_FOLDER
    return None


def _runs(months: Sequence[str], wanted: set[str]) -> list[list[str]]:
    """Consecutive runs of ``months`` (in order) that are in ``wanted``."""
    runs: list[list[str]] = []
    current: list[str] = []
    for m in months:
        if m in wanted:
            current.append(m)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _excel_number(value: Decimal | None) -> Any:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def import_into(surface: ActualsSurface, paths: Sequence[str | os.PathLike[str]]) -> ImportOutcome:
    """「実績取込」: read the statistics, fill the actual rows of 実績比較 for the months they
    describe (typed values of other months stay) and summarise the follow-up in Japanese.

    Only the input rows 実績 交付枚数（累計）, 公表値 人口 and 公表値 交付枚数率 of 実績比較 are
    written; no other cell of the book.
    """

    src = surface.cells()
    if FOLLOWUP not in src.sheet_names():
        raise UnreadableInput(surface.book_name, f"シート「{FOLLOWUP}」がありません。新しい様式のワークブック（kofu-xl new / kofu-xl build）で実行してください")
    raw, layout = read_plan_raw(src, surface.book_name)
    plan, _ = load_plan(raw)
    tables = read_stats_paths(paths)
    stats, notes, _points = stats_actuals(tables, plan.basic.dantai_code)
    typed, _reading = actuals_from_sheet(read_followup_raw(src, layout), layout)
    months = layout.followup_months
    written = [m for m in months if m in stats]
    horizon = set(months)
    # everything is computed before the first write: a failure leaves the book as it was
    fu = follow_up(plan, merge_actuals({m: a for m, a in stats.items() if m in horizon}, typed), notes=notes, source=surface.book_name)
    daily = layout.locate_findings(daily_findings(plan, raw.get(SHEET_FACTS_KEY)))
    writes: list[tuple[str, list[list[Any]]]] = []
    for path, value_of in (
        ("followup.actual_cumulative", lambda a: _excel_number(a.cumulative)),
        ("followup.official_population", lambda a: _excel_number(a.official_population)),
        ("followup.official_rate", lambda a: None if a.official_rate_pct is None else float(a.official_rate_pct / 100)),
    ):
        for run in _runs(months, set(written)):
            _sheet, cell = layout.fu_cell(path, run[0])
            writes.append((cell, [[value_of(stats[m]) for m in run]]))
    lines = [f"公表統計から実績を取り込みました: {plan.basic.prefecture or ''}{plan.basic.municipality or ''}（団体コード {plan.basic.dantai_code}）"]
    if written:
        lines.append(f"・{month_label(written[0])}末〜{month_label(written[-1])}末のうち {len(written)} か月分（公表統計 {len(tables)} ファイル）")
    else:
        lines.append(f"・計画の期間（{month_label(months[0])}〜{month_label(months[-1])}）の月末を表す統計はありませんでした（{len(tables)} ファイル）")
    lines.append(f"・率の分母: 計画の人口 {_cards(fu.population)} 人（公表の率は人口の基準日が異なるため参考）")
    lines.append("")
    lines.append("国のチェックポイント:")
    for v in fu.verdicts:
        state = (
            "まだ到来していません" if v.basis == "pending"
            else f"実績 {_cards(v.actual.cumulative)} 枚（{_pct(v.actual_rate)}）→ {_STATUS_JA.get(v.status or '', '判定できません')}" if v.actual
            else "統計なし → 判定できません" if v.met is None
            else f"統計なし（前後の実績から）→ {_STATUS_JA[v.status] if v.status else '下限値以上'}"
        )
        lines.append(f"・{month_label(v.checkpoint.month)}末（下限値 {v.lower_pct}%）: {state}")
    if fu.required is not None:
        lines.append("")
        lines.append(f"{month_label(fu.required.from_month)}末の実績 {_cards(fu.required.current)} 枚。{_required_text(fu.required)}")
    if daily:
        c = count_by_severity(daily)
        lines.append("")
        lines.append(f"日次実績の確認: エラー {c['error']} 件、警告 {c['warning']} 件")
        for f in sort_findings(daily)[:3]:
            lines.append(f"・{f.message}")
        if len(daily) > 3:
            lines.append(f"・ほか {len(daily) - 3} 件")
    lines.append("")
    lines.append(f"「{FOLLOWUP}」シートと「推移グラフ」を確認してください。")
    for cell, rows in writes:
        surface.write_values(FOLLOWUP, cell, rows)
    return ImportOutcome("\n".join(lines), fu, written, len(tables))


# ---------------------------------------------------------------- the use case


def run_followup(path: Path | None, stats: Sequence[str | os.PathLike[str]] = (), as_of: str | None = None) -> FollowUp:
    """Follow up the plan of ``path`` (None: the shipped plan) with the statistics ``stats``
    and the actuals typed on its 実績比較, as at the end of ``as_of`` ("YYYY-MM" or as typed).

    The 日次実績 findings are the catalogue's, from the same reader ``check`` uses.
    """
    if as_of:
        try:
            as_of = parse_month(as_of)
        except CalendarError as exc:
            raise UnreadableInput(None, f"--as-of「{as_of}」: {exc.reason}") from None
    typed: dict[str, Actual] = {}
    sheet_findings: list[Finding] = []
    layout: Layout | None = None
    if path is not None and path.suffix.lower() in (".xlsx", ".xlsm"):
        src = GridSource.from_path(path, sheets=PLAN_SHEETS)  # the plan's sheets, as check reads them
        raw, layout = read_plan_raw(src, path)
        if FOLLOWUP in src.sheet_names():
            typed, sheet_findings = actuals_from_sheet(read_followup_raw(src, layout), layout)
    else:
        raw = load_raw(path)[0] if path else shipped_plan_raw()
    plan, _ = load_plan({k: v for k, v in raw.items() if k != SHEET_FACTS_KEY})
    sheet_findings += daily_findings(plan, raw.get(SHEET_FACTS_KEY))
    notes: list[str] = []
    actual_stats: dict[str, Actual] = {}
    if stats or plan.basic.dantai_code:
        # the shipped statistics, plus the publications given
        given = read_stats_paths(stats) if stats else []
        tables = with_shipped_stats(given)
        code = plan.basic.dantai_code
        if given or _in_any(tables, code):
            actual_stats, notes, _points = stats_actuals(tables, code)
        else:
            notes.append(f"団体コード「{code}」の市区町村は同梱の公表統計（2019年4月〜2022年12月）にありません。")
        horizon = set(plan_months(plan.columns))
        actual_stats = {m: a for m, a in actual_stats.items() if m in horizon}
    actuals = merge_actuals(actual_stats, typed)
    if not actuals:
        raise UnreadableInput(
            path,
            "比べる実績がありません（計画の期間の月末を表す公表統計も、実績比較シートの入力もありません）。"
            "計画の団体コードを確かめるか、--stats で新しい公表統計の CSV ファイル（またはそのフォルダー）を指定してください",
        )
    if not plan.basic.population:
        raise UnreadableInput(path, "計画の人口（本表1-1 人口）が未入力のため、交付枚数率を比べられません")
    fu = follow_up(plan, actuals, as_of=as_of, notes=notes, source=str(path) if path else SHIPPED_PLAN_SOURCE)
    fu.findings = fu.findings + sheet_findings
    if layout is not None:
        fu.findings = layout.locate_findings(fu.findings)
    return fu
