"""The architecture of DESIGN.md §3, held by import-linter contracts and by these tests.

Each contract is run as the command line runs it; each test that says a back-edge fails plants
one in a copy of the package and watches the linter refuse it.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "kofu_xl"

LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, capture_output=True, text=True, timeout=300)


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_the_contracts_hold() -> None:
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 kept, 0 broken" in r.stdout


def test_the_layers_are_declared_as_designed() -> None:
    """Deleting or loosening a layer rule fails here (the linter alone would pass)."""
    contracts = _contracts()
    assert contracts["layers"]["layers"] == ["__main__", "cli | excel | frames", "app", "book", "core | ooxml", "errors | logs | _msgspec | _lazy_re"]
    assert contracts["layers"]["containers"] == ["kofu_xl"]
    assert contracts["layers"].get("exhaustive") is True
    assert {"kofu_xl.book", "kofu_xl.app", "kofu_xl.ooxml", "openpyxl", "xlwings", "pandas"} <= set(contracts["pure-core"]["forbidden_modules"])
    assert {"kofu_xl.core", "kofu_xl.book", "kofu_xl.app"} <= set(contracts["ooxml-no-domain"]["forbidden_modules"])
    assert {"kofu_xl.book", "kofu_xl.cli", "openpyxl"} <= set(contracts["udfs-over-core"]["forbidden_modules"])
    assert contracts["acyclic"]["type"] == "acyclic_siblings" and contracts["acyclic"]["ancestors"] == ["kofu_xl"]
    for contract in contracts.values():
        assert not contract.get("ignore_imports"), f"{contract['id']} ignores imports"


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("arch")
    shutil.copytree(PACKAGE, root / "kofu_xl", ignore=shutil.ignore_patterns("__pycache__", "*.xlsm"))
    shutil.copytree(REPO / "udfs", root / "kofu_udfs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("core/calc.py", "import kofu_xl.app.submit", "The core is pure"),
        ("core/rules.py", "import openpyxl", "The core is pure"),
        ("book/layout.py", "import kofu_xl.cli", "Layers"),
        ("ooxml/cellref.py", "import kofu_xl.core.calendar", "The OOXML toolkit knows no domain"),
        ("app/report.py", "import kofu_xl.app.submit", "No import cycles"),
        ("core/calendar.py", "import kofu_xl.core.rules", "No import cycles"),
    ],
)
def test_a_planted_back_edge_fails(copy_root: Path, module: str, planted: str, contract: str) -> None:
    target = copy_root / "kofu_xl" / module
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original.replace("from __future__ import annotations\n", f"from __future__ import annotations\n\n{planted}\n", 1), encoding="utf-8")
        r = _lint(copy_root)
    finally:
        target.write_text(original, encoding="utf-8")
    assert r.returncode != 0, f"{planted} in {module} passed the contracts"
    broken = r.stdout[r.stdout.index("Broken contracts"):]
    assert contract in broken, r.stdout


def _imports_inside_functions() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        names = inner.module if isinstance(inner, ast.ImportFrom) else ", ".join(a.name for a in inner.names)
                        out.append(f"{path.relative_to(REPO)}:{inner.lineno} {names}")
    return out


def test_imports_inside_functions_are_few_and_deliberate() -> None:
    """At most 13 beyond the command line's per-command imports (kofu_xl/cli/) and the
    package's lazy public names and msgspec's import (kofu_xl._msgspec): optional heavy or platform modules (xlwings, winreg), the
    ribbon's per-button use cases, and what only a rare path needs (the builder for a new plan
    the stored blank cannot give, the log's rotation, json for a plan read from a JSON file,
    the follow-up's arithmetic for the computed cells of a shape the stored formulas lack)."""
    inside = [i for i in _imports_inside_functions() if not i.startswith(("kofu_xl/cli/", "kofu_xl/__init__.py", "kofu_xl/_msgspec.py"))]
    assert len(inside) <= 13, "\n".join(inside)


COMMAND_IMPORTS = """
import io, json, sys
from contextlib import redirect_stdout
from kofu_xl.cli import main
with redirect_stdout(io.StringIO()):
    try:
        rc = main(ARGS)
    except SystemExit:  # --help
        pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("kofu_xl", "pandas", "openpyxl", "xlwings", "pydantic", "lxml", "numpy", "msgspec", "dataclasses", "ctypes", "html", "logging", "platformdirs", "socket", "typing_extensions", "inspect")))))
"""


def _modules_after(args: list[str]) -> set[str]:
    code = COMMAND_IMPORTS.replace("ARGS", repr(args))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.splitlines()[-1]))


HEAVY = ("pandas", "openpyxl", "xlwings", "pydantic", "lxml", "numpy")
USE_CASES_CHECK_NEVER_NEEDS = {
    "kofu_xl.app.followup",
    "kofu_xl.app.aggregate",
    "kofu_xl.app.doctor",
    "kofu_xl.app.stats",
    "kofu_xl.book.build",
    "kofu_xl.ooxml.edit",
    "kofu_xl.ooxml.package",
}


STDLIB_CHECK_NEVER_NEEDS = {"dataclasses", "ctypes", "html"}
# the log's rotation (logging.handlers loads socket, pickle and queue) until the log is about to be full
STDLIB_MODULES_CHECK_NEVER_NEEDS = {"logging.handlers", "socket"}
# msgspec's optional typing_extensions loads inspect, ast and dis (kofu_xl._msgspec)
OPTIONAL_CHECK_NEVER_NEEDS = {"typing_extensions", "inspect"}
# check writes nothing and logs only its failure (kofu_xl.cli): the log is loaded when one fails
LOG_CHECK_NEVER_NEEDS = {"logging", "platformdirs", "kofu_xl.logs"}
# the follow-up's arithmetic builds 実績比較's computed cells: a workbook of the stored shape reads
# its formulas from the stored file and builds none
CORE_CHECK_OF_THE_STORED_SHAPE_NEVER_NEEDS = {"kofu_xl.core.followup"}


def _roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_check_imports_only_what_it_needs() -> None:
    """`kofu-xl check`'s import graph as a fresh interpreter loads it: no other use case
    (followup, aggregate, doctor, stats), no workbook writer, no heavy library."""
    loaded = _modules_after(["check", "workbook/交付円滑化計画.xlsm"])
    assert "kofu_xl.app.check" in loaded and "kofu_xl.core.rules" in loaded and "msgspec" in loaded  # the probe sees the command's imports
    assert loaded & USE_CASES_CHECK_NEVER_NEEDS == set()
    assert _roots(loaded) & set(HEAVY) == set(), sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    # what costs start-up time for nothing: a dataclass compiles its methods when its module is
    # imported (~0.8 ms a class; the core's value types are msgspec structs), ctypes comes with
    # the Windows log folder's lookup, html only for entities an XML part cannot hold
    assert _roots(loaded) & STDLIB_CHECK_NEVER_NEEDS == set(), sorted(loaded)
    assert loaded & STDLIB_MODULES_CHECK_NEVER_NEEDS == set(), sorted(loaded)
    assert loaded & OPTIONAL_CHECK_NEVER_NEEDS == set(), sorted(loaded)
    assert loaded & LOG_CHECK_NEVER_NEEDS == set(), sorted(loaded)
    assert loaded & CORE_CHECK_OF_THE_STORED_SHAPE_NEVER_NEEDS == set(), sorted(loaded)


def test_submit_of_a_new_package_splices_without_openpyxl(tmp_path: Path) -> None:
    """`kofu-xl submit --no-pdf` of a plan whose package shape has a stored blank writes the
    package's workbook without openpyxl (kofu_xl.app.package_workbook): no builder, no heavy
    library but the editor's lxml."""
    from kofu_xl.book.assemble import assemble_workbook, shipped_macro_parts
    from kofu_xl.book.build import build_sheets
    from kofu_xl.core.model import load_plan
    from tests.core.test_rules import corrected_seed

    parts = shipped_macro_parts()
    assert parts is not None
    book = tmp_path / "計画.xlsm"
    book.write_bytes(assemble_workbook(build_sheets(load_plan(corrected_seed())[0]), *parts))
    loaded = _modules_after(["submit", str(book), "--no-pdf"])
    assert list((tmp_path / "提出").glob("*.xlsx")), "the probe wrote a package"
    assert "kofu_xl.book.package_content" in loaded and "kofu_xl.ooxml.splice" in loaded
    assert "kofu_xl.book.build" not in loaded
    # (lxml is the workbook editor's, loaded by every submit)
    assert _roots(loaded) & (set(HEAVY) - {"lxml"}) == set(), sorted(m for m in loaded if m.split(".")[0] in HEAVY)


def test_help_imports_no_use_case() -> None:
    loaded = _modules_after(["--help"])
    assert "kofu_xl.cli" in loaded
    assert not {m for m in loaded if m.startswith(("kofu_xl.app", "kofu_xl.book", "kofu_xl.core", "kofu_xl.ooxml"))}, loaded
    assert _roots(loaded) & {*HEAVY, "msgspec"} == set()


def test_the_command_line_starts_without_the_use_cases() -> None:
    code = "import sys, kofu_xl.cli; print(sorted(m for m in sys.modules if m.startswith('kofu_xl.')))"
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    loaded = set(eval(r.stdout))  # a list literal printed by the child
    assert not {m for m in loaded if m.startswith(("kofu_xl.app", "kofu_xl.book", "kofu_xl.core"))}, loaded


UDF_IMPORTS = """
import json, sys
import xlwings
before = set(sys.modules)
import kofu_udfs
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_udf_module_adds_only_the_core_to_xlwings() -> None:
    """What Excel waits for before the first KOFU_* value: ``import kofu_udfs`` beyond xlwings'
    own import loads the pure core and msgspec, never pydantic, pandas, openpyxl or lxml."""
    r = subprocess.run([sys.executable, "-c", UDF_IMPORTS], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    added = set(json.loads(r.stdout.splitlines()[-1]))
    assert "kofu_udfs" in added and "kofu_xl.core.calc" in added  # the probe sees the module's imports
    assert _roots(added) & set(HEAVY) == set(), sorted(m for m in added if m.split(".")[0] in HEAVY)
    # (KOFU_ACTUALS loads the statistics' reader at its first call)
    assert not {m for m in added if m.startswith(("kofu_xl.app", "kofu_xl.book", "kofu_xl.ooxml", "kofu_xl.cli"))}, added


def test_the_public_api() -> None:
    import kofu_xl
    from kofu_xl import KofuError, check, load_plan

    assert set(kofu_xl.__all__) == {"Finding", "KofuError", "Plan", "aggregate", "build_workbook", "check", "followup", "load_plan", "new_plan", "submit"}
    for name in kofu_xl.__all__:
        obj = getattr(kofu_xl, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
        first = obj.__doc__.strip().splitlines()[0]
        assert sum(c.isascii() for c in first) > len(first) / 2, f"{name}: the docstring is not in English: {first}"
    plan = load_plan()
    assert plan.basic.dantai_code == "122327"
    result = check(REPO / "workbook" / "交付円滑化計画.xlsm")
    assert result.counts["error"] > 0  # the seed's own inconsistencies
    with pytest.raises(KofuError):
        check(REPO / "no-such-file.xlsm")


def test_every_package_of_the_tree_is_installed() -> None:
    """pyproject's package list names every folder of kofu_xl with an __init__.py (a layer left
    out installs a kofu-xl whose command line cannot import it)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    tree = {".".join(p.parent.relative_to(REPO).parts) for p in PACKAGE.rglob("__init__.py")}
    assert tree <= set(config["packages"]), sorted(tree - set(config["packages"]))
