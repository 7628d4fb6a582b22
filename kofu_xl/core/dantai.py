"""団体コード (local government codes) and the prefectures they belong to."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PREFECTURES", "check_digit", "dantai_problem"]

# JIS X 0401 prefecture codes: the first two digits of a 団体コード.
PREFECTURES: dict[str, str] = dict(
    zip(
        [f"{i:02d}" for i in range(1, 48)],
        (
            "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 "
            "新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 "
            "奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 "
            "熊本県 大分県 宮崎県 鹿児島県 沖縄県"
        ).split(),
        strict=True,
    )
)


def check_digit(first5: str) -> str:
    """Modulus 11 with weights 6,5,4,3,2; check = 11 - (sum mod 11), last digit (122327 -> 7)."""
    total = sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def dantai_problem(code: str, prefecture: str | None) -> tuple[str, str] | None:
    """None when the code is valid for the prefecture; else (expected, reason in Japanese)."""
    text = unicodedata.normalize("NFKC", code).strip()
    if not re.fullmatch(r"\d{6}", text):
        return ("6桁の数字", "6桁の数字ではありません")
    pref = PREFECTURES.get(text[:2])
    if pref is None:
        return ("01〜47 で始まるコード", f"先頭2桁 {text[:2]} は都道府県コード（01〜47）ではありません")
    expected = text[:5] + check_digit(text[:5])
    if expected != text:
        return (expected, f"検査数字（6桁目）が正しくありません。{text[:5]} の検査数字は {expected[-1]} です")
    if prefecture and unicodedata.normalize("NFKC", prefecture).strip() != pref:
        return (pref, f"先頭2桁 {text[:2]} は{pref}のコードですが、都道府県名は「{prefecture}」です")
    return None
