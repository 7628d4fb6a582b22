"""The files kofu-xl ships beside its code: the schedule, the municipality table, the shiroi
plan, the statistics, the stored formulas and blanks (``kofu-xl build`` writes the last ones).

:func:`data_path` says where one is: in this package's folder, as installed from a wheel or
used from a checkout. kofu-xl is never imported from a zip (``kofu-xl build`` writes into this
folder), so a path on disk is what ``importlib.resources`` would give too; reading it directly
spares every command importing that machinery (~5 M instructions of a ``kofu-xl check``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "data_path"]

DATA_DIR = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """The shipped data file ``name`` (e.g. ``"schedule_2019.json"``)."""
    return DATA_DIR / name
