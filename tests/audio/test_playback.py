"""Playback through real libVLC into its afile (WAV capture) output; the captured sound is checked.

Clips are generated here (sines with ``wave``; one MP3 through ffmpeg). Streams come from a
local HTTP server on 127.0.0.1 (tests/support/streamserver.py). Real-time waits have generous
timeouts: the machine is shared and loaded.
"""

from __future__ import annotations

import array
import datetime as dt
import math
import shutil
import subprocess
import time
import wave
from pathlib import Path

import pytest

from audio.errors import PlaybackError
from audio.playback import Player
from audio.playback_checks import (
    WatchLimits,
    capture_name,
    detect_output,
    end_outcome,
    parse_source,
    sanitize_label,
    volume_gain,
    watchdog_verdict,
)
from protocol.errors import ValidationError
from tests.support.streamserver import Route, StreamServer, endless_wav_header, refused_url, wav_bytes

RATE = 44100
FREQ = 440.0
TOLERANCE_S = 0.3
WAIT_S = 30.0  # upper bound for real-time waits on a loaded machine, never a timing target


def sine_frames(seconds: float, amplitude: float = 0.5, freq: float = FREQ) -> bytes:
    count = int(seconds * RATE)
    peak = amplitude * 32767
    return array.array("h", (int(peak * math.sin(2 * math.pi * freq * i / RATE)) for i in range(count))).tobytes()


def write_wav(path: Path, frames: bytes) -> Path:
    path.write_bytes(wav_bytes(frames, RATE))
    return path


def analyse(path: Path) -> tuple[float, float, float]:
    """(duration s, RMS as a fraction of full scale, dominant frequency from zero crossings)."""
    with wave.open(str(path), "rb") as reader:
        assert reader.getsampwidth() == 2
        channels = reader.getnchannels()
        rate = reader.getframerate()
        samples = array.array("h", reader.readframes(reader.getnframes()))
    mono = samples[::channels]
    duration = len(mono) / rate
    if not mono:
        return 0.0, 0.0, 0.0
    rms = math.sqrt(sum(s * s for s in mono) / len(mono)) / 32768
    crossings = sum(1 for a, b in zip(mono, mono[1:], strict=False) if (a < 0) != (b < 0))
    return duration, rms, crossings / 2 / duration


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {
        "one": write_wav(folder / "one.wav", sine_frames(1.0)),
        "two": write_wav(folder / "two.wav", sine_frames(2.0)),
        "three": write_wav(folder / "three.wav", sine_frames(3.0)),
    }
    garbage = folder / "garbage.mp3"  # a non-audio file wearing an audio extension
    garbage.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(60_000)))
    made["garbage"] = garbage
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    made["empty"] = empty
    return made


@pytest.fixture()
def capture_dir(tmp_path: Path) -> Path:
    return tmp_path / "capture"


@pytest.fixture()
def player(capture_dir: Path) -> Player:
    with Player("capture", capture_dir, volume=100) as p:
        yield p


@pytest.fixture()
def server() -> StreamServer:
    with StreamServer() as srv:
        yield srv


def leftovers(capture_dir: Path) -> list[Path]:
    return sorted(p for p in capture_dir.iterdir() if p.name.startswith(".part-"))


# --------------------------------------------------------------------------- files


def test_captured_audio_matches_the_clip(player: Player, clips: dict[str, Path], capture_dir: Path) -> None:
    playback = player.play(clips["two"], expected_duration_s=2.0, label="Bản tin sáng/thử")
    assert playback.started.wait(WAIT_S), "audio never started"
    assert playback.started_at is not None and playback.started_at.tzinfo is not None
    result = playback.wait(WAIT_S)
    assert result is not None, "playback did not finish"
    assert result.outcome == "completed", result
    assert result.error is None and result.failure is None
    assert result.capture_path is not None and result.capture_path.parent == capture_dir
    assert result.capture_path.name.endswith("_Ban-tin-sang-thu.wav")
    duration, rms, freq = analyse(result.capture_path)
    assert abs(duration - 2.0) <= TOLERANCE_S
    assert abs(result.played_s - duration) < 0.01
    assert rms > 0.3  # a 0.5-amplitude sine has RMS 0.354: the capture is the clip, not silence
    assert abs(freq - FREQ) < 10
    assert playback.done.is_set()
    assert leftovers(capture_dir) == []


def test_mp3_file_plays(player: Player, tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    mp3 = tmp_path / "clip.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={FREQ}:duration=1.5",
                    "-ac", "1", "-ar", str(RATE), str(mp3)], check=True, timeout=60)
    result = player.play(mp3, expected_duration_s=1.5, label="mp3").wait(WAIT_S)
    assert result is not None and result.outcome == "completed", result
    assert result.capture_path is not None
    duration, rms, freq = analyse(result.capture_path)
    assert abs(duration - 1.5) <= TOLERANCE_S
    assert rms > 0.05  # lavfi sine has amplitude 1/8: RMS 0.088
    assert abs(freq - FREQ) < 15


def test_stop_mid_play_is_quick_and_keeps_a_shorter_capture(player: Player, clips: dict[str, Path],
                                                            capture_dir: Path) -> None:
    playback = player.play(clips["three"], expected_duration_s=3.0, label="stop")
    assert playback.started.wait(WAIT_S)
    time.sleep(0.6)
    began = time.monotonic()
    result = player.stop("operator")
    stop_s = time.monotonic() - began
    assert result is not None and result.outcome == "stopped", result
    assert result.stop_reason == "operator"
    assert stop_s < 2.0  # stop is fast (measured in bench/playback.py; this only catches a hang)
    assert result.capture_path is not None
    duration, rms, _ = analyse(result.capture_path)
    assert 0.3 < duration < 2.7
    assert rms > 0.3
    assert player.current is None
    assert player.stop() is None  # nothing left to stop
    assert leftovers(capture_dir) == []


def test_play_while_playing_preempts(player: Player, clips: dict[str, Path]) -> None:
    first = player.play(clips["three"], expected_duration_s=3.0, label="normal")
    assert first.started.wait(WAIT_S)
    second = player.play(clips["one"], expected_duration_s=1.0, label="khan-cap")
    # play() returns only after the first playback is released: never two outputs at once.
    first_result = first.result
    assert first_result is not None and first_result.outcome == "stopped"
    assert first_result.stop_reason == "preempted"
    assert first_result.played_s < 2.9
    second_result = second.wait(WAIT_S)
    assert second_result is not None and second_result.outcome == "completed", second_result
    assert abs(second_result.played_s - 1.0) <= TOLERANCE_S


def test_overrun_is_stopped_by_the_watchdog(capture_dir: Path, clips: dict[str, Path]) -> None:
    with Player("capture", capture_dir, watchdog_margin_s=0.5) as player:
        # The clip is 3 s but the caller was told 0.4 s: stop at 0.4 + 0.5 s.
        result = player.play(clips["three"], expected_duration_s=0.4, label="overrun").wait(WAIT_S)
    assert result is not None and result.outcome == "overrun", result
    assert result.error_code == "playback.overrun"
    assert result.failure is not None and result.failure.en != result.failure.vi
    assert 0.5 < result.played_s < 2.8


def test_volume_scales_the_captured_audio(capture_dir: Path, clips: dict[str, Path]) -> None:
    with Player("capture", capture_dir, volume=100) as player:
        loud = player.play(clips["one"], expected_duration_s=1.0, label="loud").wait(WAIT_S)
        player.set_volume(50)
        assert player.volume == 50
        quiet = player.play(clips["one"], expected_duration_s=1.0, label="quiet").wait(WAIT_S)
        playing = player.play(clips["one"], expected_duration_s=1.0, label="change")
        assert playing.started.wait(WAIT_S)
        player.set_volume(70)  # a change mid-play must not disturb the playback
        changed = playing.wait(WAIT_S)
        with pytest.raises(ValidationError):
            player.set_volume(101)
        with pytest.raises(ValidationError):
            player.set_volume(-1)
        with pytest.raises(ValidationError):
            player.set_volume("80")  # type: ignore[arg-type]
        assert player.volume == 70
    assert loud is not None and quiet is not None and changed is not None
    assert loud.outcome == quiet.outcome == changed.outcome == "completed"
    assert loud.capture_path is not None and quiet.capture_path is not None
    _, loud_rms, _ = analyse(loud.capture_path)
    _, quiet_rms, _ = analyse(quiet.capture_path)
    assert loud_rms > 0.3
    # libVLC's software volume law is cubic: 50 % volume is 1/8 of the amplitude.
    assert quiet_rms / loud_rms == pytest.approx(volume_gain(50), rel=0.1)


def test_dummy_output_reports_length_from_the_media(clips: dict[str, Path]) -> None:
    with Player("dummy") as player:
        playback = player.play(clips["one"], expected_duration_s=1.0, label="dummy")
        assert playback.started.wait(WAIT_S)
        result = playback.wait(WAIT_S)
    assert result is not None and result.outcome == "completed", result
    assert result.capture_path is None
    assert abs(result.played_s - 1.0) <= TOLERANCE_S


# --------------------------------------------------------------------------- streams


def test_stalled_stream_is_stopped_by_the_watchdog(capture_dir: Path, server: StreamServer) -> None:
    # A live stream that sends 2.5 s of audio, then keeps the connection open and silent.
    url = server.add("/stall.wav", Route(header=endless_wav_header(RATE), body=sine_frames(1.0), loop=True,
                                         rate_bps=RATE * 2, stall_after=int(RATE * 2 * 2.5)))
    with Player("capture", capture_dir, volume=100, stall_timeout_s=1.5) as player:
        playback = player.play(url, expected_duration_s=None, label="relay")
        assert playback.started.wait(WAIT_S)
        result = playback.wait(WAIT_S)
    assert result is not None and result.outcome == "stalled", result
    assert result.error_code == "playback.stalled"
    assert result.capture_path is not None
    duration, rms, _ = analyse(result.capture_path)
    assert 1.0 < duration <= 2.5 + TOLERANCE_S
    assert rms > 0.3


def test_stream_that_never_delivers_audio_is_stalled(capture_dir: Path, server: StreamServer) -> None:
    url = server.add("/silent.wav", Route(header=endless_wav_header(RATE), body=sine_frames(1.0), loop=True,
                                          stall_after=0))
    with Player("capture", capture_dir, stall_timeout_s=1.5) as player:
        playback = player.play(url, expected_duration_s=None, label="mute")
        result = playback.wait(WAIT_S)
    assert result is not None and result.outcome == "stalled", result
    assert not playback.started.is_set()
    assert result.played_s == 0.0
    assert result.capture_path is None
    assert list(capture_dir.iterdir()) == []


def test_stream_with_a_duration_stops_at_the_duration(player: Player, server: StreamServer,
                                                      capture_dir: Path) -> None:
    url = server.add("/live.wav", Route(header=endless_wav_header(RATE), body=sine_frames(1.0), loop=True,
                                        rate_bps=RATE * 2))
    playback = player.play(url, expected_duration_s=None, max_duration_s=1.5, label="VOV1")
    assert playback.started.wait(WAIT_S)
    result = playback.wait(WAIT_S)
    assert result is not None and result.outcome == "completed", result
    assert result.capture_path is not None
    duration, rms, freq = analyse(result.capture_path)
    assert abs(duration - 1.5) <= TOLERANCE_S
    assert rms > 0.3
    assert abs(freq - FREQ) < 10
    assert leftovers(capture_dir) == []


def test_stream_that_ends_before_its_duration_is_an_error(player: Player, server: StreamServer) -> None:
    url = server.add("/short.wav", Route(body=wav_bytes(sine_frames(1.0), RATE), rate_bps=RATE * 4))
    result = player.play(url, expected_duration_s=None, max_duration_s=5.0, label="short").wait(WAIT_S)
    assert result is not None and result.outcome == "error", result
    assert result.error_code == "playback.stream_ended"
    assert abs(result.played_s - 1.0) <= TOLERANCE_S


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("case", "code"), [
    ("missing", "playback.missing_file"),
    ("empty", "playback.empty_file"),
    ("garbage", "playback.not_audio"),
    ("header_only", "playback.not_audio"),
    ("text", "playback.not_audio"),
    ("garbage_stream", "playback.not_audio"),
    ("directory", "playback.not_a_file"),
    ("http_404", "playback.http_status"),
    ("refused", "playback.unreachable"),
    ("ftp", "playback.bad_source"),
    ("blank", "playback.bad_source"),
])
def test_bad_sources_give_a_clear_error_and_capture_nothing(case: str, code: str, player: Player,
                                                            clips: dict[str, Path], server: StreamServer,
                                                            capture_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "header.wav").write_bytes(wav_bytes(b"", RATE))
    (tmp_path / "text.wav").write_text("Đây không phải âm thanh.\n" * 40, encoding="utf-8")
    garbage_url = server.add("/garbage.mp3", Route(body=clips["garbage"].read_bytes(), content_type="audio/mpeg"))
    sources: dict[str, Path | str] = {
        "missing": tmp_path / "no-such-file.wav",
        "empty": clips["empty"],
        "garbage": clips["garbage"],
        "header_only": tmp_path / "header.wav",
        "text": tmp_path / "text.wav",
        "garbage_stream": garbage_url,
        "directory": tmp_path,
        "http_404": server.url("/not-there.mp3"),
        "refused": refused_url(),
        "ftp": "ftp://127.0.0.1/clip.wav",
        "blank": "   ",
    }
    playback = player.play(sources[case], expected_duration_s=2.0, label=case)
    result = playback.wait(WAIT_S)
    assert result is not None and result.outcome == "error", result
    assert result.error_code == code
    assert result.failure is not None
    assert result.error == result.failure.vi and result.failure.en and result.failure.en != result.failure.vi
    assert result.played_s == 0.0
    assert result.capture_path is None
    assert not playback.started.is_set()
    assert list(capture_dir.iterdir()) == []


def test_player_still_works_after_bad_sources(player: Player, clips: dict[str, Path], server: StreamServer) -> None:
    for source in (clips["garbage"], server.url("/nothing"), refused_url(), clips["empty"]):
        result = player.play(source, expected_duration_s=1.0).wait(WAIT_S)
        assert result is not None and result.outcome == "error"
    result = player.play(clips["one"], expected_duration_s=1.0).wait(WAIT_S)
    assert result is not None and result.outcome == "completed", result
    assert abs(result.played_s - 1.0) <= TOLERANCE_S


def test_404_error_names_the_status(player: Player, server: StreamServer) -> None:
    result = player.play(server.url("/gone.wav"), expected_duration_s=None).wait(WAIT_S)
    assert result is not None and result.failure is not None
    assert "404" in result.failure.en and "404" in result.failure.vi


def test_invalid_arguments_are_refused(tmp_path: Path, clips: dict[str, Path]) -> None:
    with pytest.raises(ValidationError):
        Player("speaker", tmp_path)
    with pytest.raises(ValidationError):
        Player("capture", None)
    with pytest.raises(ValidationError):
        Player("capture", tmp_path, volume=150)
    with pytest.raises(ValidationError):
        Player("capture", tmp_path, stall_timeout_s=0)
    if detect_output() == "capture":
        with pytest.raises(PlaybackError) as refused:
            Player("alsa")  # libVLC would report success while nothing is heard
        assert refused.value.code == "playback.no_sound_card"
    player = Player("capture", tmp_path / "c")
    with pytest.raises(ValidationError):
        player.play(clips["one"], expected_duration_s=-1.0)
    with pytest.raises(ValidationError):
        player.play(clips["one"], expected_duration_s=1.0, max_duration_s=float("nan"))
    player.close()
    with pytest.raises(PlaybackError):
        player.play(clips["one"], expected_duration_s=1.0)
    player.close()  # closing twice is harmless


# --------------------------------------------------------------------------- pure parts


LIMITS = WatchLimits(expected_s=10.0, max_s=None, margin_s=5.0, stall_s=3.0)


@pytest.mark.parametrize(("limits", "kwargs", "verdict"), [
    (LIMITS, {"now": 5.0, "requested_at": 0.0, "started_at": 0.1, "progress_s": 4.8, "progress_changed_at": 4.9},
     None),
    (LIMITS, {"now": 2.9, "requested_at": 0.0, "started_at": None, "progress_s": 0.0, "progress_changed_at": None},
     None),
    (LIMITS, {"now": 3.0, "requested_at": 0.0, "started_at": None, "progress_s": 0.0, "progress_changed_at": None},
     "stalled"),
    (LIMITS, {"now": 9.0, "requested_at": 0.0, "started_at": 0.1, "progress_s": 5.0, "progress_changed_at": 5.5},
     "stalled"),
    (LIMITS, {"now": 15.0, "requested_at": 0.0, "started_at": 0.1, "progress_s": 14.9, "progress_changed_at": 14.9},
     None),
    (LIMITS, {"now": 15.2, "requested_at": 0.0, "started_at": 0.1, "progress_s": 15.0, "progress_changed_at": 15.1},
     "overrun"),
    (WatchLimits(None, 60.0, 5.0, 3.0),
     {"now": 61.0, "requested_at": 0.0, "started_at": 1.0, "progress_s": 60.0, "progress_changed_at": 61.0},
     "completed"),
    (WatchLimits(None, 60.0, 5.0, 3.0),
     {"now": 66.5, "requested_at": 0.0, "started_at": 1.0, "progress_s": 58.0, "progress_changed_at": 66.0},
     "overrun"),
    (WatchLimits(None, None, 5.0, 3.0),
     {"now": 9999.0, "requested_at": 0.0, "started_at": 1.0, "progress_s": 9998.0, "progress_changed_at": 9998.9},
     None),
])
def test_watchdog_verdict(limits: WatchLimits, kwargs: dict[str, float | None], verdict: str | None) -> None:
    assert watchdog_verdict(limits, **kwargs) == verdict  # type: ignore[arg-type]


def test_end_outcome() -> None:
    assert end_outcome(0.0, is_stream=False, max_s=None) == "error"
    assert end_outcome(2.0, is_stream=False, max_s=None) == "completed"
    assert end_outcome(2.0, is_stream=True, max_s=None) == "completed"
    assert end_outcome(2.0, is_stream=True, max_s=60.0) == "error"
    assert end_outcome(59.5, is_stream=True, max_s=60.0) == "completed"
    assert end_outcome(2.0, is_stream=False, max_s=60.0) == "completed"


def test_capture_names_are_utc_and_safe() -> None:
    when = dt.datetime(2025, 9, 2, 7, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert capture_name(when, "Thông báo của UBND xã Đông Hà") == \
        "20250902T003000.123456Z_Thong-bao-cua-UBND-xa-Dong-Ha.wav"
    assert capture_name(when, "") == "20250902T003000.123456Z.wav"
    assert sanitize_label("../../etc/passwd") == "etc-passwd"
    assert sanitize_label("a\x00b\nc") == "a-b-c"
    assert sanitize_label("🔔🔔") == ""
    assert len(sanitize_label("x" * 500)) == 60


def test_parse_source() -> None:
    assert parse_source("https://radio.example.vn/vov1.mp3").is_stream
    assert parse_source("HTTP://127.0.0.1:8000/live").is_stream
    local = parse_source("/var/lib/commune-radio/media/ab/abc")
    assert not local.is_stream and local.uri == "/var/lib/commune-radio/media/ab/abc"
    assert not parse_source(Path("relative/clip.wav")).is_stream
    for bad in ("rtsp://cam/1", "file:///etc/passwd", "http:///nohost", "", "javascript:alert(1)"):
        with pytest.raises(PlaybackError):
            parse_source(bad)


def test_detect_output(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.write_text(" 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n"
                     "                      bcm2835 Headphones\n")
    assert detect_output(cards) == "alsa"
    cards.write_text("--- no soundcards ---\n")
    assert detect_output(cards) == "capture"
    assert detect_output(tmp_path / "missing") == "capture"
    assert detect_output() in {"alsa", "capture"}


def test_volume_gain_law() -> None:
    assert volume_gain(100) == 1.0
    assert volume_gain(0) == 0.0
    assert volume_gain(50) == pytest.approx(0.125)


def test_player_from_config(tmp_path: Path) -> None:
    from appliance.state.config import load

    config_file = tmp_path / "appliance.toml"
    config_file.write_text(f'[device]\ndata_dir = "{tmp_path}"\n[audio]\noutput = "capture"\nvolume = 35\n'
                           'stall_timeout_s = 4.0\n', encoding="utf-8")
    with Player.from_config(load(config_file)) as player:
        assert player.output == "capture"
        assert player.volume == 35
    assert (tmp_path / "capture").is_dir()
