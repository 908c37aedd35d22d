"""The broadcast planner: what to prepare, which amplifiers to switch, what to play now.

Pure functions over frozen dataclasses. No clock (``now`` is an argument, an aware UTC
datetime), no I/O, no globals besides a memo of expanded rules. The daemon calls
``plan(now, items, slots, zones, settings, state)`` whenever something may have changed
(a deadline reached, playback ended, a new item, an operator action, a clock jump),
carries out what the returned ``Plan`` says, records outcomes in its store, and sleeps
until ``Plan.next_wakeup``.

Rules (issue 4):
- One audio output: one occurrence on air at a time, across all zones.
- Emergency starts at once in its zones and pre-empts anything that is not an emergency,
  including an item still in warm-up; the pre-empted occurrence is logged interrupted and,
  when ``Settings.resume_interrupted``, resumed afterwards (from the start).
- Among occurrences due together: emergency, then resumed, then play-now requests, then
  priority, then normal; then earlier scheduled time; then item id. The reason is stated.
- Broadcast windows per zone refuse normal and priority playback (the whole expected span
  must lie inside a window); emergency ignores them.
- An occurrence not started in time plays if it is at most ``grace_s`` late, otherwise it
  is skipped with the reason (``station_off`` when its grace ran out before this run of the
  station began, ``PlanState.running_since``). Time spent playing other items does not count as lateness
  (an item queued behind a 20-minute bulletin was not "missed"), but ``max_delay_s`` caps
  how late anything may start.
- An occurrence key is in ``PlanState.records`` once it has started or been skipped; a
  key in the records is never started again (except an explicit resume after pre-emption).
- Clock untrusted: scheduled occurrences are held (neither started nor skipped; when the
  clock is trusted again the grace rule decides); play-now and emergency still run.
- Revoked, expired or not-yet-valid at slot time: skipped. Not ready (media) at slot time:
  waits within grace, then skipped.
- On battery (``PlanState.on_battery``) with ``Settings.battery_policy`` "emergency_and_priority":
  a normal scheduled occurrence is skipped when due (reason ``on_battery``) and no amplifier
  warms up for it; emergencies, priority items, operator and central requests and resumes
  still air. "keep_all" changes nothing.

Why one module of this length: every rule above is decided in ``plan`` and its helpers, so
that the whole answer to "why did this play (or not)" can be read in one place. The
vocabulary lives in ``plan_types``, the adapters from config and protocol in ``plan_inputs``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from appliance.broadcast.plan_inputs import settings_from_config, slot_from_schedule, zone_rules_from_config
from appliance.broadcast.plan_types import (
    ALL_ZONES,
    Interrupted,
    Occurrence,
    OnAir,
    Plan,
    PlannableItem,
    PlanState,
    Preempt,
    Prepare,
    Priority,
    Reason,
    Record,
    Refusal,
    RelayPlan,
    Request,
    Settings,
    Skip,
    Start,
    Trigger,
    Waiting,
    ZoneRule,
)
from appliance.broadcast.recurrence import Slot, occurrence_times, validate_slot_rules
from appliance.broadcast.windows import allows, window_end
from appliance.errors import ScheduleError

# The vocabulary (plan_types) and the input adapters (plan_inputs) are re-exported, so callers
# write ``planner.PlannableItem`` and ``planner.slot_from_schedule`` and see one module.
__all__ = [
    "ALL_ZONES", "Interrupted", "OnAir", "Occurrence", "Plan", "PlanState", "PlannableItem",
    "Prepare", "Preempt", "Priority", "Reason", "Record", "Refusal", "RelayPlan", "Request", "Settings",
    "Skip", "Slot", "Start", "Trigger", "Waiting", "ZoneRule", "expand", "forecast", "occurrence_key", "plan",
    "settings_from_config", "slot_from_schedule", "validate_slot", "zone_rules_from_config", "ON_BATTERY_REASON",
]


# --------------------------------------------------------------------------- helpers


def occurrence_key(item_id: str, scheduled_at: datetime) -> str:
    return f"{item_id}@{scheduled_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def _request_key(request: Request) -> str:
    return f"{request.item_id}@request:{request.request_id}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime passed to the planner: use aware UTC datetimes")
    return moment.astimezone(UTC)


def _mins(seconds: float) -> str:
    return f"{seconds / 60:.0f}"


def _resolve_zones(wanted: Iterable[str], known: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(wanted)
    if ALL_ZONES in wanted:
        return known
    return tuple(z for z in known if z in wanted)


@functools.lru_cache(maxsize=1024)
def _refusal_of(slot: Slot, min_interval_s: float, max_duration_s: float, tz: str) -> ScheduleError | None:
    # Memoised because plan() runs often over the same immutable slots.
    try:
        validate_slot_rules(slot, min_interval_s=min_interval_s, max_duration_s=max_duration_s, device_tz=tz)
    except ScheduleError as exc:
        return exc
    return None


def validate_slot(slot: Slot, settings: Settings) -> None:
    """Raise ScheduleError if the slot is malformed, too frequent or too long (panel: before saving)."""
    error = _refusal_of(slot, settings.min_interval_s, settings.max_duration_s, settings.tz)
    if error is not None:
        raise error


def _occurrences(slots: Iterable[Slot], items: Mapping[str, PlannableItem], start: datetime, end: datetime,
                 settings: Settings, zone_names: tuple[str, ...],
                 refused: list[Refusal] | None) -> list[Occurrence]:
    by_key: dict[str, Occurrence] = {}
    for slot in slots:
        error = _refusal_of(slot, settings.min_interval_s, settings.max_duration_s, settings.tz)
        if error is None:
            try:
                times = occurrence_times(slot, start, end, settings.tz)
            except ScheduleError as exc:
                error = exc
        if error is not None:
            if refused is not None:
                refused.append(Refusal(slot.slot_id, slot.item_id, error))
            continue
        item = items.get(slot.item_id)
        if item is None:
            # The daemon passes only items it knows; a slot for anything else has nothing to play.
            continue
        zones = _resolve_zones(slot.zones if slot.zones is not None else item.zones, zone_names)
        duration = slot.duration_s if slot.duration_s else (item.duration_s or 0.0)
        limit = float(slot.duration_s) if slot.duration_s else None
        for at in times:
            key = occurrence_key(item.id, at)
            previous = by_key.get(key)
            if previous is not None:
                # Two slots of one item at one instant are one occurrence: it plays once, in both zone sets.
                merged = tuple(z for z in zone_names if z in previous.zones or z in zones)
                # Stopped at a slot's length only if both slots have one (else the item's own length).
                joint = max(limit, previous.limit_s) if limit is not None and previous.limit_s is not None else None
                by_key[key] = Occurrence(key, item.id, at, max(duration, previous.duration_s), merged,
                                         item.priority, "schedule", previous.slot_id, item.version, joint)
            else:
                by_key[key] = Occurrence(key, item.id, at, duration, zones, item.priority, "schedule",
                                         slot.slot_id, item.version, limit)
    return sorted(by_key.values(), key=lambda o: (o.scheduled_at, o.key))


def expand(slots: Iterable[Slot], start: datetime, end: datetime, tz: str,
           items: Mapping[str, PlannableItem] | Iterable[PlannableItem] | None = None,
           zones: Iterable[str] | None = None, settings: Settings | None = None) -> list[Occurrence]:
    """Occurrences of ``slots`` in [start, end), sorted, for the panel's week view.

    Refused slots (see ``validate_slot``) are left out. Without ``items``, each slot's item
    is taken as a normal-priority item in all zones of ``zones`` (or the slot's own zones).
    """
    slots = tuple(slots)
    settings = settings or Settings(tz=tz)
    if settings.tz != tz:
        settings = Settings(**{**settings.__dict__, "tz": tz})
    item_map = _item_map(items) if items is not None else {}
    zone_names = tuple(zones) if zones is not None else tuple(
        dict.fromkeys(z for s in slots for z in (s.zones or ()) if z != ALL_ZONES))
    for slot in slots:
        if slot.item_id not in item_map:
            item_map[slot.item_id] = PlannableItem(id=slot.item_id)
    return _occurrences(slots, item_map, _utc(start), _utc(end), settings, zone_names, None)


def _item_map(items: Mapping[str, PlannableItem] | Iterable[PlannableItem]) -> dict[str, PlannableItem]:
    if isinstance(items, Mapping):
        return dict(items)
    return {item.id: item for item in items}


def _busy_intervals(state: PlanState, since: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    for record in state.records.values():
        if record.started_at is not None and record.ended_at is not None and record.ended_at > since:
            spans.append((_utc(record.started_at), _utc(record.ended_at)))
    if state.on_air is not None:
        spans.append((_utc(state.on_air.started_at), now))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _lateness(scheduled_at: datetime, now: datetime, busy: list[tuple[datetime, datetime]]) -> float:
    """Seconds late, not counting time the station was busy playing something else."""
    late = (now - scheduled_at).total_seconds()
    for a, b in busy:
        lo, hi = max(a, scheduled_at), min(b, now)
        if hi > lo:
            late -= (hi - lo).total_seconds()
    return max(0.0, late)


_RANK_NAMES = {
    0: ("khẩn cấp", "emergency"),
    1: ("tiếp tục bản tin bị ngắt", "resumed after interruption"),
    2: ("phát ngay theo yêu cầu", "play-now request"),
    3: ("ưu tiên", "priority"),
    4: ("thường", "normal"),
}


@dataclass(frozen=True)
class _Candidate:
    occurrence: Occurrence
    rank: int
    resume: bool = False

    @property
    def sort_key(self) -> tuple[int, datetime, str, str]:
        o = self.occurrence
        return (self.rank, o.scheduled_at, o.item_id, o.key)


def _rank(occurrence: Occurrence, resume: bool) -> int:
    if occurrence.priority == "emergency" or occurrence.trigger == "emergency":
        return 0
    if resume:
        return 1
    if occurrence.trigger != "schedule":
        return 2
    return 3 if occurrence.priority == "priority" else 4


def _choice_reason(chosen: _Candidate, runner_up: _Candidate | None) -> Reason:
    vi_rank, en_rank = _RANK_NAMES[chosen.rank]
    if runner_up is None:
        return Reason("due", f"Đến giờ phát ({vi_rank}).", f"Due now ({en_rank}).")
    if runner_up.rank != chosen.rank:
        vi_other, en_other = _RANK_NAMES[runner_up.rank]
        return Reason("rank", f"Bản tin {vi_rank} phát trước bản tin {vi_other} cùng đến giờ.",
                      f"{en_rank.capitalize()} before {en_other} due at the same time.")
    if runner_up.occurrence.scheduled_at != chosen.occurrence.scheduled_at:
        return Reason("earlier", "Bản tin đến giờ sớm hơn phát trước.", "Earlier scheduled occurrence first.")
    return Reason("tie", f"Cùng mức và cùng giờ: chọn theo mã bản tin ({chosen.occurrence.item_id} trước "
                         f"{runner_up.occurrence.item_id}).",
                  f"Same level and time: tie broken by item id ({chosen.occurrence.item_id} before "
                  f"{runner_up.occurrence.item_id}).")


def _validity_problem(item: PlannableItem, at: datetime) -> Reason | None:
    if item.revoked:
        return Reason("revoked", "Bản tin đã bị thu hồi.", "The item was revoked.")
    if item.valid_until is not None and at >= _utc(item.valid_until):
        return Reason("expired", "Bản tin đã hết hiệu lực vào giờ phát.", "The item had expired at its slot time.")
    if item.valid_from is not None and at < _utc(item.valid_from):
        return Reason("not_yet_valid", "Bản tin chưa có hiệu lực vào giờ phát.",
                      "The item was not yet valid at its slot time.")
    return None


def _admission_problem(o: Occurrence, item: PlannableItem, at: datetime, settings: Settings) -> Reason | None:
    """Why ``o`` may not play at ``at`` whatever else happens: validity, zones, length."""
    problem = _validity_problem(item, at)
    if problem is None and not o.zones:
        problem = Reason("no_zones", "Không vùng loa nào của trạm này được chọn.",
                         "None of this station's zones is targeted.")
    if problem is None and o.duration_s > settings.max_duration_s:
        problem = Reason("too_long", f"Thời lượng {_mins(o.duration_s)} phút vượt mức tối đa "
                                     f"{_mins(settings.max_duration_s)} phút.",
                         f"Duration {_mins(o.duration_s)} min exceeds the maximum of "
                         f"{_mins(settings.max_duration_s)} min.")
    return problem


def forecast(o: Occurrence, item: PlannableItem | None, zones: Iterable[ZoneRule],
             settings: Settings) -> Reason | None:
    """Why a future scheduled occurrence will not play, by the rules ``plan`` applies when it
    comes due (the item's validity and readiness, the station's zones, the length, the zones'
    broadcast windows); None when none of them stops it. What will be on air then and whether
    the clock is trusted are known only at that time. The panel shows this, so that what it
    says will play is what the daemon plays."""
    if item is None:
        return Reason("unknown_item", f"Không có bản tin '{o.item_id}'.", f"There is no item '{o.item_id}'.")
    problem = _admission_problem(o, item, o.scheduled_at, settings)
    if problem is not None:
        return problem
    if not item.ready:
        return Reason("not_ready", "Âm thanh chưa sẵn sàng: không phát nếu đến giờ vẫn chưa có.",
                      "The audio is not ready: it will not play unless it is by then.")
    rules = {z.name: z for z in zones}
    if not _window_zones(o, o.zones, o.scheduled_at, rules, ZoneInfo(settings.tz)):
        return _outside_window_reason(o, o.zones, rules)
    return None


def _window_zones(occurrence: Occurrence, zones: tuple[str, ...], begin: datetime,
                  zone_rules: Mapping[str, ZoneRule], tz: ZoneInfo) -> tuple[str, ...]:
    if occurrence.priority == "emergency" or occurrence.trigger == "emergency":
        return zones
    end = begin + timedelta(seconds=occurrence.duration_s)
    return tuple(z for z in zones if allows(zone_rules[z].windows, begin, end, tz))


def _outside_window_reason(occurrence: Occurrence, zones: tuple[str, ...],
                           zone_rules: Mapping[str, ZoneRule]) -> Reason:
    shown = ", ".join(f"{z} ({' '.join(str(w) for w in zone_rules[z].windows) or '-'})" for z in zones)
    return Reason("outside_window",
                  f"Ngoài khung giờ phát của vùng: {shown}. Chỉ bản tin khẩn cấp được phát ngoài khung giờ.",
                  f"Outside the broadcast window of zone(s): {shown}. Only emergencies play outside windows.")


def _end_by(o: Occurrence, item: PlannableItem, zones: tuple[str, ...], audio_at: datetime,
            zone_rules: Mapping[str, ZoneRule], tz: ZoneInfo) -> tuple[datetime | None, Reason | None]:
    """When audio must stop: the item's ``valid_until`` (protocol §7: stopped there, emergencies
    too), and for other items the slot's length after ``audio_at`` or the earliest end of the
    zones' open windows; whichever comes first."""
    candidates: list[tuple[datetime, Reason]] = []
    if item.valid_until is not None:
        until = _utc(item.valid_until)
        shown = until.astimezone(tz)
        candidates.append((until, Reason("expired", f"Dừng khi bản tin hết hiệu lực ({shown:%H:%M}).",
                                         f"Stopped when the item expired ({shown:%H:%M}).")))
    if o.priority == "emergency" or o.trigger == "emergency":
        return min(candidates, key=lambda c: c[0]) if candidates else (None, None)
    if o.limit_s:
        candidates.append((audio_at + timedelta(seconds=o.limit_s), Reason(
            "slot_length", f"Dừng ở độ dài của khung phát ({o.limit_s:g} giây).",
            f"Stopped at the slot's length ({o.limit_s:g} s).")))
    for z in zones:
        closes = window_end(zone_rules[z].windows, audio_at, tz)
        if closes is not None:
            shown = closes.astimezone(tz)
            candidates.append((closes, Reason(
                "window_end", f"Dừng khi hết khung giờ phát của vùng {z} ({shown:%H:%M}).",
                f"Stopped at the end of zone {z}'s broadcast window ({shown:%H:%M}).")))
    if not candidates:
        return None, None
    return min(candidates, key=lambda c: c[0])


def _audio_at(zones: tuple[str, ...], now: datetime, state: PlanState, zone_rules: Mapping[str, ZoneRule]) -> datetime:
    """When audio may begin: every zone's relay must have been on for its warm-up."""
    at = now
    for z in zones:
        since = state.relays_on_since.get(z)
        on_since = _utc(since) if since is not None else now
        at = max(at, on_since + timedelta(seconds=zone_rules[z].warmup_s))
    return at


ON_BATTERY_REASON = Reason(
    "on_battery",
    "Bỏ qua để tiết kiệm ắc quy: mất điện lưới, trạm đang chạy ắc quy nên chỉ phát bản tin khẩn cấp và ưu tiên.",
    "Skipped to save the battery: mains lost, the station runs on battery and plays only emergency and "
    "priority items.")


def _held_for_battery(o: Occurrence) -> bool:
    """What the "emergency_and_priority" battery policy holds back: normal items of the schedule."""
    return o.trigger == "schedule" and o.priority == "normal"


# --------------------------------------------------------------------------- plan


def plan(now: datetime, items: Mapping[str, PlannableItem] | Iterable[PlannableItem], slots: Iterable[Slot],
         zones: Iterable[ZoneRule], settings: Settings, state: PlanState) -> Plan:
    """Decide what to do at ``now``. Pure: the same arguments always give the same Plan.

    The daemon must, in this order: stop and log ``preempt`` (and remember it in
    ``PlanState.interrupted`` when ``preempt.resume``); record every ``skip`` as skipped;
    record ``start`` as started (durably, before audio, so a crash never replays it) and
    play it from ``start.audio_at``; drive relays per ``relays``; prepare ``prepare``;
    sleep until ``next_wakeup`` or an event.
    """
    now = _utc(now)
    tz = ZoneInfo(settings.tz)
    item_map = _item_map(items)
    zone_rules = {z.name: z for z in zones}
    zone_names = tuple(zone_rules)
    grace = timedelta(seconds=settings.grace_s)
    lo = now - timedelta(seconds=settings.lookback_s)
    if state.since is not None:
        lo = max(lo, min(_utc(state.since), now - grace))
    hi = now + timedelta(seconds=max(settings.horizon_s, settings.prepare_ahead_s))
    refused: list[Refusal] = []
    occurrences = _occurrences(slots, item_map, lo, hi, settings, zone_names, refused)
    records = state.records
    busy = _busy_intervals(state, lo, now)
    held = None if state.clock_trusted else Reason(
        "clock_untrusted",
        "Đồng hồ chưa đáng tin: tạm giữ lịch phát (phát ngay và khẩn cấp vẫn hoạt động).",
        "Clock not trusted: scheduled playback held (play-now and emergency still work).")

    skips: list[Skip] = []
    saving_battery = state.on_battery and settings.battery_policy == "emergency_and_priority"
    steady_since = _utc(state.steady_clock_since) if state.steady_clock_since is not None else None

    def skip(o: Occurrence, reason: Reason) -> None:
        if o.trigger == "schedule" and steady_since is not None and o.scheduled_at < steady_since:
            return  # seen only under an untrusted or jumped clock: no row
        skips.append(Skip(o, reason))

    waiting: list[Waiting] = []
    candidates: list[_Candidate] = []
    deadlines: list[datetime] = []
    upcoming: list[Occurrence] = []

    def timely(o: Occurrence, item: PlannableItem) -> bool:
        """Skip (and return False) what is too late; wait for media within grace."""
        delay = (now - o.scheduled_at).total_seconds()
        late = _lateness(o.scheduled_at, now, busy)
        if late > settings.grace_s:
            came_back = _utc(state.running_since) if state.running_since is not None else None
            if came_back is not None and o.scheduled_at + grace < came_back:
                back = came_back.astimezone(tz)
                skip(o, Reason(
                    "station_off",
                    f"Lỡ giờ phát vì trạm tắt (mất điện hoặc dịch vụ dừng); trạm chạy lại lúc "
                    f"{back:%H:%M} ngày {back:%d/%m/%Y}, quá thời gian cho phép {_mins(settings.grace_s)} phút.",
                    f"Missed because the station was off (power cut or service stopped); it came back at "
                    f"{back:%H:%M} on {back:%Y-%m-%d}, after the {_mins(settings.grace_s)} min grace period."))
            elif not item.ready:
                skip(o, Reason(
                    "not_ready", f"Âm thanh chưa sẵn sàng trong thời gian cho phép ({_mins(settings.grace_s)} phút).",
                    f"Audio was not ready within the grace period ({_mins(settings.grace_s)} min)."))
            else:
                skip(o, Reason(
                    "missed",
                    f"Lỡ giờ phát {_mins(late)} phút (mất điện, dịch vụ dừng hoặc đồng hồ chưa đáng tin), "
                    f"quá thời gian cho phép {_mins(settings.grace_s)} phút.",
                    f"Missed by {_mins(late)} min (power cut, service down or clock not trusted), "
                    f"beyond the {_mins(settings.grace_s)} min grace period."))
            return False
        if delay > settings.max_delay_s:
            skip(o, Reason(
                "delayed_too_long",
                f"Đã trễ {_mins(delay)} phút, quá mức tối đa {_mins(settings.max_delay_s)} phút: bỏ qua.",
                f"Already {_mins(delay)} min late, beyond the maximum delay of {_mins(settings.max_delay_s)} min: skipped."))
            return False
        if not item.ready:
            waiting.append(Waiting(o, Reason("waiting_media", "Đang chờ âm thanh sẵn sàng.",
                                             "Waiting for the audio to be ready.")))
            deadlines.append(now + timedelta(seconds=settings.grace_s - late) + timedelta(microseconds=1))
            return False
        return True

    def admissible(o: Occurrence, item: PlannableItem, at: datetime) -> bool:
        problem = _admission_problem(o, item, at, settings)
        if problem is not None:
            skip(o, problem)
            return False
        return True

    # Scheduled occurrences.
    for o in occurrences:
        if o.key in records:
            continue
        if o.scheduled_at > now:
            upcoming.append(o)
            continue
        if held is not None:
            waiting.append(Waiting(o, held))
            continue
        item = item_map[o.item_id]
        if admissible(o, item, o.scheduled_at) and timely(o, item):
            if saving_battery and _held_for_battery(o):
                skip(o, ON_BATTERY_REASON)
                continue
            candidates.append(_Candidate(o, _rank(o, False)))

    # Play-now and emergency requests: validity is judged now, when they are asked for.
    for r in state.requests:
        key = _request_key(r)
        if key in records:
            continue
        at = _utc(r.requested_at)
        item = item_map.get(r.item_id)
        if item is None:
            o = Occurrence(key, r.item_id, at, 0.0, (), "emergency" if r.trigger == "emergency" else "normal",
                           r.trigger, f"request:{r.request_id}")
            skips.append(Skip(o, Reason("unknown_item", f"Không có bản tin '{r.item_id}'.",
                                        f"There is no item '{r.item_id}'.")))
            continue
        # An item is aired only in its own zones, whatever the request names (protocol §8).
        zones_wanted = _resolve_zones(item.zones, zone_names)
        if r.zones is not None:
            zones_wanted = tuple(z for z in zones_wanted if z in r.zones)
        priority: Priority = "emergency" if r.trigger == "emergency" else item.priority
        o = Occurrence(key, item.id, at, item.duration_s or 0.0, zones_wanted, priority, r.trigger,
                       f"request:{r.request_id}", item.version)
        if admissible(o, item, now) and timely(o, item):
            candidates.append(_Candidate(o, _rank(o, False)))

    # Occurrences interrupted by an emergency, to be resumed.
    for interrupted in state.interrupted:
        o = interrupted.occurrence
        record = records.get(o.key)
        if record is None or record.outcome != "interrupted":
            continue
        if held is not None and o.trigger == "schedule":
            waiting.append(Waiting(o, held))
            continue
        item = item_map.get(o.item_id)
        since = (now - _utc(interrupted.interrupted_at)).total_seconds()
        if item is None or since > settings.resume_within_s:
            skips.append(Skip(o, Reason(
                "resume_expired",
                f"Không phát lại bản tin bị ngắt: đã quá {_mins(settings.resume_within_s)} phút.",
                f"Interrupted item not resumed: more than {_mins(settings.resume_within_s)} min have passed.")))
            continue
        if not admissible(o, item, now):
            continue
        deadlines.append(_utc(interrupted.interrupted_at) + timedelta(seconds=settings.resume_within_s, microseconds=1))
        candidates.append(_Candidate(o, _rank(o, True), resume=True))

    candidates.sort(key=lambda c: c.sort_key)

    # What is on air, and whether it must stop.
    on_air = state.on_air
    preempt: Preempt | None = None
    busy_until: datetime | None = None
    if on_air is not None:
        current = item_map.get(on_air.occurrence.item_id)
        if current is None or current.revoked:
            preempt = Preempt(on_air.occurrence, False, Reason(
                "revoked", "Bản tin đang phát đã bị thu hồi: dừng ngay.", "The item on air was revoked: stopped at once."))
        elif candidates and candidates[0].rank == 0 and _rank(on_air.occurrence, False) != 0:
            resume = settings.resume_interrupted
            preempt = Preempt(on_air.occurrence, resume, Reason(
                "emergency",
                "Bản tin khẩn cấp ngắt bản tin đang phát" + (" (sẽ phát lại sau)." if resume else " (không phát lại)."),
                "Emergency pre-empts the item on air" + (" (resumed afterwards)." if resume else " (not resumed).")))
        elif on_air.occurrence.duration_s > 0:
            busy_until = on_air.expected_end

    start: Start | None = None
    if on_air is None or preempt is not None:
        remaining = list(candidates)
        while remaining:
            chosen = remaining.pop(0)
            o = chosen.occurrence
            # The window must hold the audio itself, which begins after any warm-up still to run.
            allowed = _window_zones(o, o.zones, _audio_at(o.zones, now, state, zone_rules), zone_rules, tz)
            if not allowed:
                skip(o, _outside_window_reason(o, o.zones, zone_rules))
                continue
            runner_up = remaining[0] if remaining else None
            reason = _choice_reason(chosen, runner_up)
            if len(allowed) < len(o.zones):
                dropped = tuple(z for z in o.zones if z not in allowed)
                outside = _outside_window_reason(o, dropped, zone_rules)
                reason = Reason(reason.code, f"{reason.vi} {outside.vi}", f"{reason.en} {outside.en}")
            audio_at = _audio_at(allowed, now, state, zone_rules)
            end_by, end_reason = _end_by(o, item_map[o.item_id], allowed, audio_at, zone_rules, tz)
            start = Start(o, allowed, audio_at, chosen.resume, reason, end_by, end_reason)
            if o.duration_s > 0:
                busy_until = audio_at + timedelta(seconds=o.duration_s)
            for c in remaining:
                waiting.append(Waiting(c.occurrence, Reason(
                    "queued", f"Chờ sau bản tin {o.item_id} đang bắt đầu.", f"Queued behind {o.item_id}, starting now.")))
            break
    else:
        for c in candidates:
            waiting.append(Waiting(c.occurrence, Reason(
                "queued", f"Chờ bản tin {on_air.occurrence.item_id} đang phát kết thúc.",
                f"Queued until {on_air.occurrence.item_id}, on air, ends.")))

    warm_for = [o for o in upcoming if not (saving_battery and _held_for_battery(o))] if held is None else []
    relays = _plan_relays(now, state, zone_rules, tz, settings, item_map, start, on_air if preempt is None else None,
                          warm_for, [w.occurrence for w in waiting if w.reason.code == "queued"],
                          busy_until, deadlines)
    prepare = _plan_prepare(now, settings, item_map, upcoming, [w.occurrence for w in waiting], deadlines)

    for o in upcoming:
        deadlines.append(o.scheduled_at)
    future = [d for d in deadlines if d > now]
    next_wakeup = min(future) if future else hi
    next_wakeup = min(next_wakeup, hi)
    return Plan(now=now, start=start, preempt=preempt, skip=tuple(skips), relays=relays, prepare=prepare,
                next_wakeup=next_wakeup, refused=tuple(refused), waiting=tuple(waiting), held=held)


def _plan_relays(now: datetime, state: PlanState, zone_rules: Mapping[str, ZoneRule], tz: ZoneInfo,
                 settings: Settings, items: Mapping[str, PlannableItem], start: Start | None,
                 on_air: OnAir | None, upcoming: list[Occurrence], queued: list[Occurrence],
                 busy_until: datetime | None, deadlines: list[datetime]) -> tuple[RelayPlan, ...]:
    """Per zone: on now or not, and when the next warm-up must begin so audio starts on time."""
    active: dict[str, Reason] = {}
    if start is not None:
        for z in start.zones:
            active[z] = Reason("starting", f"Bắt đầu phát {start.occurrence.item_id}.",
                               f"Starting {start.occurrence.item_id}.")
    elif on_air is not None and on_air.phase != "silent":
        for z in on_air.zones:
            active[z] = Reason("on_air", f"Đang phát {on_air.occurrence.item_id}.", f"{on_air.occurrence.item_id} on air.")

    # Predicted next audio start per zone. Queued items start when the current one ends.
    next_start: dict[str, tuple[datetime, str]] = {}

    def consider(z: str, at: datetime, item_id: str) -> None:
        if z not in next_start or at < next_start[z][0]:
            next_start[z] = (at, item_id)

    if busy_until is not None:
        for o in queued:
            for z in o.zones:
                consider(z, busy_until, o.item_id)
    for o in upcoming:
        item = items[o.item_id]
        if not item.ready or _validity_problem(item, o.scheduled_at) is not None:
            continue
        at = max(o.scheduled_at, busy_until) if busy_until is not None else o.scheduled_at
        for z in _window_zones(o, o.zones, at, zone_rules, tz):
            consider(z, at, o.item_id)

    plans: list[RelayPlan] = []
    for name, rule in zone_rules.items():
        predicted = next_start.get(name)
        next_on_at = predicted[0] - timedelta(seconds=rule.warmup_s) if predicted else None
        if next_on_at is not None and next_on_at > now:
            deadlines.append(next_on_at)
        is_on = name in state.relays_on_since
        ended = state.audio_ended_at.get(name)
        cooldown_end = _utc(ended) + timedelta(seconds=rule.cooldown_s) if ended is not None else None
        if name in active:
            plans.append(RelayPlan(name, True, active[name], next_on_at))
            continue
        if predicted is not None and next_on_at is not None and next_on_at <= now:
            plans.append(RelayPlan(name, True, Reason(
                "warmup", f"Khởi động ampli cho {predicted[1]} lúc {predicted[0]:%H:%M:%S}Z.",
                f"Warming up for {predicted[1]} at {predicted[0]:%H:%M:%S}Z."), next_on_at))
            continue
        if is_on and cooldown_end is not None and cooldown_end > now:
            deadlines.append(cooldown_end)
            plans.append(RelayPlan(name, True, Reason("cooldown", "Chờ nguội sau khi phát.", "Cooling down after audio."),
                                   next_on_at))
            continue
        if is_on and next_on_at is not None and next_on_at <= max(now, cooldown_end or now):
            plans.append(RelayPlan(name, True, Reason(
                "adjacent", f"Giữ ampli bật: {predicted[1]} tiếp ngay sau." if predicted else "Giữ ampli bật.",
                f"Kept on: {predicted[1]} follows immediately." if predicted else "Kept on."), next_on_at))
            continue
        plans.append(RelayPlan(name, False, Reason("idle", "Không phát: tắt ampli.", "Nothing to play: off."), next_on_at))
    return tuple(plans)


def _plan_prepare(now: datetime, settings: Settings, items: Mapping[str, PlannableItem], upcoming: list[Occurrence],
                  due: list[Occurrence], deadlines: list[datetime]) -> tuple[Prepare, ...]:
    ahead = timedelta(seconds=settings.prepare_ahead_s)
    needed: dict[str, datetime] = {}
    for o in [*due, *upcoming]:
        item = items.get(o.item_id)
        if item is None or item.ready or item.revoked:
            continue
        if o.trigger == "schedule" and _validity_problem(item, o.scheduled_at) is not None:
            continue
        if o.scheduled_at - ahead > now:
            deadlines.append(o.scheduled_at - ahead)
            continue
        if o.item_id not in needed or o.scheduled_at < needed[o.item_id]:
            needed[o.item_id] = o.scheduled_at
    return tuple(Prepare(i, at) for i, at in sorted(needed.items(), key=lambda kv: (kv[1], kv[0])))
