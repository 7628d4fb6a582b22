"""計画案: a first draft of ② 交付枚数, ⑤ 職員配置数 and their cost, from the national schedule.

Pure core (no I/O): :func:`propose` takes a plan (its 基礎情報, the issuance it already has —
actuals typed or taken from the statistics — the staff on hand, the capacity parameter and
the cost working), the national schedule and a few :class:`Choices`, and returns a
:class:`Proposal`: the monthly ② for every column of the form, the cumulative count and rate,
the staff each column needs at the capacity rule (1,000 cards a month need 6 staff unless the
plan says otherwise), what that staffing adds to 本表1-2, and for each checkpoint whether its
target is met or by how many cards it is out of reach. :func:`apply_proposal` puts the
proposal into a copy of the plan (the workbook writers and 「計画案を採用」 use it).

The problem
-----------
Unknowns: the issuance ``x`` of each column the proposal may change (from ``first_month``
on; a fiscal-year column is 12 equal months, its *level* is its value / 12). Constraints:

* whole cards, ``x >= 0``;
* the cumulative count at each checkpoint column reaches its target
  ``ceil(pct / 100 × population)`` (pct = the printed 下限値, or the middle of the band);
* the level never rises by more than ``max_step`` cards a month over the previous column
  (the first changed column included: from the last fixed one);
* the level never exceeds what ``max_staff`` can serve (``max_staff × cards / staff``);
* between two checkpoints the level never decreases (it may drop right after one, and
  from the last fixed month into the first changed one).

The algorithm: no solver
------------------------
The constraints are a chain of one-sided bounds, which makes every question the
construction asks monotone, so bisections over whole numbers answer them exactly — about
2 ms a municipality (bench/propose_bench.py), with nothing beyond the standard library. A
MILP solver would need a lexicographic objective (targets first, then the least cumulative
per checkpoint, then the flattest shape) as a sequence of solves, would sit outside the pure
core (which imports only core) and, for this objective, would give the same plan:

1. **Reach.** ``U_t = min(cap, U_{t-1} + step)`` (the fastest ramp the office can run) is
   the pointwise largest feasible plan: any feasible ``x_t <= min(cap, x_{t-1} + step) <=
   U_t`` by induction. So a checkpoint can be met at all iff ``U``'s cumulative reaches
   it; otherwise the shortfall in cards is exact, and the target is lowered to what ``U``
   reaches (the closest plan: every earlier column at its maximum).
2. **Least cumulative, segment by segment.** For the columns up to the next checkpoint
   (first to last), with L the value of the segment's last column: need(L) is the least
   segment sum that keeps every later target reachable by the fastest ramp from L (it falls
   as L rises) and low(L) the least segment from which L is reachable within the step (its
   sum rises with L). The segment gets the least sum S >= its own target for which some L
   has need(L) <= S and sum(low(L)) <= S — found where the two cross, by bisection, in
   integers. So each checkpoint gets exactly its target (aim "lower": the printed 下限値)
   unless a later one needs a head start, and then only as much as it needs.
3. **Levelled.** Within the segment the sum is spread with a water level
   ``y_i = max(low_i, min(v_i, h))`` under the fastest ramp ``v``: non-decreasing, within the
   step, as flat as the lower envelope allows; lowering the earliest months at level h by
   one card hits the exact sum (with a step of 0 the level stays whole).
4. **After the last checkpoint** (R4年度) the plan keeps the pace of the column before,
   never beyond the population.

Staff per column is :func:`kofu_xl.core.calc.staff_needed` of the column's monthly volume, the
form's own rule. Staff beyond those on hand are counted as 臨時・非常勤職員: staff-months ×
a monthly cost (``Choices.monthly_temporary_yen``; by default the plan's own working, e.g.
白井市 R2年度 6,360,000円 / 48 人月 = 132,500円), added to the 積算's 臨時・非常勤 所要額 (円)
and rounded up to 千円 as the form does (:func:`kofu_xl.core.calc.senyen`). Everything is exact
(int, Fraction, Decimal); no float.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from msgspec import Struct, field

from ..errors import ProposalError
from . import calc
from .calendar import Column, fiscal_year, fiscal_year_label, month_label
from .model import CostYear, Declared, Plan, Staff, Working
from .schedule import Schedule

__all__ = [
    "DEFAULT_MONTHLY_TEMPORARY_YEN",
    "CheckpointOutcome",
    "Choices",
    "CostEffect",
    "Proposal",
    "ProposalError",
    "apply_proposal",
    "propose",
]

Aim = Literal["lower", "middle"]

DEFAULT_MONTHLY_TEMPORARY_YEN = Decimal(132500)
"""One temporary staff for a month when the plan's working cannot tell: 白井市's R2年度 working
(臨時・非常勤職員 4名体制 6,360,000円 = 48 人月)."""


class Choices(Struct, frozen=True):
    aim: Aim = "lower"
    max_step: int | None = None  # largest rise of the monthly level over the previous column (cards)
    first_month: str | None = None  # first month the proposal may change; default: after the actuals
    max_staff: Decimal | None = None  # staff the office can field at most (a capacity cap)
    staff_on_hand: Decimal | None = None  # overrides ⑤職員配置数 合計 of the plan
    monthly_temporary_yen: Decimal | None = None  # cost of one added staff for a month (円)


class CheckpointOutcome(Struct, frozen=True):
    month: str  # "2020-07"
    column: str  # column key ("2020-07", "FY2021")
    label: str  # "R2年7月末"
    lower_pct: Decimal
    upper_pct: Decimal
    target_pct: Decimal
    target_cards: int  # ceil(target_pct / 100 × population)
    cumulative: int
    rate: Decimal  # exact fraction
    status: str | None  # below / ok / above (as the form shows the rate)
    reachable: bool
    shortfall: int  # cards missing against the target (0 when met)
    fixed: bool  # the checkpoint lies before the first month the proposal may change


class CostEffect(Struct, frozen=True):
    """What the added staff do to one 本表1-2 year."""

    key: str  # "FY2020"
    label: str  # "R2年度"
    staff_months: Decimal
    unit_yen: Decimal
    added_yen: Decimal
    temporary_yen_before: Decimal
    temporary_yen_after: Decimal
    senyen_before: Decimal  # 臨時・非常勤 (千円, rounded up) from the working before
    senyen_after: Decimal
    added_senyen: Decimal


class Proposal(Struct, frozen=True):
    columns: list[Column]
    first_changed: int  # index of the first column the proposal set
    issuance: list[Decimal | None]  # the base column (R元年8月(実績)) keeps what the plan has, maybe nothing
    current: list[Decimal | None]  # the plan's own ② before the proposal
    cumulative: list[Decimal]
    rate: list[Decimal]  # exact fractions
    monthly_volume: list[Decimal | None]
    staff_needed: list[Decimal | None]
    staff_on_hand: list[Decimal]
    staff_added: list[Decimal]
    checkpoints: list[CheckpointOutcome]
    costs: list[CostEffect]
    peak: Decimal  # the highest monthly level the proposal sets
    choices: Choices
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[bool]:
        return [i >= self.first_changed for i in range(len(self.columns))]

    @property
    def out_of_reach(self) -> list[CheckpointOutcome]:
        return [c for c in self.checkpoints if not c.reachable]


# ---------------------------------------------------------------- the construction


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def _floor(x: Fraction) -> int:
    return x.numerator // x.denominator


class _Unit(Struct):
    weight: int  # months in the column
    fixed_value: int | None  # set when the column may not change


class _Ramps:
    """The fastest ramps under the caps, in whole numbers.

    Levels (cards a month) are kept multiplied by ``scale`` (12: a fiscal-year column's level
    is its value / 12), so every comparison is exact integer arithmetic.
    """

    def __init__(self, units: Sequence[_Unit], cap: Fraction | None, step: int | None) -> None:
        self.units = units
        self.scale = 12
        self.cap = None if cap is None else _floor(cap * self.scale)
        self.step = None if step is None else step * self.scale

    def level(self, value: int, j: int) -> int:
        """The scaled level of column j holding ``value`` (rounded down for fiscal years)."""
        return value * self.scale // self.units[j].weight

    def run(self, first: int, start: int | None, last: int | None = None) -> list[int]:
        """Values of columns first..last (default: to the end), each at min(cap, previous + step)."""
        out: list[int] = []
        prev = start
        stop = len(self.units) if last is None else last + 1
        for j in range(first, stop):
            u = self.units[j]
            if u.fixed_value is not None:
                value = u.fixed_value
            else:
                bound = self.cap
                if prev is not None and self.step is not None:
                    bound = prev + self.step if bound is None else min(bound, prev + self.step)
                value = _UNBOUNDED if bound is None else max(0, bound * u.weight // self.scale)
            out.append(value)
            prev = self.level(value, j)
        return out


_UNBOUNDED = 10**12  # a column with neither a step nor a cap: more than any municipality needs


def _fill_to(v: list[int], low: list[int], target: int, *, split: bool = True) -> list[int]:
    """Values between low and v (both non-decreasing), non-decreasing, summing to target.

    ``split`` False (a step limit of 0: no month may rise by even one card) keeps the water
    level whole, so the sum may exceed the target by less than one card a column.
    """
    if target >= sum(v):
        return list(v)
    if target <= sum(low):
        return list(low)

    def f(h: int) -> int:
        return sum(max(lo, min(hi, h)) for lo, hi in zip(low, v, strict=True))

    lo_h, hi_h = 0, min(max(v), target)  # f(hi_h) >= target: sum(v) > target, or one term reaches it
    while lo_h < hi_h:  # least h with f(h) >= target
        mid = (lo_h + hi_h) // 2
        if f(mid) >= target:
            hi_h = mid
        else:
            lo_h = mid + 1
    h = lo_h
    y = [max(lo, min(hi, h)) for lo, hi in zip(low, v, strict=True)]
    excess = sum(y) - target if split else 0
    for i in range(len(y)):  # lower the earliest months at level h by one card
        if excess == 0:
            break
        if y[i] == h and low[i] <= h - 1:
            y[i] -= 1
            excess -= 1
    return y


def _least(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The least x in [lo, hi] with ok(x) (ok monotone, ok(hi) assumed)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _segment(values: list[int], ramps: _Ramps, seg: list[int], goal: int, later: list[tuple[int, int]], start: int | None, notes: list[str]) -> None:
    """Set the columns ``seg`` (ending at a checkpoint) in ``values``.

    For an end value L of the segment, need(L) is the least segment sum that keeps every
    ``later`` goal reachable by the fastest ramp from L (non-increasing in L), and low(L) the
    least segment from which L can be reached within the step (its sum non-decreasing in L).
    The segment gets the least sum S >= its own goal with some L where need(L) <= S and
    sum(low(L)) <= S — found where the two cross, by bisection — and the most level shape of
    sum S above low(L) (:func:`_fill_to`).
    """
    if not seg:
        return
    units = ramps.units
    weights = {units[j].weight for j in seg}
    if len(weights) != 1:
        notes.append("月の列と年度の列が同じ区間にあるため、その区間は最大の計画のままにしました")
        return
    w = weights.pop()
    n = len(seg)
    prev = ramps.level(values[seg[0] - 1], seg[0] - 1) if seg[0] > 1 else start
    v = ramps.run(seg[0], prev, seg[-1])  # the fastest from the previous column
    before = sum(values[1 : seg[0]])
    rest = seg[-1] + 1
    memo: dict[int, int] = {}

    def need(end: int) -> int:
        if end not in memo:
            ramp = ramps.run(rest, ramps.level(end, seg[-1])) if later and ramps.step is not None else None
            if ramp is None and later:
                ramp = ramps.run(rest, None)
            worst, cum = 0, 0
            for j, value in zip(range(rest, len(units)), ramp or [], strict=False):
                cum += value
                for i, g in later:
                    if i == j:
                        worst = max(worst, g - before - cum)
            memo[end] = worst
        return memo[end]

    def low(end: int) -> list[int]:
        if ramps.step is None:
            return [0] * n
        return [min(v[p], max(0, end - (n - 1 - p) * step_cards)) for p in range(n)]

    step_cards = 0 if ramps.step is None else ramps.step * w // ramps.scale
    top = v[-1]
    if need(top) > sum(v):
        return  # cannot happen when the goals came from the fastest ramp; keep the fastest
    if ramps.step is None:  # the rest does not depend on how this segment ends
        total = min(sum(v), max(goal - before, need(0), 0))
        for j, value in zip(seg, _fill_to(v, [0] * n, total), strict=True):
            values[j] = value
        return

    def cost(e: int) -> int:
        return max(need(e), sum(low(e)))

    cross = _least(0, top, lambda e: need(e) <= sum(low(e)))
    valley = cost(cross) if cross == 0 else min(cost(cross), cost(cross - 1))
    total = min(sum(v), max(goal - before, valley, 0))
    end = _least(0, top, lambda e: need(e) <= total)
    for j, value in zip(seg, _fill_to(v, low(end), total, split=step_cards > 0), strict=True):
        values[j] = value


def propose(plan: Plan, schedule: Schedule, choices: Choices | None = None, actuals: Mapping[str, Decimal] | None = None) -> Proposal:
    """The plan's proposal; see the module docstring. Raises :class:`ProposalError`."""
    ch = choices or Choices()
    cols = plan.columns
    pop = plan.basic.population
    base = plan.basic.base_issued
    if pop is None or pop <= 0:
        raise ProposalError("本表1-1 の人口が未入力です。人口を入力してから計画案を作成してください")
    if base is None:
        raise ProposalError("本表1-1 の交付枚数（基準日時点）が未入力です。入力してから計画案を作成してください")
    if ch.max_step is not None and ch.max_step < 0:
        raise ProposalError("月当たりの増加の上限は 0 以上で指定してください")
    if ch.max_staff is not None and ch.max_staff < 0:
        raise ProposalError("職員数の上限は 0 以上で指定してください")
    params = plan.parameters
    current = plan.series("issuance")
    given = {c.key: v for c, v in zip(cols, current, strict=True)}
    for key, value in (actuals or {}).items():
        if key in given:
            given[key] = value
    notes: list[str] = []

    # the first column the proposal may change
    actual_through = params.actual_through
    first = 1
    for i, c in enumerate(cols):
        if i > 0 and actual_through is not None and c.last_month <= actual_through:
            first = i + 1
    if ch.first_month is not None:
        wanted = next((i for i, c in enumerate(cols) if c.last_month >= ch.first_month), len(cols))
        if wanted < first:
            notes.append(f"{month_label(ch.first_month)}は実績の月のため、{cols[first].label if first < len(cols) else '最後の列'}から計画案を作成しました")
        first = max(first, wanted)
    for i in range(1, first):
        if given[cols[i].key] is None:
            notes.append(f"{cols[i].label}の②交付枚数が未入力のため、その列から計画案を作成しました")
            first = i
            break
    first = max(first, 1)

    units = [
        _Unit(len(c.months), None if i >= first else int(given[c.key] or 0))
        for i, c in enumerate(cols)
    ]
    base_i = int(base)
    population = Fraction(int(pop)) if pop == pop.to_integral_value() else Fraction(str(pop))
    cap = None
    if ch.max_staff is not None:
        cap = Fraction(str(ch.max_staff)) * Fraction(str(params.capacity_cards_per_month)) / Fraction(str(params.capacity_staff))
    step = ch.max_step
    ramps = _Ramps(units, cap, step)
    first_value = given[cols[0].key]  # the base month's own issuance (R元年8月(実績))
    start = None if first_value is None else ramps.level(int(first_value), 0)

    # checkpoints and their targets
    cps: list[tuple[int, object, Decimal, Decimal, Decimal, int]] = []
    for i, c in enumerate(cols):
        cp = schedule.checkpoint_for_column(c)
        if cp is None:
            continue
        lo, up = schedule.lower_pct(cp), schedule.upper_pct(cp)
        pct = lo if ch.aim == "lower" else (lo + up) / 2
        target = _ceil(Fraction(str(pct)) * population / 100) - base_i
        cps.append((i, cp, lo, up, pct, target))

    # 1. reach: the fastest ramp
    fastest = [0, *ramps.run(1, start)]
    goals = {i: min(target, sum(fastest[1 : i + 1])) for i, *_rest, target in cps if i >= first}

    # 2. segment by segment (between checkpoints), the least cumulative that keeps every later
    # target within reach, levelled: see _segment
    values = list(fastest)
    cp_idx = sorted(goals)
    seg_start = first
    for end in cp_idx:
        seg = list(range(seg_start, end + 1))
        seg_start = end + 1
        later = [(i, goals[i]) for i in cp_idx if i > end]
        _segment(values, ramps, seg, goals[end], later, start, notes)

    # 3. after the last checkpoint: keep the pace, never beyond the population
    tail_from = max((cp_idx[-1] + 1) if cp_idx else first, first)
    for j in range(tail_from, len(units)):
        pace = ramps.level(values[j - 1], j - 1) if j > 1 else (start or 0)
        bound = pace if ramps.cap is None else min(pace, ramps.cap)
        room = _floor(population) - base_i - sum(values[1:j])
        values[j] = max(0, min(bound * units[j].weight // ramps.scale, room))

    # outcome
    issuance: list[Decimal | None] = [given[cols[0].key]] + [Decimal(v) for v in values[1:]]
    for i in range(1, first):
        issuance[i] = Decimal(given[cols[i].key])
    cumulative = calc.cumulative(Decimal(base_i), issuance)
    rate = [calc.coverage_rate(c, Decimal(int(pop)) if pop == pop.to_integral_value() else pop) for c in cumulative]
    cards, per = params.capacity_cards_per_month, params.capacity_staff
    volume = [calc.monthly_volume(c, v) for c, v in zip(cols, issuance, strict=True)]
    needed = [calc.staff_needed(m, cards, per) for m in volume]
    on_hand_series = plan.series("staff.total")
    on_hand = [ch.staff_on_hand if ch.staff_on_hand is not None else (s if s is not None else Decimal(0)) for s in on_hand_series]
    added = [max(Decimal(0), n - h) if i >= first and n is not None else Decimal(0) for i, (n, h) in enumerate(zip(needed, on_hand, strict=True))]

    outcomes = []
    for i, cp, lo_pct, up_pct, pct, target in cps:
        cum = int(cumulative[i])
        need = target + base_i
        outcomes.append(
            CheckpointOutcome(
                month=cp.month,
                column=cols[i].key,
                label=f"{month_label(cp.month)}末",
                lower_pct=lo_pct,
                upper_pct=up_pct,
                target_pct=pct,
                target_cards=need,
                cumulative=cum,
                rate=rate[i],
                status=calc.bound_status(rate[i], lo_pct, up_pct),
                reachable=cum >= need,
                shortfall=max(0, need - cum),
                fixed=i < first,
            )
        )
    peak = max((Decimal(values[j]) / units[j].weight for j in range(first, len(units))), default=Decimal(0))
    return Proposal(
        columns=cols,
        first_changed=first,
        issuance=issuance,
        current=list(current),
        cumulative=cumulative,
        rate=rate,
        monthly_volume=volume,
        staff_needed=needed,
        staff_on_hand=on_hand,
        staff_added=added,
        checkpoints=outcomes,
        costs=_costs(plan, cols, added, ch),
        peak=peak,
        choices=ch,
        notes=notes,
    )


# ---------------------------------------------------------------- cost


@functools.lru_cache(maxsize=256)
def _fy(month: str) -> int:
    return fiscal_year(month)


def temporary_staff_months(plan: Plan, fy: int) -> Decimal | None:
    """臨時・非常勤 staff-months of a fiscal year from ⑤'s parts; None unless all 12 months are columns."""
    months = 0
    total = Decimal(0)
    parts = [plan.series(f"staff.{p}") for p in Staff.PARTS if p.endswith("temporary")]
    for i, c in enumerate(plan.columns):
        if _fy(c.months[0]) != fy:
            continue
        months += len(c.months)
        total += sum((s[i] or Decimal(0) for s in parts), Decimal(0)) * len(c.months)
    return total if months == 12 else None


def monthly_temporary_yen(plan: Plan) -> Decimal:
    """The cost of one temporary staff for a month from the plan's own working (latest year
    that gives a whole yen), else :data:`DEFAULT_MONTHLY_TEMPORARY_YEN`."""
    for key in reversed(plan.cost_keys):
        w = plan.working.get(key)
        months = temporary_staff_months(plan, int(key[2:]))
        if w is None or w.temporary_yen is None or not months:
            continue
        unit = calc.CTX.divide(w.temporary_yen, months)
        if unit == unit.to_integral_value() and unit > 0:
            return unit
    return DEFAULT_MONTHLY_TEMPORARY_YEN


def _costs(plan: Plan, cols: list[Column], added: list[Decimal], ch: Choices) -> list[CostEffect]:
    unit = ch.monthly_temporary_yen if ch.monthly_temporary_yen is not None else monthly_temporary_yen(plan)
    out = []
    for key in plan.cost_keys:
        fy = int(key[2:])
        months = sum((a * len(c.months) for c, a in zip(cols, added, strict=True) if _fy(c.months[0]) == fy), Decimal(0))
        before = (plan.working.get(key) or Working()).temporary_yen or Decimal(0)
        added_yen = calc.CTX.multiply(months, unit)
        after = before + added_yen
        s_before, s_after = calc.senyen(before), calc.senyen(after)
        out.append(
            CostEffect(key, fiscal_year_label(fy), months, unit, added_yen, before, after, s_before, s_after, s_after - s_before)
        )
    return out


# ---------------------------------------------------------------- into a plan


def apply_proposal(plan: Plan, proposal: Proposal) -> Plan:
    """A copy of the plan with the proposal's ②, ⑤ and 臨時・非常勤 cost in place.

    Only the columns the proposal set change; the derived rows as printed (``declared``) are
    dropped, since they described the old figures. ⑤: the added staff go to 本庁 臨時・非常勤;
    a column without parts gets the staff on hand as 本庁 正規; the total is the sum of the
    parts. 本表1-2 changes only in the years where staff are added: 臨時・非常勤 (千円,
    rounded up from the working's 円), I. and ① as the sums of their parts.
    """
    new = copy.deepcopy(plan)
    cols = proposal.columns
    n = len(cols)
    first = proposal.first_changed
    issuance = list(plan.series("issuance"))
    staff = {p: list(plan.series(f"staff.{p}")) for p in (*Staff.PARTS, "total")}
    for i in range(first, n):
        issuance[i] = proposal.issuance[i]
        parts = [staff[p][i] for p in Staff.PARTS]
        if all(v is None for v in parts):
            for p in Staff.PARTS:
                staff[p][i] = Decimal(0)
            staff["honcho_regular"][i] = proposal.staff_on_hand[i]
        staff["honcho_temporary"][i] = (staff["honcho_temporary"][i] or Decimal(0)) + proposal.staff_added[i]
        staff["total"][i] = sum((staff[p][i] or Decimal(0) for p in Staff.PARTS), Decimal(0))
    new.issuance = issuance
    new.declared = Declared()  # the derived rows as printed belong to the old figures
    for p, values in staff.items():
        setattr(new.staff, p, values)
    for effect in proposal.costs:
        if effect.added_yen == 0:
            continue
        w = new.working.setdefault(effect.key, Working())
        w.temporary_yen = effect.temporary_yen_after
        year = new.costs.setdefault(effect.key, CostYear())
        year.personnel_temporary = effect.senyen_after
        year.personnel_total = calc.personnel_sum(year)
        year.total = calc.subsidy_sum(year)
    return new
