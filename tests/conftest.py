"""Test set-up: import the sources of this checkout, and find ../shared."""

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


def shared_dir() -> Path:
    """The team's shared folder: $KOFU_SHARED, else ../shared beside the checkout."""
    path = Path(os.environ.get("KOFU_SHARED") or REPO.parent / "shared")
    if not (path / "reference").is_dir():
        pytest.fail(f"shared folder with reference data not found at {path} (set KOFU_SHARED)")
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_dir()


@pytest.fixture(scope="session")
def seed_ref(shared: Path) -> dict:
    import json

    return json.loads((shared / "reference" / "shiroi_2019.json").read_text(encoding="utf-8"))
