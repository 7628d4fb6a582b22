"""The layout map: where every field of the plan lives in the workbook.

This is the single source of truth for sheet names, rows, columns, cells and
defined names. The builder draws the sheets from it, the readers read through
it, validate-and-submit locates findings with it. Nothing else in kofu-xl
hard-codes a cell address.

本表1-1 has label columns A–D and one data column per form column from E
(R元年8月(実績) … R3年3月, R3年度, R4年度 → E … Z for the 2019 form).
本表1-2 and 経費積算 have one data column per fiscal year of the cost table.
実績比較 (plan against actual) has label columns A–B and one data column per month from C,
from the plan's first month to the end of its last fiscal year (R元年8月 … R5年3月 → C … AT).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from typing import Literal

from msgspec import Struct, field

from kofu_xl.core.calendar import form_columns, month_range
from kofu_xl.core.findings import Finding
from kofu_xl.core.model import Parameters, iter_leaves
from kofu_xl.core.schedule import default_schedule
from kofu_xl.ooxml.cellref import ref as _c

__all__ = [
    "PROPOSAL",
    "Layout",
    "RowSpec",
    "Scalar",
    "SHEETS",
    "layout_for",
]

# Sheet names (Japanese, as the clerk sees them) and their VBA code names.
S11, S12, WORK, DAILY, FOLLOWUP, NATIONAL, CHART, PROPOSAL, RESULTS, LOG, CONF = (
    "本表1-1",
    "本表1-2",
    "経費積算",
    "日次実績",
    "実績比較",
    "国基準",
    "推移グラフ",
    "計画案",
    "検証結果",
    "提出記録",
    "xlwings.conf",
)
SHEETS: tuple[tuple[str, str], ...] = (
    (S11, "Honpyo11"),
    (S12, "Honpyo12"),
    (WORK, "Sekisan"),
    (DAILY, "Nichiji"),
    (FOLLOWUP, "Jisseki"),
    (NATIONAL, "Kokukijun"),
    (CHART, "Graph"),
    (PROPOSAL, "Keikakuan"),
    (RESULTS, "Kensho"),
    (LOG, "Teishutsu"),
    (CONF, "XlwingsConf"),
)

Role = Literal["input", "calc", "label"]


class RowSpec(Struct, frozen=True):
    """One row of a table: its labels, what fills it, and its defined name."""

    key: str  # model path for inputs ("staff.total"), "calc.<what>" for computed rows
    labels: tuple[str, ...]  # label columns, left to right
    role: Role
    name: str | None = None  # defined name of the row's data cells
    fmt: str = "#,##0"  # number format of the data cells


class Scalar(Struct, frozen=True):
    """A single input cell: model path, sheet, cell, label and defined name."""

    path: str
    sheet: str
    cell: str
    label: str
    name: str | None = None
    label_cell: str | None = None  # where its caption is printed
    merge_to: str | None = None  # last cell of a merged input area
    fmt: str | None = None
    dropdown: Literal["month", None] = None


# ---------------------------------------------------------------- 本表1-1 rows

FIRST_DATA_COL = 5  # E
ROW_BASIC_LABELS, ROW_BASIC_VALUES = 3, 4
ROW_HEADER = 6
ROW_FIRST_ITEM = 7

_PCT = "0.0%"
_DEC1 = "#,##0.0"

ROWS_11: tuple[RowSpec, ...] = (
    RowSpec("label.promotion", ("計画の策定体制", "①部局横断型の推進体制", "構築時期", ""), "label"),
    RowSpec("issuance", ("交付枚数の想定", "②交付枚数（一月（年）当たり）", "", ""), "input", "交付枚数"),
    RowSpec("calc.cumulative", ("参考", "交付枚数（累計）", "", ""), "calc", "交付枚数累計"),
    RowSpec("calc.rate", ("参考", "人口に対する交付枚数率", "", ""), "calc", "交付枚数率", _PCT),
    RowSpec("calc.lower", ("参考", "国の全体スケジュールに基づく想定（交付枚数率）", "", "下限値"), "calc", "国下限値", _PCT),
    RowSpec("calc.upper", ("参考", "国の全体スケジュールに基づく想定（交付枚数率）", "", "上限値"), "calc", "国上限値", _PCT),
    RowSpec("calc.check", ("参考", "国の想定との比較（kofu-xl）", "", "判定"), "calc", "国基準判定", "@"),
    RowSpec("calc.increase", ("参考", "人口に対する交付枚数率の前月からの増加分", "", ""), "calc", "交付枚数率増加分", _PCT),
    RowSpec("expiry_card", ("参考", "マイナンバーカード有効期限切れ件数", "", ""), "input", "カード有効期限切れ件数"),
    RowSpec("expiry_cert", ("参考", "電子証明書有効期限切れ件数", "", ""), "input", "電子証明書有効期限切れ件数"),
    RowSpec("windows.total", ("交付体制の整備", "③窓口数", "合計", ""), "input", "窓口数合計"),
    RowSpec("windows.honcho", ("交付体制の整備", "③窓口数", "本庁", ""), "input", "窓口数本庁"),
    RowSpec("windows.shisho", ("交付体制の整備", "③窓口数", "支所", ""), "input", "窓口数支所"),
    RowSpec("windows.other", ("交付体制の整備", "③窓口数", "その他", ""), "input", "窓口数その他"),
    RowSpec("calc.per_window", ("交付体制の整備", "③窓口数", "1窓口当たり交付枚数", ""), "calc", "窓口当たり交付枚数", _DEC1),
    RowSpec("label.openings_start", ("交付体制の整備", "④土日・夜間開庁", "開始時期", ""), "label"),
    RowSpec("label.openings_place", ("交付体制の整備", "④土日・夜間開庁", "実施場所毎", "開始時期"), "label"),
    RowSpec("label.openings_count", ("交付体制の整備", "④土日・夜間開庁", "実施場所毎", "実施回数（一月当たり）"), "label"),
    RowSpec("staff.total", ("交付体制の整備", "⑤職員配置数", "合計", ""), "input", "職員配置数合計", _DEC1),
    RowSpec("staff.honcho_regular", ("交付体制の整備", "⑤職員配置数", "本庁", "正規職員"), "input", "職員本庁正規", _DEC1),
    RowSpec("staff.honcho_temporary", ("交付体制の整備", "⑤職員配置数", "本庁", "臨時・非常勤職員"), "input", "職員本庁臨時", _DEC1),
    RowSpec("staff.honcho_other", ("交付体制の整備", "⑤職員配置数", "本庁", "その他"), "input", "職員本庁その他", _DEC1),
    RowSpec("staff.shisho_regular", ("交付体制の整備", "⑤職員配置数", "支所", "正規職員"), "input", "職員支所正規", _DEC1),
    RowSpec("staff.shisho_temporary", ("交付体制の整備", "⑤職員配置数", "支所", "臨時・非常勤職員"), "input", "職員支所臨時", _DEC1),
    RowSpec("staff.shisho_other", ("交付体制の整備", "⑤職員配置数", "支所", "その他"), "input", "職員支所その他", _DEC1),
    RowSpec("staff.other_regular", ("交付体制の整備", "⑤職員配置数", "その他", "正規職員"), "input", "職員その他正規", _DEC1),
    RowSpec("staff.other_temporary", ("交付体制の整備", "⑤職員配置数", "その他", "臨時・非常勤職員"), "input", "職員その他臨時", _DEC1),
    RowSpec("staff.other_other", ("交付体制の整備", "⑤職員配置数", "その他", "その他"), "input", "職員その他その他", _DEC1),
    RowSpec("calc.per_staff", ("交付体制の整備", "⑤職員配置数", "1人当たり交付枚数", ""), "calc", "職員1人当たり交付枚数", _DEC1),
    RowSpec("calc.staff_needed", ("交付体制の整備", "⑤職員配置数", "必要職員数（処理能力の設定による参考値）", ""), "calc", "必要職員数", "#,##0"),
    RowSpec("terminals.total", ("交付体制の整備", "⑥統合端末台数", "合計", ""), "input", "統合端末合計", _DEC1),
    RowSpec("terminals.issuing", ("交付体制の整備", "⑥統合端末台数", "合計", "交付"), "input", "統合端末交付", _DEC1),
    RowSpec("terminals.presetting", ("交付体制の整備", "⑥統合端末台数", "合計", "交付前設定"), "input", "統合端末交付前設定", _DEC1),
    RowSpec("terminals.honcho", ("交付体制の整備", "⑥統合端末台数", "本庁", ""), "input", "統合端末本庁", _DEC1),
    RowSpec("terminals.honcho_issuing", ("交付体制の整備", "⑥統合端末台数", "本庁", "交付"), "input", "統合端末本庁交付", _DEC1),
    RowSpec("terminals.honcho_presetting", ("交付体制の整備", "⑥統合端末台数", "本庁", "交付前設定"), "input", "統合端末本庁交付前設定", _DEC1),
    RowSpec("terminals.shisho", ("交付体制の整備", "⑥統合端末台数", "支所", ""), "input", "統合端末支所", _DEC1),
    RowSpec("terminals.shisho_issuing", ("交付体制の整備", "⑥統合端末台数", "支所", "交付"), "input", "統合端末支所交付", _DEC1),
    RowSpec("terminals.shisho_presetting", ("交付体制の整備", "⑥統合端末台数", "支所", "交付前設定"), "input", "統合端末支所交付前設定", _DEC1),
    RowSpec("terminals.other", ("交付体制の整備", "⑥統合端末台数", "その他", ""), "input", "統合端末その他", _DEC1),
    RowSpec("terminals.other_issuing", ("交付体制の整備", "⑥統合端末台数", "その他", "交付"), "input", "統合端末その他交付", _DEC1),
    RowSpec("terminals.other_presetting", ("交付体制の整備", "⑥統合端末台数", "その他", "交付前設定"), "input", "統合端末その他交付前設定", _DEC1),
    RowSpec("calc.per_issuing_terminal", ("交付体制の整備", "⑥統合端末台数", "交付用統合端末1台当たり交付枚数", ""), "calc", "交付用端末1台当たり交付枚数", _DEC1),
    RowSpec("calc.per_presetting_terminal", ("交付体制の整備", "⑥統合端末台数", "交付前設定用統合端末1台当たり交付枚数", ""), "calc", "交付前設定用端末1台当たり交付枚数", _DEC1),
    RowSpec("label.invite", ("申請受付等の推進", "⑦来庁者への申請勧奨", "開始時期", ""), "label"),
    RowSpec("at_application.counts", ("申請受付等の推進", "⑧申請時来庁", "受付件数", ""), "input", "申請時来庁受付件数"),
    RowSpec("label.at_application", ("申請受付等の推進", "⑧申請時来庁", "開始時期", ""), "label"),
    RowSpec("outreach.counts", ("申請受付等の推進", "⑨出張申請受付", "受付件数", ""), "input", "出張申請受付件数"),
    RowSpec("label.outreach", ("申請受付等の推進", "⑨出張申請受付", "開始時期", ""), "label"),
    RowSpec("label.support", ("申請受付等の推進", "⑩申請サポート", "開始時期", ""), "label"),
    RowSpec("label.note", ("備考", "②交付枚数の想定の説明", "", ""), "label"),
)

# Derived rows the core computes, by their 本表1-1 row key.
DECLARED_ROWS = {
    "calc.cumulative": "declared.cumulative",
    "calc.rate": "declared.rate_pct",
    "calc.increase": "declared.increase_pct",
    "calc.per_window": "declared.per_window",
    "calc.per_staff": "declared.per_staff",
    "calc.per_issuing_terminal": "declared.per_issuing_terminal",
    "calc.per_presetting_terminal": "declared.per_presetting_terminal",
}

# ---------------------------------------------------------------- 本表1-2 and 経費積算 rows

COST_FIRST_COL = 4  # D = first fiscal year
ROW_COST_HEADER = 6

ROWS_12: tuple[RowSpec, ...] = (
    RowSpec("costs.total", ("①個人番号カード交付事務費補助金の補助対象経費（千円）", "", ""), "input", "補助対象経費"),
    RowSpec("costs.personnel_total", ("I. 個人番号カード交付のための人件費", "", ""), "input", "人件費合計"),
    RowSpec("costs.personnel_regular", ("", "正規職員（時間外勤務手当、管理職特別勤務手当、休日勤務手当）", ""), "input", "人件費正規職員"),
    RowSpec("costs.personnel_temporary", ("", "臨時・非常勤職員", ""), "input", "人件費臨時非常勤"),
    RowSpec("costs.personnel_other", ("", "その他", ""), "input", "人件費その他"),
    RowSpec("costs.tablet.count", ("II-1. タブレット端末", "購入台数", ""), "input", "タブレット購入台数"),
    RowSpec("costs.tablet.cost", ("II-1. タブレット端末", "購入経費", ""), "input", "タブレット購入経費"),
    RowSpec("costs.tablet.subsidized", ("II-1. タブレット端末", "うち補助対象分", ""), "input", "タブレット補助対象分"),
    RowSpec("costs.printer.count", ("II-2. モバイルプリンター", "購入台数", ""), "input", "プリンター購入台数"),
    RowSpec("costs.printer.cost", ("II-2. モバイルプリンター", "購入経費", ""), "input", "プリンター購入経費"),
    RowSpec("costs.printer.subsidized", ("II-2. モバイルプリンター", "うち補助対象分", ""), "input", "プリンター補助対象分"),
    RowSpec("costs.webcam.count", ("II-3. ウェブカメラ", "購入台数", ""), "input", "ウェブカメラ購入台数"),
    RowSpec("costs.webcam.cost", ("II-3. ウェブカメラ", "購入経費", ""), "input", "ウェブカメラ購入経費"),
    RowSpec("costs.webcam.subsidized", ("II-3. ウェブカメラ", "うち補助対象分", ""), "input", "ウェブカメラ補助対象分"),
    RowSpec("costs.postage", ("III. 本人限定受取郵便の送付に係る経費", "", ""), "input", "本人限定受取郵便経費"),
    RowSpec("costs.reservation", ("IV. 個人番号カード交付促進のための個人番号カード交付予約に関する経費", "", ""), "input", "交付予約経費"),
    RowSpec("costs.terminals", ("V. 個人番号カードの交付に用いる統合端末等に係る経費", "", ""), "input", "統合端末等経費"),
    RowSpec("costs.other", ("その他個人番号カード交付事務費補助金の対象経費", "", ""), "input", "その他補助対象経費"),
    RowSpec("calc.cost_total_check", ("（検算）①の内訳の和", "", ""), "calc", "検算補助対象経費"),
    RowSpec("calc.personnel_check", ("（検算）I. 人件費の内訳の和", "", ""), "calc", "検算人件費"),
)

ROWS_WORK: tuple[RowSpec, ...] = (
    RowSpec("label.overtime", ("正規職員 時間外勤務手当（＝時給×割増率×日数×人数×時間）", ""), "label"),
    RowSpec("working.overtime.hourly_yen", ("", "時給（円）"), "input", "時間外時給"),
    RowSpec("working.overtime.premium", ("", "割増率"), "input", "時間外割増率", "0.00"),
    RowSpec("working.overtime.days", ("", "日数"), "input", "時間外日数"),
    RowSpec("working.overtime.staff", ("", "人数"), "input", "時間外人数", "#,##0.0"),
    RowSpec("working.overtime.hours", ("", "時間"), "input", "時間外時間", "#,##0.0"),
    RowSpec("calc.overtime_yen", ("", "所要額（円）"), "calc", "時間外所要額"),
    RowSpec("calc.overtime_senyen", ("", "千円（千円未満切り上げ）"), "calc", "時間外千円"),
    RowSpec("label.temporary", ("臨時・非常勤職員", ""), "label"),
    RowSpec("working.temporary_yen", ("", "所要額（円）"), "input", "臨時非常勤所要額"),
    RowSpec("working.temporary_note", ("", "積算の説明"), "input", "臨時非常勤説明", "@"),
    RowSpec("calc.temporary_senyen", ("", "千円（千円未満切り上げ）"), "calc", "臨時非常勤千円"),
    RowSpec("label.postage", ("本人限定受取郵便（＝人数/月×月数×単価）", ""), "label"),
    RowSpec("working.postage.per_month", ("", "月当たり人数"), "input", "郵便月当たり人数"),
    RowSpec("working.postage.months", ("", "月数"), "input", "郵便月数"),
    RowSpec("working.postage.unit_yen", ("", "単価（円）"), "input", "郵便単価"),
    RowSpec("calc.postage_yen", ("", "所要額（円）"), "calc", "郵便所要額"),
    RowSpec("calc.postage_senyen", ("", "千円（千円未満切り上げ）"), "calc", "郵便千円"),
    RowSpec("calc.postage_volume", ("", "送付件数（月当たり人数×月数）"), "calc", "郵便送付件数"),
    RowSpec("calc.at_application_volume", ("", "⑧申請時来庁 受付件数の計画（同年度）"), "calc", "申請時来庁年度件数"),
    RowSpec("label.purchases", ("購入（＝台数×単価）", ""), "label"),
    RowSpec("working.tablet_unit_yen", ("タブレット端末", "単価（円）"), "input", "タブレット単価"),
    RowSpec("calc.tablet_yen", ("タブレット端末", "所要額（円）"), "calc", "タブレット所要額"),
    RowSpec("working.printer_unit_yen", ("モバイルプリンター", "単価（円）"), "input", "プリンター単価"),
    RowSpec("calc.printer_yen", ("モバイルプリンター", "所要額（円）"), "calc", "プリンター所要額"),
    RowSpec("working.webcam_unit_yen", ("ウェブカメラ", "単価（円）"), "input", "ウェブカメラ単価"),
    RowSpec("calc.webcam_yen", ("ウェブカメラ", "所要額（円）"), "calc", "ウェブカメラ所要額"),
)
WORK_FIRST_COL = 3  # C = first fiscal year
ROW_WORK_HEADER = 3

# ---------------------------------------------------------------- 日次実績

DAILY_FIRST_COL = 2  # B = Monday
_ONE_DAY = dt.timedelta(days=1)
_DAILY_LETTERS = tuple(_c(DAILY_FIRST_COL + i, 1)[:-1] for i in range(8))  # B … I: 月 … 日 and the month's total
DAILY_BLOCK_ROWS = 16  # title, weekday header, 6 weeks × (date row + count row), totals, spacer
DAILY_FIRST_ROW = 4


class DailyBlock(Struct, frozen=True):
    month: str
    top: int  # title row

    @property
    def header_row(self) -> int:
        return self.top + 1

    def grid(self) -> Iterator[tuple[dt.date, str, str]]:
        """(date, date-number cell, count cell) for all 6 × 7 positions of the calendar,
        Monday first: the positions before the 1st and after the last day of the month stand
        for the days of the neighbouring months (they are not the month's days)."""
        year, mon = (int(p) for p in self.month.split("-"))
        first = dt.date(year, mon, 1)
        monday = first - dt.timedelta(days=first.weekday())
        for week in range(6):
            date_row = self.top + 2 + 2 * week
            for weekday in range(7):
                day = monday + dt.timedelta(days=7 * week + weekday)
                col = DAILY_FIRST_COL + weekday
                yield day, _c(col, date_row), _c(col, date_row + 1)

    def cells(self) -> Iterator[tuple[dt.date, str, str]]:
        """(date, date-number cell, count cell) for every day of the month."""
        return iter(_block_cells(self.month, self.top))

    def count_positions(self) -> tuple[tuple[tuple[dt.date, int, int], ...], tuple[tuple[dt.date, str, int, int], ...]]:
        """The count cells as numbers, for readers that walk every block of every workbook:
        ((date, row, column) of each day of the month, (date, cell, row, column) of each of
        the 6 × 7 positions outside it), in the order of ``cells()`` and ``grid()``."""
        return _block_positions(self.month, self.top)

    def total_positions(self) -> tuple[tuple[int, str, int, int], ...]:
        """(0..6 = 月..日 totals, 7 = month total, cell, row, column) of the totals cells."""
        return _total_positions(self.top)

    @property
    def totals_row(self) -> int:
        return self.top + 14

    def weekday_total_cell(self, weekday: int) -> str:
        return _c(DAILY_FIRST_COL + weekday, self.totals_row)

    @property
    def month_total_cell(self) -> str:
        return _c(DAILY_FIRST_COL + 7, self.totals_row)

    def total_cells(self) -> list[tuple[int, str]]:
        """The formula cells under the calendar: (0..6 = 月..日 totals, 7 = month total, cell)."""
        return [(i, self.weekday_total_cell(i)) for i in range(7)] + [(7, self.month_total_cell)]

    def total_formula(self, index: int) -> str:
        """The formula of a totals cell (0..6 = 月..日, 7 = the month): what the builder writes
        and what the checks compare the clerk's cell with."""
        return _total_formulas(self.month, self.top)[index]


@functools.lru_cache(maxsize=512)  # pure; every workbook read compares the same totals
def _total_formulas(month: str, top: int) -> tuple[str, ...]:
    """The eight totals formulas of a block: each weekday's sums its count cells, in the order of
    the days (one pass over them), and the month's sums the weekdays' totals."""
    by_weekday: list[list[str]] = [[] for _ in range(7)]
    for day, _date_cell, count_cell in _block_cells(month, top):
        by_weekday[day.weekday()].append(count_cell)
    row = top + 14  # DailyBlock.totals_row
    return (*(f"=SUM({','.join(cells)})" for cells in by_weekday), f"=SUM({_c(DAILY_FIRST_COL, row)}:{_c(DAILY_FIRST_COL + 6, row)})")


@functools.lru_cache(maxsize=512)  # pure; every workbook read walks the same blocks
def _block_cells(month: str, top: int) -> tuple[tuple[dt.date, str, str], ...]:
    """The month's days in the calendar's positions (each date row just above its count row)."""
    return tuple(
        (day, f"{_DAILY_LETTERS[col - DAILY_FIRST_COL]}{row - 1}", f"{_DAILY_LETTERS[col - DAILY_FIRST_COL]}{row}")
        for day, row, col in _block_positions(month, top)[0]
    )


@functools.lru_cache(maxsize=512)
def _block_positions(month: str, top: int) -> tuple[tuple[tuple[dt.date, int, int], ...], tuple[tuple[dt.date, str, int, int], ...]]:
    year, mon = (int(p) for p in month.split("-"))
    first = dt.date(year, mon, 1)
    day = first - dt.timedelta(days=first.weekday())  # the Monday the calendar starts with
    inside, outside = [], []
    for week in range(6):
        count_row = top + 3 + 2 * week
        for weekday in range(7):
            if week or weekday:
                day += _ONE_DAY
            col = DAILY_FIRST_COL + weekday
            if day.year == year and day.month == mon:
                inside.append((day, count_row, col))
            else:
                outside.append((day, f"{_DAILY_LETTERS[weekday]}{count_row}", count_row, col))
    return tuple(inside), tuple(outside)


@functools.lru_cache(maxsize=512)
def _total_positions(top: int) -> tuple[tuple[int, str, int, int], ...]:
    row = top + 14  # DailyBlock.totals_row
    return tuple((i, _c(DAILY_FIRST_COL + i, row), row, DAILY_FIRST_COL + i) for i in range(8))


# ---------------------------------------------------------------- 実績比較 (plan against actual)

FU_FIRST_COL = 3  # C = the plan's first month
FU_BASE_ROW = 3  # the population every rate of the sheet is divided by
FU_POPULATION_CELL = "C3"
FU_POPULATION_DATE_CELL = "E3"
FU_HEADER_ROW = 5  # month labels ("R2年7月")
FU_FIRST_ROW = 6

ROWS_FU: tuple[RowSpec, ...] = (
    RowSpec("calc.plan_cumulative", ("計画", "交付枚数（累計・月末）"), "calc", "計画累計交付枚数"),
    RowSpec("calc.plan_rate", ("計画", "交付枚数率"), "calc", "計画交付枚数率", _PCT),
    RowSpec("calc.lower", ("国の全体スケジュールに基づく想定", "下限値"), "calc", None, _PCT),
    RowSpec("calc.upper", ("国の全体スケジュールに基づく想定", "上限値"), "calc", None, _PCT),
    RowSpec("followup.actual_cumulative", ("実績", "交付枚数（累計・月末）"), "input", "実績累計交付枚数"),
    RowSpec("calc.actual_rate", ("実績", "交付枚数率（計画の人口に対する率）"), "calc", "実績交付枚数率", _PCT),
    RowSpec("followup.official_population", ("公表値（参考）", "人口（統計の人口算出基準日）"), "input", "公表人口"),
    RowSpec("followup.official_rate", ("公表値（参考）", "交付枚数率（公表値）"), "input", "公表交付枚数率", _PCT),
    RowSpec("calc.gap_cards", ("実績－計画", "交付枚数（枚）"), "calc", "計画との差枚数", "+#,##0;-#,##0;0"),
    RowSpec("calc.gap_rate", ("実績－計画", "交付枚数率（ポイント）"), "calc", "計画との差ポイント", "+0.0%;-0.0%;0.0%"),
    RowSpec("calc.check", ("判定", "国の想定との比較（チェックポイント）"), "calc", None, "@"),
    RowSpec("calc.vs_plan", ("判定", "計画との比較"), "calc", None, "@"),
    RowSpec("calc.next_checkpoint", ("次のチェックポイント", "時点（月末）"), "calc", None, "@"),
    RowSpec("calc.months_left", ("次のチェックポイント", "残り月数"), "calc", None, "#,##0"),
    RowSpec("calc.next_lower", ("次のチェックポイント", "下限値"), "calc", None, _PCT),
    RowSpec("calc.required_monthly", ("次のチェックポイント", "下限値に必要な月当たり交付枚数"), "calc", "必要月当たり交付枚数"),
    # hidden rows the chart of 推移グラフ plots: a row above, #N/A where it has no figure
    # (a line chart skips #N/A but draws "" as 0)
    RowSpec("chart.plan_rate", ("グラフ用（非表示）", "計画 交付枚数率"), "calc", None, _PCT),
    RowSpec("chart.lower", ("グラフ用（非表示）", "下限値"), "calc", None, _PCT),
    RowSpec("chart.upper", ("グラフ用（非表示）", "上限値"), "calc", None, _PCT),
    RowSpec("chart.actual_rate", ("グラフ用（非表示）", "実績 交付枚数率"), "calc", None, _PCT),
)
# the row of 実績比較 each chart row plots
CHART_SOURCE_ROWS = {
    "chart.plan_rate": "calc.plan_rate",
    "chart.lower": "calc.lower",
    "chart.upper": "calc.upper",
    "chart.actual_rate": "calc.actual_rate",
}
FU_INPUT_PATHS = tuple(spec.key for spec in ROWS_FU if spec.role == "input")

# 本表1-1: one line saying whether the computed cells are live (Python connected) or as saved.
STATUS_LABEL_CELL = "A5"
STATUS_CELL = "E5"

# 国基準: the national schedule's table, one row per checkpoint below its header row. The
# bounds are in G (下限値) and H (上限値); L and M hold the label of the checkpoint's column
# on 本表1-1 and on 実績比較, the keys the threshold cells look the bounds up by.
NATIONAL_TABLE_HEADER_ROW = 10
NATIONAL_LOWER_COL, NATIONAL_UPPER_COL = 7, 8
NATIONAL_KEY11_COL, NATIONAL_KEY_FU_COL = 12, 13


# ---------------------------------------------------------------- 計画案 (a proposal, written by 「計画案」)
#
# The sheet is the 計画案 use case's output, like 検証結果: the choices (yellow, A4:E9), one
# column per 本表1-1 column (the same letters, E …), what each checkpoint gets, what the
# staffing adds to 本表1-2, a chart against the band, and below everything the backup of the
# cells 「計画案を採用」 overwrote (sheet, cell, field, column, value before, value after).

PP_SETTINGS: tuple[tuple[str, str, str | None], ...] = (
    ("aim", "目標（下限値／中間）", "@"),
    ("max_step", "月の交付枚数を前の月から増やせる上限（枚、空欄 = 上限なし）", "#,##0"),
    ("max_staff", "配置できる職員数の上限（人、空欄 = 上限なし）", "#,##0.0"),
    ("first_month", "計画案で変えてよい最初の月（空欄 = 実績の次の月）", "@"),
    ("staff_on_hand", "配置済みの職員数（人、空欄 = 本表1-1 の⑤職員配置数 合計）", "#,##0.0"),
    ("monthly_cost", "追加職員1人1か月の経費（円、空欄 = 経費積算から）", "#,##0"),
)
PP_SETTINGS_FIRST_ROW = 4
PP_SETTING_COL = FIRST_DATA_COL  # E, the answer; the caption spans A:D
PP_AIM_WORDS = {"下限値": "lower", "中間": "middle"}
PP_HEADER_ROW = PP_SETTINGS_FIRST_ROW + len(PP_SETTINGS) + 1
ROWS_PP: tuple[RowSpec, ...] = (
    RowSpec("proposal.changed", ("計画案", "列の扱い（変更／固定）"), "calc", None, "@"),
    RowSpec("proposal.issuance", ("計画案", "②交付枚数"), "calc"),
    RowSpec("proposal.cumulative", ("計画案", "交付枚数（累計）"), "calc"),
    RowSpec("proposal.rate", ("計画案", "人口に対する交付枚数率"), "calc", None, _PCT),
    RowSpec("proposal.lower", ("国の全体スケジュール", "下限値（次のチェックポイント）"), "calc", None, _PCT),
    RowSpec("proposal.upper", ("国の全体スケジュール", "上限値（次のチェックポイント）"), "calc", None, _PCT),
    RowSpec("proposal.current", ("現在の計画（本表1-1）", "②交付枚数"), "calc"),
    RowSpec("proposal.current_rate", ("現在の計画（本表1-1）", "人口に対する交付枚数率"), "calc", None, _PCT),
    RowSpec("proposal.staff_needed", ("⑤職員", "必要な職員数（処理能力から）"), "calc", None, _DEC1),
    RowSpec("proposal.staff_on_hand", ("⑤職員", "配置済み"), "calc", None, _DEC1),
    RowSpec("proposal.staff_added", ("⑤職員", "追加（臨時・非常勤職員）"), "calc", None, _DEC1),
)
PP_COST_ROWS: tuple[tuple[str, str, str], ...] = (
    ("staff_months", "追加職員（人月）", _DEC1),
    ("unit_yen", "1人1か月の経費（円）", "#,##0"),
    ("added_yen", "追加の経費（円）", "#,##0"),
    ("temporary_yen_before", "経費積算 臨時・非常勤職員 所要額 採用前（円）", "#,##0"),
    ("temporary_yen_after", "経費積算 臨時・非常勤職員 所要額 採用後（円）", "#,##0"),
    ("senyen_before", "本表1-2 I. 臨時・非常勤職員 採用前（千円）", "#,##0"),
    ("senyen_after", "本表1-2 I. 臨時・非常勤職員 採用後（千円、切り上げ）", "#,##0"),
)
PP_BACKUP_HEADERS = ("シート", "セル", "項目", "列", "採用前の値", "採用後の値")
PP_CHART_ROWS = 18  # rows the chart takes


# ---------------------------------------------------------------- the map


class Layout(Struct):
    """Where everything lives, for one plan shape (its columns and years)."""

    columns: list[str]
    cost_years: list[str]
    daily_months: list[str]
    rows11: dict[str, int] = field(default_factory=dict)
    rows12: dict[str, int] = field(default_factory=dict)
    rows_work: dict[str, int] = field(default_factory=dict)
    scalars: dict[str, Scalar] = field(default_factory=dict)
    daily_blocks: dict[str, DailyBlock] = field(default_factory=dict)
    followup_months: list[str] = field(default_factory=list)  # 実績比較's columns
    rows_fu: dict[str, int] = field(default_factory=dict)
    pp_settings: dict[str, str] = field(default_factory=dict)  # 計画案: choice -> cell
    rows_pp: dict[str, int] = field(default_factory=dict)  # 計画案: row key -> row (columns as 本表1-1)
    pp_checkpoint_first_row: int = 0  # 計画案: one sentence per checkpoint (column A)
    pp_cost_header_row: int = 0  # 計画案: cost years across from E
    rows_pp_cost: dict[str, int] = field(default_factory=dict)
    pp_chart_cell: str = ""
    pp_backup_note_cell: str = ""  # when and what was adopted
    pp_backup_header_row: int = 0

    # -- columns
    def col11(self, key: str) -> int:
        return FIRST_DATA_COL + self.columns.index(key)

    @property
    def last_col11(self) -> int:
        return FIRST_DATA_COL + len(self.columns) - 1

    def col12(self, year_key: str) -> int:
        return COST_FIRST_COL + self.cost_years.index(year_key)

    def col_work(self, year_key: str) -> int:
        return WORK_FIRST_COL + self.cost_years.index(year_key)

    def col_fu(self, month: str) -> int:
        return FU_FIRST_COL + self.followup_months.index(month)

    @property
    def last_col_fu(self) -> int:
        return FU_FIRST_COL + len(self.followup_months) - 1

    # -- cells
    def fu_cell(self, key: str, month: str) -> tuple[str, str]:
        """実績比較: the cell of a row (its key) in a month's column."""
        return FOLLOWUP, _c(self.col_fu(month), self.rows_fu[key])

    def series_cell(self, path: str, column: str) -> tuple[str, str]:
        return S11, _c(self.col11(column), self.rows11[path])

    def cost_cell(self, path: str, year_key: str) -> tuple[str, str]:
        """本表1-2 (costs.*) or 経費積算 (working.*) cell of one fiscal year."""
        if path.startswith("working."):
            return WORK, _c(self.col_work(year_key), self.rows_work[path])
        return S12, _c(self.col12(year_key), self.rows12[path])

    def locate(self, path: str, column: str | None) -> tuple[str, str] | None:
        """sheet and cell of a model path (and column) — None when it has no cell."""
        if path in self.scalars:
            s = self.scalars[path]
            return s.sheet, s.cell
        if path in self.rows11 and column in self.columns:
            return self.series_cell(path, column)
        if path in self.rows12 or path in self.rows_work:
            if column in self.cost_years:
                return self.cost_cell(path, column)
            return None
        if path.startswith("daily.") and column:
            return self.daily_cell(path, column)
        if path in self.rows_fu and column in self.followup_months:
            return self.fu_cell(path, column)
        if path == "budget_timing" and column in ("1", "2", "3"):
            s = self.scalars[f"budget_timing.{column}"]
            return s.sheet, s.cell
        return None

    def input_cells(self) -> dict[tuple[str, str | None], tuple[str, str]]:
        """Every cell a clerk types into, by field: (model path, column or None) -> (sheet,
        cell). Rows of 本表1-1/本表1-2/経費積算 per column, the single cells, each day of
        日次実績 (column = ISO date) and the input rows of 実績比較 (column = month)."""
        out: dict[tuple[str, str | None], tuple[str, str]] = {}
        for path, s in self.scalars.items():
            out[(path, None)] = (s.sheet, s.cell)
        for spec in ROWS_11:
            if spec.role == "input":
                for column in self.columns:
                    out[(spec.key, column)] = self.series_cell(spec.key, column)
        for specs in (ROWS_12, ROWS_WORK):
            for spec in specs:
                if spec.role == "input":
                    for year in self.cost_years:
                        out[(spec.key, year)] = self.cost_cell(spec.key, year)
        for block in self.daily_blocks.values():
            for day, _date_cell, count_cell in block.cells():
                out[("daily.days", day.isoformat())] = (DAILY, count_cell)
        for path in FU_INPUT_PATHS:
            for month in self.followup_months:
                out[(path, month)] = self.fu_cell(path, month)
        return out

    def locate_findings(self, findings: list[Finding]) -> list[Finding]:
        """The findings with sheet and cell filled in where the field has a cell."""
        out = []
        for f in findings:
            if f.parts:
                out.append(f.with_parts(self.locate_findings(list(f.parts))))
                continue
            where = self.locate(f.path, f.column)
            out.append(f.located(*where) if where else f)
        return out

    def daily_cell(self, path: str, column: str) -> tuple[str, str] | None:
        if path == "daily.days":
            try:
                day = dt.date.fromisoformat(column)
            except ValueError:  # a JSON plan's key that is no date: a finding without a cell
                return None
            block = self.daily_blocks.get(f"{day.year}-{day.month:02d}")
            if block:
                for d, _date_cell, count_cell in block.cells():
                    if d == day:
                        return DAILY, count_cell
            return None
        month = column.split(":")[0]
        block = self.daily_blocks.get(month)
        if block is None:
            return None
        if path == "daily.total":
            return DAILY, block.month_total_cell
        if path == "daily.weekday" and ":" in column:
            return DAILY, block.weekday_total_cell(int(column.split(":")[1]))
        return None


def _scalars() -> list[Scalar]:
    """Single input cells: 基礎情報, the start dates and texts of 本表1-1, 本表1-2 ②, 国基準 settings."""
    out: list[Scalar] = []
    basic = [
        ("basic.dantai_code", "団体コード", 1),
        ("basic.prefecture", "都道府県名", 2),
        ("basic.municipality", "市町村名", 2),
        ("basic.population", "人口", 2),
        ("basic.base_issued", "交付枚数", 2),
        ("basic.base_rate_pct", "人口に対する交付枚数率", 2),
        ("basic.department", "担当課名", 2),
        ("basic.phone", "担当課電話番号", 3),
        ("basic.email", "担当課メールアドレス", 6),
    ]
    col = FIRST_DATA_COL
    for path, label, width in basic:
        out.append(
            Scalar(
                path,
                S11,
                _c(col, ROW_BASIC_VALUES),
                label,
                name=None if path == "basic.base_rate_pct" else label,
                label_cell=_c(col, ROW_BASIC_LABELS),
                merge_to=_c(col + width - 1, ROW_BASIC_VALUES) if width > 1 else None,
            )
        )
        col += width
    return out


def layout_for(params: Parameters | None = None, daily_months: list[str] | None = None) -> Layout:
    """The layout of a plan of this shape. ``daily_months`` lists the calendar blocks."""
    params = params or Parameters()
    cols = [c.key for c in form_columns(params.first_month, params.last_month, params.fiscal_years, params.actual_through)]
    years = [f"FY{y}" for y in params.cost_years]
    if daily_months is None:
        first = min(params.first_month, "2019-01")
        daily_months = month_range(first, params.last_month)
    lay = Layout(cols, years, daily_months)
    form = form_columns(params.first_month, params.last_month, params.fiscal_years, params.actual_through)
    lay.followup_months = month_range(form[0].months[0], form[-1].last_month)
    for i, spec in enumerate(ROWS_FU):
        lay.rows_fu[spec.key] = FU_FIRST_ROW + i
    row = ROW_FIRST_ITEM
    for spec in ROWS_11:
        lay.rows11[spec.key] = row
        row += 1
    for calc_key, declared in DECLARED_ROWS.items():
        lay.rows11[declared] = lay.rows11[calc_key]
    for i, spec in enumerate(ROWS_12):
        lay.rows12[spec.key] = ROW_COST_HEADER + 1 + i
    for i, spec in enumerate(ROWS_WORK):
        lay.rows_work[spec.key] = ROW_WORK_HEADER + 1 + i
    for s in _scalars():
        lay.scalars[s.path] = s
    r = lay.rows11
    e = FIRST_DATA_COL

    def sc(path: str, row_key: str, col_off: int, label: str, span: int = 4, kind: Literal["month", None] = "month") -> None:
        c = e + col_off
        lay.scalars[path] = Scalar(
            path,
            S11,
            _c(c, r[row_key]),
            label,
            name=None,
            label_cell=_c(c - 1, r[row_key]) if col_off else None,
            merge_to=_c(c + span - 1, r[row_key]) if span > 1 else None,
            dropdown=kind,
        )

    # ① 構築時期 (E..G) 詳細 (I..Z)
    sc("promotion.start", "label.promotion", 0, "構築時期", 3)
    sc("promotion.detail", "label.promotion", 4, "詳細", len(cols) - 4, None)
    # ④ 開始時期 土日 / 平日夜間 / 詳細; 実施場所毎 本庁 / 支所 / その他; 実施回数
    sc("openings.weekend_start", "label.openings_start", 1, "土日", 3)
    sc("openings.evening_start", "label.openings_start", 6, "平日夜間", 3)
    sc("openings.detail", "label.openings_start", 11, "詳細", len(cols) - 11, None)
    for i, (place, label) in enumerate((("honcho", "本庁"), ("shisho", "支所"), ("other", "その他"))):
        sc(f"openings.{place}_start", "label.openings_place", 1 + 5 * i, label, 3)
        sc(f"openings.{place}_per_month", "label.openings_count", 1 + 5 * i, label, 1, None)
    # ⑦ 本庁 / 支所; ⑧ 本庁 / 支所 / その他; ⑨ 開始時期 / 詳細; ⑩ 本庁 / 支所 / その他
    sc("invite.honcho_start", "label.invite", 1, "本庁", 3)
    sc("invite.shisho_start", "label.invite", 6, "支所", 3)
    for i, (place, label) in enumerate((("honcho", "本庁"), ("shisho", "支所"), ("other", "その他"))):
        sc(f"at_application.{place}_start", "label.at_application", 1 + 5 * i, label, 3)
        sc(f"support.{place}_start", "label.support", 1 + 5 * i, label, 3)
    sc("outreach.start", "label.outreach", 0, "開始時期", 3)
    sc("outreach.detail", "label.outreach", 4, "詳細", len(cols) - 4, None)
    sc("issuance_note", "label.note", 0, "説明", len(cols), None)
    # 本表1-2 ② 補正予算案の提出予定時期 (1回目..3回目), below the cost rows
    base = ROW_COST_HEADER + len(ROWS_12) + 2
    for i in range(3):
        lay.scalars[f"budget_timing.{i + 1}"] = Scalar(
            f"budget_timing.{i + 1}", S12, _c(COST_FIRST_COL, base + i), f"{i + 1}回目", label_cell=_c(COST_FIRST_COL - 1, base + i)
        )
    # 国基準 settings: dates and capacity
    for i, (path, label, fmt) in enumerate(
        (
            ("basic.population_date", "人口の基準日", "yyyy/m/d"),
            ("basic.base_issued_date", "交付枚数の基準日", "yyyy/m/d"),
            ("parameters.capacity_cards_per_month", "処理能力: 月当たり交付枚数", "#,##0"),
            ("parameters.capacity_staff", "処理能力: その枚数に必要な職員数", "#,##0.0"),
            ("title", "計画の名称", "@"),
        )
    ):
        lay.scalars[path] = Scalar(path, NATIONAL, f"C{4 + i}", label, label_cell=f"B{4 + i}", fmt=fmt, name=None)
    for i, (key, _label, _fmt) in enumerate(PP_SETTINGS):
        lay.pp_settings[key] = _c(PP_SETTING_COL, PP_SETTINGS_FIRST_ROW + i)
    row = PP_HEADER_ROW + 1
    for spec in ROWS_PP:
        lay.rows_pp[spec.key] = row
        row += 1
    lay.pp_checkpoint_first_row = row + 1
    row = lay.pp_checkpoint_first_row + len(default_schedule().checkpoints) + 1
    lay.pp_cost_header_row = row
    for i, (key, _label, _fmt) in enumerate(PP_COST_ROWS):
        lay.rows_pp_cost[key] = row + 1 + i
    row += len(PP_COST_ROWS) + 2
    lay.pp_chart_cell = f"A{row}"
    row += PP_CHART_ROWS + 1
    lay.pp_backup_note_cell = f"A{row}"
    lay.pp_backup_header_row = row + 1
    top = DAILY_FIRST_ROW
    for month in daily_months:
        lay.daily_blocks[month] = DailyBlock(month, top)
        top += DAILY_BLOCK_ROWS
    _check_complete(lay)
    return lay


def _check_complete(lay: Layout) -> None:
    """Every fillable field of the model has a place (a programming error otherwise)."""
    placed = set(lay.scalars) | set(lay.rows11) | set(lay.rows12) | set(lay.rows_work)
    missing = []
    for leaf in iter_leaves():
        if leaf.path == "budget_timing":
            continue
        if leaf.path not in placed:
            missing.append(leaf.path)
    if missing:
        raise AssertionError(f"layout has no place for {missing}")


# ---------------------------------------------------------------- 検証結果, 提出記録 and the colour memo

FIRST_RESULT_ROW = 4  # 検証結果: title in row 1, headers in row 3
FIRST_LOG_ROW = 4  # 提出記録: the same
RESULT_HEADERS = ("重要度", "ルール", "項目", "場所", "列", "期待値", "実際の値", "メッセージ")
LOG_HEADERS = ("提出日時", "ファイル", "SHA-256", "エラー", "警告", "情報", "計画のハッシュ")
RESULT_COLS = len(RESULT_HEADERS)  # 検証結果 A–H
RESULT_LINK_COL = 4  # D 場所: the hyperlink to the cell
LOG_COLS = len(LOG_HEADERS)  # 提出記録 A–G
HIGHLIGHT_MEMO_COL = 11  # K: sheet, L: cell, M: original fill (see kofu_xl.book.memo)
HIGHLIGHT_MEMO_WIDTH = 3
HIGHLIGHT_MEMO_FIRST_ROW = FIRST_RESULT_ROW
HIGHLIGHT_MEMO_HEADER_ROW = FIRST_RESULT_ROW - 1
HIGHLIGHT_MEMO_HEADERS = ("色の記録（kofu-xl 用）シート", "セル", "元の色")
MEMO_STYLE_HEADER = "元の書式番号"  # column N, written by the builder beside the K:M captions
NO_FILL = "none"
INPUT_RGB = "FFF2CC"  # pale yellow: the clerk types here
CALC_RGB = "F2F2F2"  # grey: computed, locked
