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
    "merges-changed": "findings",
    "billion-laughs": "unreadable",
    "external-entity": "unreadable",
    "zip-bomb": "unreadable",
    "encrypted-flag": "unreadable",
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
    from kofu_xl.book.build import build_xlsm
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
