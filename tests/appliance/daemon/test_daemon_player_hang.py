"""A player wedged inside libVLC (never starts, never ends, ignores stop) is the daemon's backstop
case: the play is logged failed, relays go off, and the daemon reports itself unhealthy so the
systemd watchdog restarts it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import appliance.daemon.onair as onair_module
from appliance.daemon import Daemon
from appliance.state.store import Store
from tests.support.daemon_rig import Recorder, add_text_item, make_config, mock_factory


class WedgedPlayback:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout: float | None = None) -> Any:
        self.done.wait(timeout)
        return None


class WedgedPlayer:
    """Stands in for libVLC stuck in a lock: every call returns, nothing ever happens."""

    def __init__(self) -> None:
        self.stops = 0

    def play(self, source: Any, **_: Any) -> WedgedPlayback:
        return WedgedPlayback()

    def stop(self, reason: str = "") -> None:
        self.stops += 1

    def set_volume(self, volume: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_hung_player_is_logged_failed_relays_off_and_daemon_unhealthy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(onair_module, "PLAYER_START_TIMEOUT_S", 1.0)
    monkeypatch.setattr(onair_module, "PLAYER_STOP_GRACE_S", 1.0)
    config = make_config(tmp_path / "data")
    store = Store.open(config.db_path)
    add_text_item(store, "hello", "Xin chào bà con.")
    rec = Recorder()
    player = WedgedPlayer()
    daemon = Daemon(config, store=store, player=player, pin_factory=mock_factory(), listener=rec, sync=False)
    daemon.start()
    try:
        assert daemon.healthy()
        daemon.play_now("hello", actor="test:hang")
        end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=60)
        assert end["outcome"] == "failed" and "player hung" in end["reason"]
        assert player.stops >= 1
        assert "player" in daemon.wedged_threads() and not daemon.healthy()
        on = rec.wait_for(lambda e: e["type"] == "relay" and e["on"] and e["zone"] == "a")
        rec.wait_for(lambda e: e["type"] == "relay" and not e["on"] and e["zone"] == "a" and e["t"] > on["t"],
                     timeout=10)
        assert [e["kind"] for e in store.recent_events(50) if e["kind"] == "player.hung"]
    finally:
        daemon.stop()
        store.close()
