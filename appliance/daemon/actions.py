"""What an operator or central can ask of the daemon: the one façade behind the control socket.

``handle`` receives requests already validated by ``appliance.control`` (and recorded in the
event log with their actor). Playing something is never done here directly: a play-now,
``say`` or emergency becomes a request that the planner weighs against what is on air and
the broadcast windows, so every path obeys the same rules.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

import protocol
from appliance.broadcast import planner
from appliance.broadcast.amplifiers import Amplifiers
from appliance.daemon.broadcast_state import BroadcastState, Transient
from appliance.daemon.onair import OnAir
from appliance.daemon.scheduler import estimate_words
from appliance.state.config import Config
from appliance.state.store import Store, item_is_playable
from appliance.system.clock import Clock, iso_z
from protocol.errors import ValidationError


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

    def handle(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        if action == "status":
            return self._status()
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
        raise ValidationError(f"Lệnh không được hỗ trợ: {action}.", f"Unsupported action: {action}.")

    def _request(self, item_id: str, trigger: str, zones: list[str] | None, actor: str) -> planner.Request:
        request = planner.Request(request_id=uuid.uuid4().hex, item_id=item_id, trigger=trigger,  # type: ignore[arg-type]
                                  requested_at=self.clock.now(), zones=tuple(zones) if zones else None)
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

    def _transient_text(self, text: str, *, priority: str, prefix: str, zones: list[str] | None) -> str:
        """Register operator text to speak once (not stored as an item); returns its id."""
        item_id = prefix + uuid.uuid4().hex[:12]
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
                  actor: str = "cli:root") -> dict[str, Any]:
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
        request = self._request(item_id, "emergency", zones, actor)
        return message("Đã phát lệnh khẩn cấp.", "Emergency broadcast started.") | {
            "request_id": request.request_id, "item_id": item_id}

    def stop_playback(self, *, actor: str) -> dict[str, Any]:
        session = self.onair.session
        dropped = self.state.drop_requests()
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

    def relay_test(self, zone: str, seconds: float, *, actor: str) -> dict[str, Any]:
        owner = f"test:{actor}"
        self.amplifiers.acquire([zone], owner, f"relay test by {actor}")
        timer = threading.Timer(seconds, lambda: self.amplifiers.release([zone], owner, "relay test over",
                                                                         immediate=True))
        timer.daemon = True
        timer.start()
        return message(f"Bật thử vùng {zone} trong {seconds:.0f} giây.", f"Testing zone {zone} for {seconds:.0f} s.")
