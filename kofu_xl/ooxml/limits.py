"""Every size limit kofu-xl applies to what it reads, in one place.

Every command reads through the same guards with these numbers, so one file gets one
answer whichever command reads it. (The restructure moves this module to
kofu_xl/ooxml/limits.py.) A plan workbook is ~0.1 MB on disk and ~0.5 MB inflated, a
statistics CSV ~0.2 MB with 1,741 rows: the limits leave wide room for real files and
refuse bombs and absurd files before they cost memory or time.
"""

from __future__ import annotations

MiB = 1024 * 1024

# Workbooks (.xlsx/.xlsm): the zip and the XML inside it.
MAX_FILE_BYTES = 50 * MiB  # the file on disk
MAX_UNCOMPRESSED = 100 * MiB  # bytes actually inflated, all parts together
MAX_PART_BYTES = 40 * MiB  # bytes actually inflated, one part
MAX_ENTRIES = 2_000  # parts in the zip
MAX_XML_DEPTH = 64  # nesting of XML elements (a worksheet needs 6)
MAX_SHEET_ROWS = 5_000  # rows of a sheet any reader looks at (the layout uses < 1,000)
READ_CHUNK = 1 * MiB  # inflate in pieces of this size and count what comes out

# JSON plans and packages.
MAX_JSON_BYTES = 20 * MiB
MAX_JSON_DEPTH = 64

# Official statistics (CSV), applied while the file is read.
MAX_STATS_BYTES = 16 * MiB  # 80 x the real files
MAX_STATS_ROWS = 20_000  # the real files have 1,741 data rows
MAX_STATS_FIELD = 4_096  # characters in one CSV field
