"""New plans for any of the 1,741 municipalities, prefilled from the official statistics."""

from __future__ import annotations

import functools
import unicodedata
from decimal import Decimal

from kofu_xl.app.stats import StatsFormatError, load_municipalities, normalize_dantai_code
from kofu_xl.core.dantai import dantai_problem
from kofu_xl.core.model import Basic, Plan

__all__ = ["new_plan"]


@functools.cache
def _table() -> dict[str, dict]:
    """The shipped table, read once a process (`new` makes two plans: the municipality's and
    the stored blank's); new_plan only reads it."""
    return load_municipalities()


def new_plan(code: str) -> Plan:
    """An empty plan whose 基礎情報 comes from the shipped municipality table.

    Raises LookupError (Japanese message) for a code that is malformed or unknown.
    """
    text = unicodedata.normalize("NFKC", str(code)).strip()
    problem = dantai_problem(text, None)
    if problem is not None:
        # 5 digits, a wrong check digit, …: refused, with the code probably meant
        raise LookupError(f"団体コード「{code}」: {problem[1]}。")
    try:
        key = normalize_dantai_code(text)
    except StatsFormatError:
        raise LookupError(f"団体コード「{code}」は6桁の団体コードとして読めません（例: 122327）。") from None
    table = _table()
    row = table.get(key)
    if row is None:
        raise LookupError(f"団体コード「{key}」の市区町村が見つかりません（全国 {len(table):,} 団体の一覧にありません）。自団体の6桁のコードを確認してください。")
    basic = Basic(
        dantai_code=key,
        prefecture=row["都道府県名"],
        municipality=row["市区町村名"],
        population=Decimal(row["人口"]),
        population_date=row["人口算出基準日"],
        base_issued=Decimal(row["交付枚数"]),
        base_issued_date=row["交付枚数基準日"],
    )
    return Plan(title=f"{row['市区町村名']}マイナンバーカード交付円滑化計画", basic=basic)
