"""`kofu-xl doctor`: the shipped workbook, broken set-ups it must detect, and the
Windows checks through injected seams (registry, files, PATH, other interpreters).

Off Windows the Windows checks report SKIP and never fail a run; on a fake Windows PC
(`System(platform="win32", ...)`) they run for real against fakes.
"""

from __future__ import annotations

import importlib
import json
import ntpath
import re
import shutil
import struct
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlwings

from kofu_xl.app import doctor
from kofu_xl.app.doctor import (
    ASR_OFFICE_CHILD_PROCESS,
    ASR_OFFICE_WIN32_API,
    BookFacts,
    Context,
    Status,
    System,
    check_conf,
    check_conf_values,
    check_defender,
    check_defender_win32,
    check_dll,
    check_excel,
    check_functions,
    check_imports,
    check_interpreter,
    check_macro_security,
    check_mark_of_the_web,
    check_onedrive,
    check_python,
    check_python_bits,
    check_store_python,
    check_vba_runtime,
    check_xlwings,
    conf_entries,
    current_system,
    doctor_message,
    pe_bits,
    render_text,
    run_doctor,
)
from kofu_xl.ooxml.vba.ovba_read import read_module_sources

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
VERSION = xlwings.__version__
WINDOWS_ONLY = {"store-python", "excel", "interpreter", "xlwings-dll", "onedrive", "mark-of-the-web", "macro-security", "defender-asr", "defender-asr-win32", "xlwings-addin"}


def by_id(report: doctor.DoctorReport) -> dict[str, doctor.CheckResult]:
    return {r.id: r for r in report.results}


def ribbon_functions_missing() -> list[str]:
    """Functions the shipped ribbon calls that kofu_xl.excel does not have (yet)."""
    import kofu_xl.excel
    from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS

    return [b.python_function for b in RIBBON_BUTTONS if not callable(getattr(kofu_xl.excel, b.python_function, None))]


# ---------------------------------------------------------------- workbooks with broken set-ups


def rezip(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, replace.get(info.filename, zin.read(info)))
    return target


@pytest.fixture(scope="module")
def other_runtime(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shipped workbook with an xlwings VBA runtime of another version."""
    from kofu_xl.book.vba import vba_modules
    from kofu_xl.ooxml.vba.ovba import VbaModule, build_vba_project

    other = "0.36.1"
    modules = []
    for m in vba_modules():
        if m.name == "xlwings":
            source = m.source.replace(f'XLWINGS_VERSION As String = "{VERSION}"', f'XLWINGS_VERSION As String = "{other}"')
            source = source.replace(f"-{VERSION}.dll", f"-{other}.dll")
            assert source != m.source
            m = VbaModule(m.name, m.kind, source)
        modules.append(m)
    vba = build_vba_project(modules, project_name="KofuXl")
    path = tmp_path_factory.mktemp("other") / "交付円滑化計画.xlsm"
    return rezip(SHIPPED, path, {"xl/vbaProject.bin": vba}), other


@pytest.fixture(scope="module")
def without_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wb = openpyxl.load_workbook(SHIPPED, keep_vba=True)
    del wb["xlwings.conf"]
    path = tmp_path_factory.mktemp("noconf") / "交付円滑化計画.xlsm"
    wb.save(path)
    return path


@pytest.fixture()
def broken_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module on sys.path that fails to import the way a broken binary package does."""
    name = "kofu_doctor_broken_mod"
    (tmp_path / f"{name}.py").write_text('raise ImportError("DLL load failed while importing _speedups: 指定されたモジュールが見つかりません。")\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


# ---------------------------------------------------------------- on this machine


def test_shipped_workbook_on_this_machine() -> None:
    report = run_doctor(SHIPPED)
    results = by_id(report)
    missing = ribbon_functions_missing()
    for id in ("python", "xlwings", "vba-runtime", "import:kofu_udfs", "import:kofu_xl.excel", "xlwings-conf", "xlwings-conf-values", "python-bits"):
        assert results[id].status is Status.OK, results[id]
    assert VERSION in results["vba-runtime"].message
    assert "UDF MODULES = kofu_udfs" in results["xlwings-conf"].message
    with zipfile.ZipFile(SHIPPED) as z:
        wrappers = read_module_sources(z.read("xl/vbaProject.bin"), {"KofuUdfs"})["KofuUdfs"]
    n_udfs = len(set(re.findall(r'CallUDF\("kofu_udfs", "(KOFU_\w+)"', wrappers)))
    assert n_udfs >= 15 and f"ワークシート関数 {n_udfs} 個" in results["functions"].message  # ours, not xlwings' own
    assert not any(id.startswith("import:xlwings") for id in results)
    assert (results["functions"].status is Status.NG) == bool(missing)
    for name in missing:
        assert f"kofu_xl.excel.{name}" in results["functions"].message
    if sys.platform != "win32":
        assert {r.id for r in report.results if r.status is Status.SKIP} == WINDOWS_ONLY
        assert all("Windows ではないため" in results[id].message for id in WINDOWS_ONLY)
    assert report.exit_code == (1 if missing else 0)


def test_cli_on_the_shipped_workbook(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from kofu_xl.cli import main

    monkeypatch.chdir(REPO)  # no WORKBOOK: the checkout's workbook
    rc = main(["doctor"])
    out = capsys.readouterr().out
    assert rc == (1 if ribbon_functions_missing() else 0)
    assert f"ブック: {SHIPPED}" in out
    assert re.search(r"^OK\s+必須\s+vba-runtime\s+ブックの VBA ランタイムは xlwings " + re.escape(VERSION), out, re.MULTILINE)
    assert f"終了コード {rc}" in out
    if sys.platform != "win32":
        assert "この PC は Windows ではありません" in out

    rc_json = main(["doctor", str(SHIPPED), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc_json == rc == data["exit_code"] and data["ok"] == (rc == 0)
    assert data["workbook"] == str(SHIPPED)
    assert {c["id"] for c in data["checks"]} >= {"python", "vba-runtime", "xlwings-conf", "defender-asr"}
    assert all(set(c) == {"id", "title", "status", "required", "message", "fix"} for c in data["checks"])


def test_without_a_workbook_the_workbook_checks_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from kofu_xl.cli import main

    monkeypatch.chdir(tmp_path)
    main(["doctor"])
    out = capsys.readouterr().out
    assert "ブック: なし（ブックが指定されておらず、カレントフォルダーに workbook/交付円滑化計画.xlsm もありません" in out
    assert re.search(r"^SKIP\s+必須\s+vba-runtime\s", out, re.MULTILINE)
    assert re.search(r"^SKIP\s+必須\s+xlwings-conf\s", out, re.MULTILINE)
    assert re.search(r"^OK\s+必須\s+import:kofu_udfs\s", out, re.MULTILINE)


# ---------------------------------------------------------------- broken set-ups


def test_vba_runtime_differs_from_installed_xlwings(other_runtime: tuple[Path, str]) -> None:
    path, other = other_runtime
    report = run_doctor(path)
    r = by_id(report)["vba-runtime"]
    assert r.status is Status.NG and r.required
    assert f"xlwings {other}" in r.message and f"この PC の xlwings は {VERSION}" in r.message
    assert f"xlwings64-{other}.dll" in r.message
    assert "kofu-xl build --plan" in r.fix and str(path) in r.fix
    assert report.exit_code == 1


def test_vba_runtime_fix_when_the_pc_has_the_wrong_xlwings() -> None:
    """The workbook matches kofu-xl's pin but the PC's xlwings was changed: reinstall the pin."""
    system = current_system()
    system.package_version = lambda name: {"xlwings": "0.38.0", "kofu-xl": "0.1.0"}.get(name)
    system.package_requires = lambda name: [f"xlwings=={VERSION}", "pandas>=2.1"] if name == "kofu-xl" else []
    report = run_doctor(SHIPPED, system=system, checks=[check_xlwings, check_vba_runtime])
    x, v = by_id(report)["xlwings"], by_id(report)["vba-runtime"]
    assert x.status is Status.NG and f"xlwings 0.38.0 が入っていますが、kofu-xl 0.1.0 は xlwings {VERSION}" in x.message
    assert f"python -m pip install xlwings=={VERSION}" in x.fix
    assert v.status is Status.NG and f"python -m pip install xlwings=={VERSION}" in v.fix and "build --plan" not in v.fix


def test_missing_conf_sheet(without_conf: Path) -> None:
    report = run_doctor(without_conf)
    r = by_id(report)["xlwings-conf"]
    assert r.status is Status.NG and r.required
    assert "xlwings.conf シートがありません" in r.message and "ADD_WORKBOOK_TO_PYTHONPATH" in r.message
    assert "kofu-xl build --plan" in r.fix and "UDF Modules = kofu_udfs" in r.fix
    assert by_id(report)["vba-runtime"].status is Status.OK  # the VBA survived; only the sheet is gone
    assert by_id(report)["xlwings-conf-values"].status is Status.SKIP
    assert report.exit_code == 1


def test_module_that_does_not_import(broken_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "REQUIRED_MODULES", (*doctor.REQUIRED_MODULES, broken_module))
    report = run_doctor(None)
    r = by_id(report)[f"import:{broken_module}"]
    assert r.status is Status.NG and r.required
    assert "ImportError: DLL load failed while importing _speedups" in r.message
    assert "pywin32" in r.fix  # the DLL hint
    assert by_id(report)["import:kofu_udfs"].status is Status.OK
    assert report.exit_code == 1


def test_udf_module_that_does_not_import_leaves_its_functions_unchecked() -> None:
    system = current_system()

    def importer(name: str) -> Any:
        if name == "kofu_udfs":
            raise SyntaxError("invalid syntax (__init__.py, line 3)")
        return importlib.import_module(name)

    system.import_module = importer
    report = run_doctor(SHIPPED, system=system)
    r = by_id(report)
    assert r["import:kofu_udfs"].status is Status.NG and "SyntaxError: invalid syntax" in r["import:kofu_udfs"].message
    assert "未確認: kofu_udfs.KOFU_" in r["functions"].message
    assert report.exit_code == 1


def test_unreadable_and_macro_free_workbooks(tmp_path: Path) -> None:
    text = tmp_path / "計画.xlsm"
    text.write_text("not a workbook", encoding="utf-8")
    r = by_id(run_doctor(text, checks=[check_vba_runtime]))["vba-runtime"]
    assert r.status is Status.NG and "Excel ブック" in r.message

    with zipfile.ZipFile(SHIPPED) as z:
        names = [n for n in z.namelist() if n != "xl/vbaProject.bin"]
        xlsx = tmp_path / "no_vba.xlsm"
        with zipfile.ZipFile(xlsx, "w") as out:
            for n in names:
                out.writestr(n, z.read(n))
    report = run_doctor(xlsx, checks=[check_vba_runtime, check_imports, check_functions])
    r = by_id(report)["vba-runtime"]
    assert r.status is Status.NG and "マクロ（VBA プロジェクト xl/vbaProject.bin）がありません" in r.message
    assert "kofu-xl のリボン定義（ブックは未確認）" in by_id(report)["functions"].message  # falls back to the package's ribbon

    missing = tmp_path / "ない.xlsm"
    assert by_id(run_doctor(missing, checks=[check_vba_runtime]))["vba-runtime"].status is Status.NG


def test_workbook_without_our_macros(tmp_path: Path) -> None:
    """A workbook whose VBA holds only the xlwings runtime: no KOFU_* wrappers, no ribbon callbacks."""
    from kofu_xl.book.vba import vba_modules
    from kofu_xl.ooxml.vba.ovba import build_vba_project

    kept = [m for m in vba_modules() if m.name not in ("KofuUdfs", "KofuRibbon")]
    path = rezip(SHIPPED, tmp_path / "交付円滑化計画.xlsm", {"xl/vbaProject.bin": build_vba_project(kept, project_name="KofuXl")})
    report = run_doctor(path, checks=[check_vba_runtime, check_imports, check_functions])
    r = by_id(report)
    assert r["vba-runtime"].status is Status.OK
    assert r["functions"].status is Status.NG and "KOFU_* 関数とリボンのボタンの処理がありません" in r["functions"].message
    assert "kofu-xl build --plan" in r["functions"].fix and report.exit_code == 1


# ---------------------------------------------------------------- xlwings.conf as xlwings reads it


def test_conf_entries_follow_xlwings_reading() -> None:
    rows = [["UDF Modules", "kofu_udfs"], ["Show Console", False], ["", None], ["Interpreter_Win", r"C:\Python312\python.exe"]]
    settings, duplicates, ignored = conf_entries(rows)
    assert settings == {"UDF MODULES": "kofu_udfs", "SHOW CONSOLE": False}
    assert duplicates == [] and ignored == ["Interpreter_Win"]
    assert conf_entries([["a", 1], ["A", 2]])[1] == ["A"]
    assert conf_entries([]) == ({}, [], [])


def _ctx_with_conf(rows: list[list[Any]] | None) -> Context:
    ctx = Context(current_system(), Path("交付円滑化計画.xlsm"))
    ctx._book = BookFacts(conf_rows=rows)
    return ctx


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([["UDF Modules", "kofu_udfs"], ["udf modules", "x"], ["ADD_WORKBOOK_TO_PYTHONPATH", "False"]], "UDF MODULES が重複"),
        ([["UDF Modules", "kofu_udfs"], ["ADD_WORKBOOK_TO_PYTHONPATH", "True"]], "ADD_WORKBOOK_TO_PYTHONPATH が True"),
        ([["UDF Modules", "kofu_udfs"], [None, None], ["ADD_WORKBOOK_TO_PYTHONPATH", "False"]], "ADD_WORKBOOK_TO_PYTHONPATH が （空欄）"),
        ([[None, None], ["UDF Modules", "kofu_udfs"]], "A1 が空欄"),
    ],
    ids=["duplicate", "add-path-true", "below-a-gap", "empty-a1"],
)
def test_conf_problems(rows: list[list[Any]], needle: str) -> None:
    r = check_conf(_ctx_with_conf(rows))
    assert r.status is Status.NG and r.required and needle in r.message, r.message


def test_conf_accepts_excel_booleans_and_reports_deviations() -> None:
    from kofu_xl.book.build import XLWINGS_CONF

    rows = [[k, v or None] for k, v in XLWINGS_CONF]
    assert check_conf_values(_ctx_with_conf(rows)).status is Status.OK  # empty cells pin empty values
    pinned = dict(XLWINGS_CONF)
    pinned.update({"ADD_WORKBOOK_TO_PYTHONPATH": False, "Show Console": True, "Use UDF Server": False, "Debug UDFs": False, "LICENSE_KEY": "x"})
    ctx = _ctx_with_conf([[k, v if v != "" else None] for k, v in pinned.items()] + [["Extra Key", "y"]])
    assert check_conf(ctx).status is Status.OK
    values = check_conf_values(ctx)
    assert values.status is Status.NG and not values.required
    assert "Show Console が True（既定は False）" in values.message and "LICENSE_KEY が x（既定は 空欄）" in values.message
    assert "Debug UDFs" not in values.message and "EXTRA KEY = y" in values.message


# ---------------------------------------------------------------- a fake Windows PC


PY_DIR = r"C:\Program Files\Python312"
PYTHON = PY_DIR + r"\python.exe"
EXCEL_EXE = r"C:\Program Files\Microsoft Office\Root\Office16\EXCEL.EXE"
SECURITY = r"HKCU\Software\Microsoft\Office\16.0\Excel\Security"
POLICY = r"HKCU\Software\Policies\Microsoft\Office\16.0\Excel\Security"
ASR_GPO = r"HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Windows Defender Exploit Guard\ASR\Rules"


def pe_header(machine: int) -> bytes:
    head = bytearray(512)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, machine)
    return bytes(head)


class FakeRegistry:
    def __init__(self, data: dict[str, dict[str, Any]], denied: tuple[str, ...] = ()) -> None:
        self.data = {k.casefold(): v for k, v in data.items()}
        self.denied = tuple(d.casefold() for d in denied)

    def _check(self, key: str) -> str:
        k = key.casefold()
        if k.startswith(self.denied) and self.denied:
            raise PermissionError(5, "アクセスが拒否されました。")
        return k

    def get(self, key: str, name: str = "") -> Any:
        return self.data.get(self._check(key), {}).get(name)

    def subkeys(self, key: str) -> list[str]:
        prefix = self._check(key) + "\\"
        return sorted({k[len(prefix):].split("\\")[0] for k in self.data if k.startswith(prefix)})

    def values(self, key: str) -> dict[str, Any]:
        return dict(self.data.get(self._check(key), {}))


class FakePC:
    """A healthy clerk's PC: python.org Python 3.12 (64-bit) on PATH with kofu-xl, 64-bit
    Microsoft 365 Excel, the workbook in a trusted location, Defender's rule in audit mode."""

    def __init__(self, workbook: Path) -> None:
        self.workbook = workbook
        self.files = {PYTHON, PY_DIR + r"\pythonw.exe", PY_DIR + fr"\xlwings64-{VERSION}.dll", PY_DIR + fr"\xlwings32-{VERSION}.dll", EXCEL_EXE}
        self.texts: dict[str, str] = {}
        self.dirs: dict[str, list[str]] = {PY_DIR: ["python.exe", "pythonw.exe", f"xlwings64-{VERSION}.dll", f"xlwings32-{VERSION}.dll"]}
        self.which_map = {"python": PYTHON, "pythonw": PY_DIR + r"\pythonw.exe"}
        self.runs: list[list[str]] = []
        self.run_result: tuple[int, str] = (0, VERSION + "\n")
        self.environ = {"PATH": fr"{PY_DIR}\;{PY_DIR}\Scripts\;C:\WINDOWS\system32", "USERPROFILE": r"C:\Users\clerk"}
        self.registry_data: dict[str, dict[str, Any]] = {
            r"HKCR\Excel.Application\CurVer": {"": "Excel.Application.16"},
            r"HKCR\Excel.Application\CLSID": {"": "{00024500-0000-0000-C000-000000000046}"},
            r"HKCR\CLSID\{00024500-0000-0000-C000-000000000046}\LocalServer32": {"": f'"{EXCEL_EXE}" /automation'},
            r"HKLM\SOFTWARE\Microsoft\Office\ClickToRun\Configuration": {"Platform": "x64", "VersionToReport": "16.0.17928.20114"},
            SECURITY + r"\Trusted Locations\Location9": {"Path": str(workbook.parent) + "\\", "AllowSubfolders": 1, "Description": "交付円滑化計画"},
            ASR_GPO: {ASR_OFFICE_CHILD_PROCESS: "2", ASR_OFFICE_WIN32_API: "2"},
        }
        self.denied: tuple[str, ...] = ()
        self.executable = PYTHON
        self.bits = 64
        self.excel_head = pe_header(0x8664)

    def system(self) -> System:
        def norm(p: str) -> str:
            return ntpath.normcase(ntpath.normpath(p))

        files = {norm(f) for f in self.files}

        def importer(name: str) -> Any:
            if name in ("pywintypes", "pythoncom", "win32com.client"):
                return types.ModuleType(name)
            module = importlib.import_module(name)
            if name == "kofu_udfs":  # xw.func attaches __xlfunc__ on Windows only
                stub = types.ModuleType(name)
                for attr in dir(module):
                    value = getattr(module, attr)
                    if callable(value) and attr.startswith("KOFU_"):
                        def wrapper(*a: Any, _f: Any = value) -> Any:
                            return _f(*a)
                        wrapper.__xlfunc__ = {"name": attr}  # type: ignore[attr-defined]
                        setattr(stub, attr, wrapper)
                stub.__file__ = module.__file__
                return stub
            return module

        def run(args: list[str]) -> tuple[int, str]:
            self.runs.append(args)
            return self.run_result

        return System(
            platform="win32",
            executable=self.executable,
            version=(3, 12, 4),
            bits=self.bits,
            environ=self.environ,
            import_module=importer,
            package_version=lambda name: {"xlwings": VERSION, "kofu-xl": "0.1.0"}.get(name),
            package_requires=lambda name: [f"xlwings=={VERSION}"] if name == "kofu-xl" else [],
            registry=FakeRegistry(self.registry_data, self.denied),
            is_file=lambda p: norm(p) in files,
            list_dir=lambda p: self.dirs.get(p, []),
            read_head=lambda p, n: self.excel_head if norm(p) == norm(EXCEL_EXE) else None,
            read_text=lambda p: self.texts.get(p),
            which=lambda name: self.which_map.get(name),
            run=run,
            user_base=r"C:\Users\clerk\AppData\Roaming\Python",
        )

    def run(self, checks: list[Any] | None = None, workbook: Path | None | str = "default") -> doctor.DoctorReport:
        book = self.workbook if workbook == "default" else workbook
        return run_doctor(book, system=self.system(), checks=checks)


@pytest.fixture()
def pc(tmp_path: Path) -> FakePC:
    folder = tmp_path / "交付円滑化計画"
    folder.mkdir()
    book = folder / "122327_白井市_交付円滑化計画.xlsm"
    shutil.copyfile(SHIPPED, book)
    return FakePC(book)


def test_healthy_windows_pc_passes_every_check(pc: FakePC) -> None:
    report = pc.run()
    missing = ribbon_functions_missing()
    bad = [r for r in report.results if r.status is not Status.OK and not (r.id == "functions" and missing)]
    assert bad == []
    r = by_id(report)
    assert "Excel 16.0（16.0.17928.20114）、64 ビット" in r["excel"].message
    assert f"xlwings64-{VERSION}.dll" in r["xlwings-dll"].message
    assert "この Python と同じです" in r["interpreter"].message
    assert "信頼できる場所" in r["macro-security"].message
    assert "監査（2）" in r["defender-asr"].message
    assert report.exit_code == (1 if missing else 0)
    assert pc.runs == []  # the same interpreter: nothing had to be started
    text = render_text(report, version="0.1.0")
    assert "Windows ではありません" not in text and "win32" in text


def test_store_python(pc: FakePC) -> None:
    pc.executable = r"C:\Users\clerk\AppData\Local\Microsoft\WindowsApps\PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0\python.exe"
    r = by_id(pc.run([check_store_python]))["store-python"]
    assert r.status is Status.NG and r.required and "アプリ実行エイリアス" in r.fix


def test_python_too_old_and_32_bit(pc: FakePC) -> None:
    system = pc.system()
    system.version = (3, 10, 11)
    assert check_python(Context(system, None)).status is Status.NG
    system.bits = 32
    r = check_python_bits(Context(system, None))
    assert r.status is Status.NG and not r.required and "64 ビット版" in r.fix


def test_pywin32_that_does_not_import(pc: FakePC) -> None:
    system = pc.system()
    inner = system.import_module

    def importer(name: str) -> Any:
        if name == "pywintypes":
            raise ImportError("DLL load failed while importing pywintypes")
        return inner(name)

    system.import_module = importer
    r = check_xlwings(Context(system, None))
    assert r.status is Status.NG and "pip install --force-reinstall pywin32" in r.fix


@pytest.mark.parametrize(
    ("setup", "status", "needle"),
    [
        ("store-alias", Status.NG, "アプリ実行エイリアス"),
        ("no-python", Status.NG, "PATH にありません"),
        ("configured-missing", Status.NG, "見つかりません"),
        ("other-with-kofu", Status.OK, "kofu-xl と xlwings"),
        ("other-without-kofu", Status.NG, "ModuleNotFoundError"),
    ],
)
def test_interpreter_excel_starts(pc: FakePC, setup: str, status: Status, needle: str) -> None:
    other = r"C:\Users\clerk\AppData\Local\Programs\Python\Python311\python.exe"
    if setup == "store-alias":
        pc.which_map = {"python": r"C:\Users\clerk\AppData\Local\Microsoft\WindowsApps\python.exe", "pythonw": r"C:\Users\clerk\AppData\Local\Microsoft\WindowsApps\pythonw.exe"}
    elif setup == "no-python":
        pc.which_map = {}
    elif setup == "configured-missing":
        # the folder's xlwings.conf (as install.md writes it) names an interpreter that is gone
        pc.texts[ntpath.join(str(pc.workbook.parent), "xlwings.conf")] = '"INTERPRETER_WIN","C:\\Python39\\python.exe"\r\n'
    else:
        pc.texts[r"C:\Users\clerk\.xlwings\xlwings.conf"] = '"INTERPRETER_WIN","%LOCALAPPDATA%\\Programs\\Python\\Python311\\python.exe"\n'
        pc.environ["LOCALAPPDATA"] = r"C:\Users\clerk\AppData\Local"
        pc.files.add(other)
        if setup == "other-without-kofu":
            pc.run_result = (1, "ModuleNotFoundError: No module named 'kofu_xl'\n")
    r = by_id(pc.run([check_interpreter]))["interpreter"]
    assert r.status is status and needle in (r.message + r.fix), r
    if setup.startswith("other"):
        assert pc.runs and pc.runs[0][0] == other and pc.runs[0][1:] == ["-c", doctor.PROBE]
        assert "ユーザー設定" in r.message
        if status is Status.NG:
            assert f"INTERPRETER_WIN にこの Python（{PYTHON}）" in r.fix


def test_dll_beside_a_configured_interpreter_or_on_path(pc: FakePC) -> None:
    assert by_id(pc.run([check_dll]))["xlwings-dll"].status is Status.OK
    # a venv: python.exe in Scripts, the DLL one folder up (xlwings.bas looks there too)
    venv = r"C:\kofu\venv"
    pc.texts[ntpath.join(str(pc.workbook.parent), "xlwings.conf")] = f'"INTERPRETER_WIN","{venv}\\Scripts\\python.exe"\n'
    pc.files |= {venv + r"\Scripts\python.exe", venv + fr"\xlwings64-{VERSION}.dll"}
    r = by_id(pc.run([check_dll]))["xlwings-dll"]
    assert r.status is Status.OK and venv in r.message


def test_dll_missing_after_a_user_install(pc: FakePC) -> None:
    pc.files = {PYTHON, EXCEL_EXE}
    pc.dirs = {PY_DIR: ["python.exe"], r"C:\Users\clerk\AppData\Roaming\Python": [f"xlwings64-{VERSION}.dll", f"xlwings32-{VERSION}.dll"]}
    r = by_id(pc.run([check_dll]))["xlwings-dll"]
    assert r.status is Status.NG and r.required
    assert f"xlwings64-{VERSION}.dll" in r.message and "--user" in r.fix


def test_dll_for_32_bit_excel_and_another_runtime(pc: FakePC, other_runtime: tuple[Path, str]) -> None:
    pc.excel_head = pe_header(0x014C)
    r = by_id(pc.run([check_excel, check_dll]))
    assert "32 ビット" in r["excel"].message
    assert r["xlwings-dll"].status is Status.OK and f"xlwings32-{VERSION}.dll" in r["xlwings-dll"].message
    path, other = other_runtime
    r = by_id(pc.run([check_dll], workbook=path))["xlwings-dll"]
    assert r.status is Status.NG and f"xlwings32-{other}.dll" in r.message and "vba-runtime" in r.fix


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ("none", Status.OK, "64 ビット"),
        ("missing", Status.NG, "Excel が見つかりません"),
        ("store", Status.NG, "Microsoft Store 版"),
        ("old", Status.NG, "古すぎます"),
        ("no-pe", Status.OK, "64 ビット"),  # the Click-to-Run platform answers instead
    ],
)
def test_excel(pc: FakePC, change: str, status: Status, needle: str) -> None:
    if change == "missing":
        pc.registry_data = {}
    elif change == "store":
        store = r"C:\Program Files\WindowsApps\Microsoft.Office.Desktop.Excel_16051.14326.20238.0_x86__8wekyb3d8bbwe\Office16\EXCEL.EXE"
        pc.registry_data[r"HKCR\CLSID\{00024500-0000-0000-C000-000000000046}\LocalServer32"] = {"": f'"{store}" /automation'}
    elif change == "old":
        pc.registry_data[r"HKCR\Excel.Application\CurVer"] = {"": "Excel.Application.15"}
    elif change == "no-pe":
        pc.excel_head = b"not an executable"
    r = by_id(pc.run([check_excel]))["excel"]
    assert r.status is status and needle in r.message, r


def test_pe_bits() -> None:
    assert pe_bits(pe_header(0x8664)) == 64 and pe_bits(pe_header(0x014C)) == 32 and pe_bits(pe_header(0xAA64)) == 64
    assert pe_bits(None) is None and pe_bits(b"MZ") is None and pe_bits(pe_header(0x1234)) is None


def test_onedrive_is_a_warning_only(pc: FakePC, tmp_path: Path) -> None:
    pc.environ["OneDriveCommercial"] = str(pc.workbook.parent.parent)
    report = pc.run([check_onedrive])
    r = by_id(report)["onedrive"]
    assert r.status is Status.NG and not r.required and "OneDrive" in r.message
    assert report.exit_code == 0
    r = by_id(pc.run([check_onedrive], workbook=Path(r"C:\Users\clerk\OneDrive - 白井市\交付円滑化計画.xlsm")))["onedrive"]
    assert r.status is Status.NG


def test_mark_of_the_web(pc: FakePC) -> None:
    stream = str(pc.workbook) + ":Zone.Identifier"
    assert by_id(pc.run([check_mark_of_the_web]))["mark-of-the-web"].status is Status.OK
    pc.texts[stream] = "[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=about:internet\r\n"
    r = by_id(pc.run([check_mark_of_the_web]))["mark-of-the-web"]
    assert r.status is Status.OK and "信頼できる場所" in r.message and "Unblock-File" in r.message
    del pc.registry_data[SECURITY + r"\Trusted Locations\Location9"]
    r = by_id(pc.run([check_mark_of_the_web]))["mark-of-the-web"]
    assert r.status is Status.NG and r.required and "許可する" in r.fix and "Unblock-File" in r.fix
    pc.texts[stream] = "[ZoneTransfer]\r\nZoneId=1\r\n"  # intranet: not blocked
    assert by_id(pc.run([check_mark_of_the_web]))["mark-of-the-web"].status is Status.OK


def test_macro_security(pc: FakePC) -> None:
    location = SECURITY + r"\Trusted Locations\Location9"
    assert by_id(pc.run([check_macro_security]))["macro-security"].status is Status.OK
    # a trusted parent folder counts only with AllowSubfolders
    pc.registry_data[location] = {"Path": str(pc.workbook.parent.parent), "AllowSubfolders": 0}
    r = by_id(pc.run([check_macro_security]))["macro-security"]
    assert r.status is Status.NG and "コンテンツの有効化" in r.message and "信頼できる場所" in r.fix
    pc.registry_data[location]["AllowSubfolders"] = 1
    assert by_id(pc.run([check_macro_security]))["macro-security"].status is Status.OK
    # policy: all locations disabled, macros disabled without notification
    pc.registry_data[POLICY + r"\Trusted Locations"] = {"AllLocationsDisabled": 1}
    pc.registry_data[POLICY] = {"VBAWarnings": 4}
    r = by_id(pc.run([check_macro_security]))["macro-security"]
    assert r.status is Status.NG and "グループポリシーで" in r.message and "警告を表示せずにすべて無効" in r.message
    # a trust record ("Enable Content" pressed once) with the default setting
    del pc.registry_data[POLICY + r"\Trusted Locations"], pc.registry_data[POLICY], pc.registry_data[location]
    name = str(pc.workbook).replace("\\", "/")
    pc.registry_data[SECURITY + r"\Trusted Documents\TrustRecords"] = {name: bytes(20) + b"\xff\xff\xff\x7f"}
    r = by_id(pc.run([check_macro_security]))["macro-security"]
    assert r.status is Status.OK and "コンテンツの有効化" in r.message


@pytest.mark.parametrize(
    ("data", "denied", "status", "required", "needle"),
    [
        ({ASR_GPO: {ASR_OFFICE_CHILD_PROCESS.lower(): "1"}}, (), Status.NG, True, "ブロック（1）"),
        ({ASR_GPO: {ASR_OFFICE_CHILD_PROCESS: "6"}}, (), Status.NG, False, "警告（6）"),
        ({ASR_GPO: {ASR_OFFICE_CHILD_PROCESS: "2"}}, (), Status.OK, True, "監査（2）"),
        ({r"HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Defender": {"AttackSurfaceReductionRules": f"75668c1f-73b5-4cf0-bb93-3ecf5cb7cc84=1|{ASR_OFFICE_CHILD_PROCESS}=1"}},
         (), Status.NG, True, "Intune（MDM）"),
        ({}, (), Status.SKIP, True, "ローカルの Defender 設定"),
        ({}, (r"HKLM\SOFTWARE",), Status.SKIP, True, "グループポリシー、Intune（MDM）、ローカル"),
    ],
    ids=["gpo-block", "gpo-warn", "gpo-audit", "mdm-block", "not-set", "denied"],
)
def test_defender_rule(pc: FakePC, data: dict[str, Any], denied: tuple[str, ...], status: Status, required: bool, needle: str) -> None:
    del pc.registry_data[ASR_GPO]
    pc.registry_data.update(data)
    pc.denied = denied
    report = pc.run([check_defender])
    r = by_id(report)["defender-asr"]
    assert (r.status, r.required) == (status, required) and needle in r.message, r
    if status is Status.NG:
        assert "kofu-xl check" in r.fix and "kofu-xl submit" in r.fix
    if status is Status.SKIP:
        assert "Get-MpPreference" in r.fix and ASR_OFFICE_CHILD_PROCESS in r.fix
        assert report.exit_code == 0


def test_defender_win32_rule_is_a_warning(pc: FakePC) -> None:
    pc.registry_data[ASR_GPO] = {ASR_OFFICE_CHILD_PROCESS: "2", ASR_OFFICE_WIN32_API: "1"}
    report = pc.run([check_defender, check_defender_win32])
    r = by_id(report)
    assert r["defender-asr"].status is Status.OK
    assert r["defender-asr-win32"].status is Status.NG and not r["defender-asr-win32"].required
    assert "1121" in r["defender-asr-win32"].message and report.exit_code == 0
    del pc.registry_data[ASR_GPO]
    r = by_id(pc.run([check_defender_win32]))["defender-asr-win32"]
    assert r.status is Status.SKIP and ASR_OFFICE_WIN32_API in r.fix


def test_functions_must_be_xlwings_functions_on_windows(pc: FakePC) -> None:
    system = pc.system()
    system.import_module = importlib.import_module  # plain functions: off Windows xw.func attaches nothing
    report = run_doctor(pc.workbook, system=system, checks=[check_imports, check_functions])
    r = by_id(report)["functions"]
    assert r.status is Status.NG and "xlwings の関数として登録されていません" in r.message


def test_a_failing_check_does_not_hide_the_others() -> None:
    def check_broken(ctx: Context) -> doctor.CheckResult:
        raise RuntimeError("boom")

    report = run_doctor(None, checks=[check_broken, check_python])
    assert [(r.id, r.status) for r in report.results] == [("broken", Status.NG), ("python", Status.OK)]
    assert "RuntimeError: boom" in report.results[0].message and report.exit_code == 1


# ---------------------------------------------------------------- the 「診断」 button


class _App:
    def __init__(self) -> None:
        self.alerts: list[tuple[str, str, str]] = []

    def alert(self, text: str, title: str = "", buttons: str = "ok", mode: str | None = None, callback: Any = None) -> None:
        self.alerts.append((text, title, mode or ""))


class _Book:
    def __init__(self, fullname: str) -> None:
        self.fullname = fullname
        self.name = Path(fullname).name
        self.app = _App()


@pytest.mark.parametrize("where", ["local", "onedrive"])
def test_doctor_button(where: str, monkeypatch: pytest.MonkeyPatch, other_runtime: tuple[Path, str]) -> None:
    from kofu_xl import excel

    path, other = other_runtime
    book = _Book(str(path) if where == "local" else "https://d.docs.live.net/0123/Documents/交付円滑化計画.xlsm")
    monkeypatch.setattr(xlwings.Book, "caller", staticmethod(lambda: book))
    report = excel.doctor_book()
    (text, title, mode), = book.app.alerts
    assert title == "交付円滑化計画"
    if where == "local":
        assert report.workbook == path and not report.ok and mode == "critical"
        assert text.startswith("診断の結果、直す必要のある問題があります。")
        assert f"xlwings {other}" in text and f'kofu-xl doctor "{path}"' in text
    else:
        assert report.workbook is None and "OneDrive・SharePoint" in report.workbook_note
        assert "Traceback" not in text and "kofu-xl doctor を実行" in text


def test_doctor_message_is_short_and_lists_required_problems_first() -> None:
    results = [
        doctor.CheckResult("onedrive", "置き場所", Status.NG, False, "OneDrive です。", "移してください。"),
        doctor.CheckResult("vba-runtime", "VBA", Status.NG, True, "版が違います（「0.36.1」。DLL も違う）。詳しい説明" * 5, "作り直してください。" * 100),
    ]
    report = doctor.DoctorReport(results, Path("a.xlsm"), "", "win32")
    text = doctor_message(report)
    assert "版が違います（「0.36.1」。DLL も違う）。\n対処: " in text  # only the first sentence of the message
    assert text.index("VBA（必須）") < text.index("…") and "置き場所" not in text and len(text) < 1100
    ok = doctor.DoctorReport([doctor.CheckResult("python", "Python", Status.OK, True, "OK")], None, "なし", "win32")
    assert doctor_message(ok).startswith("診断の結果、問題は見つかりませんでした（確認 1 件）。")


# ---------------------------------------------------------------- xlwings.conf pins and the xlwings add-in


def test_every_setting_xlwings_reads_is_pinned_on_the_sheet_but_the_interpreter() -> None:
    """Every GetConfig key of xlwings.bas 0.37.8 is on the built sheet (a key there wins over the
    add-in's user config, even empty), except the interpreter, left to the folder's xlwings.conf."""
    from kofu_xl.book.build import XLWINGS_CONF, XLWINGS_CONF_UNPINNED

    source = (Path(xlwings.__file__).parent / "xlwings.bas").read_text(encoding="ascii")
    read = set(re.findall(r'GetConfig\("([^"]+)"', source))
    assert {"DEBUG UDFS", "PYTHONPATH", "CONDA PATH", "CONDA ENV", "TEMP DIR"} <= read
    pinned = {k.upper() for k, _v in XLWINGS_CONF}
    assert read - pinned == set(XLWINGS_CONF_UNPINNED)
    with zipfile.ZipFile(SHIPPED):
        pass
    wb = openpyxl.load_workbook(SHIPPED, read_only=True)
    rows = [list(r) for r in wb["xlwings.conf"].iter_rows(values_only=True)]
    wb.close()
    settings, duplicates, ignored = doctor.conf_entries(rows)
    assert duplicates == [] and ignored == [] and set(settings) == pinned
    assert settings["DEBUG UDFS"] == "False" and settings["TEMP DIR"] == "%TEMP%" and settings["PYTHONPATH"] is None


def test_the_xlwings_addin_in_xlstart_or_excels_addins_is_reported(pc: FakePC) -> None:
    pc.environ["APPDATA"] = r"C:\Users\clerk\AppData\Roaming"
    assert by_id(pc.run())["xlwings-addin"].status is Status.OK
    pc.files.add(r"C:\Users\clerk\AppData\Roaming\Microsoft\Excel\XLSTART\xlwings.xlam")
    report = pc.run()
    r = by_id(report)["xlwings-addin"]
    assert r.status is Status.NG and not r.required and "Import Functions" in r.message and "xlwings addin remove" in r.fix
    assert report.exit_code == (1 if ribbon_functions_missing() else 0)  # recommended: never fails the run
    pc.files.discard(r"C:\Users\clerk\AppData\Roaming\Microsoft\Excel\XLSTART\xlwings.xlam")
    pc.files.add(ntpath.join(ntpath.dirname(EXCEL_EXE), "XLSTART", "xlwings.xlam"))  # `xlwings addin install --glob`
    assert by_id(pc.run())["xlwings-addin"].status is Status.NG
    pc.files.discard(ntpath.join(ntpath.dirname(EXCEL_EXE), "XLSTART", "xlwings.xlam"))
    pc.registry_data[r"HKCU\Software\Microsoft\Office\16.0\Excel\Options"] = {"OPEN": r'/R "C:\tools\xlwings.xlam"', "Font": "ＭＳ Ｐゴシック,11"}
    r = by_id(pc.run())["xlwings-addin"]
    assert r.status is Status.NG and r"OPEN = /R" in r.message


def test_imported_functions_doubling_kofu_are_an_error(pc: FakePC, monkeypatch: pytest.MonkeyPatch) -> None:
    real = doctor.load_book

    def with_import(path: Path) -> doctor.BookFacts:
        facts = real(path)
        facts.vba["xlwings_udfs"] = 'Attribute VB_Name = "xlwings_udfs"\r\nFunction KOFU_RATE(issued, population)\r\nEnd Function\r\n'
        return facts

    assert by_id(pc.run())["xlwings-addin-udfs"].status is Status.OK
    monkeypatch.setattr(doctor, "load_book", with_import)
    report = pc.run()
    r = by_id(report)["xlwings-addin-udfs"]
    assert r.status is Status.NG and r.required and "KOFU_RATE" in r.message and "kofu-xl upgrade" in r.fix
    assert report.exit_code == 1


def test_off_windows_the_addin_check_is_skipped_with_its_reason() -> None:
    report = run_doctor(SHIPPED)
    r = by_id(report)["xlwings-addin"] if sys.platform != "win32" else None
    if r is not None:
        assert r.status is Status.SKIP and "Windows ではない" in r.message
