"""Roman numerals after a context word (Quý IV, khóa XV) and standing alone (II, XIV)."""

from __future__ import annotations

import re

from ..numbers import read_number, read_ordinal, roman_to_int
from .patterns import sub

_ROMAN_CONTEXT = (r"quý|đại hội|khóa|khoá|lần thứ|thế kỷ|thế kỉ|chương|phần|mục|đợt|giai đoạn|kỳ|kì"
                  r"|quân khu|hội nghị trung ương|thứ|cấp|vùng|tập|số")


def read_romans(text: str) -> str:
    def in_context(m: re.Match[str]) -> str:
        value = roman_to_int(m.group(2))
        if value is None:
            return m.group(0)
        keyword = m.group(1)
        spoken = read_ordinal(value) if keyword.lower().endswith("thứ") else read_number(value)
        year = f" năm {read_number(int(m.group(3)))}" if m.group(3) else ""
        return f"{keyword} {spoken}{year} "

    text = sub(rf"(?<!\w)((?i:{_ROMAN_CONTEXT}))\s([IVX]{{1,7}})(?:/([0-9]{{4}}))?(?![\w])", in_context, text)

    def standalone(m: re.Match[str]) -> str:
        value = roman_to_int(m.group(0))
        return m.group(0) if value is None else f" {read_number(value)} "

    return sub(r"(?<![\w])[IVX]{2,6}(?![\w])", standalone, text)

