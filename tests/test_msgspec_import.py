"""kofu_xl imports msgspec without typing_extensions (kofu_xl._msgspec): msgspec must read
every struct of kofu-xl, and convert a plan, exactly as it does with typing_extensions loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys, re, json, importlib, pkgutil
if MODE == "with":
    import typing_extensions  # loaded first: msgspec takes its names from it, as without kofu_xl
import kofu_xl.core, msgspec
import msgspec._utils
source = msgspec._utils._get_type_hints.__module__
quiet = "typing_extensions" not in sys.modules
for info in pkgutil.walk_packages(kofu_xl.__path__, "kofu_xl."):
    if info.name not in ("kofu_xl.excel", "kofu_xl.__main__"):
        importlib.import_module(info.name)
def subclasses(c):
    for s in c.__subclasses__():
        yield s
        yield from subclasses(s)
structs = {c for c in subclasses(msgspec.Struct) if c.__module__.startswith("kofu_xl")}
# the types whose hints msgspec reads through get_type_hints: named tuples and dataclasses
others = {c for name, m in list(sys.modules.items()) if name.startswith("kofu_xl") for c in vars(m).values()
          if isinstance(c, type) and c.__module__ == name and (hasattr(c, "__dataclass_fields__") or (issubclass(c, tuple) and hasattr(c, "_fields")))}
types = sorted(structs | others, key=lambda c: (c.__module__, c.__qualname__))
info = re.sub(r" at 0x[0-9a-f]+", "", repr(msgspec.inspect.multi_type_info(types)))
from kofu_xl.book.sources import shipped_plan_raw
from kofu_xl.core.model import load_plan
plan, findings = load_plan(shipped_plan_raw())
bad = dict(shipped_plan_raw(), basic={"population": [1]})
print(json.dumps({"source": source, "quiet": quiet, "structs": len(structs), "others": len(others), "info": info,
                  "plan": msgspec.json.encode(plan).decode(), "findings": repr(findings), "bad": repr(load_plan(bad)[1])}))
"""


def _probe(mode: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", PROBE.replace("MODE", repr(mode))], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_msgspec_reads_every_struct_the_same_without_typing_extensions() -> None:
    pytest.importorskip("typing_extensions")  # (in the test extras; a machine without it has one way only)
    with_te, without = _probe("with"), _probe("without")
    # each probe ran the way it says: msgspec took its names from typing_extensions, or from typing
    assert with_te["source"] == "typing_extensions" and without["source"] == "typing"
    assert without["quiet"] is True  # importing kofu_xl.core loads no typing_extensions
    assert with_te["structs"] == without["structs"] and int(without["structs"]) > 50
    assert with_te["others"] == without["others"] and int(without["others"]) >= 5  # NamedTuples and dataclasses
    for key in ("info", "plan", "findings", "bad"):
        assert _first_difference(str(with_te[key]), str(without[key])) is None, key


def _first_difference(a: str, b: str) -> str | None:
    """None, or the two texts around where they part (pytest's own diff of two ~280 KB texts takes minutes)."""
    if a == b:
        return None
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{a[max(0, i - 120):i + 120]!r}\n!=\n{b[max(0, i - 120):i + 120]!r}"
