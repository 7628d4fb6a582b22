"""kofu-xl: the マイナンバーカード交付円滑化計画 in Excel, checked, submitted and followed up.

The public API (everything else is internal and may change)::

    from kofu_xl import check, load_plan
    result = check("交付円滑化計画.xlsm")      # every finding, with sheet!cell
    plan = load_plan("交付円滑化計画.xlsm")    # the typed plan

- :func:`load_plan`, :func:`check`, :func:`build_workbook`, :func:`new_plan`, :func:`submit`,
  :func:`followup`, :func:`aggregate` — what the ``kofu-xl`` commands do, without printing;
- :class:`Plan` (the typed plan), :class:`Finding` (one finding of a rule),
  :class:`KofuError` (the root of every error kofu-xl raises on purpose).

Names are loaded on first use, so ``import kofu_xl`` (and the command line) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Finding", "KofuError", "Plan", "aggregate", "build_workbook", "check", "followup", "load_plan", "new_plan", "submit"]

_WHERE = {
    "Finding": "kofu_xl.core.findings",
    "KofuError": "kofu_xl.errors",
    "Plan": "kofu_xl.core.model",
    **{name: "kofu_xl.app.api" for name in ("aggregate", "build_workbook", "check", "followup", "load_plan", "new_plan", "submit")},
}

if TYPE_CHECKING:
    from kofu_xl.app.api import aggregate, build_workbook, check, followup, load_plan, new_plan, submit
    from kofu_xl.core.findings import Finding
    from kofu_xl.core.model import Plan
    from kofu_xl.errors import KofuError


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kofu_xl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
