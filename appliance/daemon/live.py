"""Live voice: an operator speaks to the loudspeakers from the station's microphone or from a
browser through the panel, or records a message to broadcast later.

A live broadcast is a broadcast session like the others: ``start`` checks what only the daemon
knows (one live session at a time, no emergency on air, the broadcast windows unless the
speaker marks it urgent, which is logged), writes its ``live_sessions`` row, and hands the
planner a play-now request for a transient live item (``PlannableItem.live``: ranks after
emergencies, pre-empts normal items, is pre-empted by an emergency; the clock-trust hold does
not apply to requests). The on-air session (``appliance.daemon.onair``) warms up the chosen
zones' amplifiers and writes the durable play-log row as for any item, then calls ``air``:
the feed (``appliance.daemon.live_feed``) carries the audio into the player's FIFO and the
Opus recording until it stops (the operator, silence, the source lost, the maximum length,
the window's end) or is cancelled (an emergency, the daemon stopping). ``closed`` runs on
every exit path: the recording is finished, the row completed, and the amplifiers go off
after their cool-down with the session. A recording (``mode='record'``) uses the same source
and feed without the player. The feed, the records on the card and the push button have their
own modules (``live_feed``, ``live_records``, ``live_button``); what remains here, a little over
400 lines, is one session's life from its checks to its row, which reads best in one place.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from appliance.broadcast import planner
from appliance.broadcast.windows import allows
from appliance.daemon import live_records
from appliance.daemon.broadcast_state import BroadcastState, Transient
from appliance.daemon.live_feed import Ending, LiveFeed, LiveLimits
from appliance.errors import ControlError
from appliance.state.config import Config
from appliance.state.store import Store
from appliance.system.clock import Clock, iso_z
from audio.capture import LIVE_FORMAT, CaptureSource, ChunkSource, capture_source
from audio.recorder import OpusRecorder

if TYPE_CHECKING:
    from appliance.daemon.onair import OnAir, Outcome, Session

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0      # a request the planner has not put on air by then is given up
PLAYER_SLACK_S = 15.0       # the player's own limit, beyond the session's maximum and the chime
_PLAY_OUTCOME = {"stopped": "completed", "silence": "completed", "max_length": "cut", "window_end": "cut",
                 "source_lost": "interrupted", "preempted": "interrupted", "interrupted": "interrupted",
                 "failed": "failed"}


def refuse(vi: str, en: str, code: str) -> ControlError:
    return ControlError(vi, en, code=f"live.{code}")


@dataclasses.dataclass
class LiveSession:
    id: str
    mode: str                    # broadcast | record
    source_kind: str             # station | browser
    speaker: str
    zones: tuple[str, ...]
    urgent: bool
    chime: bool
    source: CaptureSource
    requested_at: datetime
    recorder: OpusRecorder | None
    controller: LiveSessions
    feed: LiveFeed | None = None
    phase: str = "requested"     # requested → warmup → chime → live → ended
    started_at: datetime | None = None
    requested_mono: float = dataclasses.field(default_factory=time.monotonic)
    ending: Ending | None = None
    finished: bool = False
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    stop_flag: threading.Event = dataclasses.field(default_factory=threading.Event)

    # Called by the on-air session (appliance.daemon.onair).
    def warming_up(self, session: Session) -> None:
        self.phase = "warmup"

    def air(self, session: Session, onair: OnAir) -> Outcome:
        return self.controller.air(self, session, onair)

    def closed(self, session: Session | None) -> None:
        self.controller.finish(self, session)

    def summary(self, zone: ZoneInfo) -> dict[str, Any]:
        feed = self.feed
        phase = self.phase if feed is None or self.phase in ("requested", "warmup", "ended") else feed.phase
        started = self.started_at.astimezone(zone).strftime("%H:%M:%S") if self.started_at else None
        return {"id": self.id, "mode": self.mode, "source": self.source_kind, "speaker": self.speaker,
                "zones": list(self.zones), "urgent": self.urgent, "phase": phase,
                "on_air": phase == "live" and self.mode == "broadcast",
                "level_dbfs": round(feed.level_dbfs, 1) if feed else -120.0,
                "elapsed_s": round(feed.elapsed_s, 2) if feed else 0.0,
                "requested_at": iso_z(self.requested_at), "started_at": iso_z(self.started_at) if self.started_at
                else None, "started_local": started,
                "outcome": self.ending.kind if self.ending else None,
                "reason": {"vi": self.ending.vi, "en": self.ending.en} if self.ending else None}


class LiveSessions:
    def __init__(self, *, store: Store, clock: Clock, config: Callable[[], Config], state: BroadcastState,
                 onair: OnAir, wake: Callable[[], None], emit: Callable[[dict[str, Any]], None]) -> None:
        self.store = store
        self.clock = clock
        self._config = config
        self.state = state
        self.onair = onair
        self._wake = wake
        self._emit = emit
        self._lock = threading.RLock()
        self.current: LiveSession | None = None
        self.last: LiveSession | None = None
        self._chime: bytes | None = None
        self.button: Any = None

    @property
    def directory(self) -> Path:
        return self._config().data_path / "live"

    # ------------------------------------------------------------------ control requests

    def handle(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        if action == "live_start":
            return self.start(source=params["source"], mode=params["mode"], zones=params.get("zones"),
                              urgent=params["urgent"], chime=params.get("chime"), actor=actor)
        if action == "live_chunk":
            return self.push(params["session_id"], params["data"], actor=actor)
        if action == "live_stop":
            return self.stop(params.get("session_id"), actor=actor)
        if action == "live_status":
            return self.status()
        raise refuse(f"Lệnh không được hỗ trợ: {action}.", f"Unsupported action: {action}.", "unknown_action")

    def start(self, *, source: str, mode: str, zones: list[str] | None, urgent: bool, chime: bool | None,
              actor: str) -> dict[str, Any]:
        config = self._config()
        tz = ZoneInfo(config.device.timezone)
        with self._lock:
            self._expire_stale()
            busy = self.current
            if busy is not None and not busy.done.is_set():
                since = busy.requested_at.astimezone(tz).strftime("%H:%M")
                where_vi = "micrô của trạm" if busy.source_kind == "station" else "trình duyệt"
                where_en = "the station microphone" if busy.source_kind == "station" else "a browser"
                raise refuse(f"Đang có người nói trực tiếp: {busy.speaker} ({where_vi}, từ {since}). "
                             "Chỉ một phiên một lúc.",
                             f"Someone is live already: {busy.speaker} ({where_en}, since {since}). "
                             "One session at a time.", "busy")
            chosen = tuple(zones or config.zone_names())
            if mode == "broadcast":
                self._check_air(chosen, urgent, config, tz)
            capture = ChunkSource(f"browser:{actor}") if source == "browser" \
                else capture_source(config.live.capture_device)
            session_id = "live-" + uuid.uuid4().hex[:16]
            now = self.clock.now()
            recorder = OpusRecorder(self.directory / f"{session_id}.ogg")
            live = LiveSession(id=session_id, mode=mode, source_kind=source, speaker=actor, zones=chosen,
                               urgent=urgent, chime=config.live.chime if chime is None else chime,
                               source=capture, requested_at=now, recorder=recorder, controller=self)
            with self.store.transaction(durable=True) as tx:
                tx.execute("INSERT INTO live_sessions (id, mode, source, speaker, zones, urgent, requested_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (session_id, mode, source, actor, json.dumps(list(chosen)), int(urgent), iso_z(now)))
            if urgent and mode == "broadcast":
                self.store.log_event("live.urgent", f"Nói trực tiếp khẩn (ngoài khung giờ được phép) bởi {actor}.",
                                     {"session_id": session_id, "zones": list(chosen), "actor": actor,
                                      "en": f"urgent live voice (allowed outside windows) by {actor}"},
                                     level="warning")
            self.current = live
            capture.start()
        if mode == "record":
            threading.Thread(target=self._record, args=(live,), name="live-record", daemon=True).start()
        else:
            item = planner.PlannableItem(id=session_id, kind="live", priority="priority",
                                         title=f"Nói trực tiếp: {actor.split(':', 1)[-1]}"[:60],
                                         ready=True, live=True, urgent=urgent)
            self.state.add_transient(Transient(item, "", live=live))
            self.state.add_request(planner.Request(request_id=session_id, item_id=session_id, trigger="operator",
                                                   requested_at=now, zones=chosen), actor)
            self._wake()
        self._emit({"type": "live_requested", "session_id": session_id, "mode": mode, "source": source,
                    "zones": list(chosen), "urgent": urgent, "speaker": actor})
        vi = "Đang khởi động ampli: chờ báo ĐANG PHÁT rồi nói." if mode == "broadcast" else "Đang ghi âm."
        en = "Warming up the amplifiers: speak once it says ON AIR." if mode == "broadcast" else "Recording."
        return {"message": {"vi": vi, "en": en}, "session_id": session_id, "zones": list(chosen)}

    def _check_air(self, zones: tuple[str, ...], urgent: bool, config: Config, tz: ZoneInfo) -> None:
        session = self.onair.session
        emergency_on = session is not None and session.voice is None and (
            session.occurrence.trigger == "emergency" or session.occurrence.priority == "emergency")
        requests, _, _ = self.state.snapshot()
        if emergency_on or any(r.trigger == "emergency" for r in requests):
            raise refuse("Đang phát bản tin khẩn cấp: chưa nói trực tiếp được.",
                         "An emergency is on air: live voice must wait.", "emergency")
        if urgent:
            return
        now = self.clock.now()
        rules = {z.name: z for z in planner.zone_rules_from_config(config)}
        if not any(allows(rules[z].windows, now, now, tz) for z in zones):
            shown = ", ".join(f"{z} ({' '.join(str(w) for w in rules[z].windows) or '-'})" for z in zones)
            raise refuse(f"Ngoài khung giờ phát của vùng: {shown}. Đánh dấu 'khẩn' để vẫn nói (sẽ được ghi lại).",
                         f"Outside the broadcast window of zone(s): {shown}. Mark it urgent to speak anyway "
                         "(it is logged).", "outside_window")

    def push(self, session_id: str, data: str, *, actor: str) -> dict[str, Any]:
        live = self.current
        if live is None or live.id != session_id or live.done.is_set():
            raise refuse("Phiên nói trực tiếp đã kết thúc.", "The live session is over.", "ended")
        if live.speaker != actor or not isinstance(live.source, ChunkSource):
            raise refuse("Chỉ người đã bắt đầu phiên mới gửi được âm thanh.",
                         "Only the operator who started the session can send its audio.", "not_yours")
        try:
            pcm = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise refuse("Khối âm thanh không hợp lệ.", "Invalid audio chunk.", "bad_chunk") from None
        live.source.push(pcm)
        self._expire_stale()
        return {"phase": live.summary(self._zone())["phase"], "level_dbfs": live.feed.level_dbfs if live.feed
                else -120.0}

    def stop(self, session_id: str | None, *, actor: str) -> dict[str, Any]:
        live = self.current
        if live is None or live.done.is_set() or (session_id and live.id != session_id):
            return {"message": {"vi": "Không có phiên nói trực tiếp nào.", "en": "No live session."}}
        ending = Ending("stopped", f"Dừng bởi {actor}", f"Stopped by {actor}")
        self._stop(live, ending)
        live.done.wait(8.0)
        return {"message": {"vi": "Đã dừng nói trực tiếp.", "en": "Live session stopped."}, "session_id": live.id}

    def _stop(self, live: LiveSession, ending: Ending) -> None:
        live.stop_flag.set()
        if live.feed is not None:
            live.feed.request_stop(ending)
            return
        # Not on air yet (waiting for the planner or in warm-up): withdraw it.
        live.ending = live.ending or ending
        self.state.forget_request(f"{live.id}@request:{live.id}")
        session = self.onair.session
        if session is not None and session.voice is live:
            self.onair.cancel(session, ending.en, outcome="interrupted")
        elif live.mode == "broadcast":
            self.finish(live, None)

    def status(self) -> dict[str, Any]:
        self._expire_stale()
        zone = self._zone()
        config = self._config()
        current = self.current if self.current is not None and not self.current.done.is_set() else None
        return {"active": current.summary(zone) if current else None,
                "last": self.last.summary(zone) if self.last else None,
                "station_microphone": bool(config.live.capture_device),
                "max_s": config.live.max_minutes * 60, "format": {"rate": LIVE_FORMAT.rate,
                                                                  "channels": LIVE_FORMAT.channels}}

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self._config().device.timezone)

    def _expire_stale(self) -> None:
        """A request the planner refused (its skip row says why) or never started is given up."""
        live = self.current
        if live is None or live.done.is_set() or live.mode != "broadcast" or live.phase != "requested":
            return
        row = self.store.query_one("SELECT outcome, reason FROM play_log WHERE occurrence_key = ?"
                                   " ORDER BY attempt DESC LIMIT 1", (f"{live.id}@request:{live.id}",))
        if row is not None and row["outcome"] == "skipped":
            live.ending = Ending("refused", f"Không phát được: {row['reason']}", f"Not aired: {row['reason']}")
            self.finish(live, None)
        elif time.monotonic() - live.requested_mono > START_TIMEOUT_S and self.onair.session is None:
            self._stop(live, Ending("refused", "Không lên sóng được trong 60 giây.", "Not on air within 60 s."))

    # ------------------------------------------------------------------ on air

    def air(self, live: LiveSession, session: Session, onair: OnAir) -> Outcome:
        """Carry the live audio until it stops; returns the play-log outcome (on the on-air thread)."""
        from audio.capture import make_fifo

        config = self._config()
        limits = LiveLimits(max_s=config.live.max_minutes * 60.0, silence_s=float(config.live.silence_stop_s),
                            silence_dbfs=config.live.silence_dbfs, lost_s=config.live.source_lost_s)
        self.directory.mkdir(parents=True, exist_ok=True)
        fifo = make_fifo(self.directory / f".{live.id}.pcm")
        chime = self.chime_pcm() if live.chime else b""
        feed = LiveFeed(live.source, limits=limits, recorder=live.recorder, fifo=fifo, chime=chime)
        end_at = None
        if session.end_by is not None and not live.urgent:
            end_at = time.monotonic() + (session.end_by - self.clock.now()).total_seconds()
        if live.stop_flag.is_set():
            feed.request_stop(live.ending or Ending("stopped", "Đã dừng.", "Stopped."))
        live.feed = feed
        live.phase = "live"
        live.started_at = self.clock.now()
        with contextlib.suppress(Exception), self.store.transaction(durable=True) as tx:
            tx.execute("UPDATE live_sessions SET started_at = ?, play_id = ? WHERE id = ?",
                       (iso_z(live.started_at), session.play_id, live.id))
        thread = threading.Thread(target=feed.run, args=(session.cancel,), kwargs={"end_at": end_at},
                                  name="live-feed", daemon=True)
        thread.start()
        self._emit({"type": "live_on_air", "session_id": live.id, "zones": list(session.zones),
                    "play_id": session.play_id})
        budget = limits.max_s + LIVE_FORMAT.seconds(len(chime)) + PLAYER_SLACK_S
        try:
            playback = onair.player.play(fifo, expected_duration_s=None, max_duration_s=budget,
                                         label=session.label, live_pcm=(LIVE_FORMAT.rate, LIVE_FORMAT.channels))
            outcome, reason, played = onair._follow(session, playback, expected_s=budget)
        finally:
            if not feed.done.is_set():
                feed.request_stop(Ending("failed", "Bộ phát dừng trước.", "The player stopped first."))
            feed.done.wait(5.0)
            fifo.unlink(missing_ok=True)
        if session.cancel.is_set():
            why = session.cancel_reason
            kind = "preempted" if "mergency" in why else "stopped" if why.startswith("Stopped by") \
                or why.startswith("stopped by") else "interrupted"
            live.ending = live.ending if live.ending and live.ending.kind == "stopped" else Ending(kind, why, why)
            return session.cancel_outcome, why, played
        live.ending = feed.ending or Ending("failed", reason or "player ended", reason or "player ended")
        if outcome == "failed" and live.ending.kind != "failed":
            live.ending = Ending("failed", f"{live.ending.vi}; {reason}", f"{live.ending.en}; {reason}")
        return _PLAY_OUTCOME.get(live.ending.kind, "failed"), live.ending.en, played  # type: ignore[return-value]

    def chime_pcm(self) -> bytes:
        if self._chime is None:
            import struct

            from audio.chime import render_chime

            samples = render_chime(LIVE_FORMAT.rate)
            self._chime = struct.pack(f"<{len(samples)}h", *(round(s * 32767) for s in samples))
        return self._chime

    def _record(self, live: LiveSession) -> None:
        config = self._config()
        limits = LiveLimits(max_s=config.live.max_minutes * 60.0, silence_s=float(config.live.silence_stop_s),
                            silence_dbfs=config.live.silence_dbfs, lost_s=config.live.source_lost_s)
        feed = LiveFeed(live.source, limits=limits, recorder=live.recorder)
        live.feed = feed
        live.phase = "live"
        live.started_at = self.clock.now()
        cancel = threading.Event()
        if live.stop_flag.is_set():
            feed.request_stop(live.ending or Ending("stopped", "Đã dừng.", "Stopped."))
        try:
            feed.run(cancel)
            live.ending = feed.ending
        finally:
            self.finish(live, None)

    # ------------------------------------------------------------------ every exit path

    def finish(self, live: LiveSession, session: Session | None) -> None:
        """The recording finished, the row completed, the source closed. Idempotent."""
        with self._lock:
            if live.finished:
                return
            live.finished = True
        if session is not None and live.ending is None:
            reason = session.cancel_reason or "ended before air"
            live.ending = Ending("preempted" if "mergency" in reason else "interrupted", reason, reason)
        ending = live.ending or Ending("failed", "Kết thúc bất thường.", "Ended abnormally.")
        live.ending = ending
        live.phase = "ended"
        with contextlib.suppress(Exception):
            live.source.close()
        path, size = (live.recorder.close() if live.recorder is not None else (None, 0))
        recorder_error = live.recorder.error if live.recorder is not None else None
        seconds = round(live.feed.elapsed_s, 2) if live.feed is not None and live.feed.started_mono else 0.0
        ended = self.clock.now()
        try:
            with self.store.transaction(durable=True) as tx:
                tx.execute("UPDATE live_sessions SET ended_at = ?, outcome = ?, reason = ?, recording = ?,"
                           " recording_bytes = ?, seconds = ?, play_id = COALESCE(play_id, ?),"
                           " started_at = COALESCE(started_at, ?) WHERE id = ?",
                           (iso_z(ended), ending.kind, ending.en[:500], path.name if path else None, size or None,
                            seconds, session.play_id if session is not None else None,
                            iso_z(live.started_at) if live.started_at else None, live.id))
            if recorder_error:
                self.store.log_event("live.recording_failed", recorder_error[:500],
                                     {"session_id": live.id}, level="error")
        except Exception:  # noqa: BLE001 - the session must still end
            log.exception("live session %s: row not completed", live.id)
        with self._lock:
            if self.current is live:
                self.current = None
            self.last = live
        live.done.set()
        feed, pacer = live.feed, live.feed.pacer if live.feed is not None else None
        self._emit({"type": "live_end", "session_id": live.id, "outcome": ending.kind, "reason": ending.en,
                    "recording": str(path) if path else None, "seconds": seconds,
                    "underruns": pacer.underruns if pacer else 0, "jitter_dropped_bytes": pacer.dropped if pacer else 0,
                    "player_dropped_bytes": feed.dropped_bytes if feed else 0})
        self._wake()

    def recover(self) -> int:
        """At start-up: sessions a crash left 'live' are closed (appliance.daemon.live_records)."""
        return live_records.recover(self.store, self.directory, now=iso_z(self.clock.now()))

    def prune(self) -> tuple[int, int]:
        """Recordings older than ``live.recording_days`` are deleted (their rows stay, without a file)."""
        return live_records.prune(self.store, self.directory, days=self._config().live.recording_days)

    def close(self) -> None:
        live = self.current
        if live is not None and not live.done.is_set():
            self._stop(live, Ending("interrupted", "Trạm dừng.", "The station is stopping."))
        if self.button is not None:
            self.button.close()
