"""The `kofu-xl` command line: argument parsing and output, nothing else.

Each command imports its use case (``kofu_xl.app``) when it runs, so ``kofu-xl --help`` and
``kofu-xl check`` load only what they need.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kofu_xl.cli import _commands
from kofu_xl.cli._commands import (
    AGGREGATE_OUT,
    cmd_aggregate,
    cmd_build,
    cmd_check,
    cmd_doctor,
    cmd_followup,
    cmd_new,
    cmd_propose,
    cmd_submit,
    cmd_upgrade,
)
from kofu_xl.errors import EXIT_INTERNAL, KofuError

if TYPE_CHECKING:
    import logging
    from pathlib import Path

__all__ = ["main", "run"]


def _check_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    c.add_argument("--json", action="store_true", help="結果を JSON で出力する")


def _build_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--plan", help="計画ファイル（.json/.xlsx/.xlsm）。省略時は同梱の白井市の計画")
    c.add_argument("--out", help="出力先（省略時は workbook/交付円滑化計画.xlsm）")


def _new_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--dantai", required=True, help="団体コード（6桁。例: 122327）")
    c.add_argument("--out", help="出力先（省略時は <団体コード>_<市町村名>_交付円滑化計画.xlsm）")


def _submit_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("path", help="計画ワークブック（.xlsm/.xlsx）")
    c.add_argument("--out", help="提出ファイルの出力先フォルダー（省略時はワークブックと同じ場所の「提出」フォルダー）")
    c.add_argument("--no-pdf", action="store_true", help="PDF を作成しない（LibreOffice を使わない。提出用の .xlsx と .json だけを作成）")


def _upgrade_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("path", help="古い版のブック（.xlsm）。このファイルは変更しません")
    c.add_argument("--out", help="新しいブックの出力先（省略時は <元の名前>_更新後.xlsm。既存のファイルは上書きしません）")


def _followup_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    c.add_argument("--stats", nargs="+", metavar="CSV", help="同梱の公表統計（2019年4月〜2022年12月）に加える公表統計の CSV ファイル、または CSV のあるフォルダー（複数可）")
    c.add_argument("--as-of", dest="as_of", metavar="YYYY-MM", help="この月末時点で比べる（それより後の統計は使わない）")
    c.add_argument("--json", action="store_true", help="結果を JSON で出力する（check --json の形に実績を追加）")


def _aggregate_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="提出ファイル（.xlsx/.xlsm/.json）またはフォルダー（中のファイルをすべて読む）")
    c.add_argument("--out", default=AGGREGATE_OUT, help=f"集計表の出力先（省略時は {AGGREGATE_OUT}）")
    c.add_argument("--json", action="store_true", help="集計結果を JSON で標準出力に出す")
    c.add_argument("--jobs", type=int, default=None, help="並列に読むプロセス数（省略時は CPU の数）")


def _doctor_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("workbook", nargs="?", help="診断するブック（.xlsm）。省略時はチェックアウトの workbook/交付円滑化計画.xlsm（なければブックの確認を省略）")
    c.add_argument("--json", action="store_true", help="結果を JSON で出力する")


def _propose_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    c.add_argument("--dantai", help="団体コード（6桁）。公表統計の人口・交付枚数から新しい計画の案を作る")
    c.add_argument("--aim", choices=("lower", "middle"), default="lower", help="目標: lower = 下限値（既定）、middle = 下限値と上限値の中間")
    c.add_argument("--max-step", metavar="枚", help="月の交付枚数を前の月から増やせる上限（枚）")
    c.add_argument("--max-staff", metavar="人", help="配置できる職員数の上限（人）")
    c.add_argument("--staff", metavar="人", help="配置済みの職員数（省略時は計画の⑤職員配置数 合計）")
    c.add_argument("--from", dest="first_month", metavar="YYYY-MM", help="計画案で変えてよい最初の月（省略時は実績の次の月）")
    c.add_argument("--monthly-cost", metavar="円", help="追加職員1人1か月の経費（円）。省略時は計画の経費積算から")
    c.add_argument("--json", action="store_true", help="計画案を JSON で出力する")
    c.add_argument("--out", help="計画案を入れた新しいワークブック（.xlsm）の出力先（既存のファイルは上書きしない）")


def _parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command line's parser, built for ``argv``: what it builds of the other commands is
    never read, and building all nine commands with their arguments is ~3 % of a check (argparse
    looks up its translations for every parser it makes).

    - A command that argv plainly runs (its first argument, after any ``--debug``) is the only
      one built.
    - Otherwise (``kofu-xl --help``, an unknown command, an abbreviated option before the
      command) every command is listed, and those that argv names get their arguments.

    Either way argv parses as with the full parser (tests/cli/test_cli.py compares them).
    """
    p = argparse.ArgumentParser(prog="kofu-xl", description="マイナンバーカード交付円滑化計画の検証・作成ツール")
    p.add_argument("--debug", action="store_true", help="内部エラーの詳細（トレースバック）を表示する")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None]]] = {
        "check": ("計画を検証する（ファイルは変更しない）", cmd_check, _check_arguments),
        "build": ("計画から公式ワークブック（.xlsm）を作成する", cmd_build, _build_arguments),
        "new": ("団体コードを指定して空の計画ワークブックを作成する", cmd_new, _new_arguments),
        "submit": ("検証して、エラーがなければ提出ファイルを作成する", cmd_submit, _submit_arguments),
        "upgrade": ("古い版のブックから、入力・実績・検証結果・提出記録を引き継いだ今の版のブックを作成する", cmd_upgrade, _upgrade_arguments),
        "followup": ("計画と実績（公表統計）を比べる（ファイルは変更しない）", cmd_followup, _followup_arguments),
        "aggregate": ("提出された計画をまとめて検証し、都道府県・全国の集計表（.xlsx）を作成する", cmd_aggregate, _aggregate_arguments),
        "doctor": ("この PC の動作環境とブックの設定を診断する（OK/NG と対処を表示）", cmd_doctor, _doctor_arguments),
        "propose": ("国のスケジュールを満たす計画案（②交付枚数・⑤職員・経費）を作る", cmd_propose, _propose_arguments),
    }
    named = set(argv)
    first = next((a for a in argv if a != "--debug"), None)
    for name, (help_text, func, arguments) in commands.items():
        if first in commands and name != first:
            continue
        command = sub.add_parser(name, help=help_text)
        command.set_defaults(func=func)
        if name in named:
            arguments(command)
            # `kofu-xl check --debug` as well as `kofu-xl --debug check`: every command takes
            # it; its default is left to the top level, so either place sets it
            command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="内部エラーの詳細（トレースバック）を表示する")
    return p


# The commands that only read: they write no file, start no process or thread and register
# nothing to run at exit. Such a command logs only its failure (its run loads neither logging nor
# the log folder's platformdirs, with traceback, tokenize, tempfile...: ~30 M instructions, ~6 %
# of a check; every other command logs that it ran, as the ribbon's buttons do), and ends its
# process without the interpreter's teardown once its output is out (the teardown frees every
# object one by one: ~8 M instructions, ~2 % of a check; see run).
_READS_ONLY = frozenset({"check"})


def _log() -> logging.Logger:
    """The command line's logger, with the log file attached (kofu_xl.logs)."""
    import logging

    from kofu_xl.logs import setup_logging

    setup_logging()
    return logging.getLogger("kofu_xl.cli")


def _log_path() -> Path:
    """Where the log is (kofu_xl.logs), for a message that names it."""
    from kofu_xl.logs import log_path

    return log_path()


def main(argv: Sequence[str] | None = None) -> int:
    return _execute(_parse(argv))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[1:]
    return _parser(argv).parse_args(argv)


def _execute(args: argparse.Namespace) -> int:
    if args.command not in _READS_ONLY:
        _log().info("kofu-xl %s", args.command)
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
        _log().exception("kofu-xl %s failed", args.command)
        if args.debug:
            raise
        print(f"内部エラーが発生しました（{exc.__class__.__name__}: {exc}）。--debug を付けて再実行すると詳細が表示されます。"
              f"詳細はログ {_log_path()} にも記録しました。", file=sys.stderr)
        return EXIT_INTERNAL


def run() -> int:
    """The command as a process runs it (the ``kofu-xl`` script, ``python -m kofu_xl``): main,
    then the process ends. What is left is freed as the process exits; ``gc.freeze()`` spares
    the interpreter's last cycle collections over every object of it (~4% of a check's
    instructions under callgrind), and a command that only reads skips the teardown altogether
    (``os._exit`` once standard output and error are flushed; where flushing fails, a closed
    pipe, the interpreter ends as usual and reports it). Not in ``main``, which the ribbon and
    the tests call in a process that goes on."""
    _commands.ENDS_WITH_THE_PROCESS = True
    try:
        args = _parse(None)
        code = _execute(args)
    finally:
        gc.freeze()
    # (not under a profiler, tracer or debugger -- cProfile, trace, coverage, pdb: they report
    # once the command has returned or at exit, which os._exit would skip)
    if args.command in _READS_ONLY and sys.getprofile() is None and sys.gettrace() is None:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: the process was started with it closed (`>&-`)
                    stream.flush()
        except (OSError, ValueError):
            return code
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(run())
