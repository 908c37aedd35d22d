"""What central rendered is what the loudspeakers play; without it, the station's own voice.

A real central on loopback renders an approved text item with its voice (espeak-ng's Southern
accent, faster); a real station (sync over HTTP, the daemon with libVLC capture output) plays the
item, and the captured WAV is compared by cross-correlation with central's rendering and with
the station's own TTS of the same text. Then central removes the speech, or the station's copy is
altered: the item plays with the station's voice, and a ``speech.fallback`` event says why.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from appliance.control import ControlClient
from appliance.daemon import Daemon
from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.speech import ready_speech_sha
from appliance.sync.syncer import Syncer
from audio.prepare import Preparer
from central.config import CentralConfig, SpeechConfig
from tests.support.daemon_rig import Recorder, mock_factory

TEXT = "Thông báo của ủy ban nhân dân xã: chiều nay lúc 14 giờ, bà con thôn 2 đến nhà văn hóa họp."
OTHER = "Lịch tiêm chủng cho trẻ em sẽ bắt đầu vào sáng thứ hai tuần sau tại trạm y tế xã."
SAME, DIFFERENT = 0.8, 0.5


@pytest.fixture
def central_config(tmp_path: Path, central_database_url: str) -> CentralConfig:
    return CentralConfig(data_dir=tmp_path / "central", database_url=central_database_url,
                         speech=SpeechConfig(engine="espeak", voice="vi-vn-x-south", rate=175))


@pytest.fixture
def central_engine() -> str:
    return "sqlite"  # this is about the station; central's storage has its own tests on both engines


def pcm(path: Path) -> np.ndarray:
    """Mono 8 kHz samples, whatever the file's format."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, dtype=np.int16).astype(np.float64)


def similarity(a: Path, b: Path) -> float:
    """Peak normalized cross-correlation of two recordings (1.0: the same sound at some offset)."""
    x, y = pcm(a), pcm(b)
    x, y = x - x.mean(), y - y.mean()
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    corr = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n)), n)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.fixture
def station(central: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": ["00:00-00:00"]},
        "zones": [{"name": "thon-1", "relay_pin": 17, "warmup_ms": 200, "cooldown_ms": 100}],
    }, "<test>", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    syncer = Syncer(config, store, MediaStore(config.media_dir), client)
    flag = tmp_path / "synchronized"
    flag.write_text("")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    assert daemon.wait_ready(10)
    try:
        yield {"config": config, "store": store, "daemon": daemon, "recorder": recorder, "syncer": syncer}
    finally:
        daemon.stop("test over")
        client.close()


def play(station: dict[str, Any], item_id: str, nth: int) -> Path:
    control = ControlClient(station["config"].socket_path)
    control.request("play", actor="cli:test", item_id=item_id)
    recorder = station["recorder"]
    recorder.wait_for(lambda e: len([x for x in recorder.of("play_end") if x["item_id"] == item_id]) >= nth,
                      timeout=120)
    end = [x for x in recorder.of("play_end") if x["item_id"] == item_id][nth - 1]
    assert end["outcome"] == "completed", end
    return Path(end["capture"])


def local_tts(station: dict[str, Any], text: str, tmp_path: Path) -> Path:
    with Preparer(station["config"], tmp_path / "reference") as preparer:
        return Path(preparer.prepare_text(text).path)


def test_the_station_airs_centrals_rendering_and_falls_back_to_its_own_voice(central: Any, station: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    item_id = central.text_item(title="Họp thôn", text=TEXT, zones=["thon-1"])
    rendered = central.catalog.media.path_for(central.catalog.speech.get(item_id)["media"]["sha256"])
    assert station["syncer"].sync_once().ok
    assert ready_speech_sha(station["store"], item_id, 1) is not None
    mine = local_tts(station, TEXT, tmp_path)
    assert similarity(rendered, mine) < DIFFERENT  # the two voices really differ

    aired = play(station, item_id, 1)
    to_central, to_local = similarity(aired, rendered), similarity(aired, mine)
    print(f"central speech: correlation with central's rendering {to_central:.2f}, with local TTS {to_local:.2f}")
    assert to_central > SAME and to_local < DIFFERENT

    # Central removes the speech: the next sync drops it and the item airs with the station's voice.
    assert central.catalog.speech.remove(item_id)
    assert station["syncer"].sync_once().ok
    assert ready_speech_sha(station["store"], item_id, 1) is None
    again = play(station, item_id, 2)
    to_central, to_local = similarity(again, rendered), similarity(again, mine)
    print(f"speech removed: correlation with central's rendering {to_central:.2f}, with local TTS {to_local:.2f}")
    assert to_local > SAME and to_central < DIFFERENT


def test_altered_speech_on_the_card_airs_the_local_voice_and_says_so(central: Any, station: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    item_id = central.text_item(title="Tiêm chủng", text=OTHER, zones=["thon-1"])
    assert station["syncer"].sync_once().ok
    sha = ready_speech_sha(station["store"], item_id, 1)
    path = MediaStore(station["config"].media_dir).path_for(sha)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-1000:] = bytes(1000)  # the end of central's speech replaced by silence, on the SD card
    path.write_bytes(bytes(data))
    aired = play(station, item_id, 1)
    assert similarity(aired, local_tts(station, OTHER, tmp_path)) > SAME
    (event,) = station["store"].query("SELECT * FROM events WHERE kind = 'speech.fallback'")
    assert json.loads(event["data"])["code"] == "speech.media_altered" and item_id in event["message"]
    row = station["store"].query_one("SELECT state, reason FROM item_speech WHERE item_id = ?", (item_id,))
    assert (row["state"], row["reason"]) == ("rejected", "speech.media_altered")


def test_the_panel_says_whose_voice_airs_and_lets_the_operator_hear_it(central: Any, station: dict[str, Any]) -> None:
    import hashlib
    import re

    from appliance.panel import create_app
    from appliance.panel.accounts import Accounts

    password = "mật khẩu quản trị 2026"
    item_id = central.text_item(title="Họp thôn", text=TEXT, zones=["thon-1"])
    assert station["syncer"].sync_once().ok
    Accounts(station["store"]).create_first_admin("admin", password, password)
    app = create_app(station["config"], store=Store.open(station["config"].db_path), testing=True)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": "mật khẩu quản trị 2026"})

    def card() -> str:
        page = client.get("/items").get_data(as_text=True)
        return page.split(f'id="item-{item_id}"')[1].split("</article>")[0]

    assert "Giọng đọc khi phát: giọng trung tâm đã dựng sẵn (espeak-ng Vietnamese (Southern))" in card()
    heard = client.get(f"/items/{item_id}/audio").data
    assert hashlib.sha256(heard).hexdigest() == central.catalog.speech.get(item_id)["media"]["sha256"]
    central.catalog.speech.remove(item_id)
    assert station["syncer"].sync_once().ok
    assert "Giọng đọc khi phát: giọng của trạm (espeak-ng Vietnamese (Northern))" in card()
    assert hashlib.sha256(client.get(f"/items/{item_id}/audio").data).hexdigest() != hashlib.sha256(heard).hexdigest()
