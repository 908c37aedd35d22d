"""Live voice through the panel without a browser (issue 15): the panel's routes against a real
daemon (FIFO station microphone, libVLC capture, mock pins); record now, broadcast later; the
microphone allowed on the live page only; the panel over HTTPS with the station's own
certificate while plain HTTP keeps working."""

from __future__ import annotations

import re
import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.panel.tls import make_certificate, serve_https, tls_files
from appliance.state.store import Store
from tests.appliance.daemon.test_live import FifoMicrophone
from tests.support import live_signal
from tests.support.daemon_rig import Recorder, make_config, mock_factory

pytestmark = pytest.mark.timeout(120)
PASSWORD = "mật khẩu vận hành 2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    microphone = FifoMicrophone(tmp_path / "mic.fifo", live_signal.tone_sequence(4.0))
    config = make_config(tmp_path / "d", live={"capture_device": str(microphone.path), "chime": False})
    flag = tmp_path / "synchronized"
    flag.write_text("")
    store = Store.open(config.db_path)
    Accounts(store).create_user("vanhoa", PASSWORD, "operator")
    Accounts(store).create_user("xa", "mật khẩu thứ hai 2026", "operator")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    app = create_app(config, store=Store.open(config.db_path), testing=True)
    yield {"app": app, "daemon": daemon, "recorder": recorder, "config": config, "store": store}
    daemon.stop("test over")
    microphone.close()


def login(app: Any, user: str = "vanhoa", password: str = PASSWORD) -> tuple[Any, str]:
    client = app.test_client()
    token = _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": user, "password": password}).status_code == 302
    page = client.get("/live")
    return client, _CSRF.search(page.get_data(as_text=True)).group(1)


def test_record_now_then_make_it_an_announcement_that_plays(stack: dict[str, Any]) -> None:
    app, daemon, rec, store = stack["app"], stack["daemon"], stack["recorder"], stack["store"]
    client, csrf = login(app)
    started = client.post("/live/start", json={"source": "station", "mode": "record"}, headers={"X-CSRFToken": csrf})
    assert started.status_code == 200, started.text
    session_id = started.json["session_id"]
    time.sleep(3.0)
    status = client.get("/live/status").json
    assert status["active"]["phase"] == "live" and status["active"]["level_dbfs"] > -20
    assert client.post("/live/stop", json={"session_id": session_id}, headers={"X-CSRFToken": csrf}).json["ok"]
    page = client.get("/live").get_data(as_text=True)
    assert f"/live/recording/{session_id}.ogg" in page                  # the preview
    audio = client.get(f"/live/recording/{session_id}.ogg")
    assert audio.status_code == 200 and audio.data[:4] == b"OggS" and audio.headers["Content-Security-Policy"]
    made = client.post("/live/announce", data={"csrf_token": csrf, "session_id": session_id,
                                               "title": "Thông báo họp thôn", "zones": ["a"]})
    assert made.status_code == 302
    item_id = store.query_one("SELECT item_id FROM live_sessions WHERE id = ?", (session_id,))[0]
    item = store.get_item(item_id)
    assert item["kind"] == "audio" and item["state"] == "ready" and item["source"] == "local"
    assert item["media_mime"] == "audio/ogg" and item["zones"] == ["a"]
    # ... a local announcement like any other: it plays, and what plays is the recorded voice.
    daemon.play_now(item_id, actor="panel:vanhoa")
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == item_id, timeout=40)
    assert end["outcome"] == "completed"
    rate, captured = live_signal.read_wav(Path(end["capture"]))
    score, _ = live_signal.find(live_signal.resample(captured, rate), live_signal.tone_sequence(4.0))
    assert score > 0.8, score      # through Opus at 24 kbit/s and loudness normalisation


def test_the_microphone_is_allowed_on_the_live_page_only(stack: dict[str, Any]) -> None:
    client, csrf = login(stack["app"])
    assert "microphone=(self)" in client.get("/live").headers["Permissions-Policy"]
    assert "microphone=()" in client.get("/").headers["Permissions-Policy"]
    assert client.post("/live/start", json={"source": "browser"}).status_code == 400      # no CSRF token
    assert client.post("/live/chunk?session=live-0000000000000000", data=b"\0\0").status_code == 400


def test_only_the_speaker_sends_audio_and_a_second_speaker_is_told_who_is_on_air(stack: dict[str, Any]) -> None:
    app, rec = stack["app"], stack["recorder"]
    first, csrf1 = login(app)
    second, csrf2 = login(app, "xa", "mật khẩu thứ hai 2026")
    session_id = first.post("/live/start", json={"source": "browser"}, headers={"X-CSRFToken": csrf1}).json["session_id"]
    pcm = live_signal.pcm16(live_signal.tone_sequence(0.16))[:1600]
    other = second.post(f"/live/chunk?session={session_id}", data=pcm, headers={"X-CSRFToken": csrf2})
    assert other.status_code == 409 and other.json["error"]["code"] == "live.not_yours"
    refused = second.post("/live/start", json={"source": "browser"}, headers={"X-CSRFToken": csrf2})
    assert refused.status_code == 409 and "panel:vanhoa" in refused.json["message"]
    for _ in range(60):           # 3 s of audio from the speaker
        assert first.post(f"/live/chunk?session={session_id}", data=pcm, headers={"X-CSRFToken": csrf1}).json["ok"]
        time.sleep(0.05)
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=5)
    first.post("/live/stop", json={"session_id": session_id}, headers={"X-CSRFToken": csrf1})
    rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)


def test_https_with_the_station_certificate_and_http_still_works(stack: dict[str, Any]) -> None:
    config = stack["config"]
    files = tls_files(config.data_path)
    print_ = make_certificate(files, names=["localhost"], addresses=["127.0.0.1"], commune=config.device.id)
    assert len(print_.split(":")) == 32
    ca_before = files.ca.read_bytes()
    make_certificate(files, names=["localhost"], addresses=["127.0.0.1"])        # a new address: same CA
    assert files.ca.read_bytes() == ca_before and files.key.stat().st_mode & 0o077 == 0
    https = serve_https(stack["app"], files, host="127.0.0.1", port=0)
    try:
        context = ssl.create_default_context(cafile=str(files.ca))             # a phone that trusts the CA
        with urllib.request.urlopen(https.url + "login", context=context, timeout=10) as answer:  # noqa: S310
            assert answer.status == 200 and "csrf_token" in answer.read().decode()
            # Plain HTTP stays usable beside it on the same host: no HSTS, no Secure-only cookie.
            assert "Strict-Transport-Security" not in answer.headers
            assert "Secure" not in (answer.headers.get("Set-Cookie") or "")
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(https.url + "login", context=ssl.create_default_context(), timeout=10)  # noqa: S310
    finally:
        https.stop()
    client, _ = login(stack["app"])                                  # plain HTTP: unchanged
    page = client.get("/live").get_data(as_text=True)
    assert "https://localhost:8443/live" in page and "/live/station-ca.pem" in page
    assert client.get("/live/station-ca.pem").data == files.ca.read_bytes()
