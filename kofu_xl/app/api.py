"""The public API behind ``kofu_xl``: one function per thing a program does with a plan.

Every function here is what a command of ``kofu-xl`` runs, without the printing; errors are
:class:`kofu_xl.errors.KofuError` subclasses with a Japanese message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from kofu_xl.app.aggregate import Rollup
from kofu_xl.app.aggregate import aggregate as _aggregate
from kofu_xl.app.check import check
from kofu_xl.app.followup import FollowUp, run_followup
from kofu_xl.app.municipalities import new_plan as _new_plan
from kofu_xl.app.report import CheckResult
from kofu_xl.app.submit import SubmitOutcome
from kofu_xl.app.submit import submit as _submit
from kofu_xl.book.sources import load_raw, shipped_plan_raw
from kofu_xl.book.surfaces import FileSurface
from kofu_xl.book.vba import build_xlsm
from kofu_xl.core.model import Plan
from kofu_xl.core.model import load_plan as _load_raw_plan
from kofu_xl.errors import UnreadableInput

__all__ = ["CheckResult", "FollowUp", "Rollup", "SubmitOutcome", "aggregate", "build_workbook", "check", "followup", "load_plan", "new_plan", "submit"]


def load_plan(path: str | os.PathLike[str] | None = None) -> Plan:
    """The plan in ``path`` (.xlsm/.xlsx/.json; None: the plan embedded in the package).

    Values that cannot be read are left empty; :func:`check` reports them as findings."""
    raw = load_raw(Path(path))[0] if path is not None else shipped_plan_raw()
    return _load_raw_plan(raw)[0]


def build_workbook(plan: Plan | None = None, *, blank: bool = False) -> bytes:
    """The official macro-enabled workbook (.xlsm bytes) for ``plan`` (None: the shipped plan);
    ``blank`` leaves the monthly inputs empty, as ``kofu-xl new`` does."""
    return build_xlsm(plan if plan is not None else load_plan(), blank=blank)


def new_plan(dantai_code: str) -> Plan:
    """An empty plan for a municipality, its 基礎情報 filled from the shipped statistics."""
    try:
        return _new_plan(dantai_code)
    except LookupError as exc:
        raise UnreadableInput(None, str(exc)) from None


def submit(path: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> SubmitOutcome:
    """「検証して提出」 on a workbook file: check it, write 検証結果 into it and, without an
    error, the submission package (.xlsx, .json, .html) into ``out_dir``."""
    return _submit(FileSurface(Path(path)), Path(out_dir) if out_dir is not None else None)


def followup(path: str | os.PathLike[str] | None = None, stats: Sequence[str | os.PathLike[str]] = (), as_of: str | None = None) -> FollowUp:
    """Compare a plan with its actuals (statistics files or folders, and 実績比較 of the book)."""
    return run_followup(Path(path) if path is not None else None, stats, as_of)


def aggregate(inputs: Sequence[str | os.PathLike[str]], *, jobs: int | None = None) -> Rollup:
    """Check and roll up many submitted plans (files or folders) by prefecture and nation."""
    return _aggregate(inputs, jobs=jobs)
