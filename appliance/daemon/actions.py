"""What an operator or central can ask of the daemon: the one façade behind the control socket.

``handle`` receives requests already validated by ``appliance.control`` (and recorded in the
event log with their actor). Playing something is never done here directly: a play-now,
``say`` or emergency becomes a request that the planner weighs against what is on air and
the broadcast windows, so every path obeys the same rules.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import protocol
from appliance.broadcast import planner
from appliance.broadcast.amplifiers import Amplifiers
from appliance.daemon.broadcast_state import BroadcastState, Transient
from appliance.daemon.emergency_repeats import EmergencyRepeats
from appliance.daemon.onair import OnAir
from appliance.daemon.scheduler import estimate_words
from appliance.state.config import Config
from appliance.state.store import Store, item_is_playable
from appliance.system.clock import Clock, iso_z, parse_iso_z
from protocol.errors import ValidationError

log = logging.getLogger(__name__)
EMERGENCY_REPLAY_S = 600.0   # an emergency accepted before a crash is still played this long after


def message(vi: str, en: str) -> dict[str, Any]:
    return {"message": {"vi": vi, "en": en}}


class OperatorActions:
    def __init__(self, *, store: Store, clock: Clock, config: Callable[[], Config], state: BroadcastState,
                 onair: OnAir, amplifiers: Amplifiers, player: Any, volume: int, wake: Callable[[], None],
                 status: Callable[[], dict[str, Any]], reload: Callable[[str], None],
                 sync_now: Callable[[], bool]) -> None:
        self.store = store
        self.clock = clock
        self._config = config
        self.state = state
        self.onair = onair
        self.amplifiers = amplifiers
        self.player = player
        self._wake = wake
        self._status = status
        self._reload = reload
        self._sync_now = sync_now
        self.volume = volume
        self.live: Any = None     # appliance.daemon.live.LiveSessions, set by the daemon
        self.repeats = EmergencyRepeats(store, clock.now)

    def handle(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        if action == "status":
            return self._status()
        if action.startswith("live_") and self.live is not None:
            return dict(self.live.handle(action, params, actor))
        if action == "play":
            return self.play_now(params["item_id"], zones=params.get("zones"), actor=actor)
        if action == "say":
            return self.say(params["text"], zones=params.get("zones"), actor=actor)
        if action == "emergency":
            return self.emergency(text=params.get("text"), item_id=params.get("item_id"), zones=params.get("zones"),
                                  actor=actor, resume=params.get("resume"), repeat_every_s=params.get("repeat_every_s"),
                                  repeat_times=params.get("repeat_times"))
        if action == "stop":
            return self.stop_playback(actor=actor)
        if action == "set_volume":
            return self.set_volume(params["volume"], actor=actor)
        if action == "reload":
            self._reload(actor)
            self._wake()
            return message("Đã nạp lại cấu hình và lịch phát.", "Settings and schedule reloaded.")
        if action == "schedule_changed":
            self._wake()
            return message("Đã nạp lại lịch phát.", "Schedule reloaded.")
        if action == "sync_now":
            if not self._sync_now():
                raise ValidationError("Chưa cấu hình đồng bộ với trung tâm.", "Sync with central is not configured.",
                                      code="invalid_input.sync_off")
            return message("Đang đồng bộ.", "Sync started.")
        if action == "relay_test":
            return self.relay_test(params["zone"], params["seconds"], actor=actor)
        if action == "relay_reset":
            return self.relay_reset(params["zones"], actor=actor)
        raise ValidationError(f"Lệnh không được hỗ trợ: {action}.", f"Unsupported action: {action}.")

    def _request(self, item_id: str, trigger: str, zones: list[str] | None, actor: str,
                 request_id: str | None = None, requested_at: datetime | None = None,
                 resume: bool | None = None) -> planner.Request:
        request = planner.Request(request_id=request_id or uuid.uuid4().hex, item_id=item_id,
                                  trigger=trigger,  # type: ignore[arg-type]
                                  requested_at=requested_at or self.clock.now(), zones=tuple(zones) if zones else None,
                                  resume=resume)
        self.state.add_request(request, actor)
        self._wake()
        return request

    def play_now(self, item_id: str, *, zones: list[str] | None = None, actor: str = "cli:root",
                 trigger: str = "operator") -> dict[str, Any]:
        item = self.store.get_item(item_id)
        if item is None:
            raise ValidationError(f"Không có bản tin '{item_id}'.", f"No item '{item_id}'.", code="invalid_input.no_item")
        zones = self._item_zones(item, zones)
        if not item_is_playable(item, iso_z(self.clock.now())):
            raise ValidationError(
                f"Bản tin '{item_id}' chưa sẵn sàng, đã hết hạn hoặc đã bị thu hồi ({item['state']}).",
                f"Item '{item_id}' is not ready, expired or revoked ({item['state']}).", code="invalid_input.not_playable")
        request = self._request(item_id, trigger, zones, actor)
        return message(f"Đã yêu cầu phát '{item.get('title') or item_id}'.",
                       f"Playing '{item.get('title') or item_id}' requested.") | {"request_id": request.request_id}

    def _item_zones(self, item: dict[str, Any], requested: list[str] | None) -> list[str] | None:
        """The zones a stored item may be aired in now: only its own (protocol §8), whatever was
        ticked. Refuses, with both lists, when that leaves none."""
        station = self._config().zone_names()
        own = list(protocol.zones_on_station(item.get("zones") or [], station))
        meant = ", ".join(item.get("zones") or [])
        if not own:
            raise ValidationError(
                f"Bản tin '{item['id']}' không dành cho trạm này: chỉ cho vùng {meant}; trạm có {', '.join(station)}.",
                f"Item '{item['id']}' is not for this station: it is for zone(s) {meant}; this station has "
                f"{', '.join(station)}.", code="invalid_input.wrong_zone")
        if requested is None:
            return None
        chosen = [z for z in own if z in requested]
        if not chosen:
            raise ValidationError(
                f"Bản tin '{item['id']}' không dành cho vùng {', '.join(requested)}: chỉ phát ở {', '.join(own)}.",
                f"Item '{item['id']}' is not meant for zone(s) {', '.join(requested)}: it plays only in "
                f"{', '.join(own)}.", code="invalid_input.wrong_zone")
        return chosen

    def _transient_text(self, text: str, *, priority: str, prefix: str, zones: list[str] | None,
                        item_id: str | None = None) -> str:
        """Register operator text to speak once (not stored as an item); returns its id."""
        item_id = item_id or prefix + uuid.uuid4().hex[:12]
        self.state.add_transient(Transient(planner.PlannableItem(
            id=item_id, version=1, kind="text", priority=priority, title=text[:60],  # type: ignore[arg-type]
            zones=tuple(zones or ("*",)), ready=True, duration_s=estimate_words(text, self._config())), text))
        return item_id

    def say(self, text: str, *, zones: list[str] | None = None, actor: str = "cli:root") -> dict[str, Any]:
        """Speak operator text now as a play-now request (broadcast windows apply, unlike emergency)."""
        item_id = self._transient_text(text, priority="normal", prefix="say-", zones=zones)
        request = self._request(item_id, "operator", zones, actor)
        return message("Đã yêu cầu đọc văn bản.", "Speaking the text was requested.") | {
            "request_id": request.request_id, "item_id": item_id}

    def emergency(self, *, text: str | None = None, item_id: str | None = None, zones: list[str] | None = None,
                  actor: str = "cli:root", resume: bool | None = None, repeat_every_s: int | None = None,
                  repeat_times: int | None = None) -> dict[str, Any]:
        """Air an emergency now. ``resume``: the operator's choice for the bulletin it interrupts
        (None: the station's setting); ``repeat_every_s``/``repeat_times`` (0: until stopped): aired
        again by ``air_due_repeats``."""
        if text is not None:
            item_id = self._transient_text(text, priority="emergency", prefix="emergency-", zones=zones)
        else:
            assert item_id is not None
            item = self.store.get_item(item_id)
            if item is None:
                raise ValidationError(f"Bản tin '{item_id}' không phát được.", f"Item '{item_id}' cannot be played.",
                                      code="invalid_input.not_playable")
            zones = self._item_zones(item, zones)
            if item.get("revoked") or item["state"] != "ready":
                raise ValidationError(f"Bản tin '{item_id}' không phát được.", f"Item '{item_id}' cannot be played.",
                                      code="invalid_input.not_playable")
        request_id = uuid.uuid4().hex
        # Durable before anything acts on it: a crash from here on replays it or reports it lost.
        try:
            with self.store.transaction(durable=True) as tx:
                tx.execute("INSERT INTO emergency_requests (request_id, item_id, text, zones, actor, requested_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)", (request_id, item_id, text,
                                                          json.dumps(zones) if zones else None, actor,
                                                          iso_z(self.clock.now())))
        except sqlite3.OperationalError as exc:   # a full card must not stop an emergency
            log.error("emergency %s accepted without its durable record: %s", item_id, exc)
        request = self._request(item_id, "emergency", zones, actor, request_id=request_id, resume=resume)
        answer = message("Đã phát lệnh khẩn cấp.", "Emergency broadcast started.") | {
            "request_id": request.request_id, "item_id": item_id}
        if text is not None and repeat_every_s:
            answer["repeat_id"] = self.repeats.add(text=text, zones=zones, every_s=repeat_every_s,
                                                   times=int(repeat_times or 0), resume=resume, actor=actor)
        return answer

    def air_due_repeats(self) -> int:
        """Called before every plan: air the repeats that are due (not while an emergency is on air or
        waiting: the next one follows it)."""
        session = self.onair.session
        busy = (session is not None and session.occurrence.trigger == "emergency") or any(
            r.trigger == "emergency" for r in self.state.snapshot()[0])

        def air(row: dict[str, Any]) -> None:
            self.emergency(text=row["text"], zones=row["zones"], actor=row["actor"], resume=row["resume"])

        return self.repeats.due(air, busy=busy)

    def replay_pending_emergencies(self) -> list[str]:
        """At start-up: emergencies a crash kept from being played to their end (accepted but never
        started, or cut by the crash: the play log says interrupted) are requested again if they are
        at most ``EMERGENCY_REPLAY_S`` old, else reported lost. Returns the replayed request ids."""
        replayed: list[str] = []
        now = self.clock.now()
        for row in self.store.query("SELECT * FROM emergency_requests ORDER BY requested_at"):
            key = f"{row['item_id']}@request:{row['request_id']}"
            logged = self.store.query_one("SELECT outcome FROM play_log WHERE occurrence_key = ?"
                                          " ORDER BY attempt DESC LIMIT 1", (key,))
            cut_by_crash = logged is not None and logged["outcome"] == "interrupted"
            done = logged is not None and not cut_by_crash
            at = parse_iso_z(row["requested_at"])
            age = (now - at).total_seconds()
            if not done and age <= EMERGENCY_REPLAY_S:
                zones = json.loads(row["zones"]) if row["zones"] else None
                if row["text"] is not None:
                    self._transient_text(row["text"], priority="emergency", prefix="emergency-", zones=zones,
                                         item_id=row["item_id"])
                # A new request when the first one has a row already (an occurrence never plays twice).
                again = uuid.uuid4().hex if cut_by_crash else row["request_id"]
                if cut_by_crash:
                    with self.store.transaction(durable=True) as tx:
                        tx.execute("UPDATE emergency_requests SET request_id = ? WHERE request_id = ?",
                                   (again, row["request_id"]))
                self._request(row["item_id"], "emergency", zones, row["actor"], request_id=again, requested_at=at)
                replayed.append(again)
                self.store.log_event("emergency.replayed", f"Phát lại lệnh khẩn cấp lúc {row['requested_at']}: "
                                     "trạm đã khởi động lại trước khi phát.",
                                     {"request_id": row["request_id"], "item_id": row["item_id"],
                                      "en": "emergency requested before a restart is played now"}, level="warning")
                continue
            if not done:
                self.store.log_event("emergency.lost", f"Lệnh khẩn cấp lúc {row['requested_at']} không được phát: "
                                     f"trạm khởi động lại sau hơn {EMERGENCY_REPLAY_S / 60:.0f} phút.",
                                     {"request_id": row["request_id"], "item_id": row["item_id"],
                                      "code": "emergency.lost",
                                      "en": f"emergency requested at {row['requested_at']} was not played: the "
                                            f"station restarted more than {EMERGENCY_REPLAY_S / 60:.0f} min later"},
                                     level="error")
            with self.store.transaction(durable=True) as tx:
                tx.execute("DELETE FROM emergency_requests WHERE request_id = ?", (row["request_id"],))
        return replayed

    def stop_playback(self, *, actor: str) -> dict[str, Any]:
        session = self.onair.session
        dropped = self.state.drop_requests()
        with self.store.transaction(durable=True) as tx:   # waiting emergencies are cancelled too
            tx.execute("DELETE FROM emergency_requests")
        self.repeats.end_all(actor)                         # and repeats end
        if session is None:
            return message("Không có gì đang phát.", "Nothing is playing.") | {"dropped_requests": dropped}
        self.onair.cancel_and_wait(session, f"stopped by {actor}")
        return message(f"Đã dừng '{session.label}'.", f"Stopped '{session.label}'.") | {"dropped_requests": dropped}

    def set_volume(self, volume: int, *, actor: str) -> dict[str, Any]:
        with contextlib.suppress(AttributeError):
            self.player.set_volume(volume)
        self.volume = volume
        with self.store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES ('audio.volume', ?, ?)"
                       " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                       (str(volume), iso_z(self.clock.now())))
        return message(f"Âm lượng: {volume}.", f"Volume: {volume}.") | {"volume": volume}

    def relay_reset(self, zones: list[str], *, actor: str) -> dict[str, Any]:
        """Clear a relay watchdog trip (an amplifier switched off for being on too long)."""
        cleared = self.amplifiers.reset_watchdog(zones, actor=actor)
        self._wake()
        if not cleared:
            return message("Không vùng nào đang bị ngắt bảo vệ.", "No zone had a watchdog trip.") | {"cleared": []}
        shown = ", ".join(cleared)
        return message(f"Đã đặt lại ngắt bảo vệ của vùng {shown}.", f"Watchdog trip of {shown} reset.") | {
            "cleared": cleared}

    def relay_test(self, zone: str, seconds: float, *, actor: str) -> dict[str, Any]:
        owner = f"test:{actor}"
        self.amplifiers.acquire([zone], owner, f"relay test by {actor}")
        timer = threading.Timer(seconds, lambda: self.amplifiers.release([zone], owner, "relay test over",
                                                                         immediate=True))
        timer.daemon = True
        timer.start()
        return message(f"Bật thử vùng {zone} trong {seconds:.0f} giây.", f"Testing zone {zone} for {seconds:.0f} s.")
