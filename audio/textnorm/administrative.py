"""Administrative shorthand: one-letter place abbreviations, weekdays (T2-T7, CN), alarm levels (BĐ1-BĐ3).

- ``P. Bến Nghé``, ``Q.1``, ``X. Tân Lập``, ``H. Đông Anh``: one capital, a dot, then a place
  name (a capital) or a number, read phường, quận, xã, huyện. Not when the word before is part
  of a name in capitals ("Trần H. Nam" is a person), and not ``X.`` opening a line (a Roman ten
  heading).
- ``T2``…``T7`` are weekdays (thứ hai … thứ bảy) and ``CN`` is Sunday (chủ nhật) when they
  stand as words; ``T2/2025`` (a month) is left alone. A dash between two weekdays is "đến".
- ``BĐ1``, ``BĐ 2``, ``BĐ-3``, ``BĐIII``: flood alarm levels, "báo động một/hai/ba".
"""

from __future__ import annotations

import re

from ..numbers import read_number, roman_to_int
from .patterns import sub

_PLACE_LETTERS = {"P": "phường", "Q": "quận", "X": "xã", "H": "huyện"}
_WEEKDAYS = {"2": "thứ hai", "3": "thứ ba", "4": "thứ tư", "5": "thứ năm", "6": "thứ sáu", "7": "thứ bảy"}
_WEEKDAY_WORDS = r"(?:thứ (?:hai|ba|tư|năm|sáu|bảy)|chủ nhật)"


# Surnames and middle names: an initial after one of them belongs to a person's name.
_NAME_WORDS = frozenset({"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
                         "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Đào", "Mai", "Lương", "Văn", "Thị"})


_PLACE_CHAIN_RE = re.compile(r", (?:[PQH]\.|TP\.|TX\.|huyện |tỉnh |thành phố |thị xã )")


def _capitalized(word: str) -> bool:
    return word[:1].isupper() and word.isalpha() and not word.isupper()


def _in_name(words: list[str]) -> bool:
    previous = words[-1]
    if previous in _NAME_WORDS:
        return True
    # Two capitalized words in a row before the initial: a name ("Minh Tuấn H."), not "Tại P.".
    return len(words) >= 2 and _capitalized(previous) and _capitalized(words[-2])


def _place_letter(m: re.Match[str]) -> str:
    letter = m.group(2)
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    before = m.string[line_start:m.start()]
    if letter == "X" and not before.strip(" \t-+*•·–—"):
        # "X. NHIỆM VỤ" opening a line is a heading numbered ten, unless a chain of places
        # follows on the line ("X. Tân Lập, H. Đan Phượng").
        line_end = m.string.find("\n", m.end())
        rest = m.string[m.end():line_end if line_end >= 0 else len(m.string)]
        if not _PLACE_CHAIN_RE.search(rest[:80]):
            return m.group(0)
    words = before.split()
    if words and _in_name(words):
        return m.group(0)  # "Nguyễn Văn H. Nam", "ông Trần H.": an initial inside a person's name
    return f"{m.group(1)}{_PLACE_LETTERS[letter]} "


def read_place_letters(text: str) -> str:
    return sub(r"(^|(?<=[\s,;:(]))([PQXH])\.\s?(?=[A-ZĐÂĂÊÔƠƯÁÀẢÃẠ0-9])", _place_letter, text, re.MULTILINE)


def _alarm(m: re.Match[str]) -> str:
    level = m.group(1)
    value = int(level) if level.isdigit() else roman_to_int(level)
    return f" báo động {read_number(value)} " if value else m.group(0)


def read_weekdays_and_alarms(text: str) -> str:
    # "Thứ 2 - CN": an ordinal weekday before a dash and another weekday.
    text = sub(r"(?<!\w)((?i:thứ))\s?([2-7])(?=\s?[-–]\s?(?:T[2-7]|CN)(?!\w))",
               lambda m: f"{m.group(1)} {_WEEKDAYS[m.group(2)][4:]}", text)
    text = sub(r"(?<![\w/.])T([2-7])(?![\w/]|[.,][0-9])", lambda m: f" {_WEEKDAYS[m.group(1)]} ", text)
    text = sub(r"(?<![\w&/-])CN(?![\w&/])", lambda m: " chủ nhật ", text)
    text = sub(rf"(?i:({_WEEKDAY_WORDS}))\s*[-–]\s*(?=(?i:{_WEEKDAY_WORDS}))", lambda m: f"{m.group(1)} đến ", text)
    return sub(r"(?<!\w)BĐ\s?-?\s?([1-3]|I{1,3})(?!\w)", _alarm, text)
