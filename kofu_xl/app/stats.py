"""Reader for the official monthly issuance statistics (マイナンバーカード交付状況).

The statistics are one CSV per publication date (``YYYYMMDD.csv``, UTF-8 with BOM) with
the columns 算出基準日, 都道府県名, 市区町村名, 総数（人口）, 交付枚数, 人口に対する交付枚数率,
人口算出基準日, 交付件数基準日, 団体コード (see shared/reference/issuance_stats/README.md).

Design:

* Parsing is pure: :func:`parse_stats` turns CSV text into a :class:`StatsTable`.
  I/O happens only in functions that take a path or a text/bytes source
  (:func:`read_stats`, :func:`read_stats_dir`, :func:`build_municipality_table`,
  :func:`write_municipality_table`, :func:`load_municipalities`).
* Only the stdlib ``csv`` and ``decimal`` modules are used (no pandas: it is slow to import
  and this path runs in the CLI and in Excel UDF sessions).
* Every format problem raises :class:`StatsFormatError` (a ``ValueError``) whose message is
  Japanese and names the file, the line and the column.

Known quirks of the shared data (all handled here):

* 団体コード is written without its leading zero (札幌市 011002 → ``11002``).
* From 20210801.csv on, 東京都 三宅村 and 八丈町 have ``<NA>`` instead of a code: the statistics
  renamed them (earlier files say 三宅島三宅村 / 八丈島八丈町) and the conversion lost the code.
  :func:`read_stats` fills such a code from the municipality name (bundled
  ``kofu_xl/data/municipalities.csv``, which carries the current official names, plus
  :data:`NAME_CHANGES`) and records the repair in :attr:`StatsTable.repairs`.
"""

from __future__ import annotations

import calendar
import csv
import functools
import gzip
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple, Union

# JIS X 0401 prefecture codes and the modulus-11 check digit live in the core module;
# PREFECTURES is re-exported here for callers of this module.
from kofu_xl.core.dantai import PREFECTURES, check_digit
from kofu_xl.data import data_path
from kofu_xl.errors import StatsFormatError, StatsLookupError
from kofu_xl.ooxml.limits import MAX_STATS_BYTES, MAX_STATS_FIELD, MAX_STATS_ROWS

__all__ = [
    "PREFECTURES",
    "NAME_CHANGES",
    "MUNICIPALITY_COLUMNS",
    "PLAN_BASE_DATE",
    "POPULATION_BASE_DATE",
    "StatsFormatError",
    "StatsLookupError",
    "StatsRecord",
    "StatsTable",
    "ActualPoint",
    "DuplicateMonth",
    "MonthlyActuals",
    "normalize_dantai_code",
    "is_valid_dantai_code",
    "parse_stats",
    "read_stats",
    "read_stats_dir",
    "month_end_for",
    "described_date",
    "actual_cumulative_by_month",
    "build_municipality_table",
    "render_municipality_csv",
    "write_municipality_table",
    "load_municipalities",
    "SHIPPED_STATS",
    "shipped_stats",
    "pack_stats",
    "unpack_stats",
    "write_shipped_stats",
    "render_stats_csv",
]

# Names the statistics used before adopting the official municipality name:
# (prefecture, old name in the statistics) -> official name (used from 20210801.csv on).
NAME_CHANGES: dict[tuple[str, str], str] = {
    ("東京都", "三宅島三宅村"): "三宅村",
    ("東京都", "八丈島八丈町"): "八丈町",
}

# The 2019 plan: population base 2019-01-01, actuals at the end of 2019-08 (R元年8月(実績)).
POPULATION_BASE_DATE = date(2019, 1, 1)
PLAN_BASE_DATE = date(2019, 8, 31)

MUNICIPALITY_COLUMNS: tuple[str, ...] = (
    "団体コード", "都道府県名", "市区町村名", "人口", "人口算出基準日",
    "交付枚数", "交付枚数基準日", "出典",
)

_BUNDLED_MUNICIPALITIES = data_path("municipalities.csv")
# Every official publication 2019-04 .. 2022-12 in one compact file (see shipped_stats).
SHIPPED_STATS = data_path("issuance_stats.csv.gz")

# Values the upstream conversion writes for a missing 団体コード.
_MISSING_CODE_MARKERS = frozenset({"", "<NA>", "NA", "N/A", "nan", "NaN", "None", "null"})


# --------------------------------------------------------------------------- errors


# --------------------------------------------------------------------------- 団体コード


def is_valid_dantai_code(code: str) -> bool:
    """True for a canonical 6-digit code (ASCII digits) with a known prefecture and a correct
    modulus-11 check digit (weights 6,5,4,3,2; 11 − (sum mod 11), last digit)."""
    return (
        len(code) == 6
        and code.isascii()
        and code.isdigit()
        and code[:2] in PREFECTURES
        and check_digit(code[:5]) == code[5]
    )


def normalize_dantai_code(
    value: object, *, file: str | None = None, line: int | None = None
) -> str:
    """Return the 6-digit zero-padded 団体コード for ``value``.

    Accepts an ``int`` (``11002``) or a ``str`` of 5 or 6 digits, half- or full-width
    (``'11002'``, ``'011002'``, ``'１２２３２７'``), surrounding blanks ignored. The first two
    digits must be a prefecture code (01–47). The check digit is *not* enforced here (use
    :func:`is_valid_dantai_code`): the statistics are taken as printed.
    Anything else raises :class:`StatsFormatError`, naming ``file``/``line`` when given.
    """
    column = "団体コード"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise StatsFormatError(
            f"団体コードは整数または数字の文字列で指定してください（値: {value!r}）。",
            file=file, line=line, column=column, value=value,
        )
    if isinstance(value, int):
        text = str(value) if value >= 0 else "-"
    else:
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            text = unicodedata.normalize("NFKC", text).strip()
    if not (text.isascii() and text.isdigit() and len(text) in (5, 6)):
        raise StatsFormatError(
            f"団体コードは6桁（先頭の0を省いた5桁も可）の数字で指定してください（値: {value!r}）。",
            file=file, line=line, column=column, value=value,
        )
    code = text.zfill(6)
    if code[:2] not in PREFECTURES:
        raise StatsFormatError(
            f"団体コードの先頭2桁「{code[:2]}」は都道府県コード（01〜47）ではありません"
            f"（値: {value!r}）。",
            file=file, line=line, column=column, value=value,
        )
    return code


# --------------------------------------------------------------------------- records


class StatsRecord(NamedTuple):
    """One municipality in one publication, values as printed."""

    code: str                    # 団体コード, 6 digits
    prefecture: str              # 都道府県名
    name: str                    # 市区町村名
    population: int              # 総数（人口）
    issued: int                  # 交付枚数 (cumulative)
    rate_pct: Decimal            # 人口に対する交付枚数率, as printed (one decimal)
    population_base_date: date   # 人口算出基準日
    count_date: date             # 交付件数基準日
    publication_date: date       # 算出基準日


@dataclass(frozen=True)
class StatsTable:
    """One publication: all municipalities of one CSV file."""

    name: str
    records: tuple[StatsRecord, ...]
    # (line, code, prefecture, name, original value) for codes filled in from the name
    repairs: tuple[tuple[int, str, str, str, str], ...] = ()
    by_code: Mapping[str, StatsRecord] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {r.code: r for r in self.records})

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def get(self, code: str) -> StatsRecord | None:
        return self.by_code.get(code)

    @property
    def count_date(self) -> date:
        """交付件数基準日 (the same on every row; checked by the parser)."""
        return self.records[0].count_date

    @property
    def publication_date(self) -> date:
        """算出基準日 (the same on every row; checked by the parser)."""
        return self.records[0].publication_date

    @property
    def population_base_date(self) -> date | None:
        """人口算出基準日 if all rows share it, else None."""
        dates = {r.population_base_date for r in self.records}
        return dates.pop() if len(dates) == 1 else None

    @property
    def month_end(self) -> str | None:
        """The month-end ("YYYY-MM") this publication describes, see :func:`month_end_for`."""
        return month_end_for(self.count_date)


# --------------------------------------------------------------------------- parsing

# Header label (normalized, see _header_key) -> record field.
_HEADER_FIELDS: dict[str, str] = {
    "算出基準日": "publication_date",
    "都道府県名": "prefecture",
    "市区町村名": "name",
    "総数(人口)": "population",
    "交付枚数": "issued",
    "人口に対する交付枚数率": "rate_pct",
    "人口算出基準日": "population_base_date",
    "交付件数基準日": "count_date",
    "団体コード": "code",
}
_FIELD_LABELS = {v: k.replace("(", "（").replace(")", "）") for k, v in _HEADER_FIELDS.items()}

_RATE_SUFFIX = re.compile(r"\((?:%|パーセント)\)$")
_INT_RE = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_RATE_RE = re.compile(r"\d+(?:\.\d+)?")
_DATE_RE = re.compile(r"(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})")


def _header_key(label: str) -> str:
    """Normalize a header label: NFKC (full-width brackets/percent → ASCII), no blanks,
    and the rate column's optional unit suffix — "(%)", "（%）", "(％)" — dropped."""
    key = "".join(unicodedata.normalize("NFKC", label).split())
    return _RATE_SUFFIX.sub("", key)


def _map_header(header: list[str], file: str) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, label in enumerate(header):
        fld = _HEADER_FIELDS.get(_header_key(label))
        if fld is None:
            continue  # extra columns are ignored
        if fld in positions:
            raise StatsFormatError(
                f"見出し「{label}」が重複しています。", file=file, line=1, column=label
            )
        positions[fld] = index
    missing = [_FIELD_LABELS[f] for f in _HEADER_FIELDS.values() if f not in positions]
    if missing:
        raise StatsFormatError(
            "見出し行に必要な列がありません: " + "、".join(f"「{m}」" for m in missing)
            + f"（見出し: {'、'.join(header) or '(空)'}）。",
            file=file, line=1,
        )
    return positions


class _Cell:
    """Per-file converters with caches (dates repeat on every row)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._dates: dict[str, date] = {}

    def error(self, detail: str, line: int, fld: str, value: str) -> StatsFormatError:
        return StatsFormatError(
            f"{detail}（値: {value!r}）", file=self.file, line=line,
            column=_FIELD_LABELS[fld], value=value,
        )

    def integer(self, text: str, line: int, fld: str) -> int:
        if text.isascii() and text.isdigit():
            return int(text)
        norm = unicodedata.normalize("NFKC", text).strip()
        if _INT_RE.fullmatch(norm):
            return int(norm.replace(",", ""))
        raise self.error("0以上の整数ではありません", line, fld, text)

    def rate(self, text: str, line: int, fld: str) -> Decimal:
        if text.isascii() and text.replace(".", "", 1).isdigit():
            return Decimal(text)
        norm = text if text.isascii() else unicodedata.normalize("NFKC", text)
        norm = norm.strip().removesuffix("%").strip()
        if _RATE_RE.fullmatch(norm):
            return Decimal(norm)
        raise self.error("率（%）の数値ではありません", line, fld, text)

    def day(self, text: str, line: int, fld: str) -> date:
        cached = self._dates.get(text)
        if cached is not None:
            return cached
        m = _DATE_RE.fullmatch(unicodedata.normalize("NFKC", text).strip())
        try:
            if m is None:
                raise ValueError
            value = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise self.error("日付（YYYY/MM/DD）ではありません", line, fld, text) from None
        self._dates[text] = value
        return value


def _load_name_lookup() -> dict[tuple[str, str], str]:
    """(都道府県名, 市区町村名) → 団体コード from the bundled table, old names included."""
    lookup: dict[tuple[str, str], str] = {}
    if not _BUNDLED_MUNICIPALITIES.exists():
        return lookup
    for code, row in load_municipalities(_BUNDLED_MUNICIPALITIES).items():
        lookup[(row["都道府県名"], row["市区町村名"])] = code
    for (pref, old), new in NAME_CHANGES.items():
        if (pref, new) in lookup:
            lookup[(pref, old)] = lookup[(pref, new)]
    return lookup


class _BundledNameLookup(Mapping[tuple[str, str], str]):
    """Read-only view of the bundled name → code table, loaded on first use (most files
    never need it)."""

    _data: dict[tuple[str, str], str] | None = None

    def _table(self) -> dict[tuple[str, str], str]:
        if _BundledNameLookup._data is None:
            _BundledNameLookup._data = _load_name_lookup()
        return _BundledNameLookup._data

    @classmethod
    def reset(cls) -> None:
        cls._data = None

    def __getitem__(self, key: tuple[str, str]) -> str:
        return self._table()[key]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


_BUNDLED_NAME_LOOKUP = _BundledNameLookup()


def parse_stats(
    text: str,
    *,
    name: str = "<stats>",
    code_lookup: Mapping[tuple[str, str], str] | None = None,
) -> StatsTable:
    """Parse the text of one statistics CSV (pure; a leading BOM is tolerated).

    The header is matched by label, not by position; extra columns are ignored.
    ``code_lookup`` maps (都道府県名, 市区町村名) to a 団体コード and is used only for rows
    whose code is missing (``<NA>`` or empty); without it such rows are an error.
    Every row must share one 算出基準日 and one 交付件数基準日; codes must be unique and
    their first two digits must match 都道府県名.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_STATS_BYTES:
        raise StatsFormatError(f"ファイルが大きすぎます（上限 {MAX_STATS_BYTES:,} 文字）。", file=name)
    previous_limit = csv.field_size_limit(MAX_STATS_FIELD)
    try:
        return _parse_stats(text, name, code_lookup)
    finally:
        csv.field_size_limit(previous_limit)


def _rows(reader: Any, name: str) -> Iterator[list[str]]:
    """The CSV rows after the header, with the limits applied while reading."""
    n = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise StatsFormatError(
                f"CSV として読めません（1 つの値が {MAX_STATS_FIELD:,} 文字を超えているか、引用符が閉じていません: {exc}）。",
                file=name, line=reader.line_num,
            ) from None
        n += 1
        if n > MAX_STATS_ROWS:
            raise StatsFormatError(
                f"データ行が多すぎます（{MAX_STATS_ROWS:,} 行を超えています。全国の市区町村は 1,741 団体です）。",
                file=name, line=reader.line_num,
            )
        yield row


def _parse_stats(text: str, name: str, code_lookup: Mapping[tuple[str, str], str] | None) -> StatsTable:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise StatsFormatError(f"見出し行を CSV として読めません（{exc}）。", file=name, line=1) from None
    if not header:
        raise StatsFormatError("見出し行がありません（空のファイルです）。", file=name, line=1)
    pos = _map_header(header, name)
    i_code, i_pref, i_name = pos["code"], pos["prefecture"], pos["name"]
    i_pop, i_iss, i_rate = pos["population"], pos["issued"], pos["rate_pct"]
    i_base, i_count, i_pub = pos["population_base_date"], pos["count_date"], pos["publication_date"]
    width = max(pos.values()) + 1
    cell = _Cell(name)
    day, integer, rate = cell.day, cell.integer, cell.rate
    dates = cell._dates  # fast path for the repeated date strings
    prefectures = PREFECTURES

    records: list[StatsRecord] = []
    repairs: list[tuple[int, str, str, str, str]] = []
    seen: dict[str, int] = {}
    count_date = publication_date = None
    for row in _rows(reader, name):
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) < width:
            raise StatsFormatError(
                f"列の数が足りません（{len(row)}列、見出しは{len(header)}列）。",
                file=name, line=line,
            )
        pref = row[i_pref].strip()
        muni = row[i_name].strip()
        if not pref:
            raise cell.error("都道府県名が空です", line, "prefecture", row[i_pref])
        if not muni:
            raise cell.error("市区町村名が空です", line, "name", row[i_name])
        raw_code = row[i_code]
        if len(raw_code) in (5, 6) and raw_code.isascii() and raw_code.isdigit():
            code = raw_code.zfill(6)
        elif raw_code.strip() in _MISSING_CODE_MARKERS:
            if code_lookup is None or (pref, muni) not in code_lookup:
                raise StatsFormatError(
                    f"団体コードがありません（値: {raw_code!r}）。{pref} {muni} の団体コードを"
                    "市区町村名から補うこともできませんでした。",
                    file=name, line=line, column="団体コード", value=raw_code,
                )
            code = code_lookup[(pref, muni)]
            repairs.append((line, code, pref, muni, raw_code))
        else:
            code = normalize_dantai_code(raw_code, file=name, line=line)
        if prefectures.get(code[:2]) != pref:
            raise StatsFormatError(
                f"団体コード {code} の都道府県（{prefectures.get(code[:2], '不明')}）と"
                f"都道府県名「{pref}」が一致しません。",
                file=name, line=line, column="団体コード", value=raw_code,
            )
        if code in seen:
            raise StatsFormatError(
                f"団体コード {code} が重複しています（{seen[code]}行目と同じ）。",
                file=name, line=line, column="団体コード", value=raw_code,
            )
        seen[code] = line
        text = row[i_pop]
        population = int(text) if text.isascii() and text.isdigit() else integer(text, line, "population")
        if population == 0:
            raise cell.error("人口が0です", line, "population", text)
        text = row[i_iss]
        issued = int(text) if text.isascii() and text.isdigit() else integer(text, line, "issued")
        rec = StatsRecord(
            code,
            pref,
            muni,
            population,
            issued,
            rate(row[i_rate], line, "rate_pct"),
            dates.get(row[i_base]) or day(row[i_base], line, "population_base_date"),
            dates.get(row[i_count]) or day(row[i_count], line, "count_date"),
            dates.get(row[i_pub]) or day(row[i_pub], line, "publication_date"),
        )
        if count_date is None:
            count_date, publication_date = rec.count_date, rec.publication_date
        elif rec.count_date != count_date:
            raise cell.error(
                f"交付件数基準日がファイル内で揃っていません（先頭行は {count_date:%Y/%m/%d}）",
                line, "count_date", row[i_count],
            )
        elif rec.publication_date != publication_date:
            raise cell.error(
                f"算出基準日がファイル内で揃っていません（先頭行は {publication_date:%Y/%m/%d}）",
                line, "publication_date", row[i_pub],
            )
        records.append(rec)
    if not records:
        raise StatsFormatError("データ行がありません。", file=name, line=2)
    return StatsTable(name=name, records=tuple(records), repairs=tuple(repairs))


_USE_BUNDLED = object()
Source = Union[str, "os.PathLike[str]", bytes, bytearray, IO[str], IO[bytes]]


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        # A file re-saved by Excel as "CSV" on a Japanese PC is Shift_JIS (cp932).
        return data.decode("cp932")
    except UnicodeDecodeError:
        pass
    line = data.count(b"\n", 0, utf8_error.start) + 1
    raise StatsFormatError(
        "文字コードを判別できません（UTF-8 でも Shift_JIS でもありません）。", file=name, line=line
    )


def _check_file_name(path: Path, label: str) -> None:
    """A file named like a date (YYYYMMDD.csv, as published) must name a real day."""
    stem = path.stem
    if len(stem) == 8 and stem.isascii() and stem.isdigit():
        try:
            date(int(stem[:4]), int(stem[4:6]), int(stem[6:]))
        except ValueError:
            raise StatsFormatError(
                f"ファイル名「{path.name}」の日付（{stem[:4]}年{stem[4:6]}月{stem[6:]}日）は存在しない日付です。"
                "公表統計のファイル名（YYYYMMDD.csv）を確認してください。",
                file=label,
            ) from None


def _read_bounded(path: Path, label: str) -> bytes:
    """The bytes of a file, read in pieces and refused as soon as they pass MAX_STATS_BYTES
    (a pipe or a device has no size to check first)."""
    too_big = f"ファイルが大きすぎます（上限 {MAX_STATS_BYTES:,} バイト。公表統計の CSV は 1 ファイル 1 MB 未満です）。"
    if path.is_file() and path.stat().st_size > MAX_STATS_BYTES:
        raise StatsFormatError(too_big, file=label)
    chunks: list[bytes] = []
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += len(chunk)
            if n > MAX_STATS_BYTES:
                raise StatsFormatError(too_big, file=label)
            chunks.append(chunk)
    return b"".join(chunks)


def read_stats(
    source: Source,
    *,
    name: str | None = None,
    code_lookup: Mapping[tuple[str, str], str] | None | object = _USE_BUNDLED,
) -> StatsTable:
    """Read one statistics CSV.

    ``source`` is a path (``str`` or ``os.PathLike``), the file's ``bytes``, or an open text or
    binary file object (wrap CSV text in ``io.StringIO``). ``name`` labels error messages and
    :attr:`ActualPoint.source`; it defaults to the file name (or ``"<stats>"``).
    Bytes are decoded as UTF-8 (BOM optional), falling back to cp932.
    ``code_lookup``: see :func:`parse_stats`; by default, missing codes are filled from the
    bundled ``kofu_xl/data/municipalities.csv`` (loaded only when a code is missing); pass
    ``None`` to make a missing code an error.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or path.name
        _check_file_name(path, label)
        try:
            data = _read_bounded(path, label)
        except OSError as exc:
            raise StatsLookupError(
                f"統計ファイル「{path}」を読めません: {exc.strerror or exc}"
            ) from exc
        text = _decode(data, label)
    elif isinstance(source, (bytes, bytearray)):
        label = name or "<stats>"
        text = _decode(bytes(source), label)
    elif hasattr(source, "read"):
        label = name or Path(str(getattr(source, "name", "<stats>"))).name
        content = source.read()
        text = _decode(content, label) if isinstance(content, (bytes, bytearray)) else content
    else:
        raise TypeError(f"unsupported source type: {type(source).__name__}")

    if code_lookup is _USE_BUNDLED:
        code_lookup = _BUNDLED_NAME_LOOKUP
    return parse_stats(text, name=label, code_lookup=code_lookup)  # type: ignore[arg-type]


def read_stats_dir(
    stats_dir: str | os.PathLike[str],
    *,
    code_lookup: Mapping[tuple[str, str], str] | None | object = _USE_BUNDLED,
) -> list[StatsTable]:
    """Read every ``*.csv`` in ``stats_dir``, ordered by file name (= publication date)."""
    paths = sorted(Path(stats_dir).glob("*.csv"))
    if not paths:
        raise StatsLookupError(f"統計ファイル（*.csv）がありません: {stats_dir}")
    return [read_stats(p, code_lookup=code_lookup) for p in paths]


# --------------------------------------------------------------------------- month-ends


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    m = _DATE_RE.fullmatch(unicodedata.normalize("NFKC", str(value)).strip())
    if m is None:
        raise StatsFormatError(f"日付（YYYY/MM/DD）ではありません（値: {value!r}）。", value=value)
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise StatsFormatError(f"存在しない日付です（値: {value!r}）。", value=value) from None


def _is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def month_end_for(count_date: date | str) -> str | None:
    """Which month-end ("YYYY-MM") a publication with this 交付件数基準日 describes.

    The team's rule:

    * the **last day of a month** (2022/06/30, 2022/12/31) → that month: the count is as of
      that day, i.e. the cumulative at the end of the month ("2022-06");
    * the **first day of a month** (2020/08/01) → the previous month: counts as of the first
      day are the cumulative at the end of the previous month ("2020-07";
      2020/01/01 → "2019-12");
    * any **other day** (mid-month: 2019/09/16, 2020/01/20) → ``None``: it describes no
      month-end exactly. Use :func:`described_date` (= the date itself) to interpolate or to
      report the figure "as of" that date.

    ``count_date`` is a ``date`` or a "YYYY/MM/DD" / "YYYY-MM-DD" string.
    """
    d = _as_date(count_date)
    if _is_month_end(d):
        return f"{d.year:04d}-{d.month:02d}"
    if d.day == 1:
        prev = d - timedelta(days=1)
        return f"{prev.year:04d}-{prev.month:02d}"
    return None


def described_date(count_date: date | str) -> date:
    """The date whose cumulative count a publication gives: the previous day for a
    first-of-month 交付件数基準日 (2020/08/01 → 2020-07-31), else the date itself."""
    d = _as_date(count_date)
    return d - timedelta(days=1) if d.day == 1 else d


class ActualPoint(NamedTuple):
    """The official cumulative count of one municipality at one point in time."""

    month: str | None            # "YYYY-MM" month-end described, None for mid-month files
    as_of: date                  # the date the cumulative count describes (described_date)
    cumulative_issued: int       # 交付枚数
    population: int              # 総数（人口） of that file's base
    population_base_date: date   # 人口算出基準日
    rate_pct: Decimal            # 人口に対する交付枚数率 as printed (on that base)
    count_date: date             # 交付件数基準日 as printed
    source: str                  # file name, e.g. "20200801.csv"


class DuplicateMonth(NamedTuple):
    """Two or more publications describing the same month-end."""

    month: str
    chosen: str                  # file used
    discarded: tuple[str, ...]   # files not used


class MonthlyActuals(dict[str, ActualPoint]):
    """``{"YYYY-MM": ActualPoint}`` in month order, plus what did not fit:

    * ``duplicates``: months described by more than one publication, and which file won;
    * ``as_of_points``: publications describing no month-end (mid-month), for interpolation
      or "as of" reporting.
    """

    def __init__(self, items=(), *, duplicates=(), as_of_points=()) -> None:
        super().__init__(items)
        self.duplicates: tuple[DuplicateMonth, ...] = tuple(duplicates)
        self.as_of_points: tuple[ActualPoint, ...] = tuple(as_of_points)


def actual_cumulative_by_month(tables: Iterable[StatsTable], code: object) -> MonthlyActuals:
    """Official cumulative issued per month-end for one municipality.

    ``code`` is anything :func:`normalize_dantai_code` accepts. Months follow
    :func:`month_end_for`. If several publications describe the same month, the choice is
    deterministic: a count dated on the month's last day beats a first-of-the-next-month one
    (the exact date beats the convention); remaining ties go to the lexicographically first
    file name. Duplicates are reported in ``result.duplicates``; mid-month publications are in
    ``result.as_of_points``. Tables that do not list the municipality are skipped; if none
    does, :class:`StatsLookupError` is raised.
    """
    key = normalize_dantai_code(code)
    candidates: dict[str, list[tuple[int, str, ActualPoint]]] = {}
    as_of: list[ActualPoint] = []
    found = False
    for table in tables:
        rec = table.get(key)
        if rec is None:
            continue
        found = True
        month = month_end_for(rec.count_date)
        point = ActualPoint(
            month=month,
            as_of=described_date(rec.count_date),
            cumulative_issued=rec.issued,
            population=rec.population,
            population_base_date=rec.population_base_date,
            rate_pct=rec.rate_pct,
            count_date=rec.count_date,
            source=table.name,
        )
        if month is None:
            as_of.append(point)
            continue
        rank = 0 if _is_month_end(rec.count_date) else 1
        candidates.setdefault(month, []).append((rank, table.name, point))
    if not found:
        raise StatsLookupError(f"団体コード {key} の市区町村は統計に見つかりません。")
    chosen: list[tuple[str, ActualPoint]] = []
    duplicates: list[DuplicateMonth] = []
    for month in sorted(candidates):
        ranked = sorted(candidates[month], key=lambda c: (c[0], c[1]))
        chosen.append((month, ranked[0][2]))
        if len(ranked) > 1:
            duplicates.append(
                DuplicateMonth(month, ranked[0][1], tuple(c[1] for c in ranked[1:]))
            )
    as_of.sort(key=lambda p: (p.as_of, p.source))
    return MonthlyActuals(chosen, duplicates=duplicates, as_of_points=as_of)


# --------------------------------------------------------------------------- municipality table


def _peek_dates(path: Path) -> tuple[date, date]:
    """(交付件数基準日, 人口算出基準日) of a statistics file's first data row."""
    name = path.name
    reader = csv.reader(io.StringIO(_decode(path.read_bytes(), name), newline=""))
    header = next(reader, None)
    if not header:
        raise StatsFormatError("見出し行がありません（空のファイルです）。", file=name, line=1)
    header[0] = header[0].removeprefix("\ufeff")
    pos = _map_header(header, name)
    for row in reader:
        if row and any(c.strip() for c in row):
            if len(row) <= max(pos.values()):
                raise StatsFormatError("列の数が足りません。", file=name, line=reader.line_num)
            cell = _Cell(name)
            return (
                cell.day(row[pos["count_date"]], reader.line_num, "count_date"),
                cell.day(row[pos["population_base_date"]], reader.line_num, "population_base_date"),
            )
    raise StatsFormatError("データ行がありません。", file=name, line=2)


def build_municipality_table(
    stats_dir: str | os.PathLike[str],
    *,
    population_base: date = POPULATION_BASE_DATE,
    issued_at: date = PLAN_BASE_DATE,
) -> list[dict]:
    """One row per municipality for ``kofu-xl new --dantai CODE``, sorted by 団体コード.

    * 人口 / 人口算出基準日: from the first publication (by 交付件数基準日) whose rows all have
      人口算出基準日 == ``population_base`` (2019-01-01 → 20190916.csv).
    * 交付枚数 / 交付枚数基準日 / 出典: from the publication whose count describes the
      newest date at or before ``issued_at`` (a first-of-month file describes the previous
      day, see :func:`described_date`), so that the plan's cumulative row, which adds the
      following months' plan to it, never counts a day twice. No publication describes the
      end of 2019-08: the newest before it is 20190701.csv (the end of 2019-06); the rule
      ``base-not-month-end`` then asks for the municipality's own 8月末 count.
      交付枚数基準日 is the 交付件数基準日 printed in that file. 出典 is that file's name, or
      "人口: A.csv / 交付枚数: B.csv" when the two figures come from different files.
    * 市区町村名 uses the current official name (:data:`NAME_CHANGES`: 三宅島三宅村 → 三宅村,
      八丈島八丈町 → 八丈町), as the statistics themselves do from 20210801.csv on.

    Values are typed: 人口/交付枚数 ``int``, dates ``datetime.date``, the rest ``str``.
    Only the two files needed are parsed fully (strictly: a missing code is an error); the
    others are identified by the dates on their first data row.
    """
    paths = sorted(Path(stats_dir).glob("*.csv"))
    if not paths:
        raise StatsLookupError(f"統計ファイル（*.csv）がありません: {stats_dir}")
    peeked = sorted((_peek_dates(p) + (p,) for p in paths), key=lambda x: (x[0], x[2].name))
    pop_path = next((p for _, base, p in peeked if base == population_base), None)
    if pop_path is None:
        raise StatsLookupError(
            f"人口算出基準日が {population_base:%Y/%m/%d} の統計ファイルがありません: {stats_dir}"
        )
    before = [(described_date(c), p.name, p) for c, _, p in peeked if described_date(c) <= issued_at]
    if not before:
        raise StatsLookupError(
            f"{issued_at:%Y/%m/%d} 以前の交付枚数を含む統計ファイルがありません: {stats_dir}"
        )
    iss_path = max(before)[2]
    # Only these files are parsed fully, strictly (a missing code is an error here, so the
    # table never depends on the bundled copy of itself).
    pop_table = read_stats(pop_path, code_lookup=None)
    iss_table = pop_table if iss_path == pop_path else read_stats(iss_path, code_lookup=None)
    if pop_table.population_base_date != population_base:
        raise StatsFormatError(
            f"人口算出基準日が行によって異なります（{population_base:%Y/%m/%d} で揃っていません）。",
            file=pop_table.name, column="人口算出基準日",
        )
    source = (
        pop_table.name if pop_table.name == iss_table.name
        else f"人口: {pop_table.name} / 交付枚数: {iss_table.name}"
    )
    rows: list[dict] = []
    for rec in sorted(pop_table.records, key=lambda r: r.code):
        issued = iss_table.get(rec.code)
        if issued is None:
            raise StatsLookupError(
                f"団体コード {rec.code}（{rec.prefecture} {rec.name}）が {iss_table.name} にありません。"
            )
        rows.append({
            "団体コード": rec.code,
            "都道府県名": rec.prefecture,
            "市区町村名": NAME_CHANGES.get((rec.prefecture, rec.name), rec.name),
            "人口": rec.population,
            "人口算出基準日": rec.population_base_date,
            "交付枚数": issued.issued,
            "交付枚数基準日": issued.count_date,
            "出典": source,
        })
    return rows


def render_municipality_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """The municipality table as CSV text (UTF-8 without BOM when written, "\\n" line ends,
    dates ISO 8601), rows sorted by 団体コード. Pure and deterministic."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MUNICIPALITY_COLUMNS)
    for row in sorted(rows, key=lambda r: str(r["団体コード"])):
        writer.writerow(
            v.isoformat() if isinstance(v, date) else v
            for v in (row[c] for c in MUNICIPALITY_COLUMNS)
        )
    return out.getvalue()


def write_municipality_table(
    stats_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Regenerate ``kofu_xl/data/municipalities.csv`` (or ``out_path``) from the statistics.

    Usage: ``python -c "from kofu_xl.app.stats import write_municipality_table as w;
    w('/work/shared/reference/issuance_stats')"``.
    """
    path = Path(out_path) if out_path is not None else _BUNDLED_MUNICIPALITIES
    text = render_municipality_csv(build_municipality_table(stats_dir))
    path.write_bytes(text.encode("utf-8"))
    if path == _BUNDLED_MUNICIPALITIES:
        _BundledNameLookup.reset()
    return path


def load_municipalities(
    path: str | os.PathLike[str] | None = None,
) -> dict[str, dict]:
    """Read the municipality table (default: the bundled one) into
    ``{団体コード: row}`` with the same typed values :func:`build_municipality_table` gives."""
    p = Path(path) if path is not None else _BUNDLED_MUNICIPALITIES
    label = p.name
    text = _decode(p.read_bytes(), label)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != MUNICIPALITY_COLUMNS:
        raise StatsFormatError(
            f"見出し行が {'、'.join(MUNICIPALITY_COLUMNS)} ではありません。", file=label, line=1
        )
    result: dict[str, dict] = {}
    for row in reader:
        line = reader.line_num
        code = normalize_dantai_code(row["団体コード"], file=label, line=line)
        values: dict[str, object] = {}
        for column, convert in (
            ("人口", int), ("交付枚数", int),
            ("人口算出基準日", date.fromisoformat), ("交付枚数基準日", date.fromisoformat),
        ):
            try:
                values[column] = convert(row[column])
            except (TypeError, ValueError):
                raise StatsFormatError(
                    f"{'整数' if convert is int else '日付（YYYY-MM-DD）'}として読めません"
                    f"（値: {row[column]!r}）。",
                    file=label, line=line, column=column, value=row[column],
                ) from None
        if code in result:
            raise StatsFormatError(
                f"団体コード {code} が重複しています。", file=label, line=line, column="団体コード"
            )
        result[code] = {
            "団体コード": code,
            "都道府県名": row["都道府県名"],
            "市区町村名": row["市区町村名"],
            "人口": values["人口"],
            "人口算出基準日": values["人口算出基準日"],
            "交付枚数": values["交付枚数"],
            "交付枚数基準日": values["交付枚数基準日"],
            "出典": row["出典"],
        }
    return result


# --------------------------------------------------------------------------- shipped statistics
#
# The official publications travel with the package as one gzip'd CSV, one row per
# municipality name as printed (三宅島三宅村 and 三宅村 are two rows with one code), columns:
#
#   団体コード, 都道府県名, 市区町村名,
#   人口 YYYY-MM-DD ...                       総数（人口） on each population base
#   交付枚数 YYYY-MM-DD（人口 YYYY-MM-DD） ...  交付枚数 of each publication (its 交付件数基準日
#                                             = 算出基準日) and the population base it uses
#
# A blank cell: the row is not in that publication. The printed rate is not stored: it is
# issued / population, percent, one decimal, half up, on every row of every publication
# (pack_stats refuses a table where it is not, so unpacking gives the rates as printed).
# Codes the upstream conversion lost (<NA>) are stored repaired.

_POP_HEADER = re.compile(r"人口 (\d{4}-\d{2}-\d{2})")
_ISSUED_HEADER = re.compile(r"交付枚数 (\d{4}-\d{2}-\d{2})（人口 (\d{4}-\d{2}-\d{2})）")


def _printed_rate(issued: int, population: int) -> Decimal:
    """issued / population in percent, one decimal, half up (exact integer arithmetic)."""
    tenths = (issued * 2000 + population) // (2 * population)
    return Decimal(tenths).scaleb(-1)


def pack_stats(tables: Iterable[StatsTable]) -> bytes:
    """The compact form of ``tables`` (see above): deterministic gzip'd CSV bytes.

    Raises :class:`StatsFormatError` for what the form cannot hold: a publication whose
    算出基準日 differs from its 交付件数基準日 or whose rows use two population bases, a
    file not named ``YYYYMMDD.csv`` after its date, a rate that is not the rounded quotient,
    two populations of one municipality on one base.
    """
    tables = sorted(tables, key=lambda t: t.count_date)
    pubs: list[tuple[date, date]] = []
    rows: dict[tuple[str, str, str], dict[str, object]] = {}
    order: dict[tuple[str, str, str], tuple[str, int]] = {}
    for t in tables:
        base = t.population_base_date
        if base is None or t.publication_date != t.count_date or t.name != f"{t.count_date:%Y%m%d}.csv":
            raise StatsFormatError("この統計は同梱形式にできません（日付またはファイル名が揃っていません）。", file=t.name)
        pubs.append((t.count_date, base))
        for i, r in enumerate(t.records):
            if _printed_rate(r.issued, r.population) != r.rate_pct:
                raise StatsFormatError(f"率 {r.rate_pct} が交付枚数÷人口の四捨五入と一致しません。", file=t.name, column="人口に対する交付枚数率")
            key = (r.code, r.prefecture, r.name)
            row = rows.setdefault(key, {})
            order.setdefault(key, (r.code, len(order)))
            pop_key = f"人口 {base.isoformat()}"
            if row.setdefault(pop_key, r.population) != r.population:
                raise StatsFormatError(f"団体コード {r.code} の人口が同じ基準日で異なります。", file=t.name, column="総数（人口）")
            row[f"交付枚数 {t.count_date.isoformat()}（人口 {base.isoformat()}）"] = r.issued
    if len({d for d, _ in pubs}) != len(pubs):
        raise StatsFormatError("同じ交付件数基準日の統計が複数あります。")
    bases = sorted({b for _, b in pubs})
    header = ["団体コード", "都道府県名", "市区町村名"]
    header += [f"人口 {b.isoformat()}" for b in bases]
    header += [f"交付枚数 {d.isoformat()}（人口 {b.isoformat()}）" for d, b in pubs]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for key in sorted(rows, key=lambda k: order[k]):
        writer.writerow(list(key) + [rows[key].get(h, "") for h in header[3:]])
    return gzip.compress(out.getvalue().encode("utf-8"), 9, mtime=0)


def unpack_stats(data: bytes, *, name: str = SHIPPED_STATS.name) -> tuple[StatsTable, ...]:
    """The publications held in :func:`pack_stats` bytes, ordered by date, each named like
    its original file (``20190916.csv``)."""
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise StatsFormatError(f"同梱の統計を展開できません（{exc}）。", file=name) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None) or []
    if header[:3] != ["団体コード", "都道府県名", "市区町村名"]:
        raise StatsFormatError("見出し行が同梱形式ではありません。", file=name, line=1)
    pops: dict[int, date] = {}
    pubs: list[tuple[int, date, date]] = []
    for i, label in enumerate(header[3:], start=3):
        if m := _POP_HEADER.fullmatch(label):
            pops[i] = date.fromisoformat(m[1])
        elif m := _ISSUED_HEADER.fullmatch(label):
            pubs.append((i, date.fromisoformat(m[1]), date.fromisoformat(m[2])))
        else:
            raise StatsFormatError(f"見出し「{label}」は同梱形式の列ではありません。", file=name, line=1, column=label)
    pop_col = {d: i for i, d in pops.items()}
    records: dict[int, list[StatsRecord]] = {i: [] for i, _, _ in pubs}
    for row in reader:
        line = reader.line_num
        if len(row) != len(header):
            raise StatsFormatError("列の数が見出しと一致しません。", file=name, line=line)
        code, pref, muni = row[0], row[1], row[2]
        for i, count_date, base in pubs:
            if not row[i]:
                continue
            try:
                issued, population = int(row[i]), int(row[pop_col[base]])
            except (KeyError, ValueError):
                raise StatsFormatError("整数ではありません。", file=name, line=line, column=header[i]) from None
            records[i].append(StatsRecord(
                code, pref, muni, population, issued, _printed_rate(issued, population),
                base, count_date, count_date,
            ))
    return tuple(
        StatsTable(name=f"{d:%Y%m%d}.csv", records=tuple(records[i]))
        for i, d, _ in sorted(pubs, key=lambda p: p[1])
    )


@functools.cache
def shipped_stats() -> tuple[StatsTable, ...]:
    """Every official publication shipped with the package (2019-04-01 .. 2022-12-31, all
    1,741 municipalities; source and licence in ``kofu_xl/data/issuance_stats.README.md``),
    one :class:`StatsTable` per publication named like its file (``20200801.csv``)."""
    data = SHIPPED_STATS.read_bytes()
    return unpack_stats(data)


def write_shipped_stats(
    stats_dir: str | os.PathLike[str], out_path: str | os.PathLike[str] | None = None
) -> Path:
    """Regenerate ``kofu_xl/data/issuance_stats.csv.gz`` (or ``out_path``) from a folder of
    publications (``python -c "from kofu_xl.app.stats import write_shipped_stats as w;
    w('/path/to/issuance_stats')"``)."""
    path = Path(out_path) if out_path is not None else SHIPPED_STATS
    path.write_bytes(pack_stats(read_stats_dir(stats_dir)))
    if path == SHIPPED_STATS:
        shipped_stats.cache_clear()
    return path


def render_stats_csv(table: StatsTable) -> str:
    """One publication as text in the official CSV's form (header, quoting, dates
    ``YYYY/MM/DD``, codes without their leading zero; no BOM)."""
    out = io.StringIO()
    out.write('"算出基準日","都道府県名","市区町村名","総数（人口）","交付枚数",'
              '"人口に対する交付枚数率","人口算出基準日","交付件数基準日","団体コード"\n')
    for r in table.records:
        out.write(
            f'"{r.publication_date:%Y/%m/%d}","{r.prefecture}","{r.name}",{r.population},{r.issued},'
            f'{r.rate_pct},"{r.population_base_date:%Y/%m/%d}","{r.count_date:%Y/%m/%d}",{int(r.code)}\n'
        )
    return out.getvalue()
