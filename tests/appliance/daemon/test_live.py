"""Live voice through a real daemon (issue 15): the station-microphone path through the real
capture code (a FIFO source behind the same interface as ALSA), the real libVLC player into
its WAV capture, the real mock-pin relays, the real store and Opus recorder."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from appliance.control import ControlClient
from appliance.errors import ControlError
from tests.support import live_signal

pytestmark = pytest.mark.timeout(120)


class FifoMicrophone:
    """Writes a WAV stream into a FIFO at real-time pace, as a sound card's capture would deliver."""

    def __init__(self, path: Path, signal: np.ndarray) -> None:
        self.path = path
        os.mkfifo(path)
        self.pcm = live_signal.pcm16(signal)
        self.stop = threading.Event()
        self.silent = threading.Event()    # send digital silence instead of the signal
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():   # one capture per open (each session opens the device)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.02)
                continue
            os.set_blocking(fd, True)
            try:
                os.write(fd, live_signal.wav_bytes_header())
                begun, sent, chunk = time.monotonic(), 0, 1600
                while not self.stop.is_set():
                    piece = self.pcm[sent % len(self.pcm):][:chunk]
                    piece = bytes(len(piece)) if self.silent.is_set() else piece
                    os.write(fd, piece)
                    sent += len(piece)
                    time.sleep(max(0.0, begun + sent / 32000 - time.monotonic()))
            except BrokenPipeError:
                pass
            finally:
                os.close(fd)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(3)


@pytest.fixture()
def mic(tmp_path: Path):
    made = []

    def make(signal: np.ndarray | None = None) -> FifoMicrophone:
        m = FifoMicrophone(tmp_path / "mic.fifo", live_signal.tone_sequence(4.0) if signal is None else signal)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def relays_on(daemon) -> set[str]:
    return set(daemon.amplifiers.on_since())


def start_live(rig, tmp_path: Path, mic, **live):
    microphone = mic()
    settings = {"capture_device": str(microphone.path), "chime": False, **live}
    daemon, rec, store, config = rig(live=settings)
    daemon.start()
    return daemon, rec, store, config, microphone, ControlClient(config.socket_path)


def test_station_microphone_goes_on_air_recorded_and_logged(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic)
    assert relays_on(daemon) == set()
    started = client.request("live_start", actor="panel:chu-tich", source="station", zones=["a"])
    session_id = started["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air" and e["session_id"] == session_id, timeout=20)
    assert relays_on(daemon) == {"a"}
    time.sleep(4.0)
    status = client.request("live_status", actor="panel:chu-tich")["active"]
    assert status["on_air"] and status["speaker"] == "panel:chu-tich" and status["level_dbfs"] > -20
    assert relays_on(daemon) == {"a"}
    client.request("live_stop", actor="panel:chu-tich", session_id=session_id)
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == session_id, timeout=20)
    assert end["outcome"] == "completed"
    rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)
    deadline = time.monotonic() + 5
    while relays_on(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relays_on(daemon) == set()          # off after the cool-down
    # What the loudspeakers got is the microphone's signal (cross-correlation, not just sound).
    rate, captured = live_signal.read_wav(Path(end["capture"]))
    score, _ = live_signal.find(live_signal.resample(captured, rate), live_signal.tone_sequence(4.0))
    assert score > 0.9, score
    row = store.query_one("SELECT * FROM live_sessions WHERE id = ?", (session_id,))
    assert row["outcome"] == "stopped" and row["source"] == "station" and row["speaker"] == "panel:chu-tich"
    assert row["zones"] == '["a"]' and row["ended_at"] > row["started_at"] and row["seconds"] > 3
    recording = config.data_path / "live" / row["recording"]
    assert recording.exists() and 2_000 < recording.stat().st_size == row["recording_bytes"]
    assert recording.read_bytes()[:4] == b"OggS"
    play = store.query_one("SELECT * FROM play_log WHERE id = ?", (row["play_id"],))
    assert play["item_id"] == session_id and play["outcome"] == "completed" and play["actor"] == "panel:chu-tich"
    assert play["zones"] == '["a"]'
    # Reported to central like every play (the outbox trigger of the play log).
    assert store.query_one("SELECT COUNT(*) FROM outbox WHERE payload LIKE ?", (f"%{session_id}%",))[0] >= 1


def wait_relays_off(daemon, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while relays_on(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relays_on(daemon) == set()


def test_silence_stops_the_session_by_itself(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic, silence_stop_s=5)
    session_id = client.request("live_start", actor="cli:test", source="station")["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    assert relays_on(daemon) == {"a", "b"}     # no zones named: every zone
    microphone.silent.set()
    began = time.monotonic()
    end = rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)
    assert end["outcome"] == "silence" and 4.5 < time.monotonic() - began < 9
    play = store.query_one("SELECT outcome, reason FROM play_log WHERE item_id = ?", (session_id,))
    assert play["outcome"] == "completed" and "Silent for 5 s" in play["reason"]
    wait_relays_off(daemon)


def test_max_length_cuts_the_session(rig, tmp_path: Path, mic) -> None:
    # The smallest configurable maximum is a minute (the rule's edges: test_live_units.py).
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic, max_minutes=1)
    session_id = client.request("live_start", actor="cli:test", source="station", zones=["b"])["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    end = rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=80)
    assert end["outcome"] == "max_length" and 59 < end["seconds"] < 63
    play = store.query_one("SELECT outcome, reason FROM play_log WHERE item_id = ?", (session_id,))
    assert play["outcome"] == "cut" and "Maximum length of 1 min" in play["reason"]
    wait_relays_off(daemon)


def test_one_session_at_a_time_and_an_emergency_pre_empts(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic)
    session_id = client.request("live_start", actor="panel:chu-tich", source="station", zones=["a"])["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    with pytest.raises(ControlError) as second:
        client.request("live_start", actor="panel:van-hoa", source="browser", zones=["b"])
    assert second.value.code == "live.busy"
    assert "panel:chu-tich" in second.value.vi and "panel:chu-tich" in second.value.en
    assert store.query_one("SELECT COUNT(*) FROM live_sessions")[0] == 1
    result = client.request("emergency", actor="cli:test", text="Khẩn cấp: lũ đang lên.", zones=["a"])
    end = rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)
    assert end["outcome"] == "preempted"
    play = store.query_one("SELECT outcome FROM play_log WHERE item_id = ?", (session_id,))
    assert play["outcome"] == "interrupted"
    rec.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == result["item_id"], timeout=40)
    with pytest.raises(ControlError) as during:
        client.request("live_start", actor="panel:chu-tich", source="station")
    assert during.value.code == "live.emergency"
    rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == result["item_id"], timeout=60)
    time.sleep(1.0)
    # The live voice is not resumed after the emergency (a voice cannot be replayed).
    assert store.query_one("SELECT COUNT(*) FROM play_log WHERE item_id = ?", (session_id,))[0] == 1
    wait_relays_off(daemon)


def test_source_lost_stops_within_three_seconds(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic)
    session_id = client.request("live_start", actor="cli:test", source="station", zones=["a"])["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    time.sleep(1.0)
    microphone.close()                         # the sound card goes away
    lost = time.monotonic()
    rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == session_id, timeout=10)
    assert time.monotonic() - lost < 3.0
    rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=10)
    row = store.query_one("SELECT outcome FROM live_sessions WHERE id = ?", (session_id,))
    assert row["outcome"] == "source_lost"
    wait_relays_off(daemon)


def test_outside_the_window_only_urgent_and_it_is_logged(rig, tmp_path: Path, mic) -> None:
    microphone = mic()
    daemon, rec, store, config = rig(live={"capture_device": str(microphone.path), "chime": True},
                                     schedule={"default_windows": []})
    daemon.start()
    client = ControlClient(config.socket_path)
    with pytest.raises(ControlError) as refused:
        client.request("live_start", actor="cli:test", source="station")
    assert refused.value.code == "live.outside_window"
    assert store.query_one("SELECT COUNT(*) FROM live_sessions")[0] == 0
    session_id = client.request("live_start", actor="cli:test", source="station", urgent=True)["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    time.sleep(3.0)                            # the 1.9 s chime, then the voice
    client.request("live_stop", actor="cli:test")
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == session_id, timeout=20)
    rate, captured = live_signal.read_wav(Path(end["capture"]))
    chime = np.frombuffer(daemon.live.chime_pcm(), "<i2").astype(np.float32) / 32768
    assert live_signal.find(live_signal.resample(captured, rate), chime)[0] > 0.9
    event = store.query_one("SELECT * FROM events WHERE kind = 'live.urgent'")
    assert event is not None and session_id in event["data"]
    assert store.query_one("SELECT urgent FROM live_sessions WHERE id = ?", (session_id,))[0] == 1


def test_record_now_broadcast_later(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic)
    session_id = client.request("live_start", actor="panel:van-hoa", source="station", mode="record")["session_id"]
    time.sleep(3.0)
    assert relays_on(daemon) == set()          # recording only: nothing on air
    client.request("live_stop", actor="panel:van-hoa", session_id=session_id)
    row = store.query_one("SELECT * FROM live_sessions WHERE id = ?", (session_id,))
    assert row["mode"] == "record" and row["outcome"] == "stopped" and row["play_id"] is None
    recording = config.data_path / "live" / row["recording"]
    assert recording.stat().st_size > 1000
    assert store.query_one("SELECT COUNT(*) FROM play_log")[0] == 0


def test_a_push_button_toggles_the_station_microphone(rig, tmp_path: Path, mic) -> None:
    daemon, rec, store, config, microphone, client = start_live(rig, tmp_path, mic, button_pin=22)
    button = daemon._pin_factory.pin(22)          # gpiozero MockFactory: the wired push button
    button.drive_low()                            # pressed (to ground)
    on_air = rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
    button.drive_high()
    assert relays_on(daemon) == {"a", "b"}
    time.sleep(2.0)
    button.drive_low()                            # pressed again: stop
    button.drive_high()
    rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == on_air["session_id"], timeout=20)
    row = store.query_one("SELECT * FROM live_sessions WHERE id = ?", (on_air["session_id"],))
    assert row["speaker"] == "button:gpio22" and row["source"] == "station" and row["outcome"] == "stopped"
    wait_relays_off(daemon)


def test_a_session_cut_by_a_crash_is_closed_at_restart_with_what_was_recorded(rig, tmp_path: Path) -> None:
    from appliance.state.store import Store
    from protocol.durable import TEMP_PREFIX
    from tests.support.daemon_rig import make_config

    config = make_config(tmp_path / "data")
    store = Store.open(config.db_path)
    with store.transaction() as tx:
        tx.execute("INSERT INTO live_sessions (id, mode, source, speaker, zones, requested_at, started_at)"
                   " VALUES ('live-00000000000000aa', 'broadcast', 'browser', 'panel:x', '[\"a\"]',"
                   " '2026-12-02T01:00:00.000000Z', '2026-12-02T01:00:02.000000Z')")
    live_dir = config.data_path / "live"
    live_dir.mkdir(parents=True)
    (live_dir / f"{TEMP_PREFIX}live-00000000000000aa.ogg").write_bytes(b"OggS" + bytes(2000))
    (live_dir / ".live-00000000000000aa.pcm").write_bytes(b"")
    daemon, rec, store, config = rig(store=store)
    daemon.start()
    row = store.query_one("SELECT * FROM live_sessions WHERE id = 'live-00000000000000aa'")
    assert row["outcome"] == "interrupted" and "restarted" in row["reason"] and row["ended_at"]
    assert row["recording"] == "live-00000000000000aa.ogg" and (live_dir / row["recording"]).exists()
    assert not list(live_dir.glob(".*"))


def test_the_clock_trust_hold_does_not_block_live_voice(rig, tmp_path: Path, mic) -> None:
    microphone = mic()
    daemon, rec, store, config = rig(trusted=False, live={"capture_device": str(microphone.path), "chime": False})
    daemon.start()
    assert daemon.status()["clock"]["trusted"] is False
    client = ControlClient(config.socket_path)
    session_id = client.request("live_start", actor="cli:test", source="station", zones=["a"])["session_id"]
    rec.wait_for(lambda e: e["type"] == "live_on_air" and e["session_id"] == session_id, timeout=20)
    client.request("live_stop", actor="cli:test")
    rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)
