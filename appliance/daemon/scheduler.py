"""The scheduler: gather plain data, ask the pure planner, carry out its plan, sleep.

Each step collects the items, the slots (central's schedules and the operator's), the play-log
records, what is on air, the relay states and the clock's trust, calls ``planner.plan``,
carries out the returned plan (skip, pre-empt, start, relays, prepare) and sleeps until
``plan.next_wakeup`` on an Event with a short cap, so a clock jump is noticed within seconds.
New items, operator actions and central commands set the Event and wake it at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from appliance.broadcast import planner
from appliance.broadcast.amplifiers import Amplifiers
from appliance.broadcast.playlog import PlayLog
from appliance.broadcast.refusals import CENTRAL_SLOT_PREFIX, ScheduleRefusals
from appliance.broadcast.slots import SlotRepository, to_planner_slot
from appliance.daemon.broadcast_state import BroadcastState
from appliance.daemon.liveness import Heartbeats
from appliance.daemon.onair import OnAir, play_start_of
from appliance.daemon.preparation import PreparationQueue
from appliance.errors import ScheduleError
from appliance.state.config import Config
from appliance.state.store import Store
from appliance.sync.integrity import Tampered
from appliance.system.clock import Clock, ClockTrust, JumpDetector, iso_z, parse_iso_z
from protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)

WAKE_CAP_S = 5.0                # longest sleep: a clock jump is noticed within this
# The planner is asked about "now + PLAN_AHEAD_S", so a start is decided early enough to write
# the durable 'playing' row and open the player before the audio is due.
PLAN_AHEAD_S = 0.25
_KEY_STEADY = "clock.steady_since"


class Scheduler:
    def __init__(self, *, store: Store, clock: Clock, config: Callable[[], Config], amplifiers: Amplifiers,
                 trust: ClockTrust, playlog: PlayLog, onair: OnAir, preparation: PreparationQueue,
                 state: BroadcastState, heartbeats: Heartbeats, emit: Callable[[dict[str, Any]], None],
                 on_battery: Callable[[], bool] = lambda: False,
                 refresh: Callable[[], None] | None = None) -> None:
        self.store = store
        # Called before every plan: the daemon re-reads the operator's settings when they changed.
        self._refresh = refresh
        self._rules_for: tuple[Config, planner.Settings, tuple[planner.ZoneRule, ...]] | None = None
        self.clock = clock
        self._config = config
        self.amplifiers = amplifiers
        self.trust = trust
        self.playlog = playlog
        self.onair = onair
        self.preparation = preparation
        self.state = state
        self.heartbeats = heartbeats
        self._emit = emit
        self._on_battery = on_battery
        self._jumps = JumpDetector(clock)
        self._started_mono = clock.monotonic()   # this run of the station began (see PlanState.running_since)
        self.last_plan: planner.Plan | None = None
        self.refusals = ScheduleRefusals(store)
        self._was_trusted: bool | None = None
        self._steady_since = self._load_steady_since()
        self.loop_beat = time.monotonic()
        self.errors = 0

    def run(self, stopping: threading.Event, wake: threading.Event, ready: threading.Event) -> None:
        while not stopping.is_set():
            self.loop_beat = time.monotonic()
            self.heartbeats.beat("scheduler")
            wait_s = WAKE_CAP_S
            try:
                wait_s = self.step()
            except Exception as exc:  # log and carry on: the calendar must keep running
                self.errors += 1
                log.exception("scheduler step failed")
                with contextlib.suppress(Exception):
                    self.store.log_event("scheduler.error", repr(exc)[:500], level="error",
                                         repeat_key=type(exc).__name__)
                wait_s = 1.0
            ready.set()
            if stopping.is_set():
                return
            wake.wait(max(0.0, min(WAKE_CAP_S, wait_s)))
            wake.clear()

    def alive(self) -> bool:
        """The loop beats at least every WAKE_CAP_S."""
        return time.monotonic() - self.loop_beat < WAKE_CAP_S * 3

    def step(self) -> float:
        """One plan; returns how long to sleep before the next."""
        if self._refresh is not None:
            self._refresh()
        jump = self._jumps.check()
        if jump:
            self.store.log_event("clock.jump", f"wall clock stepped {jump:+.1f} s; re-planning",
                                 {"step_s": round(jump, 3)}, level="warning")
            self._emit({"type": "clock_jump", "step_s": round(jump, 3)})
        verdict = self.trust.check()
        if jump or (verdict.trusted and self._was_trusted is False):
            # What came due before now was seen only under a jumped or untrusted clock.
            self._mark_steady_since(self.clock.now())
        self._was_trusted = verdict.trusted
        relay_deadline = self.amplifiers.tick()
        now = self.clock.now() + timedelta(seconds=PLAN_AHEAD_S)
        rows = self._verified_rows()
        items = self._plannable_items(rows)
        slots, unreadable = self._planner_slots(rows)
        state = self._plan_state(now, verdict.trusted)
        result = planner.plan(now, items, slots, self.zone_rules, self.settings, state)
        if unreadable:
            result = dataclasses.replace(result, refused=result.refused + tuple(unreadable))
        self.last_plan = result
        self.refusals.record(result.refused, {i.id: i.version for i in items})
        self._apply(result, now)
        wait = (result.next_wakeup - self.clock.now()).total_seconds() - PLAN_AHEAD_S
        if relay_deadline is not None:
            wait = min(wait, relay_deadline - self.clock.monotonic())
        return wait

    def _rules(self) -> tuple[planner.Settings, tuple[planner.ZoneRule, ...]]:
        """The planner's settings and zone rules of the config in force now: derived again whenever
        the daemon's config changes (a window saved in the panel applies at the next plan)."""
        config = self._config()
        cached = self._rules_for
        if cached is None or cached[0] is not config:
            cached = (config, planner.settings_from_config(config),
                      tuple(planner.zone_rules_from_config(config)))
            self._rules_for = cached
        return cached[1], cached[2]

    @property
    def settings(self) -> planner.Settings:
        return self._rules()[0]

    @property
    def zone_rules(self) -> tuple[planner.ZoneRule, ...]:
        return self._rules()[1]

    # ------------------------------------------------------------------ inputs

    def _verified_rows(self) -> list[dict[str, Any]]:
        """The store's items, but only as central signed them: an altered row is refused, logged,
        reported and repaired (``appliance.sync.integrity``), never planned."""
        rows = []
        for row in self.store.list_items():
            if row["state"] == "rejected":
                continue
            try:
                self.preparation.verified(row)
            except Tampered as exc:
                self.preparation.report_tampered(row, exc)
                continue
            rows.append(row)
        return rows

    def _plannable_items(self, rows: list[dict[str, Any]]) -> list[planner.PlannableItem]:
        items = [self._to_plannable(row) for row in rows]
        items.extend(self.state.transient_items())
        return items

    def _to_plannable(self, row: dict[str, Any]) -> planner.PlannableItem:
        prepared = self.preparation.prepared_for(row)
        if row["kind"] == "stream":
            ready, duration = row["state"] == "ready", None
        else:
            ready = row["state"] == "ready" and prepared is not None
            duration = float(prepared.duration_s) if prepared is not None else estimate_duration(row, self._config())
        zones = tuple(row.get("zones") or ("*",))
        return planner.PlannableItem(
            id=row["id"], version=int(row["version"]), kind=row["kind"], priority=row["priority"],
            title=row.get("title") or "", zones=zones, valid_from=_opt_dt(row.get("valid_from")),
            valid_until=_opt_dt(row.get("valid_until")), revoked=bool(row.get("revoked")) or row["state"] == "revoked",
            ready=ready, duration_s=duration)

    def _planner_slots(self, rows: list[dict[str, Any]]) -> tuple[list[planner.Slot], list[planner.Refusal]]:
        """The slots to plan, and the central schedules that could not even be read as one (they
        are refused like the planner's refusals, not silently left out)."""
        slots: list[planner.Slot] = []
        unreadable: list[planner.Refusal] = []
        for row in rows:
            if isinstance(row.get("schedule"), dict) and row["state"] != "rejected":
                slot_id = f"{CENTRAL_SLOT_PREFIX}{row['id']}"
                try:
                    slots.append(planner.slot_from_schedule(row["id"], row["schedule"], slot_id=slot_id))
                except ScheduleError as exc:
                    unreadable.append(planner.Refusal(slot_id, row["id"], exc))
                except (CommuneRadioError, ValueError, TypeError, KeyError) as exc:
                    unreadable.append(planner.Refusal(slot_id, row["id"], ScheduleError(
                        f"Lịch của bản tin {row['id']} không đọc được: {str(exc)[:200]}",
                        f"The schedule of item {row['id']} cannot be read: {str(exc)[:200]}",
                        code="schedule_invalid.unreadable")))
        for slot in SlotRepository(self.store, self._config()).list():
            with contextlib.suppress(CommuneRadioError, ValueError):
                slots.append(to_planner_slot(slot))
        return slots, unreadable

    def _plan_state(self, now: datetime, trusted: bool) -> planner.PlanState:
        since = now - timedelta(seconds=self.settings.lookback_s + self.settings.max_delay_s)
        records: dict[str, planner.Record] = {}
        rows = self.store.query(
            "SELECT occurrence_key, outcome, actual_start, actual_end FROM play_log"
            " WHERE occurrence_key IS NOT NULL AND (scheduled_start IS NULL OR scheduled_start >= ?)"
            " ORDER BY occurrence_key, attempt", (iso_z(since),))
        for r in rows:
            outcome = "started" if r["outcome"] == "playing" else r["outcome"]
            records[r["occurrence_key"]] = planner.Record(outcome, _opt_dt(r["actual_start"]), _opt_dt(r["actual_end"]))
        for key in self.state.unrecorded_keys():
            records.setdefault(key, planner.Record("failed"))
        mono = self.clock.monotonic()
        real_now = self.clock.now()   # ``now`` is planned ahead; relay times are real
        relays_on = {name: real_now - timedelta(seconds=mono - info_mono)
                     for name, info_mono in self.amplifiers.on_since().items()}
        requests, interrupted, audio_ended_at = self.state.snapshot()
        return planner.PlanState(records=records, on_air=self.onair.on_air(), requests=requests,
                                 interrupted=interrupted, clock_trusted=trusted,
                                 relays_on_since=relays_on, audio_ended_at=audio_ended_at,
                                 running_since=real_now - timedelta(seconds=mono - self._started_mono),
                                 steady_clock_since=self._steady_since, on_battery=self._on_battery())

    def _load_steady_since(self) -> datetime | None:
        row = self.store.query_one("SELECT value FROM daemon_state WHERE key = ?", (_KEY_STEADY,))
        try:
            return parse_iso_z(row[0]) if row is not None else None
        except ValueError:
            return None

    def _mark_steady_since(self, moment: datetime) -> None:
        """Kept in the store: a restart after a jump must not log the leapt-over days either."""
        self._steady_since = moment
        with self.store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES (?, ?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                       (_KEY_STEADY, iso_z(moment), iso_z(moment)))

    # ------------------------------------------------------------------ carrying out the plan

    def _apply(self, result: planner.Plan, now: datetime) -> None:
        for skip in result.skip:
            occ = skip.occurrence
            item = self.store.get_item(occ.item_id) or {}
            transient = self.state.transient_text(occ.item_id)
            if transient is not None:
                item = {"title": transient[:60]}
            row = self.playlog.skip(play_start_of(occ, actor=self.state.actor_of(occ.key), title=item.get("title") or "",
                                                  text=transient), skip.reason.en, skip.reason.vi)
            self.state.forget_request(occ.key)
            if row is not None:
                self._emit({"type": "skipped", "item_id": occ.item_id, "key": occ.key, "reason": skip.reason.en,
                            "reason_vi": skip.reason.vi})
        if result.preempt is not None:
            session = self.onair.session
            if session is not None and session.occurrence.key == result.preempt.occurrence.key:
                if result.preempt.resume:
                    self.state.note_interrupted(planner.Interrupted(session.occurrence, now))
                self.onair.cancel_and_wait(session, result.preempt.reason.en)
        if result.start is not None:
            current = self.onair.session
            if current is not None and current.live:
                # The planner started something while we still show a session: it ends first.
                self.onair.wait_for_end(current)
            self.onair.launch(result.start)
        for rp in result.relays:
            if rp.on:
                self.amplifiers.acquire([rp.zone], "plan", rp.reason.en)
            else:
                self.amplifiers.release([rp.zone], "plan", rp.reason.en, immediate=True)
        for prep in result.prepare:
            self.preparation.request(prep.item_id)


def _opt_dt(value: str | None) -> datetime | None:
    return parse_iso_z(value) if value else None


def estimate_words(text: str, config: Config) -> float:
    """Rough spoken length of a text before it is synthesized (words / rate, plus chimes)."""
    words = max(1, len(text.split()))
    return round(words / config.tts.rate * 60 + (4.0 if config.audio.chime else 0.0), 1)


def estimate_duration(row: dict[str, Any], config: Config) -> float | None:
    if row["kind"] == "text":
        return estimate_words(row.get("text") or "", config)
    return None
