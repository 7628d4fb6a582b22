"""The `kofu-xl` command line (a thin edge over the core)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kofu-xl", description="マイナンバーカード交付円滑化計画の検証・作成ツール")
    p.add_argument("--debug", action="store_true", help="内部エラーの詳細（トレースバック）を表示する")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="計画を検証する（ファイルは変更しない）")
    c.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    c.add_argument("--json", action="store_true", help="結果を JSON で出力する")
    c.set_defaults(func=cmd_check)
    return p


def _default_path() -> Path | None:
    """The shipped workbook when run from a checkout; else the embedded plan."""
    candidate = Path.cwd() / "workbook" / "交付円滑化計画.xlsm"
    return candidate if candidate.is_file() else None


def cmd_check(args: argparse.Namespace) -> int:
    from .report import make_result, render_text
    from .rules import check_plan
    from .sources import load_raw, shipped_plan_raw

    path = Path(args.path) if args.path else _default_path()
    raw, layout = load_raw(path) if path else (shipped_plan_raw(), None)
    plan, findings = check_plan(raw)
    if layout is not None:
        findings = layout.locate_findings(findings)
    result = make_result(plan, findings, source=str(path) if path else "同梱の計画（白井市 令和元年10月3日）")
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(render_text(result) + "\n")
    return EXIT_ERRORS if result.has_errors else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from .sources import UnreadableInput

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except UnreadableInput as exc:
        print(f"エラー: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        print("中断しました。", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: never a traceback unless asked
        if args.debug:
            raise
        print(f"内部エラーが発生しました（{exc.__class__.__name__}: {exc}）。--debug を付けて再実行すると詳細が表示されます。", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
