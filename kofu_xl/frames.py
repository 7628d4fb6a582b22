"""The analyst's API (pandas DataFrames): see kofu_xl.app.frames."""

from kofu_xl.app.frames import STATS_COLUMNS, followup_table, plan_series, rollup_table, statistics

__all__ = ["STATS_COLUMNS", "followup_table", "plan_series", "rollup_table", "statistics"]
