"""A schedule the station refuses (too frequent, too long, not understood) is visible everywhere:
``commune-radio items`` and ``status``, the panel, the event log, and central (a ``rejected``
outbox entry), once per item version, with the reason in Vietnamese and English.

Real central on loopback, real daemon in-process (libVLC capture, MockFactory pins).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.cli import main
from appliance.commands.control import format_status
from appliance.control import ControlClient
from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from tests.support.daemon_rig import Recorder, mock_factory
from tests.support.report_rig import make_reporter

PASSWORD = "mật khẩu quản trị 2026"
EVERY_5_MIN = {"type": "rrule", "dtstart": "2025-06-01T06:00:00", "tzid": "Asia/Ho_Chi_Minh",
               "rrule": "FREQ=MINUTELY;INTERVAL=5", "exdates": [], "duration_s": 60}
THREE_HOURS = {"type": "rrule", "dtstart": "2025-06-01T06:00:00", "tzid": "Asia/Ho_Chi_Minh",
               "rrule": "FREQ=DAILY", "exdates": [], "duration_s": 3 * 3600}
DAILY = {"type": "rrule", "dtstart": "2025-06-01T06:00:00", "tzid": "Asia/Ho_Chi_Minh",
         "rrule": "FREQ=DAILY", "exdates": [], "duration_s": 300}


def _config_toml(central: Any, data_dir: Path) -> str:
    return f"""
[device]
id = "{central.device_id}"
data_dir = "{data_dir}"

[central]
url = "{central.url}"
token = "{central.token}"
public_key = "{central.public_key_b64}"

[audio]
output = "capture"
chime = false

[schedule]
min_interval_minutes = 30
max_duration_minutes = 120

[[zones]]
name = "thon-1"
relay_pin = 17
"""


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


@pytest.fixture
def station(central: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    central.text_item(title="Nhắc mỗi 5 phút", text="Bà con chú ý.", schedule=EVERY_5_MIN, item_id="too-often")
    central.text_item(title="Ba tiếng", text="Bản tin dài.", schedule=THREE_HOURS, item_id="too-long")
    central.text_item(title="Hằng ngày", text="Bản tin sáng.", schedule=DAILY, item_id="daily")
    path = tmp_path / "appliance.toml"
    path.write_text(_config_toml(central, tmp_path / "device"), encoding="utf-8")
    config: Config = config_module.load(str(path))
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    assert Syncer(config, store, MediaStore(config.media_dir), client).sync_once().ok
    client.close()
    flag = tmp_path / "synchronized"
    flag.write_text("")

    def start() -> Daemon:
        daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=Recorder(), sync=False,
                        timesync_flag=flag)
        daemon.start()
        assert daemon.wait_ready(10)
        return daemon

    daemon = start()
    _wait(lambda: all(store.get_item(i).get("schedule_refusal") for i in ("too-often", "too-long")))
    try:
        yield {"config": config, "config_path": path, "store": store, "daemon": daemon, "start": start}
    finally:
        daemon.stop("test over")


def test_refused_schedules_show_in_items_status_panel_and_the_event_log(
        station: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    store, config = station["store"], station["config"]
    assert store.get_item("too-often")["schedule_refusal"]["code"] == "schedule_invalid.too_frequent"
    assert store.get_item("too-long")["schedule_refusal"]["code"] == "schedule_invalid.too_long"
    assert store.get_item("daily").get("schedule_refusal") is None

    # commune-radio items (table and JSON), in both languages.
    assert main(["--config", str(station["config_path"]), "items"]) == 0
    table = capsys.readouterr().out
    line = next(ln for ln in table.splitlines() if ln.startswith("too-often"))
    assert "lịch bị từ chối" in line
    assert "lịch bị từ chối" not in next(ln for ln in table.splitlines() if ln.startswith("daily"))
    assert main(["--config", str(station["config_path"]), "--lang", "en", "items"]) == 0
    assert "schedule refused" in next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("too-long"))

    # commune-radio status (human form).
    status = ControlClient(config.socket_path).request("status")
    text = format_status(status)
    assert "too-often" in text and "too-long" in text and "dày hơn mức tối thiểu" in text
    assert "refused" in format_status(status, en=True).lower()

    # The event log says it once per item.
    events = [e for e in store.recent_events(500) if e["kind"] == "schedule_refused"]
    assert sorted(e["data"]["id"] for e in events) == ["too-long", "too-often"]

    # The panel.
    Accounts(store).create_first_admin("admin", PASSWORD, PASSWORD)
    app = create_app(config, store=Store.open(config.db_path), testing=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})
    page = client.get("/items").get_data(as_text=True)
    card = page.split('id="item-too-often"')[1].split("</article>")[0]
    assert "Lịch phát bị từ chối" in card and "dày hơn mức tối thiểu 30 phút" in card
    assert "Lịch phát bị từ chối" not in page.split('id="item-daily"')[1].split("</article>")[0]
    # The week view does not show occurrences that will not happen, and says why.
    week = client.get("/schedule").get_data(as_text=True)
    assert 'data-item="too-often"' not in week and 'data-item="daily"' in week
    refused = week.split('id="refused-schedules"')[1].split("</section>")[0]
    assert "Nhắc mỗi 5 phút" in refused and "Ba tiếng" in refused and "Hằng ngày" not in refused


def test_refused_schedules_are_reported_to_central_once_per_version(central: Any, station: dict[str, Any]) -> None:
    store, config = station["store"], station["config"]
    rows = store.query("SELECT item_id, reason FROM rejections ORDER BY item_id")
    assert [(r["item_id"], r["reason"]) for r in rows] == [("too-long", "schedule_too_long"),
                                                           ("too-often", "schedule_too_frequent")]
    # A restart decides the same and records nothing new.
    station["daemon"].stop("restart")
    station["daemon"] = station["start"]()
    time.sleep(2)
    assert len(store.query("SELECT * FROM rejections")) == 2
    reporter = make_reporter(config, store)
    try:
        reporter.upload_once()
    finally:
        reporter.client.close()
    reported = central.server.app.extensions["central.monitor"].log_entries(central.device_id,
                                                                           entry_type="rejected")
    assert sorted((e["data"]["item_id"], e["data"]["reason"], e["data"]["version"]) for e in reported) == [
        ("too-long", "schedule_too_long", 1), ("too-often", "schedule_too_frequent", 1)]
    assert "more often than the minimum" in next(e for e in reported
                                                 if e["data"]["item_id"] == "too-often")["data"]["detail"]
