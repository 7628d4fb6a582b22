"""The plan: 本表1-1, 本表1-2, the cost working behind it and the daily calendar.

The msgspec structs below are the typed plan. Every leaf that a clerk fills has a
:class:`Meta` in its struct's ``FORM`` table, by field name: the form's own Japanese label, the
kind of value and whether the form requires it. :func:`load_plan` reads raw data (the project's
JSON, or values read from a workbook), reads what clerks type tolerantly
(full-width digits, "1,000", "14.9%", 令和 dates), and returns the plan with one
finding per value it could not take or had to rewrite, each naming its field.
"""

# No ``from __future__ import annotations`` here: the field types are evaluated once, when each
# struct is defined, instead of from strings on first use (typing.get_type_hints, ~25 ms). The
# form's metadata stays out of the annotations (a ``FORM`` table beside the fields, not
# ``Annotated[type, Meta]``): typing builds each Annotated alias at import (~0.1 M instructions
# apiece, ~10 M for the model's 98 leaves) and msgspec walks each once more when it first
# converts a plan; its reading of the types is the same without them (tests/core/test_model.py).
import datetime as dt
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Struct
from msgspec import field as Field  # the field specifier (default_factory=...), as spelled before

from kofu_xl.core.calendar import CalendarError, Column, form_columns, parse_date, parse_month, to_wareki, wareki_date
from kofu_xl.core.findings import Finding, RuleSpec, Severity, register
from kofu_xl.core.numbers import NumberError, parse_number
from kofu_xl.core.text import compiled_at_first_use, control_chars, formula_like, strip_controls

__all__ = [
    "IMPLEMENTED",
    "UNDECIDED",
    "Meta",
    "Plan",
    "fields_of",
    "iter_leaves",
    "load_plan",
    "plan_from_json",
    "plan_to_json",
    "shape_problem",
]

UNDECIDED = "未定(実施予定なし)"
"""The form's answer for an activity with no planned start."""
IMPLEMENTED = "実施済み"
"""The form's answer for an activity already running before the plan's first column."""

Kind = Literal["count", "amount", "money", "yen", "factor", "pct", "text", "code", "date", "month"]


class Meta(Struct, frozen=True):
    """What the form says about one field."""

    label: str
    kind: Kind
    required: bool = False
    series: bool = False  # one value per column of 本表1-1


def _f(label: str, kind: Kind, *, required: bool = False) -> Meta:
    return Meta(label, kind, required)


def _s(label: str, kind: Kind = "count", *, required: bool = False) -> Meta:
    return Meta(label, kind, required, series=True)


def _form(**metas: Meta) -> dict[str, Meta]:
    """A struct's ``FORM``: the :class:`Meta` of each of its leaves, by field name (a class
    attribute without annotation: no field of the struct)."""
    return metas


Num = Decimal | None
Text = str | None
Series = list[Decimal | None]


class _Part(Struct, forbid_unknown_fields=True):
    """A part of the plan: a msgspec struct (cheap to define and to import, validated by
    :func:`msgspec.convert`; unknown keys refused). Subclasses inherit the configuration."""


# ---------------------------------------------------------------- 本表1-1


class Basic(_Part):
    dantai_code: Text = None
    prefecture: Text = None
    municipality: Text = None
    population: Num = None
    population_date: dt.date | None = dt.date(2019, 1, 1)
    base_issued: Num = None
    base_issued_date: dt.date | None = dt.date(2019, 8, 31)
    base_rate_pct: Num = None
    department: Text = None
    phone: Text = None
    email: Text = None

    FORM = _form(
        dantai_code=_f("団体コード", "code", required=True),
        prefecture=_f("都道府県名", "text", required=True),
        municipality=_f("市町村名", "text", required=True),
        population=_f("人口", "count", required=True),
        population_date=_f("人口の基準日", "date"),
        base_issued=_f("交付枚数（基準日時点）", "count", required=True),
        base_issued_date=_f("交付枚数の基準日", "date"),
        base_rate_pct=_f("人口に対する交付枚数率", "pct"),
        department=_f("担当課名", "text", required=True),
        phone=_f("担当課電話番号", "text", required=True),
        email=_f("担当課メールアドレス", "text", required=True),
    )


class Promotion(_Part):
    start: Text = None
    detail: Text = None

    FORM = _form(
        start=_f("①部局横断型の推進体制 構築時期", "month", required=True),
        detail=_f("①部局横断型の推進体制 詳細", "text"),
    )


class Declared(_Part):
    """The form's derived rows as printed, or as cached in a workbook's formula cells."""

    cumulative: Series = Field(default_factory=list)
    rate_pct: Series = Field(default_factory=list)
    increase_pct: Series = Field(default_factory=list)
    per_window: Series = Field(default_factory=list)
    per_staff: Series = Field(default_factory=list)
    per_issuing_terminal: Series = Field(default_factory=list)
    per_presetting_terminal: Series = Field(default_factory=list)

    FORM = _form(
        cumulative=_s("交付枚数(累計)"),
        rate_pct=_s("人口に対する交付枚数率", "pct"),
        increase_pct=_s("人口に対する交付枚数率の前月からの増加分", "pct"),
        per_window=_s("1窓口当たり交付枚数", "amount"),
        per_staff=_s("1人当たり交付枚数", "amount"),
        per_issuing_terminal=_s("交付用統合端末1台当たり交付枚数", "amount"),
        per_presetting_terminal=_s("交付前設定用統合端末1台当たり交付枚数", "amount"),
    )


class Windows(_Part):
    total: Series = Field(default_factory=list)
    honcho: Series = Field(default_factory=list)
    shisho: Series = Field(default_factory=list)
    other: Series = Field(default_factory=list)

    FORM = _form(
        total=_s("③窓口数 合計", required=True),
        honcho=_s("③窓口数 本庁"),
        shisho=_s("③窓口数 支所"),
        other=_s("③窓口数 その他"),
    )


class Openings(_Part):
    weekend_start: Text = None
    evening_start: Text = None
    detail: Text = None
    honcho_start: Text = None
    shisho_start: Text = None
    other_start: Text = None
    honcho_per_month: Num = None
    shisho_per_month: Num = None
    other_per_month: Num = None

    FORM = _form(
        weekend_start=_f("④土日・夜間開庁 開始時期 土日", "month", required=True),
        evening_start=_f("④土日・夜間開庁 開始時期 平日夜間", "month"),
        detail=_f("④土日・夜間開庁 詳細", "text"),
        honcho_start=_f("④土日・夜間開庁 実施場所毎 開始時期 本庁", "month"),
        shisho_start=_f("④土日・夜間開庁 実施場所毎 開始時期 支所", "month"),
        other_start=_f("④土日・夜間開庁 実施場所毎 開始時期 その他", "month"),
        honcho_per_month=_f("④土日・夜間開庁 実施回数(一月当たり) 本庁", "count"),
        shisho_per_month=_f("④土日・夜間開庁 実施回数(一月当たり) 支所", "count"),
        other_per_month=_f("④土日・夜間開庁 実施回数(一月当たり) その他", "count"),
    )


class Staff(_Part):
    total: Series = Field(default_factory=list)
    honcho_regular: Series = Field(default_factory=list)
    honcho_temporary: Series = Field(default_factory=list)
    honcho_other: Series = Field(default_factory=list)
    shisho_regular: Series = Field(default_factory=list)
    shisho_temporary: Series = Field(default_factory=list)
    shisho_other: Series = Field(default_factory=list)
    other_regular: Series = Field(default_factory=list)
    other_temporary: Series = Field(default_factory=list)
    other_other: Series = Field(default_factory=list)

    FORM = _form(
        total=_s("⑤職員配置数 合計", "amount", required=True),
        honcho_regular=_s("⑤職員配置数 本庁 正規職員", "amount"),
        honcho_temporary=_s("⑤職員配置数 本庁 臨時・非常勤職員", "amount"),
        honcho_other=_s("⑤職員配置数 本庁 その他", "amount"),
        shisho_regular=_s("⑤職員配置数 支所 正規職員", "amount"),
        shisho_temporary=_s("⑤職員配置数 支所 臨時・非常勤職員", "amount"),
        shisho_other=_s("⑤職員配置数 支所 その他", "amount"),
        other_regular=_s("⑤職員配置数 その他 正規職員", "amount"),
        other_temporary=_s("⑤職員配置数 その他 臨時・非常勤職員", "amount"),
        other_other=_s("⑤職員配置数 その他 その他", "amount"),
    )

    PARTS: ClassVar[tuple[str, ...]] = (
        "honcho_regular",
        "honcho_temporary",
        "honcho_other",
        "shisho_regular",
        "shisho_temporary",
        "shisho_other",
        "other_regular",
        "other_temporary",
        "other_other",
    )


class Terminals(_Part):
    total: Series = Field(default_factory=list)
    issuing: Series = Field(default_factory=list)
    presetting: Series = Field(default_factory=list)
    honcho: Series = Field(default_factory=list)
    honcho_issuing: Series = Field(default_factory=list)
    honcho_presetting: Series = Field(default_factory=list)
    shisho: Series = Field(default_factory=list)
    shisho_issuing: Series = Field(default_factory=list)
    shisho_presetting: Series = Field(default_factory=list)
    other: Series = Field(default_factory=list)
    other_issuing: Series = Field(default_factory=list)
    other_presetting: Series = Field(default_factory=list)

    FORM = _form(
        total=_s("⑥統合端末台数 合計", "count", required=True),
        issuing=_s("⑥統合端末台数 交付", "count", required=True),
        presetting=_s("⑥統合端末台数 交付前設定", "count", required=True),
        honcho=_s("⑥統合端末台数 本庁", "count"),
        honcho_issuing=_s("⑥統合端末台数 本庁 交付", "count"),
        honcho_presetting=_s("⑥統合端末台数 本庁 交付前設定", "count"),
        shisho=_s("⑥統合端末台数 支所", "count"),
        shisho_issuing=_s("⑥統合端末台数 支所 交付", "count"),
        shisho_presetting=_s("⑥統合端末台数 支所 交付前設定", "count"),
        other=_s("⑥統合端末台数 その他", "count"),
        other_issuing=_s("⑥統合端末台数 その他 交付", "count"),
        other_presetting=_s("⑥統合端末台数 その他 交付前設定", "count"),
    )

    PLACES: ClassVar[tuple[str, ...]] = ("honcho", "shisho", "other")


class Invite(_Part):
    honcho_start: Text = None
    shisho_start: Text = None

    FORM = _form(
        honcho_start=_f("⑦来庁者への申請勧奨 本庁", "month", required=True),
        shisho_start=_f("⑦来庁者への申請勧奨 支所", "month"),
    )


class AtApplication(_Part):
    counts: Series = Field(default_factory=list)
    honcho_start: Text = None
    shisho_start: Text = None
    other_start: Text = None

    FORM = _form(
        counts=_s("⑧申請時来庁 受付件数"),
        honcho_start=_f("⑧申請時来庁 開始時期 本庁", "month", required=True),
        shisho_start=_f("⑧申請時来庁 開始時期 支所", "month"),
        other_start=_f("⑧申請時来庁 開始時期 その他", "month"),
    )


class Outreach(_Part):
    counts: Series = Field(default_factory=list)
    start: Text = None
    detail: Text = None

    FORM = _form(
        counts=_s("⑨出張申請受付 受付件数"),
        start=_f("⑨出張申請受付 開始時期", "month", required=True),
        detail=_f("⑨出張申請受付 詳細", "text"),
    )


class Support(_Part):
    honcho_start: Text = None
    shisho_start: Text = None
    other_start: Text = None

    FORM = _form(
        honcho_start=_f("⑩申請サポート 開始時期 本庁", "month", required=True),
        shisho_start=_f("⑩申請サポート 開始時期 支所", "month"),
        other_start=_f("⑩申請サポート 開始時期 その他", "month"),
    )


# ---------------------------------------------------------------- 本表1-2 (千円) and its working (円)


class Purchase(_Part):
    count: Num = None
    cost: Num = None
    subsidized: Num = None

    FORM = _form(
        count=_f("購入台数", "count"),
        cost=_f("購入経費", "money"),
        subsidized=_f("うち補助対象分", "money"),
    )


class CostYear(_Part):
    """One fiscal year of 本表1-2, in 千円 as the form asks."""

    total: Num = None
    personnel_total: Num = None
    personnel_regular: Num = None
    personnel_temporary: Num = None
    personnel_other: Num = None
    tablet: Purchase = Field(default_factory=Purchase)
    printer: Purchase = Field(default_factory=Purchase)
    webcam: Purchase = Field(default_factory=Purchase)
    postage: Num = None
    reservation: Num = None
    terminals: Num = None
    other: Num = None

    FORM = _form(
        total=_f("①補助対象経費", "money", required=True),
        personnel_total=_f("I. 個人番号カード交付のための人件費", "money", required=True),
        personnel_regular=_f("I. 人件費 正規職員", "money", required=True),
        personnel_temporary=_f("I. 人件費 臨時・非常勤職員", "money", required=True),
        personnel_other=_f("I. 人件費 その他", "money", required=True),
        postage=_f("III. 本人限定受取郵便の送付に係る経費", "money", required=True),
        reservation=_f("IV. 交付予約に関する経費", "money", required=True),
        terminals=_f("V. 統合端末等に係る経費", "money", required=True),
        other=_f("その他補助対象経費", "money", required=True),
    )

    PURCHASES: ClassVar[dict[str, str]] = {"tablet": "II-1. タブレット端末", "printer": "II-2. モバイルプリンター", "webcam": "II-3. ウェブカメラ"}


class Overtime(_Part):
    """時間外勤務手当 = 時給 × 割増率 × 日数 × 人数 × 時間 (円)."""

    hourly_yen: Num = None
    premium: Num = None
    days: Num = None
    staff: Num = None
    hours: Num = None

    FORM = _form(
        hourly_yen=_f("時間外勤務手当 時給(円)", "yen"),
        premium=_f("時間外勤務手当 割増率", "factor"),
        days=_f("時間外勤務手当 日数", "count"),
        staff=_f("時間外勤務手当 人数", "amount"),
        hours=_f("時間外勤務手当 時間", "amount"),
    )


class Postage(_Part):
    """本人限定受取郵便 = 人数/月 × 月数 × 単価 (円)."""

    per_month: Num = None
    months: Num = None
    unit_yen: Num = None

    FORM = _form(
        per_month=_f("本人限定受取郵便 月当たり人数", "count"),
        months=_f("本人限定受取郵便 月数", "count"),
        unit_yen=_f("本人限定受取郵便 単価(円)", "yen"),
    )


class Working(_Part):
    """The cost working (積算) behind one fiscal year of 本表1-2, in 円."""

    overtime: Overtime = Field(default_factory=Overtime)
    temporary_yen: Num = None
    temporary_note: Text = None
    postage: Postage = Field(default_factory=Postage)
    tablet_unit_yen: Num = None
    printer_unit_yen: Num = None
    webcam_unit_yen: Num = None

    FORM = _form(
        temporary_yen=_f("臨時・非常勤職員 所要額(円)", "yen"),
        temporary_note=_f("臨時・非常勤職員 積算の説明", "text"),
        tablet_unit_yen=_f("タブレット端末 単価(円)", "yen"),
        printer_unit_yen=_f("モバイルプリンター 単価(円)", "yen"),
        webcam_unit_yen=_f("ウェブカメラ 単価(円)", "yen"),
    )


# ---------------------------------------------------------------- daily calendar and parameters


class DailyTotals(_Part):
    """Totals printed under one month's calendar (月..日 and the month)."""

    weekday: list[Decimal | None] = Field(default_factory=list)  # 7 values, Monday first
    total: Decimal | None = None


class Daily(_Part):
    days: dict[dt.date, Decimal] = Field(default_factory=dict)
    declared: dict[str, DailyTotals] = Field(default_factory=dict)  # month key -> totals as printed

    def months(self) -> list[str]:
        return sorted({f"{d.year}-{d.month:02d}" for d in self.days} | set(self.declared))


class Parameters(_Part):
    """Form shape and assumptions. Defaults are the 2019 form and the strategy meeting's."""

    first_month: str = "2019-08"
    last_month: str = "2021-03"
    fiscal_years: list[int] = Field(default_factory=lambda: [2021, 2022])
    actual_through: str | None = "2019-08"
    cost_years: list[int] = Field(default_factory=lambda: [2019, 2020])
    # "過去の実績から月1,000件を交付する場合、職員6名体制が必要" (meeting of 2019-10-03).
    capacity_cards_per_month: Decimal = Decimal(1000)
    capacity_staff: Decimal = Decimal(6)


class Plan(_Part):
    """A plan as the form holds it: 基礎情報, ② 交付枚数 … ⑧, 本表1-2 costs, the cost working and
    the daily calendar, every value typed and validated (see :func:`load_plan` for reading raw data)."""

    title: Text = None
    parameters: Parameters = Field(default_factory=Parameters)
    basic: Basic = Field(default_factory=Basic)
    promotion: Promotion = Field(default_factory=Promotion)
    issuance: Series = Field(default_factory=list)
    issuance_note: Text = None
    declared: Declared = Field(default_factory=Declared)
    expiry_card: Series = Field(default_factory=list)
    expiry_cert: Series = Field(default_factory=list)
    windows: Windows = Field(default_factory=Windows)
    openings: Openings = Field(default_factory=Openings)
    staff: Staff = Field(default_factory=Staff)
    terminals: Terminals = Field(default_factory=Terminals)
    invite: Invite = Field(default_factory=Invite)
    at_application: AtApplication = Field(default_factory=AtApplication)
    outreach: Outreach = Field(default_factory=Outreach)
    support: Support = Field(default_factory=Support)
    costs: dict[str, CostYear] = Field(default_factory=dict)  # "FY2019" -> 本表1-2 column
    working: dict[str, Working] = Field(default_factory=dict)  # "FY2019" -> 積算
    budget_timing: list[str | None] = Field(default_factory=list)
    daily: Daily = Field(default_factory=Daily)

    FORM = _form(
        title=_f("計画の名称", "text"),
        issuance=_s("②交付枚数", required=True),
        issuance_note=_f("②交付枚数の想定 説明", "text"),
        expiry_card=_s("マイナンバーカード有効期限切れ件数"),
        expiry_cert=_s("電子証明書有効期限切れ件数"),
        budget_timing=_s("②補正予算案の提出予定時期", "text"),
    )

    @property
    def columns(self) -> list[Column]:
        p = self.parameters
        return form_columns(p.first_month, p.last_month, p.fiscal_years, p.actual_through)

    @property
    def column_keys(self) -> list[str]:
        return [c.key for c in self.columns]

    @property
    def cost_keys(self) -> list[str]:
        return [f"FY{y}" for y in self.parameters.cost_years]

    def series(self, path: str) -> Series:
        """A series by model path ("staff.total"), padded to the plan's columns."""
        obj: Any = self
        for part in path.split("."):
            obj = getattr(obj, part)
        n = len(self.columns)
        values = list(obj)[:n]
        return values + [None] * (n - len(values))


# ---------------------------------------------------------------- leaves of the model


class Leaf(Struct, frozen=True):
    """One fillable field: its model path, its metadata and, for costs, its year."""

    path: str  # "staff.total", "costs.personnel_regular", "working.overtime.days"
    meta: Meta
    attr_path: tuple[str, ...]  # attributes below the plan or below a CostYear/Working
    group: str | None = None  # "costs" / "working" for per-fiscal-year fields


class FieldInfo(Struct, frozen=True):
    """One field of a part of the plan: its name, its type (without the form's metadata) and
    the form's metadata (None for nested parts, parameters and the daily calendar)."""

    name: str
    annotation: Any
    meta: Meta | None


_FIELDS: dict[type, tuple[FieldInfo, ...]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls, include_extras=True)`` of a part of the plan, read as
    written: its annotations and its bases', the class's own winning. This module's
    annotations are objects, not strings (no ``from __future__ import annotations``), so there
    is nothing to evaluate, and get_type_hints' walk through every annotation returns each as
    it is (~4 M instructions of a check's first reading). An annotation written as a string
    (or None) is left to get_type_hints."""
    out: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        ann = base.__dict__.get("__annotations__", {})
        if isinstance(ann, dict):
            out.update(ann)
    if any(a is None or isinstance(a, str) for a in out.values()):
        return get_type_hints(cls, include_extras=True)
    return out


def fields_of(cls: type[Struct]) -> tuple[FieldInfo, ...]:
    """The fields of a part of the plan, in form order (cached)."""
    known = _FIELDS.get(cls)
    if known is None:
        hints = _hints(cls)
        form: dict[str, Meta] = {}
        for base in reversed(cls.__mro__):  # the class's own winning, as its annotations do
            form.update(base.__dict__.get("FORM", {}))
        out = [FieldInfo(name, hints[name], form.get(name)) for name in cls.__struct_fields__]
        known = _FIELDS[cls] = tuple(out)
    return known


def _is_part(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, Struct)


def _leaves(cls: type[Struct], prefix: tuple[str, ...], group: str | None) -> Iterator[Leaf]:
    for info in fields_of(cls):
        name, ann, meta = info.name, info.annotation, info.meta
        here = (*prefix, name)
        if meta is not None:
            label = meta.label
            if cls is Purchase:  # purchases are labelled by their item
                label = f"{CostYear.PURCHASES[prefix[-1]]} {meta.label}"
                meta = Meta(label, meta.kind, meta.required, meta.series)
            base = (group,) if group else ()
            yield Leaf(".".join((*base, *here)), meta, here, group)
        elif _is_part(ann) and ann not in (Parameters, Daily):
            yield from _leaves(ann, here, group)
        elif get_origin(ann) is dict and name in ("costs", "working"):
            (_, sub) = get_args(ann)
            yield from _leaves(sub, (), name)


_LEAVES: tuple[Leaf, ...] | None = None


def iter_leaves() -> tuple[Leaf, ...]:
    """Every fillable field of a plan, in form order."""
    global _LEAVES
    if _LEAVES is None:
        _LEAVES = tuple(_leaves(Plan, (), None))
    return _LEAVES


def leaf_label(path: str) -> str:
    """The form's label of a field by its model path."""
    return _LABELS()[path]


def _LABELS() -> dict[str, str]:  # noqa: N802 - a cached table
    global _LABEL_TABLE
    if _LABEL_TABLE is None:
        _LABEL_TABLE = {leaf.path: leaf.meta.label for leaf in iter_leaves()}
    return _LABEL_TABLE


_LABEL_TABLE: dict[str, str] | None = None


# ---------------------------------------------------------------- loading raw input


def _typed(raw: object) -> str:
    """A cell's value as the clerk typed it: 202004 (not 202004.0), 1.5, 令和2年4月1日 for a
    date, text as it is."""
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() and abs(raw) < 1e15 else repr(raw)
    if isinstance(raw, dt.date):
        day = raw.date() if isinstance(raw, dt.datetime) else raw
        try:
            text = wareki_date(day)
        except CalendarError:  # before 昭和: as ISO
            text = day.isoformat()
        if isinstance(raw, dt.datetime) and raw.time() != dt.time():
            text += f" {raw:%H:%M}"
        return text
    if isinstance(raw, Decimal):
        return format(raw, "f")
    return str(raw)


NOT_A_NUMBER = register(
    RuleSpec(
        "not-a-number",
        Severity.ERROR,
        "数値ではない",
        "数値を入れる欄に、数値として読めない値が入っています。",
        "半角または全角の数字だけを入力してください（桁区切りのカンマ・単位は可）。",
        "数値を入力するすべての欄",
        "{field}{col}の「{actual}」は数値として読めません（{reason}）。数値を入力してください。",
    )
)
NEGATIVE = register(
    RuleSpec(
        "negative-value",
        Severity.ERROR,
        "負の値",
        "件数・人数・台数・金額に負の値が入っています。",
        "0 以上の値を入力してください。",
        "件数・人数・台数・金額の欄",
        "{field}{col}が負の値 {actual} です。0 以上の値を入力してください。",
    )
)
INVALID_DATE = register(
    RuleSpec(
        "invalid-date",
        Severity.ERROR,
        "日付・年月が読めない",
        "日付や開始時期の欄に、日付・年月として読めない値が入っています。",
        "「令和2年4月」「2020-04」「未定(実施予定なし)」のように入力してください。",
        "開始時期・基準日の欄",
        "{field}{col}の「{actual}」は{reason}。",
    )
)
NORMALIZED = register(
    RuleSpec(
        "normalized-input",
        Severity.INFO,
        "入力値の読み替え",
        "全角数字・桁区切り・単位・%・和暦などを、計算できる形に読み替えました。値そのものは変わりません。",
        "対応は不要です。気になる場合は半角数字で入力し直してください。",
        "すべての入力欄",
        "{field}{col}: {note}。",
    )
)
BAD_SHAPE = register(
    RuleSpec(
        "invalid-structure",
        Severity.ERROR,
        "計画データの形が正しくない",
        "計画データの項目の形（列の数、表の形）が様式と合いません。",
        "様式の列（R元年8月〜R4年度）に合わせて入力してください。",
        "計画データ全体",
        "{field}: {reason}",
    )
)

CONTROL_CHARS = register(
    RuleSpec(
        "control-characters",
        Severity.ERROR,
        "制御文字が含まれている",
        "入力欄に、画面に表示されない制御文字（NUL・BEL・ESC など）が含まれています。提出ファイルに正しく書けず、受け取った側で誤動作の原因になります。",
        "該当する欄を入力し直してください（他の文書から貼り付けた場合は、文字だけを貼り付けてください）。",
        "すべての入力欄",
        "{field}{col}に制御文字 {chars} が含まれています。入力し直してください。",
    )
)
FORMULA_LIKE = register(
    RuleSpec(
        "formula-like-text",
        Severity.WARNING,
        "数式のように見える文字列",
        "文字を入れる欄の値が「=」「+」「-」「@」で始まるか、DDE（cmd|'…'!A0 など）の形をしています。表計算ソフトで開いた人が数式として実行してしまうおそれがあります。kofu-xl は文字列として書き出します。",
        "先頭の記号を取るか、全角の記号（＝、＋、－、＠）にしてください。",
        "市町村名・担当課名・電話番号・詳細など文字を入力する欄",
        "{field}{col}の「{actual}」は数式のように見えます。文字列として扱いますが、先頭の記号を取るか全角にしてください。",
    )
)

DAILY = Meta("日次実績 交付枚数", "count")
DAILY_WEEKDAY = Meta("日次実績 曜日別合計", "count")
DAILY_TOTAL = Meta("日次実績 月合計", "count")

# No figure of a municipal plan reaches a trillion (yen included); larger values are typos
# or hostile, and would overflow the 34-digit exact arithmetic of the rates.
MAX_MAGNITUDE = Decimal(10) ** 12
MIN_MAGNITUDE = Decimal("1e-6")
_PLAIN_MIN, _PLAIN_MAX = 1e-6, 1e12  # plain numbers in these bounds need none of the checks below
_PLAIN_DIGITS = 12  # a string of at most this many ASCII digits is a whole number below _PLAIN_MAX

_TEXTUAL: frozenset[Kind] = frozenset({"text", "code", "date", "month"})
_NONNEGATIVE: frozenset[Kind] = frozenset({"count", "amount", "money", "yen", "factor", "pct"})
_IMPLEMENTED_WORDS = {"実施済み", "実施済", "実施中", "既に実施"}
_MONTH_WORDS = {"未定", "実施予定なし", "未定(実施予定なし)", "なし", "予定なし"}


def _whole(raw: object) -> Decimal | None:
    """A whole number as the commonest cells hold it, as the loader keeps it (canonical): a
    number cell (calamine reads every number as a float) or a package's JSON number (kept as
    plain ASCII digits); None for anything else, which the full reading decides. A plan
    repeats the same few hundred figures (~1,000 cells a plan): each is converted once."""
    kind = type(raw)
    if kind is not float and kind is not str:
        return None
    got = _WHOLES.get(raw)
    if got is not None:
        return got
    if kind is float:
        if not (raw.is_integer() and 0 <= raw < _PLAIN_MAX):  # type: ignore[attr-defined,operator]
            return None
        got = Decimal(int(raw))  # type: ignore[call-overload]
    elif 0 < len(raw) <= _PLAIN_DIGITS and raw.isascii() and raw.isdigit():  # type: ignore[arg-type,attr-defined]
        got = Decimal(raw)  # type: ignore[arg-type]  # exponent 0, leading zeros gone: canonical
    else:
        return None
    if len(_WHOLES) < _WHOLES_MAX:
        _WHOLES[raw] = got  # a float and a str are never equal keys; Decimals are immutable
    return got


_WHOLES: dict[object, Decimal] = {}
_WHOLES_MAX = 1 << 16


def canonical(value: Decimal) -> Decimal:
    """One spelling per number (103.0 and 103 are the same count), so equal plans hash equal."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize()


class _Loader:
    def __init__(self, columns: list[str], cost_keys: list[str]) -> None:
        self.columns = columns
        self.cost_keys = cost_keys
        self.findings: list[Finding] = []

    # -- one value
    def value(self, raw: object, meta: Meta, path: str, column: str | None) -> Any:
        if meta.kind not in _TEXTUAL and (whole := _whole(raw)) is not None:
            return whole  # the commonest cell
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, str) and (chars := control_chars(raw)):
            # reported with the cell, then dropped: nothing downstream ever holds them
            self._add(CONTROL_CHARS, meta, path, column, actual=strip_controls(raw), chars="・".join(chars))
            raw = strip_controls(raw)
            if not raw.strip():
                return None
        if meta.kind in ("text", "code"):
            return self._text(raw, meta, path, column)
        if meta.kind == "date":
            return self._date(raw, meta, path, column)
        if meta.kind == "month":
            return self._month(raw, meta, path, column)
        return self._number(raw, meta, path, column)

    def _add(self, spec: RuleSpec, meta: Meta, path: str, column: str | None, actual: object = None, **params: Any) -> None:
        self.findings.append(Finding(spec, meta.label, path, column, actual=actual, params=params))

    def _number(self, raw: object, meta: Meta, path: str, column: str | None) -> Decimal | None:
        kind = type(raw)  # (a whole number cell was taken by _whole before)
        if (kind is float or kind is int) and (raw == 0 or _PLAIN_MIN <= abs(raw) < _PLAIN_MAX):  # type: ignore[arg-type]
            # a number cell: exact through the float's shortest repr
            value = Decimal(repr(raw)) if kind is float else Decimal(raw)  # type: ignore[arg-type]
            if value >= 0 and (meta.kind != "count" or value == value.to_integral_value()):
                return canonical(value)
        if isinstance(raw, dt.date):  # a date typed (or formatted) into a number cell
            shown = _typed(raw)
            self._add(NOT_A_NUMBER, meta, path, column, actual=shown, reason="日付が入っています。セルの表示形式が日付になっていないかも確認してください")
            return None
        try:
            parsed = parse_number(raw)
        except NumberError as exc:
            self._add(NOT_A_NUMBER, meta, path, column, actual=_typed(raw), reason=exc.reason)
            return None
        value = parsed.value
        if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
            self._add(NOT_A_NUMBER, meta, path, column, actual=_typed(raw), reason=f"桁が大きすぎます（{MAX_MAGNITUDE:,} 未満で入力してください）")
            return None
        if value and abs(value) < MIN_MAGNITUDE:
            self._add(NOT_A_NUMBER, meta, path, column, actual=_typed(raw), reason="小数点以下の桁が多すぎます（0.000001 以上で入力してください）")
            return None
        if parsed.percent and meta.kind != "pct":
            # "50%" in a count field is no count; in a factor field it means 0.5.
            if meta.kind == "factor":
                value = value / 100
            else:
                self._add(NOT_A_NUMBER, meta, path, column, actual=_typed(raw), reason="% は率の欄にだけ使えます")
                return None
        if value < 0 and meta.kind in _NONNEGATIVE:
            self._add(NEGATIVE, meta, path, column, actual=value)
            return None
        if meta.kind == "count" and value != value.to_integral_value():
            self._add(NOT_A_NUMBER, meta, path, column, actual=_typed(raw), reason="整数で入力してください")
            return None
        if parsed.normalized:
            self._add(NORMALIZED, meta, path, column, actual=_typed(raw), note=parsed.note)
        return canonical(value)

    def _text(self, raw: object, meta: Meta, path: str, column: str | None) -> str:
        if meta.kind == "code" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            if float(raw).is_integer() and 0 < raw < 1_000_000:
                text = f"{int(raw):06d}"
                if len(str(int(raw))) < 6:
                    self._add(NORMALIZED, meta, path, column, actual=raw, note=f"数値 {int(raw)} を先頭の0を補って {text} と読み替えました")
                return text
        text = str(raw)
        norm = unicodedata.normalize("NFKC", text).strip()
        if meta.kind == "code" and norm != text:
            self._add(NORMALIZED, meta, path, column, actual=text, note=f"「{text}」を「{norm}」と読み替えました")
            return norm
        text = text.strip()
        if meta.kind == "text" and formula_like(text):
            self._add(FORMULA_LIKE, meta, path, column, actual=text[:80])
        return text

    def _date(self, raw: object, meta: Meta, path: str, column: str | None) -> dt.date | None:
        try:
            day = parse_date(raw)
            to_wareki(day)  # the form spells it in 和暦 (本表1-1's captions): 昭和 or later
        except CalendarError as exc:
            self._add(INVALID_DATE, meta, path, column, actual=_typed(raw), reason=f"{exc.reason}。「2019/8/31」や「令和元年8月31日」のように入力してください")
            return None
        if isinstance(raw, str) and raw.strip() != day.isoformat():
            self._add(NORMALIZED, meta, path, column, actual=raw, note=f"「{raw}」を {day.isoformat()} と読み替えました")
        return day

    def _month(self, raw: object, meta: Meta, path: str, column: str | None) -> str | None:
        text = unicodedata.normalize("NFKC", _typed(raw)).strip()
        if text.replace(" ", "") in _IMPLEMENTED_WORDS:
            if text != IMPLEMENTED:
                self._add(NORMALIZED, meta, path, column, actual=_typed(raw), note=f"「{raw}」を「{IMPLEMENTED}」と読み替えました")
            return IMPLEMENTED
        if text.replace(" ", "") in _MONTH_WORDS:
            if text != UNDECIDED:
                self._add(NORMALIZED, meta, path, column, actual=_typed(raw), note=f"「{raw}」を「{UNDECIDED}」と読み替えました")
            return UNDECIDED
        try:
            month = parse_month(raw if isinstance(raw, (dt.date, dt.datetime)) else text)
        except CalendarError as exc:
            self._add(INVALID_DATE, meta, path, column, actual=_typed(raw), reason=f"{exc.reason}。「令和2年4月」のような年月、「{IMPLEMENTED}」か「{UNDECIDED}」を入力してください")
            return None
        return month

    # -- a series over the form's columns
    def series(self, raw: object, meta: Meta, path: str, keys: list[str]) -> list[Any]:
        if raw is None:
            return [None] * len(keys)
        if isinstance(raw, dict):
            unknown = [k for k in raw if k not in keys]
            if unknown:
                self.findings.append(
                    Finding(BAD_SHAPE, meta.label, path, params={"reason": f"様式にない列 {', '.join(map(str, unknown))} があります"})
                )
            items = [raw.get(k) for k in keys]
        elif isinstance(raw, (list, tuple)):
            if len(raw) > len(keys):
                extra = [v for v in raw[len(keys) :] if v not in (None, "")]
                if extra:
                    self.findings.append(
                        Finding(BAD_SHAPE, meta.label, path, params={"reason": f"列が {len(raw)} 個あります（様式は {len(keys)} 列）"})
                    )
            items = list(raw[: len(keys)]) + [None] * (len(keys) - len(raw))
        else:
            self.findings.append(Finding(BAD_SHAPE, meta.label, path, params={"reason": "列ごとの値の並びではありません"}))
            return [None] * len(keys)
        if meta.kind in _TEXTUAL:
            return [self.value(v, meta, path, k) for k, v in zip(keys, items, strict=True)]
        # the commonest cells first: empty, a whole number seen before, a whole number
        seen = _WHOLES.get
        return [
            None if v is None
            else whole if (type(v) is str or type(v) is float) and (whole := seen(v)) is not None
            else whole if (whole := _whole(v)) is not None
            else (None if isinstance(v, str) and not v.strip() else self._number(v, meta, path, k))
            for k, v in zip(keys, items, strict=True)
        ]

    # -- the daily calendar
    def daily(self, raw: object) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict) or not isinstance(raw.get("days") or {}, dict) or not isinstance(raw.get("declared") or {}, dict):
            self.findings.append(Finding(BAD_SHAPE, DAILY.label, "daily", params={"reason": "日次実績の表ではありません"}))
            return {}
        days: dict[dt.date, Decimal] = {}
        for key, count in (raw.get("days") or {}).items():
            if type(key) is str and len(key) == 10 and key[4] == "-" and (whole := _whole(count)) is not None:
                try:  # the commonest entry: a canonical date and a whole count (a package's JSON)
                    days[dt.date.fromisoformat(key)] = whole
                    continue
                except ValueError:
                    pass  # the full reading says what is wrong
            try:
                day = parse_date(key)
            except CalendarError as exc:
                self.findings.append(
                    Finding(INVALID_DATE, DAILY.label, "daily.days", str(key), actual=_typed(key), params={"reason": f"{exc.reason}。「2019-08-05」のような日付にしてください"})
                )
                continue
            value = self.value(count, DAILY, "daily.days", day.isoformat())
            if value is not None:
                days[day] = value
        declared: dict[str, Any] = {}
        for month, totals in (raw.get("declared") or {}).items():
            totals = totals if isinstance(totals, dict) else {}
            declared[month] = {
                "weekday": self.series(totals.get("weekday"), DAILY_WEEKDAY, "daily.weekday", [f"{month}:{w}" for w in range(7)]),
                "total": self.value(totals.get("total"), DAILY_TOTAL, "daily.total", month),
            }
        return {"days": days, "declared": declared}

    # -- a model
    def model(self, cls: type[Struct], raw: object, prefix: str, column: str | None) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.findings.append(Finding(BAD_SHAPE, prefix.rstrip(".") or "計画", prefix.rstrip("."), params={"reason": "項目の表ではありません"}))
            return {}
        out: dict[str, Any] = {}
        for info in fields_of(cls):
            name, meta, ann = info.name, info.meta, info.annotation
            if name not in raw:
                continue
            value = raw[name]
            path = prefix + name
            if cls is Purchase and meta is not None:
                item = prefix.rstrip(".").rsplit(".", 1)[-1]
                meta = Meta(f"{CostYear.PURCHASES[item]} {meta.label}", meta.kind, meta.required, meta.series)
            if meta is not None and meta.series:
                keys = self.columns if name != "budget_timing" else ["1", "2", "3"]
                out[name] = self.series(value, meta, path, keys)
            elif meta is not None:
                out[name] = self.value(value, meta, path, column)
            elif name in ("costs", "working") and cls is Plan:
                sub_cls = CostYear if name == "costs" else Working
                out[name] = {}
                if value is not None and not isinstance(value, dict):
                    self.findings.append(Finding(BAD_SHAPE, name, name, params={"reason": "年度ごとの表ではありません"}))
                    continue
                for year_key, sub in (value or {}).items():
                    if year_key not in self.cost_keys:
                        self.findings.append(Finding(BAD_SHAPE, name, name, params={"reason": f"様式にない年度「{year_key}」があります（{', '.join(self.cost_keys)}）"}))
                        continue
                    out[name][year_key] = self.model(sub_cls, sub, f"{name}.", str(year_key))
            elif ann is Daily:
                out[name] = self.daily(value)
            elif _is_part(ann) and ann is not Parameters:
                out[name] = self.model(ann, value, f"{path}.", column)
            else:
                out[name] = value  # parameters: validated by msgspec
        return out


def load_plan(raw: dict[str, Any]) -> tuple[Plan, list[Finding]]:
    """Raw data -> (plan, findings of reading it).

    Never raises for bad values: each becomes a finding naming its field and column
    and the value is left empty. The assembled plan is validated once more against its
    types (:func:`msgspec.convert`); malformed parameters are a finding too.
    """
    bad_params = None
    try:
        params = msgspec.convert(raw.get("parameters") or {}, Parameters, strict=False)
        columns = [c.key for c in form_columns(params.first_month, params.last_month, params.fiscal_years, params.actual_through)]
    except (ValueError, TypeError) as exc:  # msgspec's ValidationError is a ValueError
        bad_params = f"様式の設定（parameters）が読めないため、2019年の様式として読みました（{shape_problem(exc, 'parameters')}）"
        params = Parameters()
        columns = [c.key for c in form_columns(params.first_month, params.last_month, params.fiscal_years, params.actual_through)]
    loader = _Loader(columns, [f"FY{y}" for y in params.cost_years])
    if bad_params:
        loader.findings.append(Finding(BAD_SHAPE, "様式の設定", "parameters", params={"reason": bad_params}))
    data = loader.model(Plan, raw, "", None)
    data["parameters"] = params
    plan = msgspec.convert(data, Plan)
    return plan, loader.findings


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON data: numbers as exact decimal strings, dates as ISO strings."""
    return msgspec.to_builtins(plan)


def plan_from_json(data: Any) -> Plan:
    """A plan from JSON data written by :func:`plan_to_json` (strictly typed; raises
    :class:`msgspec.ValidationError`, a ValueError, on anything else)."""
    return msgspec.convert(data, Plan, strict=False)


_TYPE_WORDS = {
    "str": "文字列",
    "int": "整数",
    "float": "数値",
    "decimal": "数値",
    "bool": "はい／いいえ（真偽値）",
    "null": "空（null）",
    "object": "項目の表",
    "array": "値の並び",
    "date": "日付（YYYY-MM-DD）",
}
# msgspec's messages, read only when a plan is refused
_AT = compiled_at_first_use(r" - at `(?:(key)` in `)?\$\.?([^`]*)`$")
_EXPECTED = compiled_at_first_use(r"^Expected `([^`]+)`, got `([^`]+)`")
_UNKNOWN = compiled_at_first_use(r"^Object contains unknown field `([^`]+)`")
_MISSING = compiled_at_first_use(r"^Object missing required field `([^`]+)`")


def _type_word(name: str) -> str:
    return " または ".join(_TYPE_WORDS.get(part.strip(), part.strip()) for part in name.split("|"))


def shape_problem(exc: BaseException, prefix: str = "") -> str:
    """A Japanese sentence for a value of plan data (a JSON plan, a package's .json) whose
    shape or type the typed plan refuses (:class:`msgspec.ValidationError`): the field, by
    the form's label where it has one, and what is wrong. Other errors keep their own text."""
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    if not isinstance(exc, msgspec.ValidationError):
        return text[:200]
    at = _AT().search(text)
    head = text[: at.start()] if at else text
    path = ".".join(p for p in (prefix, at[2] if at else "") if p)
    if at and at[1]:
        path += " のキー"
    label = _LABELS().get(path.split("[")[0]) if path else None
    field = f"{label}（{path}）" if label else (path or "全体")
    if m := _EXPECTED().match(head):
        what = f"{_type_word(m[1])}が必要なところが{_type_word(m[2])}です"
    elif m := _UNKNOWN().match(head):
        what = f"知らない項目 {m[1]} があります"
    elif m := _MISSING().match(head):
        what = f"必要な項目 {m[1]} がありません"
    elif head.startswith("Invalid"):
        what = "値が読めません（形式が違います）"
    else:
        what = "形が正しくありません"
    return f"{field}: {what}"
