"""`kofu-xl aggregate`: a mixed folder rolls up to the right totals, population-weighted.

Every expected figure here is computed from the plans' raw numbers by the test itself
(base count + the months' issuance, sums of populations and costs), not by kofu-xl.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import sys
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import msgspec
import openpyxl
import pytest

from kofu_xl.app import aggregate as agg
from kofu_xl.app.aggregate import Money, PlanRow, Point, Unused, collect_inputs, roll_up, subtotal, write_workbook
from kofu_xl.app.report import make_result
from kofu_xl.app.submit import package_json
from kofu_xl.book.build import build_sheets
from kofu_xl.book.vba import build_xlsm
from kofu_xl.cli import main
from kofu_xl.core.rules import check_plan
from kofu_xl.core.schedule import default_schedule

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.core.test_rules import corrected_seed  # noqa: E402

# The national band as printed in DESIGN.md (targets / 127,443,563, 0.1 point).
BANDS = {"2020-07": (Decimal("23.5"), Decimal("31.4")), "2021-03": (Decimal("47.1"), Decimal("54.9")), "2022-03": (Decimal("70.6"), Decimal("78.5"))}
CHECKPOINT_HEADERS = {"2020-07": "R2年7月末", "2021-03": "R3年3月末", "2022-03": "R4年3月末"}
EVIL_NAME = '=HYPERLINK("http://example.invalid/","銚子市")'


def _plan(code: str, prefecture: str, name: str, population: int, base: int, *, capacity: int | None = 100000) -> dict:
    raw = corrected_seed()
    raw["declared"] = {}  # the form's derived rows as printed belong to 白井市's figures
    raw["basic"].update(dantai_code=code, prefecture=prefecture, municipality=name, population=population, base_issued=base, base_rate_pct=None)
    if capacity:
        raw["parameters"]["capacity_cards_per_month"] = capacity  # no capacity warnings
    return raw


def _package_json(raw: dict) -> str:
    plan, findings = check_plan(raw)
    return json.dumps(package_json(make_result(plan, findings)), ensure_ascii=False)


def _xlsx(raw: dict) -> bytes:
    plan, _ = check_plan(raw)
    return build_sheets(plan, values_only=True).xlsx


def cumulative_at(raw: dict, checkpoint: str) -> int:
    """Base count + every later column's issuance up to the checkpoint (the first column's
    issuance is already in the base count)."""
    total = raw["basic"]["base_issued"]
    for key, value in raw["issuance"].items():
        if key == "2019-08":
            continue
        if key.startswith("FY"):
            if f"{int(key[2:]) + 1}-03" <= checkpoint:  # FY2021 ends with 2022-03
                total += value
        elif key <= checkpoint:
            total += value
    return total


def pct1(num: int | Decimal, den: int | Decimal) -> Decimal:
    return (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def verdict(shown: Decimal, month: str) -> str:
    lower, upper = BANDS[month]
    return "下限未満" if shown < lower else "上限超" if shown > upper else "範囲内"


# ---------------------------------------------------------------- the mixed folder


@pytest.fixture(scope="module")
def plans() -> dict[str, dict]:
    a = _plan("122327", "千葉県", "白井市", 63723, 9470)  # clean
    b = _plan("121002", "千葉県", "千葉市", 60000, 9000, capacity=None)  # warnings only (capacity)
    c = _plan("122025", "千葉県", EVIL_NAME, 200000, 10000)  # errors: below the band, cost total
    c["costs"]["FY2020"]["total"] = 9999
    d = _plan("131016", "東京都", "千代田区", 70000, 12100)  # clean, as an .xlsm with macros
    return {"a": a, "b": b, "c": c, "d": d}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, plans) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    inbox = root / "提出"
    (inbox / "東京都").mkdir(parents=True)
    good = _xlsx(plans["a"])
    (inbox / "122327_白井市.xlsx").write_bytes(good)
    (inbox / "122327_白井市.html").write_text("<html>summary</html>", encoding="utf-8")  # the package's page: ignored
    (inbox / "千葉市 提出 パッケージ.json").write_text(_package_json(plans["b"]), encoding="utf-8")
    (inbox / "銚子市.json").write_text(json.dumps(plans["c"], ensure_ascii=False), encoding="utf-8")  # a bare plan
    plan_d, _ = check_plan(plans["d"])
    (inbox / "東京都" / "131016_千代田区.xlsm").write_bytes(build_xlsm(plan_d))
    # what cannot be read
    (inbox / "壊れた.xlsx").write_bytes(good[: len(good) // 2])
    (inbox / "偽物.xlsx").write_bytes(b"this is no workbook\n")
    wb = openpyxl.Workbook()
    wb.active.title = "売上"
    wb.active.append(["月", "金額"])
    wb.save(inbox / "他の表.xlsx")
    (inbox / "メモ.txt").write_text("来月提出", encoding="utf-8")
    (inbox / "=cmd.json").write_text(json.dumps({"foo": 1}), encoding="utf-8")
    (inbox / "~$122327_白井市.xlsx").write_bytes(b"\x00lock")  # Excel's lock file: passed over
    return root


UNREADABLE = {
    "壊れた.xlsx": "Excel ブック（.xlsx/.xlsm）ではありません",
    "偽物.xlsx": "Excel ブック（.xlsx/.xlsm）ではありません",
    "他の表.xlsx": "シート「本表1-1」がありません",
    "メモ.txt": "対応していない形式です",
    "=cmd.json": "交付円滑化計画の JSON ではありません",
}


@pytest.fixture(scope="module")
def run(mixed) -> tuple[int, Path, dict]:
    out = mixed / "集計.xlsx"
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["aggregate", str(mixed / "提出"), "--out", str(out), "--json"])
    return code, out, json.loads(buf.getvalue())


def _table(path: Path) -> tuple[list[str], list[tuple]]:
    wb = openpyxl.load_workbook(path)
    rows = list(wb[agg.SHEET_TABLE].iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def _col(headers: list[str], prefix: str) -> int:
    hits = [i for i, h in enumerate(headers) if h and h.startswith(prefix)]
    assert len(hits) == 1, (prefix, headers)
    return hits[0]


def test_mixed_folder_exit_code_and_unreadable_sheet(run):
    code, out, data = run
    assert code == 1  # a table, but some inputs could not be read
    wb = openpyxl.load_workbook(out)
    listed = {Path(r[0]).name: (r[1], r[2]) for r in wb[agg.SHEET_UNUSED].iter_rows(min_row=2, values_only=True) if r[0]}
    assert set(listed) == set(UNREADABLE)  # not the package page, not the lock file
    for name, reason in UNREADABLE.items():
        assert listed[name][0] == "読めない" and reason in listed[name][1], (name, listed[name])
    assert {Path(u["source"]).name for u in data["unused"]} == set(UNREADABLE)


def test_mixed_folder_rows_and_totals(run, plans):
    _code, out, _data = run
    headers, rows = _table(out)
    kind, code_i, name_i, pop_i, base_i = (_col(headers, h) for h in ("区分", "団体コード", "市区町村", "人口", "交付枚数（基準日）"))
    body = [r for r in rows if r[kind] in ("団体", "都道府県計", "全国計")]
    assert [(r[kind], r[code_i]) for r in body] == [
        ("団体", "121002"), ("団体", "122025"), ("団体", "122327"), ("都道府県計", "12"),
        ("団体", "131016"), ("都道府県計", "13"), ("全国計", None),
    ]  # fmt: skip
    by = {r[code_i]: r for r in body if r[kind] == "団体"}
    chiba = next(r for r in body if r[kind] == "都道府県計" and r[code_i] == "12")
    tokyo = next(r for r in body if r[kind] == "都道府県計" and r[code_i] == "13")
    nation = next(r for r in body if r[kind] == "全国計")
    groups = {"12": ([plans[k] for k in "abc"], chiba), "13": ([plans["d"]], tokyo), "": (list(plans.values()), nation)}

    # per municipality: figures recomputed from the raw plan
    for raw in plans.values():
        row = by[raw["basic"]["dantai_code"]]
        assert row[pop_i] == raw["basic"]["population"] and row[base_i] == raw["basic"]["base_issued"]
        for month, label in CHECKPOINT_HEADERS.items():
            cum = cumulative_at(raw, month)
            shown = pct1(cum, raw["basic"]["population"])
            assert row[_col(headers, f"{label} 累計")] == cum
            assert Decimal(str(row[_col(headers, f"{label} 交付率")])) == shown
            assert row[_col(headers, f"{label} 判定")] == verdict(shown, month)
    assert by["122025"][name_i] == EVIL_NAME

    # subtotals: sums, and rates as Σ cumulative / Σ population
    for members, row in groups.values():
        pop = sum(p["basic"]["population"] for p in members)
        assert row[pop_i] == pop
        assert row[base_i] == sum(p["basic"]["base_issued"] for p in members)
        assert row[name_i] == f"計（{len(members)} 団体）"
        for month, label in CHECKPOINT_HEADERS.items():
            cum = sum(cumulative_at(p, month) for p in members)
            shown = pct1(cum, pop)
            assert row[_col(headers, f"{label} 累計")] == cum
            assert Decimal(str(row[_col(headers, f"{label} 交付率")])) == shown, (row[name_i], month)
            assert row[_col(headers, f"{label} 判定")] == verdict(shown, month)
        for fy, label in (("FY2019", "R元年度"), ("FY2020", "R2年度")):
            assert row[_col(headers, f"{label} 補助対象経費")] == sum(p["costs"][fy]["total"] for p in members)
    # the error and warning columns add up, and the plans' own counts are the expected ones
    for col in ("エラー", "警告", "情報"):
        i = _col(headers, col)
        assert chiba[i] == sum(by[c][i] for c in ("121002", "122025", "122327"))
        assert nation[i] == chiba[i] + tokyo[i]
    err, warn = _col(headers, "エラー"), _col(headers, "警告")
    assert (by["122327"][err], by["122327"][warn]) == (0, 0)
    assert (by["131016"][err], by["131016"][warn]) == (0, 0)
    assert by["121002"][err] == 0 and by["121002"][warn] > 0
    assert by["122025"][err] >= 4  # three checkpoints below the band, the cost total


def test_subtotal_rates_are_population_weighted_by_hand(run):
    _code, out, data = run
    headers, rows = _table(out)
    chiba = next(r for r in rows if r[0] == "都道府県計" and r[1] == "12")
    # 2020-07, by hand: 白井市 9,470 + 5,561 = 15,031 of 63,723; 千葉市 9,000 + 5,561 = 14,561 of 60,000;
    # 銚子市 10,000 + 5,561 = 15,561 of 200,000 -> 45,153 / 323,723 = 13.948 % -> 13.9 % (下限未満).
    i = _col(headers, "R2年7月末 交付率")
    assert chiba[_col(headers, "R2年7月末 累計")] == 45153
    assert Decimal(str(chiba[i])) == Decimal("13.9")
    # the plain mean of the three rates (23.6, 24.3, 7.8 -> 18.6) is not what the table shows
    assert Decimal("13.9") != ((Decimal("23.6") + Decimal("24.3") + Decimal("7.8")) / 3).quantize(Decimal("0.1"))
    assert chiba[_col(headers, "R2年7月末 判定")] == "下限未満"
    assert "[23.5〜31.4]" in headers[i]
    pref = next(p for p in data["prefectures"] if p["code"] == "12")
    assert pref["checkpoints"][0]["cumulative"] == 45153 and pref["checkpoints"][0]["population"] == 323723
    assert pref["checkpoints"][0]["rate"] == pytest.approx(45153 / 323723, abs=1e-15)
    # national at 2022-03 (base + 37,361 each): 46,831 + 46,361 + 47,361 + 49,461 = 190,014 of
    # 63,723 + 60,000 + 200,000 + 70,000 = 393,723 -> 48.26 % -> 48.3 % (下限未満 70.6)
    nat = data["national"]["checkpoints"][2]
    assert (nat["cumulative"], nat["population"], nat["rate_pct"], nat["status"]) == (190014, 393723, 48.3, "below")


def test_findings_sheet_lists_every_plans_findings(run, plans):
    _code, out, data = run
    wb = openpyxl.load_workbook(out)
    rows = list(wb[agg.SHEET_FINDINGS].iter_rows(min_row=2, values_only=True))
    by_code: dict[str, list[tuple]] = {}
    for r in rows:
        by_code.setdefault(r[0], []).append(r)
    counts = {p["code"]: p["counts"] for p in data["plans"]}
    for code, c in counts.items():
        assert len(by_code.get(code, [])) == c["error"] + c["warning"] + c["info"], code
    below = [r for r in by_code["122025"] if r[4] == "rate-below-lower-bound"]
    assert len(below) == 3 and all(r[3] == "エラー" and r[6].startswith("本表1-1!") for r in below)
    assert any(r[4] == "cost-total-mismatch" for r in by_code["122025"])
    assert {r[4] for r in by_code["121002"]} == {"capacity-shortfall", "daily-closed-day"}


def test_text_from_inputs_never_becomes_a_formula(run):
    _code, out, _data = run
    z = zipfile.ZipFile(out)
    for name in z.namelist():
        if name.startswith("xl/worksheets/"):
            assert "<f>" not in z.read(name).decode() and "<f " not in z.read(name).decode(), name
    wb = openpyxl.load_workbook(out)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert EVIL_NAME in {c.value for c in cells}
    assert {c.data_type for c in cells} == {"s"}
    assert all(c.quotePrefix for c in cells)
    unused = [c for c in wb[agg.SHEET_UNUSED]["A"] if isinstance(c.value, str) and Path(c.value).name == "=cmd.json"]
    assert len(unused) == 1 and unused[0].data_type == "s"


def test_writer_makes_text_of_formula_like_and_illegal_strings():
    rows = [_row("122327", "白井市\x07", 1000, 300), _row("121002", "@SUM(1)", 1000, 300)]
    rollup = roll_up(rows, default_schedule(), [Unused("=1+1.json", "-2+3")])
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(rollup)))
    values = {c.value: c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert "白井市\ufffd" in values
    for text in ("@SUM(1)", "=1+1.json", "-2+3"):
        assert values[text].data_type == "s" and values[text].quotePrefix, text


def test_macros_are_neither_run_nor_kept(run, mixed):
    _code, out, data = run
    assert "131016" in {p["code"] for p in data["plans"]}  # the .xlsm was read (values only)
    names = zipfile.ZipFile(out).namelist()
    assert not any("vba" in n.lower() for n in names)
    assert "macroEnabled" not in zipfile.ZipFile(out).read("[Content_Types].xml").decode()


# ---------------------------------------------------------------- the pure core by hand


def _row(code: str, name: str, population: int | None, *cumulative: int | None, errors: int = 0, costs=(("FY2019", 10, 10),), source=None) -> PlanRow:
    points = []
    given = list(cumulative)
    # a checkpoint not given repeats the last figure (a plan with a projection at each one);
    # None given explicitly is a missing projection
    filled = given + [given[-1] if given else None] * (3 - len(given))
    for cp, cum in zip(default_schedule().checkpoints, filled, strict=False):
        if cum is None or not population:
            points.append(Point(cum, None if population is None else Decimal(population), None, None, None, 0))
        else:
            rate = Decimal(cum) / Decimal(population)
            points.append(Point(Decimal(cum), Decimal(population), rate, pct1(cum, population), "ok", 1))
    return PlanRow(
        source=source or f"{code}.json", code=code, prefecture="千葉県", municipality=name,
        population=None if population is None else Decimal(population), base_issued=Decimal(100),
        points=tuple(points), errors=errors, warnings=1, infos=0,
        costs=tuple((k, Money(Decimal(d), Decimal(c))) for k, d, c in costs),
    )  # fmt: skip


def test_weighting_is_sum_of_cumulative_over_sum_of_population():
    s = default_schedule()
    # 30 % of 1,000 and 20 % of 9,000: weighted 2,100 / 10,000 = 21.0 % (below 23.5);
    # the plain mean would be 25.0 % (in the band)
    t = subtotal([_row("122327", "甲", 1000, 300), _row("121002", "乙", 9000, 1800)], "12", "千葉県", s)
    p = t.points[0]
    assert (p.cumulative, p.population, p.rate, p.shown, p.status, p.plans) == (2100, 10000, Decimal("0.21"), Decimal("21.0"), "below", 2)
    assert t.population == 10000 and t.base_issued == 200 and t.base_rate == Decimal("0.02")


@pytest.mark.parametrize(("cum", "status"), [(2345, "ok"), (2344, "below"), (3144, "ok"), (3145, "above")])
def test_subtotal_verdict_rounds_like_the_plans(cum, status):
    # 23.45 % shows as 23.5 (half up) and is in the band; 23.44 shows as 23.4 and is below;
    # 31.44 -> 31.4 is in; 31.45 -> 31.5 is above the upper bound 31.4
    t = subtotal([_row("122327", "甲", 4000, cum - 1000), _row("121002", "乙", 6000, 1000)], "12", "千葉県", default_schedule())
    assert t.points[0].status == status


def test_plans_without_a_projection_stay_out_of_that_checkpoints_sums():
    """subtotal() pairs each checkpoint's cumulative with its own population; roll_up() sums a
    total row over one set of plans: a plan without a projection somewhere is left out of the
    totals altogether, with the reason."""
    rows = [_row("122327", "甲", 1000, 300, 500, 700), _row("121002", "乙", 3000, 900, None, 1500), _row("122025", "丙", None, 50, 60, 70)]
    t = subtotal(rows, "12", "千葉県", default_schedule())
    assert (t.points[0].cumulative, t.points[0].population, t.points[0].plans) == (1200, 4000, 2)
    assert (t.points[1].cumulative, t.points[1].population, t.points[1].plans) == (500, 1000, 1)
    rollup = roll_up(rows)
    total = rollup.groups[0][0]
    assert total.plans == 1 and total.population == 1000 and [p.cumulative for p in total.points] == [300, 500, 700]
    assert all(p.plans == 1 for p in total.points) and total.base_issued == 100
    assert rollup.national == msgspec.structs.replace(total, key="", label="全国")
    reasons = {u.source: u.reason for u in rollup.unused if u.kind == "excluded"}
    assert set(reasons) == {"121002.json", "122025.json"} and "R3年3月末" in reasons["121002.json"] and "人口" in reasons["122025.json"]
    assert all(u.counts_as_failure for u in rollup.unused)
    headers = [h for h, _f, _w in agg._headers(default_schedule(), rollup.cost_keys)]
    shown = {r.source: agg._plan_values(r, rollup.cost_keys, rollup.excluded.get(r.source))[headers.index("備考")] for r in rollup.rows}
    assert "都道府県計・全国計に含めていません" in shown["121002.json"] and "都道府県計・全国計" not in shown["122327.json"]


def test_implausible_plans_stay_out_of_the_totals():
    """A projection above the population (a rate of 99,999,999,999,900 %) or a base count above
    it: the plan's own row shows it, the totals leave it out and say why."""
    bogus = _row("122025", "丙", 1000, 300, 999_999_999_999_000)
    rollup = roll_up([_row("122327", "甲", 1000, 300, 500, 700), bogus])
    assert rollup.national.plans == 1 and rollup.national.points[1].cumulative == 500
    assert max(p.shown for p in rollup.national.points) < 100
    (u,) = [u for u in rollup.unused if u.kind == "excluded"]
    assert u.source == "122025.json" and "人口 1,000 人を超えています" in u.reason


def test_duplicates_count_once_and_contradictions_count_never():
    same = [_row("122327", "白井市", 1000, 300, source="a.xlsx"), _row("122327", "白井市", 1000, 300, source="b.json")]
    r = roll_up([*same, _row("121002", "千葉市", 2000, 500)])
    assert r.national.plans == 2 and r.national.population == 3000
    assert [(u.source, u.kind) for u in r.unused] == [("b.json", "duplicate")]
    assert not any(u.counts_as_failure for u in r.unused)

    differ = [_row("122327", "白井市", 1000, 300, source="old.json"), _row("122327", "白井市", 1000, 350, source="new.json")]
    r = roll_up([*differ, _row("121002", "千葉市", 2000, 500)])
    assert r.national.plans == 1 and r.national.population == 2000
    assert sorted((u.source, u.kind) for u in r.unused) == [("new.json", "conflict"), ("old.json", "conflict")]
    assert all(u.counts_as_failure and "old.json" in u.reason and "new.json" in u.reason for u in r.unused)


def test_invalid_codes_are_totalled_under_unknown():
    r = roll_up([_row("122327", "白井市", 1000, 300), _row("123456", "謎", 500, 100), _row("123456", "謎", 700, 100, source="x.json")])
    assert [(s.label, s.plans) for s, _ in r.groups] == [("千葉県", 1), ("団体コード不明", 2)]
    assert r.national.plans == 3 and r.national.population == 2200  # invalid codes are never matched as duplicates


def test_package_json_is_read_instead_of_its_workbook(tmp_path):
    for ext in (".xlsx", ".json", ".html"):
        (tmp_path / f"122327_白井市_交付円滑化計画_20191003{ext}").write_text("x")
    (tmp_path / "121002_千葉市.xlsx").write_text("x")
    (tmp_path / ".hidden.json").write_text("x")
    files, fallback, missing = collect_inputs([tmp_path, tmp_path / "ない.json"])
    assert [f.name for f in files] == ["121002_千葉市.xlsx", "122327_白井市_交付円滑化計画_20191003.json"]
    assert {k.name: v.name for k, v in fallback.items()} == {"122327_白井市_交付円滑化計画_20191003.json": "122327_白井市_交付円滑化計画_20191003.xlsx"}
    assert [(Path(m.source).name, m.kind) for m in missing] == [("ない.json", "unreadable")]


def test_broken_package_json_falls_back_to_its_workbook(tmp_path, plans):
    (tmp_path / "p.xlsx").write_bytes(_xlsx(plans["a"]))
    (tmp_path / "p.json").write_text("{broken", encoding="utf-8")
    r = agg.aggregate([tmp_path], jobs=1)
    assert [row.source for row in r.rows] == [str(tmp_path / "p.xlsx")]
    assert [(Path(u.source).name, u.kind) for u in r.unused] == [("p.json", "unreadable")]


def test_a_package_json_vouches_for_its_workbook_and_an_edited_workbook_is_read(tmp_path, plans):
    """A package as submit writes it: its JSON names the SHA-256 of the .xlsx written with it
    and is read while that .xlsx is unchanged (the same row as the workbook's own reading).
    Once the .xlsx is edited after submit, the package has one truth, its workbook, which is
    read instead; a JSON without its .xlsx is read as it is."""
    from kofu_xl.app.submit import _package_files
    from kofu_xl.book.layout import layout_for
    from kofu_xl.book.sources import PACKAGE_WORKBOOK_DIGEST

    plan, findings = check_plan(plans["a"])
    files = _package_files(make_result(plan, findings))
    assert json.loads(files[".json"])[PACKAGE_WORKBOOK_DIGEST] == hashlib.sha256(files[".xlsx"]).hexdigest()
    json_path, xlsx_path = tmp_path / "p.json", tmp_path / "p.xlsx"
    json_path.write_bytes(files[".json"])
    xlsx_path.write_bytes(files[".xlsx"])
    (row,) = agg.aggregate([tmp_path], jobs=1).rows
    assert row.source == str(json_path)
    (alone,) = agg.aggregate([xlsx_path], jobs=1).rows
    assert alone.figures == row.figures and alone.findings == row.findings

    scalar = layout_for(plan.parameters).scalars["basic.population"]
    wb = openpyxl.load_workbook(xlsx_path)
    wb[scalar.sheet][scalar.cell] = 70_000
    wb.save(xlsx_path)
    result = agg.aggregate([tmp_path], jobs=1)
    (edited,) = result.rows
    assert edited.source == str(xlsx_path) and edited.population == 70_000 != row.population
    assert not result.unused

    xlsx_path.unlink()
    (alone,) = agg.aggregate([tmp_path], jobs=1).rows
    assert alone.source == str(json_path) and alone.figures == row.figures


@pytest.mark.parametrize("suffix", [".XLSX", ".xlsm"])
def test_a_workbook_beside_a_package_json_that_is_not_its_xlsx_is_never_passed_over(tmp_path, plans, suffix):
    """The JSON vouches only for `<stem>.xlsx` (the name submit writes, the one its digest is
    compared with). A workbook of the same stem under another suffix (p.XLSX on a case-sensitive
    disk, an .xlsm saved from it) is not that file: edited, it must not be silently dropped
    while the JSON's figures are counted."""
    from kofu_xl.app.submit import _package_files
    from kofu_xl.book.layout import layout_for

    plan, findings = check_plan(plans["a"])
    files = _package_files(make_result(plan, findings))
    (tmp_path / "p.json").write_bytes(files[".json"])
    other = tmp_path / f"p{suffix}"
    other.write_bytes(files[".xlsx"])
    scalar = layout_for(plan.parameters).scalars["basic.population"]
    wb = openpyxl.load_workbook(other)
    wb[scalar.sheet][scalar.cell] = 70_000
    saved = tmp_path / "saved.tmp"
    wb.save(saved)
    saved.replace(other)
    result = agg.aggregate([tmp_path], jobs=1)
    assert not result.rows  # two different plans of one 団体コード: neither is guessed
    assert sorted((Path(u.source).name, u.kind) for u in result.unused) == sorted([("p.json", "conflict"), (other.name, "conflict")])


def test_parallel_and_serial_reading_agree(mixed):
    files, _fb, _missing = collect_inputs([mixed / "提出"])
    assert agg.read_inputs(files, jobs=2) == agg.read_inputs(files, jobs=1)


def test_a_chunk_crosses_from_its_worker_unchanged(mixed, tmp_path):
    """A worker's results reach the parent as MessagePack: read back, every row and every
    value is what the worker had, down to its type and spelling (Decimal('1.50') stays so)."""
    files, _fb, _missing = collect_inputs([mixed / "提出"])
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    names = [str(f) for f in files] + [str(tmp_path / "broken.json")]
    direct = agg._read_chunk(names)
    assert any(isinstance(r, agg.Unused) for r in direct) and any(isinstance(r, agg.PlanRow) and r.findings for r in direct)
    point = agg.Point(Decimal("1.50"), Decimal("3E+2"), Decimal("0.005"), Decimal("-0"), None, 0)
    direct.append(agg.PlanRow("x", None, "千葉県", None, Decimal("12.30"), None, (point,), 0, 1, 2, (("FY2019", agg.Money(None, Decimal("7"))),)))
    crossed = agg._unpack(msgspec.msgpack.encode([(r, None) if isinstance(r, agg.PlanRow) else (None, r) for r in direct]))
    assert repr(crossed) == repr(direct)
    assert repr(agg._unpack(agg._read_chunk_packed(names))) == repr(direct[:-1])


@pytest.mark.skipif(sys.platform != "linux", reason="a file name of undecodable bytes: Linux file systems")
def test_a_file_named_with_undecodable_bytes_reads_in_the_pool_as_alone(mixed, tmp_path):
    """Linux lets a file name hold bytes that are no UTF-8; Python reads them as lone
    surrogates, which MessagePack cannot carry: that chunk crosses pickled, and the file's
    row is what the serial reading gives (not a worker reported as crashed)."""
    import os

    files, _fb, _missing = collect_inputs([mixed / "提出"])
    plan = next(f for f in files if f.suffix == ".json" and isinstance(agg.read_plan_file(f), agg.PlanRow))
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xff\xfe.json"))
    odd.write_bytes(plan.read_bytes())
    names = [*files[:7], odd]
    serial = agg.read_inputs(names, jobs=1)
    assert isinstance(serial[-1], agg.PlanRow) and serial[-1].source == str(odd)
    assert agg.read_inputs(names, jobs=2) == serial


def test_a_plan_whose_text_holds_a_lone_surrogate_reads_in_the_pool_as_alone(plans, tmp_path):
    """JSON may spell a lone surrogate ("\\ud800"), which json reads as such: in a plan's text
    (here 市町村名) it reaches the row, and MessagePack cannot carry it either. On every
    platform, that plan's row read by the pool is what the serial reading gives."""
    lone = copy.deepcopy(plans["b"])
    lone["basic"]["municipality"] = "\ud800千葉市"
    names = []
    for i in range(7):
        (tmp_path / f"{i}.json").write_text(json.dumps(plans["a"]), encoding="utf-8")
        names.append(tmp_path / f"{i}.json")
    (tmp_path / "lone.json").write_text(json.dumps(lone), encoding="ascii")  # spelled "\\ud800"
    names.append(tmp_path / "lone.json")
    serial = agg.read_inputs(names, jobs=1)
    assert isinstance(serial[-1], PlanRow) and serial[-1].municipality == "\ud800千葉市"
    assert agg.read_inputs(names, jobs=2) == serial


def test_the_json_output_spells_a_lone_surrogate_as_jsons_escape(plans, tmp_path, capsys):
    """`aggregate --json` of a plan whose text holds a lone surrogate: the output is UTF-8
    (the surrogate, which has no UTF-8 form, written as JSON's escape) and reads back as the
    same text. It stopped with an internal error."""
    lone = copy.deepcopy(plans["b"])
    lone["basic"]["municipality"] = "\ud800千葉市"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "lone.json").write_text(json.dumps(lone), encoding="ascii")
    assert main(["aggregate", str(tmp_path / "in"), "--out", str(tmp_path / "集計.xlsx"), "--json", "--jobs", "1"]) in (0, 1)
    out = capsys.readouterr().out
    out.encode("utf-8")  # what a UTF-8 stdout must write
    assert "\\ud800千葉市" in out
    data = json.loads(out)
    assert "\ud800千葉市" in json.dumps(data, ensure_ascii=False)


_READ_CHUNK = agg._read_chunk


def _chunk_spy(paths):
    """A worker's chunk, and the collector's state after it (as an extra row)."""
    import gc

    rows = _READ_CHUNK(paths)
    return rows + [agg.Unused(f"{gc.isenabled()}:{gc.get_freeze_count() > 0}", "spy", "skipped")]


def test_the_reading_pauses_the_collector_and_gives_it_back(mixed, monkeypatch):
    """Files are read with the cycle collector off, in the process and in the pool's workers
    (forked from a parent whose objects are frozen); an in-process caller (the ribbon, these
    tests) gets the collector back enabled and nothing left frozen."""
    import gc

    files, _fb, _missing = collect_inputs([mixed / "提出"])
    assert len(files) >= 8  # enough for the pool
    real = agg.read_plan_file
    seen: list[tuple[bool, int]] = []

    def spy(path):
        seen.append((gc.isenabled(), gc.get_freeze_count()))
        return real(path)

    monkeypatch.setattr(agg, "read_plan_file", spy)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    agg.read_inputs(files, jobs=1)
    assert seen and not any(enabled for enabled, _ in seen)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    seen.clear()
    monkeypatch.setattr(agg, "_read_chunk", _chunk_spy)  # module-level: the pool pickles it
    results = agg.read_inputs(files, jobs=2)
    marks = {r.source for r in results if isinstance(r, agg.Unused) and r.reason == "spy"}
    assert marks == {"True:True"}  # a worker: enabled again after its chunk, the parent's objects frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_callers_own_freeze_is_left_as_it_was(mixed):
    """A program that froze its objects itself (a pre-forking server keeps its pages shared so)
    and calls aggregate finds them still frozen afterwards: the pool's scope undoes only a
    freeze of its own."""
    import gc

    files, _fb, _missing = collect_inputs([mixed / "提出"])
    assert len(files) >= 8  # enough for the pool
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        agg.read_inputs(files, jobs=2)
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()


# ---------------------------------------------------------------- the command's edges


def test_nothing_readable_exits_2_and_still_lists_why(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x")
    out = tmp_path / "集計.xlsx"
    assert main(["aggregate", str(tmp_path / "in"), "--out", str(out)]) == 2
    assert "集計できる計画がありませんでした" in capsys.readouterr().err
    wb = openpyxl.load_workbook(out)
    assert [r[0] for r in wb[agg.SHEET_UNUSED].iter_rows(min_row=2, values_only=True)] == [str(tmp_path / "in" / "a.txt")]


def test_all_read_exits_0_and_output_in_the_input_folder_is_not_an_input(tmp_path, plans, capsys):
    (tmp_path / "a.xlsx").write_bytes(_xlsx(plans["a"]))
    out = tmp_path / "集計.xlsx"
    assert main(["aggregate", str(tmp_path), "--out", str(out)]) == 0
    assert main(["aggregate", str(tmp_path), "--out", str(out)]) == 0  # replaces its own table, does not read it
    copy_ = tmp_path / "先月の集計.xlsx"
    copy_.write_bytes(out.read_bytes())
    assert main(["aggregate", str(tmp_path), "--out", str(out)]) == 0  # an older table is passed over, listed as 対象外
    wb = openpyxl.load_workbook(out)
    listed = [r for r in wb[agg.SHEET_UNUSED].iter_rows(min_row=2, values_only=True) if r[0]]
    assert [(Path(r[0]).name, r[1]) for r in listed] == [("先月の集計.xlsx", "対象外")]
    assert "1 団体の計画を集計しました" in capsys.readouterr().out


def test_refuses_to_overwrite_a_file_it_did_not_write(tmp_path, plans, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.xlsx").write_bytes(_xlsx(plans["a"]))
    victim = tmp_path / "大事な表.xlsx"
    victim.write_bytes(b"precious")
    assert main(["aggregate", str(tmp_path / "in"), "--out", str(victim)]) == 2
    assert victim.read_bytes() == b"precious"
    assert "上書きしない" in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal():
    quiet = io.StringIO()
    p = agg.Progress(quiet)
    p.set_total(10)
    p.update(10)
    p.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    p = agg.Progress(loud, enabled=True)
    p.set_total(4)
    p.update(4)
    p.close()
    assert re.search(r"4/4 件", loud.getvalue()) and loud.getvalue().endswith("\n")


def test_seed_as_printed_rolls_up_with_its_errors(tmp_path):
    from kofu_xl.book.sources import shipped_plan_raw

    (tmp_path / "seed.json").write_text(json.dumps(shipped_plan_raw(), ensure_ascii=False), encoding="utf-8")
    r = agg.aggregate([tmp_path], jobs=1)
    _, findings = check_plan(copy.deepcopy(shipped_plan_raw()))
    (row,) = r.rows
    assert row.errors == sum(f.severity.value == "error" for f in findings) > 0
    assert r.national.plans_with_errors == 1


def test_rows_agree_with_a_full_check_of_the_same_file(mixed):
    """The roll-up's short cut (no full derivation) gives what `check` derives."""
    from kofu_xl.book.layout import layout_for
    from kofu_xl.book.sources import load_raw

    for path in (mixed / "提出" / "122327_白井市.xlsx", mixed / "提出" / "銚子市.json"):
        row = agg.read_plan_file(path)
        raw, layout = load_raw(path)
        plan, findings = check_plan(raw)
        layout = layout or layout_for(plan.parameters)  # a bare JSON plan is located on the official layout
        result = make_result(plan, layout.locate_findings(findings))
        s = result.schedule
        at = {s.checkpoint_for_column(c).month: (cum, rate) for c, cum, rate in
              zip(result.derived.columns, result.derived.cumulative, result.derived.coverage_rate, strict=True) if s.checkpoint_for_column(c)}  # fmt: skip
        assert [(p.cumulative, p.rate) for p in row.points] == [at[cp.month] for cp in s.checkpoints]
        assert row == agg.plan_row(result, str(path))
        assert (row.errors, row.warnings, row.infos) == (result.counts["error"], result.counts["warning"], result.counts["info"])


# ---------------------------------------------------------------- speed short cuts in the core are exact


def test_plain_digit_fast_path_reads_exactly_like_the_full_reader():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kofu_xl.core.numbers import _parse_text, parse_number

    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a shared 2-core machine
    @given(st.from_regex(r"\A[0-9]{1,40}(\.[0-9]{1,12})?\Z") | st.sampled_from(["0", "00103", "1.50", "103\n", " 1", "1.", ".5", "１２"]))
    def same(text):
        try:
            slow = _parse_text(text)
        except ValueError:
            slow = None
        try:
            fast = parse_number(text)
        except ValueError:
            fast = None
        assert fast == slow and (fast is None or str(fast.value) == str(slow.value))

    same()


def test_a_file_that_kills_its_worker_is_listed_and_the_rest_is_read(tmp_path, plans, monkeypatch):
    import os

    if not agg._mp_context().get_start_method() == "fork":
        pytest.skip("the patched reader reaches the workers only through fork")
    data = _package_json(plans["a"])
    for i in range(12):
        (tmp_path / f"p{i:02d}.json").write_text(data, encoding="utf-8")
    (tmp_path / "p05 crash.json").write_text(data, encoding="utf-8")
    real = agg.read_plan_file

    def reader(path):
        if "crash" in str(path):
            os._exit(3)  # like a reader that segfaults
        return real(path)

    monkeypatch.setattr(agg, "read_plan_file", reader)
    files = sorted(tmp_path.iterdir())
    results = agg.read_inputs(files, jobs=2)
    assert [Path(r.source).name for r in results] == [f.name for f in files]
    bad = [r for r in results if isinstance(r, Unused)]
    assert [(Path(r.source).name, "異常終了" in r.reason) for r in bad] == [("p05 crash.json", True)]


def test_spawned_workers_as_on_windows_read_the_same(mixed, monkeypatch):
    import multiprocessing

    files, _fb, _missing = collect_inputs([mixed / "提出"])
    serial = agg.read_inputs(files, jobs=1)
    monkeypatch.setattr(agg, "_mp_context", lambda: multiprocessing.get_context("spawn"))
    assert agg.read_inputs(files, jobs=2) == serial


def test_a_package_made_by_submit_is_read_as_values_with_the_findings_of_its_json(tmp_path):
    """The .xlsx that submit writes holds values only: read by aggregate it gives the findings
    its .json gives (no daily-total-overwritten for its 日次実績 totals, which are values there,
    nor formula-overwritten), and the same row."""
    from kofu_xl.app.submit import submit
    from kofu_xl.book.surfaces import FileSurface

    book = tmp_path / "計画.xlsm"
    book.write_bytes(build_xlsm(check_plan(corrected_seed())[0]))
    out = tmp_path / "提出"
    assert submit(FileSurface(book, quiet=True), out).status == "written"
    xlsx, js = sorted(out.glob("*.xlsx")), sorted(out.glob("*.json"))
    assert len(xlsx) == len(js) == 1
    from_xlsx, from_json = agg.read_plan_file(xlsx[0]), agg.read_plan_file(js[0])
    assert isinstance(from_xlsx, PlanRow) and isinstance(from_json, PlanRow)
    rules = {f.rule for f in from_xlsx.findings}
    assert "daily-total-overwritten" not in rules and "formula-overwritten" not in rules
    assert from_xlsx.figures == from_json.figures
    assert from_xlsx.findings == from_json.findings


def _json_plan(tmp_path: Path, name: str, **patch) -> Path:
    from kofu_xl.book.sources import shipped_plan_raw

    raw = shipped_plan_raw()
    raw.update(patch)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def test_a_daily_key_that_is_no_date_is_a_finding_not_a_crash(tmp_path, capsys):
    """A JSON plan whose 日次実績 has a key that is no date: aggregate rows it with the
    finding, check reports it (it used to raise while locating the finding's cell)."""
    path = _json_plan(tmp_path, "x", daily={"days": {"x": 1}})
    row = agg.read_plan_file(path)
    assert isinstance(row, PlanRow)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "[invalid-date]" in out and "「x」は日付として読めません" in out


def test_parameters_of_the_wrong_type_are_told_in_japanese(tmp_path):
    row = agg.read_plan_file(_json_plan(tmp_path, "shape", parameters={"first_month": "2019-08", "fiscal_years": "2021"}))
    assert isinstance(row, PlanRow)
    messages = [f.message for f in row.findings if f.field == "様式の設定"]
    assert messages == ["様式の設定: 様式の設定（parameters）が読めないため、2019年の様式として読みました（parameters.fiscal_years: 値の並びが必要なところが文字列です）"]
