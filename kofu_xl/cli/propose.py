"""`kofu-xl propose`: argument parsing and output of the 計画案 use case (:mod:`kofu_xl.app.proposals`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_propose_parser", "cmd_propose"]


def add_propose_parser(sub: Any) -> None:
    p = sub.add_parser("propose", help="国のスケジュールを満たす計画案（②交付枚数・⑤職員・経費）を作る")
    p.add_argument("path", nargs="?", help="計画ファイル（.xlsm/.xlsx/.json）。省略時は同梱の白井市の計画")
    p.add_argument("--dantai", help="団体コード（6桁）。公表統計の人口・交付枚数から新しい計画の案を作る")
    p.add_argument("--aim", choices=("lower", "middle"), default="lower", help="目標: lower = 下限値（既定）、middle = 下限値と上限値の中間")
    p.add_argument("--max-step", metavar="枚", help="月の交付枚数を前の月から増やせる上限（枚）")
    p.add_argument("--max-staff", metavar="人", help="配置できる職員数の上限（人）")
    p.add_argument("--staff", metavar="人", help="配置済みの職員数（省略時は計画の⑤職員配置数 合計）")
    p.add_argument("--from", dest="first_month", metavar="YYYY-MM", help="計画案で変えてよい最初の月（省略時は実績の次の月）")
    p.add_argument("--monthly-cost", metavar="円", help="追加職員1人1か月の経費（円）。省略時は計画の経費積算から")
    p.add_argument("--json", action="store_true", help="計画案を JSON で出力する")
    p.add_argument("--out", help="計画案を入れた新しいワークブック（.xlsm）の出力先（既存のファイルは上書きしない）")
    p.set_defaults(func=cmd_propose)


def choices_from(args: argparse.Namespace) -> Any:
    from ..app.proposals import number_option
    from ..core.calendar import parse_month
    from ..core.propose import Choices
    from ..errors import CalendarError, UnreadableInput

    first = None
    if args.first_month:
        try:
            first = parse_month(args.first_month)
        except CalendarError as exc:
            raise UnreadableInput(None, f"--from「{args.first_month}」: {exc.reason}") from None
    step = number_option(args.max_step, "--max-step")
    if step is not None and step != step.to_integral_value():
        raise UnreadableInput(None, f"--max-step「{args.max_step}」は整数（枚）で指定してください")
    return Choices(
        aim=args.aim,
        max_step=None if step is None else int(step),
        first_month=first,
        max_staff=number_option(args.max_staff, "--max-staff"),
        staff_on_hand=number_option(args.staff, "--staff"),
        monthly_temporary_yen=number_option(args.monthly_cost, "--monthly-cost"),
    )


def cmd_propose(args: argparse.Namespace) -> int:
    from ..app.check import check
    from ..app.files import write_new_file
    from ..app.proposals import load_for_proposal, make_proposal, proposal_json, proposal_workbook, render_proposal
    from ..book.sources import shipped_workbook_path
    from ..errors import EXIT_ERRORS, EXIT_OK

    source = Path(args.path) if args.path else (None if args.dantai else shipped_workbook_path())
    plan, new = load_for_proposal(source, args.dantai)
    p = make_proposal(plan, choices_from(args))
    if args.json:
        sys.stdout.write(json.dumps(proposal_json(plan, p), ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(render_proposal(plan, p) + "\n")
    if args.out:
        out = Path(args.out)
        write_new_file(out, proposal_workbook(plan, p, blank=new), replace_ok=False)
        result = check(out)
        errors = [f for f in result.findings if f.severity.value == "error"]
        stream = sys.stderr if args.json else sys.stdout
        print(f"\n計画案を入れたワークブックを作成しました: {out}", file=stream)
        if errors:
            print(f"検証: エラー {len(errors)} 件（計画案が入力しない欄です。入力してから提出してください）", file=stream)
            for f in errors:
                print(f"  [{f.rule}] {f.message}", file=stream)
        else:
            print("検証: エラーはありません", file=stream)
    return EXIT_ERRORS if p.out_of_reach else EXIT_OK
