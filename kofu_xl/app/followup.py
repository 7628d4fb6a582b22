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
  month-end is :func:`kofu_xl.stats.month_end_for` (a 交付件数基準日 on the 1st is the end of
  the previous month: 20200801.csv → 2020-07; on the last day, that month; mid-month files
  such as 20190916.csv describe no month-end and are not used).
* **The plan per month.** Monthly columns are the plan's own month-ends; a fiscal-year column
  (R3年度 15,000) is spread evenly over its 12 months, as the staffing calculation does
  (:func:`kofu_xl.calc.monthly_volume`).
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

The core (:func:`follow_up`, :func:`plan_by_month`, :func:`months_behind`,
:func:`required_monthly`, :func:`daily_findings`) is pure. The edges below it read
statistics and workbooks, fill 実績比較 in a live book (:func:`import_into`, the ribbon's
「実績取込」) and run ``kofu-xl followup``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kofu_xl.core.numbers import CTX, NumberError, parse_number, round_half_up, to_json_number
from kofu_xl.core.calc import Derived, bound_status, coverage_rate, derive, rate_pct, staff_needed
from kofu_xl.core.calendar import Column, month_label, month_range, wareki_date
from kofu_xl.core.findings import Finding, HasFindings, RuleSpec, Severity, count_by_severity, format_value, register, sort_findings
from kofu_xl.core.model import IMPLEMENTED, UNDECIDED, Plan
from kofu_xl.core.schedule import Checkpoint, Schedule, default_schedule

if TYPE_CHECKING:
    from kofu_xl.book.layout import Layout
    from kofu_xl.app.stats import MonthlyActuals, StatsTable
    from kofu_xl.book.read import CellSource

__all__ = [
    "ACTUAL_BEHIND",
    "ACTUAL_BELOW",
    "ACTUAL_UNKNOWN",
    "DAILY_CLOSED",
    "DAILY_OUTSIDE",
    "DAILY_OVERWRITTEN",
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
    "add_followup_parser",
    "cmd_followup",
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
    "target_cards",
]

Num = Decimal | None

STATS_DIR_ENV = "KOFU_STATS_DIR"  # a folder of statistics CSVs for 「実績取込」
STATS_FOLDER = "公表統計"  # else this folder beside the workbook

MONTH_END_RULE = (
    "交付件数基準日が月の初日のファイルは前月末の累計（20200801.csv → 2020年7月末）、"
    "月末日のファイルはその月末の累計とします。月の途中の日付のファイル（20190916.csv など）は月末値として使いません。"
)

# ---------------------------------------------------------------- rule specs


def _spec(slug: str, severity: Severity, title: str, description: str, fix: str, fields: str, template: str) -> RuleSpec:
    return register(RuleSpec(slug, severity, title, description, fix, fields, template))


ACTUAL_BELOW = _spec(
    "actual-below-lower-bound",
    Severity.ERROR,
    "実績が国の下限値未満",
    "チェックポイントの月末の実績（公表統計の累計交付枚数）の交付枚数率が、国の全体スケジュールに基づく下限値を下回りました。"
    "率は計画の人口（本表1-1 の人口）に対する値で、様式と同じ小数第1位の%で比べます。",
    "次のチェックポイントまでに必要な月当たり交付枚数（実績比較シートの最下行）を目安に、窓口・職員・統合端末の増強、"
    "休日開庁、出張申請受付などで交付を増やしてください。",
    "実績比較 実績 交付枚数（累計）、本表1-1 人口、国の下限値",
    "{column}末の実績は国の下限値 {expected}%（{checkpoint}）を下回りました: {detail}",
)
ACTUAL_BEHIND = _spec(
    "actual-behind-plan",
    Severity.WARNING,
    "実績が計画を下回っている",
    "最新の月末の実績（累計交付枚数）が、計画の同じ月末の累計を下回っています（年度の列は12か月に均等に割り振って比べます）。",
    "計画との差と、次のチェックポイントまでに必要な月当たり交付枚数を確認し、交付体制と申請勧奨を見直してください。",
    "実績比較 実績 交付枚数（累計）、本表1-1 交付枚数（累計）",
    "{column}末の実績 {actual} 枚は計画 {expected} 枚を {gap} 枚（{gap_points} ポイント）下回っています{behind}。{next}",
)
ACTUAL_UNKNOWN = _spec(
    "actual-checkpoint-unknown",
    Severity.INFO,
    "チェックポイントの実績がない",
    "チェックポイントの月末の実績がなく、前後の月末の実績からも国の下限値との関係を判定できません。",
    "その月末の交付枚数（累計）を実績比較シートに入力するか、その月末を表す公表統計を指定してください。",
    "実績比較 実績 交付枚数（累計）",
    "{column}末の実績がないため、国の下限値 {expected}%（{checkpoint}）と比べられません。{detail}",
)
DAILY_OUTSIDE = _spec(
    "daily-outside-month",
    Severity.ERROR,
    "日次実績が月の外のマスにある",
    "日次実績のカレンダーで、その月の日付のないマス（前月・翌月の位置）に件数が入力されています。そのマスはどの合計にも入りません。",
    "件数をその日の月の表の、その日のマスに入力し直し、月の外のマスは空欄にしてください。",
    "日次実績 各月のカレンダー（6週×7日のマス）",
    "{column}の表の月の外のマス（{day}の位置）に「{actual}」が入力されています。この件数はどの合計にも入りません。{day}の件数は{target}の表に入力してください。",
)
DAILY_CLOSED = _spec(
    "daily-closed-day",
    Severity.WARNING,
    "閉庁日の日次実績",
    "土曜・日曜の件数が、計画の④土日・夜間開庁（土日）の開始時期より前の日に入力されています（その日は閉庁の計画です）。",
    "日付を確認してください。既に土日開庁を実施していた場合は、④土日・夜間開庁の開始時期を見直してください。",
    "日次実績、④土日・夜間開庁 開始時期 土日",
    "{field}（{day}、{weekday}曜日）に {actual} 件ありますが、土日開庁の開始は{start}で、この日は閉庁の計画です。日付か開始時期を確認してください。",
)
DAILY_OVERWRITTEN = _spec(
    "daily-total-overwritten",
    Severity.WARNING,
    "日次実績の合計が計算式でない",
    "日次実績の曜日別合計・月合計のセルが、計算式ではなく手入力の値（または空欄）になっています。日ごとの件数を直しても合計は変わらず、本表1-1 の実績にも反映されません。",
    "合計のセルを計算式に戻してください（メッセージの計算式を入力します）。",
    "日次実績 曜日別合計・月合計",
    "{field}{col}が計算式ではなく{state}です。計算式 {expected} に戻してください。",
)

_WEEKDAYS = "月火水木金土日"

# ---------------------------------------------------------------- actuals


@dataclass(frozen=True)
class Actual:
    """The cumulative count at one month-end and where it comes from."""

    month: str  # "2020-07": the month whose end the count describes
    cumulative: Decimal
    source: str  # "20200801.csv" or "実績比較!J10"
    as_of: dt.date | None = None  # the day the count describes (2020-07-31)
    count_date: dt.date | None = None  # 交付件数基準日 as printed (2020-08-01)
    official_population: Decimal | None = None  # 総数（人口） of the statistics' base
    official_population_date: dt.date | None = None  # 人口算出基準日
    official_rate_pct: Decimal | None = None  # 人口に対する交付枚数率 as published (%)


def actuals_from_stats(points: Mapping[str, Any]) -> dict[str, Actual]:
    """:class:`Actual` per month from :func:`kofu_xl.stats.actual_cumulative_by_month`."""
    return {
        month: Actual(
            month,
            Decimal(p.cumulative_issued),
            p.source,
            p.as_of,
            p.count_date,
            Decimal(p.population),
            p.population_base_date,
            p.rate_pct,
        )
        for month, p in points.items()
        if month is not None
    }


def merge_actuals(primary: Mapping[str, Actual], fallback: Mapping[str, Actual]) -> dict[str, Actual]:
    """The statistics (``primary``) where they describe a month, typed values elsewhere."""
    merged = dict(fallback)
    merged.update(primary)
    return dict(sorted(merged.items()))


# ---------------------------------------------------------------- pure calculations


def _index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def plan_months(columns: Sequence[Column]) -> list[str]:
    """Every month the plan covers: its first month to the end of its last column (R5年3月)."""
    return month_range(columns[0].months[0], columns[-1].last_month) if columns else []


def plan_by_month(columns: Sequence[Column], cumulative: Sequence[Num]) -> dict[str, Num]:
    """The plan's cumulative count at each month-end of :func:`plan_months`, in month order.

    A month column is the plan's own figure. A fiscal-year column's issuance is spread evenly
    over its months, from the cumulative of the column before it (31,831 at R3年3月 and
    R3年度 15,000: R3年4月 32,081, … R4年3月 46,831); without that starting point only the
    year's last month has a value.
    """
    out: dict[str, Num] = dict.fromkeys(plan_months(columns))
    prev_month: str | None = None
    prev_value: Num = None
    for col, value in zip(columns, cumulative, strict=True):
        months = col.months
        if col.is_month:
            out[col.key] = value
        else:
            n = len(months)
            follows = prev_month is not None and _index(prev_month) + 1 == _index(months[0])
            start = prev_value if follows else None
            for k, month in enumerate(months, start=1):
                if k == n or value is None or start is None:
                    out[month] = value if k == n else None
                else:
                    out[month] = start + CTX.divide((value - start) * k, Decimal(n))
        prev_month, prev_value = col.last_month, value
    return out


def months_behind(plan: Mapping[str, Num], month: str, actual: Decimal) -> Num:
    """How many months earlier the plan reached ``actual`` (0 when on or ahead of plan).

    The plan is taken to grow evenly within each month: 白井市's 9,722 at R元年10月 were
    planned for 209/350 of the way through October (9,581 → 9,931), 0.597 months earlier.
    None when the month has no plan, or when the plan started above ``actual`` (it is
    behind by more than the plan shows).
    """
    months = list(plan)
    if month not in plan or plan[month] is None:
        return None
    i = months.index(month)
    if actual >= plan[month]:  # type: ignore[operator]
        return Decimal(0)
    j = next(k for k in range(i + 1) if plan[months[k]] is not None and plan[months[k]] >= actual)  # type: ignore[operator]
    if j == 0:
        return None
    reached, before = plan[months[j]], plan[months[j - 1]]
    assert reached is not None
    if before is None:  # a gap in the plan: whole months only
        return Decimal(i - j)
    return Decimal(i - j) + CTX.divide(reached - actual, reached - before)


def target_cards(rate: Decimal, population: Decimal) -> Decimal:
    """The cards a rate of the population means, rounded up: 23.5 % of 63,723 = 14,975."""
    return CTX.multiply(rate, population).to_integral_value(rounding=ROUND_CEILING)


def required_monthly(current: Decimal, target_rate: Decimal, population: Decimal, months_left: Decimal | int) -> Decimal:
    """Cards a month needed from ``current`` to reach ``target_rate`` of ``population`` in
    ``months_left`` months: ⌈(⌈rate × population⌉ − current) / months⌉, 0 when reached.

    白井市 at the end of R2年5月: 11,523 cards, 23.5 % of 63,723 = 14,975 by the end of
    R2年7月 (2 months) → ⌈3,452 / 2⌉ = 1,726 a month.
    """
    months = Decimal(months_left)
    if months <= 0 or months != months.to_integral_value():
        raise ValueError("months_left must be a whole number of months, at least 1")
    if population <= 0:
        raise ValueError("population must be positive")
    needed = max(Decimal(0), target_cards(target_rate, population) - current)
    return CTX.divide(needed, months).to_integral_value(rounding=ROUND_CEILING)


def _shown(rate: Num) -> Num:
    return rate_pct(rate)


# ---------------------------------------------------------------- the follow-up


@dataclass(frozen=True)
class MonthRow:
    """One month of the plan against the actual."""

    month: str
    plan_cumulative: Num
    plan_rate: Num
    actual: Actual | None
    actual_rate: Num  # actual / the plan's population
    gap_cards: Num  # actual − plan
    gap_rate: Num  # (actual − plan) / the plan's population
    months_behind: Num

    @property
    def actual_cumulative(self) -> Num:
        return None if self.actual is None else self.actual.cumulative


@dataclass(frozen=True)
class Verdict:
    """One national checkpoint: met or missed."""

    checkpoint: Checkpoint
    column: str | None  # the plan column standing for it ("2020-07", "FY2021")
    lower_pct: Decimal
    upper_pct: Decimal
    lower_cards: Num  # ⌈lower bound × the plan's population⌉
    plan_cumulative: Num
    plan_rate: Num
    actual: Actual | None  # the checkpoint's own month-end figure
    actual_rate: Num
    status: str | None  # "ok" / "below" / "above"; None when not settled
    met: bool | None  # the lower bound reached; None when not settled
    basis: str  # "actual", "inferred" (from figures around it), "no_data", "pending"
    evidence: tuple[Actual, ...] = ()

    @property
    def gap_cards(self) -> Num:
        if self.actual is None or self.plan_cumulative is None:
            return None
        return self.actual.cumulative - self.plan_cumulative


@dataclass(frozen=True)
class Required:
    """The issuance needed from the latest actual month to the next checkpoint."""

    from_month: str
    current: Decimal
    checkpoint: Checkpoint | None
    months_left: int | None = None
    target_rate: Num = None  # the lower bound as a fraction
    target_cards: Num = None
    cards_needed: Num = None
    monthly: Num = None
    plan_monthly: Num = None  # what the plan itself foresaw a month over the same months
    recent_monthly: Num = None  # the actual pace of the last (up to) three months
    recent_months: int | None = None
    staff_needed: Num = None  # at the plan's capacity parameter


@dataclass
class FollowUp(HasFindings):
    plan: Plan
    derived: Derived
    schedule: Schedule
    population: Num
    population_date: dt.date | None
    as_of: str | None  # the latest month-end the comparison uses
    actuals: dict[str, Actual]  # the month-ends used (up to as_of)
    months: list[MonthRow]
    verdicts: list[Verdict]
    required: Required | None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # Japanese: what was skipped and why
    source: str | None = None

    @property
    def by_month(self) -> dict[str, MonthRow]:
        return {r.month: r for r in self.months}

    def column_actuals(self) -> list[Num]:
        """The actual cumulative at each plan column's last month (a fiscal year at its end)."""
        return [a.cumulative if (a := self.actuals.get(c.last_month)) else None for c in self.plan.columns]


def _rate(count: Num, population: Num) -> Num:
    return coverage_rate(count, population)


def _around(actuals: Mapping[str, Actual], month: str) -> tuple[Actual | None, Actual | None]:
    before = [m for m in actuals if m < month]
    after = [m for m in actuals if m > month]
    return (actuals[max(before)] if before else None, actuals[min(after)] if after else None)


def _verdict(cp: Checkpoint, plan: Plan, schedule: Schedule, plan_cum: Mapping[str, Num], used: Mapping[str, Actual], as_of: str | None, pop: Num) -> Verdict:
    column = next((c.key for c in plan.columns if c.last_month == cp.month), None)
    lower, upper = schedule.lower_pct(cp), schedule.upper_pct(cp)
    lower_cards = target_cards(lower / 100, pop) if pop else None
    planned = plan_cum.get(cp.month)
    common = dict(
        checkpoint=cp, column=column, lower_pct=lower, upper_pct=upper, lower_cards=lower_cards,
        plan_cumulative=planned, plan_rate=_rate(planned, pop),
    )
    if as_of is None or cp.month > as_of:
        return Verdict(**common, actual=None, actual_rate=None, status=None, met=None, basis="pending")
    actual = used.get(cp.month)
    if actual is not None:
        rate = _rate(actual.cumulative, pop)
        status = bound_status(rate, lower, upper)
        return Verdict(**common, actual=actual, actual_rate=rate, status=status, met=None if status is None else status != "below", basis="actual")
    before, after = _around(used, cp.month)
    s_before = bound_status(_rate(before.cumulative, pop), lower, upper) if before else None
    s_after = bound_status(_rate(after.cumulative, pop), lower, upper) if after else None
    # Cumulative counts never decrease: the checkpoint lies between its neighbours.
    met = False if s_after == "below" else True if s_before in ("ok", "above") else None
    if met is False:
        status = "below"
    elif s_before == "above":
        status = "above"
    elif s_before == "ok" and s_after == "ok":
        status = "ok"
    else:
        status = None
    evidence = tuple(a for a in (before, after) if a is not None)
    return Verdict(**common, actual=None, actual_rate=None, status=status, met=met, basis="inferred" if met is not None else "no_data", evidence=evidence)


def _required(plan: Plan, schedule: Schedule, plan_cum: Mapping[str, Num], used: Mapping[str, Actual], latest: str, pop: Num) -> Required:
    current = used[latest].cumulative
    cp = next((c for c in schedule.checkpoints if c.month > latest), None)
    if cp is None or not pop:
        return Required(latest, current, cp)
    months_left = _index(cp.month) - _index(latest)
    rate = schedule.lower_pct(cp) / 100
    target = target_cards(rate, pop)
    monthly = required_monthly(current, rate, pop, months_left)
    p_from, p_to = plan_cum.get(latest), plan_cum.get(cp.month)
    plan_monthly = CTX.divide(p_to - p_from, Decimal(months_left)) if p_from is not None and p_to is not None else None
    recent, recent_n = None, None
    for k in (3, 2, 1):
        earlier = used.get(_month(_index(latest) - k))
        if earlier is not None:
            recent, recent_n = CTX.divide(current - earlier.cumulative, Decimal(k)), k
            break
    p = plan.parameters
    return Required(
        latest, current, cp, months_left, rate, target, max(Decimal(0), target - current), monthly,
        plan_monthly, recent, recent_n, staff_needed(monthly, p.capacity_cards_per_month, p.capacity_staff),
    )


def _pts(rate: Num) -> str:
    """A difference of rates in points, one decimal with its sign: -0.031260 -> "-3.1"."""
    return "—" if rate is None else f"{round_half_up(rate * 100, 1):+}"


def _cards(value: Num, sign: bool = False) -> str:
    if value is None:
        return "—"
    whole = int(round_half_up(value, 0))
    return f"{whole:+,}" if sign else f"{whole:,}"


def _pct(rate: Num) -> str:
    return "—" if rate is None else f"{rate_pct(rate)}%"


def _required_text(req: Required | None) -> str:
    if req is None:
        return ""
    if req.checkpoint is None:
        return "国の全体スケジュールのチェックポイントはすべて過ぎています。"
    if req.monthly is None:
        return ""
    if req.monthly == 0:
        return f"次のチェックポイント（{month_label(req.checkpoint.month)}末）の下限値には既に達しています。"
    return (
        f"次のチェックポイント（{month_label(req.checkpoint.month)}末、下限値 {req.target_rate * 100:.1f}%）までの"
        f"残り {req.months_left} か月に、月 {_cards(req.monthly)} 枚の交付が必要です。"
    )


def follow_up(
    plan: Plan,
    actuals: Mapping[str, Actual],
    *,
    schedule: Schedule | None = None,
    as_of: str | None = None,
    notes: Sequence[str] = (),
    source: str | None = None,
) -> FollowUp:
    """Compare the plan with the actual month-end counts (``{"YYYY-MM": Actual}``).

    ``as_of`` ("YYYY-MM") follows up as at the end of that month: later figures are ignored
    and later checkpoints are pending. By default, the latest month with a figure.
    """
    schedule = schedule or default_schedule()
    derived = derive(plan, schedule.bounds_by_column(plan.columns))
    pop = plan.basic.population if plan.basic.population else None
    plan_cum = plan_by_month(plan.columns, derived.cumulative)
    used = {m: a for m, a in sorted(actuals.items()) if as_of is None or m <= as_of}
    latest = max(used) if used else None
    as_of = as_of if as_of is not None else latest
    rows: list[MonthRow] = []
    for month, planned in plan_cum.items():
        actual = used.get(month)
        gap = None if actual is None or planned is None else actual.cumulative - planned
        rows.append(
            MonthRow(
                month,
                planned,
                _rate(planned, pop),
                actual,
                _rate(actual.cumulative, pop) if actual else None,
                gap,
                _rate(gap, pop) if gap is not None else None,
                months_behind(plan_cum, month, actual.cumulative) if actual else None,
            )
        )
    verdicts = [_verdict(cp, plan, schedule, plan_cum, used, as_of, pop) for cp in schedule.checkpoints]
    required = _required(plan, schedule, plan_cum, used, latest, pop) if latest else None
    fu = FollowUp(plan, derived, schedule, pop, plan.basic.population_date, as_of, used, rows, verdicts, required, notes=list(notes), source=source)
    fu.findings = _findings(fu)
    return fu


def _findings(fu: FollowUp) -> list[Finding]:
    out: list[Finding] = []
    path = "followup.actual_cumulative"
    field_label = "実績 交付枚数率"
    for v in fu.verdicts:
        cp = v.checkpoint
        month = cp.month
        if v.met is False:
            if v.actual is not None:
                short = (v.lower_cards - v.actual.cumulative) if v.lower_cards is not None else None
                detail = (
                    f"実績 {_cards(v.actual.cumulative)} 枚（{_pct(v.actual_rate)}、出典 {v.actual.source}）で、"
                    f"下限値の {_cards(v.lower_cards)} 枚に {_cards(short)} 枚足りませんでした。"
                )
                shown = _shown(v.actual_rate)
            else:
                after = v.evidence[-1]
                rate = _rate(after.cumulative, fu.population)
                detail = (
                    f"{month_label(month)}末の実績はありませんが、その後の{month_label(after.month)}末の実績 "
                    f"{_cards(after.cumulative)} 枚（{_pct(rate)}、出典 {after.source}）でも下限値の "
                    f"{_cards(v.lower_cards)} 枚に届いていないため、下限値未満と判定しました。"
                )
                shown = _shown(rate)
            out.append(Finding(ACTUAL_BELOW, field_label, path, month, expected=v.lower_pct, actual=shown, params={"checkpoint": cp.title, "detail": detail}))
        elif v.basis == "no_data":
            near = "、".join(f"{month_label(a.month)}末 {_cards(a.cumulative)} 枚" for a in v.evidence)
            detail = f"前後の実績（{near}）からも判定できません。" if near else ""
            out.append(Finding(ACTUAL_UNKNOWN, field_label, path, month, expected=v.lower_pct, params={"checkpoint": cp.title, "detail": detail}))
    latest = fu.as_of if fu.as_of in fu.actuals else (max(fu.actuals) if fu.actuals else None)
    row = fu.by_month.get(latest) if latest else None
    if row is not None and row.gap_cards is not None and row.gap_cards < 0:
        behind = row.months_behind
        behind_text = f"（計画の約 {round_half_up(behind, 1)} か月前の水準）" if behind else ""
        out.append(
            Finding(
                ACTUAL_BEHIND,
                "実績 交付枚数（累計）",
                path,
                row.month,
                expected=round_half_up(row.plan_cumulative, 0),
                actual=row.actual_cumulative,
                params={"gap": _cards(-row.gap_cards), "gap_points": f"{round_half_up(-row.gap_rate * 100, 1)}" if row.gap_rate is not None else "—", "behind": behind_text, "next": _required_text(fu.required)},
            )
        )
    return out


# ---------------------------------------------------------------- 日次実績: the sheet-level checks


def _weekend_start(plan: Plan) -> str | None:
    """The month weekend openings start, UNDECIDED for none, None when the plan does not say."""
    return plan.openings.weekend_start


def daily_findings(
    plan: Plan,
    *,
    outside: Iterable[tuple[str, dt.date, str, Any]] = (),
    totals: Mapping[tuple[str, int], tuple[bool, Any, str, str]] | None = None,
) -> list[Finding]:
    """The 日次実績 sheet-level checks.

    * ``daily-closed-day``: a weekend count on a day before the plan's weekend openings start
      (④土日・夜間開庁 開始時期 土日; all weekends when 未定(実施予定なし); skipped when empty).
    * ``daily-outside-month``: ``outside`` = (block month, the day the position stands for,
      cell, value) of every value typed in a calendar position outside its month.
    * ``daily-total-overwritten``: ``totals`` = {(month, 0..7): (holds a formula, value, cell,
      the builder's formula)} for the totals under each calendar; None when unknown (a live
      book read as values only, or a JSON plan): the check is skipped.
    """
    from kofu_xl.book.layout import DAILY

    out: list[Finding] = []
    start = _weekend_start(plan)
    if start is not None and start != IMPLEMENTED:  # openings already run: every weekend may count
        start_text = "未定（実施予定なし）" if start == UNDECIDED else month_label(start, short=False)
        for day, count in sorted(plan.daily.days.items()):
            if day.weekday() < 5 or count <= 0:
                continue
            if start == UNDECIDED or f"{day.year}-{day.month:02d}" < start:
                out.append(
                    Finding(DAILY_CLOSED, "日次実績 交付枚数", "daily.days", day.isoformat(), actual=count,
                            params={"day": wareki_date(day), "weekday": _WEEKDAYS[day.weekday()], "start": start_text})
                )
    for month, day, cell, value in outside:
        out.append(
            Finding(DAILY_OUTSIDE, "日次実績 交付枚数", "daily.outside", month, actual=value,
                    params={"day": wareki_date(day), "target": month_label(f"{day.year}-{day.month:02d}", short=False)},
                    sheet=DAILY, cell=cell)
        )
    for (month, index), (has_formula, value, cell, formula) in sorted((totals or {}).items()):
        if has_formula:
            continue
        label = "日次実績 月合計" if index == 7 else f"日次実績 {_WEEKDAYS[index]}曜日の合計"
        state = "空欄" if value is None else f"値「{format_value(value) if not isinstance(value, str) else value}」"
        out.append(
            Finding(DAILY_OVERWRITTEN, label, "daily.total" if index == 7 else "daily.weekday", month,
                    expected=formula, actual=value, params={"state": state}, sheet=DAILY, cell=cell)
        )
    return out


def daily_sheet_facts(src: CellSource, layout: Layout, formulas: Mapping[str, bool] | None) -> tuple[list[tuple[str, dt.date, str, Any]], dict[tuple[str, int], tuple[bool, Any, str, str]] | None]:
    """What :func:`daily_findings` needs of a 日次実績 sheet: the values outside each month
    (all 6 × 7 positions are read) and, when ``formulas`` ({cell: holds a formula}) is known,
    the state of each totals cell."""
    from kofu_xl.book.read import read_daily_outside

    outside = read_daily_outside(src, layout)
    if formulas is None:
        return outside, None
    from kofu_xl.book.layout import DAILY

    totals: dict[tuple[str, int], tuple[bool, Any, str, str]] = {}
    for month, block in layout.daily_blocks.items():
        for index, cell in block.total_cells():
            row, col = _rc(cell)
            value = src.value(DAILY, row, col)
            totals[(month, index)] = (formulas.get(cell, False), value, cell, _daily_formula(block, index))
    return outside, totals


def _rc(cell: str) -> tuple[int, int]:
    from kofu_xl.ooxml.cellref import parse_ref

    return parse_ref(cell)


def _daily_formula(block: Any, index: int) -> str:
    """The formula the builder writes in a totals cell (kofu_xl.build._sheet_daily)."""
    if index == 7:
        return f"=SUM({block.weekday_total_cell(0)}:{block.weekday_total_cell(6)})"
    return "=SUM(" + ",".join(c for d, _dc, c in block.cells() if d.weekday() == index) + ")"


def daily_formula_cells(path: str | os.PathLike[str]) -> dict[str, bool] | None:
    """{cell: holds a formula} for every cell of the 日次実績 sheet of a .xlsx/.xlsm, read from
    the sheet's XML (python-calamine gives values only); None without such a sheet."""
    from kofu_xl.book.layout import DAILY
    from kofu_xl.ooxml.package import _main_part, _read_package, _Scanner, _sheet_parts

    parts = _read_package(Path(path).read_bytes())
    part = dict(_sheet_parts(parts, _main_part(parts))).get(DAILY)
    if part is None or part not in parts:
        return None
    scan = _Scanner(parts[part]).run()
    if scan is None:
        return None
    from kofu_xl.ooxml.cellref import ref

    return {ref(c.col, c.row): c.f is not None for c in scan.cells}


# ---------------------------------------------------------------- reading 実績比較


def actuals_from_sheet(raw: Mapping[str, Mapping[str, Any]], layout: Layout) -> tuple[dict[str, Actual], list[Finding]]:
    """Typed actuals of 実績比較 (``raw`` from :func:`kofu_xl.workbook.read_followup_raw`):
    {month: Actual} and a finding per value that is not a count."""
    from kofu_xl.book.layout import FOLLOWUP
    from kofu_xl.core.model import NEGATIVE, NOT_A_NUMBER, NORMALIZED, Meta

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


# ---------------------------------------------------------------- statistics


def read_stats_paths(paths: Iterable[str | os.PathLike[str]]) -> list[StatsTable]:
    """Statistics CSVs from files and folders (a folder: every *.csv in it, by name).

    Raises :class:`kofu_xl.sources.UnreadableInput` naming the file (and the line) of the
    first file that cannot be read.
    """
    from kofu_xl.book.sources import UnreadableInput
    from kofu_xl.app.stats import StatsFormatError, StatsLookupError, read_stats

    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.csv"))
            if not found:
                raise UnreadableInput(p, "公表統計の CSV ファイル（*.csv）がありません")
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
    """The shipped publications (:func:`kofu_xl.stats.shipped_stats`) plus ``tables``; a
    given table replaces a shipped one of the same 交付件数基準日."""
    from .stats import shipped_stats

    given = {t.count_date for t in tables}
    return [t for t in shipped_stats() if t.count_date not in given] + list(tables)


def _in_any(tables: Sequence[StatsTable], code: str) -> bool:
    from .stats import StatsFormatError, normalize_dantai_code

    try:
        key = normalize_dantai_code(code)
    except StatsFormatError:
        return False
    return any(key in t for t in tables)


def stats_actuals(tables: Sequence[StatsTable], code: str | None) -> tuple[dict[str, Actual], list[str], MonthlyActuals]:
    """The municipality's month-ends in the statistics, and notes on what was not used."""
    from kofu_xl.book.sources import UnreadableInput
    from kofu_xl.app.stats import StatsFormatError, StatsLookupError, actual_cumulative_by_month

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
    from kofu_xl.app.report import make_result

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
    from kofu_xl.book.layout import FOLLOWUP
    from kofu_xl.core.model import load_plan
    from kofu_xl.book.sources import UnreadableInput
    from kofu_xl.book.read import read_daily_outside, read_followup_raw, read_plan_raw

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
    daily = layout.locate_findings(daily_findings(plan, outside=read_daily_outside(src, layout)))
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


# ---------------------------------------------------------------- the command line


def add_followup_parser(sub: Any) -> None:
    """Register ``kofu-xl followup`` on the CLI's subparsers."""
    f = sub.add_parser("followup", help="計画と実績（公表統計）を比べる（ファイルは変更しない）")
    f.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    f.add_argument("--stats", nargs="+", metavar="CSV", help="同梱の公表統計（2019年4月〜2022年12月）に加える公表統計の CSV ファイル、または CSV のあるフォルダー（複数可）")
    f.add_argument("--as-of", dest="as_of", metavar="YYYY-MM", help="この月末時点で比べる（それより後の統計は使わない）")
    f.add_argument("--json", action="store_true", help="結果を JSON で出力する（check --json の形に実績を追加）")
    f.set_defaults(func=cmd_followup)


def cmd_followup(args: argparse.Namespace) -> int:
    from kofu_xl.core.calendar import CalendarError, parse_month
    from kofu_xl.cli import EXIT_ERRORS, EXIT_OK, _default_path
    from kofu_xl.core.model import load_plan
    from kofu_xl.book.sources import UnreadableInput, load_raw, shipped_plan_raw

    path = Path(args.path) if args.path else _default_path()
    as_of = None
    if args.as_of:
        try:
            as_of = parse_month(args.as_of)
        except CalendarError as exc:
            raise UnreadableInput(None, f"--as-of「{args.as_of}」: {exc.reason}") from None
    typed: dict[str, Actual] = {}
    sheet_findings: list[Finding] = []
    if path is not None and path.suffix.lower() in (".xlsx", ".xlsm"):
        from kofu_xl.book.layout import DAILY, FOLLOWUP
        from kofu_xl.book.read import GridSource, read_followup_raw, read_plan_raw

        src = GridSource.from_path(path)
        raw, layout = read_plan_raw(src, path)
        plan, _ = load_plan(raw)
        if FOLLOWUP in src.sheet_names():
            typed, sheet_findings = actuals_from_sheet(read_followup_raw(src, layout), layout)
        if DAILY in src.sheet_names():
            outside, totals = daily_sheet_facts(src, layout, daily_formula_cells(path))
            sheet_findings += layout.locate_findings(daily_findings(plan, outside=outside, totals=totals))
        else:
            sheet_findings += daily_findings(plan)
    else:
        raw = load_raw(path)[0] if path else shipped_plan_raw()
        plan, _ = load_plan(raw)
        sheet_findings += daily_findings(plan)
    notes: list[str] = []
    stats: dict[str, Actual] = {}
    if args.stats or plan.basic.dantai_code:
        given = read_stats_paths(args.stats) if args.stats else []
        tables = with_shipped_stats(given)
        code = plan.basic.dantai_code
        if given or _in_any(tables, code):
            stats, notes, _points = stats_actuals(tables, code)
        else:
            notes.append(f"団体コード「{code}」の市区町村は同梱の公表統計（2019年4月〜2022年12月）にありません。")
        horizon = set(plan_months(plan.columns))
        stats = {m: a for m, a in stats.items() if m in horizon}
    actuals = merge_actuals(stats, typed)
    if not actuals:
        raise UnreadableInput(
            path,
            "比べる実績がありません（計画の期間の月末を表す公表統計も、実績比較シートの入力もありません）。"
            "計画の団体コードを確かめるか、--stats で新しい公表統計の CSV ファイル（またはそのフォルダー）を指定してください",
        )
    if not plan.basic.population:
        raise UnreadableInput(path, "計画の人口（本表1-1 人口）が未入力のため、交付枚数率を比べられません")
    fu = follow_up(plan, actuals, as_of=as_of, notes=notes, source=str(path) if path else "同梱の計画（白井市 令和元年10月3日）")
    fu.findings = fu.findings + sheet_findings
    if path is not None and path.suffix.lower() in (".xlsx", ".xlsm"):
        fu.findings = layout.locate_findings(fu.findings)
    if args.json:
        sys.stdout.write(json.dumps(followup_json(fu), ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(render_followup_text(fu) + "\n")
    return EXIT_ERRORS if fu.has_errors else EXIT_OK
