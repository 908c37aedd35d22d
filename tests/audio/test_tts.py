"""TTS: real espeak-ng through pyttsx3 in a killable worker, the text guard, the cache, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
import wave
from pathlib import Path
from typing import Any

import pytest

from appliance.state import config as config_module
from appliance.state.config import Config
from audio.engines.espeak import EspeakEngine
from audio.engines.piper_tts import PiperEngine
from audio.errors import TTSError
from audio.loudness import measure_file
from audio.tts import (
    CHUNK_CHARS,
    MAX_TEXT_CHARS,
    Synthesizer,
    clean_text,
    split_into_chunks,
    wav_duration,
)
from tests.support.paths import REPO

ROOT = REPO
BULLETINS = ROOT / "appliance" / "demo" / "bulletins.toml"
HANG_MARKER = "treo máy"
CRASH_MARKER = "sập nguồn"


def plain(text: str) -> str:
    """Identity normalizer: these tests are about TTS, not text normalization."""
    return text


def make_config(tmp_path: Path, **tts: Any) -> Config:
    return config_module.from_mapping({"device": {"data_dir": str(tmp_path / "data")}, "tts": tts}, env={})


def sample_bulletin() -> str:
    data = tomllib.loads(BULLETINS.read_text(encoding="utf-8"))
    return next(b["text"] for b in data["bulletin"] if b["kind"] == "text")


class HangingEngine(EspeakEngine):
    """espeak-ng, except that a text containing HANG_MARKER hangs the engine forever."""

    def synthesize(self, text: str, out_path: Path) -> None:
        if HANG_MARKER in text:
            while True:
                time.sleep(3600)
        super().synthesize(text, out_path)


class CrashingEngine(EspeakEngine):
    """espeak-ng, except that a text containing CRASH_MARKER kills the engine's process."""

    def synthesize(self, text: str, out_path: Path) -> None:
        if CRASH_MARKER in text:
            os._exit(3)
        super().synthesize(text, out_path)


@pytest.fixture
def synth(tmp_path: Path) -> Any:
    with Synthesizer(make_config(tmp_path), normalizer=plain) as synthesizer:
        yield synthesizer


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); its /proc status says so.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" in status.read_text()


# --------------------------------------------------------------------------- real synthesis


def test_sample_bulletin_speaks_vietnamese_for_its_length(tmp_path: Path) -> None:
    # The real normalizer (numbers, dates, abbreviations) with the default engine.
    with Synthesizer(make_config(tmp_path)) as synth:
        _check_sample_bulletin(synth)


def _check_sample_bulletin(synth: Synthesizer) -> None:
    info = synth.engine_info()
    assert info["language"] == "vi"
    assert info["voice_id"].endswith("/vi")
    assert "Vietnamese" in info["voice_name"]

    result = synth.synthesize(sample_bulletin())
    assert not result.cache_hit and result.chunks >= 1
    with wave.open(str(result.path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
    loudness = measure_file(result.path)
    assert loudness.integrated_lufs > -35, "speech must not be silent"
    assert "UBND" not in result.normalized_text and "/" not in result.normalized_text
    words = len(result.normalized_text.split())
    # espeak-ng's Vietnamese voice at 150 wpm: about 0.29 s per syllable-word, measured.
    assert 0.15 * words <= result.duration_s <= 0.5 * words, (words, result.duration_s)


@pytest.mark.parametrize(("voice", "accent"), [("vi-vn-x-central", "Central"), ("vi-vn-x-south", "Southern")])
def test_regional_voices_are_vietnamese(tmp_path: Path, voice: str, accent: str) -> None:
    with Synthesizer(make_config(tmp_path, voice=voice), normalizer=plain) as synthesizer:
        info = synthesizer.engine_info()
        assert info["language"] == voice and accent in info["voice_name"]
        result = synthesizer.synthesize("Kính thưa bà con.")
        assert result.voice == voice and result.duration_s > 0.3


def test_every_synthesis_matches_bare_espeak_ng(synth: Synthesizer, tmp_path: Path) -> None:
    """Rate applied and no audio lost on every call of a reused engine (pyttsx3 races, field-tested)."""
    texts = ["Tin thời tiết.", "Kính thưa bà con nhân dân trong xã.", "Trạm y tế xã thông báo lịch tiêm chủng.",
             "Công an xã đề nghị bà con cảnh giác.", "Bản tin đến đây là kết thúc."]
    for index, text in enumerate(texts):
        ours = synth.synthesize(text)
        bare = tmp_path / f"bare-{index}.wav"
        tts = synth.config.tts
        subprocess.run(["espeak-ng", "-v", "vi", "-s", str(tts.rate), "-g", str(tts.word_gap), "-w", str(bare), text],
                       check=True, timeout=60)
        assert ours.duration_s == pytest.approx(wav_duration(bare), abs=0.05), text


def test_rate_changes_duration_and_cache_key(tmp_path: Path) -> None:
    text = "Bà con chú ý giữ ấm cho trẻ nhỏ và người già, che chắn chuồng trại cho trâu bò."
    with Synthesizer(make_config(tmp_path / "a", rate=100), normalizer=plain) as slow, \
            Synthesizer(make_config(tmp_path / "b", rate=250), normalizer=plain) as fast:
        slow_result, fast_result = slow.synthesize(text), fast.synthesize(text)
    assert slow_result.cache_key != fast_result.cache_key
    assert slow_result.duration_s > 1.8 * fast_result.duration_s


def test_cache_hit_returns_same_file_and_out_path_gets_a_copy(synth: Synthesizer, tmp_path: Path) -> None:
    first = synth.synthesize("Trạm y tế xã thông báo lịch tiêm chủng.")
    spawned = synth.worker.spawned
    second = synth.synthesize("Trạm   y tế xã thông báo lịch tiêm chủng.  ")
    assert second.cache_hit and second.path == first.path and second.cache_key == first.cache_key
    assert synth.worker.spawned == spawned
    out = tmp_path / "copy" / "out.wav"
    third = synth.synthesize("Trạm y tế xã thông báo lịch tiêm chủng.", out)
    assert third.path == out and out.read_bytes() == first.path.read_bytes()


def test_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    texts = ["Tin thời tiết hôm nay.", "Tin nông nghiệp vụ đông xuân.", "Tin an ninh trật tự."]
    with Synthesizer(make_config(tmp_path), normalizer=plain) as probe:
        sizes = [probe.synthesize(t).path.stat().st_size for t in texts]
    # Room for the two largest entries but not all three.
    limit = sum(sizes) - min(sizes) + 10
    cache_dir = tmp_path / "bounded"
    with Synthesizer(make_config(tmp_path, cache_max_bytes=limit), cache_dir=cache_dir, normalizer=plain) as s:
        first = s.synthesize(texts[0])
        time.sleep(0.02)
        second = s.synthesize(texts[1])
        time.sleep(0.02)
        assert s.synthesize(texts[0]).cache_hit  # touch: texts[1] is now the least recently used
        time.sleep(0.02)
        third = s.synthesize(texts[2])
        assert s.cache.total_bytes() <= limit
        assert first.path.exists() and third.path.exists() and not second.path.exists()
        assert not s.synthesize(texts[1]).cache_hit


def test_long_text_is_chunked_and_joined(synth: Synthesizer) -> None:
    sentence = "Đề nghị các gia đình đưa trẻ đến tiêm đầy đủ, mang theo sổ tiêm chủng. "
    text = sentence * (3 * CHUNK_CHARS // len(sentence) + 1)
    result = synth.synthesize(text)
    assert result.chunks >= 3
    one = synth.synthesize(sentence)
    repeats = text.count("Đề nghị")
    assert 0.8 * repeats * one.duration_s <= result.duration_s <= 1.2 * repeats * one.duration_s


def test_engine_noise_never_reaches_our_stdout(synth: Synthesizer, capfd: pytest.CaptureFixture[str]) -> None:
    synth.synthesize("Xin chào bà con.")
    out, _ = capfd.readouterr()
    assert "Audio saved" not in out and out == ""


# --------------------------------------------------------------------------- killable worker


def test_hung_engine_is_killed_at_timeout_and_next_synthesis_works(tmp_path: Path) -> None:
    config = make_config(tmp_path, timeout_s=2.0)
    with Synthesizer(config, engine=HangingEngine(), normalizer=plain) as synthesizer:
        assert synthesizer.synthesize("Khởi động.").duration_s > 0.2
        pid = synthesizer.worker.pid
        assert pid is not None
        started = time.monotonic()
        with pytest.raises(TTSError) as caught:
            synthesizer.synthesize(f"Bản tin này làm {HANG_MARKER}.")
        elapsed = time.monotonic() - started
        assert caught.value.code == "tts.timeout"
        assert "2 giây" in caught.value.vi and "2 s" in caught.value.en
        assert 1.9 <= elapsed < 30
        assert _pid_gone(pid)
        # Nothing half-made is left in the cache.
        assert not any(synthesizer.cache.root.glob(".part-*"))
        after = synthesizer.synthesize("Bản tin tiếp theo vẫn đọc được.")
        assert not after.cache_hit and after.duration_s > 0.5
        assert synthesizer.worker.spawned == 2 and synthesizer.worker.pid not in (None, pid)


def test_engine_dies_with_its_caller(tmp_path: Path) -> None:
    # The caller is killed while its engine hangs mid-synthesis (so the engine never reads the EOF).
    script = (
        "import sys, threading, time\n"
        "from appliance.state import config\n"
        "from audio.tts import Synthesizer\n"
        "from tests.audio.test_tts import HANG_MARKER, HangingEngine\n"
        "cfg = config.from_mapping({'device': {'data_dir': sys.argv[1]}}, env={})\n"
        "s = Synthesizer(cfg, engine=HangingEngine(), normalizer=str)\n"
        "s.engine_info()\n"
        "threading.Thread(target=s.synthesize, args=(HANG_MARKER,), daemon=True).start()\n"
        "time.sleep(1.0)\n"
        "print(s.worker.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "data")], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        assert caller.stdout is not None
        worker_pid = int(caller.stdout.readline())
        assert not _pid_gone(worker_pid)
        caller.kill()  # kill -9: no cleanup code runs in the caller
        caller.wait(10)
        deadline = time.monotonic() + 10
        while not _pid_gone(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pid_gone(worker_pid)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


def test_engine_outlives_the_thread_that_started_it(synth: Synthesizer) -> None:
    import threading

    starter = threading.Thread(target=synth.engine_info)
    starter.start()
    starter.join(60)
    pid = synth.worker.pid
    assert pid is not None
    time.sleep(1.0)
    assert synth.synthesize("Vẫn là bộ đọc cũ.").duration_s > 0.5
    assert synth.worker.spawned == 1 and synth.worker.pid == pid


def test_engine_process_death_is_reported_and_recovered(tmp_path: Path) -> None:
    with Synthesizer(make_config(tmp_path), engine=CrashingEngine(), normalizer=plain) as synthesizer:
        with pytest.raises(TTSError) as caught:
            synthesizer.synthesize(f"Mất điện, {CRASH_MARKER}.")
        assert caught.value.code == "tts.engine_died" and "3" in caught.value.en
        assert synthesizer.synthesize("Đã có điện trở lại.").duration_s > 0.5


def test_unknown_voice_is_refused_by_the_engine(tmp_path: Path) -> None:
    with Synthesizer(make_config(tmp_path), engine=EspeakEngine(voice="vi-xx-nowhere"), normalizer=plain) as s:
        with pytest.raises(TTSError) as caught:
            s.synthesize("Xin chào.")
        assert caught.value.code == "tts.voice_missing"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n", "<speak></speak>", "\x00\x01\x02", "... !!! ???"])
def test_empty_text_is_refused(synth: Synthesizer, text: str) -> None:
    with pytest.raises(TTSError) as caught:
        synth.synthesize(text)
    assert caught.value.code == "tts.empty"
    assert caught.value.vi and caught.value.en


def test_oversized_text_is_refused_before_any_work(synth: Synthesizer) -> None:
    with pytest.raises(TTSError) as caught:
        synth.synthesize("Bà con chú ý. " * (100_000 // 14 + 1))
    assert caught.value.code == "tts.too_long" and str(MAX_TEXT_CHARS) in caught.value.en
    assert synth.worker.spawned == 0


@pytest.mark.parametrize("text", ["你好，世界。今天天气很好。", "Привет, мир! Сегодня хорошая погода.",
                                  "مرحبا بالعالم", "สวัสดีครับ"])
def test_text_in_another_script_is_refused(synth: Synthesizer, text: str) -> None:
    with pytest.raises(TTSError) as caught:
        synth.synthesize(text)
    assert caught.value.code == "tts.other_script"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Xin\x00 chào\x07 bà\u200b con", "Xin chào bà con"),
        ("<speak><prosody rate='x-fast'>Kính thưa</prosody> bà con</speak>", "Kính thưa bà con"),
        ('<voice name="en">Hello</voice> <break time="10s"/>bà con', "Hello bà con"),
        ("Tin &amp; thông báo", "Tin & thông báo"),
        ("Xã Hòa Bình 和平 thông báo", "Xã Hòa Bình thông báo"),
        ("Dòng một\r\n\r\n\r\nDòng hai", "Dòng một\nDòng hai"),
        ("Tie\u0302\u0301ng Vie\u0323\u0302t", "Tiếng Việt"),
    ],
)
def test_clean_text_removes_what_must_not_be_spoken(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_markup_is_spoken_as_plain_text(synth: Synthesizer) -> None:
    marked = synth.synthesize("<speak><prosody rate='x-slow'>Kính thưa bà con</prosody></speak>")
    plain_result = synth.synthesize("Kính thưa bà con")
    assert plain_result.cache_hit and marked.path == plain_result.path


def test_split_into_chunks_is_bounded_and_keeps_every_word() -> None:
    text = ("Câu ngắn. " * 50) + ("một câu rất dài không có dấu chấm nào " * 80) + "x" * 2500
    chunks = split_into_chunks(text, 300)
    assert all(0 < len(c) <= 300 for c in chunks)
    assert "".join(" ".join(chunks).split()) == "".join(text.split())


# --------------------------------------------------------------------------- Piper (optional)


def test_piper_without_model_file_fails_clearly(tmp_path: Path) -> None:
    for model in ("", str(tmp_path / "missing.onnx")):
        with pytest.raises(TTSError) as caught:
            Synthesizer(make_config(tmp_path, engine="piper", piper_model=model), normalizer=plain)
        assert caught.value.code == "tts.piper_model_missing"
        assert "never downloaded" in caught.value.en


def test_piper_without_package_fails_clearly(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("piper") is not None:
        pytest.skip("piper-tts is installed here; this checks the missing-package error")
    model = tmp_path / "vi_VN-vais1000-medium.onnx"
    model.write_bytes(b"not really a model")
    with pytest.raises(TTSError) as caught:
        Synthesizer(make_config(tmp_path, engine="piper", piper_model=str(model)), normalizer=plain)
    assert caught.value.code == "tts.piper_missing" and "commune-radio[piper]" in caught.value.en
    engine = PiperEngine(str(model))
    with pytest.raises(TTSError):
        engine.check()


# --------------------------------------------------------------------------- CLI


def _cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "appliance.toml"
    if not config_file.exists():
        config_file.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n'
                               f'[audio]\noutput = "capture"\ncapture_dir = "{tmp_path / "capture"}"\n',
                               encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config_file), *args],
                          capture_output=True, text=True, input=stdin, timeout=120, cwd=ROOT)


def test_cli_say_writes_prepared_wav_without_engine_noise(tmp_path: Path) -> None:
    out = tmp_path / "loa.wav"
    done = _cli(tmp_path, "--lang", "en", "say", "Kính thưa bà con, sau đây là bản tin.", "--out", str(out),
                "--voice", "vi-vn-x-south", "--rate", "170")
    assert done.returncode == 0, done.stderr
    assert "Audio saved" not in done.stdout
    assert done.stdout.startswith(f"Wrote {out}")
    loudness = measure_file(out)
    assert abs(loudness.integrated_lufs - -16.0) <= 1.0 and loudness.true_peak_dbfs <= -1.0
    assert wav_duration(out) > 2.0


def test_cli_say_plays_through_capture_output(tmp_path: Path) -> None:
    done = _cli(tmp_path, "say", "-", stdin="Xin chào bà con.")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Đã phát")
    captures = list((tmp_path / "capture").glob("*.wav"))
    assert len(captures) == 1 and wav_duration(captures[0]) > 1.0


def test_cli_say_refuses_bad_input_bilingually(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--lang", "en", "say", "   ", "--out", str(tmp_path / "x.wav"))
    assert done.returncode == 2 and "tts.empty" in done.stderr and "nothing to read" in done.stderr
    assert not (tmp_path / "x.wav").exists()
    done = _cli(tmp_path, "say", "Xin chào", "--rate", "9000")
    assert done.returncode == 2 and "80" in done.stderr


def test_cli_normalize_text_prints_the_spoken_form(tmp_path: Path) -> None:
    done = _cli(tmp_path, "normalize-text", "<b>Kính thưa</b>\x07 bà con")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("Kính thưa bà con")
    done = _cli(tmp_path, "--lang", "en", "normalize-text", "你好世界")
    assert done.returncode == 2 and "another script" in done.stderr


# --------------------------------------------------------------------------- tuning knobs


def test_utterance_plan_puts_gaps_between_sentences_and_long_phrases() -> None:
    from audio.tts import plan_utterances

    text = "Câu thứ nhất. Câu thứ hai rất dài, có nhiều vế, cần được chia nhỏ cho người nghe dễ theo dõi!"
    assert plan_utterances(text) == [(text, 0)]
    assert plan_utterances(text, sentence_gap_ms=400) == [
        ("Câu thứ nhất.", 400), ("Câu thứ hai rất dài, có nhiều vế, cần được chia nhỏ cho người nghe dễ theo dõi!", 0)]
    phrased = plan_utterances(text, sentence_gap_ms=400, max_phrase_words=8)
    assert [gap for _, gap in phrased] == [400, 200, 200, 0]
    assert phrased[1][0] == "Câu thứ hai rất dài,"


def test_espeak_settings_change_the_speech(tmp_path: Path) -> None:
    text = "Bão số ba đổ bộ lúc bảy giờ. Bà con chú ý theo dõi."
    durations = {}
    for label, tts in (("plain", {}), ("word gap", {"word_gap": 8}), ("sentence gap", {"sentence_gap_ms": 800}),
                       ("variant", {"variant": "m3", "pitch": 30, "pitch_range": 80})):
        with Synthesizer(make_config(tmp_path / label.replace(" ", "-"), **tts), normalizer=plain) as synthesizer:
            durations[label] = synthesizer.synthesize(text).duration_s
    assert durations["word gap"] > durations["plain"] + 0.5
    assert durations["sentence gap"] > durations["plain"] + 0.5
    assert durations["variant"] > 1.0


def test_tuning_keys_are_validated(tmp_path: Path) -> None:
    from protocol.errors import ConfigError

    for bad in ({"pitch": 120}, {"word_gap": -1}, {"variant": "robot"}, {"sentence_gap_ms": 5000},
                {"max_phrase_words": 3}, {"voice_pack": "../etc"}, {"engine": "festival"}):
        with pytest.raises(ConfigError) as caught:
            make_config(tmp_path, **bad)
        assert next(iter(bad)) in caught.value.en and caught.value.vi
