import importlib.util
import re
import sys
from pathlib import Path

import pytest
import xlwings

from kofu_xl.ooxml.vba import xlwings_vba

FIXTURE = Path(__file__).parent / "fixtures" / "sample_udfs.py"
NAMES = ["KOFU_SAMPLE_RATE", "KOFU_SAMPLE_TABLE", "KOFU_SAMPLE_TOTAL"]
CATEGORY = "交付円滑化"


@pytest.fixture(scope="module")
def sample_udfs():
    spec = importlib.util.spec_from_file_location("sample_udfs", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A tiny evaluator for the ASCII expressions vba_string_literal emits.
_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"|ChrW\(&H([0-9A-F]{1,4})\))\s*')


def evaluate(expression: str) -> str:
    units, pos = [], 0
    while True:
        match = _TOKEN.match(expression, pos)
        assert match, f"cannot parse at {pos}: {expression[pos:pos + 40]!r}"
        if match.group(2) is not None:
            units.append(int(match.group(2), 16))
        else:
            units.extend(ord(c) for c in match.group(1).replace('""', '"'))
        pos = match.end()
        if pos == len(expression):
            break
        assert expression.startswith("& ", pos), expression[pos:]
        pos += 2
    raw = b"".join(u.to_bytes(2, "little") for u in units)
    return raw.decode("utf-16-le", "surrogatepass")


def run_assignments(lines: list[str], target: str) -> str:
    value = None
    for line in lines:
        lhs, rhs = line.strip().split(" = ", 1)
        assert lhs == target
        if value is None:
            value = evaluate(rhs)
        else:
            assert rhs.startswith(f"{target} & ")
            value += evaluate(rhs[len(target) + 3 :])
    return value


def test_wrappers_come_from_xlwings_generator(sample_udfs):
    vba = xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs)
    for name in NAMES:
        assert re.search(rf"^Function {name}\(", vba, re.MULTILINE), name
        assert f'{name} = KofuCellErrors(XLPy.CallUDF("sample_udfs", "{name}", Array(' in vba
    plain = xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs, excel_errors=False)
    assert "KofuCellErrors" not in plain and 'XLPy.CallUDF("sample_udfs"' in plain  # xlwings' own text
    assert "Function KOFU_SAMPLE_RATE(issued, population, Optional digits)\r\n" in vba
    assert "Function KOFU_SAMPLE_TOTAL(row)\r\n    Application.Volatile\r\n" in vba
    assert "Array(row), ThisWorkbook, Application.Caller)" in vba
    assert vba.count("Application.Volatile") == 1  # only the volatile function
    assert '#Const App = "Microsoft Excel"' in vba  # the wrappers branch on it
    assert vba.isascii() and "\n" not in vba.replace("\r\n", "")


def test_generation_is_deterministic(sample_udfs):
    first = xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs)
    assert xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs) == first
    options = xlwings_vba.generate_macro_options(sample_udfs)
    assert xlwings_vba.generate_macro_options(sample_udfs) == options


def test_sys_modules_and_decorators_are_restored(sample_udfs):
    before = dict(sys.modules)
    decorators = (xlwings.func, xlwings.arg, xlwings.ret)
    xlwings_vba.generate_udf_wrappers("sample_udfs", sample_udfs)
    xlwings_vba.generate_macro_options(sample_udfs)
    assert dict(sys.modules) == before
    assert "pythoncom" not in sys.modules and "xlwings.udfs" not in sys.modules
    assert (xlwings.func, xlwings.arg, xlwings.ret) == decorators
    assert not hasattr(sample_udfs.KOFU_SAMPLE_RATE, "__xlfunc__")  # original untouched


def test_runtime_modules_from_package():
    modules = xlwings_vba.runtime_modules()
    assert [(m.name, m.kind) for m in modules] == [("xlwings", "module"), ("Dictionary", "class")]
    bas, cls = modules[0].source, modules[1].source
    assert bas.startswith('Attribute VB_Name = "xlwings"\r\n#Const App = "Microsoft Excel"')
    assert 'Public Const XLWINGS_VERSION As String = "0.37.8"' in bas
    assert cls.startswith("VERSION 1.0 CLASS") and 'Attribute VB_Name = "Dictionary"' in cls
    assert xlwings_vba.runtime_version() == "0.37.8" == xlwings.__version__


def test_runtime_matches_the_standalone_quickstart():
    olevba = pytest.importorskip("oletools.olevba")
    path = Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"
    parser = olevba.VBA_Parser(str(path))
    shipped = {Path(stream).name: code for _, stream, _, code in parser.extract_all_macros()}
    parser.close()
    # Besides document modules and the sample macro Module1, it carries exactly the runtime.
    assert set(shipped) - {"ThisWorkbook", "Sheet1", "Sheet2", "Module1"} == {"xlwings", "Dictionary"}
    modules = {m.name: m.source for m in xlwings_vba.runtime_modules()}
    assert shipped["xlwings"].replace("\r\n", "\n").strip() == modules["xlwings"].replace("\r\n", "\n").strip()
    body = modules["Dictionary"].split("Attribute VB_Exposed = True\r\n", 1)[1]
    assert body.replace("\r\n", "\n").lower() in shipped["Dictionary"].replace("\r\n", "\n").lower()


def test_vba_runtime_version_parses_any_source():
    assert xlwings_vba.vba_runtime_version('Public Const XLWINGS_VERSION As String = "1.2.3"') == "1.2.3"
    assert xlwings_vba.vba_runtime_version("Option Explicit\r\nSub X()\r\nEnd Sub") is None


@pytest.mark.parametrize(
    "text",
    ["", "abc", "  padded  ", 'say "hi" ""', "交付円滑化計画", "１２３ / 14.9% 〜 ～", "a\r\nb\tc", "😀 emoji", "x" * 700],
)
def test_vba_string_literal_round_trips(text):
    expression = xlwings_vba.vba_string_literal(text)
    assert expression.isascii()
    assert evaluate(expression) == text


def test_long_text_is_split_through_a_variable():
    text = ("交付率が国の下限値を下回っています。" * 40) + ' "end"'
    lines = xlwings_vba.vba_assign_string("desc", text)
    assert len(lines) > 1
    assert all(line.isascii() and len(line) <= 1023 and not line.endswith(" _") for line in lines)
    assert run_assignments(lines, "desc") == text


def test_macro_options(sample_udfs):
    vba = xlwings_vba.generate_macro_options(sample_udfs)
    lines = vba.split("\r\n")
    assert vba.isascii() and all(len(line) <= 1023 for line in lines)
    assert lines[1] == "Public Sub KofuRegisterFunctions()" and "    On Error Resume Next" in lines
    for name in NAMES:
        assert f'Application.MacroOptions Macro:=prefix & "{name}", Description:=desc' in vba
    assert run_assignments([line for line in lines if line.startswith("    cat = ")][:1], "cat") == CATEGORY
    # Description: first docstring paragraph only; argument docs in order.
    rate = lines.index("    ' KOFU_SAMPLE_RATE")
    block = lines[rate : lines.index("    ' KOFU_SAMPLE_TABLE")]
    assert run_assignments([l for l in block if l.startswith("    desc = ")], "desc") == "交付率 (%) を返します。"
    docs = [evaluate(l.split(" = ", 1)[1]) for l in block if l.startswith("    argDocs(")]
    assert docs == ["累計交付枚数", "住民基本台帳人口 (2019-01-01)", "小数点以下の桁数"]
    assert "    ReDim argDocs(0 To 2)" in block


def test_caller_argument_is_filled_by_xlwings(tmp_path):
    source = tmp_path / "caller_udfs.py"
    source.write_text(
        "import xlwings as xw\n\n\n"
        "@xw.func\n@xw.arg('x', doc='value')\n"
        "def WITH_CALLER(x, caller):\n    return caller.address\n",
        encoding="utf-8",
    )
    spec = importlib.util.spec_from_file_location("caller_udfs", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wrappers = xlwings_vba.generate_udf_wrappers("caller_udfs", module)
    assert "Function WITH_CALLER(x)\r\n" in wrappers and "Array(x, Nothing)" in wrappers
    options = xlwings_vba.generate_macro_options(module)
    assert "ReDim argDocs(0 To 0)" in options and "Category:=cat" in options
    assert "Description:=" not in options  # no docstring: no machine-specific fallback text
