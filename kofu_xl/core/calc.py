"""Pure, exact calculations of the plan.

Every function takes and returns Decimals (or None for an empty cell) and does
no I/O. The KOFU_* worksheet functions, the rules, the workbook and the reports
all compute through here, so a figure is the same wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, Decimal

from msgspec import Struct, field

from kofu_xl.core.calendar import Column
from kofu_xl.core.model import CostYear, Plan, Working
from kofu_xl.core.numbers import CTX, ceil_div_thousand, round_half_up

__all__ = [
    "Derived",
    "bound_status",
    "coverage_rate",
    "cumulative",
    "daily_totals",
    "derive",
    "increase",
    "overtime_yen",
    "per_unit",
    "personnel_sum",
    "postage_yen",
    "purchase_yen",
    "rate_pct",
    "senyen",
    "staff_needed",
    "subsidy_sum",
    "sum_parts",
]

Num = Decimal | None


def cumulative(base: Num, monthly: Sequence[Num]) -> list[Num]:
    """Running totals of the form's 累計 row.

    The first column is the base date's count itself (its issuance is already in
    it: R元年8月(実績)'s 9,470 includes August's 103); each later column adds its
    own issuance. An empty issuance leaves that column and all later ones empty.
    """
    out: list[Num] = []
    running = base
    for i, value in enumerate(monthly):
        if i > 0:
            running = None if running is None or value is None else running + value
        out.append(running)
    return out


def coverage_rate(issued: Num, population: Num) -> Num:
    """Cumulative issued / population as an exact fraction; None without a population."""
    if issued is None or population is None or population == 0:
        return None
    return CTX.divide(issued, population)


def rate_pct(rate: Num, places: int = 1) -> Num:
    """A fraction as the form prints it: percent, rounded half up (0.148611 -> 14.9)."""
    return None if rate is None else round_half_up(rate * 100, places)


def bound_status(rate: Num, lower_pct: Decimal, upper_pct: Decimal) -> str | None:
    """Where a coverage rate stands in a checkpoint's national band: "below", "above" or "ok".

    Compared as the form shows the rate (percent, 0.1 point, half up) against the bounds
    as printed (23.5 %), like the national-bounds rule. None without a rate.
    """
    shown = rate_pct(rate)
    if shown is None:
        return None
    if shown < lower_pct:
        return "below"
    if shown > upper_pct:
        return "above"
    return "ok"


def increase(monthly: Sequence[Num], population: Num) -> list[Num]:
    """増加分: each column's issuance / population (the first, base, column has none).

    This is not the difference of two rounded rates: 111 / 63,723 = 0.174 % shows
    as 0.2 % although the rates shown go from 14.9 % to 15.0 %.
    """
    return [None if i == 0 else coverage_rate(v, population) for i, v in enumerate(monthly)]


def per_unit(count: Num, units: Num) -> Num:
    """Per window / staff / terminal; no value when there are no units."""
    if count is None or units is None or units == 0:
        return None
    return CTX.divide(count, units)


def capacity(staff: Num, cards_per_month: Decimal, per_staff: Decimal) -> Num:
    """Cards a month the staff can serve at the capacity parameter (1,000 cards / 6 staff)."""
    if staff is None:
        return None
    return CTX.divide(staff * cards_per_month, per_staff)


def staff_needed(monthly: Num, cards_per_month: Decimal = Decimal(1000), staff: Decimal = Decimal(6)) -> Num:
    """Whole staff needed for a monthly volume: 1,050 cards at 1,000 / 6 -> 6.3 -> 7."""
    if monthly is None:
        return None
    if cards_per_month <= 0 or staff <= 0:
        raise ValueError("capacity must be positive")
    return CTX.divide(monthly * staff, cards_per_month).to_integral_value(rounding=ROUND_CEILING)


def monthly_volume(column: Column, value: Num) -> Num:
    """A column's issuance per month (a fiscal-year column is spread over 12 months)."""
    if value is None:
        return None
    return value if column.is_month else CTX.divide(value, Decimal(len(column.months)))


def overtime_yen(hourly: Num, premium: Num, days: Num, staff: Num, hours: Num) -> Num:
    """時間外勤務手当 = 時給 × 割増率 × 日数 × 人数 × 時間, exact (2,000 × 1.35 × 12 × 1 × 3 = 97,200)."""
    parts = (hourly, premium, days, staff, hours)
    if any(p is None for p in parts):
        return None
    out = Decimal(1)
    for p in parts:
        out = CTX.multiply(out, p)
    return out


def postage_yen(per_month: Num, months: Num, unit: Num) -> Num:
    """本人限定受取郵便 = 人数/月 × 月数 × 単価 (300 × 12 × 492 = 1,771,200)."""
    if per_month is None or months is None or unit is None:
        return None
    return CTX.multiply(CTX.multiply(per_month, months), unit)


def purchase_yen(count: Num, unit: Num) -> Num:
    if count is None or unit is None:
        return None
    return CTX.multiply(count, unit)


def senyen(yen: Num) -> Num:
    """円 -> 千円 rounded up, as the form's working does (97,200 -> 98; 1,771,200 -> 1,772)."""
    return None if yen is None else ceil_div_thousand(yen)


def sum_parts(values: Iterable[Num]) -> Num:
    """Sum of the parts that are filled; None when none is."""
    filled = [v for v in values if v is not None]
    return sum(filled, Decimal(0)) if filled else None


def personnel_sum(year: CostYear) -> Num:
    """I. 人件費 = 正規 + 臨時・非常勤 + その他."""
    return sum_parts((year.personnel_regular, year.personnel_temporary, year.personnel_other))


def subsidy_sum(year: CostYear) -> Num:
    """① 補助対象経費 = I + II (うち補助対象分) + III + IV + V + その他."""
    return sum_parts(
        (
            year.personnel_total,
            year.tablet.subsidized,
            year.printer.subsidized,
            year.webcam.subsidized,
            year.postage,
            year.reservation,
            year.terminals,
            year.other,
        )
    )


class WorkingAmounts(Struct, frozen=True):
    """One fiscal year's cost working, in 円 and as 千円 rounded up."""

    overtime_yen: Num
    postage_yen: Num
    temporary_yen: Num
    purchases_yen: dict[str, Num]

    @staticmethod
    def of(w: Working, year: CostYear) -> WorkingAmounts:
        o, p = w.overtime, w.postage
        return WorkingAmounts(
            overtime_yen(o.hourly_yen, o.premium, o.days, o.staff, o.hours),
            postage_yen(p.per_month, p.months, p.unit_yen),
            w.temporary_yen,
            {
                item: purchase_yen(getattr(year, item).count, getattr(w, f"{item}_unit_yen"))
                for item in CostYear.PURCHASES
            },
        )


def daily_totals(days: dict[dt.date, Decimal]) -> dict[str, tuple[list[Decimal], Decimal]]:
    """{month: (totals Monday..Sunday, month total)} of the daily calendar."""
    out: dict[str, tuple[list[Decimal], Decimal]] = {}
    month = year = 0
    weekday: list[Decimal] = []
    total = Decimal(0)
    for day in sorted(days):  # a month's days one after another
        if day.month != month or day.year != year:
            if month:
                out[f"{year}-{month:02d}"] = (weekday, total)
            year, month = day.year, day.month
            weekday, total = [Decimal(0)] * 7, Decimal(0)
        count = days[day]
        weekday[day.weekday()] += count
        total += count
    if month:
        out[f"{year}-{month:02d}"] = (weekday, total)
    return out


class Derived(Struct, frozen=True):
    """Everything the form derives from a plan's inputs, aligned with its columns."""

    columns: list[Column]
    cumulative: list[Num]
    coverage_rate: list[Num]  # exact fractions
    increase: list[Num]
    per_window: list[Num]
    per_staff: list[Num]
    per_issuing_terminal: list[Num]
    per_presetting_terminal: list[Num]
    capacity: list[Num]
    staff_needed: list[Num]
    base_rate: Num
    bounds: dict[str, tuple[Decimal, Decimal]]
    working: dict[str, WorkingAmounts] = field(default_factory=dict)
    daily: dict[str, tuple[list[Decimal], Decimal]] = field(default_factory=dict)


def derive(plan: Plan, bounds: dict[str, tuple[Decimal, Decimal]] | None = None) -> Derived:
    """Compute every derived row of 本表1-1 and the cost working of 本表1-2."""
    cols = plan.columns
    pop = plan.basic.population
    issued = plan.series("issuance")
    cum = cumulative(plan.basic.base_issued, issued)
    p = plan.parameters

    def per(units_path: str) -> list[Num]:
        units = plan.series(units_path)
        return [per_unit(v, u) if c.is_month else None for c, v, u in zip(cols, issued, units, strict=True)]

    staff = plan.series("staff.total")
    cap = [capacity(s, p.capacity_cards_per_month, p.capacity_staff) for s in staff]
    needed = [
        staff_needed(monthly_volume(c, v), p.capacity_cards_per_month, p.capacity_staff) for c, v in zip(cols, issued, strict=True)
    ]
    working = {
        key: WorkingAmounts.of(plan.working.get(key, Working()), plan.costs.get(key, CostYear())) for key in plan.cost_keys
    }
    return Derived(
        columns=cols,
        cumulative=cum,
        coverage_rate=[coverage_rate(c, pop) for c in cum],
        increase=increase(issued, pop),
        per_window=per("windows.total"),
        per_staff=per("staff.total"),
        per_issuing_terminal=per("terminals.issuing"),
        per_presetting_terminal=per("terminals.presetting"),
        capacity=cap,
        staff_needed=needed,
        base_rate=coverage_rate(plan.basic.base_issued, pop),
        bounds=bounds or {},
        working=working,
        daily=daily_totals(plan.daily.days),
    )
