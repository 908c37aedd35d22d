"""Clock times: 7h30, 17:00, 8:15:30, 7g30."""

from __future__ import annotations

import re

from ..numbers import read_number
from .dates import loose
from .patterns import sub


def _time_words(hour: int, minute: int, second: int | None = None) -> str:
    words = [read_number(hour), "giờ"]
    if minute:
        words += [read_number(minute), "phút"]
    if second:
        words += [read_number(second), "giây"]
    return " ".join(words)


def read_times(text: str) -> str:
    def hm(m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        second = int(m.group(3)) if m.re.groups >= 3 and m.group(3) else None
        if hour > 24 or minute > 59 or (second is not None and second > 59):
            return loose(m.group(0).replace(":", "/"))
        return f" {_time_words(hour, minute, second)} "

    text = sub(r"(?<![0-9.,/:])([0-9]{1,2})[hg]([0-9]{2})(?:'|ph\b|p\b)?(?![0-9])", hm, text)
    text = sub(r"(?<![0-9.,/:])([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?![0-9:])", hm, text)
    return text


