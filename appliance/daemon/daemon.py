"""The daemon: the only process that touches GPIO and audio. It wires the parts and supervises them.

Parts (each in its own module of this package):
- ``scheduler``: gathers plain data, calls the pure planner, carries out the plan;
- ``onair``: the session on air (warm-up, audio, pre-emption, play-log outcome), with
  ``stream_relay`` for live relays;
- ``preparation``: TTS and loudness ahead of air time, one worker thread;
- ``actions``: the operator façade the control socket and central's commands call;
- ``status``: the status report; ``broadcast_state``: requests and sessions between plans.

Threads: scheduler, one on-air session at a time, preparation, sync, reporter, control
socket. Nothing a request, an item or the player does may kill the daemon: each failure is
logged and the loop carries on. Every exit path it can catch switches all relays off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.broadcast.amplifiers import Amplifiers, default_pin_factory
from appliance.broadcast.playlog import PlayLog
from appliance.control import ControlServer
from appliance.daemon.actions import OperatorActions
from appliance.daemon.broadcast_state import BroadcastState
from appliance.daemon.housekeeping import prune_captures
from appliance.daemon.liveness import Heartbeats, wedged
from appliance.daemon.onair import OnAir
from appliance.daemon.power import PowerWatcher
from appliance.daemon.preparation import PreparationQueue
from appliance.daemon.problems import Problems
from appliance.daemon.scheduler import WAKE_CAP_S, Scheduler
from appliance.daemon.status import status_report
from appliance.state import settings as operator_settings
from appliance.state.config import Config
from appliance.state.recovery import Recovery, check_database, last_recovery, open_checked
from appliance.state.store import Store
from appliance.sync.integrity import SignedItems
from appliance.system.clock import Clock, ClockTrust, SystemClock, iso_z
from appliance.version import __version__
from protocol.durable import remove_stale_temps
from protocol.errors import CommuneRadioError

Listener = Callable[[dict[str, Any]], None]
log = logging.getLogger(__name__)

PRUNE_EVERY_S = 24 * 3600.0     # prepared clips and old captures are pruned once a day
# A busy thread silent for longer than this is wedged: the systemd watchdog is no longer fed.
LIVENESS_LIMITS_S = {"scheduler": WAKE_CAP_S * 3, "player": 15.0}


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
        self._threads: list[threading.Thread] = []
        self._sync_now = threading.Event()
        self._housekept: float | None = None
        self._settings_lock = threading.Lock()
        self._settings_version = ""
        self.settings_sources: list[dict[str, Any]] = []   # effective panel-editable settings, with sources
        # Set when the daemon must be restarted (a database damaged while running): ``run`` exits 75.
        self.restart_requested = threading.Event()
        self.started_monotonic: float | None = None
        self._ready_after_s: float | None = None
        self.heartbeats = Heartbeats()
        self.problems = Problems()
        self.state = BroadcastState()
        self.amplifiers: Amplifiers | None = None
        self.playlog: PlayLog | None = None
        self.trust: ClockTrust | None = None
        self.control: ControlServer | None = None
        self.preparation: PreparationQueue | None = None
        self.onair: OnAir | None = None
        self.scheduler: Scheduler | None = None
        self.actions: OperatorActions | None = None
        self.syncer: Any = None
        self.recovery: Recovery | None = None   # set when this start found the database damaged
        self.reporter: Any = None  # appliance.report.reporter.Reporter (heartbeats, outbox, remote commands)
        self.power: PowerWatcher | None = None   # mains-sense input and the firmware's power flags

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

    def current_config(self) -> Config:
        return self.config

    def start(self) -> None:
        """Bring everything up; returns once the daemon is ready (control socket listening)."""
        self.started_monotonic = time.monotonic()
        data = self.config.data_path
        data.mkdir(parents=True, exist_ok=True)
        if self._store is None:
            # Checked first: a damaged card gives a fresh store and a clear account, never a crash loop.
            self._store, self.recovery = open_checked(self.config.db_path)
            if self.recovery is not None:
                log.error("%s", self.recovery.vi)
                log.error("%s", self.recovery.en)
                self._emit({"type": "store_recovered", **self.recovery.as_dict()})
        store = self._store
        recovered = last_recovery(store)
        if recovered is not None:
            self.problems.raise_("store.recovered", recovered["vi"], recovered["en"], at=recovered["at"])
        self._settings_version = operator_settings.version(store)
        self.config = operator_settings.effective_config(self._file_config, store)
        self.settings_sources = operator_settings.sources(self._file_config, store)
        # Media keeps its .part- files: they are resumable downloads, verified before use.
        removed = remove_stale_temps(data, recursive=False) + sum(
            remove_stale_temps(d) for d in (self.config.capture_path, data / "tts-cache", data / "prepared"))
        pin_factory = self._pin_factory if self._pin_factory is not None else default_pin_factory()
        self.amplifiers = Amplifiers(self.config.zones, store=store, clock=self.clock,
                                     pin_factory=pin_factory, listener=self._emit)
        self.amplifiers.all_off("start-up: all relays off", log_unchanged=True)
        # Read once before the first plan, so a start on battery plans with the battery policy.
        self.power = PowerWatcher(self.config.power, store=store, clock=self.clock, problems=self.problems,
                                  emit=self._emit, wake=self.wake, pin_factory=pin_factory)
        self.power.open()
        with contextlib.suppress(Exception):
            self.power.poll()
        self.playlog = PlayLog(store)
        recovered = self.playlog.recover("daemon restarted during playback (crash or power cut)")
        for row in recovered:
            self._emit({"type": "play_end", "play_id": row["id"], "item_id": row["item_id"],
                        "outcome": "interrupted", "reason": row["reason"]})
        trust_kwargs = {"timesync_flag": self._timesync_flag} if self._timesync_flag is not None else {}
        self.trust = ClockTrust(store, clock=self.clock, tolerance_s=self.config.central.clock_tolerance_s,
                                **trust_kwargs)
        self.trust.check()
        volume = self.config.audio.volume
        saved = store.query_one("SELECT value FROM daemon_state WHERE key = 'audio.volume'")
        if saved is not None and saved[0].isdigit():
            volume = min(100, int(saved[0]))
        if self._player is None:
            self._player = _default_player(self.config, volume)
        self.preparation = PreparationQueue(store, self.current_config, self._preparer, self._emit, self.wake,
                                            signed=SignedItems(self.config))
        self.onair = OnAir(store=store, clock=self.clock, amplifiers=self.amplifiers, playlog=self.playlog,
                           player=self._player, preparation=self.preparation, state=self.state,
                           heartbeats=self.heartbeats, config=self.current_config, emit=self._emit, wake=self.wake,
                           problems=self.problems)
        self.scheduler = Scheduler(store=store, clock=self.clock, config=self.current_config,
                                   amplifiers=self.amplifiers, trust=self.trust, playlog=self.playlog,
                                   onair=self.onair, preparation=self.preparation, state=self.state,
                                   heartbeats=self.heartbeats, emit=self._emit, on_battery=self.power.on_battery,
                                   refresh=self.refresh_settings)
        self.actions = OperatorActions(store=store, clock=self.clock, config=self.current_config, state=self.state,
                                       onair=self.onair, amplifiers=self.amplifiers, player=self._player,
                                       volume=volume, wake=self.wake, status=self.status,
                                       reload=lambda actor: self.reload_settings(actor=actor),
                                       sync_now=self._request_sync)
        replayed = self.actions.replay_pending_emergencies()
        self.control = ControlServer(self.config.socket_path, self.handle_request, zone_names=self.config.zone_names(),
                                     store=store, group=self.config.control.socket_group)
        self.control.start()
        self._spawn("scheduler", lambda: self.scheduler.run(self._stopping, self._wake, self._ready))  # type: ignore[union-attr]
        self._spawn("prepare", lambda: self.preparation.run(self._stopping))  # type: ignore[union-attr]
        self._spawn("housekeeping", self._housekeeping_loop)
        self._spawn("power", lambda: self.power.run(self._stopping))  # type: ignore[union-attr]
        if self._sync_enabled:
            self._setup_sync()
            # Reporting to central: heartbeats, proof-of-play outbox, remote commands.
            from appliance.report.attach import attach_reporter

            self.reporter = attach_reporter(self)
        self._ready.wait(10.0)
        self._ready_after_s = time.monotonic() - self.started_monotonic
        store.log_event("daemon.start", f"daemon {__version__} ready in {self._ready_after_s:.2f} s",
                        {"ready_s": round(self._ready_after_s, 3), "stale_temps_removed": removed,
                         "recovered_interrupted": len(recovered), "emergencies_replayed": len(replayed)})
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
        self.emergency_off(reason)
        session = self.onair.session if self.onair is not None else None
        if session is not None and self.onair is not None:
            self.onair.cancel_and_wait(session, reason)
        self.emergency_off(reason)
        if self.preparation is not None:
            self.preparation.close()
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
        if self.power is not None:
            self.power.close()
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
        return alive and self.scheduler is not None and self.scheduler.alive() and not self.wedged_threads()

    def wedged_threads(self) -> list[str]:
        """Busy threads that stopped beating (see appliance.daemon.liveness), and a player that hung."""
        found = wedged(self.heartbeats.snapshot(), time.monotonic(), LIVENESS_LIMITS_S)
        if self.onair is not None and self.onair.player_hung and "player" not in found:
            found.append("player")
        return found

    def error_count(self) -> int:
        return (self.scheduler.errors if self.scheduler else 0) + (self.onair.errors if self.onair else 0)

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
            from appliance.state.mediastore import MediaStore
            from appliance.sync.client import CentralClient
            from appliance.sync.syncer import Syncer

            client = CentralClient.from_config(self.config)
            client.on_server_time = self.trust.note_central_time if self.trust else None
            self.syncer = Syncer(self.config, self.store, MediaStore(self.config.media_dir), client,
                                 on_change=self.wake, in_use=self._media_in_use)
        except CommuneRadioError as exc:
            self.store.log_event("sync.disabled", exc.en, exc.as_dict(), level="error")
            return
        self._spawn("sync", self._sync_loop)

    def _housekeeping_loop(self) -> None:
        # The first round waits a minute: start-up is for getting on air, not for tidying.
        while not self._stopping.wait(60.0 if self._housekept is None else PRUNE_EVERY_S):
            self._housekept = time.monotonic()
            if self._database_damaged():
                return
            try:
                self.prune_prepared()
                removed, freed = prune_captures(self.config.capture_path)
                if removed:
                    self.store.log_event("capture.pruned", f"{removed} old captures deleted ({freed} bytes)",
                                         {"removed": removed, "bytes": freed})
            except Exception as exc:  # tidying must never take the daemon down
                with contextlib.suppress(Exception):
                    self.store.log_event("housekeeping.error", repr(exc)[:500], level="warning",
                                         repeat_key=type(exc).__name__)

    def _database_damaged(self) -> bool:
        """The daily ``quick_check``: damage found while running asks for a restart once nothing is on
        air (the start-up check then keeps the damaged file aside and starts a fresh store)."""
        try:
            problem = check_database(self.config.db_path)
        except CommuneRadioError:
            return False
        if problem is None:
            return False
        vi = f"Cơ sở dữ liệu của trạm bị hỏng ({problem}): trạm sẽ tự khởi động lại để làm mới khi không phát gì."
        en = f"The station's database is damaged ({problem}): the station restarts to replace it when nothing plays."
        log.error("%s", vi)
        log.error("%s", en)
        self.problems.raise_("store.damaged", vi, en, at=iso_z(self.clock.now()))
        with contextlib.suppress(Exception):
            self.store.log_event("store.damaged", vi, {"code": "store.damaged", "en": en}, level="error")
        while not self._stopping.wait(5.0):
            if self.onair is None or self.onair.session is None:
                self.restart_requested.set()
                break
        return True

    def _sync_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.syncer.sync_once()
            except Exception as exc:  # the sync must never take the daemon down
                with contextlib.suppress(Exception):
                    self.store.log_event("sync.crash", repr(exc)[:500], level="error", repeat_key=type(exc).__name__)
            self.wake()
            self._sync_now.wait(self.config.sync.interval_s)
            self._sync_now.clear()

    def _request_sync(self) -> bool:
        if self.syncer is None:
            return False
        self._sync_now.set()
        return True

    def prune_prepared(self) -> int:
        return self.preparation.prune() if self.preparation is not None else 0

    def _media_in_use(self) -> set[str]:
        return self.onair.media_in_use() if self.onair is not None else set()

    # ------------------------------------------------------------------ operator actions

    def refresh_settings(self) -> None:
        """Reload the panel settings if they changed in the store since they were last read (the
        scheduler calls this before every plan, so a save whose ``reload`` request was lost still
        applies before the next slot is decided)."""
        try:
            stored = operator_settings.version(self.store)
        except CommuneRadioError:
            return
        if stored != self._settings_version:
            self.reload_settings(actor="settings:store")

    def reload_settings(self, *, actor: str) -> None:
        """Re-apply the operator's panel settings over the configuration file.

        Broadcast windows and zone rules apply at the next plan (the scheduler derives them
        from the config in force), sync interval and volume at once; a new TTS voice or rate
        re-prepares upcoming text items with it.
        """
        with self._settings_lock:
            previous = self.config
            self._settings_version = operator_settings.version(self.store)
            self.config = operator_settings.effective_config(self._file_config, self.store)
            self.settings_sources = operator_settings.sources(self._file_config, self.store)
            changed = sorted(e["key"] for e in self.settings_sources if _setting(previous, e["key"]) != e["value"])
        if (previous.tts != self.config.tts or previous.audio.chime != self.config.audio.chime) \
                and self.preparation is not None:
            self.preparation.voice_changed(self.config)
        if previous.audio.volume != self.config.audio.volume and self.actions is not None:
            self.actions.set_volume(self.config.audio.volume, actor=actor)
        self.store.log_event("daemon.reload", f"settings reloaded by {actor}", {"actor": actor, "changed": changed})
        self._emit({"type": "settings_reloaded", "actor": actor, "changed": changed})
        self.wake()

    def handle_request(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        """The control channel's handler (params already validated by appliance.control)."""
        assert self.actions is not None
        return self.actions.handle(action, params, actor)

    def play_now(self, item_id: str, *, zones: list[str] | None = None, actor: str = "cli:root",
                 trigger: str = "operator") -> dict[str, Any]:
        assert self.actions is not None
        return self.actions.play_now(item_id, zones=zones, actor=actor, trigger=trigger)

    def status(self) -> dict[str, Any]:
        return status_report(self)


def _setting(config: Config, key: str) -> Any:
    return operator_settings.value_of(config, key)


def _default_player(config: Config, volume: int) -> Any:
    from audio.playback import Player, detect_output

    output = config.audio.output
    if output == "auto":
        output = detect_output()
    return Player(output, config.capture_path if output == "capture" else None, volume,
                  watchdog_margin_s=config.audio.watchdog_margin_s, stall_timeout_s=config.audio.stall_timeout_s)
