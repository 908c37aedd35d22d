"""The daemon: the only process that touches GPIO and audio.

Imperative shell around the pure planner (appliance/planner.py). The scheduler thread
gathers plain data (items, slots, play-log records, what is on air, relay states, clock
trust), calls ``planner.plan``, carries out the returned plan (skip, pre-empt, start,
relays, prepare) and sleeps until ``plan.next_wakeup`` on an Event with a short cap, so a
clock jump is noticed within seconds. New items (sync's ``on_change``), operator actions
and central commands set the Event and wake it at once.

Threads: scheduler, one on-air session at a time (warm-up → audio → log), audio
preparation (TTS ahead of the slot, never on the start-up path), sync, control socket.
Nothing a request, an item or the player does may kill the daemon: each failure is logged
and the loop carries on. Every exit path it can catch switches all relays off.

Order of durable writes for a play: the ``playing`` row is committed (fsync) just before
audio starts; at start-up rows still ``playing`` are marked interrupted (the occurrence is
then in the records and never plays twice).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from appliance import planner, procstats
from appliance import settings as operator_settings
from appliance.amplifiers import Amplifiers, default_pin_factory
from appliance.clock import Clock, ClockTrust, JumpDetector, SystemClock, iso_z, parse_iso_z
from appliance.config import Config
from appliance.control import ControlServer
from appliance.liveness import Heartbeats, debug_wedge_point, wedged
from appliance.playlog import AlreadyPlayed, PlayLog, PlayStart
from appliance.store import Store
from appliance.version import __version__
from protocol.durable import remove_stale_temps
from protocol.errors import CommuneRadioError, ValidationError

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]

WAKE_CAP_S = 5.0                # longest sleep: a clock jump is noticed within this
# The planner is asked about "now + PLAN_AHEAD_S", so a start is decided early enough to write
# the durable 'playing' row and open the player before the audio is due.
PLAN_AHEAD_S = 0.25
LEAD_MAX_S = 0.2                # never start audio earlier than this to absorb player latency
STREAM_RETRY_PAUSE_S = 2.0
STREAM_MIN_REMAINING_S = 3.0
PREPARE_RETRY_S = 60.0
PRUNE_EVERY_S = 24 * 3600.0     # prepared clips are pruned once a day
PREPARED_MAX_AGE_S = 7 * 86400.0
SESSION_JOIN_S = 8.0
PLAYER_START_TIMEOUT_S = 15.0   # a player that has not started audio by then is stopped
PLAYER_END_SLACK_S = 30.0       # beyond the player's own watchdog: the daemon's backstop
PLAYER_STOP_GRACE_S = 5.0       # a player that ignores stop this long is declared hung
# A busy thread silent for longer than this is wedged: the systemd watchdog is no longer fed.
LIVENESS_LIMITS_S = {"scheduler": WAKE_CAP_S * 3, "player": 15.0}


@dataclasses.dataclass
class _Session:
    """One occurrence on air (warm-up, then audio)."""

    occurrence: planner.Occurrence
    zones: tuple[str, ...]
    audio_at: datetime
    resume: bool
    started_at: datetime
    label: str
    actor: str
    text: str | None = None                      # emergency text to speak (no item)
    phase: str = "warmup"
    audio_started_at: datetime | None = None
    play_id: str | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    cancel_reason: str = ""
    cancel_outcome: str = "interrupted"
    thread: threading.Thread | None = None
    done: threading.Event = dataclasses.field(default_factory=threading.Event)

    @property
    def owner(self) -> str:
        return "play:" + self.occurrence.key


@dataclasses.dataclass(frozen=True)
class _Transient:
    """An emergency text or other request that is not an item in the store."""

    item: planner.PlannableItem
    text: str


class Daemon:
    def __init__(self, config: Config, *, clock: Clock | None = None, player: Any = None,
                 pin_factory: Any = None, preparer: Any = None, store: Store | None = None,
                 listener: Listener | None = None, sync: bool = True, timesync_flag: Path | None = None) -> None:
        self.config = config
        self._file_config = config
        self.clock: Clock = clock or SystemClock()
        self._listeners: list[Listener] = [listener] if listener else []
        self._player = player
        self._preparer = preparer
        self._pin_factory = pin_factory
        self._store = store
        self._own_store = store is None
        self._sync_enabled = sync
        self._timesync_flag = timesync_flag
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.RLock()
        self._session: _Session | None = None
        self._requests: list[planner.Request] = []
        self._request_actors: dict[str, str] = {}
        self._transients: dict[str, _Transient] = {}
        self._interrupted: list[planner.Interrupted] = []
        self._audio_ended_at: dict[str, datetime] = {}
        self._prepared: dict[tuple[str, int], Any] = {}
        self._voice_preparers: dict[tuple[str, int], Any] = {}
        self._prepare_failed: dict[tuple[str, int], float] = {}
        self._prepare_queue: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._prepare_pending: set[tuple[str, int]] = set()
        self._last_plan: planner.Plan | None = None
        self._lead_s = 0.02
        self._volume = config.audio.volume
        self._threads: list[threading.Thread] = []
        self._sync_now = threading.Event()
        self._started_mono: float | None = None
        self._ready_after_s: float | None = None
        self._loop_beat = time.monotonic()
        self._errors = 0
        self._player_hung = False
        self.heartbeats = Heartbeats()
        self.amplifiers: Amplifiers | None = None
        self.playlog: PlayLog | None = None
        self.trust: ClockTrust | None = None
        self.control: ControlServer | None = None
        self.syncer: Any = None
        self.reporter: Any = None  # appliance.report.Reporter (heartbeats, outbox, remote commands)

    # ------------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("at", iso_z(self.clock.now()))
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):
                listener(event)

    # ------------------------------------------------------------------ life cycle

    @property
    def store(self) -> Store:
        assert self._store is not None
        return self._store

    def start(self) -> None:
        """Bring everything up; returns once the daemon is ready (control socket listening)."""
        self._started_mono = time.monotonic()
        data = self.config.data_path
        data.mkdir(parents=True, exist_ok=True)
        if self._store is None:
            self._store = Store.open(self.config.db_path)
        self.config = operator_settings.effective_config(self._file_config, self._store)
        # Media keeps its .part- files: they are resumable downloads, verified before use.
        removed = remove_stale_temps(data, recursive=False) + sum(
            remove_stale_temps(d) for d in (self.config.capture_path, data / "tts-cache", data / "prepared"))
        self.amplifiers = Amplifiers(self.config.zones, store=self._store, clock=self.clock,
                                     pin_factory=self._pin_factory if self._pin_factory is not None
                                     else default_pin_factory(), listener=self._emit)
        self.amplifiers.all_off("start-up: all relays off", log_unchanged=True)
        self.playlog = PlayLog(self._store)
        recovered = self.playlog.recover("daemon restarted during playback (crash or power cut)")
        for row in recovered:
            self._emit({"type": "play_end", "play_id": row["id"], "item_id": row["item_id"],
                        "outcome": "interrupted", "reason": row["reason"]})
        trust_kwargs = {"timesync_flag": self._timesync_flag} if self._timesync_flag is not None else {}
        self.trust = ClockTrust(self._store, clock=self.clock, tolerance_s=self.config.central.clock_tolerance_s,
                                **trust_kwargs)
        self.trust.check()
        self._jumps = JumpDetector(self.clock)
        saved = self._store.query_one("SELECT value FROM daemon_state WHERE key = 'audio.volume'")
        if saved is not None and saved[0].isdigit():
            self._volume = min(100, int(saved[0]))
        if self._player is None:
            self._player = _default_player(self.config, self._volume)
        self._own_preparer = self._preparer is None
        if self._preparer is None:
            self._preparer = _default_preparer(self.config)
        self.control = ControlServer(self.config.socket_path, self.handle_request, zone_names=self.config.zone_names(),
                                     store=self._store, group=self.config.control.socket_group)
        self.control.start()
        self._spawn("scheduler", self._scheduler_loop)
        self._spawn("prepare", self._prepare_loop)
        if self._sync_enabled:
            self._setup_sync()
            # Reporting to central (issue 5): heartbeats, proof-of-play outbox, remote commands.
            from appliance.report import attach_reporter

            self.reporter = attach_reporter(self)
        self._ready.wait(10.0)
        self._ready_after_s = time.monotonic() - self._started_mono
        self._store.log_event("daemon.start", f"daemon {__version__} ready in {self._ready_after_s:.2f} s",
                              {"ready_s": round(self._ready_after_s, 3), "stale_temps_removed": removed,
                               "recovered_interrupted": len(recovered)})
        self._emit({"type": "ready", "ready_s": round(self._ready_after_s, 3),
                    "recovered_interrupted": [r["id"] for r in recovered]})

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready_after_s(self) -> float | None:
        return self._ready_after_s

    def stop(self, reason: str = "daemon stopping") -> None:
        """Stop playback, switch every relay off, stop threads. Safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        self._sync_now.set()
        with contextlib.suppress(Exception):
            if self.amplifiers is not None:
                self.amplifiers.all_off(reason)
        session = self._session
        if session is not None:
            self._cancel(session, reason, outcome="interrupted")
            session.done.wait(SESSION_JOIN_S)
        with contextlib.suppress(Exception):
            if self.amplifiers is not None:
                self.amplifiers.all_off(reason)
        self._prepare_queue.put(None)
        if self.reporter is not None:
            with contextlib.suppress(Exception):
                self.reporter.stop()
        if self.control is not None:
            self.control.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        with contextlib.suppress(Exception):
            if self._player is not None and hasattr(self._player, "close"):
                self._player.close()
        with contextlib.suppress(Exception):
            if self.syncer is not None:
                self.syncer.client.close()
        with contextlib.suppress(Exception):
            self.store.log_event("daemon.stop", reason)
        if self.amplifiers is not None:
            self.amplifiers.close()
        if self._own_store and self._store is not None:
            self._store.close()

    def emergency_off(self, reason: str) -> None:
        """Last-resort path (signal handler, crash): relays off, nothing else."""
        if self.amplifiers is not None:
            with contextlib.suppress(Exception):
                self.amplifiers.all_off(reason)

    def healthy(self) -> bool:
        """Scheduler loop alive (beats at least every WAKE_CAP_S), no thread dead, player not wedged."""
        alive = all(t.is_alive() for t in self._threads)
        return alive and time.monotonic() - self._loop_beat < WAKE_CAP_S * 3 and not self.wedged_threads()

    def wedged_threads(self) -> list[str]:
        """Busy threads that stopped beating (see appliance.liveness), and a player that hung."""
        found = wedged(self.heartbeats.snapshot(), time.monotonic(), LIVENESS_LIMITS_S)
        if self._player_hung and "player" not in found:
            found.append("player")
        return found

    def wake(self) -> None:
        self._wake.set()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # ------------------------------------------------------------------ sync

    def _setup_sync(self) -> None:
        central = self.config.central
        if not (central.token and central.public_key):
            self.store.log_event("sync.disabled", "central token or public key not configured: sync is off",
                                 level="warning")
            return
        try:
            from appliance.central_client import CentralClient
            from appliance.mediastore import MediaStore
            from appliance.sync import Syncer

            client = CentralClient.from_config(self.config)
            client.on_server_time = self.trust.note_central_time if self.trust else None
            self.syncer = Syncer(self.config, self.store, MediaStore(self.config.media_dir), client,
                                 on_change=self.wake, in_use=self._media_in_use)
        except CommuneRadioError as exc:
            self.store.log_event("sync.disabled", exc.en, exc.as_dict(), level="error")
            return
        self._spawn("sync", self._sync_loop)

    def _sync_loop(self) -> None:
        last_prune = float("-inf")
        while not self._stopping.is_set():
            try:
                self.syncer.sync_once()
            except Exception as exc:  # the sync must never take the daemon down
                with contextlib.suppress(Exception):
                    self.store.log_event("sync.crash", repr(exc), level="error")
            if time.monotonic() - last_prune > PRUNE_EVERY_S:
                last_prune = time.monotonic()
                self.prune_prepared()
            self.wake()
            self._sync_now.wait(self.config.sync.interval_s)
            self._sync_now.clear()

    def prune_prepared(self) -> int:
        """Delete prepared clips that no prepared item uses and nobody used for a week."""
        if not self._own_preparer or not hasattr(self._preparer, "prune"):
            return 0
        with self._lock:
            keep = {p.sha256 for p in self._prepared.values() if p is not None}
        try:
            removed = self._preparer.prune(keep, max_age_s=PREPARED_MAX_AGE_S)
        except OSError as exc:
            self.store.log_event("prepare.prune_failed", str(exc), level="warning")
            return 0
        if removed:
            self.store.log_event("prepare.pruned", f"{removed} unused prepared clips deleted", {"removed": removed})
        return removed

    def _media_in_use(self) -> set[str]:
        shas: set[str] = set()
        session = self._session
        if session is not None:
            item = self.store.get_item(session.occurrence.item_id)
            if item and item.get("media_sha256"):
                shas.add(item["media_sha256"])
        return shas

    # ------------------------------------------------------------------ scheduler

    def _scheduler_loop(self) -> None:
        while not self._stopping.is_set():
            self._loop_beat = time.monotonic()
            self.heartbeats.beat("scheduler")
            wait_s = WAKE_CAP_S
            try:
                wait_s = self._step()
            except Exception as exc:  # log and carry on: the calendar must keep running
                self._errors += 1
                log.exception("scheduler step failed")
                with contextlib.suppress(Exception):
                    self.store.log_event("scheduler.error", repr(exc)[:500], level="error")
                wait_s = 1.0
            self._ready.set()
            if self._stopping.is_set():
                return
            self._wake.wait(max(0.0, min(WAKE_CAP_S, wait_s)))
            self._wake.clear()

    def _step(self) -> float:
        assert self.amplifiers is not None and self.trust is not None
        step = self._jumps.check()
        if step:
            self.store.log_event("clock.jump", f"wall clock stepped {step:+.1f} s; re-planning",
                                 {"step_s": round(step, 3)}, level="warning")
            self._emit({"type": "clock_jump", "step_s": round(step, 3)})
        verdict = self.trust.check()
        relay_deadline = self.amplifiers.tick()
        now = self.clock.now() + timedelta(seconds=PLAN_AHEAD_S)
        items = self._plannable_items()
        slots = self._planner_slots()
        state = self._plan_state(now, verdict.trusted)
        result = planner.plan(now, items, slots, self._zone_rules, self._settings, state)
        self._last_plan = result
        self._apply(result, now)
        wait = (result.next_wakeup - self.clock.now()).total_seconds() - PLAN_AHEAD_S
        if relay_deadline is not None:
            wait = min(wait, relay_deadline - self.clock.monotonic())
        return wait

    @functools.cached_property
    def _settings(self) -> planner.Settings:
        return planner.settings_from_config(self.config)

    @functools.cached_property
    def _zone_rules(self) -> tuple[planner.ZoneRule, ...]:
        return tuple(planner.zone_rules_from_config(self.config))

    def _plannable_items(self) -> list[planner.PlannableItem]:
        items: list[planner.PlannableItem] = []
        for row in self.store.list_items():
            if row["state"] in ("rejected",):
                continue
            items.append(self._to_plannable(row))
        with self._lock:
            transients = dict(self._transients)
        items.extend(t.item for t in transients.values())
        return items

    def _to_plannable(self, row: dict[str, Any]) -> planner.PlannableItem:
        key = (row["id"], int(row["version"]))
        prepared = self._prepared.get(key)
        if row["kind"] == "stream":
            ready, duration = row["state"] == "ready", None
        else:
            ready = row["state"] == "ready" and prepared is not None
            duration = float(prepared.duration_s) if prepared is not None else _estimate_duration(row, self.config)
        zones = tuple(row.get("zones") or ("*",))
        return planner.PlannableItem(
            id=row["id"], version=int(row["version"]), kind=row["kind"], priority=row["priority"],
            title=row.get("title") or "", zones=zones, valid_from=_opt_dt(row.get("valid_from")),
            valid_until=_opt_dt(row.get("valid_until")), revoked=bool(row.get("revoked")) or row["state"] == "revoked",
            ready=ready, duration_s=duration)

    def _planner_slots(self) -> list[planner.Slot]:
        from appliance.slots import SlotRepository, to_planner_slot

        slots: list[planner.Slot] = []
        for row in self.store.list_items():
            if isinstance(row.get("schedule"), dict):
                with contextlib.suppress(CommuneRadioError, ValueError, TypeError, KeyError):
                    slots.append(planner.slot_from_schedule(row["id"], row["schedule"], slot_id=f"central:{row['id']}"))
        for slot in SlotRepository(self.store, self.config).list():
            with contextlib.suppress(CommuneRadioError, ValueError):
                slots.append(to_planner_slot(slot))
        return slots

    def _plan_state(self, now: datetime, trusted: bool) -> planner.PlanState:
        assert self.amplifiers is not None
        since = now - timedelta(seconds=self._settings.lookback_s + self._settings.max_delay_s)
        records: dict[str, planner.Record] = {}
        rows = self.store.query(
            "SELECT occurrence_key, outcome, actual_start, actual_end FROM play_log"
            " WHERE occurrence_key IS NOT NULL AND (scheduled_start IS NULL OR scheduled_start >= ?)"
            " ORDER BY occurrence_key, attempt", (iso_z(since),))
        for r in rows:
            outcome = "started" if r["outcome"] == "playing" else r["outcome"]
            records[r["occurrence_key"]] = planner.Record(outcome, _opt_dt(r["actual_start"]), _opt_dt(r["actual_end"]))
        mono = self.clock.monotonic()
        real_now = self.clock.now()   # ``now`` is planned ahead; relay times are real
        relays_on = {name: real_now - timedelta(seconds=mono - info_mono)
                     for name, info_mono in self.amplifiers.on_since().items()}
        session = self._session
        on_air = None
        if session is not None and not session.done.is_set() and session.phase != "ending":
            on_air = planner.OnAir(session.occurrence, session.zones, session.started_at,
                                   "playing" if session.phase == "playing" else "warmup", session.audio_started_at)
        with self._lock:
            return planner.PlanState(records=records, on_air=on_air, requests=tuple(self._requests),
                                     interrupted=tuple(self._interrupted), clock_trusted=trusted,
                                     relays_on_since=relays_on, audio_ended_at=dict(self._audio_ended_at))

    def _apply(self, result: planner.Plan, now: datetime) -> None:
        assert self.playlog is not None and self.amplifiers is not None
        for skip in result.skip:
            occ = skip.occurrence
            row = self.playlog.skip(self._play_start(occ, actor="scheduler"), skip.reason.en)
            self._forget_request(occ.key)
            if row is not None:
                self._emit({"type": "skipped", "item_id": occ.item_id, "key": occ.key, "reason": skip.reason.en,
                            "reason_vi": skip.reason.vi})
        if result.preempt is not None:
            session = self._session
            if session is not None and session.occurrence.key == result.preempt.occurrence.key:
                if result.preempt.resume:
                    with self._lock:
                        self._interrupted.append(planner.Interrupted(session.occurrence, now))
                self._cancel(session, result.preempt.reason.en, outcome="interrupted")
                session.done.wait(SESSION_JOIN_S)
        if result.start is not None:
            current = self._session
            if current is not None and not current.done.is_set():
                # The planner started something while we still show a session: it ends first.
                current.done.wait(SESSION_JOIN_S)
            self._launch(result.start, now)
        for rp in result.relays:
            if rp.on:
                self.amplifiers.acquire([rp.zone], "plan", rp.reason.en)
            else:
                self.amplifiers.release([rp.zone], "plan", rp.reason.en, immediate=True)
        for prep in result.prepare:
            self._request_prepare(prep.item_id)

    def _forget_request(self, key: str) -> None:
        with self._lock:
            self._requests = [r for r in self._requests if _request_key(r) != key]

    # ------------------------------------------------------------------ sessions

    def _launch(self, start: planner.Start, now: datetime) -> None:
        occ = start.occurrence
        with self._lock:
            self._requests = [r for r in self._requests if _request_key(r) != occ.key]
            if start.resume:
                self._interrupted = [i for i in self._interrupted if i.occurrence.key != occ.key]
            transient = self._transients.get(occ.item_id)
            actor = self._request_actors.pop(occ.key, "scheduler")
        item = self.store.get_item(occ.item_id)
        title = (item or {}).get("title") or (transient.item.title if transient else "") or occ.item_id
        assert self.amplifiers is not None
        real_now = self.clock.now()
        warmed_at = real_now + timedelta(seconds=self.amplifiers.warmup_s(list(start.zones)))
        # The planner looked PLAN_AHEAD_S ahead: a request plays as soon as its relays are warm,
        # a scheduled item at its time, and never before the warm-up is over.
        audio_at = max(warmed_at, start.audio_at) if occ.trigger == "schedule" else warmed_at
        session = _Session(occurrence=occ, zones=start.zones, audio_at=audio_at, resume=start.resume,
                           started_at=real_now, label=title, actor=actor,
                           text=transient.text if transient else None)
        # Relays first: the warm-up runs while the audio is resolved (TTS for an emergency text).
        self.amplifiers.acquire(list(start.zones), session.owner, f"warm-up: {title}")
        self._session = session
        self._emit({"type": "warmup", "item_id": occ.item_id, "title": title, "key": occ.key,
                    "zones": list(start.zones), "audio_at": iso_z(start.audio_at), "trigger": occ.trigger,
                    "reason": start.reason.en})
        session.thread = threading.Thread(target=self._run_session, args=(session,), name="on-air", daemon=True)
        session.thread.start()

    def _cancel(self, session: _Session, reason: str, *, outcome: str) -> None:
        session.cancel_reason = reason
        session.cancel_outcome = outcome
        session.cancel.set()
        if session.phase == "playing":
            with contextlib.suppress(Exception):
                self._player.stop(session.cancel_reason or "stop")

    def _run_session(self, session: _Session) -> None:
        occ = session.occurrence
        try:
            self._play_session(session)
        except Exception as exc:  # a failing player or bad media never kills the daemon
            self._errors += 1
            log.exception("session failed")
            reason = f"{type(exc).__name__}: {exc}"
            if session.play_id is not None and self.playlog is not None:
                with contextlib.suppress(Exception):
                    self.playlog.finish(session.play_id, "failed", reason[:500])
            with contextlib.suppress(Exception):
                self.store.log_event("play.error", reason[:500], {"item_id": occ.item_id, "key": occ.key},
                                     level="error")
            self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "outcome": "failed",
                        "reason": reason})
        finally:
            ended = self.clock.now()
            with self._lock:
                for zone in session.zones:
                    self._audio_ended_at[zone] = ended
                self._transients.pop(occ.item_id, None)
            if self.amplifiers is not None:
                self.amplifiers.release(list(session.zones), session.owner, "playback ended", immediate=True)
            self.heartbeats.idle("player")
            session.done.set()
            if self._session is session:
                self._session = None
            self.wake()

    def _play_session(self, session: _Session) -> None:
        assert self.playlog is not None
        occ = session.occurrence
        source, duration, is_stream = self._resolve_source(session)
        if session.cancel.is_set():
            self._log_not_started(session)
            return
        attempt = 1
        if session.resume:
            attempt = 1 + max((r["attempt"] for r in self.playlog.attempts(occ.key)), default=0)
        try:
            # Durable BEFORE audio: a crash from here on leaves a row that restart marks interrupted.
            session.play_id = self.playlog.begin(self._play_start(occ, actor=session.actor, attempt=attempt,
                                                                   zones=session.zones))
        except AlreadyPlayed as exc:
            self.store.log_event("play.refused", exc.en, {"key": occ.key}, level="warning")
            return
        # Wait out the warm-up; audio is requested ``lead`` early to absorb the player's start latency.
        if self._wait_until(session.audio_at, lead=self._lead_s, cancel=session.cancel):
            reason = f"during warm-up: {session.cancel_reason}"
            self.playlog.finish(session.play_id, session.cancel_outcome, reason, played_s=0.0)
            self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "play_id": session.play_id,
                        "outcome": session.cancel_outcome, "reason": reason})
            return
        session.phase = "playing"
        self._emit({"type": "play_start", "item_id": occ.item_id, "title": session.label, "key": occ.key,
                    "play_id": session.play_id, "zones": list(session.zones), "trigger": occ.trigger,
                    "scheduled_at": iso_z(occ.scheduled_at)})
        if is_stream:
            outcome, reason, played = self._relay_stream(session, str(source), duration)
        else:
            outcome, reason, played = self._play_once(session, source, duration)
        # Audio is over: the planner may start the next item while this one is being logged.
        session.phase = "ending"
        self.wake()
        row = self.playlog.finish(session.play_id, outcome, reason, played_s=played,
                                  actual_start=iso_z(session.audio_started_at) if session.audio_started_at else None)
        self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "play_id": session.play_id,
                    "outcome": outcome, "reason": reason, "played_s": played,
                    "actual_start": row.get("actual_start"), "capture": self._last_capture})

    _last_capture: str | None = None

    def _play_once(self, session: _Session, source: Any, duration: float | None) -> tuple[str, str, float | None]:
        playback = self._player.play(source, expected_duration_s=duration, label=session.label)
        return self._follow(session, playback, expected_s=duration)

    def _follow(self, session: _Session, playback: Any, *, expected_s: float | None) -> tuple[str, str, float | None]:
        """Wait for a playback to end (or be cancelled); map its result to a play-log outcome.

        The player has its own watchdog; this is the backstop for a player that hangs inside
        libVLC: past a deadline it is stopped, and if it does not answer the daemon declares the
        player hung, logs the play as failed and stops feeding the systemd watchdog (a restart
        is the only cure for a wedged libVLC, and relays go off on the way).
        """
        requested = time.monotonic()
        limit_s = PLAYER_START_TIMEOUT_S + (expected_s or 0.0) + self.config.audio.watchdog_margin_s \
            + self.config.audio.stall_timeout_s + PLAYER_END_SLACK_S
        deadline = requested + limit_s
        self.heartbeats.beat("player")
        debug_wedge_point("player")
        while not playback.started.is_set() and not playback.done.is_set():
            self.heartbeats.beat("player")
            if session.cancel.is_set() or time.monotonic() > requested + PLAYER_START_TIMEOUT_S:
                break
            playback.started.wait(0.05)
        stop_sent = not playback.started.is_set() and not playback.done.is_set()
        if stop_sent:
            with contextlib.suppress(Exception):
                self._player.stop(session.cancel_reason or "stop")
            deadline = min(deadline, time.monotonic() + PLAYER_STOP_GRACE_S)
        if playback.started.is_set():
            started_mono = getattr(playback, "started_monotonic", None) or time.monotonic()
            latency = started_mono - getattr(playback, "requested_monotonic", requested)
            # Our clock's view of when audio began (the daemon's clock may be offset in tests).
            session.audio_started_at = self.clock.now() - timedelta(seconds=time.monotonic() - started_mono)
            self._lead_s = min(LEAD_MAX_S, max(0.0, 0.7 * self._lead_s + 0.3 * latency))
        while True:
            self.heartbeats.beat("player")
            result = playback.wait(0.2)
            if result is not None:
                break
            if (session.cancel.is_set() or time.monotonic() > deadline) and not stop_sent:
                stop_sent = True
                deadline = min(deadline, time.monotonic() + PLAYER_STOP_GRACE_S)
                with contextlib.suppress(Exception):
                    self._player.stop(session.cancel_reason or "stop")
            elif stop_sent and time.monotonic() > deadline:
                self._player_hung = True
                message = f"player hung: no answer {limit_s:.0f} s after the request, nor to stop"
                log.error(message)
                with contextlib.suppress(Exception):
                    self.store.log_event("player.hung", message, {"item_id": session.occurrence.item_id},
                                         level="error")
                return "failed", message, None
        capture = getattr(result, "capture_path", None)
        self._last_capture = str(capture) if capture else None
        if session.cancel.is_set() and result.outcome == "stopped":
            return session.cancel_outcome, session.cancel_reason, result.played_s
        mapping = {"completed": "completed", "stopped": "interrupted", "error": "failed", "stalled": "failed",
                   "overrun": "failed"}
        outcome = mapping.get(result.outcome, "failed")
        reason = "" if outcome == "completed" else f"{result.outcome}: {result.error or ''}".strip(": ")
        return outcome, reason, result.played_s

    def _relay_stream(self, session: _Session, url: str, duration: float | None) -> tuple[str, str, float | None]:
        """Relay a live stream for the slot's duration; a failure or stall is retried within the slot."""
        total = float(duration or 0)
        if total <= 0:
            return "failed", "stream slot without a duration", 0.0
        deadline = time.monotonic() + total
        played, attempts, reasons = 0.0, 0, []
        reached_end = False
        while not session.cancel.is_set():
            remaining = deadline - time.monotonic()
            if remaining < STREAM_MIN_REMAINING_S and attempts:
                break
            attempts += 1
            playback = self._player.play(url, expected_duration_s=None, max_duration_s=remaining,
                                         label=session.label)
            outcome, reason, got = self._follow(session, playback, expected_s=remaining)
            played += got or 0.0
            if outcome == "completed":
                reached_end = True
                break
            reasons.append(f"attempt {attempts}: {reason}")
            if session.cancel.is_set() or outcome == "interrupted":
                return outcome, "; ".join(reasons) or session.cancel_reason, played
            session.cancel.wait(STREAM_RETRY_PAUSE_S)
        if session.cancel.is_set():
            return session.cancel_outcome, session.cancel_reason, played
        if reached_end:
            # Relayed to the end of the slot (earlier failed attempts stay in the reason).
            return "completed", "; ".join(reasons), played
        return "failed", "; ".join(reasons) or "stream ended early", played

    def _log_not_started(self, session: _Session) -> None:
        """Cancelled during warm-up: log the occurrence interrupted (emergency) so it is accounted for."""
        assert self.playlog is not None
        occ = session.occurrence
        if occ.trigger != "schedule" and session.cancel_outcome != "interrupted":
            return
        attempt = 1 + max((r["attempt"] for r in self.playlog.attempts(occ.key)), default=0) if occ.key else 1
        try:
            play_id = self.playlog.begin(self._play_start(occ, actor=session.actor, attempt=attempt,
                                                          zones=session.zones))
        except AlreadyPlayed:
            return
        self.playlog.finish(play_id, "interrupted", f"during warm-up: {session.cancel_reason}", played_s=0.0)
        self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "play_id": play_id,
                    "outcome": "interrupted", "reason": f"during warm-up: {session.cancel_reason}"})

    def _wait_until(self, moment: datetime, *, lead: float, cancel: threading.Event) -> bool:
        """Sleep until ``moment - lead`` on the monotonic clock; True if cancelled first."""
        target = self.clock.monotonic() + (moment - self.clock.now()).total_seconds() - lead
        while True:
            self.heartbeats.beat("player")
            remaining = target - self.clock.monotonic()
            if remaining <= 0:
                return cancel.is_set()
            if cancel.wait(min(remaining, 0.5)):
                return True

    def _resolve_source(self, session: _Session) -> tuple[Any, float | None, bool]:
        occ = session.occurrence
        if session.text is not None:
            prepared = self._preparer.prepare_text(session.text)
            return prepared.path, float(prepared.duration_s), False
        item = self.store.get_item(occ.item_id)
        if item is None:
            raise ValidationError(f"Không có bản tin {occ.item_id}.", f"No item {occ.item_id}.")
        if item["kind"] == "stream":
            return item["media_url"], occ.duration_s, True
        prepared = self._prepare_item(item)
        return prepared.path, float(prepared.duration_s), False

    # ------------------------------------------------------------------ preparation

    def _prepare_item(self, item: dict[str, Any]) -> Any:
        key = (item["id"], int(item["version"]))
        prepared = self._prepared.get(key)
        if prepared is not None and Path(prepared.path).exists():
            return prepared
        if item["kind"] == "text":
            prepared = self._preparer_for(item).prepare_text(item["text"])
        elif item["kind"] == "audio":
            from appliance.mediastore import MediaStore

            prepared = self._preparer.prepare_file(MediaStore(self.config.media_dir).path_for(item["media_sha256"]))
        else:
            raise ValidationError(f"Không chuẩn bị được loại '{item['kind']}'.", f"Cannot prepare kind '{item['kind']}'.")
        self._prepared[key] = prepared
        return prepared

    def _preparer_for(self, item: dict[str, Any]) -> Any:
        """The preparer for a text item: a local announcement may carry the operator's voice and rate."""
        document = item.get("document")
        chosen = document.get("tts") if item.get("source") == "local" and isinstance(document, dict) else None
        if not self._own_preparer or not isinstance(chosen, dict):
            return self._preparer
        try:
            tts = dataclasses.replace(self.config.tts, voice=str(chosen.get("voice", self.config.tts.voice)),
                                      rate=int(chosen.get("rate", self.config.tts.rate)))
            wanted = operator_settings.apply(self.config, {"tts.voice": tts.voice, "tts.rate": tts.rate})
        except (CommuneRadioError, TypeError, ValueError):
            return self._preparer  # an unusable choice falls back to the station's voice
        if wanted.tts == self.config.tts:
            return self._preparer
        key = (wanted.tts.voice, wanted.tts.rate)
        with self._lock:
            if key not in self._voice_preparers:
                self._voice_preparers[key] = _default_preparer(wanted)
            return self._voice_preparers[key]

    def _request_prepare(self, item_id: str) -> None:
        item = self.store.get_item(item_id)
        if item is None or item["kind"] == "stream" or item["state"] != "ready":
            return
        key = (item["id"], int(item["version"]))
        if key in self._prepared or key in self._prepare_pending:
            return
        failed_at = self._prepare_failed.get(key)
        if failed_at is not None and time.monotonic() - failed_at < PREPARE_RETRY_S:
            return
        self._prepare_pending.add(key)
        self._prepare_queue.put(key)

    def _prepare_loop(self) -> None:
        while True:
            key = self._prepare_queue.get()
            if key is None or self._stopping.is_set():
                return
            try:
                item = self.store.get_item(key[0])
                if item is not None and int(item["version"]) == key[1]:
                    self._prepare_item(item)
                    self._emit({"type": "prepared", "item_id": key[0], "version": key[1]})
            except Exception as exc:  # a bad item must not stop the preparation of others
                self._prepare_failed[key] = time.monotonic()
                message = exc.en if isinstance(exc, CommuneRadioError) else repr(exc)
                with contextlib.suppress(Exception):
                    self.store.log_event("prepare.error", f"item {key[0]}: {message}"[:500],
                                         {"item_id": key[0], "version": key[1]}, level="error")
            finally:
                self._prepare_pending.discard(key)
            self.wake()

    # ------------------------------------------------------------------ actions

    def reload_settings(self, *, actor: str) -> None:
        """Re-apply the operator's panel settings over the configuration file.

        Broadcast windows, sync interval and volume apply at once (they are read on every
        use); a new TTS voice or rate re-prepares upcoming text items with it.
        """
        previous = self.config
        self.config = operator_settings.effective_config(self._file_config, self.store)
        if (previous.tts != self.config.tts or previous.audio.chime != self.config.audio.chime) \
                and self._own_preparer:
            with self._lock:
                self._preparer = _default_preparer(self.config)
                self._voice_preparers.clear()
                self._prepared.clear()
                self._prepare_failed.clear()
        if previous.audio.volume != self.config.audio.volume:
            self.set_volume(self.config.audio.volume, actor=actor)
        self.store.log_event("daemon.reload", f"settings reloaded by {actor}", {"actor": actor})

    def handle_request(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        """The control channel's handler (params already validated by appliance.control)."""
        if action == "status":
            return self.status()
        if action == "play":
            return self.play_now(params["item_id"], zones=params.get("zones"), actor=actor)
        if action == "say":
            return self.say(params["text"], zones=params.get("zones"), actor=actor)
        if action == "emergency":
            return self.emergency(text=params.get("text"), item_id=params.get("item_id"), zones=params.get("zones"),
                                  actor=actor)
        if action == "stop":
            return self.stop_playback(actor=actor)
        if action == "set_volume":
            return self.set_volume(params["volume"], actor=actor)
        if action == "reload":
            self.reload_settings(actor=actor)
            self.wake()
            return _message("Đã nạp lại cấu hình và lịch phát.", "Settings and schedule reloaded.")
        if action == "schedule_changed":
            self.wake()
            return _message("Đã nạp lại lịch phát.", "Schedule reloaded.")
        if action == "sync_now":
            if self.syncer is None:
                raise ValidationError("Chưa cấu hình đồng bộ với trung tâm.", "Sync with central is not configured.",
                                      code="invalid_input.sync_off")
            self._sync_now.set()
            return _message("Đang đồng bộ.", "Sync started.")
        if action == "relay_test":
            return self.relay_test(params["zone"], params["seconds"], actor=actor)
        raise ValidationError(f"Lệnh không được hỗ trợ: {action}.", f"Unsupported action: {action}.")

    def _request(self, item_id: str, trigger: str, zones: list[str] | None, actor: str) -> planner.Request:
        request = planner.Request(request_id=uuid.uuid4().hex, item_id=item_id, trigger=trigger,  # type: ignore[arg-type]
                                  requested_at=self.clock.now(), zones=tuple(zones) if zones else None)
        with self._lock:
            self._requests.append(request)
            self._request_actors[_request_key(request)] = actor
        self._wake.set()
        return request

    def play_now(self, item_id: str, *, zones: list[str] | None = None, actor: str = "cli:root",
                 trigger: str = "operator") -> dict[str, Any]:
        item = self.store.get_item(item_id)
        now_iso = iso_z(self.clock.now())
        if item is None:
            raise ValidationError(f"Không có bản tin '{item_id}'.", f"No item '{item_id}'.", code="invalid_input.no_item")
        from appliance.store import item_is_playable

        if not item_is_playable(item, now_iso):
            raise ValidationError(
                f"Bản tin '{item_id}' chưa sẵn sàng, đã hết hạn hoặc đã bị thu hồi ({item['state']}).",
                f"Item '{item_id}' is not ready, expired or revoked ({item['state']}).", code="invalid_input.not_playable")
        request = self._request(item_id, trigger, zones, actor)
        return _message(f"Đã yêu cầu phát '{item.get('title') or item_id}'.",
                        f"Playing '{item.get('title') or item_id}' requested.") | {"request_id": request.request_id}

    def _transient_text(self, text: str, *, priority: str, prefix: str, zones: list[str] | None) -> str:
        """Register operator text to speak once (not stored as an item); returns its id."""
        item_id = prefix + uuid.uuid4().hex[:12]
        transient = _Transient(planner.PlannableItem(
            id=item_id, version=1, kind="text", priority=priority, title=text[:60],  # type: ignore[arg-type]
            zones=tuple(zones or ("*",)), ready=True, duration_s=_estimate_words(text, self.config)), text)
        with self._lock:
            self._transients[item_id] = transient
        return item_id

    def say(self, text: str, *, zones: list[str] | None = None, actor: str = "cli:root") -> dict[str, Any]:
        """Speak operator text now as a play-now request (broadcast windows apply, unlike emergency)."""
        item_id = self._transient_text(text, priority="normal", prefix="say-", zones=zones)
        request = self._request(item_id, "operator", zones, actor)
        return _message("Đã yêu cầu đọc văn bản.", "Speaking the text was requested.") | {
            "request_id": request.request_id, "item_id": item_id}

    def emergency(self, *, text: str | None = None, item_id: str | None = None, zones: list[str] | None = None,
                  actor: str = "cli:root") -> dict[str, Any]:
        if text is not None:
            item_id = self._transient_text(text, priority="emergency", prefix="emergency-", zones=zones)
        else:
            assert item_id is not None
            item = self.store.get_item(item_id)
            if item is None or item.get("revoked") or item["state"] != "ready":
                raise ValidationError(f"Bản tin '{item_id}' không phát được.", f"Item '{item_id}' cannot be played.",
                                      code="invalid_input.not_playable")
        request = self._request(item_id, "emergency", zones, actor)
        return _message("Đã phát lệnh khẩn cấp.", "Emergency broadcast started.") | {
            "request_id": request.request_id, "item_id": item_id}

    def stop_playback(self, *, actor: str) -> dict[str, Any]:
        session = self._session
        with self._lock:
            dropped = len(self._requests)
            self._requests = []
        if session is None:
            return _message("Không có gì đang phát.", "Nothing is playing.") | {"dropped_requests": dropped}
        self._cancel(session, f"stopped by {actor}", outcome="interrupted")
        session.done.wait(SESSION_JOIN_S)
        return _message(f"Đã dừng '{session.label}'.", f"Stopped '{session.label}'.") | {"dropped_requests": dropped}

    def set_volume(self, volume: int, *, actor: str) -> dict[str, Any]:
        with contextlib.suppress(AttributeError):
            self._player.set_volume(volume)
        self._volume = volume
        with self.store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES ('audio.volume', ?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                       (str(volume), iso_z(self.clock.now())))
        return _message(f"Âm lượng: {volume}.", f"Volume: {volume}.") | {"volume": volume}

    def relay_test(self, zone: str, seconds: float, *, actor: str) -> dict[str, Any]:
        assert self.amplifiers is not None
        owner = f"test:{actor}"
        self.amplifiers.acquire([zone], owner, f"relay test by {actor}")
        timer = threading.Timer(seconds, lambda: self.amplifiers and self.amplifiers.release(
            [zone], owner, "relay test over", immediate=True))
        timer.daemon = True
        timer.start()
        return _message(f"Bật thử vùng {zone} trong {seconds:.0f} giây.", f"Testing zone {zone} for {seconds:.0f} s.")

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        assert self.amplifiers is not None and self.trust is not None and self.playlog is not None
        session = self._session
        on_air = None
        if session is not None and not session.done.is_set():
            on_air = {"item_id": session.occurrence.item_id, "title": session.label, "key": session.occurrence.key,
                      "zones": list(session.zones), "trigger": session.occurrence.trigger, "phase": session.phase,
                      "play_id": session.play_id, "started_at": iso_z(session.started_at),
                      "audio_at": iso_z(session.audio_at)}
        plan = self._last_plan
        upcoming: list[dict[str, Any]] = []
        if plan is not None:
            for waiting in plan.waiting[:20]:
                occ = waiting.occurrence
                item = self.store.get_item(occ.item_id) or {}
                upcoming.append({"item_id": occ.item_id, "title": item.get("title", ""), "key": occ.key,
                                 "start": iso_z(occ.scheduled_at), "zones": list(occ.zones),
                                 "priority": occ.priority, "reason": {"vi": waiting.reason.vi,
                                                                      "en": waiting.reason.en}})
        sync = self.store.sync_state()
        errors = [{"at": e["at"], "kind": e["kind"], "message": e["message"]}
                  for e in self.store.recent_events(10, level="error")]
        items = self.store.query("SELECT state, COUNT(*) FROM items GROUP BY state")
        return {
            "device_id": self.config.device.id,
            "version": __version__,
            "uptime_s": round(time.monotonic() - (self._started_mono or time.monotonic()), 1),
            "ready_s": self._ready_after_s,
            "on_air": on_air,
            "next": upcoming,
            "held": ({"vi": plan.held.vi, "en": plan.held.en} if plan is not None and plan.held else None),
            "relays": self.amplifiers.status(),
            "clock": self.trust.status(),
            "last_sync": {k: sync.get(k) for k in ("last_attempt_at", "last_success_at", "last_error")},
            "sync_enabled": self.syncer is not None,
            "volume": self._volume,
            "counts": {"items_" + r[0]: int(r[1]) for r in items} | {
                "plays_" + k: v for k, v in self.playlog.counts().items()} | {
                "rejections": sum(self.store.rejection_counts().values()), "errors": self._errors},
            "recent_errors": errors,
            "refused_slots": [{"slot_id": r.slot_id, "item_id": r.item_id, **r.error.as_dict()}
                              for r in (plan.refused if plan is not None else ())],
            "healthy": self.healthy(),
            "liveness": {"ages_s": self.heartbeats.ages(), "wedged": self.wedged_threads()},
            "process": procstats.snapshot(),
        }

    # ------------------------------------------------------------------ helpers

    def _play_start(self, occ: planner.Occurrence, *, actor: str, attempt: int = 1,
                    zones: tuple[str, ...] | None = None) -> PlayStart:
        scheduled = occ.trigger == "schedule"
        return PlayStart(item_id=occ.item_id, item_version=occ.item_version, zones=list(zones or occ.zones),
                         trigger=occ.trigger, occurrence_key=occ.key if scheduled or occ.key else None,
                         attempt=attempt, slot_id=occ.slot_id or None, scheduled_start=iso_z(occ.scheduled_at),
                         actor=actor)


# --------------------------------------------------------------------------- helpers


def _request_key(request: planner.Request) -> str:
    return f"{request.item_id}@request:{request.request_id}"


def _opt_dt(value: str | None) -> datetime | None:
    return parse_iso_z(value) if value else None


def _message(vi: str, en: str) -> dict[str, Any]:
    return {"message": {"vi": vi, "en": en}}


def _estimate_words(text: str, config: Config) -> float:
    """Rough spoken length of a text before it is synthesized (words / rate, plus chimes)."""
    words = max(1, len(text.split()))
    return round(words / config.tts.rate * 60 + (4.0 if config.audio.chime else 0.0), 1)


def _estimate_duration(row: dict[str, Any], config: Config) -> float | None:
    if row["kind"] == "text":
        return _estimate_words(row.get("text") or "", config)
    return None


def _default_player(config: Config, volume: int) -> Any:
    from audio.playback import Player, detect_output

    output = config.audio.output
    if output == "auto":
        output = detect_output()
    return Player(output, config.capture_path if output == "capture" else None, volume,
                  watchdog_margin_s=config.audio.watchdog_margin_s, stall_timeout_s=config.audio.stall_timeout_s)


def _default_preparer(config: Config) -> Any:
    from audio.prepare import Preparer

    return Preparer(config)
