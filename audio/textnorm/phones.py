"""Phone numbers and hotlines, read digit by digit in the groups they are written in.

- Mobile and landline numbers (0912 345 678, 0243.826.123, +84 912 345 678), with the area code
  in brackets too: ``(024) 3825 1234`` "không hai bốn, ba tám hai năm, một hai ba bốn".
- Service numbers 1800/1900.
- After a phone word (gọi, hotline, đường dây nóng, tổng đài, số khẩn cấp, …) every number of
  the list that follows, whatever separates them (commas, "hoặc", "và", a label in brackets):
  ``gọi 113, 114, 115``; ``112 (cứu nạn), 113 (công an)``.
- 111-115 elsewhere, when a phone word stands in the 30 characters before.
"""

from __future__ import annotations

import re

from ..numbers import read_digits
from .patterns import sub


def _phone_digits(token: str) -> str:
    """Digit by digit, with a pause between the groups as written (easier to note down)."""
    groups = [g for g in re.split(r"[ .\-]", token.replace("+84", "+84 ")) if g]
    spoken = []
    for group in groups:
        spoken.append("cộng " + read_digits(group) if group.startswith("+") else read_digits(group))
    return ", ".join(spoken)


_PHONE_CONTEXT = (r"(?:hotline|đường dây nóng|tổng đài|điện thoại|số máy|fax|gọi(?: ngay)?(?: (?:đến|tới|cho))?"
                  r"(?: (?:các )?số)?|liên hệ(?: số)?|số điện thoại|số khẩn cấp|các số khẩn cấp|đầu số)")
_SHORT_NUMBER = r"[0-9]{3,}(?:[ .\-][0-9]{2,})*"
# Between two numbers of a list: a label in brackets, then a comma, a slash, "hoặc", "và".
_LIST_SEPARATOR = r"(?:\s?\([^()0-9]{1,40}\))?(?:\s?[,;/]\s?|\s(?:hoặc|và|hay)\s)"


_PHONE_WORDS = ("gọi", "hotline", "đường dây nóng", "tổng đài", "điện thoại", "số máy", "báo ngay", "liên hệ")


def _phone(m: re.Match[str]) -> str:
    token = m.group(0)
    count = sum(ch.isdigit() for ch in token)
    if not 9 <= count <= 12:
        return token
    return f" {_phone_digits(token)} "


def _emergency_number(m: re.Match[str]) -> str:
    # 111-115 are hotlines (child protection, rescue, police, fire, ambulance) when a phone
    # word is near: "Số điện thoại cứu hộ: 112"; otherwise plain numbers ("113 hộ").
    before = re.split(r"[.!?;\n]", m.string[max(0, m.start() - 80):m.start()])[-1].lower()
    if any(word in before for word in _PHONE_WORDS) and not any(ch.isdigit() for ch in before[-12:]):
        return f" {read_digits(m.group(0))} "
    return m.group(0)


def _area_code(m: re.Match[str]) -> str:
    area, rest = m.group(1), m.group(2)
    count = sum(ch.isdigit() for ch in area + rest)
    if not 9 <= count <= 12:
        return m.group(0)
    return f" {_phone_digits(area)}, {_phone_digits(rest)} "


def _number_list(m: re.Match[str]) -> str:
    spoken = re.sub(_SHORT_NUMBER, lambda n: f" {_phone_digits(n.group(0))} ", m.group(3)).replace("/", ",")
    return f"{m.group(1)}{m.group(2)} {spoken} "


def read_phones(text: str) -> str:
    # The area code in brackets: (024) 3825 1234, (0243) 826 123, (+84) 912 345 678.
    text = sub(r"\(\s?(\+84|0[0-9]{2,3})\s?\)\s?([0-9]{2,4}(?:[ .\-]?[0-9]{2,4}){1,3})(?![0-9]|[.,][0-9])",
               _area_code, text)
    # Mobile and landline numbers: 0912 345 678, 0243.826.123, +84 912 345 678.
    text = sub(r"(?<![0-9.,/+])(?:\+84[ .]?|0)[0-9]{1,4}(?:[ .\-]?[0-9]{2,4}){2,3}(?![0-9]|[.,/][0-9])",
                _phone, text)
    # Service numbers: 1900 1234, 1800 1091.
    text = sub(r"(?<![0-9.,/])1[89]00[ .]?[0-9]{4}(?:[ .]?[0-9]{2})?(?![0-9])",
                lambda m: f" {_phone_digits(m.group(0))} ", text)
    # After a phone word any number is read digit by digit: "gọi 113", "tổng đài 1022".
    text = sub(rf"(?<!\w)({_PHONE_CONTEXT})((?:\s[^\W\d_]+){{0,5}}?\s?:\s?|\s?:?\s?)({_SHORT_NUMBER}(?:{_LIST_SEPARATOR}{_SHORT_NUMBER})*)(?![0-9])",
               _number_list, text, re.IGNORECASE)
    return sub(r"(?<![0-9.,/])11[1-5](?![0-9]|[.,][0-9])", _emergency_number, text)

