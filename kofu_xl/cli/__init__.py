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

    b = sub.add_parser("build", help="計画から公式ワークブック（.xlsm）を作成する")
    b.add_argument("--plan", help="計画ファイル（.json/.xlsx/.xlsm）。省略時は同梱の白井市の計画")
    b.add_argument("--out", help="出力先（省略時は workbook/交付円滑化計画.xlsm）")
    b.set_defaults(func=cmd_build)

    n = sub.add_parser("new", help="団体コードを指定して空の計画ワークブックを作成する")
    n.add_argument("--dantai", required=True, help="団体コード（6桁。例: 122327）")
    n.add_argument("--out", help="出力先（省略時は <団体コード>_<市町村名>_交付円滑化計画.xlsm）")
    n.set_defaults(func=cmd_new)

    s = sub.add_parser("submit", help="検証して、エラーがなければ提出ファイルを作成する")
    s.add_argument("path", help="計画ワークブック（.xlsm/.xlsx）")
    s.add_argument("--out", help="提出ファイルの出力先フォルダー（省略時はワークブックと同じ場所の「提出」フォルダー）")
    s.set_defaults(func=cmd_submit)
    u = sub.add_parser("upgrade", help="古い版のブックから、入力・実績・検証結果・提出記録を引き継いだ今の版のブックを作成する")
    u.add_argument("path", help="古い版のブック（.xlsm）。このファイルは変更しません")
    u.add_argument("--out", help="新しいブックの出力先（省略時は <元の名前>_更新後.xlsm。既存のファイルは上書きしません）")
    u.set_defaults(func=cmd_upgrade)
    from kofu_xl.app.followup import add_followup_parser
    add_followup_parser(sub)
    from kofu_xl.app.aggregate import add_aggregate_parser

    add_aggregate_parser(sub)
    from kofu_xl.app.doctor import add_doctor_parser
    add_doctor_parser(sub)
    return p


def _default_path() -> Path | None:
    """The shipped workbook: the checkout's when run from one, else the installed copy;
    None (the embedded plan) when neither exists."""
    candidate = Path.cwd() / "workbook" / "交付円滑化計画.xlsm"
    if candidate.is_file():
        return candidate
    from importlib import resources

    try:
        installed = resources.files("kofu_xl.shipped").joinpath("交付円滑化計画.xlsm")
        if installed.is_file():
            return Path(str(installed))
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return None


def cmd_check(args: argparse.Namespace) -> int:
    from kofu_xl.app.report import make_result, render_text
    from kofu_xl.core.rules import check_plan
    from kofu_xl.book.sources import load_raw, shipped_plan_raw

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


DEFAULT_WORKBOOK = Path("workbook") / "交付円滑化計画.xlsm"


def _write_new_file(path: Path, data: bytes, *, replace_ok: bool) -> None:
    from kofu_xl.book.sources import CannotWrite
    from kofu_xl.ooxml.package import atomic_write

    if path.exists() and not replace_ok:
        raise CannotWrite(path, "同じ名前のファイルが既にあります。上書きしないため、別の --out を指定してください")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise CannotWrite.from_os_error(path, exc) from None


def cmd_build(args: argparse.Namespace) -> int:
    from kofu_xl.book.build import build_xlsm
    from kofu_xl.core.model import load_plan
    from kofu_xl.book.sources import load_raw, shipped_plan_raw

    raw = load_raw(args.plan)[0] if args.plan else shipped_plan_raw()
    plan, findings = load_plan(raw)
    out = Path(args.out) if args.out else DEFAULT_WORKBOOK
    # The shipped workbook is generated: replacing it is the point. Any other file is a
    # clerk's and is never overwritten.
    replace_ok = args.out is None or out.resolve() == DEFAULT_WORKBOOK.resolve()
    _write_new_file(out, build_xlsm(plan), replace_ok=replace_ok)
    errors = [f for f in findings if f.severity.value == "error"]
    print(f"ワークブックを作成しました: {out}" + (f"（読み取れなかった値 {len(errors)} 件は空欄にしました）" if errors else ""))
    for f in errors:
        print(f"  [{f.rule}] {f.message}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from kofu_xl.book.build import build_xlsm
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.book.sources import UnreadableInput
    from kofu_xl.app.submit import safe_filename

    try:
        plan = new_plan(args.dantai)
    except LookupError as exc:
        raise UnreadableInput(None, str(exc)) from None
    name = f"{plan.basic.dantai_code}_{safe_filename(plan.basic.municipality or '')}_交付円滑化計画.xlsm"
    out = Path(args.out) if args.out else Path.cwd() / name
    _write_new_file(out, build_xlsm(plan, blank=True), replace_ok=False)
    print(f"{plan.basic.prefecture}{plan.basic.municipality} の計画ワークブックを作成しました: {out}")
    from kofu_xl.book.layout import layout_for
    from kofu_xl.core.rules import BASE_DATE, run_rules

    for f in run_rules(plan):
        if f.spec is BASE_DATE:
            where = layout_for(plan.parameters).locate(f.path, f.column)
            print(f"  [{f.severity.ja}] {f.located(*where).message if where else f.message}")
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    from kofu_xl.book.surfaces import FileSurface
    from kofu_xl.app.pdf import libreoffice_pdf
    from kofu_xl.app.submit import submit

    surface = FileSurface(Path(args.path))
    outcome = submit(surface, Path(args.out) if args.out else None, pdf=libreoffice_pdf)
    print(outcome.message)
    for f in outcome.files:
        print(f"  {f}")
    return EXIT_ERRORS if outcome.status == "refused" else EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    from kofu_xl.app.upgrade import upgrade

    print(upgrade(Path(args.path), Path(args.out) if args.out else None).message)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    from kofu_xl.logs import log_path, setup_logging
    from kofu_xl.book.sources import KofuError

    args = _parser().parse_args(argv)
    setup_logging()
    log = logging.getLogger("kofu_xl.cli")
    log.info("kofu-xl %s", args.command)
    try:
        return args.func(args)
    except KofuError as exc:
        if args.debug:
            raise
        print(f"エラー: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("中断しました。", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: never a traceback unless asked
        log.exception("kofu-xl %s failed", args.command)
        if args.debug:
            raise
        print(f"内部エラーが発生しました（{exc.__class__.__name__}: {exc}）。--debug を付けて再実行すると詳細が表示されます。"
              f"詳細はログ {log_path()} にも記録しました。", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
