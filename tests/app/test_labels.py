"""和暦 labels as the form writes them (R元年度, not R1), everywhere a plan is shown."""

from __future__ import annotations

import json
import re

from kofu_xl.app.report import make_result
from kofu_xl.app.summary import summary_html
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.cli import main
from kofu_xl.core.rules import check_plan

NOT_THE_FORM = re.compile(r"(?<![A-Za-z0-9])R1(?![0-9])|R1年|令和1年")


def _html() -> str:
    plan, findings = check_plan(shipped_plan_raw())
    return summary_html(make_result(plan, findings, source="seed"))


def test_summary_cost_table_heads_the_years_like_the_form() -> None:
    html = _html()
    costs = html.split("所要経費見込み額", 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>([^<]*)</td>", costs) == ["R元年度", "R2年度"]
    assert not NOT_THE_FORM.search(html)


def test_summary_chart_spaces_fiscal_years_as_years() -> None:
    html = _html()
    xs = {label: float(x) for x, label in re.findall(r'<text x="([\d.]+)"[^>]*rotate\([^)]*\)">([^<]+)</text>', html)}
    month = xs["R2年3月"] - xs["R2年2月"]
    assert month > 0
    # R3年度 ends twelve months after R3年3月, R4年度 twelve after R3年度
    assert abs((xs["R3年度"] - xs["R3年3月"]) - 12 * month) < 0.2
    assert abs((xs["R4年度"] - xs["R3年度"]) - 12 * month) < 0.2
    assert abs((xs["R元年9月"] - xs["R元年8月"]) - month) < 0.2


def test_json_labels_are_the_forms(capsys) -> None:
    main(["check", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["column_labels"][0] == "R元年8月(実績)" and data["column_labels"][-2:] == ["R3年度", "R4年度"]
    assert [c["label"] for c in data["costs"].values()] == ["R元年度", "R2年度"]
    labels = json.dumps([data["column_labels"], [c["label"] for c in data["costs"].values()], [f["column_label"] for f in data["findings"]]], ensure_ascii=False)
    assert not NOT_THE_FORM.search(labels)
    main(["followup", "--json"])
    fu = json.loads(capsys.readouterr().out)
    month_labels = [m["label"] for m in fu["followup"]["months"]]
    assert month_labels[0].startswith("R元年8月") and not NOT_THE_FORM.search(json.dumps(month_labels, ensure_ascii=False))


def test_the_html_summary_becomes_pdf_with_libreoffice_writer(tmp_path) -> None:
    """The README's apt line installs LibreOffice Writer for this step: HTML → PDF."""
    import shutil
    import subprocess

    if shutil.which("soffice") is None:
        import pytest

        pytest.skip("LibreOffice (soffice) is not installed here")
    src = tmp_path / "summary.html"
    src.write_text(_html(), encoding="utf-8")
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--convert-to", "pdf:writer_web_pdf_Export", "--outdir", str(tmp_path), str(src)],
        capture_output=True, timeout=300, check=True,
    )
    pdf = tmp_path / "summary.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        text = "".join(text.split())  # the PDF's lines break inside words
        assert "R元年度" in text and "R2年度" in text
