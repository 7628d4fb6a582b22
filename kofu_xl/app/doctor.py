"""`kofu-xl doctor`: check a clerk's PC and the workbook, and say in Japanese what to fix.

Most failures of an xlwings workbook in the field are installation failures: a Store
Python, an xlwings package whose version differs from the VBA runtime inside the
workbook (xlwings.bas declares ``xlwings64-<version>.dll``), the DLL missing beside the
interpreter, Excel starting another Python than the one kofu-xl is in, macros blocked
on a downloaded file, Defender's rule that stops Office from starting child processes.
Each check here is a small function returning :class:`CheckResult` (id, OK/NG/SKIP,
required or not, a Japanese message and a Japanese fix).

Everything doctor asks the machine goes through :class:`System` (platform, registry,
files, PATH lookup, running another interpreter), so the Windows checks run in tests
on any OS with injected fakes. On the real machine, off Windows, the Windows checks
report SKIP with the reason.

Exit code: 0 when no *required* check is NG, else 1. SKIP never fails a run: off
Windows, exit 0 therefore means "the Python side is ready" (package, xlwings version =
the workbook's VBA runtime, modules, xlwings.conf) -- Excel itself was not checked.
"""

from __future__ import annotations

import csv
import importlib
import io
import ntpath
import os
import re
import shutil
import site
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from kofu_xl.book.build import XLWINGS_CONF
from kofu_xl.book.read import GridSource
from kofu_xl.errors import UnreadableInput
from kofu_xl.logs import log_path
from kofu_xl.ooxml.ribbon import RIBBON_BUTTONS
from kofu_xl.ooxml.vba.ovba_read import MAX_VBA_PROJECT_BYTES, OvbaError, read_module_sources
from kofu_xl.ooxml.vba.xlwings_vba import vba_runtime_version

__all__ = [
    "ASR_OFFICE_CHILD_PROCESS",
    "ASR_OFFICE_WIN32_API",
    "CHECKS",
    "CheckResult",
    "Context",
    "DoctorReport",
    "Registry",
    "Status",
    "System",
    "current_system",
    "default_workbook",
    "doctor_message",
    "render_text",
    "run_doctor",
]

EXIT_OK, EXIT_NG = 0, 1
MIN_PYTHON = (3, 11)  # pyproject's requires-python
TESTED_PYTHON = ((3, 11), (3, 12), (3, 13))
MIN_EXCEL_MAJOR = 16  # Excel 2016 / 2019 / 2021 / 2024 / Microsoft 365
UDF_MODULE = "kofu_udfs"
RIBBON_MODULE = "kofu_xl.excel"
REQUIRED_MODULES: tuple[str, ...] = (UDF_MODULE, RIBBON_MODULE)  # without a workbook
CONF_SHEET = "xlwings.conf"
ASR_OFFICE_CHILD_PROCESS = "D4F940AB-401B-4EFC-AADC-AD5F3C50688A"  # Block all Office applications from creating child processes
ASR_OFFICE_WIN32_API = "92E97FA1-2EDF-4476-BDD6-9DD0B4DDDC7B"  # Block Win32 API calls from Office macros
SHIPPED_WORKBOOK = Path("workbook") / "交付円滑化計画.xlsm"
PROBE = "import xlwings, kofu_xl, kofu_udfs; print(xlwings.__version__)"
_INSTALL = "docs/install.md"


class Status(str, Enum):
    OK = "OK"
    NG = "NG"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str  # Japanese, short
    status: Status
    required: bool  # an NG fails the run (exit code 1)
    message: str  # Japanese: what was found
    fix: str = ""  # Japanese: what to do (for NG, sometimes for SKIP)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status.value, "required": self.required, "message": self.message, "fix": self.fix}


# ---------------------------------------------------------------- the machine, as seams


class Registry(Protocol):
    """Read-only Windows registry. Keys are written "HKCU\\Software\\...".

    ``get`` returns None when the key or value is absent and raises PermissionError
    when reading is denied; ``subkeys``/``values`` return empty results when absent.
    """

    def get(self, key: str, name: str = "") -> Any: ...

    def subkeys(self, key: str) -> list[str]: ...

    def values(self, key: str) -> dict[str, Any]: ...


class WinRegistry:
    """:class:`Registry` over ``winreg``, trying the 64-bit view, then the 32-bit one."""

    def __init__(self) -> None:
        import winreg  # type: ignore[import-not-found]

        self._w = winreg
        self._hives = {"HKCU": winreg.HKEY_CURRENT_USER, "HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCR": winreg.HKEY_CLASSES_ROOT}

    def _open(self, key: str) -> Any:
        hive, _, sub = key.partition("\\")
        w = self._w
        for view in (w.KEY_WOW64_64KEY, w.KEY_WOW64_32KEY):
            try:
                return w.OpenKey(self._hives[hive], sub, 0, w.KEY_READ | view)
            except FileNotFoundError:
                continue
        return None

    def get(self, key: str, name: str = "") -> Any:
        handle = self._open(key)
        if handle is None:
            return None
        with handle:
            try:
                return self._w.QueryValueEx(handle, name)[0]
            except FileNotFoundError:
                return None

    def subkeys(self, key: str) -> list[str]:
        handle = self._open(key)
        if handle is None:
            return []
        out = []
        with handle:
            for i in range(self._w.QueryInfoKey(handle)[0]):
                out.append(self._w.EnumKey(handle, i))
        return out

    def values(self, key: str) -> dict[str, Any]:
        handle = self._open(key)
        if handle is None:
            return {}
        out = {}
        with handle:
            for i in range(self._w.QueryInfoKey(handle)[1]):
                name, data, _kind = self._w.EnumValue(handle, i)
                out[name] = data
        return out


@dataclass
class System:
    """What doctor reads from the machine. :func:`current_system` gives the real one;
    tests replace single fields (a Windows registry, files, PATH) with fakes."""

    platform: str
    executable: str
    version: tuple[int, int, int]
    bits: int
    environ: Mapping[str, str]
    import_module: Callable[[str], Any]
    package_version: Callable[[str], str | None]
    package_requires: Callable[[str], list[str]]
    registry: Registry | None = None
    is_file: Callable[[str], bool] = os.path.isfile
    list_dir: Callable[[str], list[str]] = lambda path: []
    read_head: Callable[[str, int], bytes | None] = lambda path, n: None
    read_text: Callable[[str], str | None] = lambda path: None
    which: Callable[[str], str | None] = lambda name: None
    run: Callable[[list[str]], tuple[int, str]] = lambda args: (-1, "not run")
    user_base: str = ""

    @property
    def windows(self) -> bool:
        return self.platform == "win32"


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _package_requires(name: str) -> list[str]:
    try:
        return list(metadata.requires(name) or [])
    except metadata.PackageNotFoundError:
        return []


def _list_dir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _read_head(path: str, n: int) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return None


def _read_text(path: str) -> str | None:
    """A small text file (config files, a Zone.Identifier stream): UTF-16 or UTF-8/ANSI."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 * 1024)
    except OSError:
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp932", "replace")


def _run(args: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, f"{exc.__class__.__name__}: {exc}"
    return done.returncode, (done.stdout or "") + (done.stderr or "")


def current_system() -> System:
    return System(
        platform=sys.platform,
        executable=sys.executable,
        version=(sys.version_info.major, sys.version_info.minor, sys.version_info.micro),
        bits=struct.calcsize("P") * 8,
        environ=os.environ,
        import_module=importlib.import_module,
        package_version=package_version,
        package_requires=_package_requires,
        registry=WinRegistry() if sys.platform == "win32" else None,
        is_file=os.path.isfile,
        list_dir=_list_dir,
        read_head=_read_head,
        read_text=_read_text,
        which=shutil.which,
        run=_run,
        user_base=site.getuserbase() or "",
    )


# ---------------------------------------------------------------- the workbook


@dataclass
class BookFacts:
    """What doctor reads from the workbook file (never runs its macros)."""

    error: str | None = None  # the file cannot be read at all (Japanese)
    vba: dict[str, str] = field(default_factory=dict)  # module name -> source
    vba_error: str | None = None
    conf_rows: list[list[Any]] | None = None  # the xlwings.conf sheet; None when absent

    @property
    def runtime_version(self) -> str | None:
        source = self.vba.get("xlwings")
        return vba_runtime_version(source) if source else None

    def udf_calls(self) -> list[tuple[str, str]]:
        """(module, function) of every XLPy.CallUDF in the workbook's own VBA modules."""
        # (the xlwings runtime module itself wraps xlwings' own sample functions: not ours)
        calls = {m for name, src in self.vba.items() if name != "xlwings" for m in re.findall(r'CallUDF\(\s*"([^"]+)"\s*,\s*"([^"]+)"', src)}
        return sorted(calls)

    def ribbon_calls(self) -> list[tuple[str, str]]:
        """(module, function) of every RunPython("import m; m.f()") in the workbook's VBA."""
        out: set[tuple[str, str]] = set()
        for src in self.vba.values():
            for command in re.findall(r'RunPython\(\s*"((?:[^"]|"")*)"\s*\)', src):
                m = re.fullmatch(r"\s*import\s+([\w.]+)\s*;\s*([\w.]+)\.(\w+)\(\)\s*", command.replace('""', '"'))
                if m and m[1] == m[2]:
                    out.add((m[1], m[3]))
        return sorted(out)


def load_book(path: Path) -> BookFacts:
    try:
        grids = GridSource.from_path(path)  # refuses what is not a workbook, and zip bombs
    except UnreadableInput as exc:
        return BookFacts(error=exc.reason)
    facts = BookFacts()
    conf = next((n for n in grids.sheet_names() if n.casefold() == CONF_SHEET), None)  # Excel ignores case
    facts.conf_rows = grids.grids[conf] if conf is not None else None
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("xl/vbaProject.bin")
            if info.file_size > MAX_VBA_PROJECT_BYTES:
                raise OvbaError(f"{info.file_size:,} バイトは大きすぎます")
            facts.vba = read_module_sources(z.read(info))
    except KeyError:
        facts.vba_error = "マクロ（VBA プロジェクト xl/vbaProject.bin）がありません。.xlsx として保存されたか、マクロが削除されています"
    except (OvbaError, zipfile.BadZipFile, OSError) as exc:
        facts.vba_error = f"マクロ（VBA プロジェクト）を読めません（{exc}）"
    return facts


def conf_entries(rows: list[list[Any]]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Read xlwings.conf the way xlwings.bas' GetConfigFromSheet does.

    Keys are column A from A1 down to the first empty cell (upper-cased), values
    column B. Returns (settings, duplicate keys, keys below the first gap, which
    xlwings never sees). A duplicate makes every GetConfig fail (Dictionary.Add).
    """

    def cell(r: int, c: int) -> Any:
        if r >= len(rows) or c >= len(rows[r]):
            return None
        v = rows[r][c]
        return None if v == "" else v

    settings: dict[str, Any] = {}
    duplicates: list[str] = []
    r = 0
    while cell(r, 0) is not None:
        key = str(cell(r, 0)).upper()
        if key in settings:
            duplicates.append(key)
        settings[key] = cell(r, 1)
        r += 1
    ignored = [str(cell(i, 0)) for i in range(r + 1, len(rows)) if cell(i, 0) is not None]
    return settings, duplicates, ignored


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _shown(value: Any) -> str:
    return "（空欄）" if value is None else str(value)


# ---------------------------------------------------------------- context


@dataclass
class Context:
    system: System
    workbook: Path | None
    workbook_note: str = "ブックが指定されていません"
    _book: BookFacts | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    def book(self) -> BookFacts | None:
        if self.workbook is None:
            return None
        if self._book is None:
            self._book = load_book(self.workbook)
        return self._book

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def installed_xlwings(self) -> str | None:
        return self.cached("xlwings", lambda: self.system.package_version("xlwings"))

    def pinned_xlwings(self) -> str | None:
        """The xlwings version kofu-xl's metadata pins (None when kofu-xl is not installed)."""

        def pin() -> str | None:
            for req in self.system.package_requires("kofu-xl"):
                m = re.match(r"xlwings\s*==\s*([\w.]+)", req.split(";")[0].strip())
                if m:
                    return m[1]
            return None

        return self.cached("pin", pin)

    def conf(self) -> dict[str, Any]:
        book = self.book()
        if book is None or book.conf_rows is None:
            return {}
        return conf_entries(book.conf_rows)[0]


# ---------------------------------------------------------------- helpers for results


def _ok(id: str, title: str, message: str, *, required: bool = True) -> CheckResult:
    return CheckResult(id, title, Status.OK, required, message)


def _ng(id: str, title: str, message: str, fix: str, *, required: bool = True) -> CheckResult:
    return CheckResult(id, title, Status.NG, required, message, fix)


def _skip(id: str, title: str, message: str, *, required: bool = True, fix: str = "") -> CheckResult:
    return CheckResult(id, title, Status.SKIP, required, message, fix)


def _not_windows(ctx: Context, id: str, title: str, *, required: bool = True) -> CheckResult:
    return _skip(id, title, f"Windows ではないため確認できません（この PC: {ctx.system.platform}）。この確認は Windows の PC で kofu-xl doctor を実行したときに行います。", required=required)


def _no_book(ctx: Context, id: str, title: str, *, required: bool = True) -> CheckResult:
    return _skip(id, title, f"{ctx.workbook_note}。ブックの確認は kofu-xl doctor \"ブックのパス\" で行います。", required=required)


def _book_or_problem(ctx: Context, id: str, title: str) -> BookFacts | CheckResult:
    book = ctx.book()
    if book is None:
        return _no_book(ctx, id, title)
    if book.error:
        return _ng(id, title, f"ブックを読めません: {book.error}。", "ファイル名とフォルダーを確認してください。壊れている場合は、保管している前のファイルを使うか、kofu-xl new --dantai 団体コード で新しいブックを作ってください。")
    return book


def _rebuild_fix(ctx: Context) -> str:
    book = str(ctx.workbook) if ctx.workbook else "ブックのパス"
    stem = ctx.workbook.stem if ctx.workbook else "交付円滑化計画"
    return (
        f"入力済みの内容を引き継いだブックを作り直してください: kofu-xl build --plan \"{book}\" --out \"{stem}_新.xlsm\"。"
        "新しいブックを kofu-xl doctor で確認してから、以後そちらを使ってください（提出記録シートは引き継がれないため、古いブックも保管してください）。"
    )


def _pip_xlwings_fix(version: str) -> str:
    return f"この PC の Python に xlwings {version} を入れ直してください: python -m pip install xlwings=={version}（ネットワークに出られない PC は {_INSTALL} の「ネットワークに出られない PC」の手順で）。"


def _expand(text: str, environ: Mapping[str, str]) -> str:
    """%NAME% as Windows' ExpandEnvironmentStrings does it (names are case-insensitive)."""
    env = {k.upper(): v for k, v in environ.items()}
    return re.sub(r"%([^%]+)%", lambda m: env.get(m[1].upper(), m[0]), text)


def _norm(path: str) -> str:
    return ntpath.normcase(ntpath.normpath(path)).rstrip("\\")


def _is_store_path(path: str) -> bool:
    p = path.replace("/", "\\").casefold()
    return "\\windowsapps\\" in p or "pythonsoftwarefoundation.python" in p


# ---------------------------------------------------------------- checks: Python and packages


def check_python(ctx: Context) -> CheckResult:
    s = ctx.system
    v = ".".join(map(str, s.version))
    title = "Python の版"
    if s.version[:2] < MIN_PYTHON:
        return _ng("python", title, f"Python {v} は古すぎます（{s.executable}）。kofu-xl には Python 3.11 以上が必要です。",
                   f"Python 3.12（64 ビット）を入れ、その Python に kofu-xl を入れ直してください（{_INSTALL}「2. Python を入れる」）。")
    tested = "、".join(f"{a}.{b}" for a, b in TESTED_PYTHON)
    note = "" if s.version[:2] in TESTED_PYTHON else f"（動作を確認している版は {tested} です）"
    return _ok("python", title, f"Python {v}（{s.bits} ビット）: {s.executable}{note}")


def check_python_bits(ctx: Context) -> CheckResult:
    s = ctx.system
    title = "Python のビット数"
    if s.bits == 64:
        return _ok("python-bits", title, "64 ビット版の Python です（Excel が 32 ビット版でも 64 ビット版でも使えます）。", required=False)
    return _ng("python-bits", title, f"{s.bits} ビット版の Python です。xlwings は Excel と別のプロセスで動くので Excel のビット数に合わせる必要はありませんが、"
               "32 ビット版では kofu-xl が使うパッケージ（pandas など）の新しい版を入れられず、更新できなくなります。",
               f"64 ビット版の Python 3.12 を入れ、kofu-xl を入れ直してください（{_INSTALL}「2. Python を入れる」）。", required=False)


def check_store_python(ctx: Context) -> CheckResult:
    title = "Microsoft Store 版の Python でないこと"
    if not ctx.system.windows:
        return _not_windows(ctx, "store-python", title)
    exe = ctx.system.executable
    if _is_store_path(exe):
        return _ng("store-python", title, f"Microsoft Store 版の Python です（{exe}）。Store 版はアプリごとに隔離されたフォルダーで動くため、Excel から Python と xlwings の DLL を使えません。",
                   "設定 → アプリ → インストールされているアプリ で Store 版の Python をアンインストールし、python.org の Windows 用インストーラー（64 ビット）で入れ直してください。"
                   "あわせて 設定 → アプリ → アプリの詳細設定 → アプリ実行エイリアス で「python.exe」「python3.exe」をオフにします。")
    return _ok("store-python", title, f"python.org 版などの通常の Python です（{exe}）。")


def check_xlwings(ctx: Context) -> CheckResult:
    title = "xlwings の版"
    s = ctx.system
    installed = ctx.installed_xlwings()
    pin = ctx.pinned_xlwings()
    target = pin or installed or "0.37.8"
    if installed is None:
        return _ng("xlwings", title, "xlwings が入っていません。", _pip_xlwings_fix(target))
    try:
        s.import_module("xlwings")
        if s.windows:  # the UDF server and RunPython need pywin32's COM modules
            for name in ("pywintypes", "pythoncom", "win32com.client"):
                s.import_module(name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        detail = f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        fix = ("pywin32 を入れ直してください: python -m pip install --force-reinstall pywin32" if "win32" in detail or "pythoncom" in detail or "pywintypes" in detail
               else _pip_xlwings_fix(target))
        return _ng("xlwings", title, f"xlwings {installed} は入っていますが読み込めません（{detail}）。", fix)
    if pin and installed != pin:
        return _ng("xlwings", title, f"xlwings {installed} が入っていますが、kofu-xl {s.package_version('kofu-xl')} は xlwings {pin} を前提にしています。"
                   "ブックの VBA ランタイムと xlwings の版が違うと、Excel から関数もリボンも動きません。", _pip_xlwings_fix(pin))
    how = f"（kofu-xl {s.package_version('kofu-xl')} の指定どおり）" if pin else "（kofu-xl がインストールされていないため、指定の版との比較は省略しました）"
    return _ok("xlwings", title, f"xlwings {installed}{how}")


# ---------------------------------------------------------------- checks: the workbook's VBA and modules


def check_vba_runtime(ctx: Context) -> CheckResult:
    title = "ブックの VBA ランタイムと xlwings の版"
    book = _book_or_problem(ctx, "vba-runtime", title)
    if isinstance(book, CheckResult):
        return book
    if book.vba_error:
        return _ng("vba-runtime", title, f"{book.vba_error}。リボンと KOFU_* 関数はマクロで動くため、このブックでは使えません。", _rebuild_fix(ctx))
    version = book.runtime_version
    if version is None:
        return _ng("vba-runtime", title, "ブックのマクロに xlwings の VBA ランタイム（モジュール xlwings）がありません。", _rebuild_fix(ctx))
    installed = ctx.installed_xlwings()
    if installed is None:
        return _ng("vba-runtime", title, f"ブックの VBA ランタイムは xlwings {version} ですが、この PC に xlwings が入っていません。", _pip_xlwings_fix(ctx.pinned_xlwings() or version))
    if version != installed:
        pin = ctx.pinned_xlwings()
        message = (f"ブックの VBA ランタイムは xlwings {version}、この PC の xlwings は {installed} です。"
                   f"Excel は xlwings64-{version}.dll（32 ビット版 Excel では xlwings32-{version}.dll）を探しますが、"
                   f"この PC にあるのは {installed} の DLL なので、関数とリボンが動きません。")
        if pin and installed != pin:
            fix = _pip_xlwings_fix(pin) + ("" if version == pin else "そのうえで、" + _rebuild_fix(ctx))
        else:
            fix = "このブックは別の版の kofu-xl で作られています。" + _rebuild_fix(ctx)
        return _ng("vba-runtime", title, message, fix)
    return _ok("vba-runtime", title, f"ブックの VBA ランタイムは xlwings {version} で、この PC の xlwings と同じです。")


def _modules_to_import(ctx: Context) -> list[str]:
    book = ctx.book()
    if book is None or book.error or book.vba_error:
        return list(REQUIRED_MODULES)
    names = [m for m, _f in book.udf_calls()] + [m for m, _f in book.ribbon_calls()]
    udf_setting = ctx.conf().get("UDF MODULES")
    if udf_setting:
        names += [n.strip() for n in str(udf_setting).split(";") if n.strip()]
    return list(dict.fromkeys(names)) or list(REQUIRED_MODULES)


def check_imports(ctx: Context) -> list[CheckResult]:
    """Every Python module the workbook calls (UDFs, ribbon buttons) imports here."""
    out = []
    for name in _modules_to_import(ctx):
        title = f"モジュール {name} の読み込み"
        id = f"import:{name}"
        try:
            module = ctx.system.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any failure to import is the finding
            ctx._cache.setdefault("import-failed", set()).add(name)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            detail = f"{exc.__class__.__name__}: {first}"
            fix = "kofu-xl を入れ直してください: python -m pip install --force-reinstall kofu-xl のファイル（" + _INSTALL + "「7. 更新する」）。"
            if "DLL load failed" in detail:
                fix = ("Python の拡張モジュール（DLL）を読み込めません。Python と Excel のビット数ではなく、パッケージの壊れや不足が原因です。"
                       "python -m pip install --force-reinstall pywin32 を実行し、直らなければ kofu-xl を入れ直してください（" + _INSTALL + "）。")
            out.append(_ng(id, title, f"{name} を読み込めません（{detail}）。このモジュールを使う関数・ボタンが動きません。", fix))
            continue
        where = getattr(module, "__file__", None) or "組み込み"
        out.append(_ok(id, title, f"{name} を読み込めました（{where}）。"))
    return out


def check_functions(ctx: Context) -> CheckResult:
    """Each function the workbook's UDF wrappers and ribbon buttons call exists."""
    title = "ブックが呼ぶ関数とボタンの処理"
    book = ctx.book()
    if book is not None and not book.error and not book.vba_error:
        udfs, buttons = book.udf_calls(), book.ribbon_calls()
        source = "ブックのマクロ"
    else:
        udfs = []
        buttons = sorted({(b.python_module, b.python_function) for b in RIBBON_BUTTONS})
        source = "kofu-xl のリボン定義（ブックは未確認）"
    failed = ctx._cache.get("import-failed", set())
    missing, unchecked = [], []
    for module_name, func in [*udfs, *buttons]:
        if module_name in failed:
            unchecked.append(f"{module_name}.{func}")
            continue
        try:
            module = ctx.system.import_module(module_name)
        except Exception:  # noqa: BLE001 - reported by check_imports
            unchecked.append(f"{module_name}.{func}")
            continue
        fn = getattr(module, func, None)
        if not callable(fn):
            missing.append(f"{module_name}.{func}")
        elif ctx.system.windows and (module_name, func) in udfs and not hasattr(fn, "__xlfunc__"):
            missing.append(f"{module_name}.{func}（xlwings の関数として登録されていません）")
    counts = f"ワークシート関数 {len(udfs)} 個、ボタン {len(buttons)} 個（{source}）"
    lacking = [what for what, calls in (("KOFU_* 関数", udfs), ("リボンのボタン", buttons)) if not calls]
    if source == "ブックのマクロ" and lacking:
        return _ng("functions", title, f"ブックのマクロに{'と'.join(lacking)}の処理がありません（マクロが削除されたか、kofu-xl で作ったブックではありません）。"
                   "該当するセルは #NAME? になり、ボタンは動きません。", _rebuild_fix(ctx))
    if missing:
        return _ng("functions", title, f"{counts}のうち、この PC の kofu-xl にないもの: {'、'.join(missing)}。該当するボタン・関数はエラーになります。",
                   "ブックと kofu-xl の版が合っていません。kofu-xl を新しい版に更新するか（" + _INSTALL + "「7. 更新する」）、" + _rebuild_fix(ctx))
    note = f"（読み込めないモジュールのため未確認: {'、'.join(unchecked)}）" if unchecked else ""
    return _ok("functions", title, f"{counts}はすべてあります。{note}")


def check_conf(ctx: Context) -> CheckResult:
    title = "ブックの xlwings.conf シート"
    book = _book_or_problem(ctx, "xlwings-conf", title)
    if isinstance(book, CheckResult):
        return book
    rows_text = "、".join(f"{k} = {v or '（空欄）'}" for k, v in XLWINGS_CONF)
    manual = f"手で直す場合は、シート名 xlwings.conf（非表示）の A 列に設定名、B 列に値を 1 行目から空行なしで書きます: {rows_text}。"
    if book.conf_rows is None:
        return _ng("xlwings-conf", title, "xlwings.conf シートがありません。xlwings は ADD_WORKBOOK_TO_PYTHONPATH を既定の True とみなし、"
                   "ブックのフォルダーを Python の検索パスに加えます。OneDrive・SharePoint 上のブックでは Python が起動できず、フォルダー内のファイルが kofu-xl のモジュールを隠すこともあります。",
                   _rebuild_fix(ctx) + manual)
    settings, duplicates, ignored = conf_entries(book.conf_rows)
    problems = []
    if not settings:
        problems.append("A1 が空欄のため、設定が 1 つも読まれません")
    if duplicates:
        problems.append(f"設定名 {'、'.join(sorted(set(duplicates)))} が重複しています（xlwings はこのブックの設定を読むたびにエラーになり、リボンも関数も動きません）")
    add_path = settings.get("ADD_WORKBOOK_TO_PYTHONPATH")
    if settings and not _is_false(add_path):
        problems.append(f"ADD_WORKBOOK_TO_PYTHONPATH が {_shown(add_path)} です（False でないと、ブックのフォルダーが Python の検索パスに入り、OneDrive 上のブックでは Python が起動できません）")
    if problems:
        return _ng("xlwings-conf", title, "xlwings.conf シートに問題があります: " + "。".join(problems) + "。", manual + "または、" + _rebuild_fix(ctx))
    text = "、".join(f"{k} = {_shown(v)}" for k, v in settings.items())
    note = f"（空行より下の {'、'.join(ignored)} は xlwings に読まれません）" if ignored else ""
    return _ok("xlwings-conf", title, f"xlwings が読む設定: {text}{note}")


def check_conf_values(ctx: Context) -> CheckResult:
    """Differences from the values kofu-xl writes (not fatal, but worth knowing)."""
    title = "xlwings.conf の値（kofu-xl の既定との違い）"
    book = ctx.book()
    if book is None:
        return _no_book(ctx, "xlwings-conf-values", title, required=False)
    if book.error or book.conf_rows is None:
        return _skip("xlwings-conf-values", title, "xlwings.conf シートを読めないため省略しました（上の xlwings-conf を参照）。", required=False)
    settings = conf_entries(book.conf_rows)[0]
    diffs = []
    for key, expected in XLWINGS_CONF:
        actual = settings.get(key.upper())
        if expected == "False":
            same = _is_false(actual)
        elif expected == "":
            same = actual in (None, "")
        else:
            same = actual is not None and str(actual).strip().casefold() == expected.casefold()
        if not same and key.upper() != "ADD_WORKBOOK_TO_PYTHONPATH":  # that one is checked above
            diffs.append(f"{key} が {_shown(actual)}（既定は {expected or '空欄'}）")
    extra = sorted(set(settings) - {k.upper() for k, _v in XLWINGS_CONF})
    extra_text = f" 追加の設定: {'、'.join(f'{k} = {_shown(settings[k])}' for k in extra)}。" if extra else ""
    if diffs:
        return _ng("xlwings-conf-values", title, "、".join(diffs) + "。" + extra_text,
                   "意図した変更でなければ既定の値に戻してください（UDF Modules は関数の再登録に、Use UDF Server と Show Console は Python の起動のしかたに関わります）。",
                   required=False)
    return _ok("xlwings-conf-values", title, "kofu-xl の既定どおりです。" + extra_text, required=False)


# ---------------------------------------------------------------- checks: Windows


def _config_file_value(text: str | None, key: str) -> str | None:
    """A value of an xlwings config file ("KEY","VALUE" per line, as VBA's Input # reads it)."""
    if not text:
        return None
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0].strip().lower() == key.lower():
            return row[1].strip()
    return None


def _setting(ctx: Context, key: str) -> tuple[str | None, str]:
    """An xlwings setting through its layers: sheet, the workbook folder's xlwings.conf,
    the user's %USERPROFILE%\\.xlwings\\xlwings.conf (as xlwings.bas' GetConfig)."""
    s = ctx.system
    conf = ctx.conf()
    if key in conf and conf[key] not in (None, ""):
        return _expand(str(conf[key]), s.environ), "ブックの xlwings.conf シート"
    files = []
    if ctx.workbook is not None:
        files.append((ntpath.join(ntpath.dirname(str(ctx.workbook)), "xlwings.conf"), "ブックと同じフォルダーの xlwings.conf"))
    profile = s.environ.get("USERPROFILE") or s.environ.get("userprofile")
    if profile:
        files.append((ntpath.join(profile, ".xlwings", "xlwings.conf"), "ユーザー設定 %USERPROFILE%\\.xlwings\\xlwings.conf"))
    for path, label in files:
        value = _config_file_value(s.read_text(path), key)
        if value:
            return _expand(value, s.environ), f"{label}（{path}）"
    return None, ""


_PLACE_CONF = f"{_INSTALL}「4. Excel が使う Python を指定する」の手順で、ブックと同じフォルダーに xlwings.conf を置いてください。"


@dataclass(frozen=True)
class _Interpreter:
    configured: str  # as written, or the default "python"/"pythonw"
    source: str  # where it was set ("" for the default)
    resolved: str | None  # the file Excel will start
    problem: str | None = None
    fix: str = ""


def _resolve_interpreter(ctx: Context, default: str) -> _Interpreter:
    s = ctx.system
    value, source = _setting(ctx, "INTERPRETER_WIN")
    if not value:
        value, source = _setting(ctx, "INTERPRETER")
    if not value:
        value, source = default, ""
    if value.lower() in ("python", "pythonw"):
        found = s.which(value)
        if not found:
            return _Interpreter(value, source, None, f"{value} が PATH にありません", _PLACE_CONF)
        if _is_store_path(found):
            return _Interpreter(value, source, found, f"PATH の {value} は Microsoft Store のアプリ実行エイリアス（{found}）です",
                                "設定 → アプリ → アプリの詳細設定 → アプリ実行エイリアス で python.exe / python3.exe をオフにしてください。" + _PLACE_CONF)
        return _Interpreter(value, source, found)
    if not s.is_file(value):
        return _Interpreter(value, source, None, f"{source}の Interpreter の指定 {value} が見つかりません",
                            "指定を、この PC の python.exe の場所に直してください（where python で確認できます）。")
    return _Interpreter(value, source, value)


def _same_install(a: str, b: str) -> bool:
    return _norm(ntpath.dirname(a)) == _norm(ntpath.dirname(b))


def check_interpreter(ctx: Context) -> CheckResult:
    title = "Excel が起動する Python"
    if not ctx.system.windows:
        return _not_windows(ctx, "interpreter", title)
    s = ctx.system
    if _setting(ctx, "CONDA PATH")[0] and _setting(ctx, "CONDA ENV")[0]:
        return _skip("interpreter", title, "xlwings の設定に CONDA PATH / CONDA ENV があります。kofu-xl の手順は conda を使わないため、この確認は行いません。",
                     fix="conda の設定を外し、" + _INSTALL + " の手順で python.org 版の Python を使ってください。")
    lines, problems, fixes = [], [], []
    for label, default in (("リボン（RunPython）", "python"), ("KOFU_* 関数（UDF サーバー）", "pythonw")):
        it = _resolve_interpreter(ctx, default)
        where = f"{it.source}の指定" if it.source else "既定（PATH で最初に見つかるもの）"
        if it.problem:
            problems.append(f"{label}: {it.problem}")
            fixes.append(it.fix)
            continue
        assert it.resolved is not None
        if _same_install(it.resolved, s.executable):
            lines.append(f"{label}: {it.resolved}（{where}。この Python と同じです）")
            continue
        probe = it.resolved
        if ntpath.basename(probe).lower() == "pythonw.exe":
            sibling = ntpath.join(ntpath.dirname(probe), "python.exe")
            probe = sibling if s.is_file(sibling) else probe
        rc, output = s.run([probe, "-c", PROBE])
        version = output.strip().splitlines()[-1] if output.strip() else ""
        if rc == 0 and version == ctx.installed_xlwings():
            lines.append(f"{label}: {it.resolved}（{where}。この Python とは別ですが、kofu-xl と xlwings {version} が入っています）")
        else:
            problems.append(f"{label}: Excel は {it.resolved}（{where}）を起動しますが、その Python では kofu-xl を使えません（{output.strip()[-200:] or '終了コード ' + str(rc)}）")
            fixes.append(f"{_INSTALL}「4. Excel が使う Python を指定する」の手順で、INTERPRETER_WIN にこの Python（{s.executable}）を指定してください。")
    if problems:
        sentences = [x + "。" for f in fixes for x in f.split("。") if x]
        return _ng("interpreter", title, "。".join(problems) + "。", "".join(dict.fromkeys(sentences)))
    return _ok("interpreter", title, "。".join(lines) + "。")


def _dll_folders(ctx: Context) -> tuple[list[str], str]:
    """Where Excel looks for the xlwings DLL: beside a configured interpreter and one
    folder up (xlwings.bas' XLPyLoadDLL), else Windows' DLL search along PATH."""
    it = _resolve_interpreter(ctx, "pythonw")
    if it.configured.lower() not in ("python", "pythonw"):
        folder = ntpath.dirname(it.configured)
        return [folder, ntpath.dirname(folder)], f"指定の Interpreter（{it.configured}）のフォルダーとその 1 つ上"
    path = ctx.system.environ.get("PATH") or ctx.system.environ.get("Path") or ""
    return [p for p in path.split(";") if p.strip()], "PATH の各フォルダー"


def check_dll(ctx: Context) -> CheckResult:
    title = "xlwings の DLL"
    if not ctx.system.windows:
        return _not_windows(ctx, "xlwings-dll", title)
    s = ctx.system
    book = ctx.book()
    version = (book.runtime_version if book is not None and not book.error else None) or ctx.installed_xlwings()
    if version is None:
        return _skip("xlwings-dll", title, "xlwings の版がわからないため確認できません（上の xlwings を参照）。")
    excel = _excel_info(ctx)
    bits = excel.bits
    names = [f"xlwings{bits}-{version}.dll"] if bits else [f"xlwings64-{version}.dll", f"xlwings32-{version}.dll"]
    folders, how = _dll_folders(ctx)
    for folder in folders:
        for name in names:
            if s.is_file(ntpath.join(folder, name)):
                which = f"{bits} ビット版 Excel 用" if bits else "Excel のビット数が不明のため、どちらかの"
                return _ok("xlwings-dll", title, f"{which} {name} があります: {folder}")
    # where is it, then?
    elsewhere = []
    for folder, label in ((ntpath.dirname(s.executable), "この Python のフォルダー"), (ntpath.dirname(ntpath.dirname(s.executable)), "その 1 つ上"),
                          (s.user_base, "ユーザー領域（pip install --user の入れ先）")):
        if not folder:
            continue
        found = [f for f in s.list_dir(folder) if re.fullmatch(r"xlwings(32|64)-[\w.]+\.dll", f, re.IGNORECASE)]
        if found:
            elsewhere.append(f"{label} {folder} に {'、'.join(sorted(found))}")
    message = f"Excel が読み込む {' または '.join(names)} が、{how}にありません。" + ("（" + "。".join(elsewhere) + "）" if elsewhere else "")
    if any("ユーザー領域" in e for e in elsewhere):
        fix = "kofu-xl が pip install --user で入れられています。--user を付けずに入れ直してください（" + _INSTALL + "「3. kofu-xl を入れる」）。"
    elif any(re.search(r"xlwings(32|64)-", e) for e in elsewhere):
        fix = f"DLL の版がブックの VBA ランタイム（{version}）と違います。上の vba-runtime の対処をしてください。"
    else:
        fix = (f"{_INSTALL}「4. Excel が使う Python を指定する」の手順で INTERPRETER_WIN を指定し、"
               f"python -m pip install --force-reinstall xlwings=={version} で DLL を入れ直してください。")
    return _ng("xlwings-dll", title, message, fix)


@dataclass(frozen=True)
class _Excel:
    found: bool
    major: int | None = None
    exe: str | None = None
    bits: int | None = None
    version: str | None = None
    store: bool = False
    note: str = ""


def pe_bits(head: bytes | None) -> int | None:
    """32 or 64 from a Windows executable's PE header (its first bytes), else None."""
    if not head or head[:2] != b"MZ" or len(head) < 0x40:
        return None
    (offset,) = struct.unpack_from("<I", head, 0x3C)
    if len(head) < offset + 6 or head[offset : offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", head, offset + 4)
    return {0x014C: 32, 0x8664: 64, 0xAA64: 64}.get(machine)


def _excel_info(ctx: Context) -> _Excel:
    def find() -> _Excel:
        reg = ctx.system.registry
        if reg is None:
            return _Excel(False, note="レジストリを読めません")
        try:
            curver = reg.get(r"HKCR\Excel.Application\CurVer")
            if not curver:
                return _Excel(False)
            m = re.search(r"(\d+)$", str(curver))
            major = int(m[1]) if m else None
            exe = None
            clsid = reg.get(r"HKCR\Excel.Application\CLSID")
            if clsid:
                server = reg.get(rf"HKCR\CLSID\{clsid}\LocalServer32")
                if server:
                    m2 = re.match(r'\s*"([^"]+)"|\s*(\S+)', str(server))
                    exe = (m2[1] or m2[2]) if m2 else None
            if not exe:
                exe = reg.get(r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\excel.exe")
            bits = pe_bits(ctx.system.read_head(str(exe), 4096)) if exe else None
            c2r = r"HKLM\SOFTWARE\Microsoft\Office\ClickToRun\Configuration"
            if bits is None:
                platform = reg.get(c2r, "Platform")
                bits = {"x64": 64, "x86": 32}.get(str(platform).lower()) if platform else None
            version = reg.get(c2r, "VersionToReport")
            return _Excel(True, major, str(exe) if exe else None, bits, str(version) if version else None, bool(exe) and _is_store_path(str(exe)))
        except PermissionError:
            return _Excel(False, note="レジストリを読む権限がありません")

    return ctx.cached("excel", find)


def check_excel(ctx: Context) -> CheckResult:
    title = "Excel"
    if not ctx.system.windows:
        return _not_windows(ctx, "excel", title)
    x = _excel_info(ctx)
    if not x.found:
        return _ng("excel", title, "Excel が見つかりません（レジストリ HKEY_CLASSES_ROOT\\Excel.Application\\CurVer がありません）" + (f"。{x.note}" if x.note else "") + "。",
                   "デスクトップ版の Excel（Microsoft 365 Apps または Excel 2016 以降）を入れてください。Web 版の Excel ではマクロが動きません。")
    version = f"Excel {x.major}.0" + (f"（{x.version}）" if x.version else "")
    bits = f"{x.bits} ビット" if x.bits else "ビット数不明"
    where = x.exe or "場所不明"
    if x.store:
        return _ng("excel", title, f"{version}、{bits}: Microsoft Store 版の Office です（{where}）。Store 版は xlwings の DLL を読み込めないことがあります。",
                   "Microsoft 365 管理センター等から入れる通常（クイック実行）版の Office に入れ替えてください。")
    if x.major is not None and x.major < MIN_EXCEL_MAJOR:
        return _ng("excel", title, f"{version} は古すぎます（{where}）。kofu-xl は Excel 2016 以降（16.0）が対象です。", "Excel 2016 以降または Microsoft 365 Apps に更新してください。")
    note = "" if x.bits else "（EXCEL.EXE のビット数を読めませんでした。ファイル → アカウント → Excel のバージョン情報 で確認できます）"
    return _ok("excel", title, f"{version}、{bits}: {where}{note}")


def check_onedrive(ctx: Context) -> CheckResult:
    title = "ブックの置き場所（OneDrive でないこと）"
    if not ctx.system.windows:
        return _not_windows(ctx, "onedrive", title, required=False)
    if ctx.workbook is None:
        return _no_book(ctx, "onedrive", title, required=False)
    path = str(ctx.workbook)
    roots = [ctx.system.environ.get(k) for k in ("OneDrive", "OneDriveCommercial", "OneDriveConsumer", "ONEDRIVE")]
    under = next((r for r in roots if r and (_norm(path) + "\\").startswith(_norm(r) + "\\")), None)
    part = next((p for p in re.split(r"[\\/]", path) if p.casefold().startswith("onedrive")), None)
    if under or part:
        return _ng("onedrive", title, f"ブックが OneDrive で同期されるフォルダーにあります（{path}）。Excel はこのブックの場所を https:// の URL として扱うため、"
                   "提出ファイルはブックの横ではなく「ドキュメント\\交付円滑化計画\\提出」に作られます。同期中のファイルは保存や読み込みに失敗することもあります。",
                   f"同期されないローカルのフォルダー（例: C:\\交付円滑化計画）に移し、そのフォルダーを信頼できる場所にしてください（{_INSTALL}「5. ブックを置く」）。",
                   required=False)
    return _ok("onedrive", title, f"OneDrive の外です: {path}", required=False)


@dataclass(frozen=True)
class _Trust:
    location: str | None  # the trusted location that holds the workbook
    record: bool  # 「コンテンツの有効化」 was pressed for this file
    vba_warnings: int  # 1 enable all, 2 disable with notification (default), 3 signed only, 4 disable all
    policy: bool  # VBAWarnings set by group policy
    zone: int | None  # Mark of the Web ZoneId (3 = Internet), None = no mark
    note: str = ""


def _office_key(ctx: Context, policy: bool) -> str:
    major = _excel_info(ctx).major or 16
    base = r"HKCU\Software\Policies\Microsoft\Office" if policy else r"HKCU\Software\Microsoft\Office"
    return rf"{base}\{major}.0\Excel\Security"


def _zone_id(ctx: Context) -> int | None:
    text = ctx.system.read_text(str(ctx.workbook) + ":Zone.Identifier")
    if not text:
        return None
    m = re.search(r"^\s*ZoneId\s*=\s*(\d+)", text, re.MULTILINE | re.IGNORECASE)
    return int(m[1]) if m else None


def _trust(ctx: Context) -> _Trust:
    def compute() -> _Trust:
        reg = ctx.system.registry
        zone = _zone_id(ctx)
        if reg is None:
            return _Trust(None, False, 2, False, zone, "レジストリを読めません")
        env = ctx.system.environ
        folder = _norm(ntpath.dirname(str(ctx.workbook)))
        book = _norm(str(ctx.workbook))
        location = None
        note = ""
        try:
            for policy in (True, False):
                key = _office_key(ctx, policy) + r"\Trusted Locations"
                if policy and reg.get(key, "AllLocationsDisabled") == 1:
                    note = "グループポリシーで信頼できる場所がすべて無効にされています"
                    break
                network_ok = reg.get(key, "AllowNetworkLocations") == 1
                for sub in reg.subkeys(key):
                    raw = reg.get(rf"{key}\{sub}", "Path")
                    if not raw:
                        continue
                    loc = _norm(_expand(str(raw), env))
                    if loc.startswith("\\\\") and not network_ok:
                        continue
                    subfolders = reg.get(rf"{key}\{sub}", "AllowSubfolders") == 1
                    if folder == loc or (subfolders and folder.startswith(loc + "\\")):
                        location = _expand(str(raw), env)
                        break
                if location:
                    break
            records = reg.values(_office_key(ctx, False) + r"\Trusted Documents\TrustRecords")
            record = any(
                _norm(_expand(name, env).replace("/", "\\")) == book and isinstance(data, bytes) and data[-4:] == b"\xff\xff\xff\x7f"
                for name, data in records.items()
            )
            warnings = reg.get(_office_key(ctx, True), "VBAWarnings")
            policy = warnings is not None
            if warnings is None:
                warnings = reg.get(_office_key(ctx, False), "VBAWarnings")
            return _Trust(None if note else location, record, int(warnings) if warnings else 2, policy, zone, note)
        except PermissionError:
            return _Trust(None, False, 2, False, zone, "レジストリを読む権限がありません")

    return ctx.cached("trust", compute)


def check_mark_of_the_web(ctx: Context) -> CheckResult:
    title = "ダウンロードの印（Mark of the Web）"
    if not ctx.system.windows:
        return _not_windows(ctx, "mark-of-the-web", title)
    if ctx.workbook is None:
        return _no_book(ctx, "mark-of-the-web", title)
    t = _trust(ctx)
    if t.zone is None or t.zone < 3:
        return _ok("mark-of-the-web", title, "ブックにインターネットから取得した印はありません。")
    fix = ("エクスプローラーでブックを右クリック → プロパティ → 全般タブ下の「セキュリティ: このファイルは他のコンピューターから取得したものです」の「許可する」にチェック → OK。"
           f"PowerShell なら Unblock-File -Path \"{ctx.workbook}\"。")
    if t.location:
        return _ok("mark-of-the-web", title, f"ブックにインターネットから取得した印（ZoneId={t.zone}）がありますが、信頼できる場所（{t.location}）にあるためマクロは動きます。"
                   "別の場所へコピーすると止まるため、印を外しておくことをお勧めします: " + fix)
    return _ng("mark-of-the-web", title, f"ブックにインターネットから取得した印（ZoneId={t.zone}）があります。Excel はこのブックのマクロをブロックし、"
               "「セキュリティリスク このファイルのソースが信頼できないため、Microsoft によりマクロの実行がブロックされました。」という赤い帯を表示します。リボンも関数も動きません。", fix)


def check_macro_security(ctx: Context) -> CheckResult:
    title = "マクロの設定（信頼できる場所）"
    if not ctx.system.windows:
        return _not_windows(ctx, "macro-security", title)
    if ctx.workbook is None:
        return _no_book(ctx, "macro-security", title)
    t = _trust(ctx)
    folder = ntpath.dirname(str(ctx.workbook))
    how = (f"Excel の ファイル → オプション → トラスト センター → トラスト センターの設定 → 信頼できる場所 → 新しい場所の追加 で {folder} を追加してください"
           f"（{_INSTALL}「5. ブックを置く」）。")
    if t.location:
        return _ok("macro-security", title, f"ブックは信頼できる場所（{t.location}）にあり、マクロは確認なしで有効になります。")
    by = "グループポリシーで" if t.policy else ""
    if t.vba_warnings == 4:
        return _ng("macro-security", title, f"{by}マクロが「警告を表示せずにすべて無効にする」に設定され、ブックは信頼できる場所にありません。リボンも関数も動きません。",
                   how + ("信頼できる場所もポリシーで管理されている場合は、情報システム担当の管理者に追加を依頼してください。" if t.policy else ""))
    if t.vba_warnings == 3:
        return _ng("macro-security", title, f"{by}マクロが「デジタル署名されたマクロを除き、すべて無効にする」に設定されています。このブックのマクロには署名がないため動きません。", how)
    if t.note:
        return _ng("macro-security", title, f"{t.note}。ブックのマクロを有効にできない可能性があります。", "情報システム担当の管理者に、ブックのフォルダーを信頼できる場所にするよう依頼してください。")
    if t.vba_warnings == 1:
        return _ok("macro-security", title, "マクロが「すべて有効にする」に設定されています（動きますが、ほかのファイルのマクロも確認なしで動くため推奨しません）。" + how)
    if t.record:
        return _ok("macro-security", title, "このブックは以前に「コンテンツの有効化」が押され、マクロが有効になっています（別の場所へ移すと、もう一度押す必要があります）。")
    return _ng("macro-security", title, "ブックは信頼できる場所になく、開くたびに「セキュリティの警告 マクロが無効にされました。」の黄色い帯が出ます。"
               "「コンテンツの有効化」を押すまでリボンも関数も動きません。", how + "信頼できる場所にできない場合は、ブックを開いて黄色い帯の「コンテンツの有効化」を 1 回押してください。")


_ASR_ACTIONS = {0: "無効", 1: "ブロック", 2: "監査", 6: "警告"}
_ASR_SECTION = f"{_INSTALL}「8. Defender やウイルス対策ソフトに止められたとき」"


def _asr_action(ctx: Context, rule: str) -> tuple[int | None, str, list[str]]:
    """The action of an attack surface reduction rule where a normal user can read it:
    group policy, then MDM (Intune). Returns (action or None, where it was found,
    what could not be read). Settings made with Set-MpPreference are readable by
    administrators only."""
    reg = ctx.system.registry
    unread: list[str] = []
    if reg is None:
        return None, "", ["レジストリ"]
    gpo = r"HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Windows Defender Exploit Guard\ASR\Rules"
    try:
        values = {k.upper(): v for k, v in reg.values(gpo).items()}
        if rule in values:
            return int(str(values[rule]).strip() or 0), "グループポリシー", unread
    except (PermissionError, ValueError):
        unread.append("グループポリシー")
    mdm = r"HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Defender"
    try:
        text = reg.get(mdm, "AttackSurfaceReductionRules")
        if text:
            for part in str(text).split("|"):
                guid, _, action = part.partition("=")
                if guid.strip().upper() == rule:
                    return int(action.strip() or 0), "Intune（MDM）", unread
    except (PermissionError, ValueError):
        unread.append("Intune（MDM）")
    unread.append("ローカルの Defender 設定（Set-MpPreference。管理者権限でのみ読めます）")
    return None, "", unread


def _admin_hint(rule: str) -> str:
    return (f"管理者の PowerShell で Get-MpPreference を実行し、AttackSurfaceReductionRules_Ids に {rule} があれば、"
            "同じ位置の AttackSurfaceReductionRules_Actions が 1（ブロック）か 6（警告）かを確認してください"
            f"（{_ASR_SECTION}）。")


def check_defender(ctx: Context) -> CheckResult:
    """Defender's rule "Block all Office applications from creating child processes":
    RunPython starts cmd.exe and the UDF DLL starts Python, both children of Excel."""
    title = "Defender の「Office アプリケーションによる子プロセスの作成をブロック」"
    if not ctx.system.windows:
        return _not_windows(ctx, "defender-asr", title)
    action, where, unread = _asr_action(ctx, ASR_OFFICE_CHILD_PROCESS)
    symptom = ("この規則がブロックになっていると、Excel が Python を起動できず、リボンのボタンで「実行時エラー '70': 書き込みできません」（英語版では Permission denied）、"
               "関数で「Could not create Python process」が出て、画面右下に「アプリまたはプロセスがブロックされました: EXCEL.EXE」と表示されます。")
    fix = ("組織のセキュリティ方針に従い、Defender の管理者に、この PC ではこの規則を監査（2）にするか、規則ごとの除外を設定するよう相談してください"
           f"（{_ASR_SECTION}）。"
           "変えられない場合、Excel のボタンと関数は使えませんが、コマンドの kofu-xl check と kofu-xl submit で検証と提出ができます。")
    if action == 1:
        return _ng("defender-asr", title, f"{where}でこの規則がブロック（1）に設定されています。" + symptom, fix)
    if action == 6:
        return _ng("defender-asr", title, f"{where}でこの規則が警告（6）に設定されています。通知で「許可」を選ぶまで Python を起動できません。" + symptom, fix, required=False)
    if action is not None:
        return _ok("defender-asr", title, f"{where}でこの規則は{_ASR_ACTIONS.get(action, str(action))}（{action}）です。Python の起動は止められません。")
    return _skip("defender-asr", title, f"グループポリシー・Intune ではこの規則は設定されていません。{'、'.join(unread)}は読めないため、ブロックされていないとは言い切れません。" + symptom,
                 fix=_admin_hint(ASR_OFFICE_CHILD_PROCESS))


def check_defender_win32(ctx: Context) -> CheckResult:
    """Defender's rule "Block Win32 API calls from Office macros": xlwings.bas declares
    functions of its DLL and of kernel32 (LoadLibrary), which the rule may stop."""
    title = "Defender の「Office マクロからの Win32 API 呼び出しをブロック」"
    if not ctx.system.windows:
        return _not_windows(ctx, "defender-asr-win32", title, required=False)
    action, where, unread = _asr_action(ctx, ASR_OFFICE_WIN32_API)
    why = ("xlwings のマクロは Declare 文で xlwings の DLL と Windows の LoadLibrary を呼ぶため、この規則がブロックのときは KOFU_* 関数が止められることがあります。"
           "止められたかどうかは、イベント ビューアーの Windows Defender の Operational ログのイベント ID 1121 で確かめられます。")
    if action in (1, 6):
        return _ng("defender-asr-win32", title, f"{where}でこの規則が{_ASR_ACTIONS[action]}（{action}）に設定されています。" + why,
                   f"関数が動かないときは、Defender の管理者にこの規則の扱いを相談してください（{_ASR_SECTION}）。", required=False)
    if action is not None:
        return _ok("defender-asr-win32", title, f"{where}でこの規則は{_ASR_ACTIONS.get(action, str(action))}（{action}）です。", required=False)
    return _skip("defender-asr-win32", title, f"グループポリシー・Intune ではこの規則は設定されていません（{'、'.join(unread)}は読めません）。" + why,
                 required=False, fix=_admin_hint(ASR_OFFICE_WIN32_API))


# ---------------------------------------------------------------- running


Check = Callable[[Context], "CheckResult | list[CheckResult]"]
_ADDIN = "xlwings.xlam"
_IMPORTED_UDFS = "xlwings_udfs"  # the module xlwings' Import Functions writes (udfs.import_udfs)


def _addin_places(ctx: Context) -> list[str]:
    """Where the xlwings add-in is installed: the user's XLSTART folder (`xlwings addin
    install`), Excel's own XLSTART (`--glob`), and the add-ins Excel opens (Options, OPEN*)."""
    s = ctx.system
    found = []
    appdata = s.environ.get("APPDATA") or ""
    folders = [ntpath.join(appdata, "Microsoft", "Excel", "XLSTART")] if appdata else []
    excel = _excel_info(ctx).exe if s.registry is not None else None
    if excel:
        folders.append(ntpath.join(ntpath.dirname(excel), "XLSTART"))
    for folder in folders:
        path = ntpath.join(folder, _ADDIN)
        if s.is_file(path):
            found.append(path)
    if s.registry is not None:
        for version in ("16.0", "15.0"):
            key = rf"HKCU\Software\Microsoft\Office\{version}\Excel\Options"
            try:
                values = s.registry.values(key)
            except PermissionError:
                continue
            for name, value in sorted(values.items()):
                if name.upper().startswith("OPEN") and _ADDIN in str(value).casefold():
                    found.append(f"{key}\\{name} = {value}")
    return found


def check_xlwings_addin(ctx: Context) -> CheckResult:
    """The xlwings add-in is not needed (the book carries the runtime); its Import Functions
    would add a second set of KOFU_* wrappers to the book."""
    title = "xlwings アドイン（入れないこと）"
    if not ctx.system.windows:
        return _not_windows(ctx, "xlwings-addin", title, required=False)
    places = _addin_places(ctx)
    if places:
        return _ng("xlwings-addin", title,
                   f"xlwings アドインが入っています（{'、'.join(places)}）。このブックには xlwings の VBA が入っているため、アドインは要りません。"
                   "アドインの「Import Functions」をこのブックで押すと、KOFU_* 関数がもう一組（モジュール xlwings_udfs）加わり、名前が重複して関数もボタンも動かなくなります。",
                   f"事務担当者のユーザーで `xlwings addin remove` を実行するか、Excel の ファイル → オプション → アドイン で xlwings を外してください（{_INSTALL}「4.4」）。",
                   required=False)
    return _ok("xlwings-addin", title, "xlwings アドインは入っていません（ブックの xlwings.conf シートの設定だけが使われます）。", required=False)


def check_imported_udfs(ctx: Context) -> CheckResult:
    """A module xlwings_udfs in the book: Import Functions was pressed, KOFU_* are doubled."""
    title = "ブックの KOFU_* 関数の重複（Import Functions）"
    book = _book_or_problem(ctx, "xlwings-addin-udfs", title)
    if isinstance(book, CheckResult):
        return book
    doubled = sorted({name for module, src in book.vba.items() if module.casefold() == _IMPORTED_UDFS
                      for name in re.findall(r"^\s*(?:Public\s+)?Function\s+(KOFU_\w+)\(", src, re.MULTILINE | re.IGNORECASE)})
    if doubled:
        return _ng("xlwings-addin-udfs", title,
                   f"ブックにモジュール {_IMPORTED_UDFS}（xlwings アドインの Import Functions で加わったもの）があり、{'、'.join(doubled[:5])} など {len(doubled)} 個の関数が重複しています。"
                   "名前が重複すると VBA がコンパイルできず、関数もボタンも動きません。",
                   f"`kofu-xl upgrade` でブックを作り直してください（{_INSTALL}「7. 更新する」）。xlwings アドインも外してください。")
    return _ok("xlwings-addin-udfs", title, "KOFU_* 関数の重複はありません。")


def check_log(ctx: Context) -> CheckResult:
    """Where the helpdesk finds the log, and whether it can be written."""
    path = log_path()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if os.access(folder, os.W_OK):
        return _ok("log", "ログファイル", f"ログファイル: {path}（失敗の詳細が記録されます。問い合わせのときはこのファイルを添えてください）", required=False)
    return _ng("log", "ログファイル", f"ログファイル {path} のフォルダーに書き込めません。", f"{folder} に書き込めるようにするか、環境変数 KOFU_LOG_DIR に書き込めるフォルダーを設定してください。", required=False)


CHECKS: list[Check] = [
    check_python,
    check_python_bits,
    check_store_python,
    check_xlwings,
    check_vba_runtime,
    check_imports,
    check_functions,
    check_conf,
    check_conf_values,
    check_excel,
    check_interpreter,
    check_dll,
    check_onedrive,
    check_mark_of_the_web,
    check_macro_security,
    check_defender,
    check_defender_win32,
    check_xlwings_addin,
    check_imported_udfs,
    check_log,
]


@dataclass
class DoctorReport:
    results: list[CheckResult]
    workbook: Path | None
    workbook_note: str
    platform: str

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.required and r.status is Status.NG]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_NG

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "workbook": str(self.workbook) if self.workbook else None,
            "platform": self.platform,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "checks": [r.to_json() for r in self.results],
            "log": str(_log_path()),
        }


def _guarded(check: Check, ctx: Context) -> list[CheckResult]:
    try:
        out = check(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
        id = check.__name__.removeprefix("check_").replace("_", "-")
        return [_ng(id, id, f"診断中にエラーが起きました（{exc.__class__.__name__}: {exc}）。", "この画面の内容を添えて、kofu-xl の担当へ連絡してください。")]
    return out if isinstance(out, list) else [out]


def run_doctor(workbook: Path | str | None, *, system: System | None = None, checks: Iterable[Check] | None = None,
               workbook_note: str | None = None) -> DoctorReport:
    """Run every check (``checks``, default :data:`CHECKS`) for ``workbook`` (None: skip the
    workbook's checks, saying why with ``workbook_note``)."""
    system = system or current_system()
    path = Path(workbook) if workbook is not None else None
    note = workbook_note or ("ブックが指定されていません" if path is None else "")
    ctx = Context(system, path, note)
    results = [r for check in (CHECKS if checks is None else checks) for r in _guarded(check, ctx)]
    return DoctorReport(results, path, note, system.platform)


def default_workbook(cwd: Path | None = None) -> Path | None:
    """The shipped workbook when run from a checkout, else None."""
    candidate = (cwd or Path.cwd()) / SHIPPED_WORKBOOK
    return candidate if candidate.is_file() else None


# ---------------------------------------------------------------- output


_LABEL = {True: "必須", False: "推奨"}


def _log_path() -> Path:
    return log_path()


def render_text(report: DoctorReport, *, version: str | None = None) -> str:
    lines = [f"kofu-xl doctor: 動作環境の診断（kofu-xl {version or '?'}、{report.platform}）"]
    lines.append(f"ブック: {report.workbook}" if report.workbook else f"ブック: なし（{report.workbook_note}。ブックの確認は省略します）")
    lines.append(f"ログ: {_log_path()}")
    lines.append("")
    width = max((len(r.id) for r in report.results), default=10)
    indent = " " * (6 + 6 + width + 1)
    for r in report.results:
        lines.append(f"{r.status.value:<5} {_LABEL[r.required]}  {r.id:<{width}} {r.message}")
        if r.fix and r.status is not Status.OK:
            lines.append(f"{indent}対処: {r.fix}")
    lines.append("")
    skipped = sum(r.status is Status.SKIP for r in report.results)
    optional_ng = sum(r.status is Status.NG and not r.required for r in report.results)
    if report.ok:
        lines.append(f"結果: 必須の確認に NG はありません（推奨の NG {optional_ng} 件、SKIP {skipped} 件）。終了コード 0")
    else:
        lines.append(f"結果: 必須の確認のうち {len(report.failed)} 件が NG です（{'、'.join(r.id for r in report.failed)}）。上の「対処」に従って直し、もう一度 kofu-xl doctor を実行してください。終了コード 1")
    if report.platform != "win32":
        lines += [
            "",
            "この PC は Windows ではありません。確認したのは Python 側（Python の版、xlwings の版とブックの VBA ランタイム、モジュールとブックが呼ぶ関数、xlwings.conf シート）です。",
            "Excel、Excel が起動する Python、xlwings の DLL、ブックの置き場所とマクロの設定、Defender の規則は、事務用の Windows PC で kofu-xl doctor を実行して確認してください。",
        ]
    return "\n".join(lines)


def _first_sentence(text: str) -> str:
    """Up to the first "。" outside 「」 and （）."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "「（"
        depth -= ch in "」）"
        if ch == "。" and depth <= 0:
            return text[: i + 1]
    return text


def doctor_message(report: DoctorReport, *, limit: int = 900) -> str:
    """The short text of the 「診断」 button's message box (a box holds ~1,000 characters)."""
    bad = [r for r in report.results if r.status is Status.NG]
    if not bad:
        head = f"診断の結果、問題は見つかりませんでした（確認 {len(report.results)} 件）。"
        body = ""
    else:
        head = ("診断の結果、直す必要のある問題があります。" if not report.ok else "診断の結果、必須の確認はすべて OK ですが、推奨の確認に問題があります。")
        parts = []
        for r in sorted(bad, key=lambda r: not r.required):
            first = _first_sentence(r.message)
            parts.append(f"■ {r.title}（{_LABEL[r.required]}）\n{first}\n対処: {r.fix}")
        body = "\n\n".join(parts)
        if len(body) > limit:
            body = body[:limit].rstrip() + "…"
    where = f" \"{report.workbook}\"" if report.workbook else ""
    tail = f"\n\nすべての結果は、コマンドプロンプトで kofu-xl doctor{where} を実行すると表示されます。\nログ: {_log_path()}"
    return head + ("\n\n" + body if body else "") + tail


# ---------------------------------------------------------------- command line
