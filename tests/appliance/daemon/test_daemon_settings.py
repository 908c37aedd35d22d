"""Operator settings saved by the panel reach the daemon at start and on `reload`."""

from __future__ import annotations

from pathlib import Path

from appliance.daemon import Daemon
from appliance.state import settings as operator_settings
from appliance.state.store import Store
from tests.support.daemon_rig import make_config, mock_factory


def test_panel_overrides_apply_at_start_and_on_reload(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    store = Store.open(config.db_path)
    operator_settings.save(store, config, {"zones.a.windows": ["17:00-18:00"]}, actor="admin")
    daemon = Daemon(config, store=store, pin_factory=mock_factory(), sync=False)
    daemon.start()
    try:
        assert [z.windows for z in daemon.config.zones if z.name == "a"] == [["17:00-18:00"]]
        operator_settings.save(store, config, {"audio.volume": 35, "tts.rate": 120,
                                               "schedule.default_windows": ["06:00-20:00"]}, actor="admin")
        answer = daemon.handle_request("reload", {}, "panel:admin")
        assert "reloaded" in answer["message"]["en"]
        assert daemon.config.tts.rate == 120
        assert daemon.config.schedule.default_windows == ["06:00-20:00"]
        assert daemon.status()["volume"] == 35
        # The file's configuration is untouched: overrides live in the store only.
        assert config.tts.rate == 130
        events = [e["kind"] for e in store.recent_events(20)]
        assert "daemon.reload" in events
    finally:
        daemon.stop()
        store.close()


def test_invalid_overrides_are_ignored_not_fatal(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    store = Store.open(config.db_path)
    with store.transaction() as tx:  # as if written by an older panel with looser checks
        tx.execute("INSERT INTO panel_settings (key, value, updated_at, updated_by) VALUES "
                   "('tts.rate', '9999', '2026-01-01T00:00:00Z', 'x')")
    daemon = Daemon(config, store=store, pin_factory=mock_factory(), sync=False)
    daemon.start()
    try:
        assert daemon.config.tts.rate == config.tts.rate
    finally:
        daemon.stop()
        store.close()


def test_local_announcement_is_prepared_with_the_operators_voice_and_rate(tmp_path: Path) -> None:
    import json

    from tests.support.daemon_rig import add_text_item

    config = make_config(tmp_path / "data")
    store = Store.open(config.db_path)
    text = "Ủy ban nhân dân xã thông báo lịch tiêm chủng cho trẻ em vào sáng thứ năm."
    add_text_item(store, "slow", text)
    add_text_item(store, "fast", text)
    with store.transaction() as tx:
        tx.execute("UPDATE items SET document = ? WHERE id = 'slow'",
                   (json.dumps({"tts": {"voice": "vi-vn-x-south", "rate": 100}}),))
        tx.execute("UPDATE items SET document = ? WHERE id = 'fast'",
                   (json.dumps({"tts": {"voice": "vi", "rate": 220}}),))
    daemon = Daemon(config, store=store, pin_factory=mock_factory(), sync=False)
    daemon.start()
    try:
        slow = daemon.preparation.prepare_item(store.get_item("slow"))
        fast = daemon.preparation.prepare_item(store.get_item("fast"))
        assert slow.duration_s > fast.duration_s * 1.5
    finally:
        daemon.stop()
        store.close()
