"""The workbook's ribbon tab 「交付円滑化計画」: customUI14.xml and its VBA callbacks.

`RIBBON_BUTTONS` describes every button once; `custom_ui_xml()` (the ribbon, UTF-8 XML
with Japanese labels) and `ribbon_vba()` (the callbacks, ASCII VBA with Japanese text
built from ChrW) are both generated from it, so each onAction names an existing Sub.
Each callback runs one Python call through xlwings' ``RunPython`` (module ``xlwings``,
the package's xlwings.bas). `workbook_module_vba()` is the ThisWorkbook module, which
registers the UDFs' descriptions (Application.MacroOptions) when the book opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kofu_xl.ooxml.vba.xlwings_vba import vba_assign_string, vba_string_literal

__all__ = [
    "CUSTOM_UI_NAMESPACE",
    "RIBBON_BUTTONS",
    "RIBBON_GROUPS",
    "RIBBON_MODULE_NAME",
    "RIBBON_TAB",
    "RibbonButton",
    "RibbonGroup",
    "custom_ui_xml",
    "ribbon_vba",
    "workbook_module_vba",
]

CUSTOM_UI_NAMESPACE = "http://schemas.microsoft.com/office/2009/07/customui"
RIBBON_MODULE_NAME = "KofuRibbon"  # the VBA standard module holding the callbacks
_VBA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")
_PYTHON_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_RIBBON_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class RibbonTab:
    id: str
    label: str
    keytip: str
    insert_after_mso: str


@dataclass(frozen=True)
class RibbonGroup:
    id: str
    label: str


@dataclass(frozen=True)
class RibbonButton:
    """One ribbon button and what it runs.

    ``callback`` is the VBA Sub named in onAction; it runs ``python_command``, i.e.
    ``import <python_module>; <python_module>.<python_function>()``.
    """

    id: str
    group: str  # RibbonGroup.id
    label: str
    image_mso: str
    screentip: str
    supertip: str
    keytip: str
    callback: str
    python_module: str
    python_function: str
    size: str = "large"

    @property
    def python_command(self) -> str:
        return f"import {self.python_module}; {self.python_module}.{self.python_function}()"


RIBBON_TAB = RibbonTab(id="kofuTab", label="交付円滑化計画", keytip="KF",
                       insert_after_mso="TabHome")

RIBBON_GROUPS: tuple[RibbonGroup, ...] = (
    RibbonGroup("kofuGroupCheck", "検証・提出"),
    RibbonGroup("kofuGroupActuals", "実績"),
    RibbonGroup("kofuGroupProposal", "計画案"),
    RibbonGroup("kofuGroupHelp", "ヘルプ"),
)

RIBBON_BUTTONS: tuple[RibbonButton, ...] = (
    RibbonButton(
        id="kofuValidate", group="kofuGroupCheck", label="検証", image_mso="DataValidation",
        screentip="計画を検証",
        supertip="入力した計画を国の基準と照合し、見つかった問題点を一覧で表示します。"
                 "提出の前に必ず実行してください。",
        keytip="V", callback="KofuRibbonValidate",
        python_module="kofu_xl.excel", python_function="validate_book"),
    RibbonButton(
        id="kofuSubmit", group="kofuGroupCheck", label="検証して提出",
        image_mso="FileSendAsAttachment",
        screentip="検証して提出用ファイルを作成",
        supertip="計画を検証し、問題がなければ提出用のファイルを作成します。"
                 "問題があるときは提出用のファイルを作成せず、問題点を表示します。",
        keytip="S", callback="KofuRibbonSubmit",
        python_module="kofu_xl.excel", python_function="submit_book"),
    RibbonButton(
        id="kofuImportActuals", group="kofuGroupActuals", label="実績取込",
        image_mso="GetExternalDataFromText",
        screentip="交付実績を取り込む",
        supertip="月別の交付実績（交付枚数）のファイルを選び、実績の欄に取り込みます。",
        keytip="I", callback="KofuRibbonImportActuals",
        python_module="kofu_xl.excel", python_function="import_actuals"),
    RibbonButton(
        id="kofuPropose", group="kofuGroupProposal", label="計画案", image_mso="ChartInsert",
        screentip="計画案を作る",
        supertip="国の全体スケジュール（下限値）を満たす②交付枚数・⑤職員配置数と経費の案を、"
                 "シート「計画案」に書きます。本表1-1 の入力は変わりません。",
        keytip="P", callback="KofuRibbonPropose",
        python_module="kofu_xl.excel", python_function="propose_book"),
    RibbonButton(
        id="kofuAdoptProposal", group="kofuGroupProposal", label="計画案を採用", image_mso="PasteValues",
        screentip="計画案を本表に写す",
        supertip="確認のうえ、計画案を本表1-1 の②交付枚数・⑤職員配置数と本表1-2 の臨時・非常勤職員の経費に写します。"
                 "元の値はシート「計画案」の「採用前の値」に残ります。",
        keytip="A", callback="KofuRibbonAdoptProposal",
        python_module="kofu_xl.excel", python_function="adopt_proposal"),
    RibbonButton(
        id="kofuDoctor", group="kofuGroupHelp", label="診断", image_mso="Help",
        screentip="動作環境を診断",
        supertip="この PC の Python と xlwings の設定を確認し、結果を表示します。"
                 "このボタンも動かないときは、コマンドプロンプトで kofu-xl doctor を実行してください。"
                 "kofu-xl を新しい版にしたときは、kofu-xl upgrade でこのブックの入力・実績・検証結果・提出記録を新しい版のブックに移します（導入手順書 7 章）。",
        keytip="D", callback="KofuRibbonDoctor",
        python_module="kofu_xl.excel", python_function="doctor_book"),
)

# Texts of the message boxes the callbacks show (built with ChrW in VBA).
_MSG_TITLE = "交付円滑化計画"
_MSG_NOT_STARTED = (
    "を実行できませんでした。Python を起動できません。\n\n"
    "次の手順で確認してください。\n"
    "1. コマンドプロンプトで kofu-xl doctor を実行し、表示された問題を直してください。\n"
    "2. 解決しないときは、この画面の内容を情報システム担当（IT 担当）へ連絡してください。\n\n"
    "エラー番号: "
)
_MSG_FAILED = (
    "の処理はエラーで終了しました。\n\n"
    "同じエラーが続くときは、コマンドプロンプトで kofu-xl doctor を実行してください。"
    "解決しないときは、表示されたエラーの内容を情報システム担当（IT 担当）へ連絡してください。"
)


_MSG_LOG = "ログ: "
_MSG_BUSY = "を実行しています。Python を起動しています…"
# Excel's constants as numbers (the module needs no reference to the Excel library)
XL_WAIT, XL_DEFAULT, XL_CALCULATION_MANUAL = 2, -4143, -4135


def _check() -> None:
    """The descriptions must be usable as ids, VBA names and Python calls."""
    groups = {g.id for g in RIBBON_GROUPS}
    ids = [RIBBON_TAB.id, *groups, *(b.id for b in RIBBON_BUTTONS)]
    if len(set(ids)) != len(ids) or not all(_RIBBON_ID.match(i) for i in ids):
        raise ValueError(f"ribbon ids must be unique XML ids: {ids!r}")
    callbacks = [b.callback.upper() for b in RIBBON_BUTTONS]
    if len(set(callbacks)) != len(callbacks):
        raise ValueError("ribbon callbacks must be unique")
    for b in RIBBON_BUTTONS:
        if b.group not in groups:
            raise ValueError(f"button {b.id}: unknown group {b.group}")
        if not _VBA_NAME.match(b.callback):
            raise ValueError(f"button {b.id}: callback {b.callback!r} is no VBA identifier")
        if not (_PYTHON_NAME.match(b.python_module) and _PYTHON_NAME.match(b.python_function)
                and "." not in b.python_function):
            raise ValueError(f"button {b.id}: invalid Python call {b.python_command!r}")
        if b.size not in ("large", "normal"):
            raise ValueError(f"button {b.id}: size {b.size!r}")


def _xml_attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;"))


def _attrs(pairs: list[tuple[str, str]]) -> str:
    return "".join(f' {name}="{_xml_attr(value)}"' for name, value in pairs)


def custom_ui_xml() -> bytes:
    """customUI14.xml: the tab 「交付円滑化計画」 with its groups and buttons (UTF-8)."""
    _check()
    tab = RIBBON_TAB
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        f'<customUI xmlns="{CUSTOM_UI_NAMESPACE}">',
        "  <ribbon>",
        "    <tabs>",
        "      <tab" + _attrs([("id", tab.id), ("label", tab.label), ("keytip", tab.keytip),
                               ("insertAfterMso", tab.insert_after_mso)]) + ">",
    ]
    for group in RIBBON_GROUPS:
        lines.append(f"        <group{_attrs([('id', group.id), ('label', group.label)])}>")
        for b in (b for b in RIBBON_BUTTONS if b.group == group.id):
            attrs = _attrs([("id", b.id), ("label", b.label), ("size", b.size),
                            ("imageMso", b.image_mso), ("screentip", b.screentip),
                            ("supertip", b.supertip), ("keytip", b.keytip),
                            ("onAction", b.callback)])
            lines.append(f"          <button{attrs}/>")
        lines.append("        </group>")
    lines += ["      </tab>", "    </tabs>", "  </ribbon>", "</customUI>", ""]
    return "\r\n".join(lines).encode("utf-8")


def _crlf(lines: list[str]) -> str:
    text = "\r\n".join(lines)
    if not text.isascii():
        raise AssertionError("generated VBA must be ASCII")
    return text + "\r\n"


def ribbon_vba() -> str:
    """The VBA standard module (`RIBBON_MODULE_NAME`) with the ribbon callbacks.

    Each ``Public Sub <callback>(control As IRibbonControl)`` runs its Python call with
    xlwings' RunPython. A VBA error raised while starting Python (interpreter or DLL not
    found, child processes blocked, ...) shows a Japanese message telling the clerk to
    run ``kofu-xl doctor`` and then to contact IT; when RunPython reports that the call
    failed (it returns -1 after xlwings has shown the Python error) a shorter hint follows.
    """
    _check()
    out = [
        "'Autogenerated by kofu_xl.ooxml.ribbon - changes are lost on build",
        "'Ribbon callbacks of the tab kofuTab: each runs one Python call through",
        "'xlwings' RunPython (module xlwings). Text is ASCII; Japanese is built with ChrW.",
        "Option Explicit",
        "",
    ]
    for b in RIBBON_BUTTONS:
        out += [
            f"Public Sub {b.callback}(control As IRibbonControl)",
            "    Dim result As Variant, busy As String, calc As Long, screen As Boolean",
            "    On Error GoTo PythonNotStarted",
            *vba_assign_string("busy", f"「{b.label}」{_MSG_BUSY}"),
            "    KofuBusy busy, calc, screen",
            f"    result = RunPython({vba_string_literal(b.python_command)})",
            "    KofuDone busy, calc, screen",
            "    On Error GoTo 0",
            "    If IsNumeric(result) Then",
            f"        If result = -1 Then KofuPythonFailed {vba_string_literal(b.label)}",
            "    End If",
            "    Exit Sub",
            "PythonNotStarted:",
            "    KofuDone busy, calc, screen",
            f"    KofuPythonNotStarted {vba_string_literal(b.label)}, Err.Number, Err.Description",
            "End Sub",
            "",
        ]
    out += [
        "' Feedback while Python starts and writes: the status bar says what runs, the wait",
        "' cursor shows, screen updating and calculation pause. KofuDone puts back what",
        "' KofuBusy found, on every path (the callers' error handler calls it too), and gives",
        "' the status bar back to Excel unless Python left a message there.",
        "Private Sub KofuBusy(ByVal busy As String, ByRef calc As Long, ByRef screen As Boolean)",
        "    calc = Application.Calculation",
        "    screen = Application.ScreenUpdating",
        "    Application.StatusBar = busy",
        f"    Application.Cursor = {XL_WAIT}",
        "    Application.ScreenUpdating = False",
        f"    Application.Calculation = {XL_CALCULATION_MANUAL}",
        "End Sub",
        "",
        "Private Sub KofuDone(ByVal busy As String, ByVal calc As Long, ByVal screen As Boolean)",
        "    On Error Resume Next",
        "    If calc <> 0 Then Application.Calculation = calc",
        "    Application.ScreenUpdating = screen Or (calc = 0)",
        f"    Application.Cursor = {XL_DEFAULT}",
        "    If VarType(Application.StatusBar) = vbString Then",
        "        If Application.StatusBar = busy Then Application.StatusBar = False",
        "    End If",
        "    On Error GoTo 0",
        "End Sub",
        "",
    ]
    out += [
        "Private Sub KofuPythonNotStarted(ByVal action As String, ByVal errNumber As Long, "
        "ByVal errDescription As String)",
        "    Dim msg As String, tail As String, title As String",
        *vba_assign_string("title", _MSG_TITLE),
        *vba_assign_string("tail", "\u300d" + _MSG_NOT_STARTED),
        f"    msg = {vba_string_literal(chr(0x300C))} & action & tail & CStr(errNumber) "
        "& vbLf & errDescription",
        f"    msg = msg & vbLf & vbLf & {vba_string_literal(_MSG_LOG)} & KofuLogPath()",
        "    MsgBox msg, vbCritical + vbOKOnly, title",
        "End Sub",
        "",
        "Private Sub KofuPythonFailed(ByVal action As String)",
        "    Dim msg As String, tail As String, title As String",
        *vba_assign_string("title", _MSG_TITLE),
        *vba_assign_string("tail", "\u300d" + _MSG_FAILED),
        f"    msg = {vba_string_literal(chr(0x300C))} & action & tail",
        f"    msg = msg & vbLf & vbLf & {vba_string_literal(_MSG_LOG)} & KofuLogPath()",
        "    MsgBox msg, vbExclamation + vbOKOnly, title",
        "End Sub",
        "",
        "' The log of kofu_xl.logs: $KOFU_LOG_DIR, else platformdirs' user log folder on",
        "' Windows (%LOCALAPPDATA%\\kofu-xl\\Logs).",
        "Public Function KofuLogPath() As String",
        '    If Len(Environ("KOFU_LOG_DIR")) > 0 Then',
        '        KofuLogPath = Environ("KOFU_LOG_DIR") & "\\kofu-xl.log"',
        "    Else",
        '        KofuLogPath = Environ("LOCALAPPDATA") & "\\kofu-xl\\Logs\\kofu-xl.log"',
        "    End If",
        "End Function",
    ]
    return _crlf(out)


def workbook_module_vba(register_sub: str = "KofuRegisterFunctions") -> str:
    """The ThisWorkbook document module: on open, register the UDF descriptions.

    ``register_sub`` is the Public Sub generated by
    `kofu_xl.ooxml.vba.xlwings_vba.generate_macro_options`; errors are ignored so that a
    failed registration never blocks opening the book.
    """
    if not _VBA_NAME.match(register_sub):
        raise ValueError(f"{register_sub!r} is no VBA identifier")
    return _crlf([
        "'Autogenerated by kofu_xl.ooxml.ribbon - changes are lost on build",
        "Option Explicit",
        "",
        "Private Sub Workbook_Open()",
        "    On Error Resume Next",
        f"    {register_sub}",
        "End Sub",
    ])
