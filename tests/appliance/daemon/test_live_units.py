"""The parts of live voice on their own: the stop rule (pure), the capture sources behind one
interface (WAV file, FIFO, pushed chunks, ALSA through arecord), the Opus recorder, the
control-channel validation, and the panel-cert command."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from appliance.control import validate_request
from appliance.daemon.live_feed import LiveLimits, stop_rule
from appliance.errors import ControlError
from audio.capture import AlsaCapture, ChunkSource, FileCapture, capture_source, level_dbfs
from audio.errors import PlaybackError
from audio.recorder import OpusRecorder
from tests.support import live_signal

LIMITS = LiveLimits(max_s=900, silence_s=60, silence_dbfs=-50, lost_s=2.5)


def rule(now: float, **kw):
    args = {"started": 0.0, "last_data": now, "silent_since": None, "ended": False, "limits": LIMITS,
            "end_at": None} | kw
    return stop_rule(now, **args)


def test_stop_rule_edges() -> None:
    assert rule(10.0) is None
    assert rule(10.0, last_data=7.6) is None
    assert rule(10.0, last_data=7.5).kind == "source_lost"
    assert rule(10.0, ended=True).kind == "source_lost"
    assert rule(899.9) is None and rule(900.0).kind == "max_length"
    assert rule(100.0, silent_since=40.1) is None and rule(100.0, silent_since=40.0).kind == "silence"
    assert rule(100.0, end_at=100.0).kind == "window_end" and rule(99.9, end_at=100.0) is None
    ending = rule(900.0)
    assert "15 phút" in ending.vi and "15 min" in ending.en
    # The source lost comes first: a dead microphone is not "silence".
    assert rule(100.0, ended=True, silent_since=0.0).kind == "source_lost"


def test_wav_file_is_read_at_real_time_pace(tmp_path: Path) -> None:
    wav = live_signal.write_wav(tmp_path / "a.wav", live_signal.tone_sequence(1.0))
    source = FileCapture(wav)
    source.start()
    began, got = time.monotonic(), b""
    while (data := source.read(1.0)) != b"":
        got += data or b""
    assert abs(len(got) - 32000) <= 1600 and 0.85 < time.monotonic() - began < 1.6
    assert got[:3200] == live_signal.pcm16(live_signal.tone_sequence(1.0))[:3200]
    assert source.ended_reason == "the source ended"


def test_fifo_source_and_its_writer_going_away(tmp_path: Path) -> None:
    fifo = tmp_path / "mic"
    os.mkfifo(fifo)
    source = capture_source(str(fifo))
    assert isinstance(source, FileCapture)
    source.start()

    def writer() -> None:
        with open(fifo, "wb") as out:
            out.write(live_signal.wav_bytes_header() + b"\x01\x00" * 800)
    threading.Thread(target=writer, daemon=True).start()
    assert source.read(3.0) == b"\x01\x00" * 800
    assert source.read(3.0) == b""       # the writer closed: ended for good


def test_a_wav_in_another_format_is_refused_with_a_reason(tmp_path: Path) -> None:
    wav = live_signal.write_wav(tmp_path / "a.wav", live_signal.tone_sequence(0.2, rate=8000), rate=8000)
    source = FileCapture(wav)
    source.start()
    assert source.read(2.0) == b""
    assert "16 kHz" in (source.ended_reason or "")


def test_pushed_chunks() -> None:
    source = ChunkSource("browser:panel:x")
    source.push(b"\x10\x00" * 800)
    assert source.read(0.1) == b"\x10\x00" * 800 and source.read(0.05) is None
    with pytest.raises(PlaybackError):
        source.push(b"\x00" * 3)        # half a sample
    for _ in range(250):               # a stuck reader: the oldest audio goes, memory stays bounded
        source.push(b"\x00\x00")
    assert source._queue.qsize() == 200
    source.finish("the browser said stop")
    while source.read(0) not in (b"", None):
        pass
    assert source.read(0.1) == b"" and source.ended_reason == "the browser said stop"


def test_levels() -> None:
    assert level_dbfs(b"\x00\x00" * 100) == -120.0
    import numpy as np

    sine = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    assert abs(level_dbfs(live_signal.pcm16(sine)) - 20 * np.log10(0.5 / np.sqrt(2))) < 0.05   # -9.03 dBFS


@pytest.mark.skipif(shutil.which("arecord") is None, reason="alsa-utils is not installed")
def test_alsa_capture_through_arecord() -> None:
    # ALSA's "null" device exists wherever alsa-lib does: arecord really runs. The null device has
    # no clock and no sound (its samples are whatever the buffer held): only the plumbing is checked.
    source = AlsaCapture("null")
    assert source.command()[:4] == ["arecord", "-q", "-D", "null"]
    source.start()
    assert source.read(3.0)
    began, got = time.monotonic(), 0
    while time.monotonic() - began < 1.0:
        got += len(source.read(0.5) or b"")
    assert got > 0 and got % 2 == 0
    source.close()
    assert source._process is not None and source._process.poll() is not None   # arecord is stopped
    # A device that does not exist ends the source with arecord's own reason.
    missing = AlsaCapture("hw:99,0")
    missing.start()
    deadline = time.monotonic() + 5
    while missing.read(0.2) != b"" and time.monotonic() < deadline:
        pass
    assert "hw:99,0" in (missing.ended_reason or "")


def test_an_unconfigured_station_microphone_is_a_clear_error() -> None:
    with pytest.raises(PlaybackError) as err:
        capture_source("")
    assert err.value.code == "capture.not_configured" and "live.capture_device" in err.value.en


def test_recorder_writes_opus_in_ogg(tmp_path: Path) -> None:
    recorder = OpusRecorder(tmp_path / "live" / "x.ogg")
    recorder.write(live_signal.pcm16(live_signal.tone_sequence(3.0)))
    path, size = recorder.close()
    assert path == tmp_path / "live" / "x.ogg" and path.read_bytes()[:4] == b"OggS"
    assert 4_000 < size < 16_000        # ~24 kbit/s for 3 s
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                            str(path)], capture_output=True, text=True)
    assert probe.stdout.strip() == "opus"
    empty = OpusRecorder(tmp_path / "live" / "y.ogg")
    assert empty.close() == (None, 0) and not list((tmp_path / "live").glob(".*y.ogg"))


def test_control_validation_of_live_requests() -> None:
    zones = ["a", "b"]
    action, params, _ = validate_request({"action": "live_start", "actor": "panel:x",
                                          "params": {"source": "station", "zones": ["b"], "urgent": True}}, zones)
    assert params == {"source": "station", "mode": "broadcast", "zones": ["b"], "urgent": True, "chime": None}
    for bad in ({"source": "radio"}, {"mode": "later"}, {"urgent": "yes"}, {"zones": ["c"]}, {"extra": 1}):
        with pytest.raises(ControlError):
            validate_request({"action": "live_start", "actor": "panel:x", "params": bad}, zones)
    for bad in ({"session_id": "live-1", "data": "AAAA"}, {"session_id": "live-" + "0" * 16, "data": ""},
                {"session_id": "live-" + "0" * 16, "data": "A" * 50_000}):
        with pytest.raises(ControlError):
            validate_request({"action": "live_chunk", "actor": "panel:x", "params": bad}, zones)


def test_panel_cert_command(tmp_path: Path) -> None:
    from cryptography import x509

    from appliance.cli import main

    out = tmp_path / "tls"
    assert main(["panel-cert", "--dir", str(out), "--address", "192.0.2.7", "--name", "dai-xa.local"]) == 0
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "dai-xa.local" in names.get_values_for_type(x509.DNSName)
    assert "192.0.2.7" in [str(a) for a in names.get_values_for_type(x509.IPAddress)]
    before = (out / "cert.pem").read_bytes()
    assert main(["panel-cert", "--dir", str(out), "--if-missing"]) == 0
    assert (out / "cert.pem").read_bytes() == before


def test_pacer_keeps_the_delay_bounded() -> None:
    from appliance.daemon.live_feed import Pacer

    pacer = Pacer(32_000, target_s=0.08, max_s=0.3, window_s=1.0)
    assert pacer.take(640) == bytes(640)               # silence while it fills
    pacer.add(b"\x01\x00" * 1280)                      # 80 ms: primed
    assert pacer.take(640) == b"\x01\x00" * 320
    assert pacer.take(4000)[-2:] == b"\x00\x00" and pacer.underruns == 1 and not pacer.primed
    pacer.add(b"\x02\x00" * 8000)                      # a late burst of 500 ms: trimmed to the target
    assert len(pacer.buffer) == pacer.target and pacer.dropped > 0
    pacer = Pacer(32_000, target_s=0.08, max_s=0.3, window_s=1.0)
    pacer.add(bytes(6400))                             # 200 ms buffered, then fed exactly at real time
    for _ in range(50):                                # one second of 20 ms takes
        pacer.add(bytes(640))
        assert len(pacer.take(640)) == 640
    assert len(pacer.buffer) == pacer.target           # the surplus nobody needed is dropped
    assert pacer.take(641) and len(pacer.take(641)) == 640   # whole samples only


def test_old_recordings_are_pruned_and_their_rows_kept(tmp_path: Path) -> None:
    from appliance.daemon import live_records
    from appliance.state.store import Store

    store = Store.open(tmp_path / "state.sqlite3")
    directory = tmp_path / "live"
    directory.mkdir()
    for name, age_days in (("live-000000000000000a", 100), ("live-000000000000000b", 2)):
        path = directory / f"{name}.ogg"
        path.write_bytes(b"OggS" + bytes(100))
        old = time.time() - age_days * 86400
        os.utime(path, (old, old))
        with store.transaction() as tx:
            tx.execute("INSERT INTO live_sessions (id, mode, source, speaker, zones, requested_at, outcome, recording)"
                       " VALUES (?, 'broadcast', 'station', 'cli:x', '[]', '2026-01-01T00:00:00.000000Z',"
                       " 'completed', ?)", (name, path.name))
    assert live_records.prune(store, directory, days=90) == (1, 104)
    rows = {r["id"]: r["recording"] for r in store.query("SELECT id, recording FROM live_sessions")}
    assert rows == {"live-000000000000000a": None, "live-000000000000000b": "live-000000000000000b.ogg"}
    store.close()


def test_the_signal_finder_tells_the_signal_from_other_sound() -> None:
    import numpy as np

    reference = live_signal.tone_sequence(4.0)
    capture = np.concatenate([np.zeros(8000, np.float32), reference, np.zeros(8000, np.float32)])
    assert live_signal.find(capture, reference)[0] > 0.99
    other = live_signal.tone_sequence(4.0, seed=99)                     # same tones, another order
    noise = np.random.default_rng(1).normal(0, 0.2, 64000).astype(np.float32)
    assert live_signal.find(other, reference)[0] < 0.9
    assert live_signal.find(noise, reference)[0] < 0.3
