"""The whole loop with a real daemon (libVLC capture, espeak-ng, gpiozero mock pins) and the real
central: the daemon syncs an item, central queues a signed "play" command, the daemon plays it
once, and central's monitoring shows the device online with the play logged."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from appliance.daemon import Daemon
from appliance.report.outbox import Outbox
from appliance.state.store import Store
from tests.conftest import CentralHandle
from tests.support.daemon_rig import Recorder, make_config, mock_factory


def wait_until(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_daemon_plays_a_central_command_and_central_shows_the_play(central: CentralHandle, tmp_path: Path) -> None:
    item_id = central.text_item("Thông báo họp", "Mời bà con họp lúc tám giờ.", zones=["*"])
    config = make_config(tmp_path / "data", device={"id": central.device_id, "data_dir": str(tmp_path / "data")},
                         central={"url": central.url, "token": central.token, "public_key": central.public_key_b64},
                         report={"heartbeat_interval_s": 5})
    flag = tmp_path / "synchronized"
    flag.write_text("")
    store = Store.open(config.db_path)
    rec = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=rec, sync=True, timesync_flag=flag)
    monitor = central.server.app.extensions["central.monitor"]
    try:
        daemon.start()
        assert daemon.reporter is not None and daemon.reporter.alive
        wait_until(lambda: (store.get_item(item_id) or {}).get("state") == "ready", what="the item to sync")
        command = monitor.queue_command(central.device_id, "play", {"item_id": item_id}, by="test")
        rec.wait_for(lambda e: e["type"] == "play_end" and e.get("item_id") == item_id, timeout=90)
        wait_until(lambda: monitor.log_entries(central.device_id, entry_type="play"), what="the play at central")
        [play] = monitor.log_entries(central.device_id, entry_type="play")
        assert play["data"]["item_id"] == item_id and play["data"]["trigger"] == "command"
        assert play["data"]["outcome"] == "completed" and play["data"]["played_s"] > 0.5
        # Proof of play keeps its title and who asked, at central too (issue 11 fix 3).
        assert play["data"]["title"] == "Thông báo họp" and play["data"]["actor"].startswith("central:")
        wait_until(lambda: monitor.commands(central.device_id)[0]["status"] == "done", what="the command result")
        rows = store.query("SELECT trigger, actor FROM play_log WHERE item_id = ?", (item_id,))
        assert [(r["trigger"], r["actor"]) for r in rows] == [("central", f"central:{command['id']}")]
        fleet = requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(),
                             timeout=30).json()["devices"]
        assert fleet[0]["state"] == "online" and fleet[0]["last_play"]["item_id"] == item_id
        # A heartbeat interval saved in the panel reaches the running reporter (issue 11 fix 1).
        from appliance.state import settings as operator_settings

        operator_settings.save(store, config, {"report.heartbeat_interval_s": 7}, actor="admin")
        wait_until(lambda: daemon.reporter.config.report.heartbeat_interval_s == 7, what="the reporter's new interval")
        relays = monitor.log_entries(central.device_id, entry_type="relay")
        wait_until(lambda: Outbox(store).depth() == 0 or len(relays) > 0, what="relay events uploaded")
    finally:
        daemon.stop("test over")
        store.close()
    assert not daemon.reporter.alive
