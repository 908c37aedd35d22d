"""Offline Vietnamese text-to-speech behind one small interface, with a bounded cache.

``Synthesizer(config).synthesize(text, out_path=None) -> SynthesisResult``:

1. the text is guarded (``clean_text``): empty or over ``MAX_TEXT_CHARS`` is refused,
   control characters and SSML/HTML-like markup are removed (we never hand markup to an
   engine), letters of other scripts are dropped, and text mostly in another script is refused;
2. it is normalized for speech (``audio.normalize.normalize_for_speech``);
3. the cache (``<data_dir>/tts-cache``, keyed by sha256 of normalized text, engine, engine
   version, voice, rate and volume; least recently used entries evicted above
   ``tts.cache_max_bytes``) answers if it can;
4. otherwise the text is cut into sentence chunks of at most ``CHUNK_CHARS`` and each chunk is
   synthesized by the engine in a killable child process (``audio.tts_worker``) with
   ``tts.timeout_s`` per chunk; the chunks are joined into one WAV written atomically.

Engines live in ``audio.engines`` (espeak-ng, neural voice packs through sherpa-onnx, the GPL
piper-tts as an extra); this module only drives one through ``audio.engines.base.Engine``.
With ``tts.sentence_gap_ms`` each sentence is its own chunk and that much silence is put between
sentences; ``tts.max_phrase_words`` also cuts sentences longer than that at commas, with half
the gap: measured pauses for listeners (bench/intelligibility.py decides the defaults).

Why one module of this length: the guard, the utterance plan, the cache and the synthesizer
share one contract (what is spoken is what is cached, one killable chunk at a time); the engines
themselves are in ``audio.engines``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import html
import json
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audio.engines import Engine, engine_from_config
from audio.errors import TTSError
from audio.settings import AudioPipelineConfig
from audio.tts_worker import WorkerHandle
from protocol.durable import TEMP_PREFIX, atomic_writer

# A bulletin of 20,000 characters is roughly 3,500 Vietnamese syllables, over 20 minutes of
# speech: longer text is almost certainly a mistake (or an attack on the station's time).
MAX_TEXT_CHARS = 20_000
# One engine call per chunk keeps memory flat and lets tts.timeout_s bound each call.
CHUNK_CHARS = 1_000
CACHE_FORMAT = 1
SPOKEN_MEMO_ENTRIES = 256
NO_AUDIO_RETRIES = 2

VOICE_NAMES = {"vi": "Northern", "vi-vn-x-central": "Central", "vi-vn-x-south": "Southern"}

_TAG_RE = re.compile(r"<[^<>]{0,500}>")
_SPACE_RE = re.compile(r"[ \t\f\v\u00a0]+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?;:…])\s+|\s*\n+\s*")


# --------------------------------------------------------------------------- text guard


def clean_text(text: str) -> str:
    """The text made safe to speak, or a TTSError saying why it cannot be spoken."""
    if not isinstance(text, str):
        raise TTSError("Văn bản cần đọc không hợp lệ.", "The text to speak is not a string.", code="tts.bad_text")
    if len(text) > MAX_TEXT_CHARS:
        raise TTSError(
            f"Văn bản quá dài ({len(text)} ký tự, tối đa {MAX_TEXT_CHARS}). Hãy chia thành nhiều bản tin.",
            f"The text is too long ({len(text)} characters, at most {MAX_TEXT_CHARS}). "
            "Split it into several bulletins.",
            code="tts.too_long",
        )
    text = unicodedata.normalize("NFC", text)
    # Markup is removed, never interpreted: a bulletin must not steer the engine.
    text = html.unescape(_TAG_RE.sub(" ", text))
    kept: list[str] = []
    latin = foreign = 0
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "\n":
            kept.append(ch)
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            kept.append(" ")
        elif category.startswith("L"):
            if unicodedata.name(ch, "").startswith("LATIN"):
                latin += 1
                kept.append(ch)
            else:
                foreign += 1
                kept.append(" ")
        else:
            kept.append(ch)
    if foreign > latin:
        raise TTSError(
            "Văn bản chủ yếu không phải chữ tiếng Việt nên không đọc được.",
            "The text is mostly in another script; the Vietnamese voice cannot read it.",
            code="tts.other_script",
        )
    cleaned = "\n".join(_SPACE_RE.sub(" ", line).strip() for line in "".join(kept).splitlines())
    cleaned = re.sub(r"\n{2,}", "\n", cleaned).strip()
    if not any(ch.isalnum() for ch in cleaned):
        raise TTSError(
            "Không có nội dung để đọc (văn bản trống).",
            "There is nothing to read: the text is empty.",
            code="tts.empty",
        )
    return cleaned


def split_into_chunks(text: str, max_chars: int = CHUNK_CHARS) -> list[str]:
    """Sentence-sized pieces of at most ``max_chars``, cut at sentence, then comma, then word ends."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END_RE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        pieces.extend(_split_long(sentence, max_chars))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def plan_utterances(text: str, *, sentence_gap_ms: int = 0, max_phrase_words: int = 0,
                    max_chars: int = CHUNK_CHARS) -> list[tuple[str, int]]:
    """The chunks to synthesize, each with the silence (ms) to put after it.

    Without gaps this is ``split_into_chunks`` (no added silence). With a gap, every sentence is
    a chunk followed by ``sentence_gap_ms``; with ``max_phrase_words``, a longer sentence is cut at
    its commas into phrases followed by half the gap.
    """
    if sentence_gap_ms <= 0 and max_phrase_words <= 0:
        return [(chunk, 0) for chunk in split_into_chunks(text, max_chars)]
    planned: list[tuple[str, int]] = []
    for sentence in _SENTENCE_END_RE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        phrases = [sentence]
        if max_phrase_words > 0 and len(sentence.split()) > max_phrase_words and ", " in sentence:
            parts = sentence.split(", ")
            phrases = [f"{part}," for part in parts[:-1]] + [parts[-1]]
        for index, phrase in enumerate(phrases):
            gap = sentence_gap_ms if index == len(phrases) - 1 else sentence_gap_ms // 2
            pieces = _split_long(phrase, max_chars)
            planned.extend((piece, gap if i == len(pieces) - 1 else 0) for i, piece in enumerate(pieces))
    if planned:
        planned[-1] = (planned[-1][0], 0)
    return planned


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    for separator in (", ", " "):
        if separator in sentence:
            current = ""
            for part in sentence.split(separator):
                candidate = f"{current}{separator}{part}" if current else part
                if len(candidate) <= max_chars:
                    current = candidate
                    continue
                if current:
                    out.append(current)
                current = part
            if current:
                out.append(current)
            break
    else:
        out = [sentence]
    # A single "word" longer than the limit (no spaces at all) is cut hard.
    return [piece[i:i + max_chars] for piece in out for i in range(0, len(piece), max_chars)]


# --------------------------------------------------------------------------- cache


class TTSCache:
    """WAV files named by key; least recently used (by mtime, touched on hit) evicted above a size."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path_for(self, key: str) -> Path:
        return self.root / f"{key}.wav"

    def lookup(self, key: str) -> Path | None:
        path = self.path_for(key)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def total_bytes(self) -> int:
        return sum(size for _, _, size in self._entries())

    def evict(self, keep: Path | None = None) -> int:
        entries = sorted(self._entries(), key=lambda e: e[1])
        total = sum(size for _, _, size in entries)
        removed = 0
        for path, _, size in entries:
            if total <= self.max_bytes:
                break
            if keep is not None and path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
            total -= size
        return removed

    def _entries(self) -> list[tuple[Path, float, int]]:
        out = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root) as it:
            for entry in it:
                if entry.name.endswith(".wav") and not entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        st = entry.stat()
                        out.append((Path(entry.path), st.st_mtime, st.st_size))
        return out


# --------------------------------------------------------------------------- synthesizer


@dataclasses.dataclass(frozen=True)
class SynthesisResult:
    path: Path
    normalized_text: str
    cache_key: str
    cache_hit: bool
    duration_s: float
    engine: str
    voice: str
    chunks: int
    elapsed_s: float


def default_normalizer() -> Callable[[str], str]:
    """``audio.normalize.normalize_for_speech`` with the commune's abbreviation dictionary."""
    from audio import normalize

    abbreviations = normalize.load_abbreviations()
    return functools.partial(normalize.normalize_for_speech, abbreviations=abbreviations)


def spoken_form(text: str, normalizer: Callable[[str], str] | None = None) -> str:
    """``clean_text`` then the speech normalizer: exactly what an engine is given to read."""
    normalizer = normalizer if normalizer is not None else default_normalizer()
    spoken = normalizer(clean_text(text))
    spoken = "\n".join(_SPACE_RE.sub(" ", line).strip() for line in spoken.splitlines()).strip()
    if not any(ch.isalnum() for ch in spoken):
        raise TTSError("Không có nội dung để đọc (văn bản trống).",
                       "There is nothing to read: the text is empty.", code="tts.empty")
    return spoken


class Synthesizer:
    """Text to a cached WAV file. Thread-safe; one engine child process per Synthesizer."""

    def __init__(self, config: AudioPipelineConfig, *, engine: Engine | None = None, cache_dir: Path | None = None,
                 normalizer: Callable[[str], str] | None = None) -> None:
        self.config = config
        self.engine = engine if engine is not None else engine_from_config(config)
        self.engine.check()
        self.timeout_s = config.tts.timeout_s
        self.cache = TTSCache(cache_dir if cache_dir is not None else config.data_path / "tts-cache",
                              config.tts.cache_max_bytes)
        self._normalizer = normalizer
        self._spoken: dict[str, str] = {}
        self._worker = WorkerHandle(*self.engine.worker_spec())
        self._lock = threading.Lock()
        self.sentence_gap_ms = int(getattr(config.tts, "sentence_gap_ms", 0))
        self.max_phrase_words = int(getattr(config.tts, "max_phrase_words", 0))
        self._identity = json.dumps({"format": CACHE_FORMAT, "engine": self.engine.name,
                                     "version": self.engine.version(), "params": self.engine.params(),
                                     "sentence_gap_ms": self.sentence_gap_ms,
                                     "max_phrase_words": self.max_phrase_words},
                                    sort_keys=True, ensure_ascii=False)

    def __enter__(self) -> Synthesizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._worker.close()

    @property
    def worker(self) -> WorkerHandle:
        return self._worker

    def normalize(self, text: str) -> str:
        """The guarded, normalized text exactly as the engine will receive it."""
        # Memoized: a bulletin is prepared ahead of its slot and again at air time, and the
        # normalizer (with its dictionary, loaded once per Synthesizer) is the slow part of a hit.
        spoken = self._spoken.get(text)
        if spoken is None:
            if self._normalizer is None:
                self._normalizer = default_normalizer()
            spoken = spoken_form(text, self._normalizer)
            if len(self._spoken) >= SPOKEN_MEMO_ENTRIES:
                self._spoken.pop(next(iter(self._spoken)))
            self._spoken[text] = spoken
        return spoken

    def cache_key(self, normalized_text: str) -> str:
        return hashlib.sha256(f"{self._identity}\n{normalized_text}".encode()).hexdigest()

    def engine_info(self) -> dict[str, Any]:
        """What the engine reports about itself (starts the worker): voice id, name, language."""
        with self._lock:
            return dict(self._worker.ensure_open(self.timeout_s))

    def synthesize(self, text: str, out_path: Path | None = None) -> SynthesisResult:
        started = time.monotonic()
        spoken = self.normalize(text)
        key = self.cache_key(spoken)
        chunks = 0
        path = self.cache.lookup(key)
        hit = path is not None
        if path is None:
            with self._lock:
                path = self.cache.lookup(key)  # another thread may have made it meanwhile
                if path is None:
                    chunks = self._synthesize_uncached(spoken, key)
                    path = self.cache.path_for(key)
                    self.cache.evict(keep=path)
        duration = wav_duration(path)
        if out_path is not None:
            with path.open("rb") as source, atomic_writer(out_path) as target:
                shutil.copyfileobj(source, target)
            path = Path(out_path)
        return SynthesisResult(path=path, normalized_text=spoken, cache_key=key, cache_hit=hit,
                               duration_s=duration, engine=self.engine.name, voice=self.engine.voice,
                               chunks=chunks, elapsed_s=time.monotonic() - started)

    def _synthesize_chunk(self, text: str, out_path: Path) -> None:
        # espeak-ng under pyttsx3 writes an empty WAV about once in 100-250 calls (measured with
        # the intelligibility sentences): a fault to retry, never silence to broadcast.
        for attempt in range(NO_AUDIO_RETRIES + 1):
            try:
                self._worker.synthesize(text, out_path, self.timeout_s)
                return
            except TTSError as exc:
                if exc.code != "tts.no_audio" or attempt == NO_AUDIO_RETRIES:
                    raise

    def _synthesize_uncached(self, spoken: str, key: str) -> int:
        planned = plan_utterances(spoken, sentence_gap_ms=self.sentence_gap_ms,
                                  max_phrase_words=self.max_phrase_words)
        pieces = [text for text, _ in planned]
        gaps = [gap for _, gap in planned]
        self.cache.root.mkdir(parents=True, exist_ok=True)
        # Chunks live next to the cache under the temp prefix, so a crash leaves nothing that
        # the start-up sweep (protocol.durable.remove_stale_temps) does not remove.
        stem = f"{TEMP_PREFIX}chunk-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        paths = [self.cache.root / f"{stem}-{index}.wav" for index in range(len(pieces))]
        try:
            # Every chunk first, then one atomic write: a failure leaves no cache entry behind.
            for piece, chunk_path in zip(pieces, paths, strict=True):
                self._synthesize_chunk(piece, chunk_path)
            join_wavs(paths, self.cache.path_for(key), gaps_ms=gaps)
        finally:
            for chunk_path in paths:
                chunk_path.unlink(missing_ok=True)
        return len(pieces)


def join_wavs(parts: list[Path], target: Path, *, gaps_ms: list[int] | None = None) -> None:
    """Concatenate WAV files of one format into ``target``, atomically, with silence after each part."""
    formats = set()
    try:
        for part in parts:
            with wave.open(str(part), "rb") as source:
                formats.add((source.getnchannels(), source.getsampwidth(), source.getframerate()))
    except (wave.Error, EOFError, FileNotFoundError) as exc:
        raise TTSError("Bộ đọc văn bản tạo ra tệp âm thanh hỏng.",
                       f"The engine wrote an unreadable WAV file: {exc}", code="tts.no_audio") from None
    if len(formats) != 1:
        raise TTSError("Bộ đọc văn bản tạo ra âm thanh không đồng nhất.",
                       f"The engine produced chunks in different formats: {sorted(formats)}.", code="tts.no_audio")
    channels, width, rate = formats.pop()
    with atomic_writer(target) as handle, wave.open(handle, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        for index, part in enumerate(parts):
            with wave.open(str(part), "rb") as source:
                while frames := source.readframes(1 << 16):
                    out.writeframes(frames)
            gap = gaps_ms[index] if gaps_ms else 0
            if gap > 0:
                out.writeframes(b"\x00" * (rate * gap // 1000) * channels * width)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
