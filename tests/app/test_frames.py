"""kofu_xl.frames: the analyst's DataFrames, and the README's two-line example."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from kofu_xl import frames

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"


def test_readme_example_returns_every_municipality_and_publication():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Analysts"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    lines = [l for l in code.splitlines() if l.strip()]
    assert len(lines) == 2
    scope: dict = {}
    exec(lines[0], scope)
    df = eval(lines[1].split("#")[0], scope)
    assert isinstance(df, pd.DataFrame) and df.shape == (1741, 40)
    assert df.index.names == ["団体コード", "都道府県名", "市区町村名"] and df.columns.name == "交付件数基準日"
    assert str(df.columns.dtype).startswith("datetime64") and str(df.dtypes.iloc[0]) == "Int64"
    assert df.loc[("122327", "千葉県", "白井市"), pd.Timestamp("2020-08-01")] == 13039
    assert df.loc["011002"].iloc[0, 0] == 217749  # 札幌市, 2019-04-01
    assert df.columns.is_monotonic_increasing and df.index.get_level_values(0).is_unique


def test_one_municipality_by_code_with_or_without_leading_zero():
    s = frames.statistics(122327)
    assert s.shape == (40, 6) and list(s.columns) == list(frames.STATS_COLUMNS)
    row = s.loc[s["交付件数基準日"] == pd.Timestamp("2020-08-01")].iloc[0]
    assert (row["月末"], row["交付枚数"], row["人口"], row["人口に対する交付枚数率（%）"]) == ("2020-07", 13039, 63723, 20.5)
    assert frames.statistics("11002")["交付枚数"].iloc[0] == 217749  # 札幌市 011002
    with pytest.raises(LookupError):
        frames.statistics("012000")


def test_plan_series_and_followup_table_agree_with_the_core():
    series = frames.plan_series(SHIPPED)
    assert series.loc["2020-07", "交付枚数（累計）"] == 15031 and series.loc["2020-07", "下限値"] == pytest.approx(0.235)
    assert series.loc["2019-08", "列"] == "R元年8月(実績)" and series.index[-1] == "FY2022"
    fu = frames.followup_table(SHIPPED)
    july = fu.loc[pd.Timestamp("2020-07-01")]
    assert (july["計画累計"], july["実績累計"], july["差（枚）"]) == (15031, 13039, -1992)
    assert fu.loc[pd.Timestamp("2021-03-01"), "実績累計"] == 20768


def test_rollup_table_one_row_per_plan(tmp_path):
    table = frames.rollup_table([SHIPPED])
    assert list(table.index) == ["122327"] and table.loc["122327", "市区町村名"] == "白井市"
    assert table.loc["122327", "2020-07 累計"] == 15031 and table.loc["122327", "2020-07 判定"] == "ok"
