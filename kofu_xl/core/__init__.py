"""The pure core: plan model, calendar and 和暦, national schedule, calculations, rules.

No file, network or Excel access here; everything is a function of its arguments (the shipped
schedule and municipality data are read as package data). Imports only ``kofu_xl.core``,
``kofu_xl.errors`` and ``kofu_xl._msgspec`` (msgspec without typing_extensions).
"""

from kofu_xl._msgspec import import_msgspec

import_msgspec()  # without typing_extensions: see kofu_xl._msgspec
