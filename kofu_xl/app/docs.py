"""Documentation generated from the code: docs/rules.md from the rule catalogue.

The rule reference is rendered from :data:`kofu_xl.core.findings.CATALOGUE` after importing
every module that registers rules, so it cannot drift from what `kofu-xl check` and the
ribbon report (tests/app/test_docs.py compares the committed file with a fresh rendering).

Regenerate after adding or changing a rule::

    python -m kofu_xl.app.docs            # rewrites docs/rules.md of this checkout
    python -m kofu_xl.app.docs --check    # exit 1 when docs/rules.md is out of date
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from kofu_xl.core.findings import CATALOGUE, RuleSpec, Severity

__all__ = ["OPTIONAL_RULE_MODULES", "RULES_MD", "RULE_MODULES", "load_catalogue", "main", "render_rules_md"]

RULE_MODULES = ("kofu_xl.core.model", "kofu_xl.core.rules")
OPTIONAL_RULE_MODULES = ("kofu_xl.app.followup",)  # present once the follow-up lands
RULES_MD = Path(__file__).resolve().parents[2] / "docs" / "rules.md"

_SEVERITY_MEANS = {
    Severity.ERROR: "直す必要があります。計画の検証（「検証」「検証して提出」、kofu-xl check / submit）でエラーがあると提出ファイルは作られません。フォローアップ（「実績取込」、kofu-xl followup）のエラーは、実績が国の想定に届いていないことを示します。",
    Severity.WARNING: "提出はできますが、内容を確認してください（国の想定や体制との食い違いなど）。",
    Severity.INFO: "対応は不要です。入力をどう読んだかをお知らせするものです。",
}

# Placeholders of the message templates, as the reference shows them.
_PLACEHOLDERS = {
    "field": "〈項目〉",
    "column": "〈列〉",
    "col": "（〈列〉）",
    "expected": "〈期待値〉",
    "actual": "〈実際の値〉",
    "hint": "〈補足〉",
    "reason": "〈理由〉",
    "note": "〈読み替えの内容〉",
    "parts": "〈内訳〉",
    "basis": "〈計算の根拠〉",
    "checkpoint": "〈時点〉",
    "short": "〈不足枚数〉",
    "monthly": "〈月の交付枚数〉",
    "rule": "〈処理能力の設定〉",
    "capacity": "〈処理できる枚数〉",
    "unit": "〈単位〉",
    "fix": "〈直し方〉",
    "gap": "〈差の枚数〉",
    "gap_points": "〈差のポイント〉",
    "behind": "〈計画の何か月前の水準か〉",
    "next": "〈次のチェックポイントまでの見通し〉",
    "detail": "〈詳細〉",
    "day": "〈日付〉",
    "weekday": "〈曜日〉",
    "start": "〈開始時期〉",
    "target": "〈入力すべき月〉",
    "state": "〈セルの状態〉",
}


def load_catalogue() -> dict[str, RuleSpec]:
    """Every registered rule, after importing each module that registers rules."""
    for name in RULE_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_RULE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing
                raise
    return dict(CATALOGUE)


def _example(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _PLACEHOLDERS.get(m[1], f"〈{m[1]}〉"), template)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_rules_md(catalogue: dict[str, RuleSpec] | None = None) -> str:
    """docs/rules.md: every rule with its slug, severity, fields, meaning and fix."""
    specs = sorted((catalogue if catalogue is not None else load_catalogue()).values(), key=lambda s: s.slug)
    counts = {sev: sum(s.severity is sev for s in specs) for sev in Severity}
    out = [
        "# 検証ルール一覧（ルールリファレンス）",
        "",
        "<!-- このファイルは kofu_xl/app/docs.py がルールの定義（kofu_xl.core.findings.CATALOGUE）から生成します。手で編集しないでください。",
        "     ルールを追加・変更したら python -m kofu_xl.app.docs で作り直します（tests/app/test_docs.py が食い違いを検出します）。 -->",
        "",
        "kofu-xl が計画を検証して報告する問題（検証結果）の全種類です。"
        "ルール名（英字の名前）は、ブックの「検証結果」シートの「ルール」列、`kofu-xl check` の `[ルール名]`、"
        "`kofu-xl check --json` の `rule` に出ます。問い合わせを受けたら、ルール名でこのページを検索してください。",
        "",
        f"全 {len(specs)} 種類（エラー {counts[Severity.ERROR]}、警告 {counts[Severity.WARNING]}、情報 {counts[Severity.INFO]}）。",
        "",
        "## 重要度",
        "",
        "| 重要度 | 意味 |",
        "|---|---|",
    ]
    out += [f"| {sev.ja}（`{sev.value}`） | {_SEVERITY_MEANS[sev]} |" for sev in Severity]
    out += [
        "",
        "メッセージの例の〈 〉は、実際の検証結果では項目名・列（年月）・値などに置き換わります。"
        "ブックから検証したときは、メッセージの先頭に「本表1-1!L25」のようにシート名とセルが付きます。",
        "",
        "## 一覧",
        "",
        "| ルール名 | 重要度 | 名称 |",
        "|---|---|---|",
    ]
    for sev in Severity:
        out += [f"| [`{s.slug}`](#{s.slug}) | {sev.ja} | {_cell(s.title)} |" for s in specs if s.severity is sev]
    out += ["", "## 各ルール", ""]
    for s in specs:
        out += [
            f'<a id="{s.slug}"></a>',
            "",
            f"### {s.slug}",
            "",
            f"**{s.title}**（{s.severity.ja}）",
            "",
            f"- 重要度: {s.severity.ja}（`{s.severity.value}`）。{_SEVERITY_MEANS[s.severity]}",
            f"- 見る項目: {s.fields}",
            f"- 意味: {s.description}",
            f"- 直し方: {s.fix}",
            f"- メッセージの例: {_example(s.template)}",
            "",
        ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kofu_xl.app.docs", description="docs/rules.md をルールの定義から作り直す")
    p.add_argument("--check", action="store_true", help="書き換えず、docs/rules.md が最新でなければ終了コード 1")
    p.add_argument("--out", type=Path, default=RULES_MD, help=f"出力先（省略時は {RULES_MD}）")
    args = p.parse_args(argv)
    text = render_rules_md()
    current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.out} は最新ではありません。python -m kofu_xl.app.docs で作り直してください。", file=sys.stderr)
            return 1
        print(f"{args.out} は最新です。")
        return 0
    if current != text:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8", newline="\n")
        print(f"{args.out} を作り直しました（ルール {text.count('### ')} 種類）。")
    else:
        print(f"{args.out} は最新です。")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
