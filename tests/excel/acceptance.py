"""Acceptance on a real Windows PC with Excel: IT runs this once before rollout.

    python tests\\excel\\acceptance.py [WORKBOOK.xlsm]

(default: the installed/checked-out 交付円滑化計画.xlsm). The workbook is copied to a
temporary folder first; the original is never opened. Steps, each reported in Japanese
as OK/NG:

 1. Excel opens the copy through xlwings without repairing it (no "[修復済み]"/"[Repaired]"
    in the name, no new repair log error*.xml in %TEMP%), with macros enabled.
 2. After a full recalculation by Excel (CalculateFull, KOFU_* through the UDF server),
    no cell of any sheet holds an error value.
 3. Every formula cell equals the value kofu-xl's core computes for it (the values the
    build caches), within floating-point tolerance.
 4. The KOFU_* wrappers turn an unusable input into a real error: 「未定」 typed into
    経費積算!C5 makes 本表1-2!D8 #VALUE! (not 2,990), and the value comes back when undone.
 5. Each ribbon button's Sub runs (Application.Run with control = Nothing): 「検証」 fills
    検証結果, 「検証して提出」 answers (package or refusal), 「実績取込」 fills 実績比較 from
    the shipped statistics, 「診断」 runs; the kofu-xl log records no failure.
 6. Excel exports 本表1-1, 本表1-2 and 推移グラフ to PDF (Book.to_pdf).

Message boxes are turned off for the run (KOFU_NO_MESSAGE_BOX=1, inherited by the Python
that Excel starts), the package and the statistics go to temporary folders. Exit code 0
when every step is OK, 1 otherwise, 2 when Excel is not available.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")


def excel_available() -> str | None:
    """None when Excel can be driven here, else the reason (Japanese)."""
    if sys.platform != "win32":
        return f"Windows ではないため実行できません（この PC: {sys.platform}）"
    try:
        import winreg  # noqa: F401

        import xlwings  # noqa: F401

        key = winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, r"Excel.Application\CurVer")
        winreg.CloseKey(key)
    except Exception as exc:  # noqa: BLE001
        return f"Excel が見つかりません（{exc.__class__.__name__}）"
    return None


def default_workbook() -> Path:
    from kofu_xl.book.sources import shipped_workbook_path

    path = shipped_workbook_path()
    if path is None:
        raise SystemExit("ブックが見つかりません。ブックのパスを指定してください。")
    return path


def core_values(path: Path) -> dict[tuple[str, str], Any]:
    """What kofu-xl's core computes for every formula cell of the workbook's plan."""
    from decimal import Decimal

    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.sources import load_raw
    from kofu_xl.core.model import load_plan

    raw, _ = load_raw(path)
    plan, _ = load_plan(raw)
    out = {}
    for key, value in build_sheets(plan).cached.items():
        out[key] = float(value) if isinstance(value, Decimal) else ("" if value is None else value)
    return out


def same(a: Any, b: Any) -> bool:
    a, b = ("" if a is None else a), ("" if b is None else b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dt.datetime) and isinstance(b, (dt.date, dt.datetime)):
        return a.date() == (b if not isinstance(b, dt.datetime) else b.date())
    return a == b


class Report:
    def __init__(self) -> None:
        self.lines: list[tuple[bool, str]] = []

    def step(self, title: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
            self.lines.append((True, f"OK  {title}: {detail}"))
        except AssertionError as exc:
            self.lines.append((False, f"NG  {title}: {exc}"))
        except Exception as exc:  # noqa: BLE001
            self.lines.append((False, f"NG  {title}: {exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
        print(self.lines[-1][1], flush=True)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.lines)


def run(workbook: Path) -> int:
    import xlwings as xw

    from kofu_xl.app.stats import render_stats_csv, shipped_stats
    from kofu_xl.book.layout import CHART, FOLLOWUP, PROPOSAL, RESULTS, S11, S12

    work = Path(tempfile.mkdtemp(prefix="kofu-acceptance-"))
    book_path = work / workbook.name
    shutil.copyfile(workbook, book_path)
    submit_dir, stats_dir, log_dir = work / "提出", work / "公表統計", work / "log"
    stats_dir.mkdir()
    for table in shipped_stats():
        (stats_dir / table.name).write_bytes(("\ufeff" + render_stats_csv(table)).encode("utf-8"))
    os.environ.update({"KOFU_NO_MESSAGE_BOX": "1", "KOFU_SUBMIT_DIR": str(submit_dir), "KOFU_STATS_DIR": str(stats_dir), "KOFU_LOG_DIR": str(log_dir)})
    temp = os.environ.get("TEMP", tempfile.gettempdir())
    repair_logs = set(glob.glob(os.path.join(temp, "error*.xml")))
    expected = core_values(book_path)
    report = Report()
    print(f"kofu-xl 受け入れ確認（実際の Excel）: {workbook}\n作業フォルダー: {work}\n", flush=True)
    app = xw.App(visible=False, add_book=False)
    try:
        app.display_alerts = False
        app.api.AutomationSecurity = 1  # msoAutomationSecurityLow: macros on for this run only
        book = app.books.open(str(book_path))

        def opened() -> str:
            name = book.name
            assert "修復" not in name and "Repaired" not in name, f"Excel がブックを修復しました（{name}）"
            new = set(glob.glob(os.path.join(temp, "error*.xml"))) - repair_logs
            assert not new, f"修復の記録が作られました: {', '.join(sorted(new))}"
            return f"{name} を修復なしで開きました（Excel {app.version}）"

        report.step("1. ブックを開く", opened)

        def recalculated() -> dict[tuple[str, str], Any]:
            app.api.CalculateFull()
            values = {}
            for sheet in book.sheets:
                rng = sheet.used_range
                grid = rng.options(ndim=2, err_to_str=True).value or []
                for r, row in enumerate(grid):
                    for c, v in enumerate(row):
                        values[(sheet.name, f"{xw.utils.col_name(rng.column + c)}{rng.row + r}")] = v
            return values

        state: dict[str, Any] = {}

        def no_errors() -> str:
            state["values"] = values = recalculated()
            # (実績比較's hidden chart rows hold #N/A on purpose: a line chart's gap)
            bad = [f"{s}!{c}={v}" for (s, c), v in values.items() if isinstance(v, str) and v in ERRORS
                   and not (s == FOLLOWUP and v == "#N/A")]
            assert not bad, f"エラー値のセル {len(bad)} 個: {', '.join(bad[:10])}"
            return f"{len(values)} セルにエラー値はありません"

        report.step("2. Excel の再計算（エラー値なし）", no_errors)

        def equals_core() -> str:
            values = state["values"]
            wrong = [f"{s}!{c}: Excel={values.get((s, c))!r} 本体={v!r}" for (s, c), v in expected.items() if not same(values.get((s, c)), v)]
            assert not wrong, f"{len(wrong)} 個の計算式セルが本体と一致しません: " + "; ".join(wrong[:10])
            return f"計算式セル {len(expected)} 個すべてが kofu-xl 本体の値と一致しました"

        report.step("3. 計算式セルと本体の一致", equals_core)

        def errors_propagate() -> str:
            work_sheet, total = book.sheets["経費積算"], book.sheets[S12]
            before = work_sheet["C5"].value
            work_sheet["C5"].value = "未定"
            app.api.Calculate()
            shown = total["D8"].options(err_to_str=True).value
            work_sheet["C5"].value = before
            app.api.Calculate()
            back = total["D8"].value
            assert shown == "#VALUE!", f"本表1-2!D8 が {shown!r} です（#VALUE! のはず）"
            assert same(back, expected[(S12, "D8")]), f"元に戻した後の本表1-2!D8 が {back!r}"
            return "経費積算!C5 に「未定」で本表1-2!D8 は #VALUE!、戻すと元の値"

        report.step("4. 使えない入力はエラー値になる", errors_propagate)

        from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS

        def press(callback: str) -> None:
            import pythoncom
            from win32com.client import VARIANT

            app.api.Run(f"'{book.name}'!{callback}", VARIANT(pythoncom.VT_DISPATCH, None))

        checks = {
            "KofuRibbonValidate": lambda: _rows(book.sheets[RESULTS]) > 0 or "検証結果に行がありません",
            "KofuRibbonSubmit": lambda: True,
            "KofuRibbonImportActuals": lambda: _has_number(book.sheets[FOLLOWUP], 13039) or "実績比較に 13,039（R2年7月末）がありません",
            "KofuRibbonDoctor": lambda: True,
            "KofuRibbonPropose": lambda: _has_number(book.sheets[PROPOSAL], 14975) or "計画案シートに R2年7月末の 14,975 枚がありません",
            # 「計画案を採用」 asks OK/Cancel before it writes: the person running the script
            # answers キャンセル; the script checks only that the Sub ran (the adoption itself is
            # tested on xlwings' remote engine)
            "KofuRibbonAdoptProposal": lambda: True,
        }
        for button in RIBBON_BUTTONS:
            def pressed(button=button) -> str:
                press(button.callback)
                verdict = checks.get(button.callback, lambda: True)()
                assert verdict is True, verdict
                logged = "\n".join(p.read_text(encoding="utf-8") for p in log_dir.glob("kofu-xl.log*"))
                assert " failed" not in logged, f"ログに失敗が記録されました: {logged[-500:]}"
                status = app.api.StatusBar
                return f"Sub {button.callback} を実行しました（ステータスバー: {status}）"

            report.step(f"5. リボン「{button.label}」", pressed)

        def exported() -> str:
            target = work / "本表.pdf"
            book.to_pdf(str(target), include=[S11, S12, CHART])
            assert target.is_file() and target.stat().st_size > 10_000, "PDF ができませんでした"
            return f"{target}（{target.stat().st_size:,} バイト）"

        report.step("6. Excel による PDF（本表1-1・本表1-2・推移グラフ）", exported)
        book.close()
    finally:
        app.quit()
    print()
    print("結果: すべて OK です。このブックと PC で kofu-xl を使えます。" if report.ok else "結果: NG があります。上の内容を kofu-xl の担当へ連絡してください。")
    return 0 if report.ok else 1


def _rows(sheet: Any) -> int:
    values = sheet.range("A4:H200").value
    return sum(1 for row in values if any(v not in (None, "") for v in row))


def _has_number(sheet: Any, number: int) -> bool:
    values = sheet.used_range.value or []
    return any(v == number for row in values for v in (row if isinstance(row, list) else [row]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    reason = excel_available()
    if reason:
        print(f"kofu-xl 受け入れ確認: {reason}。Excel のある Windows PC で実行してください。")
        return 2
    workbook = Path(argv[0]) if argv else default_workbook()
    return run(workbook)


if __name__ == "__main__":
    raise SystemExit(main())
