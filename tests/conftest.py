"""Test set-up: import the sources of this checkout, and the reference data shipped in the repository."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# `udfs/` is installed as the module `kofu_udfs`; from a checkout, map it here,
# preferring this checkout's sources over an installed copy.
_udfs_init = REPO / "udfs" / "__init__.py"
if _udfs_init.is_file() and "kofu_udfs" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("kofu_udfs", _udfs_init, submodule_search_locations=[str(REPO / "udfs")])
    if _spec and _spec.loader:
        _mod = importlib.util.module_from_spec(_spec)
        sys.modules["kofu_udfs"] = _mod
        _spec.loader.exec_module(_mod)


# The log of kofu_xl.logs goes to a throw-away folder, never to the tester's profile.
if not os.environ.get("KOFU_LOG_DIR"):
    import tempfile

    os.environ["KOFU_LOG_DIR"] = tempfile.mkdtemp(prefix="kofu-log-")


FIXTURES = REPO / "tests" / "fixtures"

# Codes the upstream CSV conversion lost from 2021-08 on (it writes "<NA>"); the shipped table
# stores them filled in, the recreated files carry the quirk again.
_LOST_CODES = {("東京都", "三宅村"), ("東京都", "八丈町")}


def write_reference_stats(folder: Path) -> Path:
    """Recreate the official publication CSVs (UTF-8 with BOM, the upstream quoting, the lost
    codes as "<NA>") from the statistics shipped with the package, one file per publication.
    Where the originals are at hand, tests/test_stats.py proves the bytes equal them."""
    from kofu_xl.app.stats import render_stats_csv, shipped_stats

    folder.mkdir(parents=True, exist_ok=True)
    for table in shipped_stats():
        lines = render_stats_csv(table).splitlines(keepends=True)
        if table.count_date.isoformat() >= "2021-08-01":
            for i, line in enumerate(lines):
                fields = line.split(",")
                if (fields[1].strip('"'), fields[2].strip('"')) in _LOST_CODES:
                    lines[i] = ",".join(fields[:-1]) + ',"<NA>"\n'
        (folder / table.name).write_bytes(("\ufeff" + "".join(lines)).encode("utf-8"))
    return folder


_STATS_DIR: Path | None = None


def reference_stats_dir() -> Path:
    """The recreated publication CSVs, written once per test session."""
    global _STATS_DIR
    if _STATS_DIR is None:
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="kofu-stats-"))
        atexit.register(shutil.rmtree, root, True)
        _STATS_DIR = write_reference_stats(root / "issuance_stats")
    return _STATS_DIR


@pytest.fixture(scope="session")
def stats_dir() -> Path:
    """A folder of the official publication CSVs (recreated from the shipped statistics)."""
    return reference_stats_dir()


def seed_ref_data() -> dict:
    """The hand transcription of the seed plan (白井市, 2019-10-03), numbers as printed."""
    import json

    return json.loads((FIXTURES / "shiroi_2019.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_ref() -> dict:
    return seed_ref_data()
