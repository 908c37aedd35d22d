"""The on-air session: one occurrence at a time, from warm-up to its play-log outcome.

``launch`` switches the zones' relays on and starts a session thread: it resolves the audio
(a prepared clip, TTS for an emergency text, or a stream URL), writes the durable ``playing``
row, waits out the warm-up, plays, and logs the outcome. ``cancel`` pre-empts or stops it in
any phase. Audio that would run past ``Start.end_by`` (the slot's length, the window's end) is
cut there with a short fade, made in the clip before it plays, and logged ``cut`` with the
reason. Order of durable writes: the ``playing`` row is committed (fsync) just before
audio starts; at start-up rows still ``playing`` are marked interrupted, so the occurrence is
in the records and never plays twice. Whatever the player or the media do, the session ends
with its relays released and the daemon alive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from appliance.broadcast import planner
from appliance.broadcast.amplifiers import Amplifiers
from appliance.broadcast.playlog import AlreadyPlayed, PlayLog, PlayStart
from appliance.daemon import emergency_audio
from appliance.daemon.broadcast_state import BroadcastState
from appliance.daemon.end_limits import fit_to_end
from appliance.daemon.liveness import Heartbeats, debug_wedge_point
from appliance.daemon.preparation import PreparationQueue
from appliance.daemon.problems import Problems
from appliance.daemon.stream_relay import RelayHooks, relay_stream
from appliance.state.config import Config
from appliance.state.store import Store
from appliance.sync.integrity import Tampered
from appliance.system.clock import Clock, iso_z
from protocol.errors import ValidationError

log = logging.getLogger(__name__)

LEAD_MAX_S = 0.2                # never start audio earlier than this to absorb player latency
SESSION_JOIN_S = 8.0
PLAYER_START_TIMEOUT_S = 15.0   # a player that has not started audio by then is stopped
PLAYER_END_SLACK_S = 30.0       # beyond the player's own watchdog: the daemon's backstop
PLAYER_STOP_GRACE_S = 5.0       # a player that ignores stop this long is declared hung

Outcome = tuple[str, str, float | None]   # play-log outcome, reason, seconds played


@dataclasses.dataclass
class Session:
    """One occurrence on air (warm-up, then audio)."""

    occurrence: planner.Occurrence
    zones: tuple[str, ...]
    audio_at: datetime
    resume: bool
    started_at: datetime
    label: str
    actor: str
    text: str | None = None                      # emergency text to speak (no item)
    end_by: datetime | None = None               # audio stops here (Start.end_by)
    end_reason: planner.Reason | None = None
    phase: str = "warmup"
    silent: bool = False                         # a live relay whose source is silent (amplifiers off)
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

    @property
    def live(self) -> bool:
        return not self.done.is_set()


def is_emergency(occ: planner.Occurrence) -> bool:
    return occ.trigger == "emergency" or occ.priority == "emergency"


def play_start_of(occ: planner.Occurrence, *, actor: str, attempt: int = 1,
                  zones: tuple[str, ...] | None = None, title: str = "", text: str | None = None) -> PlayStart:
    """The play-log row of an occurrence about to start (or be skipped)."""
    scheduled = occ.trigger == "schedule"
    return PlayStart(item_id=occ.item_id, item_version=occ.item_version, zones=list(zones or occ.zones),
                     trigger=occ.trigger, occurrence_key=occ.key if scheduled or occ.key else None,
                     attempt=attempt, slot_id=occ.slot_id or None, scheduled_start=iso_z(occ.scheduled_at),
                     actor=actor, title=title, text=text)


class OnAir:
    def __init__(self, *, store: Store, clock: Clock, amplifiers: Amplifiers, playlog: PlayLog, player: Any,
                 preparation: PreparationQueue, state: BroadcastState, heartbeats: Heartbeats,
                 config: Callable[[], Config], emit: Callable[[dict[str, Any]], None],
                 wake: Callable[[], None], problems: Problems | None = None) -> None:
        self.store = store
        self.problems = problems or Problems()
        self.clock = clock
        self.amplifiers = amplifiers
        self.playlog = playlog
        self.player = player
        self.preparation = preparation
        self.state = state
        self.heartbeats = heartbeats
        self._config = config
        self._emit = emit
        self._wake = wake
        self.session: Session | None = None
        self.errors = 0
        self.player_hung = False
        self.last_capture: str | None = None
        self._lead_s = 0.02

    # ------------------------------------------------------------------ control

    def launch(self, start: planner.Start) -> None:
        occ = start.occurrence
        transient, actor = self.state.take_start(occ.key, occ.item_id, resume=start.resume)
        item = self.store.get_item(occ.item_id)
        title = (item or {}).get("title") or (transient.item.title if transient else "") or occ.item_id
        real_now = self.clock.now()
        warmed_at = real_now + timedelta(seconds=self.amplifiers.warmup_s(list(start.zones)))
        # The planner looked ahead: a request plays as soon as its relays are warm,
        # a scheduled item at its time, and never before the warm-up is over.
        audio_at = max(warmed_at, start.audio_at) if occ.trigger == "schedule" else warmed_at
        session = Session(occurrence=occ, zones=start.zones, audio_at=audio_at, resume=start.resume,
                          started_at=real_now, label=title, actor=actor,
                          text=transient.text if transient else None, end_by=start.end_by,
                          end_reason=start.end_reason)
        # Relays first: the warm-up runs while the audio is resolved (TTS for an emergency text).
        self.amplifiers.acquire(list(start.zones), session.owner, f"warm-up: {title}")
        self.session = session
        self._emit({"type": "warmup", "item_id": occ.item_id, "title": title, "key": occ.key,
                    "zones": list(start.zones), "audio_at": iso_z(start.audio_at), "trigger": occ.trigger,
                    "reason": start.reason.en})
        session.thread = threading.Thread(target=self._run, args=(session,), name="on-air", daemon=True)
        session.thread.start()

    def cancel(self, session: Session, reason: str, *, outcome: str) -> None:
        session.cancel_reason = reason
        session.cancel_outcome = outcome
        session.cancel.set()
        if session.phase == "playing":
            with contextlib.suppress(Exception):
                self.player.stop(session.cancel_reason or "stop")

    def cancel_and_wait(self, session: Session, reason: str, *, outcome: str = "interrupted") -> None:
        self.cancel(session, reason, outcome=outcome)
        session.done.wait(SESSION_JOIN_S)

    def wait_for_end(self, session: Session) -> None:
        session.done.wait(SESSION_JOIN_S)

    def on_air(self) -> planner.OnAir | None:
        """The session as the planner sees it (None once its audio is over)."""
        session = self.session
        if session is None or session.done.is_set() or session.phase == "ending":
            return None
        phase = "silent" if session.silent else "playing" if session.phase == "playing" else "warmup"
        return planner.OnAir(session.occurrence, session.zones, session.started_at, phase,  # type: ignore[arg-type]
                             session.audio_started_at)

    def media_in_use(self) -> set[str]:
        """The media file of what is on air (never deleted by the sync's housekeeping)."""
        session = self.session
        if session is None:
            return set()
        item = self.store.get_item(session.occurrence.item_id)
        return {item["media_sha256"]} if item and item.get("media_sha256") else set()

    # ------------------------------------------------------------------ the session thread

    def _run(self, session: Session) -> None:
        occ = session.occurrence
        try:
            self._play(session)
        except Exception as exc:  # a failing player or bad media never kills the daemon
            self.errors += 1
            log.exception("session failed")
            reason = f"{type(exc).__name__}: {exc}"
            if session.play_id is not None:
                with contextlib.suppress(Exception):
                    self.playlog.finish(session.play_id, "failed", reason[:500])
            with contextlib.suppress(Exception):
                self.store.log_event("play.error", reason[:500], {"item_id": occ.item_id, "key": occ.key},
                                     level="error")
            self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "outcome": "failed",
                        "reason": reason})
        finally:
            if occ.trigger == "emergency" and occ.slot_id.startswith("request:"):
                # Its outcome is logged (or it never got a row): no longer pending for a replay.
                with contextlib.suppress(Exception), self.store.transaction(durable=True) as tx:
                    tx.execute("DELETE FROM emergency_requests WHERE request_id = ?",
                               (occ.slot_id[len("request:"):],))
            self.state.session_ended(session.zones, occ.item_id, self.clock.now())
            self.amplifiers.session_ended(list(session.zones), session.owner, "playback ended")
            if session.silent and self.problems.clear("stream.stalled"):
                self._emit({"type": "problem_cleared", "code": "stream.stalled"})
            self.heartbeats.idle("player")
            session.done.set()
            if self.session is session:
                self.session = None
            self._wake()

    def _play(self, session: Session) -> None:
        occ = session.occurrence
        attempt = 1
        if session.resume:
            attempt = 1 + max((r["attempt"] for r in self.playlog.attempts(occ.key)), default=0)
        try:
            # Durable FIRST, before speech is made and before audio: whatever fails from here on
            # (the engine, the player, a crash) leaves a row that says so, and nothing plays twice.
            session.play_id = self.playlog.begin(play_start_of(occ, actor=session.actor, attempt=attempt,
                                                               zones=session.zones, title=session.label,
                                                               text=session.text))
        except AlreadyPlayed as exc:
            self.store.log_event("play.refused", exc.en, {"key": occ.key}, level="warning")
            return
        except sqlite3.OperationalError as exc:   # a full or failing card: the row cannot be written
            # Never started again and again (relays flapping); an emergency still goes on air.
            self.state.note_unrecorded(occ.key)
            if not is_emergency(occ):
                raise
            log.error("emergency %s goes on air without its play-log row: %s", occ.item_id, exc)
            session.play_id = None
        emergency = is_emergency(occ)
        if emergency:
            emergency_audio.event(self, "emergency.recorded", session, "recorded before speech and audio",
                                  f"Đã ghi nhận lệnh khẩn cấp '{session.label}'.")
        source, duration, is_stream, alert = (emergency_audio.resolve(self, session) if emergency
                                              else (*self._resolve_source(session), False))
        # Wait out the warm-up; audio is requested ``lead`` early to absorb the player's start latency.
        if session.cancel.is_set() or self._wait_until(session.audio_at, lead=self._lead_s, cancel=session.cancel):
            reason = f"during warm-up: {session.cancel_reason}"
            if session.play_id is not None:
                self.playlog.finish(session.play_id, session.cancel_outcome, reason, played_s=0.0)
            self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "play_id": session.play_id,
                        "outcome": session.cancel_outcome, "reason": reason})
            return
        # Audio that would run past Start.end_by is cut there (appliance.daemon.end_limits).
        source, duration, cut = fit_to_end(session, source, duration, is_stream, now=self.clock.now(),
                                           work_dir=self._config().data_path / "prepared")
        session.phase = "playing"
        self._emit({"type": "play_start", "item_id": occ.item_id, "title": session.label, "key": occ.key,
                    "play_id": session.play_id, "zones": list(session.zones), "trigger": occ.trigger,
                    "scheduled_at": iso_z(occ.scheduled_at)})
        try:
            if is_stream:
                outcome, reason, played = relay_stream(session, str(source), duration, self._play_and_follow,
                                                       RelayHooks(self, session))
            else:
                outcome, reason, played = self._play_and_follow(session, source, duration, None, None)
        finally:
            if cut is not None and cut.path is not None:
                cut.path.unlink(missing_ok=True)
        if cut is not None and outcome == "completed" and session.end_reason is not None:
            outcome = "cut"
            reason = "; ".join(r for r in (session.end_reason.en, reason) if r)
        if alert and outcome == "completed" and not session.cancel.is_set():
            outcome, reason, played = emergency_audio.speak_after_alert(self, session, played)
        # Audio is over: the planner may start the next item while this one is being logged.
        session.phase = "ending"
        self._wake()
        row = self.playlog.finish(session.play_id, outcome, reason, played_s=played,
                                  actual_start=iso_z(session.audio_started_at) if session.audio_started_at else None
                                  ) if session.play_id is not None else {}
        self._emit({"type": "play_end", "item_id": occ.item_id, "key": occ.key, "play_id": session.play_id,
                    "outcome": outcome, "reason": reason, "played_s": played,
                    "actual_start": row.get("actual_start"), "capture": self.last_capture})

    def _play_and_follow(self, session: Session, source: Any, duration: float | None,
                         max_duration_s: float | None, on_started: Callable[[], None] | None) -> Outcome:
        """Play one source (a clip, or one attempt at a stream) and wait for its outcome."""
        if max_duration_s is None:
            playback = self.player.play(source, expected_duration_s=duration, label=session.label)
            return self._follow(session, playback, expected_s=duration, on_started=on_started)
        playback = self.player.play(source, expected_duration_s=None, max_duration_s=max_duration_s,
                                    label=session.label)
        return self._follow(session, playback, expected_s=max_duration_s, on_started=on_started)

    def _follow(self, session: Session, playback: Any, *, expected_s: float | None,
                on_started: Callable[[], None] | None = None) -> Outcome:
        """Wait for a playback to end (or be cancelled); map its result to a play-log outcome.

        The player has its own watchdog; this is the backstop for a player that hangs inside
        libVLC: past a deadline it is stopped, and if it does not answer the daemon declares the
        player hung, logs the play as failed and stops feeding the systemd watchdog (a restart
        is the only cure for a wedged libVLC, and relays go off on the way).
        """
        audio = self._config().audio
        requested = time.monotonic()
        limit_s = PLAYER_START_TIMEOUT_S + (expected_s or 0.0) + audio.watchdog_margin_s \
            + audio.stall_timeout_s + PLAYER_END_SLACK_S
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
                self.player.stop(session.cancel_reason or "stop")
            deadline = min(deadline, time.monotonic() + PLAYER_STOP_GRACE_S)
        if playback.started.is_set():
            started_mono = getattr(playback, "started_monotonic", None) or time.monotonic()
            latency = started_mono - getattr(playback, "requested_monotonic", requested)
            # Our clock's view of when audio began (the daemon's clock may be offset in tests).
            if session.audio_started_at is None:
                session.audio_started_at = self.clock.now() - timedelta(seconds=time.monotonic() - started_mono)
            self._lead_s = min(LEAD_MAX_S, max(0.0, 0.7 * self._lead_s + 0.3 * latency))
            if on_started is not None:
                on_started()
        while True:
            self.heartbeats.beat("player")
            result = playback.wait(0.2)
            if result is not None:
                break
            if (session.cancel.is_set() or time.monotonic() > deadline) and not stop_sent:
                stop_sent = True
                deadline = min(deadline, time.monotonic() + PLAYER_STOP_GRACE_S)
                with contextlib.suppress(Exception):
                    self.player.stop(session.cancel_reason or "stop")
            elif stop_sent and time.monotonic() > deadline:
                self.player_hung = True
                message = f"player hung: no answer {limit_s:.0f} s after the request, nor to stop"
                log.error(message)
                with contextlib.suppress(Exception):
                    self.store.log_event("player.hung", message, {"item_id": session.occurrence.item_id},
                                         level="error")
                return "failed", message, None
        capture = getattr(result, "capture_path", None)
        self.last_capture = str(capture) if capture else None
        if session.cancel.is_set() and result.outcome == "stopped":
            return session.cancel_outcome, session.cancel_reason, result.played_s
        mapping = {"completed": "completed", "stopped": "interrupted", "error": "failed", "stalled": "failed",
                   "overrun": "failed"}
        outcome = mapping.get(result.outcome, "failed")
        reason = "" if outcome == "completed" else f"{result.outcome}: {result.error or ''}".strip(": ")
        return outcome, reason, result.played_s

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

    def _resolve_source(self, session: Session) -> tuple[Any, float | None, bool]:
        occ = session.occurrence
        if session.text is not None:
            prepared = self.preparation.prepare_text(session.text)
            return prepared.path, float(prepared.duration_s), False
        row = self.store.get_item(occ.item_id)
        if row is None:
            raise ValidationError(f"Không có bản tin {occ.item_id}.", f"No item {occ.item_id}.")
        try:
            # Before playing, once more: what plays is what central signed.
            item = self.preparation.verified(row)
        except Tampered as exc:
            self.preparation.report_tampered(row, exc)
            raise
        if item["kind"] == "stream":
            return item["media_url"], occ.duration_s, True
        prepared = self.preparation.checked_clip(item)
        return prepared.path, float(prepared.duration_s), False

