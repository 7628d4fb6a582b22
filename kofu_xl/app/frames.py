"""The analyst's API: kofu-xl's tables as pandas DataFrames.

    >>> from kofu_xl.frames import statistics
    >>> statistics().shape            # every municipality × every shipped publication
    (1741, 40)

- :func:`statistics` — the official issuance statistics shipped with the package: all
  municipalities as one wide table (团体 × 交付件数基準日), or one municipality as one row per
  publication (what =KOFU_ACTUALS(団体コード) spills into a sheet);
- :func:`plan_series` — a plan's monthly (and fiscal-year) series, as 本表1-1 computes them;
- :func:`followup_table` — the plan against the official actuals, month by month;
- :func:`rollup_table` — the prefecture's/nation's roll-up of submitted plans, a row per plan.

Figures stay exact until here: counts are integers (pandas' nullable Int64), rates are the
unrounded fractions as floats, dates are datetime64. Column names are the form's Japanese.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from kofu_xl.app.aggregate import aggregate, rollup_json
from kofu_xl.app.followup import follow_up, plan_months, stats_actuals, with_shipped_stats
from kofu_xl.app.stats_frame import CODE, NAME, PREFECTURE, STATS_COLUMNS, statistics
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.core.calc import derive
from kofu_xl.core.model import Plan, load_plan
from kofu_xl.core.schedule import default_schedule

__all__ = ["STATS_COLUMNS", "followup_table", "plan_series", "rollup_table", "statistics"]

def _plan(plan: Any) -> Any:
    if isinstance(plan, Plan):
        return plan
    raw = shipped_plan_raw() if plan is None else load_raw(Path(plan))[0]
    return load_plan(raw)[0]


def _num(value: Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def plan_series(plan: Any = None) -> pd.DataFrame:
    """A plan's series as 本表1-1 computes them: one row per column of the form (index: the
    column key "2019-08" … "FY2022", with its 和暦 label). ``plan``: a path (.xlsm/.xlsx/.json),
    a Plan, or None for the shipped 白井市 plan."""
    p = _plan(plan)
    d = derive(p)
    schedule = default_schedule()
    counts = {
        "交付枚数": p.series("issuance"),
        "交付枚数（累計）": d.cumulative,
        "窓口数": p.series("windows.total"),
        "職員配置数": p.series("staff.total"),
    }
    rates = {
        "人口に対する交付枚数率": d.coverage_rate,
        "増加分": d.increase,
    }
    frame = pd.DataFrame({"列": [c.label for c in p.columns]}, index=pd.Index([c.key for c in p.columns], name="列キー"))
    for name, values in counts.items():
        frame[name] = pd.array([None if v is None else int(v) if v == int(v) else float(v) for v in values], dtype="Float64" if any(v is not None and v != int(v) for v in values) else "Int64")
    for name, values in rates.items():
        frame[name] = pd.array([_num(v) for v in values], dtype="Float64")
    cps = [schedule.checkpoint_for_column(c) for c in p.columns]
    frame["下限値"] = pd.array([None if cp is None else float(schedule.lower_pct(cp) / 100) for cp in cps], dtype="Float64")
    frame["上限値"] = pd.array([None if cp is None else float(schedule.upper_pct(cp) / 100) for cp in cps], dtype="Float64")
    return frame


def followup_table(plan: Any = None, *, as_of: str | None = None) -> pd.DataFrame:
    """The plan against the shipped official statistics, one row per month-end (index: the
    month as the first day of the month, datetime64): plan, actual, their rates over the
    plan's population, the gaps and how many months behind."""
    p = _plan(plan)
    stats, _notes, _points = stats_actuals(with_shipped_stats([]), p.basic.dantai_code)
    horizon = set(plan_months(p.columns))
    fu = follow_up(p, {m: a for m, a in stats.items() if m in horizon}, as_of=as_of)
    rows = [
        {
            "月": pd.Timestamp(f"{r.month}-01"),
            "計画累計": _num(r.plan_cumulative),
            "計画率": _num(r.plan_rate),
            "実績累計": _num(r.actual_cumulative),
            "実績率": _num(r.actual_rate),
            "差（枚）": _num(r.gap_cards),
            "差（率）": _num(r.gap_rate),
            "遅れ（月）": _num(r.months_behind),
        }
        for r in fu.months
    ]
    frame = pd.DataFrame(rows).set_index("月")
    return frame.astype({"計画累計": "Int64", "実績累計": "Int64", "差（枚）": "Int64", "計画率": "Float64",
                         "実績率": "Float64", "差（率）": "Float64", "遅れ（月）": "Float64"})


def rollup_table(inputs: Sequence[str | os.PathLike[str]], *, jobs: int | None = 1) -> pd.DataFrame:
    """The roll-up of submitted plans (files and folders, as `kofu-xl aggregate` reads them):
    one row per plan, the projected cumulative and rate at each national checkpoint."""
    data = rollup_json(aggregate(list(inputs), jobs=jobs))
    rows = []
    for plan in data["plans"]:
        row = {CODE: plan["code"], PREFECTURE: plan["prefecture"], NAME: plan["name"], "人口": plan["population"],
               "交付枚数（基準日）": plan["base_issued"], "ファイル": plan["source"]}
        for head, cp in zip(data["checkpoints"], plan["checkpoints"], strict=True):
            row[f"{head['month']} 累計"] = cp["cumulative"]
            row[f"{head['month']} 率"] = cp["rate"]
            row[f"{head['month']} 判定"] = cp["status"]
        for severity, n in plan["counts"].items():
            row[severity] = n
        rows.append(row)
    return pd.DataFrame(rows).set_index(CODE) if rows else pd.DataFrame(columns=[CODE]).set_index(CODE)
