"""A slot's repetition in plain words (pure): "Thứ Hai và Thứ Năm hằng tuần lúc 06:30, đến hết
31/12/2026". The RRULE stays under the hood (``appliance.broadcast.recurrence``); an operator
never reads ``FREQ=…``. A rule with parts this module does not put into words is described as a
custom repetition, with what it does know (time, end), never as its raw text.

An end date means the end of that day: a slot's ``valid_until`` is the next local midnight,
shown as the day before ("đến hết 31/12/2026").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_KNOWN = {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "COUNT", "UNTIL", "BYMONTHDAY", "WKST"}


def _parts(rule: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in rule.strip().removeprefix("RRULE:").split(";"):
        key, _, value = piece.partition("=")
        if key:
            out[key.strip().upper()] = value.strip().upper()
    return out


def _join(names: list[str], lang: str) -> str:
    word = " và " if lang == "vi" else " and "
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + word + names[-1]


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isascii() and value.isdigit() else default


def end_day_text(valid_until: datetime | None, zone: ZoneInfo, lang: str = "vi") -> str:
    """'đến hết 31/12/2026' for a ``valid_until`` at the next local midnight (the slot's end date)."""
    if valid_until is None:
        return ""
    local = valid_until.astimezone(zone)
    day = (local - timedelta(seconds=1)).date() if (local.hour, local.minute, local.second) == (0, 0, 0) \
        else local.date()
    return f"đến hết {day:%d/%m/%Y}" if lang == "vi" else f"until the end of {day:%d/%m/%Y}"


def describe_rule(rule: str, dtstart: datetime | None, *, valid_until: datetime | None = None,
                  zone: ZoneInfo | None = None, lang: str = "vi") -> str:
    """The repetition of ``rule`` starting at local ``dtstart`` in words, in ``lang`` ('vi'/'en')."""
    en = lang == "en"
    parts = _parts(rule)
    freq = parts.get("FREQ", "")
    interval = _int(parts.get("INTERVAL"), 1)
    hour = _int(parts.get("BYHOUR"), dtstart.hour if dtstart else 0) if "," not in parts.get("BYHOUR", "") else None
    minute = _int(parts.get("BYMINUTE"), dtstart.minute if dtstart else 0) \
        if "," not in parts.get("BYMINUTE", "") else None
    at = f"{hour:02d}:{minute:02d}" if hour is not None and minute is not None else ""
    days = [c[-2:] for c in parts.get("BYDAY", "").split(",") if c]
    plain_days = all(c in DAY_CODES for c in parts.get("BYDAY", "").split(",") if c)
    names = [DAY_NAMES["en" if en else "vi"][DAY_CODES.index(c)] for c in DAY_CODES if c in days]
    custom = bool(set(parts) - _KNOWN) or not plain_days or freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
    if custom:
        head = "A custom repetition" if en else "Lặp lại theo lịch riêng"
    elif freq == "DAILY":
        head = ("Every day" if interval == 1 else f"Every {interval} days") if en else \
            ("Hằng ngày" if interval == 1 else f"{interval} ngày một lần")
    elif freq == "WEEKLY":
        if not names and dtstart is not None:
            names = [DAY_NAMES["en" if en else "vi"][dtstart.weekday()]]
        if en:
            head = f"Every {_join(names, 'en')}" + ("" if interval == 1 else f", every {interval} weeks")
        else:
            head = f"{_join(names, 'vi')} hằng tuần" if interval == 1 else \
                f"{_join(names, 'vi')}, {interval} tuần một lần"
    elif freq == "MONTHLY":
        day = parts.get("BYMONTHDAY") or (str(dtstart.day) if dtstart else "")
        head = (f"Day {day} of every month" if en else f"Ngày {day} hằng tháng") if day.isascii() and day.isdigit() else \
            ("Every month" if en else "Hằng tháng")
    else:
        head = "Every year" if en else "Hằng năm"
    words = [head + (f" at {at}" if en and at else f" lúc {at}" if at else "")]
    if dtstart is not None:
        words.append(f"from {dtstart:%d/%m/%Y}" if en else f"từ {dtstart:%d/%m/%Y}")
    count = parts.get("COUNT")
    if count and count.isascii() and count.isdigit():
        words.append(f"{count} times" if en else f"{count} lần")
    until = parts.get("UNTIL")
    if until and len(until) >= 8 and until[:8].isascii() and until[:8].isdigit():
        words.append(f"until {until[6:8]}/{until[4:6]}/{until[:4]}" if en
                     else f"đến {until[6:8]}/{until[4:6]}/{until[:4]}")
    if valid_until is not None and zone is not None:
        words.append(end_day_text(valid_until, zone, lang))
    return ", ".join(words)
