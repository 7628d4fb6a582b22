"""The xlwings VBA a standalone workbook carries: runtime modules, UDF wrappers, MacroOptions.

Mirrors `xlwings quickstart --standalone` (0.37.8): its workbook holds the package's
xlwings.bas unchanged as module "xlwings" (it already starts with `Attribute VB_Name` and
`#Const App = "Microsoft Excel"`) and addin/Dictionary.cls as class "Dictionary".
The UDF wrappers come from xlwings' own generator, `xlwings.udfs.generate_vba_wrapper`.
All VBA source returned here uses CRLF line ends, as VBA stores it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import itertools
import re
import sys
import types
from pathlib import Path
from typing import Iterator, NamedTuple

import xlwings

_PACKAGE_DIR = Path(xlwings.__file__).parent
_VERSION_RE = re.compile(r'XLWINGS_VERSION\s+As\s+String\s*=\s*"([^"]+)"', re.IGNORECASE)
_MAX_LINE = 1023  # VBA's physical line limit
_LINE_BUDGET = 900  # what an assignment line may use, leaving room for indent and target
_ASCII_RUN = 200  # longest single "..." literal
_reimport_counter = itertools.count()


class VbaModule(NamedTuple):
    name: str
    kind: str  # "module" | "class"
    source: str


def _read(path: Path) -> str:
    # Both files are pure ASCII with CRLF; keep them byte for byte.
    return path.read_bytes().decode("ascii")


def runtime_modules() -> list[VbaModule]:
    """The VBA runtime of a standalone workbook, read from the installed xlwings."""
    return [
        VbaModule("xlwings", "module", _read(_PACKAGE_DIR / "xlwings.bas")),
        VbaModule("Dictionary", "class", _read(_PACKAGE_DIR / "addin" / "Dictionary.cls")),
    ]


def vba_runtime_version(source: str) -> str | None:
    """The version in an xlwings.bas source (its XLWINGS_VERSION constant), else None."""
    match = _VERSION_RE.search(source)
    return match.group(1) if match else None


def runtime_version() -> str:
    version = vba_runtime_version(runtime_modules()[0].source)
    if version != xlwings.__version__:
        raise RuntimeError(f"xlwings.bas carries {version!r}, package is {xlwings.__version__}")
    return version


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


_PYWIN32_STUBS = {
    "pythoncom": lambda: {"CoInitialize": lambda: None},
    "pywintypes": lambda: {"com_error": type("com_error", (Exception,), {})},
    "win32com": dict,
    "win32com.client": lambda: {"Dispatch": lambda *args, **kwargs: None},
}


@contextlib.contextmanager
def _xlwings_udfs() -> Iterator[types.ModuleType]:
    """Import xlwings.udfs (stubbing pywin32 off Windows) and route xw.func/arg/ret to it.

    sys.modules, the xlwings package's attributes and the decorators are restored on exit.
    """
    saved_modules = dict(sys.modules)
    saved_attrs = {name: getattr(xlwings, name, None) for name in ("func", "arg", "ret", "udfs")}
    try:
        for name, attrs in _PYWIN32_STUBS.items():
            try:
                importlib.import_module(name)
            except ImportError:  # off Windows: a stub with what importing xlwings.udfs touches
                sys.modules[name] = stub = types.ModuleType(name)
                stub.__dict__.update(attrs(), __path__=[])
                parent, _, child = name.rpartition(".")
                if parent:
                    setattr(sys.modules[parent], child, stub)
        udfs = importlib.import_module("xlwings.udfs")
        xlwings.func, xlwings.arg, xlwings.ret = udfs.xlfunc, udfs.xlarg, udfs.xlret
        yield udfs
    finally:
        for name, value in saved_attrs.items():
            if value is None:
                xlwings.__dict__.pop(name, None)
            else:
                setattr(xlwings, name, value)
        for name in [n for n in sys.modules if n not in saved_modules]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _reimport(module: types.ModuleType) -> types.ModuleType:
    """Execute the module's file afresh under a unique sibling name, so that its
    decorators run again (while routed to xlwings.udfs) and attach __xlfunc__."""
    name = f"{module.__name__}__xlwings_vba_{next(_reimport_counter)}"
    spec = importlib.util.spec_from_file_location(name, module.__file__)
    fresh = importlib.util.module_from_spec(spec)
    sys.modules[name] = fresh  # dropped again when _xlwings_udfs() exits
    spec.loader.exec_module(fresh)
    return fresh


class _Book:
    Name = "workbook.xlsm"  # only the ".xlam" suffix matters (ActiveWorkbook vs ThisWorkbook)


def _require_ascii(text: str, what: str) -> str:
    if not text.isascii():
        raise ValueError(f"{what} is not ASCII; use ASCII names for UDFs and modules")
    return text


# Through COM a Python string stays a string: the UDF server cannot return an Excel error
# value. The wrappers therefore pass each result through KofuCellErrors, which turns the
# codes of Excel's errors ("#VALUE!", also inside an array) into CVErr(); a call that fails
# (Python not started, ...) gives #VALUE! instead of xlwings' default Err.Description text,
# which SUM would silently skip. The description is kept in KofuLastUdfError.
_CALL_UDF = re.compile(r"^(\s*)(\w+) = (XLPy\.CallUDF\(.*\))\s*$", re.MULTILINE)
_FAILED = re.compile(r"^(\s*)(\w+) = Err\.Description\s*$", re.MULTILINE)
CELL_ERRORS = {"#NULL!": 2000, "#DIV/0!": 2007, "#VALUE!": 2015, "#REF!": 2023, "#NAME?": 2029, "#NUM!": 2036, "#N/A": 2042}


def cell_errors_vba() -> str:
    """VBA helpers of the UDF module: Excel error codes in a UDF result become CVErr()."""
    cases = [f'        Case "{code}": KofuCellError = CVErr({number})' for code, number in CELL_ERRORS.items()]
    return "\n".join([
        "'Autogenerated by kofu_xl.ooxml.vba.xlwings_vba - changes are lost on build",
        "Public Function KofuCellErrors(ByVal result As Variant) As Variant",
        "    Dim r As Long, c As Long, twoDims As Boolean",
        "    If IsArray(result) Then",
        "        On Error Resume Next",
        "        c = LBound(result, 2)",
        "        twoDims = (Err.Number = 0)",
        "        On Error GoTo 0",
        "        For r = LBound(result, 1) To UBound(result, 1)",
        "            If twoDims Then",
        "                For c = LBound(result, 2) To UBound(result, 2)",
        "                    result(r, c) = KofuCellError(result(r, c))",
        "                Next c",
        "            Else",
        "                result(r) = KofuCellError(result(r))",
        "            End If",
        "        Next r",
        "        KofuCellErrors = result",
        "    Else",
        "        KofuCellErrors = KofuCellError(result)",
        "    End If",
        "End Function",
        "",
        "Private Function KofuCellError(ByVal value As Variant) As Variant",
        "    KofuCellError = value",
        "    If VarType(value) <> vbString Then Exit Function",
        "    Select Case value",
        *cases,
        "    End Select",
        "End Function",
        "",
        "Public Function KofuUdfFailed(ByVal description As String) As Variant",
        "    KofuLastUdfError = description",
        "    KofuUdfFailed = CVErr(2015)",
        "End Function",
        "",
    ])


def generate_udf_wrappers(module_name: str, module: types.ModuleType, *, excel_errors: bool = True) -> str:
    """VBA wrappers for the module's @xw.func functions, written by xlwings' own generator.

    Starts with `#Const App = "Microsoft Excel"` (as xlwings' import_udfs does): the
    wrappers branch on it and #Const is private to a module. With excel_errors (the
    default) each result passes through KofuCellErrors (see cell_errors_vba), appended.
    """
    buffer = io.StringIO()
    with _xlwings_udfs() as udfs:
        udfs.generate_vba_wrapper(module_name, _reimport(module), buffer, _Book())
    header = (
        "'Autogenerated from xlwings.udfs.generate_vba_wrapper - changes are lost on build\n"
        "#Const App = \"Microsoft Excel\" 'Adjust when using outside of Excel\n"
    )
    body = buffer.getvalue()
    if excel_errors:  # (module-level declarations come before every procedure)
        header += "Public KofuLastUdfError As String\n"
        body = _CALL_UDF.sub(lambda m: f"{m[1]}{m[2]} = KofuCellErrors({m[3]})", body)
        body = _FAILED.sub(lambda m: f"{m[1]}{m[2]} = KofuUdfFailed(Err.Description)", body)
        body += "\n" + cell_errors_vba()
    return _crlf(_require_ascii(header + body, "UDF wrapper source"))


def _tokens(text: str) -> list[str]:
    """VBA expression pieces: "..." literals for printable ASCII, ChrW(&H..) otherwise."""
    tokens: list[str] = []
    units = text.encode("utf-16-le", "surrogatepass")
    run = ""
    for i in range(0, len(units), 2):
        unit = int.from_bytes(units[i : i + 2], "little")
        if 0x20 <= unit < 0x7F and len(run) < _ASCII_RUN:
            run += chr(unit)
            continue
        if run:
            tokens.append('"' + run.replace('"', '""') + '"')
            run = ""
        if 0x20 <= unit < 0x7F:
            run = chr(unit)
        else:
            tokens.append(f"ChrW(&H{unit:04X})")
    if run or not tokens:
        tokens.append('"' + run.replace('"', '""') + '"')
    return tokens


def vba_string_literal(text: str) -> str:
    """An ASCII-only VBA expression evaluating to text: "abc" & ChrW(&H4EA4) & ..."""
    return " & ".join(_tokens(text))


def vba_assign_string(target: str, text: str, indent: str = "    ") -> list[str]:
    """Lines assigning text to target, each far below VBA's 1023-character limit and
    with no line continuations: `t = <part>` then `t = t & <part>`."""
    lines: list[str] = []
    current: list[str] = []
    for token in _tokens(text):
        if current and len(" & ".join(current + [token])) > _LINE_BUDGET:
            lines.append(" & ".join(current))
            current = []
        current.append(token)
    lines.append(" & ".join(current))
    result = [f"{indent}{target} = {lines[0]}"]
    result += [f"{indent}{target} = {target} & {part}" for part in lines[1:]]
    assert all(len(line) <= _MAX_LINE for line in result)
    return result


def _description(doc: str | None) -> str | None:
    if not doc:  # (xlwings' own fallback text names the build machine's file path)
        return None
    first_paragraph = inspect.cleandoc(doc).split("\n\n")[0]
    return " ".join(first_paragraph.split())[:255]


def generate_macro_options(module: types.ModuleType) -> str:
    """VBA `Public Sub KofuRegisterFunctions()`: Application.MacroOptions for each UDF
    (description, category, argument descriptions for the Insert Function dialog)."""
    with _xlwings_udfs():
        fresh = _reimport(module)
        udfs = [f for f in map(fresh.__dict__.get, dir(fresh)) if hasattr(f, "__xlfunc__")]
    out = [
        "'Autogenerated by kofu_xl.ooxml.vba.xlwings_vba - changes are lost on build",
        "Public Sub KofuRegisterFunctions()",
        "    Dim wasSaved As Boolean, prefix As String, desc As String, cat As String",
        "    Dim argDocs() As Variant",
        "    On Error Resume Next",
        "    wasSaved = ThisWorkbook.Saved",
        "    prefix = \"'\" & Replace(ThisWorkbook.Name, \"'\", \"''\") & \"'!\"",
    ]
    for function in udfs:
        meta = function.__xlfunc__
        name = _require_ascii(meta["name"], "UDF name")
        call = f'    Application.MacroOptions Macro:=prefix & "{name}"'
        out.append(f"    ' {name}")
        description = _description(function.__doc__)
        if description is not None:
            out += vba_assign_string("desc", description)
            call += ", Description:=desc"
        if isinstance(meta["category"], int):
            call += f", Category:={meta['category']}"
        else:
            out += vba_assign_string("cat", meta["category"])
            call += ", Category:=cat"
        # Arguments xlwings fills itself ("vba", or "caller") are not shown in Excel.
        docs = [a["doc"][:255] for a in meta["args"] if not a["vba"] and a["name"] != "caller"]
        if docs:
            out.append(f"    ReDim argDocs(0 To {len(docs) - 1})")
            for i, doc in enumerate(docs):
                out += vba_assign_string(f"argDocs({i})", doc)
            call += ", ArgumentDescriptions:=argDocs"
        out.append(call)
    out += ["    ThisWorkbook.Saved = wasSaved", "End Sub", ""]
    return _crlf(_require_ascii("\n".join(out), "MacroOptions source"))
