"""Audio preparation with real ffmpeg and espeak-ng: decoding, trimming, loudness, chime, the prepared store."""

from __future__ import annotations

import hashlib
import json
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest

from appliance.state import config as config_module
from appliance.state.config import Config
from audio.chime import CHIME_PATH, chime_wav_bytes
from audio.errors import AudioError
from audio.loudness import Loudness, measure_file, parse_ebur128_summary
from audio.prepare import (
    CHANNELS,
    SAMPLE_RATE,
    Preparer,
    decode,
    linear_gain_db,
    needs_limiter,
    trim_silence,
)
from audio.tts import Synthesizer

TARGET = -16.0
CEILING = -1.0
SPEECH = ("Kính thưa bà con nhân dân trong xã. Trạm y tế xã tổ chức tiêm vắc xin phòng bệnh sởi cho trẻ em "
          "từ chín tháng đến năm tuổi vào sáng thứ bảy tuần này, tại hội trường nhà văn hóa xã.")
CODECS = {"wav": ["-c:a", "pcm_s16le"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
          "ogg": ["-c:a", "libvorbis", "-q:a", "5"], "m4a": ["-c:a", "aac", "-b:a", "128k"]}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True, timeout=60)


def make_config(tmp_path: Path, **audio: Any) -> Config:
    return config_module.from_mapping({"device": {"data_dir": str(tmp_path / "data")}, "audio": audio}, env={})


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Raw material: espeak-ng speech, a tone, pink noise (mono 22.05 kHz WAV)."""
    root = tmp_path_factory.mktemp("sources")
    speech = root / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(speech), SPEECH], check=True, timeout=60)
    tone = root / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t)+0.2*sin(2*PI*1320*t):s=22050:d=6", str(tone))
    noise = root / "noise.wav"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.3:seed=7:r=22050:d=6", str(noise))
    return {"speech": speech, "tone": tone, "noise": noise}


def at_level(source: Path, lufs: float, out: Path) -> Path:
    """``source`` brought to ``lufs`` (16-bit, so very loud inputs clip as real loud recordings do)."""
    gain = 0.0
    wav = out.with_suffix(".level.wav")
    for _ in range(5):
        ffmpeg("-i", str(source), "-af", f"volume={gain:.2f}dB", "-c:a", "pcm_s16le", str(wav))
        error = lufs - measure_file(wav).integrated_lufs
        if abs(error) < 0.2:
            break
        gain += error
    ffmpeg("-i", str(wav), *CODECS[out.suffix[1:]], str(out))
    return out


# --------------------------------------------------------------------------- loudness


@pytest.mark.parametrize(
    ("kind", "level", "fmt"),
    [
        ("speech", -30.0, "wav"),
        ("speech", -16.0, "mp3"),
        ("speech", -6.0, "m4a"),
        ("tone", -6.0, "ogg"),
        ("noise", -30.0, "m4a"),
        ("tone", -30.0, "mp3"),
    ],
)
def test_inputs_at_any_level_come_out_at_target(tmp_path: Path, sources: dict[str, Path], kind: str,
                                                level: float, fmt: str) -> None:
    source = at_level(sources[kind], level, tmp_path / f"input.{fmt}")
    measured_in = measure_file(source)
    assert abs(measured_in.integrated_lufs - level) <= 1.0, "the generated input is not at its nominal level"

    with Preparer(make_config(tmp_path)) as preparer:
        prepared = preparer.prepare_file(source)
    out = measure_file(prepared.path)
    assert abs(out.integrated_lufs - TARGET) <= 1.0, (level, out)
    assert out.true_peak_dbfs <= CEILING, (level, out)
    assert abs(prepared.lufs - out.integrated_lufs) <= 0.2 and abs(prepared.true_peak_dbfs - out.true_peak_dbfs) <= 0.2
    with wave.open(str(prepared.path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (CHANNELS, 2, SAMPLE_RATE)
        assert abs(wav.getnframes() / SAMPLE_RATE - prepared.duration_s) < 0.01


def test_other_targets_are_honoured(tmp_path: Path, sources: dict[str, Path]) -> None:
    config = make_config(tmp_path, target_lufs=-23.0, true_peak_dbfs=-3.0)
    with Preparer(config) as preparer:
        prepared = preparer.prepare_file(sources["speech"])
    out = measure_file(prepared.path)
    assert abs(out.integrated_lufs - -23.0) <= 1.0 and out.true_peak_dbfs <= -3.0


def test_gain_decisions_are_pure_arithmetic() -> None:
    quiet_with_headroom = Loudness(-30.0, -20.0)
    assert linear_gain_db(quiet_with_headroom, TARGET, CEILING) == pytest.approx(14.0)
    assert not needs_limiter(quiet_with_headroom, TARGET, CEILING)
    peaky = Loudness(-19.0, 0.1)  # espeak-ng's speech: a 19 dB peak-to-loudness ratio
    assert linear_gain_db(peaky, TARGET, CEILING) == pytest.approx(-1.3)
    assert needs_limiter(peaky, TARGET, CEILING)
    loud = Loudness(-6.0, -0.5)
    assert linear_gain_db(loud, TARGET, CEILING) == pytest.approx(-10.0)
    assert not needs_limiter(loud, TARGET, CEILING)


def test_ebur128_summary_parsing() -> None:
    log = ("[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -19.0 LUFS\n"
           "    Threshold: -29.0 LUFS\n\n  True peak:\n    Peak:        0.1 dBFS\n")
    assert parse_ebur128_summary(log) == Loudness(-19.0, 0.1)
    silent = parse_ebur128_summary("Summary:\n    I:         -70.0 LUFS\n    Peak:       -inf dBFS\n")
    assert silent.silent
    with pytest.raises(AudioError):
        parse_ebur128_summary("no summary here")


# --------------------------------------------------------------------------- decoding and trimming


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a", "wav"])
def test_formats_decode_to_the_same_length(tmp_path: Path, sources: dict[str, Path], fmt: str) -> None:
    encoded = tmp_path / f"speech.{fmt}"
    ffmpeg("-i", str(sources["speech"]), "-ac", "2", "-ar", "44100", *CODECS[fmt], str(encoded))
    segment = decode(encoded)
    assert (segment.channels, segment.frame_rate, segment.sample_width) == (1, SAMPLE_RATE, 2)
    reference = decode(sources["speech"])
    # Lossy encoders add up to ~0.1 s of priming/padding.
    assert abs(segment.duration_seconds - reference.duration_seconds) < 0.15
    assert segment.dBFS > -40


def test_leading_and_trailing_silence_is_trimmed(tmp_path: Path) -> None:
    padded = tmp_path / "padded.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=2", "-f", "lavfi",
           "-i", "sine=frequency=600:sample_rate=22050:duration=3", "-f", "lavfi",
           "-i", "anullsrc=r=22050:cl=mono:d=2.5", "-filter_complex", "[0][1][2]concat=n=3:v=0:a=1",
           "-c:a", "pcm_s16le", str(padded))
    assert 7.4 < decode(padded).duration_seconds < 7.6
    trimmed = trim_silence(decode(padded))
    assert 3.0 <= trimmed.duration_seconds <= 3.4
    with Preparer(make_config(tmp_path)) as preparer:
        assert 3.0 <= preparer.prepare_file(padded).duration_s <= 3.4


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.wav", b"", "audio.empty"),
        ("random.mp3", bytes(range(256)) * 400, "audio.not_audio"),
        ("text.wav", "Kính thưa bà con, đây không phải âm thanh.\n".encode() * 50, "audio.not_audio"),
        ("truncated.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio.not_audio"),
        ("random.m4a", b"\x00\x00\x00\x18ftypM4A " + b"\x07" * 3000, "audio.not_audio"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(tmp_path: Path, name: str, content: bytes, code: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    config = make_config(tmp_path)
    with Preparer(config) as preparer, pytest.raises(AudioError) as caught:
        preparer.prepare_file(bad)
    assert caught.value.code == code and caught.value.vi and caught.value.en
    prepared_dir = config.data_path / "prepared"
    assert not prepared_dir.exists() or not any(prepared_dir.rglob("*"))


def test_image_with_audio_extension_is_refused(tmp_path: Path) -> None:
    picture = tmp_path / "photo.mp3"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32:d=1", "-frames:v", "1", "-f", "image2", "-c:v", "png",
           str(picture))
    with Preparer(make_config(tmp_path)) as preparer, pytest.raises(AudioError) as caught:
        preparer.prepare_file(picture)
    assert caught.value.code == "audio.not_audio"


def test_silent_short_missing_and_directory_inputs_are_refused(tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=3", "-c:a", "pcm_s16le", str(silence))
    blip = tmp_path / "blip.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=800:sample_rate=22050:duration=0.2", "-c:a", "pcm_s16le", str(blip))
    with Preparer(make_config(tmp_path)) as preparer:
        for path, code in ((silence, "audio.silent"), (blip, "audio.too_short"),
                           (tmp_path / "nowhere.mp3", "audio.missing"), (tmp_path, "audio.unreadable")):
            with pytest.raises(AudioError) as caught:
                preparer.prepare_file(path)
            assert caught.value.code == code, path


def test_overlong_clip_is_refused(tmp_path: Path) -> None:
    long_clip = tmp_path / "long.ogg"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=12", "-c:a", "libvorbis", str(long_clip))
    with pytest.raises(AudioError) as caught:
        decode(long_clip, max_seconds=10)
    assert caught.value.code == "audio.too_long"


# --------------------------------------------------------------------------- the prepared store


def test_prepared_clips_are_content_addressed_and_cached(tmp_path: Path, sources: dict[str, Path]) -> None:
    config = make_config(tmp_path)
    with Preparer(config) as preparer:
        first = preparer.prepare_file(sources["tone"])
        assert first.path == config.data_path / "prepared" / f"{first.sha256}.wav"
        assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256
        inode = first.path.stat().st_ino
        again = preparer.prepare_file(sources["tone"])
        # A cache hit rewrites nothing (an atomic rewrite would be a new inode); it only marks the clip used.
        assert again == first and first.path.stat().st_ino == inode
        # A damaged store is repaired by preparing again, never trusted.
        first.path.unlink()
        repaired = preparer.prepare_file(sources["tone"])
        assert repaired.sha256 == first.sha256 and repaired.path.exists()
        (index,) = (config.data_path / "prepared" / "index").glob("*.json")
        index.write_text("{not json", encoding="utf-8")
        assert preparer.prepare_file(sources["tone"]).sha256 == first.sha256
        assert json.loads(index.read_text(encoding="utf-8"))["sha256"] == first.sha256
    assert not list((config.data_path / "prepared").rglob(".part-*"))
    # Different loudness parameters give a different clip.
    with Preparer(make_config(tmp_path, target_lufs=-20.0)) as quieter:
        assert quieter.prepare_file(sources["tone"]).sha256 != first.sha256


def test_text_announcement_has_chimes_and_target_loudness(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    text = "Kính thưa bà con, Trạm y tế xã thông báo lịch tiêm chủng cho trẻ em trong tuần này."
    with Synthesizer(config, normalizer=str) as synthesizer, Preparer(config, synthesizer=synthesizer) as preparer:
        prepared = preparer.prepare_text(text)
        speech = synthesizer.synthesize(text)
        assert speech.cache_hit
        again = preparer.prepare_text(text)
        assert again == prepared
    out = measure_file(prepared.path)
    assert abs(out.integrated_lufs - TARGET) <= 1.0 and out.true_peak_dbfs <= CEILING
    chime_s = len(chime_wav_bytes()) / 2 / SAMPLE_RATE
    assert prepared.duration_s > speech.duration_s - 1.0 + 2 * chime_s
    assert prepared.duration_s < speech.duration_s + 2 * chime_s + 1.0

    no_chime = make_config(tmp_path / "plain", chime=False)
    with Synthesizer(no_chime, normalizer=str) as synthesizer, Preparer(no_chime, synthesizer=synthesizer) as plain:
        bare = plain.prepare_text(text)
    assert bare.sha256 != prepared.sha256 and bare.duration_s < prepared.duration_s - 2 * chime_s + 0.5


def test_committed_chime_is_what_the_script_makes() -> None:
    with wave.open(str(CHIME_PATH), "rb") as committed:
        assert (committed.getnchannels(), committed.getsampwidth(), committed.getframerate()) == (1, 2, SAMPLE_RATE)
        frames = committed.readframes(committed.getnframes())
    made = chime_wav_bytes()[44:]
    assert len(made) == len(frames)
    # Within one LSB: libm may round a sine differently on another CPU.
    assert max(abs(a - b) for a, b in zip(memoryview(frames).cast("h"), memoryview(made).cast("h"),
                                          strict=True)) <= 1


def test_prune_keeps_clips_in_use_and_recent_ones(tmp_path: Path) -> None:
    import os
    import time

    from appliance.state import config as config_module
    from audio.prepare import Preparer

    config = config_module.from_mapping({"device": {"data_dir": str(tmp_path)}, "audio": {"chime": False}}, env={})
    with Preparer(config) as preparer:
        used = preparer.prepare_text("Bản tin thứ nhất.")
        old = preparer.prepare_text("Bản tin thứ hai.")
        recent = preparer.prepare_text("Bản tin thứ ba.")
        week_ago = time.time() - 8 * 86400
        for clip in (used, old):
            os.utime(clip.path, (week_ago, week_ago))
        assert preparer.prune({used.sha256}, max_age_s=7 * 86400) == 1
        assert used.path.exists() and recent.path.exists() and not old.path.exists()
        # The pruned text is simply prepared again.
        again = preparer.prepare_text("Bản tin thứ hai.")
        assert again.path.exists() and again.sha256 == old.sha256


def test_committed_alert_signal_is_what_the_script_makes_and_prepares() -> None:
    from audio.alert import ALERT_PATH, alert_wav_bytes

    with wave.open(str(ALERT_PATH), "rb") as committed:
        assert (committed.getnchannels(), committed.getsampwidth(), committed.getframerate()) == (1, 2, SAMPLE_RATE)
        frames = committed.readframes(committed.getnframes())
    made = alert_wav_bytes()[44:]
    assert len(made) == len(frames) and len(frames) / 2 / SAMPLE_RATE > 3.0
    assert max(abs(a - b) for a, b in zip(memoryview(frames).cast("h"), memoryview(made).cast("h"),
                                          strict=True)) <= 1
