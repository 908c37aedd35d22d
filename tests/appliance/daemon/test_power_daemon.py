"""Power on the real daemon (libVLC capture, espeak-ng, gpiozero mock pins, a fake firmware flags
file): mains lost becomes an event, the panel's dashboard shows it, the heartbeat carries it and
the reference central's fleet view shows the station on battery; the battery policy holds back
normal items and still airs priority items and emergencies (and "keep_all" holds back nothing)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests
from gpiozero.pins.mock import MockFactory

from appliance.broadcast.planner import ON_BATTERY_REASON
from appliance.broadcast.slots import SlotRepository
from appliance.control import ControlClient
from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state.store import Store
from tests.conftest import CentralHandle
from tests.support.daemon_proc import DaemonProcess
from tests.support.daemon_rig import Recorder, add_text_item, iso_in, make_config
from tests.support.power_rig import MAINS_PIN, flags_file, mains_wired, set_flags


def wait_until(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def panel_client(config: Any, store: Store) -> Any:
    """The operator panel on the daemon's data directory, talking to it over the control socket."""
    from tests.appliance.panel.test_panel_support import ADMIN, Rig

    app = create_app(config, store=store, control=ControlClient(config.socket_path), testing=True)
    Accounts(store).create_first_admin(ADMIN[0], ADMIN[1], ADMIN[1])
    return Rig(app, store, config, config.data_path).login()


def power_events(store: Store) -> list[str]:
    return [e["kind"] for e in reversed(store.recent_events(200)) if e["kind"].startswith("power.")]


def test_mains_lost_is_an_event_on_the_dashboard_in_the_heartbeat_and_at_central(
        central: CentralHandle, tmp_path: Path) -> None:
    flags = flags_file(tmp_path)
    config = make_config(tmp_path / "data", device={"id": central.device_id, "data_dir": str(tmp_path / "data")},
                         central={"url": central.url, "token": central.token, "public_key": central.public_key_b64},
                         report={"heartbeat_interval_s": 5},
                         power={"mains_pin": MAINS_PIN, "throttled_source": str(flags), "poll_s": 0.2})
    timesync = tmp_path / "synchronized"
    timesync.write_text("")
    factory = MockFactory()
    mains = mains_wired(factory, present=True)
    store = Store.open(config.db_path)
    rec = Recorder()
    daemon = Daemon(config, pin_factory=factory, store=store, listener=rec, sync=True, timesync_flag=timesync)
    admin = central.admin_headers()

    def fleet_entry() -> dict[str, Any]:
        devices = requests.get(f"{central.url}/api/monitor/devices", headers=admin, timeout=30).json()["devices"]
        return next(d for d in devices if d["device_id"] == central.device_id)

    try:
        daemon.start()
        wait_until(lambda: fleet_entry()["status"] == "online", what="the first heartbeat")
        assert "on_battery" not in fleet_entry()["problems"] and power_events(store) == []
        client = panel_client(config, store)
        page = client.get("/").get_data(as_text=True)
        assert 'data-mains="present"' in page and "Nguồn điện" in page and "có điện" in page

        mains.drive(True)   # the opto stops conducting: mains lost
        rec.wait_for(lambda e: e["type"] == "power" and e["mains"] == "lost", timeout=20)
        assert power_events(store) == ["power.mains_lost"]
        status = ControlClient(config.socket_path).request("status")
        assert status["power"]["on_battery"] and "power.on_battery" in [p["code"] for p in status["problems"]]
        time.sleep(1.1)   # the panel caches the daemon's status for a second
        page = client.get("/").get_data(as_text=True)
        assert 'data-mains="lost"' in page and "mất điện: đang chạy ắc quy" in page
        assert "Mất điện lưới: trạm đang chạy bằng ắc quy dự phòng." in page   # problems now

        wait_until(lambda: "on_battery" in fleet_entry()["problems"], what="central to show the station on battery")
        entry = fleet_entry()
        assert entry["status"] == "on_battery", "the fleet table's one word is the worst problem"
        detail = requests.get(f"{central.url}/api/monitor/devices/{central.device_id}", headers=admin,
                              timeout=30).json()
        assert detail["heartbeat"]["power"]["mains"] == "lost" and detail["heartbeat"]["power"]["since"]
        fleet_page = requests.get(f"{central.url}/monitor", headers=admin, timeout=30).text
        assert "Mất điện lưới, đang chạy ắc quy" in fleet_page and 'data-status="on_battery"' in fleet_page
        device_page = requests.get(f"{central.url}/monitor/devices/{central.device_id}", headers=admin,
                                   timeout=30).text
        assert "MẤT ĐIỆN LƯỚI" in device_page

        set_flags(flags, 0x50005)   # a weak battery: under-voltage, throttled
        wait_until(lambda: {"under_voltage", "throttled"} <= set(fleet_entry()["problems"]),
                   what="central to show under-voltage and throttling")
        assert power_events(store) == ["power.mains_lost", "power.under_voltage", "power.throttled"]
        assert requests.get(f"{central.url}/api/monitor/devices/{central.device_id}", headers=admin,
                            timeout=30).json()["heartbeat"]["power"]["flags"] == 0x50005

        mains.drive(False)
        set_flags(flags, 0x50000)
        wait_until(lambda: not {"on_battery", "under_voltage", "throttled"} & set(fleet_entry()["problems"]),
                   what="central to clear the power problems")
        assert power_events(store)[-3:] == ["power.mains_restored", "power.under_voltage_over",
                                            "power.throttled_over"] or set(power_events(store)[-3:]) == {
            "power.mains_restored", "power.under_voltage_over", "power.throttled_over"}
        time.sleep(1.1)
        page = client.get("/").get_data(as_text=True)
        assert 'data-mains="present"' in page and "đã bị sụt áp từ lúc khởi động" in page
    finally:
        daemon.stop("test over")
        store.close()


def test_on_battery_the_saving_policy_holds_back_normal_items_and_airs_priority_and_emergency(
        rig: Any, tmp_path: Path) -> None:
    flags = flags_file(tmp_path)
    factory = MockFactory()
    mains_wired(factory, present=False)
    daemon, rec, store, config = rig(pin_factory=factory, power={
        "mains_pin": MAINS_PIN, "throttled_source": str(flags), "poll_s": 0.2, "battery_policy": "emergency_and_priority"})
    add_text_item(store, "tin-thuong", "Bản tin thường buổi sáng.", zones=["a"])
    add_text_item(store, "tin-uu-tien", "Bản tin ưu tiên.", priority="priority", zones=["a"])
    slots = SlotRepository(store, config)
    slots.add({"item_id": "tin-thuong", "kind": "once", "starts": [iso_in(5)]}, actor="test")
    slots.add({"item_id": "tin-uu-tien", "kind": "once", "starts": [iso_in(9)]}, actor="test")
    daemon.start()
    try:
        assert daemon.status()["power"]["saving_battery"]
        skipped = rec.wait_for(lambda e: e["type"] == "skipped" and e["item_id"] == "tin-thuong", timeout=60)
        assert skipped["reason"] == ON_BATTERY_REASON.en and skipped["reason_vi"] == ON_BATTERY_REASON.vi
        played = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "tin-uu-tien", timeout=90)
        assert played["outcome"] == "completed"
        result = ControlClient(config.socket_path).request(
            "emergency", actor="cli:test", text="Khẩn cấp: lũ đang lên, bà con di chuyển lên chỗ cao.")
        alert = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == result["item_id"], timeout=90)
        assert alert["outcome"] == "completed"
        relays_for_normal = [e for e in rec.of("relay") if e["on"] and "tin-thuong" in e.get("reason", "")]
        assert relays_for_normal == [], "no amplifier warmed up for the item held back"
        rows = store.query("SELECT item_id, outcome, reason FROM play_log ORDER BY created_at")
        assert [(r["item_id"], r["outcome"]) for r in rows][:2] == [("tin-thuong", "skipped"),
                                                                   ("tin-uu-tien", "completed")]
        assert rows[0]["reason"] == ON_BATTERY_REASON.en
        playlog = panel_client(config, store).get("/playlog").get_data(as_text=True)
        assert ON_BATTERY_REASON.vi in playlog, "the operator reads why in Vietnamese"
    finally:
        daemon.stop("test over")


def test_keep_all_airs_normal_items_on_battery(rig: Any, tmp_path: Path) -> None:
    factory = MockFactory()
    mains_wired(factory, present=False)
    daemon, rec, store, config = rig(pin_factory=factory, power={
        "mains_pin": MAINS_PIN, "throttled_source": "off", "poll_s": 0.2, "battery_policy": "keep_all"})
    add_text_item(store, "tin-thuong", "Bản tin thường buổi sáng.", zones=["a"])
    SlotRepository(store, config).add({"item_id": "tin-thuong", "kind": "once", "starts": [iso_in(5)]}, actor="test")
    daemon.start()
    try:
        status = daemon.status()["power"]
        assert status["on_battery"] and not status["saving_battery"] and status["flags"] is None
        played = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "tin-thuong", timeout=90)
        assert played["outcome"] == "completed" and not rec.of("skipped")
    finally:
        daemon.stop("test over")


def test_the_daemon_process_on_mock_pins_saves_the_battery_from_its_first_plan(tmp_path: Path) -> None:
    """``commune-radio run``: off a Pi the pins are gpiozero's MockFactory, where nothing drives the
    mains-sense input, so its pull-up reads "mains lost" (as a broken wire would on a board)."""
    from tests.appliance.daemon.test_faults_process import seeded_store

    root = tmp_path / "station"
    extra = '\n[power]\nmains_pin = 22\nthrottled_source = "off"\npoll_s = 0.5\nbattery_policy = "emergency_and_priority"\n'
    store, config = seeded_store(root, extra=extra)
    add_text_item(store, "tin-thuong", "Bản tin thường.", zones=["a"])
    SlotRepository(store, config).add({"item_id": "tin-thuong", "kind": "once", "starts": [iso_in(8)]}, actor="test")
    store.close()
    daemon = DaemonProcess(root, keep_config=True)
    try:
        daemon.wait_event(lambda e: e["type"] == "ready", timeout=90)
        skipped = daemon.wait_event(lambda e: e["type"] == "skipped" and e["item_id"] == "tin-thuong", timeout=90)
        assert skipped["reason"] == ON_BATTERY_REASON.en
        status = json.loads(daemon.cli("status", "--json").stdout)
        assert status["power"]["mains"] == "lost" and status["power"]["saving_battery"]
        text = daemon.cli("status").stdout
        assert "Nguồn điện: ĐANG CHẠY ẮC QUY (mất điện lưới)" in text and "Đang tiết kiệm ắc quy" in text, text
        emergency = daemon.cli("emergency", "Khẩn cấp: kiểm tra loa.")
        assert emergency.returncode == 0, emergency.stderr
        end = daemon.wait_event(lambda e: e["type"] == "play_end" and e["item_id"] != "tin-thuong", timeout=90)
        assert end["outcome"] == "completed"
        health = daemon.cli("health")
        assert "Mất điện lưới" in health.stdout, health.stdout
        assert daemon.terminate() == 0
    finally:
        daemon.close()
    store = Store.open(config.db_path)
    try:
        kinds = [e["kind"] for e in store.recent_events(200)]
        assert "power.mains_lost" in kinds, "recorded durably by the process"
    finally:
        store.close()
