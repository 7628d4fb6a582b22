"""The one-page summary for the 付議書 / 課長: key figures, the chart, open warnings.

A standalone HTML page (no script, no external resource) with an inline SVG
chart of the projected rate against the national band, printable on A4.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from kofu_xl.app.report import CheckResult, _year_code
from kofu_xl.core.calc import personnel_sum
from kofu_xl.core.findings import Severity, format_value
from kofu_xl.core.model import CostYear
from kofu_xl.core.numbers import round_half_up

__all__ = ["summary_html", "rate_chart_svg"]


def _pct(v: Decimal | None) -> str:
    return "—" if v is None else f"{round_half_up(v * 100, 1)}%"


def rate_chart_svg(r: CheckResult, actual: list[Decimal | None] | None = None, width: int = 760, height: int = 330) -> str:
    """Projected coverage (line), national lower/upper bounds (markers and band), optional actuals."""
    d = r.derived
    cols = d.columns
    n = len(cols)
    left, right, top, bottom = 56, 72, 20, 86  # room for the rotated month labels and the legend
    pw, ph = width - left - right, height - top - bottom
    values = [v for v in d.coverage_rate if v is not None] + [b[1] / 100 for b in d.bounds.values()]
    if actual:
        values += [v for v in actual if v is not None]
    vmax = max([Decimal("0.1"), *values])
    ymax = (vmax * 10).to_integral_value(rounding="ROUND_CEILING") / 10  # round up to 10 %

    def x(i: int) -> float:
        return left + (pw * i / max(n - 1, 1))

    def y(v: Decimal) -> float:
        return top + ph - float(v / ymax) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="交付枚数率の推移">']
    steps = int(ymax * 10)
    for k in range(steps + 1):
        v = ymax * k / steps
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{round_half_up(v * 100, 0)}%</text>')
    for i, c in enumerate(cols):
        label = escape(c.label.replace("(実績)", ""))
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 14}" font-size="9" text-anchor="end" transform="rotate(-45 {x(i):.1f} {height - bottom + 14})">{label}</text>')
    for key, (lo, hi) in d.bounds.items():
        i = [c.key for c in cols].index(key)
        parts.append(f'<rect x="{x(i) - 6:.1f}" y="{y(hi / 100):.1f}" width="12" height="{y(lo / 100) - y(hi / 100):.1f}" fill="#c6efce" stroke="#548235"/>')
        parts.append(f'<text x="{x(i) + 8:.1f}" y="{y(lo / 100) + 4:.1f}" font-size="9" fill="#375623">{lo}–{hi}%</text>')

    def polyline(series: list[Decimal | None], colour: str, dash: str = "") -> None:
        pts = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series) if v is not None]
        if pts:
            parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="2" {dash}/>')
            for p in pts:
                px, py = p.split(",")
                parts.append(f'<circle cx="{px}" cy="{py}" r="2.5" fill="{colour}"/>')

    polyline(d.coverage_rate, "#2f5597")
    if actual:
        polyline(actual, "#c00000", 'stroke-dasharray="5,3"')
    ly = height - 6
    parts.append(f'<rect x="{left}" y="{ly - 8}" width="10" height="3" fill="#2f5597"/><text x="{left + 14}" y="{ly - 4}" font-size="10">計画</text>')
    parts.append(f'<rect x="{left + 60}" y="{ly - 10}" width="10" height="8" fill="#c6efce" stroke="#548235"/><text x="{left + 74}" y="{ly - 3}" font-size="10">国の想定（下限値〜上限値）</text>')
    if actual:
        parts.append(f'<rect x="{left + 230}" y="{ly - 8}" width="10" height="3" fill="#c00000"/><text x="{left + 244}" y="{ly - 4}" font-size="10">実績</text>')
    parts.append("</svg>")
    return "".join(parts)


def summary_html(r: CheckResult) -> str:
    plan, d = r.plan, r.derived
    b = plan.basic
    rows = []
    for i, c in enumerate(d.columns):
        if c.key in d.bounds:
            lo, hi = d.bounds[c.key]
            cp = r.schedule.checkpoint_for_column(c)
            shown = None if d.coverage_rate[i] is None else round_half_up(d.coverage_rate[i] * 100, 1)
            verdict = "—" if shown is None else ("下限値未満" if shown < lo else "上限値超" if shown > hi else "範囲内")
            rows.append(
                f"<tr><td>{escape(c.label)}</td><td>{escape(cp.title if cp else '')}</td><td class=n>{format_value(d.cumulative[i])}</td>"
                f"<td class=n>{_pct(d.coverage_rate[i])}</td><td class=n>{lo}% 〜 {hi}%</td><td>{verdict}</td></tr>"
            )
    costs = []
    for key in plan.cost_keys:
        y = plan.costs.get(key, CostYear())
        costs.append(
            f"<tr><td>{escape(_year_code(key))}</td><td class=n>{format_value(y.total)}</td>"
            f"<td class=n>{format_value(y.personnel_total if y.personnel_total is not None else personnel_sum(y))}</td>"
            f"<td class=n>{format_value(y.postage)}</td></tr>"
        )
    open_items = [f for f in r.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    items = "".join(
        f"<li><b>{escape(f.severity.ja)}</b> {escape(f.message)}</li>" for f in open_items
    ) or "<li>エラー・警告はありません。</li>"
    c = r.counts
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<title>{escape(b.municipality or '')} マイナンバーカード交付円滑化計画 概要</title>
<style>
body {{ font-family: "Yu Gothic", "Meiryo", "Noto Sans CJK JP", sans-serif; margin: 16px; font-size: 12px; color: #222; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }} h2 {{ font-size: 14px; border-bottom: 2px solid #2f5597; margin: 14px 0 6px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: 2px 6px; }} th {{ background: #ddebf7; }}
td.n {{ text-align: right; }} .meta td {{ border: none; padding: 0 12px 0 0; }}
@page {{ size: A4 portrait; margin: 12mm; }}
</style></head><body>
<h1>{escape(plan.title or 'マイナンバーカード交付円滑化計画')}</h1>
<table class=meta><tr><td>団体コード {escape(b.dantai_code or '')}</td><td>{escape(b.prefecture or '')} {escape(b.municipality or '')}</td>
<td>人口 {format_value(b.population)} 人</td><td>交付枚数 {format_value(b.base_issued)} 枚（{_pct(d.base_rate)}）</td>
<td>担当 {escape(b.department or '')} {escape(b.phone or '')}</td></tr></table>
<h2>国の想定との比較</h2>
<table><tr><th>時点</th><th>国の全体スケジュール</th><th>累計交付枚数（計画）</th><th>交付枚数率</th><th>国の想定</th><th>判定</th></tr>{''.join(rows)}</table>
<h2>交付枚数率の推移</h2>
{rate_chart_svg(r)}
<h2>所要経費見込み額（千円）</h2>
<table><tr><th>年度</th><th>①補助対象経費</th><th>I. 人件費</th><th>III. 本人限定受取郵便</th></tr>{''.join(costs)}</table>
<h2>検証結果: エラー {c['error']} 件、警告 {c['warning']} 件</h2>
<ul>{items}</ul>
</body></html>
"""
