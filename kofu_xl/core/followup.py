"""Plan against actual, the pure part: actuals, the plan per month, verdicts at the national
checkpoints and the monthly issuance still required (the follow-up of a submitted plan).

The decisions behind every figure (one denominator, month-ends, the plan per month, verdicts,
required monthly issuance, actuals outside the Plan) are described in
:mod:`kofu_xl.app.followup`, which reads the statistics and workbooks and reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from msgspec import Struct, field

from kofu_xl.core.calc import Derived, bound_status, coverage_rate, derive, rate_pct, staff_needed
from kofu_xl.core.calendar import Column, month_label, month_range
from kofu_xl.core.findings import Finding, HasFindings, RuleSpec, Severity, register
from kofu_xl.core.model import Plan
from kofu_xl.core.numbers import CTX, round_half_up
from kofu_xl.core.schedule import Checkpoint, Schedule, default_schedule

Num = Decimal | None

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
ACTUAL_ABOVE_POPULATION = _spec(
    "actual-above-population",
    Severity.ERROR,
    "実績が人口を超えている",
    "実績の累計交付枚数が、計画の人口（と公表統計の人口）を超えています。ありえない値のため、この月末の実績は判定に使いません。",
    "公表統計のファイル（または実績比較シートの入力）の値を確認し、正しい値にしてください。",
    "公表統計 交付枚数、実績比較 実績 交付枚数（累計）、本表1-1 人口",
    "{column}末の実績 {actual} 枚（出典 {source}）は人口 {expected} 人を超えています。ありえない値のため判定に使いません。値を確認してください。",
)
ACTUAL_DECREASING = _spec(
    "actual-decreasing",
    Severity.ERROR,
    "実績の累計が減っている",
    "実績の累計交付枚数が、前の月末より減っています。累計は減らないため、どちらかの値が誤っています。",
    "公表統計のファイル（または実績比較シートの入力）の両方の月末の値を確認してください。",
    "公表統計 交付枚数、実績比較 実績 交付枚数（累計）",
    "{column}末の実績 {actual} 枚（出典 {source}）は、{before}末の {expected} 枚（出典 {before_source}）より少なくなっています。累計は減らないため、値を確認してください。",
)
# ---------------------------------------------------------------- actuals


class Actual(Struct, frozen=True):
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
    """:class:`Actual` per month from :func:`kofu_xl.app.stats.actual_cumulative_by_month`."""
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


class MonthRow(Struct, frozen=True):
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


class Verdict(Struct, frozen=True):
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


class Required(Struct, frozen=True):
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


class FollowUp(Struct, HasFindings):
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
    actuals, implausible = plausible_actuals(actuals, pop)
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
    fu.findings = implausible + _findings(fu)
    return fu


def plausible_actuals(actuals: Mapping[str, Actual], population: Num) -> tuple[dict[str, Actual], list[Finding]]:
    """The actuals that can be true, and an error finding for each that cannot.

    A cumulative count above the population (the plan's, or the statistics' own when larger)
    is left out of every judgement; a cumulative that goes down from one month-end to a
    later one is reported (either figure may be the wrong one) and both stay.
    """
    path = "followup.actual_cumulative"
    label = "実績 交付枚数（累計）"
    kept: dict[str, Actual] = {}
    findings: list[Finding] = []
    for month, a in sorted(actuals.items()):
        limit = max(x for x in (population, a.official_population, Decimal(0)) if x is not None)
        if limit and a.cumulative > limit:
            findings.append(Finding(ACTUAL_ABOVE_POPULATION, label, path, month, expected=limit, actual=a.cumulative, params={"source": a.source}))
            continue
        kept[month] = a
    peak: Actual | None = None
    for month, a in kept.items():
        if peak is not None and a.cumulative < peak.cumulative:
            findings.append(
                Finding(
                    ACTUAL_DECREASING,
                    label,
                    path,
                    month,
                    expected=peak.cumulative,
                    actual=a.cumulative,
                    params={"source": a.source, "before": month_label(peak.month), "before_source": peak.source},
                )
            )
        if peak is None or a.cumulative >= peak.cumulative:
            peak = a
    return kept, findings


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

