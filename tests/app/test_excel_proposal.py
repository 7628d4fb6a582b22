"""「計画案」 and 「計画案を採用」 on xlwings' remote engine (the payload the VBA client sends).

The actions the buttons return are applied to the payload and the result is read back with
the same reader as every command: the adopted book holds the core's proposal, the backup
table holds every overwritten value, and typing the backup back gives the original plan.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

xw = pytest.importorskip("xlwings")

from kofu_xl import excel  # noqa: E402
from kofu_xl.book.layout import PP_BACKUP_HEADERS, PROPOSAL, ROWS_PP, S11, S12, WORK  # noqa: E402
from kofu_xl.book.proposal_sheet import adoption_changes, proposal_blocks  # noqa: E402
from kofu_xl.book.read import GridSource, read_plan_raw  # noqa: E402
from kofu_xl.book.sources import shipped_plan_raw  # noqa: E402
from kofu_xl.core.model import load_plan  # noqa: E402
from kofu_xl.core.propose import Choices, apply_proposal, propose  # noqa: E402
from kofu_xl.core.schedule import default_schedule  # noqa: E402
from kofu_xl.ooxml.cellref import parse_ref, ref  # noqa: E402
from tests.app.test_excel import Built, alerts, area, remote_engine, run, sheet_of  # noqa: E402,F401

NOW = dt.datetime(2019, 10, 3, 10, 0)


@pytest.fixture(scope="module")
def shipped() -> Built:
    return Built(shipped_plan_raw())


def writes(payload: dict[str, Any], actions: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """(sheet, cell) -> the value the actions leave there (setValues, in order)."""
    out: dict[tuple[str, str], Any] = {}
    for a in actions:
        if a["func"] != "setValues":
            continue
        r1, c1, _r2, _c2 = area(a)
        for i, row in enumerate(a["values"]):
            for j, v in enumerate(row):
                out[(sheet_of(payload, a), ref(c1 + j, r1 + i))] = v
    return out


def applied(payload: dict[str, Any], actions: list[dict[str, Any]]) -> dict[str, Any]:
    """The payload with the written values in place (what the book holds afterwards)."""
    done = {**payload, "sheets": [dict(s, values=[list(r) for r in s["values"]]) for s in payload["sheets"]]}
    by_name = {s["name"]: s for s in done["sheets"]}
    for (sheet, cell), v in writes(payload, actions).items():
        row, col = parse_ref(cell)
        grid = by_name[sheet]["values"]
        while len(grid) < row:
            grid.append([None] * len(grid[0]))
        for line in grid:
            while len(line) < col:
                line.append(None)
        grid[row - 1][col - 1] = None if v == "" else v
    return done


def plan_of(payload: dict[str, Any]) -> Any:
    grids = {s["name"]: [[None if v == "" else v for v in r] for r in s["values"]] for s in payload["sheets"]}
    raw, _ = read_plan_raw(GridSource(grids), "book.xlsm")
    return load_plan(raw)[0]


def test_propose_writes_the_core_proposal_on_its_sheet_only(shipped: Built) -> None:
    payload = shipped.payload()
    outcome, actions = run(payload, excel.propose_book)
    assert outcome is not None and outcome.status == "proposed"
    plan = load_plan(shipped.raw)[0]
    p = propose(plan, default_schedule(), Choices())
    got = writes(payload, actions)
    assert {s for s, _c in got} == {PROPOSAL}, "nothing but 計画案 is written"
    assert not {c for _s, c in got} & set(shipped.layout.pp_settings.values()), "the choices are the clerk's"
    expected = {}
    for cell, rows in proposal_blocks(shipped.layout, plan, p, default_schedule()):
        r0, c0 = parse_ref(cell)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                expected[(PROPOSAL, ref(c0 + j, r0 + i))] = v
    assert {k: got[k] for k in expected} == pytest.approx(expected)
    issuance_row = shipped.layout.rows_pp["proposal.issuance"]
    assert [got[(PROPOSAL, ref(5 + i, issuance_row))] for i in range(22)] == [int(v) for v in p.issuance]
    (message,) = alerts(actions)
    assert "R2年7月末: 累計 14,975 枚 23.5%" in message[0] and "本表1-1 は変わっていません" in message[0]
    assert message[3] == "info"
    assert ROWS_PP[0].key == "proposal.changed"


def test_choices_typed_on_the_sheet_are_used(shipped: Built) -> None:
    lay = shipped.layout
    payload = shipped.payload({PROPOSAL: {lay.pp_settings["max_step"]: 300, lay.pp_settings["aim"]: "中間"}})
    outcome, actions = run(payload, excel.propose_book)
    expected = propose(load_plan(shipped.raw)[0], default_schedule(), Choices(aim="middle", max_step=300))
    assert outcome.proposal.issuance == expected.issuance
    assert outcome.proposal.checkpoints[0].target_pct == Decimal("27.45")


def test_a_bad_choice_is_named_with_its_cell(shipped: Built) -> None:
    lay = shipped.layout
    cell = lay.pp_settings["max_step"]
    payload = shipped.payload({PROPOSAL: {cell: "たくさん"}})
    outcome, actions = run(payload, excel.propose_book)
    assert outcome is None
    (message,) = alerts(actions)
    assert f"{PROPOSAL}!{cell}" in message[0] and "月の交付枚数を前の月から増やせる上限" in message[0]
    assert message[3] == "critical" and "Traceback" not in message[0]
    assert [a for a in actions if a["func"] != "alert"] == []


def test_adopt_asks_first_and_writes_nothing_when_not_confirmed(shipped: Built) -> None:
    payload = shipped.payload()
    asked: list[str] = []
    outcome, actions = run(payload, excel.adopt_proposal, lambda text: asked.append(text) or False)
    assert outcome.status == "cancelled" and "採用しますか" in asked[0]
    assert writes(payload, actions) == {}
    # the remote engine cannot ask: its answer is no
    outcome, actions = run(payload, excel.adopt_proposal)
    assert outcome.status == "cancelled" and writes(payload, actions) == {}
    assert "採用しますか" in alerts(actions)[0][0] and alerts(actions)[0][2] == "ok_cancel"


def test_adopt_copies_the_proposal_and_keeps_the_old_values(shipped: Built) -> None:
    lay = shipped.layout
    payload = shipped.payload()
    outcome, actions = run(payload, excel.adopt_proposal, lambda text: True, now=NOW)
    assert outcome.status == "adopted"
    plan = load_plan(shipped.raw)[0]
    adopted = apply_proposal(plan, propose(plan, default_schedule(), Choices()))
    changes = adoption_changes(lay, plan, adopted)
    got = writes(payload, actions)
    written_inputs = {(s, c) for s, c in got if s != PROPOSAL}
    assert written_inputs == {(c.sheet, c.cell) for c in changes}
    assert {s for s, _c in written_inputs} == {S11, S12, WORK}
    # read back with the one reader: the book now holds the adopted plan
    after = plan_of(applied(payload, actions))
    for path in ("issuance", "staff.total", "staff.honcho_temporary", "staff.honcho_regular"):
        assert after.series(path) == adopted.series(path), path
    assert after.costs["FY2020"].personnel_temporary == 12720 and after.working["FY2020"].temporary_yen == 6360000 * 2
    # the backup: one row per overwritten cell, with the value before
    header = lay.pp_backup_header_row
    assert [got[(PROPOSAL, ref(1 + i, header))] for i in range(len(PP_BACKUP_HEADERS))] == list(PP_BACKUP_HEADERS)
    backup = {}
    for k in range(len(changes)):
        sheet, cell, _field, _col, before, _after = (got[(PROPOSAL, ref(1 + i, header + 1 + k))] for i in range(6))
        backup[(sheet, cell)] = before
    assert set(backup) == written_inputs
    assert "2019-10-03 10:00" in got[(PROPOSAL, lay.pp_backup_note_cell)]
    # recoverable: typing the values before back gives the original inputs
    restored = applied(payload, actions)
    undo = [{"func": "setValues", "values": [[v]], "sheet_position": [s["name"] for s in payload["sheets"]].index(sh),
             "start_row": parse_ref(c)[0] - 1, "start_column": parse_ref(c)[1] - 1, "row_count": 1, "column_count": 1}
            for (sh, c), v in backup.items()]
    back = plan_of(applied(restored, undo))
    for path in ("issuance", "staff.total", "staff.honcho_temporary"):
        assert back.series(path) == plan.series(path), path
    assert back.costs == plan.costs and back.working["FY2020"].temporary_yen == plan.working["FY2020"].temporary_yen


def test_adopt_again_is_unchanged_and_clears_nothing(shipped: Built) -> None:
    payload = shipped.payload()
    _outcome, actions = run(payload, excel.adopt_proposal, lambda text: True, now=NOW)
    second, actions2 = run(applied(payload, actions), excel.adopt_proposal, lambda text: True, now=NOW)
    assert second.status == "unchanged"
    assert {s for s, _c in writes(payload, actions2)} == {PROPOSAL}
