"""Use cases: submit, doctor, follow-up, aggregate, statistics, new plans, reports, the ribbon.

Imports ``kofu_xl.book``, ``kofu_xl.core``, ``kofu_xl.ooxml`` and ``kofu_xl.errors``; never the CLI.
"""

from kofu_xl._msgspec import import_msgspec

import_msgspec()  # without typing_extensions: see kofu_xl._msgspec
