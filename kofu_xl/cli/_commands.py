"""One function per command: read the arguments, run the use case, print, return the exit code.

The use case is imported inside each function (the CLI's per-command import), so that a
command loads only the modules it needs.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kofu_xl.errors import EXIT_ERRORS, EXIT_OK, EXIT_UNREADABLE, UnreadableInput

AGGREGATE_OUT = "集計.xlsx"
DEFAULT_WORKBOOK = Path("workbook") / "交付円滑化計画.xlsm"


def _print_json(data: object) -> None:
    import json  # only for --json: check's text report loads no json (~6 M instructions)

    text = json.dumps(data, ensure_ascii=False, indent=1)
    # a lone surrogate (a JSON input's "\ud800", a file name of undecodable bytes) has no
    # UTF-8 form: written as JSON's escape, it reads back as the same text
    sys.stdout.write(re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")


def cmd_check(args: argparse.Namespace) -> int:
    with _collector_paused():  # the use case's imports and its run: ~2% of a check's instructions (callgrind)
        from kofu_xl.app.check import check
        from kofu_xl.app.report import render_text
        from kofu_xl.book.sources import shipped_workbook_path

        result = check(Path(args.path) if args.path else shipped_workbook_path())
    if args.json:
        _print_json(result.to_json())
    else:
        sys.stdout.write(render_text(result) + "\n")
    return EXIT_ERRORS if result.has_errors else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from kofu_xl.app.files import write_new_file
    from kofu_xl.book.sources import load_raw, shipped_plan_raw
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan

    raw = load_raw(args.plan)[0] if args.plan else shipped_plan_raw()
    plan, findings = load_plan(raw)
    out = Path(args.out) if args.out else DEFAULT_WORKBOOK
    # The shipped workbook is generated: replacing it is the point. Any other file is a
    # clerk's and is never overwritten.
    replace_ok = args.out is None or out.resolve() == DEFAULT_WORKBOOK.resolve()
    write_new_file(out, build_xlsm(plan), replace_ok=replace_ok)
    errors = [f for f in findings if f.severity.value == "error"]
    print(f"ワークブックを作成しました: {out}" + (f"（読み取れなかった値 {len(errors)} 件は空欄にしました）" if errors else ""))
    if args.out is None and not args.plan:
        _build_blank()
    for f in errors:
        print(f"  [{f.rule}] {f.message}")
    return EXIT_OK


def _build_blank() -> None:
    """In a checkout, the shipped workbook's build also makes `new`'s stored blank (it takes
    the shipped workbook's macros), submit's blank packages (kofu_xl.app.package_workbook) and
    the settle's stored formulas (kofu_xl.book.computed):
    every committed file is what `kofu-xl build` writes. An installed package's blanks are never
    rewritten."""
    from kofu_xl.book.template import TEMPLATE_PATH

    if (Path.cwd() / "kofu_xl" / "data").resolve() != TEMPLATE_PATH.parent:
        return
    from kofu_xl.app.new import write_blank
    from kofu_xl.app.package_workbook import write_package_blanks
    from kofu_xl.book.computed import write_stored_formulas

    print(f"新規作成用のひな形を作成しました: {write_blank()}")
    for path in write_package_blanks():
        print(f"提出用のひな形を作成しました: {path}")
    print(f"計算セルの数式一覧を作成しました: {write_stored_formulas()}")


def _collector_paused() -> contextlib.AbstractContextManager[None]:
    """The cycle collector paused for a command that builds its objects and ends; what it made
    is frozen afterwards when the process ends with the command (ENDS_WITH_THE_PROCESS). (Imported
    here: the command line starts, and says --help, without the app layer.)"""
    from kofu_xl.app import collector

    return collector.paused(freeze_after=ENDS_WITH_THE_PROCESS)


# Set by ``kofu_xl.cli.run`` (a process that ends with the command), never by ``main``'s
# in-process callers (the ribbon, the tests), whose objects must stay collectable.
ENDS_WITH_THE_PROCESS = False


@contextlib.contextmanager
def _drawing() -> Iterator[None]:
    """The scope of a command that may draw a workbook with openpyxl and then ends (`new`, for
    a plan the stored blank cannot take, and `submit`).

    - openpyxl, if this scope imports it, comes without numpy (~0.1 s of import): openpyxl
      imports numpy, when installed, only to accept numpy's scalars as cell values, and the
      workbook layer writes Python's numbers, strings and dates only, so the files are the
      same byte for byte (tests/cli/test_cli.py makes `submit`'s package both ways). numpy is kept out for the scope only, and only when
      neither is loaded already (an in-process caller keeps its own openpyxl); nothing on
      these commands' paths uses numpy (the same tests see it unloaded). Afterwards numpy is
      importable again, but this process's openpyxl would refuse a numpy scalar. openpyxl is
      not imported up front: a submit that writes no package never needs it.
    - The cycle collector is paused: it would walk openpyxl's ~50,000 live objects some 200
      times (~0.035 s) to free next to nothing (the workbook lives until it is written). A
      caller running the command in-process gets it back as it found it.
    """
    blocked = "openpyxl" not in sys.modules and "numpy" not in sys.modules
    if blocked:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
    try:
        with _collector_paused():
            yield
    finally:
        if blocked and "numpy" in sys.modules and sys.modules["numpy"] is None:
            del sys.modules["numpy"]


def cmd_new(args: argparse.Namespace) -> int:
    with _drawing():
        return _new(args)


def _new(args: argparse.Namespace) -> int:
    from kofu_xl.app.files import safe_filename, write_new_file
    from kofu_xl.app.municipalities import new_plan
    from kofu_xl.app.new import new_workbook

    try:
        plan = new_plan(args.dantai)
    except LookupError as exc:
        raise UnreadableInput(None, str(exc)) from None
    name = f"{plan.basic.dantai_code}_{safe_filename(plan.basic.municipality or '')}_交付円滑化計画.xlsm"
    out = Path(args.out) if args.out else Path.cwd() / name
    write_new_file(out, new_workbook(plan), replace_ok=False)
    print(f"{plan.basic.prefecture}{plan.basic.municipality} の計画ワークブックを作成しました: {out}")
    from kofu_xl.book.layout import layout_for
    from kofu_xl.core.rules import BASE_DATE, run_rules

    for f in run_rules(plan):
        if f.spec is BASE_DATE:  # the base is not 8月末: say so now, not only at the first check
            where = layout_for(plan.parameters).locate(f.path, f.column)
            print(f"  [{f.severity.ja}] {f.located(*where).message if where else f.message}")
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    with _drawing():  # a new package is drawn by openpyxl
        return _submit(args)


def _submit(args: argparse.Namespace) -> int:
    from kofu_xl.app.submit import submit
    from kofu_xl.book.surfaces import FileSurface

    pdf = None
    if not args.no_pdf:  # LibreOffice's maker (and its subprocess machinery) only when asked for
        from kofu_xl.app.pdf import libreoffice_pdf

        pdf = libreoffice_pdf
    surface = FileSurface(Path(args.path))
    outcome = submit(surface, Path(args.out) if args.out else None, pdf=pdf)
    print(outcome.message)
    for f in outcome.files:
        print(f"  {f}")
    return EXIT_ERRORS if outcome.status == "refused" else EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    from kofu_xl.app.upgrade import upgrade

    print(upgrade(Path(args.path), Path(args.out) if args.out else None).message)
    return EXIT_OK


def cmd_followup(args: argparse.Namespace) -> int:
    from kofu_xl.app.followup import followup_json, render_followup_text, run_followup
    from kofu_xl.book.sources import shipped_workbook_path

    path = Path(args.path) if args.path else shipped_workbook_path()
    fu = run_followup(path, args.stats or (), args.as_of)
    if args.json:
        _print_json(followup_json(fu))
    else:
        sys.stdout.write(render_followup_text(fu) + "\n")
    return EXIT_ERRORS if fu.has_errors else EXIT_OK


def cmd_aggregate(args: argparse.Namespace) -> int:
    """Exit 0: every input was used. 1: the table was written, but some inputs could not be
    read (or contradicted each other) and are listed in 読めなかったファイル. 2: no plan
    could be read at all (the table is still written, with the reasons), or the table
    cannot be written. Findings inside the plans (even errors) do not change the exit
    code: reporting them is the table's job."""
    from kofu_xl.app import aggregate as agg
    from kofu_xl.app.files import write_new_file

    out = Path(args.out)
    if problem := agg.out_problem(out):
        print(f"エラー: 集計表の出力先「{out}」: {problem}", file=sys.stderr)
        return EXIT_UNREADABLE
    bar = agg.Progress()
    try:
        rollup = agg.aggregate(args.inputs, exclude=[out], jobs=args.jobs, progress=bar.update, on_total=bar.set_total)
    finally:
        bar.close()
    write_new_file(out, agg.write_workbook(rollup), replace_ok=True)
    failed = [u for u in rollup.unused if u.counts_as_failure]
    plans = rollup.national.plans
    if args.json:
        _print_json(agg.rollup_json(rollup))
    else:
        n = rollup.national
        print(f"{plans:,} 団体の計画を集計しました（エラーのある計画 {n.plans_with_errors:,}、集計できなかったファイル {len(failed):,}）: {out}")
    for u in failed[:20]:
        print(f"  {agg.UNUSED_JA[u.kind]}: {u.source}: {u.reason}", file=sys.stderr)
    if len(failed) > 20:
        print(f"  ほか {len(failed) - 20:,} 件（「{agg.SHEET_UNUSED}」シートを参照）", file=sys.stderr)
    if plans == 0:
        print(f"エラー: 集計できる計画がありませんでした（「{agg.SHEET_UNUSED}」シートを参照: {out}）", file=sys.stderr)
        return EXIT_UNREADABLE
    return EXIT_ERRORS if failed else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when every required check passed (SKIP does not fail), else 1."""
    from kofu_xl.app import doctor

    if args.workbook:
        path: Path | None = Path(args.workbook)
        note = None
    else:
        path = doctor.default_workbook()
        note = None if path else "ブックが指定されておらず、カレントフォルダーに workbook/交付円滑化計画.xlsm もありません"
    report = doctor.run_doctor(path, workbook_note=note)
    if args.json:
        _print_json(report.to_json())
    else:
        sys.stdout.write(doctor.render_text(report, version=doctor.package_version("kofu-xl")) + "\n")
    return report.exit_code


def _propose_choices(args: argparse.Namespace) -> Any:
    from kofu_xl.app.proposals import number_option
    from kofu_xl.core.calendar import parse_month
    from kofu_xl.core.propose import Choices
    from kofu_xl.errors import CalendarError

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
    from kofu_xl.app.check import check
    from kofu_xl.app.files import write_new_file
    from kofu_xl.app.proposals import load_for_proposal, make_proposal, proposal_json, render_proposal
    from kofu_xl.book.sources import shipped_workbook_path
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.propose import apply_proposal

    source = Path(args.path) if args.path else (None if args.dantai else shipped_workbook_path())
    plan, new = load_for_proposal(source, args.dantai)
    p = make_proposal(plan, _propose_choices(args))
    if args.json:
        import json

        sys.stdout.write(json.dumps(proposal_json(plan, p), ensure_ascii=False, indent=1) + "\n")
    else:
        sys.stdout.write(render_proposal(plan, p) + "\n")
    if args.out:
        out = Path(args.out)
        write_new_file(out, build_xlsm(apply_proposal(plan, p), blank=new), replace_ok=False)
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
