"""Dates: full dates, day ranges, month/year, lunar months, "mùng" for days one to ten."""

from __future__ import annotations

import re

from ..numbers import read_integer_text, read_number
from .patterns import Regrouped, sub, text_after, words_before

_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_day_month(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1]


def _day_words(day: int) -> str:
    # Days one to ten take "mùng" (mùng hai tháng chín); the rest are plain numbers.
    return f"mùng {read_number(day)}" if day <= 10 else read_number(day)


def _month_words(month: int, *, lunar: bool = False) -> str:
    if lunar and month == 1:
        return "giêng"
    if lunar and month == 12:
        return "chạp"
    return "tư" if month == 4 else read_number(month)


def _is_lunar(m: re.Match[str]) -> bool:
    after = text_after(m, 10).lstrip(" ,(")
    return after.startswith("âm lịch") or after.startswith("âl")


def _date_words(day: int, month: int, year: str | None, *, lunar: bool = False, say_ngay: bool = True) -> str:
    words = [_day_words(day), "tháng", _month_words(month, lunar=lunar)]
    if year:
        words += ["năm", read_number(int(year))]
    if say_ngay:
        words.insert(0, "ngày")
    return " ".join(words)


# After these words a date does not take "ngày": "sáng 5/9" reads "sáng mùng năm tháng chín".
_NO_NGAY_BEFORE = frozenset({"ngày", "mùng", "hôm", "sáng", "trưa", "chiều", "tối", "đêm"})


def _say_ngay(m: re.Match[str]) -> bool:
    return words_before(m) not in _NO_NGAY_BEFORE


def _after_mung(m: re.Match[str], spoken: str) -> str:
    """ "mùng 2/9" already says "mùng": do not say it twice."""
    if words_before(m) == "mùng" and spoken.startswith("mùng "):
        spoken = spoken[len("mùng "):]
    return f" {spoken} "


def loose(text: str) -> str:
    """Read a date-like match that is not a real date: numbers word by word, '/' as "trên"."""
    parts = re.split(r"([/.\-–])", text)
    out = []
    for part in parts:
        if part == "/":
            out.append("trên")
        elif part in "-–" and part:
            out.append("đến")
        elif part == ".":
            out.append("chấm")
        elif part.strip().isdigit():
            out.append(read_integer_text(part.strip()))
    return f" {' '.join(out)} "


_D = r"(?<![0-9.,/])([0-9]{1,2})"
_Y = r"([0-9]{4})(?![0-9/])"


def _full_date(m: re.Match[str]) -> str:
    day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
    if not _valid_day_month(day, month):
        return loose(m.group(0))
    return _after_mung(m, _date_words(day, month, year, lunar=_is_lunar(m), say_ngay=_say_ngay(m)))


def _day_range_date(m: re.Match[str]) -> str:
    d1, d2, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
    if not (_valid_day_month(d1, month) and _valid_day_month(d2, month) and d1 < d2):
        return loose(m.group(0))
    joiner = "và" if d2 == d1 + 1 else "đến"
    words = [_day_words(d1), joiner, _day_words(d2), "tháng", _month_words(month, lunar=_is_lunar(m))]
    if year:
        words += ["năm", read_number(int(year))]
    if _say_ngay(m):
        words.insert(0, "ngày")
    return _after_mung(m, " ".join(words))


def _date_range(m: re.Match[str]) -> str:
    d1, m1, y1, d2, m2, y2 = m.groups()
    if not (_valid_day_month(int(d1), int(m1)) and _valid_day_month(int(d2), int(m2))):
        return loose(m.group(0))
    lunar = _is_lunar(m)
    first = _date_words(int(d1), int(m1), y1, lunar=lunar, say_ngay=_say_ngay(m))
    second = _date_words(int(d2), int(m2), y2, lunar=lunar)
    return _after_mung(m, f"{first} đến {second}")


def _day_month(m: re.Match[str]) -> str:
    day, month = int(m.group(1)), int(m.group(2))
    if not _valid_day_month(day, month):
        return loose(m.group(0))
    return _after_mung(m, _date_words(day, month, None, lunar=_is_lunar(m), say_ngay=_say_ngay(m)))


def _month_year(m: re.Match[str]) -> str:
    month, year = int(m.group(1)), m.group(2)
    if not 1 <= month <= 12:
        return loose(m.group(0))
    before = words_before(m)
    year_words = read_number(int(year))
    if before in ("quý", "kỳ", "đợt", "số"):
        return f" {read_number(month)} năm {year_words} "
    prefix = "" if before == "tháng" else "tháng "
    return f" {prefix}{_month_words(month, lunar=_is_lunar(m))} năm {year_words} "


def read_dates(text: str) -> str:
    sep = r"[/.\-]"
    # Round-the-clock phrases are not dates.
    text = sub(r"(?<![0-9.,/])24/(24|7)(?:\s?(?:h|giờ)(?!\w))?(?![0-9/])",
                lambda m: f" hai mươi tư trên {read_number(int(m.group(1)))}{' giờ' if m.group(0)[-1] in 'hờ' else ''} ",
                text)
    # 20/10-25/10(/2024): a range of full dates.
    text = sub(rf"{_D}/([0-9]{{1,2}})(?:/([0-9]{{4}}))?\s?[-–]\s?([0-9]{{1,2}})/([0-9]{{1,2}})(?:/([0-9]{{4}}))?(?![0-9/])",
                _date_range, text)
    # ngày 5-6/10(/2024): two days of one month.
    text = sub(rf"{_D}\s?[-–]\s?([0-9]{{1,2}})/([0-9]{{1,2}})(?:/([0-9]{{4}}))?(?![0-9/])", _day_range_date, text)
    # 25/12/2024, 25-12-2024, 25.12.2024 (the separators must agree).
    text = sub(rf"{_D}({sep})([0-9]{{1,2}})\2{_Y}",
                lambda m: _full_date(Regrouped(m, (1, 3, 4))), text)
    # 12/2024: month and year.
    text = sub(rf"(?<![0-9.,/])([0-9]{{1,2}})/{_Y}", _month_year, text)
    # 2/9: day and month.
    text = sub(rf"{_D}/([0-9]{{1,2}})(?![0-9/])", _day_month, text)
    # "ngày 2 tháng 9" written out: days one to ten still take "mùng".
    text = sub(r"(?<!\w)((?i:ngày))\s(0?[1-9]|10)(?=\s(?i:tháng))", lambda m: f"{m.group(1)} mùng {read_number(int(m.group(2)))}",
                text)
    text = sub(r"(?<!\w)((?i:tháng))\s(0?[1-9]|1[0-2])(?![0-9]|[,./][0-9])",
                lambda m: f"{m.group(1)} {_month_words(int(m.group(2)), lunar=_is_lunar(m))} ", text)
    return text

