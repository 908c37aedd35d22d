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

Engines: ``EspeakEngine`` (pyttsx3 driving espeak-ng, the default) and ``PiperEngine`` (only
when ``tts.piper_model`` names an existing model file and the optional ``piper`` extra is
installed; nothing is ever downloaded). An engine object describes itself in the caller
(``name``, ``voice``, ``version()``, ``check()``, ``worker_spec()``) and does its work in the
child (``open()`` -> voice info, ``synthesize(text, out_path)``).

Why one module of this length: the engines, their worker process and the cache share one
contract (one chunk at a time, killable, cached by what was spoken); engines will move to
their own modules as more are added.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import hashlib
import html
import importlib.metadata
import importlib.util
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
from typing import Any, Protocol

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


# --------------------------------------------------------------------------- engines


class Engine(Protocol):
    name: str
    voice: str

    def check(self) -> None: ...

    def version(self) -> str: ...

    def params(self) -> dict[str, Any]: ...

    def worker_spec(self) -> tuple[str, dict[str, Any]]: ...

    def open(self) -> dict[str, Any]: ...

    def synthesize(self, text: str, out_path: Path) -> None: ...


@functools.lru_cache(maxsize=1)
def espeak_ng_version() -> str:
    """The espeak-ng library's version string (part of the cache key: a new espeak sounds different)."""
    for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        info = lib.espeak_Info
        info.restype = ctypes.c_char_p
        info.argtypes = [ctypes.c_void_p]
        raw = info(None)
        return raw.decode("ascii", "replace") if raw else "unknown"
    raise TTSError(
        "Thiếu thư viện espeak-ng. Hãy cài gói espeak-ng (apt-get install espeak-ng).",
        "The espeak-ng library is missing. Install the espeak-ng package (apt-get install espeak-ng).",
        code="tts.espeak_missing",
    )


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class EspeakEngine:
    """espeak-ng through pyttsx3, following the field notes' safe pattern.

    One pyttsx3 engine per worker process; exactly one ``save_to_file`` per ``runAndWait``;
    ``say()`` is never used (it overwrites saved files and shells out to aplay).
    """

    name = "espeak"

    def __init__(self, voice: str = "vi", rate: int = 150, volume: float = 1.0) -> None:
        self.voice = voice
        self.rate = rate
        self.volume = volume
        self._engine: Any = None

    def check(self) -> None:
        espeak_ng_version()
        if importlib.util.find_spec("pyttsx3") is None:
            raise TTSError(
                "Thiếu gói pyttsx3. Hãy cài lại commune-radio.",
                "The pyttsx3 package is missing. Reinstall commune-radio.",
                code="tts.engine_missing",
            )

    def version(self) -> str:
        return f"pyttsx3 {_package_version('pyttsx3')}; espeak-ng {espeak_ng_version()}"

    def params(self) -> dict[str, Any]:
        return {"voice": self.voice, "rate": self.rate, "volume": self.volume}

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}:{type(self).__qualname__}", self.params()

    # -- in the worker process

    def open(self) -> dict[str, Any]:
        import pyttsx3

        engine = pyttsx3.init("espeak")
        voices = [v for v in engine.getProperty("voices") if v.id.rsplit("/", 1)[-1] == self.voice]
        if not voices:
            raise TTSError(
                f"Giọng đọc '{self.voice}' chưa được cài trong espeak-ng.",
                f"The voice '{self.voice}' is not installed in espeak-ng.",
                code="tts.voice_missing",
            )
        wanted = voices[0]
        # pyttsx3 queues property changes until its loop runs: an empty runAndWait applies them.
        engine.setProperty("voice", self.voice)
        engine.setProperty("rate", self.rate)
        engine.setProperty("volume", self.volume)
        engine.runAndWait()
        self._settle()
        current = engine.getProperty("voice")
        language = (wanted.languages or [""])[0]
        if current != wanted.id or not str(language).startswith("vi"):
            raise TTSError(
                f"espeak-ng không chọn được giọng tiếng Việt '{self.voice}' (đang dùng '{current}').",
                f"espeak-ng did not select the Vietnamese voice '{self.voice}' (it reports '{current}').",
                code="tts.voice_missing",
            )
        self._engine = engine
        return {"voice_id": current, "voice_name": wanted.name, "language": language,
                "version": self.version()}

    def synthesize(self, text: str, out_path: Path) -> None:
        out_path.unlink(missing_ok=True)
        # Rate and volume go into espeak's command queue right before the text, every time.
        self._engine.setProperty("rate", self.rate)
        self._engine.setProperty("volume", self.volume)
        # ...and espeak must have applied them before runAndWait: pyttsx3 ends its loop set-up with
        # stop(), which cancels whenever espeak_IsPlaying() - true while these two commands are
        # still queued - and then cancels the utterance it has just started: an empty WAV and the
        # previous rate back (1 run in 25 under load, the "lost rate" of 1 in 20 too). See
        # tests/audio/test_tts_under_load.py.
        self._settle()
        self._engine.save_to_file(text, str(out_path))
        self._engine.runAndWait()
        self._settle()
        if not out_path.is_file() or out_path.stat().st_size <= 44:
            raise TTSError("espeak-ng không tạo ra âm thanh.", "espeak-ng produced no audio.", code="tts.no_audio")


    @staticmethod
    def _settle() -> None:
        """Wait until espeak's own synthesis thread is idle.

        pyttsx3 runs espeak asynchronously (AUDIO_OUTPUT_RETRIEVAL) and ends its loop at the
        first "message terminated" event; late callbacks of one synthesis then raced the next
        one and, about 1 run in 60, wrote an empty WAV. espeak_Synchronize drains the queue.
        """
        from pyttsx3.drivers import _espeak

        _espeak.Synchronize()


class PiperEngine:
    """Piper neural TTS: only with a provisioned model file and the optional ``piper`` extra."""

    name = "piper"

    def __init__(self, model: str, rate: int = 150, volume: float = 1.0, voice: str = "") -> None:
        self.model = model
        self.rate = rate
        self.volume = volume
        self.voice = voice or Path(model).stem
        self._voice: Any = None

    def check(self) -> None:
        if not self.model or not Path(self.model).is_file():
            raise TTSError(
                f"Chưa có tệp giọng đọc Piper ('{self.model}'). Hãy đặt tts.piper_model trỏ tới tệp .onnx "
                "đã chép vào máy, hoặc dùng tts.engine = \"espeak\".",
                f"The Piper voice model '{self.model}' does not exist. Point tts.piper_model at a provisioned "
                ".onnx file, or use tts.engine = \"espeak\". Models are never downloaded.",
                code="tts.piper_model_missing",
            )
        if importlib.util.find_spec("piper") is None:
            raise TTSError(
                "Chưa cài gói Piper. Hãy cài commune-radio[piper] hoặc dùng tts.engine = \"espeak\".",
                "The Piper package is not installed. Install commune-radio[piper] or use tts.engine = \"espeak\".",
                code="tts.piper_missing",
            )

    def version(self) -> str:
        stat = Path(self.model).stat()
        return f"piper-tts {_package_version('piper-tts')}; model {_file_digest(self.model, stat.st_size, stat.st_mtime_ns)}"

    def params(self) -> dict[str, Any]:
        return {"model": self.model, "rate": self.rate, "volume": self.volume, "voice": self.voice}

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}:{type(self).__qualname__}", self.params()

    # -- in the worker process

    def open(self) -> dict[str, Any]:
        self.check()
        from piper.voice import PiperVoice

        model_config = Path(f"{self.model}.json")
        language = ""
        if model_config.is_file():
            data = json.loads(model_config.read_text(encoding="utf-8"))
            language = str((data.get("language") or {}).get("code") or (data.get("espeak") or {}).get("voice") or "")
        if not language.lower().startswith("vi"):
            raise TTSError(
                f"Tệp giọng Piper '{self.model}' không phải giọng tiếng Việt (ngôn ngữ: '{language}').",
                f"The Piper model '{self.model}' is not a Vietnamese voice (language: '{language}').",
                code="tts.voice_missing",
            )
        self._voice = PiperVoice.load(self.model)
        return {"voice_id": self.voice, "voice_name": f"Piper {self.voice}", "language": language,
                "version": self.version()}

    def synthesize(self, text: str, out_path: Path) -> None:
        length_scale = 150.0 / self.rate  # Piper speaks at about 150 wpm at length_scale 1
        with wave.open(str(out_path), "wb") as wav:
            if hasattr(self._voice, "synthesize_wav"):  # piper-tts >= 1.3
                from piper import SynthesisConfig

                self._voice.synthesize_wav(text, wav, syn_config=SynthesisConfig(
                    length_scale=length_scale, volume=self.volume))
            else:
                self._voice.synthesize(text, wav, length_scale=length_scale)


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def engine_from_config(config: AudioPipelineConfig) -> Engine:
    tts = config.tts
    if tts.engine == "piper":
        return PiperEngine(tts.piper_model, rate=tts.rate, volume=tts.volume)
    return EspeakEngine(voice=tts.voice, rate=tts.rate, volume=tts.volume)


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
        self._identity = json.dumps({"format": CACHE_FORMAT, "engine": self.engine.name,
                                     "version": self.engine.version(), "params": self.engine.params()},
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

    def _synthesize_uncached(self, spoken: str, key: str) -> int:
        pieces = split_into_chunks(spoken)
        self.cache.root.mkdir(parents=True, exist_ok=True)
        # Chunks live next to the cache under the temp prefix, so a crash leaves nothing that
        # the start-up sweep (protocol.durable.remove_stale_temps) does not remove.
        stem = f"{TEMP_PREFIX}chunk-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        paths = [self.cache.root / f"{stem}-{index}.wav" for index in range(len(pieces))]
        try:
            # Every chunk first, then one atomic write: a failure leaves no cache entry behind.
            for piece, chunk_path in zip(pieces, paths, strict=True):
                self._worker.synthesize(piece, chunk_path, self.timeout_s)
            join_wavs(paths, self.cache.path_for(key))
        finally:
            for chunk_path in paths:
                chunk_path.unlink(missing_ok=True)
        return len(pieces)


def join_wavs(parts: list[Path], target: Path) -> None:
    """Concatenate WAV files of one format into ``target``, atomically."""
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
        for part in parts:
            with wave.open(str(part), "rb") as source:
                while frames := source.readframes(1 << 16):
                    out.writeframes(frames)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
