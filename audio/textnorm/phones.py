"""Phone numbers and hotlines, read digit by digit in the groups they are written in."""

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
                  r"(?: số)?|liên hệ(?: số)?|số điện thoại)")


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
    before = m.string[max(0, m.start() - 30):m.start()].lower()
    if any(word in before for word in _PHONE_WORDS) and not any(ch.isdigit() for ch in before[-12:]):
        return f" {read_digits(m.group(0))} "
    return m.group(0)


def read_phones(text: str) -> str:
    # Mobile and landline numbers: 0912 345 678, 0243.826.123, +84 912 345 678.
    text = sub(r"(?<![0-9.,/+])(?:\+84[ .]?|0)[0-9]{1,4}(?:[ .\-]?[0-9]{2,4}){2,3}(?![0-9]|[.,/][0-9])",
                _phone, text)
    # Service numbers: 1900 1234, 1800 1091.
    text = sub(r"(?<![0-9.,/])1[89]00[ .]?[0-9]{4}(?:[ .]?[0-9]{2})?(?![0-9])",
                lambda m: f" {_phone_digits(m.group(0))} ", text)
    # After a phone word any number is read digit by digit: "gọi 113", "tổng đài 1022".
    text = sub(rf"(?<!\w)({_PHONE_CONTEXT})(\s?:?\s?)([0-9]{{3,}}(?:[ .\-][0-9]{{2,}})*)(?![0-9])",
                lambda m: f"{m.group(1)}{m.group(2)} {_phone_digits(m.group(3))} ", text, re.IGNORECASE)
    return sub(r"(?<![0-9.,/])11[1-5](?![0-9]|[.,][0-9])", _emergency_number, text)

