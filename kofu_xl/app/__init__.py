"""Use cases: submit, doctor, follow-up, aggregate, statistics, new plans, reports, the ribbon.

Imports ``kofu_xl.book``, ``kofu_xl.core``, ``kofu_xl.ooxml`` and ``kofu_xl.errors``; never the CLI.
"""
