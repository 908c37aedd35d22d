"""Schedules in plain words ↔ protocol schedules (pure).

An editor chooses one of: once (a date and a time), daily (a time, from a date, optionally
until a date), chosen weekdays (the same, on those days), or N times with a gap (from a date
and time, N = 1..10, gap in minutes). Times are Vietnam's local wall time; ``to_schedule``
makes the protocol's schedule (docs/protocol.md §4.2: ``once`` with UTC starts, or ``rrule``
in ``Asia/Ho_Chi_Minh``), ``from_schedule`` recovers the form from a stored one, and
``describe`` says it in Vietnamese or English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import protocol
from protocol.errors import ValidationError

TZID = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(TZID)
MODES = ("none", "once", "daily", "weekdays", "repeat")
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MAX_REPEATS = 10
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class ScheduleForm:
    mode: str = "none"
    day: str = ""             # YYYY-MM-DD, local
    at: str = ""              # HH:MM, local
    until: str = ""           # YYYY-MM-DD, local (daily, weekdays), optional
    weekdays: tuple[str, ...] = field(default_factory=tuple)
    count: int = 1
    gap_minutes: int = 30
    duration_s: int = 300


def _bad(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en)


def _day(text: str, what_vi: str, what_en: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad(f"{what_vi} không hợp lệ (ngày/tháng/năm).", f"Invalid {what_en} (a date).") from None


def _time(text: str) -> time:
    match = _TIME_RE.match(text or "")
    if match is None:
        raise _bad("Giờ phát không hợp lệ (giờ:phút, ví dụ 06:30).", "Invalid time (hours:minutes, e.g. 06:30).")
    return time(int(match.group(1)), int(match.group(2)))


def to_schedule(form: ScheduleForm) -> dict[str, Any] | None:
    """The protocol schedule for ``form`` (None for "no schedule"); raises ValidationError."""
    if form.mode not in MODES:
        raise _bad("Kiểu lịch phát không hợp lệ.", "Invalid kind of schedule.")
    if form.mode == "none":
        return None
    if not 1 <= form.duration_s <= protocol.MAX_DURATION_S:
        raise _bad("Thời lượng phải từ 1 giây đến 24 giờ.", "The length must be 1 second to 24 hours.")
    start_day = _day(form.day, "Ngày bắt đầu", "start date")
    at = _time(form.at)
    local_start = datetime.combine(start_day, at)
    if form.mode in ("once", "repeat"):
        count = 1 if form.mode == "once" else form.count
        if not 1 <= count <= MAX_REPEATS:
            raise _bad(f"Số lần phát từ 1 đến {MAX_REPEATS}.", f"The number of plays is 1 to {MAX_REPEATS}.")
        if count > 1 and not 1 <= form.gap_minutes <= 720:
            raise _bad("Khoảng cách giữa các lần phát từ 1 đến 720 phút.", "The gap between plays is 1 to 720 minutes.")
        starts = [(local_start + timedelta(minutes=i * form.gap_minutes)).replace(tzinfo=ZONE).astimezone(UTC)
                  for i in range(count)]
        return {"type": "once", "starts": [protocol.format_utc(s) for s in starts], "duration_s": form.duration_s}
    rule = "FREQ=DAILY"
    if form.mode == "weekdays":
        chosen = [d for d in WEEKDAY_CODES if d in set(form.weekdays)]
        if not chosen or len(chosen) != len(set(form.weekdays)):
            raise _bad("Hãy chọn ít nhất một ngày trong tuần.", "Choose at least one weekday.")
        rule = "FREQ=WEEKLY;BYDAY=" + ",".join(chosen)
    if form.until:
        until = _day(form.until, "Ngày kết thúc", "end date")
        if until < start_day:
            raise _bad("Ngày kết thúc phải sau ngày bắt đầu.", "The end date must not be before the start date.")
        rule += f";UNTIL={until.strftime('%Y%m%d')}"
    return {"type": "rrule", "dtstart": local_start.isoformat(timespec="seconds"), "tzid": TZID, "rrule": rule,
            "exdates": [], "duration_s": form.duration_s}


def from_schedule(schedule: Any) -> ScheduleForm:
    """The form that makes ``schedule`` (a schedule this module did not make shows as 'none')."""
    if not isinstance(schedule, dict):
        return ScheduleForm()
    duration = int(schedule.get("duration_s", 300))
    if schedule.get("type") == "once":
        starts = [protocol.parse_utc(s).astimezone(ZONE) for s in schedule.get("starts", [])]
        if not starts:
            return ScheduleForm()
        first = starts[0]
        gaps = {int((b - a).total_seconds() // 60) for a, b in zip(starts, starts[1:], strict=False)}
        base = {"day": first.date().isoformat(), "at": first.strftime("%H:%M"), "duration_s": duration}
        if len(starts) == 1:
            return ScheduleForm(mode="once", **base)
        if len(gaps) == 1 and len(starts) <= MAX_REPEATS:
            return ScheduleForm(mode="repeat", count=len(starts), gap_minutes=gaps.pop(), **base)
        return ScheduleForm()
    if schedule.get("type") == "rrule" and schedule.get("tzid") == TZID:
        parts = dict(p.split("=", 1) for p in str(schedule.get("rrule", "")).split(";") if "=" in p)
        start = datetime.fromisoformat(str(schedule.get("dtstart")))
        until = parts.get("UNTIL", "")
        base = {"day": start.date().isoformat(), "at": start.strftime("%H:%M"), "duration_s": duration,
                "until": f"{until[:4]}-{until[4:6]}-{until[6:8]}" if len(until) == 8 else ""}
        if parts.get("FREQ") == "DAILY" and set(parts) <= {"FREQ", "UNTIL"}:
            return ScheduleForm(mode="daily", **base)
        if parts.get("FREQ") == "WEEKLY" and set(parts) <= {"FREQ", "UNTIL", "BYDAY"}:
            return ScheduleForm(mode="weekdays", weekdays=tuple(parts.get("BYDAY", "").split(",")), **base)
    return ScheduleForm()


def _vn_day(text: str) -> str:
    return date.fromisoformat(text).strftime("%d/%m/%Y")


def describe(schedule: Any, language: str = "vi") -> str:
    """The schedule in plain words (local times)."""
    vi = language == "vi"
    if schedule is None:
        return "Không có lịch: chỉ phát khi được yêu cầu" if vi else "No schedule: plays only on request"
    form = from_schedule(schedule)
    minutes = form.duration_s // 60
    length = (f", dài {minutes} phút" if vi else f", {minutes} min long") if minutes else ""
    until = ((f" đến hết {_vn_day(form.until)}" if vi else f" until {_vn_day(form.until)}") if form.until else "")
    if form.mode == "once":
        return (f"Một lần lúc {form.at} ngày {_vn_day(form.day)}" if vi
                else f"Once at {form.at} on {_vn_day(form.day)}") + length
    if form.mode == "repeat":
        return (f"{form.count} lần, cách nhau {form.gap_minutes} phút, từ {form.at} ngày {_vn_day(form.day)}" if vi
                else f"{form.count} times, {form.gap_minutes} min apart, from {form.at} on {_vn_day(form.day)}") + length
    if form.mode == "daily":
        return (f"Hằng ngày lúc {form.at} từ {_vn_day(form.day)}" if vi
                else f"Daily at {form.at} from {_vn_day(form.day)}") + until + length
    if form.mode == "weekdays":
        names = WEEKDAY_NAMES["vi" if vi else "en"]
        days = ", ".join(names[WEEKDAY_CODES.index(d)] for d in form.weekdays if d in WEEKDAY_CODES)
        return (f"{days} lúc {form.at} từ {_vn_day(form.day)}" if vi
                else f"{days} at {form.at} from {_vn_day(form.day)}") + until + length
    return "Lịch phát đặc biệt (đặt từ dòng lệnh)" if vi else "A custom schedule (set from the command line)"
