"""The 日次実績 checks: rules of the one catalogue over the daily calendar.

``daily-closed-day`` reads the typed daily counts of the plan; ``daily-outside-month`` and
``daily-total-overwritten`` read facts of the sheet that the workbook reader collects (values in
the calendar positions outside each month, and whether each totals cell still holds the
builder's formula), passed in as plain data with their sheet and cell, so that ``check``,
「検証」, 「検証して提出」 and ``followup`` report the same findings for the same file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kofu_xl.core.calendar import month_label, wareki_date
from kofu_xl.core.findings import Finding, RuleSpec, Severity, format_value, register
from kofu_xl.core.model import IMPLEMENTED, UNDECIDED, Plan


def _spec(slug: str, severity: Severity, title: str, description: str, fix: str, fields: str, template: str) -> RuleSpec:
    return register(RuleSpec(slug, severity, title, description, fix, fields, template))


_WEEKDAYS = "月火水木金土日"

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
    Severity.INFO,
    "閉庁の計画の日の日次実績",
    "土曜・日曜の件数が、計画の④土日・夜間開庁（土日）の開始時期より前の日に入力されています。"
    "毎月最終日曜日など、計画の前から休日開庁をしている場合はそのままで構いません（白井市の計画も本年度から毎月最終日曜日に開庁しています）。",
    "日付を確認してください。計画の前から土日開庁を実施している場合は、④土日・夜間開庁の詳細にその旨を書くか、開始時期を見直してください。",
    "日次実績、④土日・夜間開庁 開始時期 土日",
    "{field}（{day}、{weekday}曜日）に {actual} 件ありますが、④の土日開庁の開始は{start}です。休日開庁の日でなければ日付を確認してください。",
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

# ---------------------------------------------------------------- 日次実績: the sheet-level checks


SHEET_FACTS_KEY = "daily_sheet"
"""Key of the raw plan data under which the workbook reader passes the facts of 日次実績:
``{"sheet": name, "outside": [[month, "YYYY-MM-DD", cell, value], ...],
"totals": [[month, 0..7, holds the formula, value, cell, the builder's formula], ...] | None}``
(``totals`` is None when formulas are unknown: a live book read as values, a JSON plan)."""


def _weekend_start(plan: Plan) -> str | None:
    """The month weekend openings start, UNDECIDED for none, None when the plan does not say."""
    return plan.openings.weekend_start


def daily_findings(plan: Plan, facts: Mapping[str, Any] | None = None) -> list[Finding]:
    """The 日次実績 checks.

    * ``daily-closed-day``: a weekend count on a day before the plan's weekend openings start
      (④土日・夜間開庁 開始時期 土日; all weekends when 未定(実施予定なし); skipped when empty).
    * ``daily-outside-month``: a value typed in a calendar position outside its month.
    * ``daily-total-overwritten``: a totals cell under a calendar that no longer holds the
      builder's formula (skipped when the formulas are unknown).
    """
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
    if not facts:
        return out
    sheet = facts.get("sheet")
    for month, iso_day, cell, value in facts.get("outside") or ():
        day = dt.date.fromisoformat(iso_day)
        out.append(
            Finding(DAILY_OUTSIDE, "日次実績 交付枚数", "daily.outside", month, actual=value,
                    params={"day": wareki_date(day), "target": month_label(f"{day.year}-{day.month:02d}", short=False)},
                    sheet=sheet, cell=cell)
        )
    for month, index, has_formula, value, cell, formula in sorted(facts.get("totals") or (), key=lambda t: (t[0], t[1])):
        if has_formula:
            continue
        label = "日次実績 月合計" if index == 7 else f"日次実績 {_WEEKDAYS[index]}曜日の合計"
        state = "空欄" if value is None else f"値「{format_value(value) if not isinstance(value, str) else value}」"
        out.append(
            Finding(DAILY_OVERWRITTEN, label, "daily.total" if index == 7 else "daily.weekday", month if index == 7 else f"{month}:{index}",
                    expected=formula, actual=value, params={"state": state}, sheet=sheet, cell=cell)
        )
    return out
