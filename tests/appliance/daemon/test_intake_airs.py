"""Intake from end to end (issue 12 items 4-6), with a real station daemon (real sync,
espeak-ng, libVLC capture; the captured sound is checked):

- a Portal feed article becomes a draft, which does not reach the station; once an editor has
  shortened and scheduled it and an approver has approved it, the station plays it on time;
- the warning centre posts a signed Extreme/Immediate CAP alert, the admin allowed its sender
  to air at once, and the station plays it as an emergency; a tampered copy and a Test alert
  never reach it.

They test what crosses from central to the station, so they run against one central engine
(the intake rules themselves run on both: tests/central/test_intake*.py).
"""

from __future__ import annotations

import array
import math
import wave
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from appliance.daemon import Daemon
from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from central.intake.fixtures import CAP_SENDER, cap_alert, sign_cap, signing_identity, tamper
from tests.support.daemon_rig import Recorder, mock_factory


def station(central: Any, tmp_path: Path, windows: list[str]) -> tuple[Any, Store]:
    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": windows},
        "zones": [{"name": "thon-1", "relay_pin": 17, "warmup_ms": 200, "cooldown_ms": 100}],
    }, "<test>", env={})
    return config, Store.open(config.db_path)


def sync(config: Any, store: Store) -> None:
    client = CentralClient.from_config(config)
    try:
        result = Syncer(config, store, MediaStore(config.media_dir), client).sync_once()
    finally:
        client.close()
    assert result.ok, result.error


def rms_of(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0


@pytest.mark.parametrize("central_engine", ["sqlite"])
def test_a_signed_extreme_alert_from_an_allowed_sender_airs_at_the_station(central: Any, tmp_path: Path) -> None:
    identity = signing_identity()
    intake = central.server.app.extensions["central.intake"]
    token = intake.sources.add("nchmf", "cap", None, push=True, certificates=[identity.cert_pem],
                               auto_senders=[CAP_SENDER])
    sent = central.clock().replace(microsecond=0)

    def post(body: bytes) -> requests.Response:
        return requests.post(f"{central.url}/v1/intake/cap", data=body, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})

    alert = cap_alert("NCHMF-E2E", sent=sent, expires=sent + timedelta(hours=2),
                      description="Lũ quét có thể xảy ra trong hai giờ tới.",
                      instruction="Bà con di chuyển lên chỗ cao ngay.")
    assert post(tamper(sign_cap(cap_alert("NCHMF-FAKE", sent=sent), identity))).status_code == 422
    assert post(sign_cap(cap_alert("NCHMF-TEST", sent=sent, status="Test"), identity)).json()["outcome"] == "test"
    taken = post(sign_cap(alert, identity)).json()
    assert taken["outcome"] == "approved"

    # Broadcast only 06:00-06:01: normal playback is refused now, an emergency ignores windows.
    config, store = station(central, tmp_path, ["06:00-06:01"])
    sync(config, store)
    assert [i["id"] for i in store.list_items()] == [taken["item_id"]]  # neither the forgery nor the Test
    assert store.get_item(taken["item_id"])["priority"] == "emergency"
    flag = tmp_path / "synchronized"
    flag.write_text("")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    try:
        assert daemon.wait_ready(10)
        start = recorder.wait_for(lambda e: e["type"] == "play_start", timeout=60)
        assert start["item_id"] == taken["item_id"]
        end = recorder.wait_for(lambda e: e["type"] == "play_end", timeout=120)
        assert end["outcome"] == "completed", end
        assert end["played_s"] > 3
        assert rms_of(Path(end["capture"])) > 300  # speech, not silence
        assert [e for e in recorder.of("relay") if e["zone"] == "thon-1" and e["on"]]
    finally:
        daemon.stop("test over")


@pytest.mark.parametrize("central_engine", ["sqlite"])
def test_a_feed_article_airs_only_after_an_editor_and_an_approver(central: Any, tmp_path: Path) -> None:
    from central.intake.fixture_server import FixtureServer
    from central.intake.fixtures import install_portal

    intake = central.server.app.extensions["central.intake"]
    with FixtureServer() as server:
        urls = install_portal(server, articles=2, huge_bytes=1)
        intake.sources.add("portal", "feed", urls.feed, zones=["thon-1"])
        assert intake.poll("portal").new == 2
    config, store = station(central, tmp_path, ["00:00-00:00"])
    sync(config, store)
    assert store.list_items() == []  # drafts never reach a station
    article = urls.articles[0]
    (item_id,) = [r["id"] for r in central.catalog.list_items() if r["title"] == article.title]
    start = (central.clock() + timedelta(seconds=6)).replace(microsecond=0)
    central.catalog.update_item(item_id, text=f"{article.title}. {article.summary}",
                                schedule={"type": "once", "starts": [start.strftime("%Y-%m-%dT%H:%M:%SZ")],
                                          "duration_s": 120})
    central.catalog.approve_item(item_id, by="Người duyệt")
    sync(config, store)
    assert [i["id"] for i in store.list_items()] == [item_id]
    flag = tmp_path / "synchronized"
    flag.write_text("")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    try:
        assert daemon.wait_ready(10)
        begun = recorder.wait_for(lambda e: e["type"] == "play_start", timeout=60)
        assert begun["item_id"] == item_id and begun["trigger"] == "schedule"
        end = recorder.wait_for(lambda e: e["type"] == "play_end", timeout=120)
        assert end["outcome"] == "completed", end
        assert rms_of(Path(end["capture"])) > 300 and end["played_s"] > 3
    finally:
        daemon.stop("test over")
