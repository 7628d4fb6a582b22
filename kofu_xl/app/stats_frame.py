"""The shipped official statistics as a pandas DataFrame (for analysts and for =KOFU_ACTUALS)."""

from __future__ import annotations

import pandas as pd

from kofu_xl.app.stats import normalize_dantai_code, shipped_stats

__all__ = ["STATS_COLUMNS", "statistics"]

CODE, PREFECTURE, NAME = "団体コード", "都道府県名", "市区町村名"
COUNT_DATE = "交付件数基準日"
STATS_COLUMNS = (COUNT_DATE, "月末", "交付枚数", "人口", "人口算出基準日", "人口に対する交付枚数率（%）")


def _code(code: object) -> str:
    if isinstance(code, float) and code.is_integer():  # a number cell
        code = int(code)
    return normalize_dantai_code(code)


def statistics(code: object | None = None) -> pd.DataFrame:
    """The shipped official statistics (2019-04 … 2022-12, 40 publications).

    Without ``code``: the number of cards issued (cumulative), one row per municipality
    (index 団体コード, 都道府県名, 市区町村名) and one column per publication (交付件数基準日,
    datetime64); <NA> where a publication lacks the municipality. With ``code`` (a 団体コード,
    leading zero optional): one row per publication with the columns of STATS_COLUMNS.
    """
    tables = shipped_stats()
    if code is not None:
        wanted = _code(code)
        rows = []
        for t in tables:
            r = t.get(wanted)
            if r is not None:
                rows.append((pd.Timestamp(r.count_date), t.month_end, r.issued, r.population, pd.Timestamp(r.population_base_date), float(r.rate_pct)))
        if not rows:
            raise LookupError(f"団体コード「{wanted}」の市区町村は同梱の公表統計にありません")
        frame = pd.DataFrame(rows, columns=list(STATS_COLUMNS))
        return frame.astype({"交付枚数": "Int64", "人口": "Int64"})
    names: dict[str, tuple[str, str]] = {}
    issued: dict[pd.Timestamp, dict[str, int]] = {}
    for t in tables:
        column = issued.setdefault(pd.Timestamp(t.count_date), {})
        for r in t:
            names.setdefault(r.code, (r.prefecture, r.name))
            column[r.code] = r.issued
    frame = pd.DataFrame(issued, dtype="Int64").reindex(list(names))
    frame.columns = pd.DatetimeIndex(frame.columns, name=COUNT_DATE)
    frame.index = pd.MultiIndex.from_tuples([(c, *names[c]) for c in frame.index], names=[CODE, PREFECTURE, NAME])
    return frame
