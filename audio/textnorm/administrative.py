"""Administrative shorthand: one-letter place abbreviations, weekdays (T2-T7, CN), alarm levels (BĐ1-BĐ3)."""

from __future__ import annotations


def read_place_letters(text: str) -> str:
    return text


def read_weekdays_and_alarms(text: str) -> str:
    return text
