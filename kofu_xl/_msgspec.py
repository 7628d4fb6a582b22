"""msgspec, imported without its optional typing_extensions.

msgspec takes ``get_type_hints``, ``Required`` and ``NotRequired`` from typing_extensions when it
can import it, else from :mod:`typing`, which has all three on Python 3.11. For kofu-xl's types
(structs, named tuples, no TypedDict) msgspec reads nothing differently either way
(tests/test_msgspec_import.py holds its reading of every type, and a plan's conversion, equal).
typing_extensions in turn loads inspect, ast and dis: ~27 M instructions, ~5 % of a
``kofu-xl check``, paid at every command's start.

The packages that import msgspec (``kofu_xl.core``, ``kofu_xl.book``, ``kofu_xl.app``) call
:func:`import_msgspec` first; ``kofu-xl --help`` loads neither. A later ``import
typing_extensions`` (pydantic, another library) loads it as usual: only msgspec's choice is made
here, and only while neither is loaded yet.
"""

from __future__ import annotations

import sys

__all__ = ["import_msgspec"]


def import_msgspec() -> None:
    if "msgspec" in sys.modules or "typing_extensions" in sys.modules:
        return
    sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # its import raises ImportError
    try:
        import msgspec  # noqa: F401
    finally:
        if "typing_extensions" in sys.modules and sys.modules["typing_extensions"] is None:
            del sys.modules["typing_extensions"]
