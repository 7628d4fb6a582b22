"""The live-Excel surface and the ribbon's entry points, through xlwings' real objects.

Off Windows, xlwings runs its objects on the PRO "remote" engine (what xlwings Server
uses): ``xw.Book(json=payload)`` takes what the VBA client (xlwings' Remote.bas) sends,
and ``book.json()["actions"]`` is what the client would then do in Excel. The payload
here is built the way that client builds it, from a workbook made by ``build_sheets``:
each worksheet's values from A1 to the end of its used range (formula cells as their
values), empty cells as null, numbers as VBA writes them (15 significant digits),
dates as "yyyy-mm-ddTHH:mm:ss.000Z", plus the book's range names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

xw = pytest.importorskip("xlwings")

from kofu_xl import excel  # noqa: E402
from kofu_xl.app.submit import HIGHLIGHT, plan_hash  # noqa: E402
from kofu_xl.book import layout  # noqa: E402
from kofu_xl.book.build import LOG_HEADERS, RESULT_HEADERS, build_sheets  # noqa: E402
from kofu_xl.book.layout import DAILY, LOG, RESULTS, ROWS_11, ROWS_12, ROWS_WORK, S11, S12, WORK, Layout  # noqa: E402
from kofu_xl.book.sources import shipped_plan_raw  # noqa: E402
from kofu_xl.core.findings import Severity, sort_findings  # noqa: E402
from kofu_xl.core.model import load_plan  # noqa: E402
from kofu_xl.core.rules import check_plan  # noqa: E402
from kofu_xl.ooxml.cellref import parse_ref, ref  # noqa: E402

BOOK_NAME = "交付円滑化計画.xlsm"
FIXED_NOW = dt.datetime(2019, 10, 3, 9, 30, 0)


# ---------------------------------------------------------------- the remote engine


@pytest.fixture(autouse=True)
def remote_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unlock the remote engine (PolyForm Noncommercial) and forget the mock caller afterwards."""
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    monkeypatch.delenv(excel.SUBMIT_DIR_ENV, raising=False)
    engines = xw.engines
    if "remote" not in engines.engines_by_name:
        # xlwings was imported (by another test module) before the key was set
        from xlwings.pro import _xlremote

        monkeypatch.setattr(engines, "engines", [*engines.engines, xw.Engine(impl=_xlremote.engine)])
        monkeypatch.setattr(engines, "engines_by_name", {**engines.engines_by_name, "remote": engines.engines[-1]})
    yield
    if "_mock_caller" in vars(xw.Book):
        delattr(xw.Book, "_mock_caller")


# ---------------------------------------------------------------- payloads like the VBA client's


class Built:
    """A workbook built from a plan, what the VBA client would send of it, and its fills."""

    def __init__(self, raw: dict[str, Any]) -> None:
        import openpyxl
        import python_calamine

        self.raw = raw
        plan, _ = load_plan(raw)
        built = build_sheets(plan)
        assert built.layout is not None
        self.layout: Layout = built.layout
        cal = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(built.xlsx))
        grids: dict[str, list[list[Any]]] = {}
        for name in cal.sheet_names:
            rows = cal.get_sheet_by_name(name).to_python(skip_empty_area=False)
            grids[name] = [[None if v == "" else v for v in row] for row in rows]
        for (sheet, cell), value in built.cached.items():
            row, col = parse_ref(cell)
            grid = grids[sheet]
            while len(grid) < row:
                grid.append([])
            while len(grid[row - 1]) < col:
                grid[row - 1].append(None)
            grid[row - 1][col - 1] = value  # a formula cell showing "" sends ""
        self.grids = grids
        self.sheet_order = list(cal.sheet_names)
        self.xl = openpyxl.load_workbook(io.BytesIO(built.xlsx))
        self.names = _names(self.xl)

    def payload(self, edits: dict[str, dict[str, Any]] | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
        """The JSON the VBA client sends; ``edits`` = {sheet: {cell: value}} applied first."""
        sheets = []
        kept = [name for name in self.sheet_order if name not in drop]
        for name in kept:
            grid = [list(r) for r in self.grids[name]]
            for cell, value in (edits or {}).get(name, {}).items():
                row, col = parse_ref(cell)
                while len(grid) < row:
                    grid.append([])
                while len(grid[row - 1]) < col:
                    grid[row - 1].append(None)
                grid[row - 1][col - 1] = value
            width = max((len(r) for r in grid), default=0)
            values = [[_wire(v) for v in r + [None] * (width - len(r))] for r in grid] if width else [[]]
            sheets.append({"name": name, "pictures": [], "tables": [], "values": values})
        payload = {
            "client": "VBA",
            "version": xw.__version__,
            "book": {"name": BOOK_NAME, "active_sheet_index": 0, "selection": "E7"},
            "names": [{**n, "sheet_index": kept.index(sheet)} for sheet, n in self.names if sheet in kept],
            "sheets": sheets,
        }
        return json.loads(json.dumps(payload, ensure_ascii=False))  # over the wire

    def fill(self, sheet: str, cell: str) -> str:
        """The cell's fill in the built workbook, in the memo's notation."""
        f = self.xl[sheet][cell].fill
        if f is None or f.fill_type != "solid":
            return layout.NO_FILL
        return "#" + str(f.fgColor.rgb)[-6:].upper()


def _wire(value: Any) -> Any:
    """A cell value as xlwings' VBA JSON converter writes it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(f"{float(value):.15g}")  # VBA's CStr(Double): 15 significant digits
        return int(number) if number.is_integer() else number
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.000Z")
    if isinstance(value, dt.time):
        return value.strftime("1899-12-30T%H:%M:%S.000Z")
    raise TypeError(type(value))


def _names(xl: Any) -> list[tuple[str, dict[str, Any]]]:
    """The book's range names as the VBA client lists them (with the sheet they are on)."""
    out = []
    for name, dn in xl.defined_names.items():
        for sheet, address in dn.destinations:
            out.append(
                (sheet, {
                    "name": name,
                    "address": address.replace("$", ""),
                    "book_scope": True,
                    "scope_sheet_name": None,
                    "scope_sheet_index": None,
                })
            )
    return out


@pytest.fixture(scope="session")
def shipped() -> Built:
    return Built(shipped_plan_raw())


@pytest.fixture(scope="session")
def corrected() -> Built:
    from tests.core.test_rules import corrected_seed

    return Built(corrected_seed())


def run(payload: dict[str, Any], entry: Any, *args: Any, **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Call an entry point as RunPython would, on a book made from ``payload``."""
    book = xw.Book(json=payload)
    book.set_mock_caller()
    outcome = entry(*args, **kwargs)
    return outcome, book.json()["actions"]


# ---------------------------------------------------------------- reading actions


def sheet_of(payload: dict[str, Any], action: dict[str, Any]) -> str | None:
    pos = action["sheet_position"]
    return None if pos is None else payload["sheets"][pos]["name"]


def area(action: dict[str, Any]) -> tuple[int, int, int, int]:
    """(first row, first column, last row, last column), 1-based."""
    r, c = action["start_row"] + 1, action["start_column"] + 1
    return r, c, r + action["row_count"] - 1, c + action["column_count"] - 1


def on(payload: dict[str, Any], actions: list[dict[str, Any]], sheet: str, func: str) -> list[dict[str, Any]]:
    return [a for a in actions if a["func"] == func and sheet_of(payload, a) == sheet]


def colours(payload: dict[str, Any], actions: list[dict[str, Any]]) -> dict[tuple[str, str], list[Any]]:
    """(sheet, cell) -> the colours set on it, in order."""
    out: dict[tuple[str, str], list[Any]] = {}
    for a in actions:
        if a["func"] == "setRangeColor":
            r, c, r2, c2 = area(a)
            assert (r, c) == (r2, c2), "a colour is set on one cell at a time"
            out.setdefault((sheet_of(payload, a), ref(c, r)), []).append(a["args"][0])
    return out


def expected_findings(b: Built) -> list[Any]:
    _, findings = check_plan(b.raw)
    return sort_findings(b.layout.locate_findings(findings))


def expected_colours(findings: list[Any]) -> dict[tuple[str, str], str]:
    best: dict[tuple[str, str], Severity] = {}
    for f in findings:
        if f.sheet and f.cell:
            key = (f.sheet, f.cell)
            if key not in best or f.severity.rank < best[key].rank:
                best[key] = f.severity
    return {key: "#" + HIGHLIGHT[sev] for key, sev in best.items()}


def input_cells(lay: Layout) -> set[tuple[str, str]]:
    """Every cell the clerk types into, from the layout map (merged input areas whole)."""
    cells: set[tuple[str, str]] = set()
    for spec in ROWS_11:
        if spec.role == "input":
            cells |= {(S11, ref(lay.col11(k), lay.rows11[spec.key])) for k in lay.columns}
    for specs, rows, col, sheet in ((ROWS_12, lay.rows12, lay.col12, S12), (ROWS_WORK, lay.rows_work, lay.col_work, WORK)):
        for spec in specs:
            if spec.role == "input":
                cells |= {(sheet, ref(col(k), rows[spec.key])) for k in lay.cost_years}
    for s in lay.scalars.values():
        r1, c1 = parse_ref(s.cell)
        r2, c2 = parse_ref(s.merge_to) if s.merge_to else (r1, c1)
        cells |= {(s.sheet, ref(c, r)) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    for block in lay.daily_blocks.values():
        cells |= {(DAILY, count) for _d, _date, count in block.cells()}
    return cells


def assert_plan_values_untouched(payload: dict[str, Any], actions: list[dict[str, Any]], lay: Layout) -> None:
    """On the plan's sheets only fills change; no action that writes values covers an input cell."""
    inputs = input_cells(lay)
    assert inputs, "the layout names input cells"
    for a in actions:
        sheet = sheet_of(payload, a)
        if sheet is None:
            assert a["func"] in ("alert",), a
            continue
        if sheet not in (RESULTS, LOG):
            assert a["func"] == "setRangeColor", a
            continue
        if a["row_count"] is not None:
            r1, c1, r2, c2 = area(a)
            hit = {(s, c) for s, c in inputs if s == sheet and r1 <= parse_ref(c)[0] <= r2 and c1 <= parse_ref(c)[1] <= c2}
            assert not hit, (a["func"], hit)


def alerts(actions: list[dict[str, Any]]) -> list[list[Any]]:
    return [a["args"] for a in actions if a["func"] == "alert"]


# ---------------------------------------------------------------- 検証


def test_validate_shows_exactly_the_core_findings(shipped: Built) -> None:
    payload = shipped.payload()
    outcome, actions = run(payload, excel.validate_book)
    findings = expected_findings(shipped)
    assert outcome is not None and outcome.status == "validated"
    n_err = sum(f.severity is Severity.ERROR for f in findings)
    assert n_err >= 1 and outcome.result.counts["error"] == n_err

    # 検証結果: one write of all rows from A4
    writes = on(payload, actions, RESULTS, "setValues")
    table = [a for a in writes if (a["start_row"], a["start_column"]) == (3, 0)]
    assert len(table) == 1
    rows = table[0]["values"]
    assert len(rows) == len(findings)
    assert [r[0] for r in rows] == [f.severity.ja for f in findings]
    assert [r[1] for r in rows] == [f.rule for f in findings]
    assert [r[3] for r in rows] == [f"{f.sheet}!{f.cell}" if f.sheet else "" for f in findings]
    assert [r[7] for r in rows] == [f.message for f in findings]
    assert all(len(r) == len(RESULT_HEADERS) for r in rows)
    fmt = on(payload, actions, RESULTS, "setNumberFormat")
    assert any(area(a) == (4, 1, 3 + len(rows), len(RESULT_HEADERS)) and a["args"] == ["@"] for a in fmt)

    # a link in 場所 to each located cell
    links = {area(a)[0]: a["args"] for a in on(payload, actions, RESULTS, "addHyperlink")}
    want = {4 + i: (f"#'{f.sheet}'!{f.cell}", f"{f.sheet}!{f.cell}") for i, f in enumerate(findings) if f.sheet}
    assert {r: tuple(args[:2]) for r, args in links.items()} == want
    assert all(area(a)[1] == 4 for a in on(payload, actions, RESULTS, "addHyperlink"))

    # colours: exactly the located cells, the most severe finding's colour, nothing restored
    assert {k: v for k, v in colours(payload, actions).items()} == {k: [v] for k, v in expected_colours(findings).items()}
    assert not on(payload, actions, RESULTS, "rangeClearContents")  # a fresh book has nothing to clear

    # the memo: each coloured cell with the fill it had (the remote engine cannot read
    # fills, so the builder's fill is used: compare with the built workbook itself)
    memo = [a for a in writes if (a["start_row"], a["start_column"]) == (3, layout.HIGHLIGHT_MEMO_COL - 1)]
    assert len(memo) == 1
    assert sorted(map(tuple, memo[0]["values"])) == sorted((s, c, shipped.fill(s, c)) for s, c in expected_colours(findings))
    assert {shipped.fill(s, c) for s, c in expected_colours(findings)} - {layout.NO_FILL}, "input cells have a fill to restore"
    header = [a for a in writes if (a["start_row"], a["start_column"]) == (2, layout.HIGHLIGHT_MEMO_COL - 1)]
    assert header and header[0]["values"] == [list(layout.HIGHLIGHT_MEMO_HEADERS)]
    hidden = [a for a in actions if a["func"] == "setColumnHidden"]
    assert [(a["start_column"] + 1, a["column_count"], a["args"]) for a in hidden] == [(layout.HIGHLIGHT_MEMO_COL, 3, [True])]

    assert_plan_values_untouched(payload, actions, shipped.layout)
    assert not on(payload, actions, LOG, "setValues")
    (alert,) = alerts(actions)
    assert alert[0] == outcome.message and alert[0].startswith(f"検証しました: エラー {n_err} 件")
    assert alert[1:4] == ["交付円滑化計画", "ok", "info"]


def test_second_run_restores_previous_colours_and_clears_previous_rows(shipped: Built) -> None:
    findings = expected_findings(shipped)
    coloured = expected_colours(findings)
    again = next(iter(coloured))  # coloured by the previous run and by this one
    free = sorted(c for c in input_cells(shipped.layout) if c not in coloured and c[0] == S11)
    gone_a, gone_b = free[0], free[1]  # coloured by the previous run only
    edits: dict[str, Any] = {}
    for r in range(4, 44):  # 40 rows of an older result, with text in every column
        for c in range(1, 9):
            edits[ref(c, r)] = f"old {r}/{c}"
    memo = [
        (gone_a[0], gone_a[1], "#ABCDEF"),
        (again[0], again[1], "#123456"),
        (gone_b[0], gone_b[1], "none"),
        ("削除されたシート", "A1", "#000000"),  # a sheet no longer in the book: skipped
        (S11, "not-a-cell", "#111111"),  # unreadable: skipped
    ]
    for i, row in enumerate(memo):
        for j, v in enumerate(row):
            edits[ref(layout.HIGHLIGHT_MEMO_COL + j, 4 + i)] = v
    payload = shipped.payload({RESULTS: edits})
    _, actions = run(payload, excel.validate_book)

    got = colours(payload, actions)
    assert got[gone_a] == ["#ABCDEF"]
    assert got[gone_b] == [None]  # back to no fill
    assert got[again] == [coloured[again]]  # highlighted, never "restored" in between
    assert set(got) == set(coloured) | {gone_a, gone_b}

    clears = [area(a) for a in on(payload, actions, RESULTS, "rangeClearContents")]
    assert (4, 1, 43, 8) in clears
    assert (4, layout.HIGHLIGHT_MEMO_COL, 8, layout.HIGHLIGHT_MEMO_COL + 2) in clears
    order = [a["func"] for a in actions if sheet_of(payload, a) == RESULTS]
    assert order.index("rangeClearContents") < order.index("setValues")

    writes = on(payload, actions, RESULTS, "setValues")
    (new_memo,) = [a["values"] for a in writes if (a["start_row"], a["start_column"]) == (3, layout.HIGHLIGHT_MEMO_COL - 1)]
    by_cell = {(s, c): v for s, c, v in new_memo}
    assert by_cell[again] == "#123456"  # the original fill, not the highlight
    assert set(by_cell) == set(coloured)
    assert_plan_values_untouched(payload, actions, shipped.layout)


def test_cells_reads_a_used_range_that_does_not_start_at_a1() -> None:
    payload = {
        "client": "VBA",
        "version": xw.__version__,
        "book": {"name": "x.xlsm", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [
            # values are anchored at A1; the used range (as desktop Excel reports it) is C5:D6
            {"name": "S", "pictures": [], "tables": [], "used_range_address": "$C$5:$D$6",
             "values": [[None] * 4] * 4 + [[None, None, "x", ""], [None, None, 1.5, "2019-10-03T00:00:00.000Z"]]},
            {"name": "空", "pictures": [], "tables": [], "values": [[]]},
        ],
    }
    surface = excel.BookSurface(xw.Book(json=payload))
    src = surface.cells()
    assert src.sheet_names() == ["S", "空"]
    assert src.value("S", 5, 3) == "x"
    assert src.value("S", 5, 4) is None
    assert src.value("S", 6, 3) == 1.5
    assert src.value("S", 6, 4) == dt.datetime(2019, 10, 3)
    assert src.value("S", 1, 1) is None and src.value("S", 5, 2) is None
    assert src.value("空", 1, 1) is None
    assert surface.cells() is src  # one snapshot per run
    assert surface.book_dir is None  # the remote engine knows no folder


# ---------------------------------------------------------------- 検証して提出


def test_submit_refuses_a_plan_with_errors(shipped: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "提出"
    monkeypatch.setenv(excel.SUBMIT_DIR_ENV, str(out))
    payload = shipped.payload()
    outcome, actions = run(payload, excel.submit_book, now=FIXED_NOW)
    assert outcome is not None and outcome.status == "refused"
    assert not out.exists() or not any(out.iterdir())
    assert not on(payload, actions, LOG, "setValues")
    assert on(payload, actions, RESULTS, "setValues")  # the findings are still shown
    (alert,) = alerts(actions)
    assert "提出ファイルを作成しませんでした" in alert[0] and alert[3] == "critical"
    assert_plan_values_untouched(payload, actions, shipped.layout)


def test_submit_writes_the_package_and_logs_it(corrected: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(excel.SUBMIT_DIR_ENV, str(tmp_path))
    payload = corrected.payload()
    outcome, actions = run(payload, excel.submit_book, now=FIXED_NOW)
    assert outcome is not None and outcome.status == "written", outcome and outcome.message
    files = sorted(tmp_path.iterdir())
    assert [p.suffix for p in files] == [".html", ".json", ".xlsx"]
    assert all(p.name.startswith("122327_白井市_交付円滑化計画_20191003") for p in files)
    package = json.loads((tmp_path / files[1].name).read_text(encoding="utf-8"))
    assert package["plan"]["basic"]["email"] == "shimin@city.shiroi.chiba.lg.jp"

    (log_write,) = on(payload, actions, LOG, "setValues")
    assert area(log_write)[:2] == (4, 1)
    (row,) = log_write["values"]
    assert len(row) == len(LOG_HEADERS)
    assert row[0] == "2019-10-03 09:30:00"
    names = row[1].split(" / ")
    assert sorted(names) == [p.name for p in files]
    shas = dict(zip(names, row[2].split(" / "), strict=True))
    assert shas == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert row[3] == 0 and row[6] == plan_hash(outcome.result)

    (alert,) = alerts(actions)
    assert alert[0].startswith("提出ファイルを作成しました") and alert[3] == "info"
    assert all(p.name in alert[0] for p in files)
    assert_plan_values_untouched(payload, actions, corrected.layout)


def test_submit_appends_below_earlier_entries_and_skips_an_unchanged_plan(corrected: Built, tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "1", tmp_path / "2"
    earlier = {"A4": "2019-09-01 10:00:00", "B4": "old.xlsx", "C4": "0" * 64, "D4": 0, "E4": 0, "F4": 0, "G4": "f" * 64}
    payload = corrected.payload({LOG: earlier})
    outcome, actions = run(payload, excel.submit_book, first_dir, now=FIXED_NOW)
    assert outcome is not None and outcome.status == "written"
    (log_write,) = on(payload, actions, LOG, "setValues")
    assert area(log_write)[:2] == (5, 1)  # below the earlier entry, from the snapshot alone
    digest = log_write["values"][0][6]

    # the same plan again, with that entry in 提出記録: nothing is written
    payload = corrected.payload({LOG: {**earlier, "A5": "2019-10-03 09:30:00", "B5": "x", "G5": digest}})
    outcome, actions = run(payload, excel.submit_book, second_dir, now=FIXED_NOW)
    assert outcome is not None and outcome.status == "unchanged"
    assert not second_dir.exists()
    assert not on(payload, actions, LOG, "setValues")
    assert "変更がありません" in alerts(actions)[0][0]


def test_a_book_without_a_local_folder_submits_to_documents(corrected: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A book on OneDrive (a URL) or never saved has no folder: 提出 goes under the clerk's Documents."""
    (tmp_path / "Documents").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    outcome, _ = run(corrected.payload(), excel.submit_book, now=FIXED_NOW)
    assert outcome is not None and outcome.status == "written"
    folder = tmp_path / "Documents" / "交付円滑化計画" / "提出"
    assert sorted(p.suffix for p in folder.iterdir()) == [".html", ".json", ".xlsx"]
    assert str(folder) in outcome.message


# ---------------------------------------------------------------- failures


def test_unreadable_book_gives_a_japanese_message_not_a_traceback(shipped: Built) -> None:
    payload = shipped.payload(drop=(S12,))
    outcome, actions = run(payload, excel.validate_book)
    assert outcome is None
    (alert,) = alerts(actions)
    assert "「検証」を完了できませんでした" in alert[0]
    assert "本表1-2" in alert[0] and "kofu-xl doctor" in alert[0]
    assert "Traceback" not in alert[0] and alert[3] == "critical"
    assert [a for a in actions if a["func"] != "alert"] == []


def test_internal_error_gives_a_short_reason(shipped: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(surface: Any) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(excel, "validate", broken)
    outcome, actions = run(shipped.payload(), excel.validate_book)
    assert outcome is None
    (alert,) = alerts(actions)
    assert "内部エラー（RuntimeError: boom）" in alert[0] and "second line" not in alert[0]
    assert "kofu-xl doctor" in alert[0]


def test_a_deleted_results_sheet_is_added_again(shipped: Built) -> None:
    payload = shipped.payload(drop=(RESULTS,))
    outcome, actions = run(payload, excel.validate_book)
    assert outcome is not None and outcome.status == "validated"
    added = [a for a in actions if a["func"] == "addSheet"]
    assert [a["args"][1] for a in added] == [RESULTS]
    position = added[0]["args"][0]
    writes = [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == position]
    assert [r for a in writes if area(a)[:2] == (3, 1) for r in a["values"]] == [list(RESULT_HEADERS)]
    assert any(area(a)[:2] == (4, 1) for a in writes)


# ---------------------------------------------------------------- pieces


def test_status_bar_is_optional_and_the_last_message_is_kept(shipped: Built) -> None:
    surface = excel.BookSurface(xw.Book(json=shipped.payload()))
    surface.status("検証しています")
    surface.status("終わりました")
    assert surface.last_status == "終わりました"
    surface.release_status()
    surface.save()
    surface.discard()


def test_memo_reading() -> None:
    rows = [
        ["本表1-1", "e25", "#ffc7ce"],
        ["本表1-1", "E26", "none"],
        ["本表1-1", "E27", "FFEB9C"],
        ["本表1-1", "bad", "#000000"],
        ["本表1-1", "E28", "red"],
        [None, "A2", "#000000"],
        ["本表1-2", "D7", "#000000"],  # after the end of the memo
    ]
    assert excel.parse_memo(rows) == {("本表1-1", "E25"): "#FFC7CE", ("本表1-1", "E26"): None, ("本表1-1", "E27"): "#FFEB9C"}


def test_layout_constants_agree_with_the_built_sheets() -> None:
    from kofu_xl.book import layout

    assert layout.RESULT_COLS == len(RESULT_HEADERS)
    assert layout.LOG_COLS == len(LOG_HEADERS)
    assert layout.HIGHLIGHT_MEMO_COL > layout.RESULT_COLS + 1  # a gap column between results and memo
    assert layout.HIGHLIGHT_MEMO_FIRST_ROW == 4 and layout.HIGHLIGHT_MEMO_HEADER_ROW == 3


class _Named:
    def __init__(self, fullname: Any) -> None:
        self._fullname = fullname

    @property
    def fullname(self) -> str:
        if isinstance(self._fullname, Exception):
            raise self._fullname
        return self._fullname


@pytest.mark.parametrize(
    ("fullname", "folder"),
    [
        (str(Path("/srv/plans/交付円滑化計画.xlsm").absolute()), Path("/srv/plans").absolute()),
        ("https://d.docs.live.net/0123/Documents/交付円滑化計画.xlsm", None),
        ("交付円滑化計画.xlsm", None),  # never saved, or the remote engine
        (Exception("cannot map the OneDrive URL"), None),
    ],
)
def test_book_dir(fullname: Any, folder: Path | None) -> None:
    from kofu_xl.book.live import book_dir

    assert book_dir(_Named(fullname)) == folder


def test_entry_points_named_by_the_ribbon_exist() -> None:
    from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS

    wanted = {b.python_function for b in RIBBON_BUTTONS if b.python_module == "kofu_xl.excel"}
    assert {"validate_book", "submit_book"} <= wanted
    assert callable(excel.validate_book) and callable(excel.submit_book)


def test_importing_the_module_loads_neither_xlwings_nor_openpyxl() -> None:
    code = "import sys, kofu_xl.excel; print(sorted(m for m in ('xlwings', 'openpyxl') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], check=True)
    assert done.stdout.strip() == "[]"


def test_builder_fills_match_the_built_workbook(shipped: Built) -> None:
    """Where fills cannot be read, the memo takes the builder's fill: it must be the real one."""
    fills = excel.builder_fills(shipped.layout)
    assert len(set(fills.values())) == 2  # input and computed cells
    assert {key: shipped.fill(*key) for key in fills} == fills
    assert (S11, "A1") not in fills  # a title, not a data cell


# ---------------------------------------------------------------- 日次実績: one catalogue for every entrance


def test_both_buttons_report_a_daily_count_outside_its_month(corrected: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """日次実績!B7 stands for 2018-12-31 in the 2019-01 calendar: 「検証」 reports it with its cell,
    「検証して提出」 refuses the plan (the corrected seed has no other error)."""
    out = tmp_path / "提出"
    monkeypatch.setenv(excel.SUBMIT_DIR_ENV, str(out))
    payload = corrected.payload({DAILY: {"B7": 7}})
    outcome, _actions = run(payload, excel.validate_book)
    found = [(f.rule, f.sheet, f.cell) for f in outcome.result.findings if f.rule == "daily-outside-month"]
    assert found == [("daily-outside-month", DAILY, "B7")]
    outcome, actions = run(payload, excel.submit_book, now=FIXED_NOW)
    assert outcome.status == "refused"
    assert not out.exists() or not any(out.iterdir())
    clean, _ = run(corrected.payload(), excel.validate_book)
    assert not [f for f in clean.result.findings if f.rule.startswith("daily-outside")]
