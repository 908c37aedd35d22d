"""Items and the station's own zones, against the real central on loopback and the real daemon.

Central registered this device with zones thon-1 and thon-2; the station itself has thon-1 and
thon-3 (a technician renamed a zone, or central's record is stale). An item for thon-2 only is
not for this station: recorded so (and reported), never playable, and play-now refuses it with
a reason instead of "Play request sent.". Play-now of an item is limited to the item's own
zones: ticking thon-3 for a thon-1 bulletin does not air it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.control import ControlClient
from appliance.daemon import Daemon
from appliance.errors import ControlError
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from tests.support.daemon_rig import Recorder, mock_factory
from tests.support.report_rig import make_reporter

PASSWORD = "mật khẩu quản trị 2026"


@pytest.fixture
def station(central: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    central.text_item(title="Cho thôn 2", text="Bản tin của thôn hai.", zones=["thon-2"], item_id="for-thon-2")
    central.text_item(title="Cho thôn 1", text="Xin chào bà con thôn một.", zones=["thon-1"], item_id="for-thon-1")
    central.text_item(title="Cho cả xã", text="Xin chào cả xã.", item_id="for-all")
    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": ["00:00-00:00"]},
        "zones": [{"name": "thon-1", "relay_pin": 17, "warmup_ms": 200, "cooldown_ms": 100},
                  {"name": "thon-3", "relay_pin": 27, "warmup_ms": 200, "cooldown_ms": 100}],
    }, "<test>", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    result = Syncer(config, store, MediaStore(config.media_dir), client).sync_once()
    client.close()
    assert result.ok, result.error
    flag = tmp_path / "synchronized"
    flag.write_text("")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    assert daemon.wait_ready(10)
    try:
        yield {"config": config, "store": store, "daemon": daemon, "recorder": recorder}
    finally:
        daemon.stop("test over")


def test_an_item_for_zones_this_station_lacks_is_recorded_as_not_for_it(central: Any,
                                                                         station: dict[str, Any]) -> None:
    store = station["store"]
    item = store.get_item("for-thon-2")
    assert (item["state"], item["reject_reason"]) == ("rejected", "wrong_zone")
    assert {store.get_item(i)["state"] for i in ("for-thon-1", "for-all")} == {"ready"}
    assert "for-thon-2" not in {i["id"] for i in store.playable_items()}
    (rejection,) = store.recent_rejections()
    assert rejection["item_id"] == "for-thon-2" and rejection["reason"] == "wrong_zone"
    assert "thon-2" in rejection["en"] and "thon-1, thon-3" in rejection["en"]
    # Central hears of it like any other refusal.
    reporter = make_reporter(station["config"], store)
    try:
        reporter.upload_once()
    finally:
        reporter.client.close()
    reported = central.server.app.extensions["central.monitor"].log_entries(central.device_id,
                                                                           entry_type="rejected")
    assert [(e["data"]["item_id"], e["data"]["reason"]) for e in reported] == [("for-thon-2", "wrong_zone")]


def test_play_now_is_limited_to_the_items_own_zones(station: dict[str, Any]) -> None:
    config, daemon, recorder = station["config"], station["daemon"], station["recorder"]
    control = ControlClient(config.socket_path)
    with pytest.raises(ControlError) as refused:
        control.request("play", actor="cli:test", item_id="for-thon-2")
    assert refused.value.code == "invalid_input.wrong_zone" and "thon-2" in refused.value.en
    with pytest.raises(ControlError) as refused:
        control.request("play", actor="cli:test", item_id="for-thon-1", zones=["thon-3"])
    assert refused.value.code == "invalid_input.wrong_zone" and "thon-1" in refused.value.en
    # Ticking both zones airs it only where it is meant to be heard.
    control.request("play", actor="cli:test", item_id="for-thon-1", zones=["thon-1", "thon-3"])
    end = recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "for-thon-1", timeout=60)
    assert end["outcome"] == "completed"
    assert daemon.playlog.get(end["play_id"])["zones"] == ["thon-1"]
    assert not [e for e in recorder.of("relay") if e["zone"] == "thon-3" and e["on"]]
    assert not [e for e in recorder.of("play_start") if e["item_id"] == "for-thon-2"]


def test_the_panel_says_why_and_never_answers_play_request_sent(station: dict[str, Any]) -> None:
    config, store = station["config"], station["store"]
    Accounts(store).create_first_admin("admin", PASSWORD, PASSWORD)
    app = create_app(config, store=Store.open(config.db_path), testing=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    page = client.get("/items").get_data(as_text=True)
    card = page.split('id="item-for-thon-2"')[1].split("</article>")[0]
    assert "Không dành cho trạm này" in card and "thon-2" in card
    assert "Phát ngay" not in card  # no play button for it
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for item_id, zones in (("for-thon-2", []), ("for-thon-1", ["thon-3"])):
        answer = client.post(f"/items/{item_id}/play", data={"csrf_token": token, "zones": zones},
                             follow_redirects=True)
        text = answer.get_data(as_text=True)
        assert "Đã gửi lệnh phát" not in text, item_id
        assert "không dành cho" in text.lower(), (item_id, text[-3000:])


def test_a_zone_added_later_makes_the_item_playable_and_a_zone_removed_withdraws_it(central: Any,
                                                                                    tmp_path: Path) -> None:
    central.text_item(title="Cho thôn 2", text="Bản tin của thôn hai.", zones=["thon-2"], item_id="for-thon-2")

    def sync_with(zones: list[str]) -> Store:
        config = config_module.from_mapping({
            "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
            "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
            "zones": [{"name": z, "relay_pin": 17 + i} for i, z in enumerate(zones)],
        }, "<test>", env={})
        store = Store.open(config.db_path)
        client = CentralClient.from_config(config)
        assert Syncer(config, store, MediaStore(config.media_dir), client).sync_once().ok
        client.close()
        return store

    with sync_with(["thon-1"]) as store:
        assert store.get_item("for-thon-2")["state"] == "rejected"
    with sync_with(["thon-1", "thon-2"]) as store:  # the technician adds the zone
        assert (store.get_item("for-thon-2")["state"], store.get_item("for-thon-2")["reject_reason"]) == \
            ("ready", None)
    with sync_with(["thon-1"]) as store:  # and removes it again
        assert store.get_item("for-thon-2")["reject_reason"] == "wrong_zone"
        assert [r["reason"] for r in store.recent_rejections()] == ["wrong_zone", "wrong_zone"]
