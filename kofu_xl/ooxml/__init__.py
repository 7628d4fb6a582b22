"""The OOXML toolkit, with no domain words: zip and XML limits, safe parsing, cell references,
streaming read and write, in-place edit, the macro-enabled package, VBA projects and the ribbon.

Imports only ``kofu_xl.ooxml`` and ``kofu_xl.errors``.
"""
