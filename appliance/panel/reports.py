"""The broadcast report for the district (Circular 39 asks communes for periodic reports): per
bulletin and per zone, with totals, the emergencies and their texts, and what was skipped or
failed with the reason, over a month or any date range, in the station's local time.

``summarize`` is pure (rows of the play log in, a ``Report`` out); ``build`` reads the rows
(appliance.panel.history). The printable page (templates/report.html) and the .xlsx file
(appliance.panel.report_xlsx) show the same ``Report``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from appliance.broadcast.reasons import actor_label, vietnamese
from appliance.panel import history
from appliance.panel.i18n import parse_utc
from appliance.state.store import Store

PLAYED = ("completed", "cut")
NOT_PLAYED = ("skipped", "failed", "interrupted")


@dataclass
class BulletinLine:
    item_id: str
    title: str
    emergency: bool = False
    played: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: int = 0
    minutes: float = 0.0


@dataclass
class ZoneLine:
    zone: str
    label: str
    played: int = 0
    not_played: int = 0
    minutes: float = 0.0


@dataclass(frozen=True)
class Event:
    """One emergency, or one play that did not happen as planned, in local time."""

    at: str                 # dd/mm/yyyy HH:MM local
    title: str
    text: str
    zones: str
    outcome: str
    reason: str
    actor: str


@dataclass
class Report:
    first: date
    last: date
    bulletins: list[BulletinLine] = field(default_factory=list)
    zones: list[ZoneLine] = field(default_factory=list)
    emergencies: list[Event] = field(default_factory=list)
    problems: list[Event] = field(default_factory=list)
    plays: list[dict[str, Any]] = field(default_factory=list)   # every row, oldest first (the log sheet)

    @property
    def total_played(self) -> int:
        return sum(b.played for b in self.bulletins)

    @property
    def total_minutes(self) -> float:
        return round(sum(b.minutes for b in self.bulletins), 1)

    @property
    def total_not_played(self) -> int:
        return sum(b.skipped + b.failed + b.interrupted for b in self.bulletins)


def month_range(month: str) -> tuple[date, date]:
    """'2026-12' -> (1 Dec, 31 Dec); raises ValueError for anything else."""
    year, _, mon = month.partition("-")
    if not (year.isascii() and year.isdigit() and mon.isascii() and mon.isdigit()):
        raise ValueError(month)
    first = date(int(year), int(mon), 1)
    return first, date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def _local(value: str | None, zone: ZoneInfo) -> str:
    moment = parse_utc(value)
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else ""


def summarize(rows: Iterable[dict[str, Any]], first: date, last: date, zone: ZoneInfo,
              zones: Sequence[tuple[str, str]], outcome_label: Any = str) -> Report:
    """The report of ``rows`` (play-log rows as history.plays gives them). ``zones`` are (name,
    label) of the station; ``outcome_label(outcome)`` names an outcome in the report's language."""
    report = Report(first, last)
    by_item: dict[str, BulletinLine] = {}
    by_zone = {name: ZoneLine(name, label) for name, label in zones}
    ordered = sorted(rows, key=lambda r: r.get("actual_start") or r.get("scheduled_start") or r.get("created_at") or "")
    for row in ordered:
        if row.get("outcome") == "playing":
            continue
        outcome = str(row.get("outcome"))
        emergency = row.get("trigger") == "emergency"
        title = str(row.get("title") or row.get("item_id") or "")
        line = by_item.setdefault(str(row.get("item_id")), BulletinLine(str(row.get("item_id")), title, emergency))
        minutes = history.played_seconds(row) / 60
        names = list(by_zone) if "*" in (row.get("zones") or []) else [z for z in row.get("zones") or [] if z in by_zone]
        if outcome in PLAYED:
            line.played += 1
            line.minutes += minutes
            for name in names:
                by_zone[name].played += 1
                by_zone[name].minutes += minutes
        else:
            if outcome in NOT_PLAYED:
                setattr(line, outcome, getattr(line, outcome) + 1)
            for name in names:
                by_zone[name].not_played += 1
        when = _local(row.get("actual_start") or row.get("scheduled_start") or row.get("created_at"), zone)
        shown_zones = ", ".join(by_zone[z].label for z in names)
        reason = str(row.get("reason_vi") or vietnamese(row.get("reason")) or "")
        event = Event(when, title, str(row.get("text") or ""), shown_zones, str(outcome_label(outcome)), reason,
                      actor_label(row.get("actor")))
        if emergency:
            report.emergencies.append(event)
        if outcome in NOT_PLAYED:
            report.problems.append(event)
        report.plays.append(row | {"local_time": when, "zones_text": shown_zones, "reason_text": reason,
                                   "outcome_text": str(outcome_label(outcome)),
                                   "actor_text": actor_label(row.get("actor"))})
    for line in by_item.values():
        line.minutes = round(line.minutes, 1)
    for zl in by_zone.values():
        zl.minutes = round(zl.minutes, 1)
    report.bulletins = sorted(by_item.values(), key=lambda b: (not b.emergency, -b.played, b.title))
    report.zones = list(by_zone.values())
    return report


def build(store: Store, first: date, last: date, zone: ZoneInfo, zones: Sequence[tuple[str, str]],
          outcome_label: Any = str) -> Report:
    rows = history.plays(store, history.PlayFilter(date_from=first, date_to=last, limit=200_000), zone)
    return summarize(rows, first, last, zone, zones, outcome_label)
