"""Recalculating a workbook without Excel: pycel with every KOFU_* plugged in, and LibreOffice.

- recalculate(path) evaluates every formula cell with pycel, the KOFU_* functions being
  kofu_udfs' own (registered under pycel's lower-case names). Any function neither pycel nor
  kofu_udfs provides fails loudly (UnknownFunctionError naming sheet!cell and the function)
  before anything is evaluated, so no cell silently becomes #NAME?.
- libreoffice_recalc(path, out_dir) lets LibreOffice, an independent engine, recalculate a
  copy (throw-away profile with OOXMLRecalcMode=0, i.e. always recalculate on load).
  LibreOffice knows no KOFU_*: inject_udf_results() first writes a copy where each cell that
  calls one holds pycel's value as a constant, so LibreOffice checks the native formulas.
- cross_check(path, work_dir) does all three and lists where the engines disagree.

Never ship a file LibreOffice saved: these copies are for checking only.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

__all__ = [
    "FormulaCell",
    "Mismatch",
    "RecalcError",
    "UnknownFunctionError",
    "cached_values",
    "cross_check",
    "formula_cells",
    "functions_in",
    "inject_udf_results",
    "libreoffice_recalc",
    "Recalculation",
    "recalculate",
    "Recalculator",
    "is_error",
    "recalculation",
    "strip_cached_values",
    "without_python",
    "same_value",
]

Address = tuple[str, str]  # (sheet, "B4")

KOFU_PREFIX = "KOFU_"
_PLUGIN_MODULE = "kofu_xl._pycel_kofu_udfs"  # lives only in sys.modules (pycel imports plugins by name)
# pycel gives these a value that is silently wrong instead of failing (SUM(OFFSET(...)) is 0).
UNRELIABLE = {"OFFSET": "pycel evaluates SUM(OFFSET(...)) to 0 without an error"}
_PREFIXES = ("_xlfn.", "_xludf.", "_xlws.")
LIBREOFFICE_TIMEOUT = 180.0


class RecalcError(RuntimeError):
    """A workbook could not be recalculated faithfully."""


class UnknownFunctionError(RecalcError):
    """A formula calls a function that neither pycel nor kofu_udfs provides."""

    def __init__(self, sheet: str, cell: str, function: str, formula: str, why: str = "is not implemented") -> None:
        super().__init__(f"{sheet}!{cell}: function {function} {why} (formula {formula})")
        self.sheet, self.cell, self.function, self.formula = sheet, cell, function, formula


# ---------------------------------------------------------------- reading formulas


@dataclass(frozen=True)
class FormulaCell:
    """A cell computed by a formula. Every cell of an array formula is listed, each with the
    array's formula and its range (array_ref, e.g. "D8:Y8"); array_ref is None otherwise."""

    sheet: str
    cell: str
    formula: str
    array_ref: str | None = None

    @property
    def functions(self) -> tuple[str, ...]:
        return functions_in(self.formula)

    @property
    def calls_kofu(self) -> bool:
        return any(f.startswith(KOFU_PREFIX) for f in self.functions)


def functions_in(formula: str) -> tuple[str, ...]:
    """The functions a formula calls, upper-case, without _xlfn./_xludf. prefixes."""
    names = []
    for token in Tokenizer(formula).items:
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            name = token.value[:-1].upper()
            for prefix in _PREFIXES:
                if name.startswith(prefix.upper()):
                    name = name[len(prefix) :]
            names.append(name)
    return tuple(dict.fromkeys(names))


def formula_cells(path: str | os.PathLike[str]) -> list[FormulaCell]:
    """Every formula cell of a workbook, in sheet and row order."""
    wb = openpyxl.load_workbook(path)
    try:
        return _formula_cells(wb)
    finally:
        wb.close()


def _formula_cells(wb: openpyxl.Workbook) -> list[FormulaCell]:
    out: list[FormulaCell] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                value = c.value
                if isinstance(value, ArrayFormula):
                    text = value.text if value.text.startswith("=") else "=" + value.text
                    min_col, min_row, max_col, max_row = range_boundaries(value.ref)
                    for r in range(min_row, max_row + 1):
                        for col in range(min_col, max_col + 1):
                            out.append(FormulaCell(ws.title, f"{get_column_letter(col)}{r}", text, value.ref))
                elif isinstance(value, str) and value.startswith("=") and len(value) > 1:
                    out.append(FormulaCell(ws.title, c.coordinate, value))
    return out


# ---------------------------------------------------------------- pycel


def _udf_module(udfs: types.ModuleType | None) -> types.ModuleType:
    if udfs is None:
        import kofu_udfs as udfs  # noqa: PLC0415 - the package's own functions by default
    return udfs


def _kofu_functions(udfs: types.ModuleType) -> dict[str, object]:
    return {name: getattr(udfs, name) for name in dir(udfs) if name.startswith(KOFU_PREFIX) and callable(getattr(udfs, name))}


def _register_plugins(udfs: types.ModuleType, name: str = _PLUGIN_MODULE) -> str:
    """A module pycel can import by name, holding each KOFU_* under its lower-case name
    (also as _xludf_kofu_..., the spelling of a "_xludf."-prefixed call)."""
    plugins = types.ModuleType(name, "KOFU_* functions for pycel (generated by kofu_xl.recalc)")
    for function, fn in _kofu_functions(udfs).items():
        setattr(plugins, function.lower(), fn)
        setattr(plugins, "_xludf_" + function.lower(), fn)
    sys.modules[name] = plugins
    return name


_SIMPLE_SHEET = re.compile(r"^[^\W\d]\w*$")


@contextlib.contextmanager
def _pycel_fixes() -> Iterator[None]:
    """Work around a pycel 1.0b30 bug while recalculating, then undo it.

    pycel quotes a sheet name in the formulas it writes for the cells of an array formula
    only when the name has a space, so "本表1-1!B4:F4" is read as 本表1 minus 1!B4:F4.
    Quote every name that is not a plain identifier, as Excel does.
    """
    from openpyxl.utils import quote_sheetname
    from pycel.excelutil import AddressMixin

    original = AddressMixin.__dict__["quote_sheet"]

    def quote_sheet(sheet: str) -> str:
        return sheet if not sheet or _SIMPLE_SHEET.match(sheet) else quote_sheetname(sheet)

    AddressMixin.quote_sheet = staticmethod(quote_sheet)
    try:
        yield
    finally:
        AddressMixin.quote_sheet = original


def _defined_names(wb: openpyxl.Workbook) -> dict[str, list[tuple[str, str]]]:
    """Defined names in pycel's shape, {name: [(address, sheet)]}, read with openpyxl 3.1's
    API (pycel 1.0b30 still reads the pre-3.1 one and fails on any defined-name lookup)."""
    names: dict[str, list[tuple[str, str]]] = {}
    scopes = [wb.defined_names] + [ws.defined_names for ws in wb.worksheets]
    for scope in scopes:
        for name, definition in scope.items():
            with contextlib.suppress(Exception):  # a name that is not a range (a constant, #REF!)
                destinations = [(address, sheet) for sheet, address in definition.destinations if sheet in wb.sheetnames]
                if destinations:
                    names.setdefault(str(name), destinations)
    return names


def _pycel_knows(name: str, modules: list[types.ModuleType]) -> bool:
    """Whether pycel can evaluate a function (its own name mapping, lib modules and plugins)."""
    from pycel.excelformula import FunctionNode

    func = name.lower().replace(".", "_")
    if hasattr(FunctionNode, f"func_{func}"):
        return True
    python_name = FunctionNode.func_map.get(func, func)
    return any(getattr(m, python_name, None) is not None for m in modules)


def _check_functions(cells: list[FormulaCell], udfs: types.ModuleType, plugin_module: str) -> None:
    import importlib

    from pycel.excelformula import ExcelFormula

    modules = [importlib.import_module(m) for m in (plugin_module, *ExcelFormula.default_modules)]
    kofu = _kofu_functions(udfs)
    for fc in cells:
        for function in fc.functions:
            if function in UNRELIABLE:
                raise UnknownFunctionError(fc.sheet, fc.cell, function, fc.formula, f"is refused: {UNRELIABLE[function]}")
            if function.startswith(KOFU_PREFIX):
                if function not in kofu:
                    raise UnknownFunctionError(fc.sheet, fc.cell, function, fc.formula, "is not a kofu_udfs function")
            elif not _pycel_knows(function, modules):
                raise UnknownFunctionError(fc.sheet, fc.cell, function, fc.formula, "is not implemented by pycel")


def strip_cached_values(path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """A copy of the workbook holding its formulas but none of their saved results (openpyxl
    writes none), so that pycel, which returns a formula cell's saved result when it has
    one, evaluates every formula from the inputs."""
    wb = openpyxl.load_workbook(path)
    try:
        wb.save(out_path)
    finally:
        wb.close()
    return Path(out_path)


def without_python(udfs: types.ModuleType | None = None) -> types.ModuleType:
    """kofu_udfs as a reader without Python sees it: every KOFU_* gives #NAME?."""
    stub = types.ModuleType("kofu_udfs_unavailable")
    for name in _kofu_functions(_udf_module(udfs)):
        setattr(stub, name, lambda *args, **kwargs: "#NAME?")
    return stub


class Recalculation:
    """pycel's compiled copy of a workbook, its saved results stripped (see
    `strip_cached_values`); use as a context manager (`recalculation`)."""

    def __init__(self, compiler: object, cells: list[FormulaCell], python: bool) -> None:
        self.compiler = compiler
        self.cells = cells
        self.python = python

    def evaluate(self, sheet: str, cell: str, formula: str | None = None) -> object:
        """The value of one cell; with ``formula``, the value it would have holding that formula
        instead of its own (the workbook is left as it was)."""
        from pycel.excelformula import UnknownFunction

        address = f"{_quote(sheet)}!{cell}"
        key = f"{sheet}!{cell}"
        original = None
        if formula is not None:
            self.compiler.evaluate(address)
            original = self.compiler.cell_map[key]
            self.compiler.cell_map[key] = self.compiler.Cell(original.address, value=None, formula=formula, excel=self.compiler.excel)
        try:
            value = self.compiler.evaluate(address)
        except UnknownFunction as exc:  # pragma: no cover - _check_functions is meant to catch these first
            raise UnknownFunctionError(sheet, cell, "?", formula or "", f"is unknown to pycel: {exc}") from exc
        except Exception as exc:
            why = f"{type(exc).__name__}: {_last_line(exc)}"
            raise RecalcError(f"{sheet}!{cell}: pycel cannot evaluate {formula or ''}: {why}") from exc
        finally:
            if original is not None:
                self.compiler.cell_map[key] = original
        compiled = getattr(self.compiler.cell_map.get(key), "python_code", "") or ""
        if self.python and (value == "#NAME?" or '"#NAME?"' in compiled):
            # pycel compiles a name it cannot resolve to the constant "#NAME?", which an
            # IFERROR() around it would hide: fail on the compiled code, not just the value.
            raise RecalcError(f"{sheet}!{cell}: {formula or ''} refers to a name pycel cannot resolve (#NAME?)")
        return value

    def values(self) -> dict[Address, object]:
        return {(fc.sheet, fc.cell): self.evaluate(fc.sheet, fc.cell) for fc in self.cells}

    def hold(self, values: Mapping[Address, object]) -> None:
        """Let these formula cells keep a saved result instead of computing, as LibreOffice
        keeps the saved number of an ordinary formula (notes/libreoffice-cached-values.md);
        the cells depending on them are computed again."""
        formulas = {(fc.sheet, fc.cell) for fc in self.cells}
        for sheet, cell in formulas:
            self.evaluate(sheet, cell)
        for (sheet, cell), value in values.items():
            if (sheet, cell) in formulas:
                self.compiler.set_value(f"{sheet}!{cell}", value)


@contextlib.contextmanager
def recalculation(path: str | os.PathLike[str], *, udfs: types.ModuleType | None = None, python: bool = True) -> Iterator[Recalculation]:
    """Compile a workbook with pycel, its saved results stripped first, the KOFU_* functions
    plugged in (``python=False``: every KOFU_* gives #NAME?, as in a reader without Python)."""
    from pycel import ExcelCompiler

    udfs = _udf_module(udfs)
    plugin_module = _register_plugins(udfs) if python else _register_plugins(without_python(udfs), _PLUGIN_MODULE + "_unavailable")
    with tempfile.TemporaryDirectory(prefix="kofu-recalc-") as tmp, _pycel_fixes():
        stripped = strip_cached_values(path, Path(tmp) / "stripped.xlsx")
        compiler = ExcelCompiler(filename=str(stripped), plugins=[plugin_module])
        compiler.excel._defined_names = _defined_names(compiler.excel.workbook)
        # pycel rewrites array formulas in its copy of the book: list them from the file.
        cells = formula_cells(stripped)
        _check_functions(cells, udfs, plugin_module)
        yield Recalculation(compiler, cells, python)


def recalculate(path: str | os.PathLike[str], *, udfs: types.ModuleType | None = None, python: bool = True) -> dict[Address, object]:
    """Recalculate every formula cell of an .xlsx/.xlsm with pycel and the KOFU_* functions,
    from the inputs: the saved results are stripped first (pycel would return them).

    Returns {(sheet, "B4"): value} for every formula cell (each cell of an array formula).
    Values are what Excel would hold: numbers, text ("" for an empty KOFU_* result),
    booleans, error texts such as "#DIV/0!". Raises UnknownFunctionError for a function no
    engine here provides (checked before evaluation, branches not taken included), and
    RecalcError for a cell pycel cannot evaluate or that evaluates to #NAME? (``python=False``:
    every KOFU_* gives #NAME?, as in a reader without Python, and #NAME? is a value).
    """
    with recalculation(path, udfs=udfs, python=python) as r:
        return r.values()


class Recalculator:
    """A workbook compiled once by pycel, with the KOFU_* plugged in: evaluate every formula
    cell, change an input cell (set), evaluate again. Used as a context manager.

    pycel returns the saved value of a formula cell instead of evaluating it: give it a
    book without cached values (an openpyxl load/save drops them; see strip_cached_values).
    """

    def __init__(self, path: str | os.PathLike[str], *, udfs: types.ModuleType | None = None) -> None:
        self.path = Path(path)
        self.udfs = _udf_module(udfs)
        self._fixes = _pycel_fixes()

    def __enter__(self) -> Recalculator:
        from pycel import ExcelCompiler

        plugin_module = _register_plugins(self.udfs)
        self._fixes.__enter__()
        try:
            self.compiler = ExcelCompiler(filename=str(self.path), plugins=[plugin_module])
            self.compiler.excel._defined_names = _defined_names(self.compiler.excel.workbook)
            # pycel rewrites array formulas in its copy of the book: list them from the file.
            self.cells = formula_cells(self.path)
            _check_functions(self.cells, self.udfs, plugin_module)
        except BaseException:
            self._fixes.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._fixes.__exit__(*exc_info)

    def set(self, sheet: str, cell: str, value: object) -> bool:
        """Change an input cell; its dependents are evaluated afresh by the next evaluate().
        False (and nothing changed) when no formula refers to the cell."""
        from pycel.excelutil import AddressRange

        address = AddressRange.create(f"{_quote(sheet)}!{cell}").address
        if address not in self.compiler.cell_map:
            return False
        self.compiler.set_value(address, value)
        return True

    def evaluate(self) -> dict[Address, object]:
        from pycel.excelformula import UnknownFunction

        values: dict[Address, object] = {}
        for fc in self.cells:
            address = f"{_quote(fc.sheet)}!{fc.cell}"
            try:
                value = self.compiler.evaluate(address)
            except UnknownFunction as exc:  # pragma: no cover - _check_functions is meant to catch these first
                raise UnknownFunctionError(fc.sheet, fc.cell, "?", fc.formula, f"is unknown to pycel: {exc}") from exc
            except Exception as exc:
                why = f"{type(exc).__name__}: {_last_line(exc)}"
                raise RecalcError(f"{fc.sheet}!{fc.cell}: pycel cannot evaluate {fc.formula}: {why}") from exc
            compiled = getattr(self.compiler.cell_map.get(f"{fc.sheet}!{fc.cell}"), "python_code", "") or ""
            if value == "#NAME?" or '"#NAME?"' in compiled:
                # pycel compiles a name it cannot resolve to the constant "#NAME?", which an
                # IFERROR() around it would hide: fail on the compiled code, not just the value.
                raise RecalcError(f"{fc.sheet}!{fc.cell}: {fc.formula} refers to a name pycel cannot resolve (#NAME?)")
            values[(fc.sheet, fc.cell)] = value
        return values


def is_error(value: object) -> bool:
    """Whether a recalculated value is one of Excel's error values."""
    from pycel.excelutil import ERROR_CODES

    return isinstance(value, str) and value in ERROR_CODES


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ---------------------------------------------------------------- LibreOffice


def inject_udf_results(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    values: Mapping[Address, object] | None = None,
) -> Path:
    """Write a copy of the workbook in which every cell whose formula calls a KOFU_* function
    holds its value as a constant (a whole array formula is replaced by its values).

    values are recalculate()'s result (computed here when not given). The copy is an .xlsx
    without VBA, for LibreOffice to check the native formulas around the KOFU_* cells.
    """
    path, out_path = Path(path), Path(out_path)
    if values is None:
        values = recalculate(path)
    wb = openpyxl.load_workbook(path)
    try:
        for fc in _formula_cells(wb):
            if not fc.calls_kofu:
                continue
            key = (fc.sheet, fc.cell)
            if key not in values:
                raise RecalcError(f"{fc.sheet}!{fc.cell}: no computed value to inject for {fc.formula}")
            wb[fc.sheet][fc.cell].value = values[key]
        wb.save(out_path)
    finally:
        wb.close()
    return out_path


_RECALC_ON_LOAD = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _soffice() -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise RecalcError("LibreOffice (soffice) is not installed")


def libreoffice_recalc(
    path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, timeout: float = LIBREOFFICE_TIMEOUT
) -> Path:
    """Let LibreOffice recalculate every formula of a workbook and save it as .xlsx in out_dir.

    Runs headless with a throw-away user profile whose registrymodifications.xcu sets
    OOXMLRecalcMode=0 ("always recalculate"), so no cached value survives. Returns the path
    of the recalculated copy. Raises RecalcError on failure or after timeout seconds.
    """
    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (path.stem + ".xlsx")
    if target == path:
        raise ValueError(f"{path} would be overwritten: choose another out_dir")
    target.unlink(missing_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="kofu-lo-profile-"))
    try:
        (profile / "user").mkdir()
        (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ON_LOAD, encoding="utf-8")
        command = [
            _soffice(),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nolockcheck",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out_dir),
            str(path),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # soffice and the soffice.bin it started
            process.communicate()
            raise RecalcError(f"LibreOffice did not finish {path.name} within {timeout:g} s") from None
        if process.returncode != 0 or not target.is_file():
            output = (stdout + stderr).decode("utf-8", "replace").strip()
            raise RecalcError(f"LibreOffice failed on {path.name} (exit {process.returncode}): {output}")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return target


def cached_values(path: str | os.PathLike[str], cells: list[Address] | None = None) -> dict[Address, object]:
    """The values a workbook file holds (as last calculated by whoever saved it)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    try:
        if cells is None:
            return {
                (ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
            }
        return {(sheet, cell): wb[sheet][cell].value for sheet, cell in cells}
    finally:
        wb.close()


# ---------------------------------------------------------------- comparing engines


def same_value(a: object, b: object, *, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """Whether two engines' values for a cell agree: numbers within a relative tolerance
    (binary floating point differs in the last bits between engines), empty equals "",
    booleans only equal booleans, text and error texts exactly."""
    a = "" if a is None else a
    b = "" if b is None else b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Mismatch:
    sheet: str
    cell: str
    formula: str
    pycel: object
    libreoffice: object

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell} {self.formula}: pycel {self.pycel!r} != LibreOffice {self.libreoffice!r}"


def cross_check(
    path: str | os.PathLike[str], work_dir: str | os.PathLike[str], *, timeout: float = LIBREOFFICE_TIMEOUT
) -> tuple[dict[Address, object], list[Mismatch]]:
    """Recalculate with pycel, inject the KOFU_* results, let LibreOffice recalculate the
    native formulas, and list the native formula cells where the two engines disagree.

    Returns (pycel's values of every formula cell, mismatches).
    """
    path, work_dir = Path(path), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    values = recalculate(path)
    injected = inject_udf_results(path, work_dir / f"{path.stem}.injected.xlsx", values)
    recalculated = libreoffice_recalc(injected, work_dir / "libreoffice", timeout=timeout)
    native = [fc for fc in formula_cells(path) if not fc.calls_kofu]
    lo = cached_values(recalculated, [(fc.sheet, fc.cell) for fc in native])
    mismatches = [
        Mismatch(fc.sheet, fc.cell, fc.formula, values[(fc.sheet, fc.cell)], lo[(fc.sheet, fc.cell)])
        for fc in native
        if not same_value(values[(fc.sheet, fc.cell)], lo[(fc.sheet, fc.cell)])
    ]
    return values, mismatches
