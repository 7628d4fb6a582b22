"""The cycle collector around work that makes many objects and almost no cycles.

A command that builds a workbook's or a roll-up's objects would have the collector walk them
all, and every long-lived object, again and again to free next to nothing. These scopes pause
it; a caller running the work in a process that goes on (the ribbon, the tests) gets it back
as it found it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused(*, freeze_after: bool = False) -> Iterator[None]:
    """The collector off for the scope, back on afterwards if it was on. ``freeze_after``: for
    a process that ends with the work, what was made meanwhile is frozen first, or the first
    allocation would walk it all."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if freeze_after:
                gc.freeze()
            gc.enable()


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Everything alive now out of the collector's sight for the scope (before forking
    workers: their collections then walk what they make, not their copy of the parent, and
    leave its pages shared); back in sight afterwards. A caller that froze its objects itself
    (a pre-forking server) keeps them frozen: unfreezing is all or nothing, so nothing is done."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
