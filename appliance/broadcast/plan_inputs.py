"""Planner inputs from the outside world's shapes: the station's config and protocol schedules.

Duck-typed over the config (no import of it) so the pure core stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from appliance.broadcast.plan_types import Settings, ZoneRule
from appliance.broadcast.recurrence import Slot
from appliance.broadcast.windows import parse_windows
from appliance.errors import ScheduleError


def settings_from_config(config: Any) -> Settings:
    """Settings from ``appliance.config.Config`` (duck-typed to keep this module free of I/O)."""
    s = config.schedule
    return Settings(grace_s=s.grace_minutes * 60.0, min_interval_s=s.min_interval_minutes * 60.0,
                    max_duration_s=s.max_duration_minutes * 60.0, prepare_ahead_s=s.prepare_ahead_minutes * 60.0,
                    resume_interrupted=bool(s.resume_interrupted), tz=config.device.timezone,
                    battery_policy=str(getattr(getattr(config, "power", None), "battery_policy", "keep_all")))


def zone_rules_from_config(config: Any) -> tuple[ZoneRule, ...]:
    """One ZoneRule per configured zone; a zone without windows uses schedule.default_windows."""
    default = parse_windows(config.schedule.default_windows)
    return tuple(ZoneRule(name=z.name, windows=parse_windows(z.windows) if z.windows else default,
                          warmup_s=z.warmup_ms / 1000.0, cooldown_s=z.cooldown_ms / 1000.0) for z in config.zones)


def _parse_instant(value: Any, what: str, slot_id: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ScheduleError(f"Lịch '{slot_id}': {what} '{value}' phải là giờ UTC dạng ISO 8601 có 'Z'.",
                            f"Slot '{slot_id}': {what} '{value}' must be a UTC ISO 8601 time with 'Z'.",
                            code="schedule_invalid.time")
    return moment.astimezone(UTC)


def _parse_local(value: Any, what: str, slot_id: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is not None:
        raise ScheduleError(f"Lịch '{slot_id}': {what} '{value}' phải là giờ địa phương dạng YYYY-MM-DDTHH:MM:SS.",
                            f"Slot '{slot_id}': {what} '{value}' must be a local time YYYY-MM-DDTHH:MM:SS.",
                            code="schedule_invalid.time")
    return moment


def slot_from_schedule(item_id: str, schedule: Mapping[str, Any], *, slot_id: str | None = None,
                       zones: Iterable[str] | None = None, valid_from: datetime | None = None,
                       valid_until: datetime | None = None, origin: Literal["central", "local"] = "central") -> Slot:
    """A Slot from the protocol's schedule object (``type``) or a ``slots`` table row shape (``kind``).

    once:  {"type": "once", "starts": ["2025-01-01T23:00:00Z", ...], "duration_s": 60}
    rrule: {"type": "rrule", "dtstart": "2025-01-02T06:00:00", "tzid": "Asia/Ho_Chi_Minh",
            "rrule": "FREQ=DAILY", "exdates": ["2025-01-05T06:00:00"], "duration_s": 60}
    """
    slot_id = slot_id or f"{origin}:{item_id}"
    kind = schedule.get("type", schedule.get("kind"))
    duration = schedule.get("duration_s")
    common: dict[str, Any] = {
        "slot_id": slot_id, "item_id": item_id, "duration_s": float(duration) if duration else None,
        "zones": tuple(zones) if zones is not None else None, "valid_from": valid_from,
        "valid_until": valid_until, "origin": origin,
    }
    if kind == "once":
        starts = tuple(_parse_instant(s, "thời điểm phát/start", slot_id) for s in schedule.get("starts") or ())
        return Slot(kind="once", starts=starts, **common)
    if kind == "rrule":
        return Slot(kind="rrule", dtstart=_parse_local(schedule.get("dtstart"), "DTSTART", slot_id),
                    rrule=str(schedule.get("rrule") or ""), tzid=schedule.get("tzid") or None,
                    exdates=tuple(_parse_local(x, "EXDATE", slot_id) for x in schedule.get("exdates") or ()),
                    **common)
    raise ScheduleError(f"Lịch '{slot_id}': loại '{kind}' không hợp lệ (once hoặc rrule).",
                        f"Slot '{slot_id}': type '{kind}' is invalid (once or rrule).", code="schedule_invalid.kind")
