"""The workbook: the layout map (every cell address), reading any .xlsm/.xlsx/.json into raw
plan data, building the official workbook, and the file surface that 検証 writes to.

Imports ``kofu_xl.core``, ``kofu_xl.ooxml`` and ``kofu_xl.errors``.
"""

from kofu_xl._msgspec import import_msgspec

import_msgspec()  # without typing_extensions: see kofu_xl._msgspec
