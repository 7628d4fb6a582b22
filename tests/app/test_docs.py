"""The documentation: docs/rules.md is generated from the rule catalogue and must not drift;
the install guide and the clerk's guide name what the code names (ribbon buttons, sheets,
doctor's checks, the pinned xlwings version, the sections doctor's fixes point to)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kofu_xl.app import docs
from kofu_xl.core.findings import RuleSpec, Severity

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
RULES_MD = DOCS / "rules.md"
INSTALL = DOCS / "install.md"
GUIDE = DOCS / "guide.md"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- rules.md


def test_rules_md_is_generated_from_the_catalogue() -> None:
    """Fails whenever a rule is added or changed without regenerating the page."""
    assert RULES_MD.is_file(), "docs/rules.md is missing: run python -m kofu_xl.app.docs"
    assert read(RULES_MD) == docs.render_rules_md(), "docs/rules.md is out of date: run python -m kofu_xl.app.docs"


def test_every_rule_has_a_complete_section() -> None:
    catalogue = docs.load_catalogue()
    assert {"cost-working-mismatch", "missing-required", "rate-below-lower-bound", "normalized-input"} <= set(catalogue)
    text = docs.render_rules_md(catalogue)
    sections = re.split(r"^<a id=", text, flags=re.MULTILINE)[1:]
    assert len(sections) == len(catalogue)
    for spec in catalogue.values():
        (section,) = [s for s in sections if s.startswith(f'"{spec.slug}"></a>')]
        assert f"### {spec.slug}\n" in section
        assert f"**{spec.title}**（{spec.severity.ja}）" in section
        for part in (f"見る項目: {spec.fields}", f"意味: {spec.description}", f"直し方: {spec.fix}"):
            assert part in section, (spec.slug, part)
        assert "{" not in section.split("メッセージの例: ")[1]  # every placeholder rendered
        assert f"| [`{spec.slug}`](#{spec.slug}) | {spec.severity.ja} |" in text


def test_rules_registered_by_the_checks_are_in_the_catalogue() -> None:
    from kofu_xl.core import rules

    docs.load_catalogue()
    slugs = {spec.slug for specs, _check in rules.RULES for spec in specs}
    assert slugs <= set(docs.load_catalogue())


def test_a_new_rule_changes_the_page() -> None:
    catalogue = docs.load_catalogue()
    extra = RuleSpec("zz-new-rule", Severity.WARNING, "新しい規則", "説明。", "直し方。", "項目", "{field}{col}は {actual} です（{custom}）。")
    text = docs.render_rules_md({**catalogue, extra.slug: extra})
    assert text != docs.render_rules_md(catalogue)
    assert "メッセージの例: 〈項目〉（〈列〉）は 〈実際の値〉 です（〈custom〉）。" in text
    assert f"全 {len(catalogue) + 1} 種類" in text


def test_regenerate_and_check_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "rules.md"
    run = lambda *args: subprocess.run([sys.executable, "-m", "kofu_xl.app.docs", "--out", str(out), *args], cwd=REPO, capture_output=True, text=True)  # noqa: E731
    assert run("--check").returncode == 1  # missing
    done = run()
    assert done.returncode == 0 and "作り直しました" in done.stdout
    assert read(out) == docs.render_rules_md()
    assert run("--check").returncode == 0
    out.write_text(read(out).replace("エラー", "誤り", 1), encoding="utf-8")
    stale = run("--check")
    assert stale.returncode == 1 and "最新ではありません" in stale.stderr


def test_optional_rule_module_may_be_absent_but_not_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docs, "OPTIONAL_RULE_MODULES", ("kofu_docs_no_such_rules_module",))
    assert docs.load_catalogue()  # an absent optional module is skipped
    # a module that exists but fails on a missing import of its own must not be skipped silently
    (tmp_path / "kofu_docs_broken_rules.py").write_text("import kofu_docs_missing_dependency\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(docs, "OPTIONAL_RULE_MODULES", ("kofu_docs_broken_rules",))
    with pytest.raises(ModuleNotFoundError, match="kofu_docs_missing_dependency"):
        docs.load_catalogue()


# ---------------------------------------------------------------- install.md


def pinned_xlwings() -> str:
    data = tomllib.loads(read(REPO / "pyproject.toml"))
    (pin,) = [d.split("==")[1].strip() for d in data["project"]["dependencies"] if d.replace(" ", "").startswith("xlwings==")]
    return pin


def test_install_guide_names_the_pinned_version_and_every_command() -> None:
    text = read(INSTALL)
    pin = pinned_xlwings()
    assert f"xlwings64-{pin}.dll" in text and f"xlwings32-{pin}.dll" in text and f"**{pin} ちょうど**" in text
    for command in ("check", "submit", "build", "new", "doctor"):
        assert f"`kofu-xl {command}" in text, command
    for words in ("信頼できる場所", "許可する", "Unblock-File", "コンテンツの有効化", "アプリ実行エイリアス", "INTERPRETER_WIN", "--user",
                  "D4F940AB-401B-4EFC-AADC-AD5F3C50688A", "1121", "pip uninstall", "--find-links", "提出"):
        assert words in text, words


def test_install_guide_explains_every_doctor_check() -> None:
    from kofu_xl.app import doctor

    text = read(INSTALL)
    ids = {r.id for r in doctor.run_doctor(None).results}
    ids = {i.split(":")[0] if i.startswith("import:") else i for i in ids}
    table = text.split("## 6.")[1].split("## 7.")[0]
    for id in ids:
        label = "import:kofu_udfs" if id == "import" else id
        assert re.search(rf"^\| {re.escape(label)}( など)? \| (必須|推奨) \|", table, re.MULTILINE), id


def test_sections_doctor_points_to_exist() -> None:
    source = read(REPO / "kofu_xl" / "app" / "doctor.py")
    headings = set(re.findall(r"^##+ (.+)$", read(INSTALL), re.MULTILINE))
    named = set(re.findall(r"「(\d+\. [^」]+)」", source))
    assert named, "doctor names sections of install.md"
    for title in named:
        assert title in headings, title
    assert "### 3.2 ネットワークに出られない PC" in read(INSTALL)  # named by title in doctor's fixes
    assert "「ネットワークに出られない PC」" in source


def test_required_flags_in_the_table_match_doctor() -> None:
    """The install guide's table says 必須/推奨 as doctor decides it (on a fake Windows PC)."""
    from kofu_xl.app import doctor
    from tests.app.test_doctor import FakePC  # noqa: PLC0415 - the same fake PC as the doctor tests

    pc = FakePC(REPO / "workbook" / "交付円滑化計画.xlsm")
    results = doctor.run_doctor(pc.workbook, system=pc.system()).results
    table = read(INSTALL).split("## 6.")[1].split("## 7.")[0]
    for r in results:
        label = "import:kofu_udfs" if r.id.startswith("import:") else r.id
        m = re.search(rf"^\| {re.escape(label)}( など)? \| (必須|推奨) \|", table, re.MULTILINE)
        assert m and m[2] == ("必須" if r.required else "推奨"), r.id


# ---------------------------------------------------------------- guide.md


def test_guide_names_every_button_and_sheet() -> None:
    from kofu_xl.book.layout import CONF, SHEETS
    from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS, RIBBON_TAB

    text = read(GUIDE)
    assert f"「**{RIBBON_TAB.label}**」" in text
    for b in RIBBON_BUTTONS:
        assert f"| **{b.label}** |" in text, b.label
    for name, _code in SHEETS:
        if name != CONF:
            assert f"| {name} |" in text, name
    assert "xlwings.conf" in text  # the hidden sheet: named, with "do not touch"
    for words in ("黄色のセル", "灰色のセル", "千円未満", "切り上げ", "検証結果", "提出記録", "提出", "kofu-xl doctor", "rules.md", "上書き保存"):
        assert words in text, words


def test_guide_result_columns_match_the_workbook() -> None:
    from kofu_xl.book.build import RESULT_HEADERS

    section = read(GUIDE).split("## 6.")[1].split("## 7.")[0]
    for header in RESULT_HEADERS:
        assert f"| {header} |" in section, header


# ---------------------------------------------------------------- all documents


@pytest.mark.parametrize("path", [INSTALL, GUIDE, RULES_MD, REPO / "README.md"], ids=lambda p: p.name)
def test_no_registry_hosts_and_links_resolve(path: Path) -> None:
    text = read(path)
    for host in ("pypi.org", "pythonhosted", "npmjs", "registry."):
        assert host not in text, host
    for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", text):
        assert (path.parent / target).is_file(), target
