"""Where plans come from: the project's JSON, workbooks, the shipped plan.

This is an edge: it reads files and hands raw data to the core. Every failure
to read becomes :class:`UnreadableInput` with a Japanese message naming the file.
"""

from __future__ import annotations

import errno
import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["CannotWrite", "KofuError", "MAX_JSON_BYTES", "UnreadableInput", "load_raw", "shipped_plan_raw"]

from .limits import MAX_JSON_BYTES


class KofuError(Exception):
    """A failure the user can act on: a Japanese message naming the file, no traceback."""

    exit_code = 2


class UnreadableInput(KofuError):
    """An input that cannot be read at all (exit code 2)."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        where = f"「{self.path}」" if self.path else "入力"
        super().__init__(f"{where}を読めません: {reason}")


class CannotWrite(KofuError):
    """An output that cannot be written (read-only folder, disk full, file open in Excel)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"「{self.path}」に書き込めません: {reason}")

    @classmethod
    def from_os_error(cls, path: str | Path, exc: OSError) -> CannotWrite:
        if isinstance(exc, PermissionError):
            return cls(path, "書き込みの権限がありません（読み取り専用のフォルダーか、Excel などで開いたままです）")
        reason = _OS_REASONS.get(getattr(exc, "errno", None) or -1)
        if reason:
            return cls(path, reason)
        return cls(path, f"書き込みに失敗しました（エラー番号 {exc.errno}）" if exc.errno else "書き込みに失敗しました")


_OS_REASONS = {
    errno.ENOSPC: "ディスクの空きがありません",
    errno.EDQUOT: "ディスクの使用量の上限に達しています",
    errno.EEXIST: "同じ名前のファイルが既にあります",
    errno.ENAMETOOLONG: "名前が長すぎます（フォルダー名・ファイル名を短くしてください）",
    errno.ENOENT: "途中のフォルダーがありません",
    errno.ENOTDIR: "途中にフォルダーではなくファイルがあります（フォルダー名を確認してください）",
    errno.EISDIR: "同じ名前のフォルダーがあります",
    errno.EROFS: "読み取り専用の場所です",
    errno.ELOOP: "シンボリックリンクが循環しています",
    errno.EACCES: "書き込みの権限がありません",
    errno.EINVAL: "この場所には作れない名前です",
    errno.EIO: "ディスクの読み書きでエラーが起きました",
}


def shipped_plan_raw() -> dict[str, Any]:
    """白井市's plan of 2019-10-03 as printed (the package's embedded default)."""
    return json.loads(resources.files("kofu_xl.data").joinpath("shiroi_2019.plan.json").read_bytes())


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of a JSON file; a key given twice is refused (json keeps the last silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def load_json(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
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
        data = data["plan"]
    return data


def load_raw(path: str | Path) -> tuple[dict[str, Any], Any]:
    """Raw plan data from a file, by its extension, and the workbook layout it was
    read with (None for JSON)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return load_json(p), None
    if suffix in (".xlsx", ".xlsm"):
        from .workbook import read_workbook

        return read_workbook(p)
    raise UnreadableInput(p, "対応していない形式です（.xlsm / .xlsx / .json を指定してください）")
