"""A CAP alert from end to end (issue 12 item 5): the warning centre posts a signed
Extreme/Immediate alert to central, the admin allowed its sender to air at once, and a real
station daemon (real sync, espeak-ng, libVLC capture) plays it as an emergency; the captured
sound is checked. A tampered copy and a Test alert never reach the station.

It tests what crosses from central to the station, so it runs against one central engine
(the CAP rules themselves run on both: tests/central/test_intake_cap.py).
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

    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": ["06:00-06:01"]},  # outside every window: an emergency ignores them
        "zones": [{"name": "thon-1", "relay_pin": 17, "warmup_ms": 200, "cooldown_ms": 100}],
    }, "<test>", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    result = Syncer(config, store, MediaStore(config.media_dir), client).sync_once()
    client.close()
    assert result.ok, result.error
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
