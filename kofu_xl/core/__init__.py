"""The pure core: plan model, calendar and 和暦, national schedule, calculations, rules.

No file, network or Excel access here; everything is a function of its arguments (the shipped
schedule and municipality data are read as package data). Imports only ``kofu_xl.core`` and
``kofu_xl.errors``.
"""
