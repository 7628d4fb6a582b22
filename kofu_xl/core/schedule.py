"""The national schedule (国の全体スケジュール) as data.

Bounds are derived, never typed: national card targets divided by the national
population of the base date, in percent rounded half up to 0.1 point
(30,000,000 / 127,443,563 -> 23.5 %). A revised schedule is a new JSON file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from kofu_xl.core.calendar import Column, column_label
from kofu_xl.core.numbers import CTX, round_half_up
from kofu_xl.data import data_path

__all__ = ["Checkpoint", "Schedule", "default_schedule", "load_schedule"]


class Checkpoint(msgspec.Struct, frozen=True):
    month: str  # month whose end is the checkpoint, "2020-07"
    title: str
    lower_cards: int
    upper_cards: int


class Schedule(msgspec.Struct, frozen=True):
    id: str
    title: str
    base_population: int
    base_population_date: dt.date
    checkpoints: tuple[Checkpoint, ...]

    def bound_fraction(self, cards: int) -> Decimal:
        """Exact fraction of the base population (unrounded)."""
        return CTX.divide(Decimal(cards), Decimal(self.base_population))

    def bound_pct(self, cards: int) -> Decimal:
        """The bound as printed on the form: percent, 0.1 point, half up."""
        return round_half_up(self.bound_fraction(cards) * 100, 1)

    def lower_pct(self, cp: Checkpoint) -> Decimal:
        return self.bound_pct(cp.lower_cards)

    def upper_pct(self, cp: Checkpoint) -> Decimal:
        return self.bound_pct(cp.upper_cards)

    def checkpoint_for_column(self, column: Column) -> Checkpoint | None:
        """The checkpoint a form column stands for: a month column whose month is the
        checkpoint month, or a fiscal-year column ending in it (FY2021 -> 2022-03)."""
        for cp in self.checkpoints:
            if column.last_month == cp.month:
                return cp
        return None

    def checkpoint_for_key(self, key: str) -> Checkpoint | None:
        """Look up by column key or checkpoint month ("2020-07", "FY2021", "2022-03")."""
        col = Column(key, column_label(key))
        return self.checkpoint_for_column(col)

    def bounds_by_column(self, columns: Sequence[Column]) -> dict[str, tuple[Decimal, Decimal]]:
        """{column key: (lower %, upper %)} for the columns that carry a checkpoint."""
        out = {}
        for col in columns:
            cp = self.checkpoint_for_column(col)
            if cp is not None:
                out[col.key] = (self.lower_pct(cp), self.upper_pct(cp))
        return out


def load_schedule(text: str | bytes) -> Schedule:
    return msgspec.json.decode(text, type=Schedule)


_DEFAULT: Schedule | None = None


def default_schedule() -> Schedule:
    """The schedule of 2019-09-03 that the 2019 plans were drawn against."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_schedule(data_path("schedule_2019.json").read_bytes())
    return _DEFAULT
