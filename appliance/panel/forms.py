"""Server-side validation of panel form fields. Pure functions: raw strings in, clean values
out, or a ValidationError that names the field in Vietnamese and English. Nothing here
touches the store, so a refused form has changed nothing."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from appliance.broadcast.windows import parse_window
from protocol.errors import CommuneRadioError, ValidationError

FIELD_NAMES: dict[str, tuple[str, str]] = {
    "title": ("Tiêu đề", "Title"),
    "text": ("Nội dung", "Text"),
    "voice": ("Giọng đọc", "Voice"),
    "rate": ("Tốc độ", "Speed"),
    "priority": ("Mức ưu tiên", "Priority"),
    "zones": ("Cụm loa", "Zones"),
    "valid_from": ("Hiệu lực từ", "Valid from"),
    "valid_until": ("Hiệu lực đến", "Valid until"),
    "item_id": ("Bản tin", "Item"),
    "start": ("Bắt đầu", "Start"),
    "repeat": ("Lặp lại", "Repeat"),
    "weekdays": ("Ngày trong tuần", "Weekdays"),
    "until": ("Đến ngày", "Until"),
    "duration_min": ("Thời lượng", "Duration"),
    "volume": ("Âm lượng", "Volume"),
    "seconds": ("Số giây", "Seconds"),
    "windows": ("Khung giờ phát", "Broadcast windows"),
    "interval": ("Chu kỳ", "Interval"),
    "date": ("Ngày", "Date"),
    "outcome": ("Kết quả", "Outcome"),
    "zone": ("Cụm loa", "Zone"),
    "confirm": ("Xác nhận", "Confirmation"),
    "clip": ("Tệp âm thanh", "Audio file"),
    "label": ("Nhãn", "Label"),
}

VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")
PRIORITIES = ("normal", "priority")
MAX_TITLE = 200
MAX_TEXT = 5000


def _names(field: str) -> tuple[str, str]:
    return FIELD_NAMES.get(field, (field, field))


def invalid(field: str, vi: str, en: str) -> ValidationError:
    name_vi, name_en = _names(field)
    error = ValidationError(f"{name_vi}: {vi}", f"{name_en}: {en}", code=f"invalid_input.{field}")
    error.field = field  # type: ignore[attr-defined]
    return error


def field_of(error: CommuneRadioError) -> str:
    return getattr(error, "field", "") or ""


def _has_control_chars(value: str, *, allow_newlines: bool) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") and c not in allowed for c in value)


def clean_text(value: object, field: str, *, max_len: int, required: bool = True,
               multiline: bool = False) -> str:
    """NFC-normalised, stripped text; refuses control characters and over-long input."""
    text = value if isinstance(value, str) else ""
    text = unicodedata.normalize("NFC", text).strip()
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if required and not text:
        raise invalid(field, "không được để trống.", "must not be empty.")
    if len(text) > max_len:
        raise invalid(field, f"dài quá {max_len} ký tự.", f"is longer than {max_len} characters.")
    if _has_control_chars(text, allow_newlines=multiline):
        raise invalid(field, "chứa ký tự không hợp lệ.", "contains invalid characters.")
    return text


def parse_choice(value: object, field: str, choices: Sequence[str], *, default: str | None = None) -> str:
    if (value is None or value == "") and default is not None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise invalid(field, "lựa chọn không hợp lệ.", "invalid choice.")
    return value


def parse_int(value: object, field: str, lo: int, hi: int, *, default: int | None = None) -> int:
    if (value is None or value == "") and default is not None:
        return default
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > 12 or not (text.isascii() and text.lstrip("-").isdigit()):
        raise invalid(field, f"phải là số nguyên từ {lo} đến {hi}.", f"must be a whole number from {lo} to {hi}.")
    number = int(text)
    if not lo <= number <= hi:
        raise invalid(field, f"phải từ {lo} đến {hi}.", f"must be from {lo} to {hi}.")
    return number


def parse_zones(values: Iterable[object], zone_names: Sequence[str], *, required: bool = True) -> list[str]:
    """Checked zone names from a multi-select; every zone (or '*') collapses to ['*']."""
    chosen = [v for v in values if isinstance(v, str) and v]
    if "*" in chosen and len(set(chosen)) > 1:
        # Not silently read as all: the operator meant one thing or the other.
        raise invalid("zones", "chọn 'Tất cả các cụm loa' hoặc từng cụm loa, không chọn cả hai.",
                      "choose 'All zones' or single zones, not both.")
    if "*" in chosen:
        return ["*"]
    unknown = sorted(set(chosen) - set(zone_names))
    if unknown:
        raise invalid("zones", "cụm loa không tồn tại.", "unknown zone.")
    if not chosen:
        if required:
            raise invalid("zones", "hãy chọn ít nhất một cụm loa.", "choose at least one zone.")
        return ["*"]
    if set(chosen) == set(zone_names):
        return ["*"]
    return sorted(set(chosen), key=list(zone_names).index)


def parse_local_datetime(value: object, field: str, zone: ZoneInfo, *, required: bool = True) -> datetime | None:
    """A browser datetime-local value ('YYYY-MM-DDTHH:MM') in the device zone -> aware datetime."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise invalid(field, "hãy nhập ngày giờ.", "enter a date and time.")
        return None
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 25 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None or not 2000 <= moment.year <= 2100:
        raise invalid(field, "ngày giờ không hợp lệ (dạng 2026-11-26T06:30).",
                      "invalid date and time (format 2026-11-26T06:30).")
    return moment.replace(second=0, microsecond=0, tzinfo=zone)


def parse_date(value: object, field: str, *, required: bool = False) -> date | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise invalid(field, "hãy nhập ngày.", "enter a date.")
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2100:
        raise invalid(field, "ngày không hợp lệ (dạng 2026-11-26).", "invalid date (format 2026-11-26).")
    return day


def parse_windows_text(value: object) -> list[str]:
    """'05:30-07:00, 17:00-18:30' -> ['05:30-07:00', '17:00-18:30'] (each checked)."""
    text = value if isinstance(value, str) else ""
    if len(text) > 500:
        raise invalid("windows", "quá dài.", "too long.")
    parts = [p.strip() for p in text.replace(";", ",").replace("\n", ",").split(",") if p.strip()]
    if len(parts) > 12:
        raise invalid("windows", "nhiều nhất 12 khung giờ.", "at most 12 windows.")
    out = []
    for part in parts:
        try:
            window = parse_window(part)
        except CommuneRadioError:
            raise invalid("windows", f"'{part[:20]}' phải có dạng GG:PP-GG:PP, ví dụ 05:30-07:00.",
                          f"'{part[:20]}' must look like HH:MM-HH:MM, e.g. 05:30-07:00.") from None
        out.append(str(window))
    return out


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
