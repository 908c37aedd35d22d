"""Issue 11 fix 1, on the real daemon process: a broadcast window changed in the panel applies at
once. Before, the scheduler kept the zone rules it read at start, so an item played in the middle
of the night after the operator had closed the window ("Đã lưu." but nothing changed).

The daemon runs as ``commune-radio run --events`` (capture output, mock pins); the panel is the
real Flask app talking to it over the control socket; the window is changed through the panel's
form. What did or did not play is read from the daemon's relay and play events, its play log and
its capture directory (no WAV written means no sound went out).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state import settings as operator_settings
from appliance.state.store import Store
from tests.support.daemon_proc import DaemonProcess, write_config
from tests.support.daemon_rig import add_text_item, iso_in

ADMIN = ("admin", "một mật khẩu rất dài 7")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _closed_window(tz: str) -> str:
    """A one-hour window that does not contain the coming minutes (local time of the station)."""
    later = datetime.now(ZoneInfo(tz)) + timedelta(hours=6)
    return f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00"


def _captures(path: Path) -> set[str]:
    return {p.name for p in path.glob("*.wav")} if path.exists() else set()


def _plays_of(daemon: DaemonProcess, item_id: str) -> list[dict[str, Any]]:
    return [e for e in daemon.events_of("play_start") if e.get("item_id") == item_id]


@pytest.mark.slow
def test_window_changed_in_the_panel_applies_to_the_running_daemon_at_once(tmp_path: Path) -> None:
    root = tmp_path / "station"
    config = config_module.load(write_config(root), env={})
    store = Store.open(config.db_path)
    add_text_item(store, "dem-khuya", "Thông báo thử nghiệm lúc nửa đêm.", zones=["a"])
    add_text_item(store, "ban-ngay", "Thông báo thử nghiệm ban ngày.", zones=["a"])
    Accounts(store).create_first_admin(ADMIN[0], ADMIN[1], ADMIN[1])
    daemon = DaemonProcess(root, keep_config=True)
    try:
        daemon.wait_event(lambda e: e["type"] == "ready", timeout=60)
        app = create_app(config, store=store, testing=True)   # the real control socket
        client = app.test_client()
        token = _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        assert client.post("/login", data={"csrf_token": token, "username": ADMIN[0],
                                           "password": ADMIN[1]}).status_code == 302
        token = _CSRF.search(client.get("/zones").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        window = _closed_window(config.device.timezone)
        saved = client.post("/zones/a/windows", data={"csrf_token": token, "windows": window})
        assert saved.status_code == 302
        daemon.wait_event(lambda e: e["type"] == "settings_reloaded" and "zones.a.windows" in e["changed"],
                          timeout=10)
        before = _captures(config.capture_path)
        SlotRepository(store, config).add({"item_id": "dem-khuya", "kind": "once", "starts": [iso_in(6)],
                                           "zones": ["a"]}, actor="test")
        skipped = daemon.wait_event(lambda e: e["type"] == "skipped" and e["item_id"] == "dem-khuya", timeout=40)
        assert window in skipped["reason"], skipped
        assert not _plays_of(daemon, "dem-khuya")
        assert not [e for e in daemon.events_of("relay") if e["zone"] == "a" and e["on"]]
        assert _captures(config.capture_path) == before
        row = store.query_one("SELECT outcome FROM play_log WHERE item_id = 'dem-khuya'")
        assert row is not None and row["outcome"] == "skipped"
        # The status shows the effective window and that it comes from the panel.
        status = json.loads(daemon.cli("status", "--json").stdout)
        entry = next(s for s in status["settings"] if s["key"] == "zones.a.windows")
        assert entry["value"] == [window] and entry["source"] == "panel" and entry["updated_by"] == ADMIN[0]
        checked = daemon.cli("check-config", "--json")
        assert checked.returncode == 0, checked.stderr
        sources = {s["key"]: s for s in json.loads(checked.stdout)["settings_sources"]}
        assert sources["zones.a.windows"]["source"] == "panel"
        assert sources["tts.rate"]["source"] == "file"

        # A save whose reload request never reached the daemon (panel crashed, socket busy) still
        # applies: the daemon checks the settings' version before every plan.
        operator_settings.save(store, config, {"zones.a.windows": ["00:00-00:00"]}, actor="admin")
        SlotRepository(store, config).add({"item_id": "ban-ngay", "kind": "once", "starts": [iso_in(7)],
                                           "zones": ["a"]}, actor="test")
        daemon.wait_event(lambda e: e["type"] == "play_start" and e["item_id"] == "ban-ngay", timeout=40)
        end = daemon.wait_event(lambda e: e["type"] == "play_end" and e["item_id"] == "ban-ngay", timeout=60)
        assert end["outcome"] == "completed", end
        assert [e for e in daemon.events_of("relay") if e["zone"] == "a" and e["on"]]
        assert len(_captures(config.capture_path) - before) == 1
    finally:
        daemon.terminate()
        daemon.close()
        store.close()
