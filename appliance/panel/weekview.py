"""What will play when: occurrences of local slots and central item schedules, a week grid,
and the warnings shown before a slot is saved (overlaps, outside broadcast windows).

Pure functions over plain data (slots, items, config, a time range); the expansion itself
is appliance.recurrence's, the same the planner uses, and whether an occurrence will play is
asked of the planner (``planner.forecast``: validity, readiness, zones, length, windows), so
the panel shows what the daemon will do, and says why when something will not play.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.broadcast import planner, recurrence
from appliance.broadcast.slots import Slot as StoredSlot
from appliance.broadcast.slots import to_planner_slot
from appliance.errors import ScheduleError
from appliance.state.config import Config
from protocol.errors import CommuneRadioError

# How far ahead a new slot is checked for warnings, and how many warnings are shown.
CHECK_AHEAD = timedelta(days=14)
MAX_WARNINGS = 10
TEXT_CHIME_S = 8.0


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # UTC
    duration_s: float
    item_id: str
    title: str
    priority: str
    zones: tuple[str, ...]
    slot_id: str
    origin: str  # 'local' | 'central'
    not_playing: planner.Reason | None = None   # why the daemon will not play it (annotate)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class Warning:
    code: str  # 'outside_window' | 'overlap'
    zone: str
    at: datetime
    other: str = ""
    windows: str = ""


@dataclass
class Day:
    day: date
    entries: list[Occurrence] = field(default_factory=list)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def estimated_duration_s(item: dict[str, Any]) -> float:
    """How long an item plays: its recorded duration, else an estimate from the text."""
    document = item.get("document") if isinstance(item.get("document"), dict) else {}
    if isinstance(document.get("duration_s"), int | float) and document["duration_s"] > 0:
        return float(document["duration_s"])
    schedule = item.get("schedule") if isinstance(item.get("schedule"), dict) else {}
    if isinstance(schedule.get("duration_s"), int | float) and schedule["duration_s"] > 0:
        return float(schedule["duration_s"])
    if item.get("kind") == "text":
        rate = (document.get("tts") or {}).get("rate", 150) if isinstance(document.get("tts"), dict) else 150
        words = max(1, len(str(item.get("text", "")).split()))
        return words / max(60, int(rate)) * 60 + TEXT_CHIME_S
    return 60.0


def from_stored(slot: StoredSlot) -> recurrence.Slot | None:
    """A local slot as the planner sees it (None for a malformed stored row)."""
    try:
        return to_planner_slot(slot)
    except ScheduleError:
        return None


def from_item(item: dict[str, Any]) -> recurrence.Slot | None:
    """The schedule carried by a central item, as the planner sees it (None when it has none)."""
    schedule = item.get("schedule")
    if not isinstance(schedule, dict) or item.get("schedule_refusal"):
        return None  # none, or refused by the station's planner: it will not play, so not in the grid
    try:
        return planner.slot_from_schedule(
            item["id"], schedule, slot_id=f"item:{item['id']}", zones=tuple(item.get("zones") or ["*"]),
            valid_from=_parse(item.get("valid_from")), valid_until=_parse(item.get("valid_until")), origin="central")
    except (ScheduleError, KeyError, TypeError, ValueError):
        return None


def expand(slots: Iterable[recurrence.Slot], items: dict[str, dict[str, Any]], start: datetime, end: datetime,
           device_tz: str) -> list[Occurrence]:
    """Occurrences in [start, end) of slots whose item is not withdrawn (revoked/rejected); whether
    each will play (validity, windows, …) is the planner's verdict, see ``annotate``."""
    out: list[Occurrence] = []
    for slot in slots:
        item = items.get(slot.item_id)
        if item is None or item.get("revoked") or item.get("state") in ("revoked", "rejected"):
            continue
        try:
            times = recurrence.occurrence_times(slot, start, end, device_tz)
        except CommuneRadioError:
            continue
        duration = float(slot.duration_s) if slot.duration_s else estimated_duration_s(item)
        zones = tuple(slot.zones or item.get("zones") or ["*"])
        for moment in times:
            # An occurrence outside the item's validity stays: ``annotate`` says it will not play.
            out.append(Occurrence(moment, duration, slot.item_id, str(item.get("title") or slot.item_id),
                                  str(item.get("priority", "normal")), zones, slot.slot_id, slot.origin))
    out.sort(key=lambda o: (o.start, o.item_id))
    return out


def week_days(first: date, zone: ZoneInfo, occurrences: Sequence[Occurrence]) -> list[Day]:
    days = [Day(first + timedelta(days=i)) for i in range(7)]
    by_date = {d.day: d for d in days}
    for occ in occurrences:
        local = occ.start.astimezone(zone).date()
        if local in by_date:
            by_date[local].entries.append(occ)
    return days


def week_range(first: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(0, 0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=7), time(0, 0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def zone_windows(config: Config, zone_name: str) -> list[str]:
    for zone in config.zones:
        if zone.name == zone_name:
            return list(zone.windows or config.schedule.default_windows)
    return list(config.schedule.default_windows)


def _concrete(zones: Sequence[str], config: Config) -> list[str]:
    return config.zone_names() if "*" in zones else [z for z in zones if z in config.zone_names()]


def plannable(item: dict[str, Any] | None, occ: Occurrence) -> planner.PlannableItem:
    """A stored item as the planner weighs it (ready: its state; the daemon also waits for its
    prepared audio, made ahead of air time). An unknown item counts as a plain ready one."""
    if item is None:
        return planner.PlannableItem(id=occ.item_id, priority=occ.priority, zones=occ.zones,  # type: ignore[arg-type]
                                     duration_s=occ.duration_s)
    return planner.PlannableItem(
        id=str(item["id"]), version=int(item.get("version") or 1), kind=str(item.get("kind") or "text"),  # type: ignore[arg-type]
        priority=str(item.get("priority") or "normal"), title=str(item.get("title") or ""),  # type: ignore[arg-type]
        zones=tuple(item.get("zones") or ("*",)), valid_from=_parse(item.get("valid_from")),
        valid_until=_parse(item.get("valid_until")),
        revoked=bool(item.get("revoked")) or item.get("state") == "revoked",
        ready=item.get("state") == "ready", duration_s=estimated_duration_s(item))


@dataclass(frozen=True)
class _Rules:
    zone_names: tuple[str, ...]
    zones: tuple[planner.ZoneRule, ...]
    settings: planner.Settings


def _rules(config: Config) -> _Rules:
    return _Rules(tuple(config.zone_names()), tuple(planner.zone_rules_from_config(config)),
                  planner.settings_from_config(config))


def verdict(occ: Occurrence, item: dict[str, Any] | None, config: Config | _Rules,
            zones: Sequence[str] | None = None) -> planner.Reason | None:
    """The planner's answer for ``occ`` in ``zones`` (default: its own): why it will not play, or None."""
    rules = config if isinstance(config, _Rules) else _rules(config)
    wanted = tuple(zones if zones is not None else occ.zones)
    resolved = rules.zone_names if "*" in wanted else tuple(z for z in rules.zone_names if z in wanted)
    target = planner.Occurrence(f"{occ.item_id}@forecast", occ.item_id, occ.start, occ.duration_s, resolved,
                                occ.priority, "schedule", occ.slot_id)  # type: ignore[arg-type]
    return planner.forecast(target, plannable(item, occ), rules.zones, rules.settings)


def annotate(occurrences: Iterable[Occurrence], items: dict[str, dict[str, Any]], config: Config) -> list[Occurrence]:
    """Each occurrence with ``not_playing`` set when the daemon will not play it (and why)."""
    rules = _rules(config)
    return [dataclasses.replace(o, not_playing=verdict(o, items.get(o.item_id), rules)) for o in occurrences]


def warnings_for(candidate: Sequence[Occurrence], existing: Sequence[Occurrence], config: Config,
                 items: dict[str, dict[str, Any]] | None = None) -> list[Warning]:
    """Warnings for a slot about to be saved: plays the daemon will not make (outside a zone's
    broadcast windows, expired item, …; the planner's verdict), and overlaps with other plays
    in the same zone."""
    found: list[Warning] = []
    rules = _rules(config)
    for occ in candidate:
        item = (items or {}).get(occ.item_id)
        whole = verdict(occ, item, rules)
        if whole is not None and whole.code != "outside_window":
            found.append(Warning(whole.code, "", occ.start, other=whole.vi, windows=whole.en))
            continue
        for zone in _concrete(occ.zones, config):
            reason = verdict(occ, item, rules, (zone,))
            if reason is not None and reason.code == "outside_window":
                found.append(Warning("outside_window", zone, occ.start,
                                     windows=", ".join(zone_windows(config, zone)) or "—"))
            for other in existing:
                if other.slot_id == occ.slot_id or zone not in _concrete(other.zones, config):
                    continue
                if other.start < occ.end and occ.start < other.end:
                    found.append(Warning("overlap", zone, occ.start, other=other.title))
        if len(found) >= MAX_WARNINGS:
            break
    return found[:MAX_WARNINGS]
