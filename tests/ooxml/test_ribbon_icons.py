"""Every ribbon icon is one Excel has: an unknown imageMso shows a button without an icon."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from kofu_xl.ooxml import ribbon

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "workbook" / "交付円滑化計画.xlsm"
KNOWN_IDS = Path(__file__).with_name("excel_control_ids.txt")  # its header names the source


def known_control_ids() -> set[str]:
    lines = KNOWN_IDS.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_the_list_of_known_ids_names_its_source() -> None:
    head = KNOWN_IDS.read_text(encoding="utf-8")
    assert "OfficeDev/office-fluent-ui-command-identifiers" in head and "excelcontrols.xlsx" in head
    assert len(known_control_ids()) >= 30


def test_every_image_mso_of_the_shipped_ribbon_is_an_excel_control_id() -> None:
    with zipfile.ZipFile(SHIPPED) as z:
        xml = z.read("customUI/customUI14.xml").decode("utf-8")
    used = re.findall(r'imageMso="([^"]*)"', xml)
    assert len(used) == len(ribbon.RIBBON_BUTTONS)  # every button has an icon
    unknown = sorted(set(used) - known_control_ids())
    assert unknown == [], f"imageMso not in Excel's control list: {unknown}"


def test_the_ribbon_definition_uses_known_ids_only() -> None:
    used = {b.image_mso for b in ribbon.RIBBON_BUTTONS}
    assert used <= known_control_ids(), sorted(used - known_control_ids())
