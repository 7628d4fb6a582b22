"""The `kofu-xl` command line: argument parsing and output, nothing else.

Each command imports its use case (``kofu_xl.app``) when it runs, so ``kofu-xl --help`` and
``kofu-xl check`` load only what they need.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

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
from kofu_xl.logs import log_path, setup_logging

__all__ = ["main", "run"]


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
    s.add_argument("--no-pdf", action="store_true", help="PDF を作成しない（LibreOffice を使わない。提出用の .xlsx と .json だけを作成）")
    s.set_defaults(func=cmd_submit)

    u = sub.add_parser("upgrade", help="古い版のブックから、入力・実績・検証結果・提出記録を引き継いだ今の版のブックを作成する")
    u.add_argument("path", help="古い版のブック（.xlsm）。このファイルは変更しません")
    u.add_argument("--out", help="新しいブックの出力先（省略時は <元の名前>_更新後.xlsm。既存のファイルは上書きしません）")
    u.set_defaults(func=cmd_upgrade)

    f = sub.add_parser("followup", help="計画と実績（公表統計）を比べる（ファイルは変更しない）")
    f.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    f.add_argument("--stats", nargs="+", metavar="CSV", help="同梱の公表統計（2019年4月〜2022年12月）に加える公表統計の CSV ファイル、または CSV のあるフォルダー（複数可）")
    f.add_argument("--as-of", dest="as_of", metavar="YYYY-MM", help="この月末時点で比べる（それより後の統計は使わない）")
    f.add_argument("--json", action="store_true", help="結果を JSON で出力する（check --json の形に実績を追加）")
    f.set_defaults(func=cmd_followup)

    a = sub.add_parser("aggregate", help="提出された計画をまとめて検証し、都道府県・全国の集計表（.xlsx）を作成する")
    a.add_argument("inputs", nargs="+", metavar="INPUT", help="提出ファイル（.xlsx/.xlsm/.json）またはフォルダー（中のファイルをすべて読む）")
    a.add_argument("--out", default=AGGREGATE_OUT, help=f"集計表の出力先（省略時は {AGGREGATE_OUT}）")
    a.add_argument("--json", action="store_true", help="集計結果を JSON で標準出力に出す")
    a.add_argument("--jobs", type=int, default=None, help="並列に読むプロセス数（省略時は CPU の数）")
    a.set_defaults(func=cmd_aggregate)

    d = sub.add_parser("doctor", help="この PC の動作環境とブックの設定を診断する（OK/NG と対処を表示）")
    d.add_argument("workbook", nargs="?", help="診断するブック（.xlsm）。省略時はチェックアウトの workbook/交付円滑化計画.xlsm（なければブックの確認を省略）")
    d.add_argument("--json", action="store_true", help="結果を JSON で出力する")
    d.set_defaults(func=cmd_doctor)

    pr = sub.add_parser("propose", help="国のスケジュールを満たす計画案（②交付枚数・⑤職員・経費）を作る")
    pr.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    pr.add_argument("--dantai", help="団体コード（6桁）。公表統計の人口・交付枚数から新しい計画の案を作る")
    pr.add_argument("--aim", choices=("lower", "middle"), default="lower", help="目標: lower = 下限値（既定）、middle = 下限値と上限値の中間")
    pr.add_argument("--max-step", metavar="枚", help="月の交付枚数を前の月から増やせる上限（枚）")
    pr.add_argument("--max-staff", metavar="人", help="配置できる職員数の上限（人）")
    pr.add_argument("--staff", metavar="人", help="配置済みの職員数（省略時は計画の⑤職員配置数 合計）")
    pr.add_argument("--from", dest="first_month", metavar="YYYY-MM", help="計画案で変えてよい最初の月（省略時は実績の次の月）")
    pr.add_argument("--monthly-cost", metavar="円", help="追加職員1人1か月の経費（円）。省略時は計画の経費積算から")
    pr.add_argument("--json", action="store_true", help="計画案を JSON で出力する")
    pr.add_argument("--out", help="計画案を入れた新しいワークブック（.xlsm）の出力先（既存のファイルは上書きしない）")
    pr.set_defaults(func=cmd_propose)
    # `kofu-xl check --debug` as well as `kofu-xl --debug check`: every command takes it; its
    # default is left to the top level, so either place sets it
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="内部エラーの詳細（トレースバック）を表示する")
    return p


def main(argv: Sequence[str] | None = None) -> int:
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


def run() -> int:
    """The command as a process runs it (the ``kofu-xl`` script, ``python -m kofu_xl``): main,
    then the process ends. What is left is freed as the process exits; ``gc.freeze()`` spares
    the interpreter's last cycle collections over every object of it (~4% of a check's
    instructions under callgrind). Not in ``main``, which the ribbon and the tests call in a
    process that goes on."""
    _commands.ENDS_WITH_THE_PROCESS = True
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    raise SystemExit(run())
