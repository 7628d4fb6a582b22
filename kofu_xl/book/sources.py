"""Where plans come from: the project's JSON, workbooks, the shipped plan.

This is an edge: it reads files and hands raw data to the core. Every failure
to read becomes :class:`UnreadableInput` with a Japanese message naming the file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from kofu_xl.book.read import read_workbook_plan, regular_size
from kofu_xl.errors import UnreadableInput

__all__ = ["MAX_JSON_BYTES", "PACKAGE_WORKBOOK_DIGEST", "SHIPPED_WORKBOOK_NAME", "installed_workbook_path", "load_raw", "load_raw_plan", "shipped_plan_raw", "shipped_workbook_path"]

from kofu_xl.data import data_path
from kofu_xl.ooxml.limits import MAX_JSON_BYTES

SHIPPED_WORKBOOK_NAME = "交付円滑化計画.xlsm"


def shipped_workbook_path(cwd: Path | None = None) -> Path | None:
    """The shipped workbook: the checkout's (``workbook/`` under the current folder) when run
    from one, else the copy installed with the package; None (the embedded plan) when neither
    exists."""
    candidate = (cwd or Path.cwd()) / "workbook" / SHIPPED_WORKBOOK_NAME
    if candidate.is_file():
        return candidate
    return installed_workbook_path()


def installed_workbook_path() -> Path | None:
    """The workbook installed with the package (``kofu_xl.shipped``), or None. The package's
    folder is asked of the import system: an editable install maps it to the checkout's
    ``workbook/`` (``importlib.resources`` would give the same path, and cost every command its
    import)."""
    try:
        spec = importlib.util.find_spec("kofu_xl.shipped")
    except (ModuleNotFoundError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or ()) if spec is not None else ():
        candidate = Path(folder) / SHIPPED_WORKBOOK_NAME
        if candidate.is_file():
            return candidate
    return None


def _json() -> Any:
    """The json module, imported when a JSON file is read: a workbook's check loads none
    (~5 M instructions)."""
    import json

    return json


def shipped_plan_raw() -> dict[str, Any]:
    """白井市's plan of 2019-10-03 as printed (the package's embedded default)."""
    return _json().loads(data_path("shiroi_2019.plan.json").read_bytes())


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of a JSON file; a key given twice is refused (json keeps the last silently)."""
    out = dict(pairs)
    if len(out) != len(pairs):  # the first key met twice, for the message
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


# The key of a submission package's JSON holding the SHA-256 (hex) of the .xlsx written with it
PACKAGE_WORKBOOK_DIGEST = "workbook_sha256"


def load_json(path: Path) -> dict[str, Any]:
    """A plan's raw data from a JSON file (a plan, or a submission package's JSON)."""
    return load_package_json(path)[0]


def load_package_json(path: Path) -> tuple[dict[str, Any], str | None]:
    """A plan's raw data from a JSON file and, when it is a submission package's JSON, the
    SHA-256 (hex) of the workbook it was written with (None when it names none)."""
    json = _json()
    try:
        size = regular_size(path, path.stat())  # a named pipe would block the reading for ever
        if size > MAX_JSON_BYTES:
            raise UnreadableInput(path, f"ファイルが大きすぎます（{size:,} バイト、上限 {MAX_JSON_BYTES:,} バイト）")
        data = json.loads(path.read_bytes(), object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        raise UnreadableInput(
            path, f"JSON に同じキー「{exc.key}」が2回以上あります（どちらの値が正しいか決められないため読みません。1つにしてください）"
        ) from None
    except UnreadableInput:
        raise
    except FileNotFoundError:
        raise UnreadableInput(path, "ファイルが見つかりません") from None
    except IsADirectoryError:
        raise UnreadableInput(path, "フォルダーです。ファイルを指定してください") from None
    except PermissionError:
        raise UnreadableInput(path, "読み取りの権限がありません") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableInput(path, f"JSON として読めません（{exc.__class__.__name__}）") from None
    except RecursionError:
        raise UnreadableInput(path, "JSON の入れ子が深すぎます") from None
    except OSError as exc:
        raise UnreadableInput(path, f"読み込みに失敗しました（{exc.strerror or exc}）") from None
    if not isinstance(data, dict):
        raise UnreadableInput(path, "計画の JSON ではありません（最上位がオブジェクトではありません）")
    if "plan" in data and isinstance(data["plan"], dict):  # a submission package's JSON
        digest = data.get(PACKAGE_WORKBOOK_DIGEST)
        return data["plan"], digest if isinstance(digest, str) else None
    return data, None


def load_raw(path: str | Path) -> tuple[dict[str, Any], Any]:
    """Raw plan data from a file, by its extension, and the workbook layout it was
    read with (None for JSON)."""
    raw, layout, _loaded = load_raw_plan(path)
    return raw, layout


def load_raw_plan(path: str | Path) -> tuple[dict[str, Any], Any, Any]:
    """:func:`load_raw`, and the plan loaded from the raw data where the reading loaded it
    (``kofu_xl.book.read.read_plan``'s third item: for check_plan; None for JSON)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return load_json(p), None, None
    if suffix in (".xlsx", ".xlsm"):
        return read_workbook_plan(p)
    raise UnreadableInput(p, "対応していない形式です（.xlsm / .xlsx / .json を指定してください）")
