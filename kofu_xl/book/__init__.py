"""The workbook: the layout map (every cell address), reading any .xlsm/.xlsx/.json into raw
plan data, building the official workbook, and the file surface that 検証 writes to.

Imports ``kofu_xl.core``, ``kofu_xl.ooxml`` and ``kofu_xl.errors``.
"""
