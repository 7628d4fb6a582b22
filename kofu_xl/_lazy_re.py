"""Regular expressions compiled when first used, not when their module is imported.

Python's regex compiler runs in Python (0.1–0.4 ms a pattern): a pattern that a check and the
UDF server's start never use is declared with :func:`compiled_at_first_use` and costs nothing
until a caller needs it. The core (``kofu_xl.core.text`` re-exports it) and the OOXML toolkit
both use it, so it lives below both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import AnyStr

__all__ = ["compiled_at_first_use"]


def compiled_at_first_use(pattern: AnyStr, flags: int = 0) -> Callable[[], re.Pattern[AnyStr]]:
    """A regular expression compiled at its first use: call the result for the compiled
    pattern (the same object every time)."""
    return functools.cache(lambda: re.compile(pattern, flags))
