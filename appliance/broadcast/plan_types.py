"""The planner's vocabulary: what it is given (items, zones, settings, state) and what it decides.

Frozen dataclasses, no behaviour beyond small derived properties. ``appliance.broadcast.planner``
decides; the daemon gathers these from its store and carries out the ``Plan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from appliance.broadcast.recurrence import Slot
from appliance.broadcast.windows import Window
from appliance.errors import ScheduleError

Priority = Literal["normal", "priority", "emergency"]
Trigger = Literal["schedule", "operator", "emergency", "central"]
Outcome = Literal["started", "completed", "cut", "interrupted", "failed", "skipped"]

ALL_ZONES = "*"

__all__ = [
    "ALL_ZONES", "Interrupted", "OnAir", "Occurrence", "Outcome", "Plan", "PlanState", "PlannableItem", "Prepare",
    "Preempt", "Priority", "Reason", "Record", "Refusal", "RelayPlan", "Request", "Settings", "Skip", "Slot",
    "Start", "Trigger", "Waiting", "ZoneRule",
]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Reason:
    """A machine code plus the Vietnamese and English sentence an operator reads."""

    code: str
    vi: str
    en: str

    def __str__(self) -> str:
        return self.en


@dataclass(frozen=True)
class PlannableItem:
    """What the planner needs to know about an item. ``zones=('*',)`` means every zone.

    ``ready``: media verified and audio prepared, so playback can begin immediately.
    ``duration_s``: expected play time (None or 0 when unknown; a slot may set it).
    """

    id: str
    version: int = 1
    kind: str = "text"
    priority: Priority = "normal"
    title: str = ""
    zones: tuple[str, ...] = (ALL_ZONES,)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked: bool = False
    ready: bool = True
    duration_s: float | None = None


@dataclass(frozen=True)
class ZoneRule:
    """A loudspeaker zone: broadcast windows (device-local) and relay timing.

    An empty ``windows`` tuple allows no normal or priority playback in the zone.
    """

    name: str
    windows: tuple[Window, ...] = ()
    warmup_s: float = 1.5
    cooldown_s: float = 1.0


@dataclass(frozen=True)
class Settings:
    grace_s: float = 600.0
    min_interval_s: float = 1800.0
    max_duration_s: float = 7200.0
    prepare_ahead_s: float = 3600.0
    resume_interrupted: bool = True
    tz: str = "Asia/Ho_Chi_Minh"
    # Past occurrences older than this are not looked at at all (no skip records either).
    lookback_s: float = 86400.0
    # Nothing starts later than this after its scheduled time, however it was delayed.
    max_delay_s: float = 3600.0
    # An interrupted occurrence is resumed only within this long after its interruption.
    resume_within_s: float = 3600.0
    # How far ahead occurrences are expanded to find the next deadline.
    horizon_s: float = 2 * 86400.0
    # On battery (``PlanState.on_battery``): "keep_all", or "emergency_and_priority" (normal
    # scheduled items are skipped, reason ``on_battery``, and their amplifiers stay off).
    battery_policy: str = "keep_all"


@dataclass(frozen=True)
class Occurrence:
    """One concrete playback of one item, scheduled or requested.

    ``key`` identifies it for "never twice": ``item_id@<scheduled UTC>`` for the schedule
    (unchanged by a new item version or a clock jump), ``item_id@request:<id>`` for a
    play-now or emergency request.
    """

    key: str
    item_id: str
    scheduled_at: datetime
    duration_s: float
    zones: tuple[str, ...]
    priority: Priority
    trigger: Trigger = "schedule"
    slot_id: str = ""
    item_version: int = 1
    limit_s: float | None = None   # the slot's own length: audio stops there (None: the item's length)

    @property
    def expected_end(self) -> datetime:
        return self.scheduled_at + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class Record:
    """What already happened to an occurrence key (the daemon's play log, latest row).

    ``started_at``/``ended_at`` of plays let the planner tell "queued behind another item"
    from "missed": time the station was busy does not count against the grace period.
    """

    outcome: Outcome
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class OnAir:
    """The occurrence the daemon is playing (phase 'warmup' until audio starts)."""

    occurrence: Occurrence
    zones: tuple[str, ...]
    started_at: datetime
    # "silent": a live relay whose source went quiet; its amplifiers are off until audio returns.
    phase: Literal["warmup", "playing", "silent"] = "playing"
    audio_at: datetime | None = None

    @property
    def expected_end(self) -> datetime:
        begin = self.audio_at or self.started_at
        return begin + timedelta(seconds=self.occurrence.duration_s)


@dataclass(frozen=True)
class Request:
    """Play-now (operator, central) or emergency. ``zones`` None: the item's zones."""

    request_id: str
    item_id: str
    trigger: Literal["operator", "emergency", "central"]
    requested_at: datetime
    zones: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Interrupted:
    """An occurrence pre-empted by an emergency, waiting to be resumed."""

    occurrence: Occurrence
    interrupted_at: datetime


@dataclass(frozen=True)
class PlanState:
    records: Mapping[str, Record] = field(default_factory=dict)
    on_air: OnAir | None = None
    requests: tuple[Request, ...] = ()
    interrupted: tuple[Interrupted, ...] = ()
    clock_trusted: bool = True
    # zone -> since when its relay is on (absent: off).
    relays_on_since: Mapping[str, datetime] = field(default_factory=dict)
    # zone -> when audio last ended in it (for the cool-down).
    audio_ended_at: Mapping[str, datetime] = field(default_factory=dict)
    # Occurrences before this instant are ignored (e.g. installation time).
    since: datetime | None = None
    # When this run of the station began (the daemon's start, on today's wall clock): an
    # occurrence whose grace ran out before it was missed because the station was off.
    running_since: datetime | None = None
    # Occurrences due before this instant were not seen due on a trusted, steady clock (it
    # jumped, or was not trusted then): one that is too late is dropped without a "skipped"
    # row, which would claim a day that may never have happened.
    steady_clock_since: datetime | None = None
    # Mains lost: the station runs on its backup battery (``Settings.battery_policy`` applies).
    on_battery: bool = False


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Start:
    """Start this occurrence now in ``zones``; audio must begin at ``audio_at`` (after warm-up)
    and stop, with a short fade, at ``end_by`` (the slot's length, the window's end, the item's
    expiry) if it has not ended by then; ``end_reason`` says which. Emergencies stop only at
    their expiry."""

    occurrence: Occurrence
    zones: tuple[str, ...]
    audio_at: datetime
    resume: bool
    reason: Reason
    end_by: datetime | None = None
    end_reason: Reason | None = None


@dataclass(frozen=True)
class Preempt:
    """Stop what is on air; log it interrupted. ``resume``: add it to ``PlanState.interrupted``."""

    occurrence: Occurrence
    resume: bool
    reason: Reason


@dataclass(frozen=True)
class Skip:
    """Record this occurrence as skipped (it will never play)."""

    occurrence: Occurrence
    reason: Reason


@dataclass(frozen=True)
class Waiting:
    """Due or upcoming but not started now, and why (for status)."""

    occurrence: Occurrence
    reason: Reason


@dataclass(frozen=True)
class RelayPlan:
    """Desired relay state of one zone now, and when its next warm-up must begin."""

    zone: str
    on: bool
    reason: Reason
    next_on_at: datetime | None


@dataclass(frozen=True)
class Prepare:
    item_id: str
    needed_by: datetime


@dataclass(frozen=True)
class Refusal:
    slot_id: str
    item_id: str
    error: ScheduleError

    @property
    def reason(self) -> Reason:
        return Reason(self.error.code, self.error.vi, self.error.en)


@dataclass(frozen=True)
class Plan:
    now: datetime
    start: Start | None
    preempt: Preempt | None
    skip: tuple[Skip, ...]
    relays: tuple[RelayPlan, ...]
    prepare: tuple[Prepare, ...]
    next_wakeup: datetime
    refused: tuple[Refusal, ...]
    waiting: tuple[Waiting, ...]
    held: Reason | None = None


