"""Audio preparation: any clip or text becomes a trimmed, loudness-matched WAV that libVLC plays reliably.

Steps (``Preparer.prepare_file`` / ``Preparer.prepare_text``):

1. decode with ffmpeg (WAV, MP3, OGG, M4A, …) straight to 16-bit mono PCM at 22.05 kHz, held in a
   pydub ``AudioSegment``; corrupt, empty, non-audio and over-long inputs are refused with an
   ``AudioError`` (pydub's own ``from_file`` is not used: it leaks file handles);
2. trim leading and trailing silence (relative to the clip's own peak, keeping a short pad);
3. loudness-normalize to ``audio.target_lufs`` (BS.1770 integrated) with true peak at or below
   ``audio.true_peak_dbfs``: one linear gain when the peaks allow it; otherwise (espeak's peaky
   speech always needs it) a look-ahead limiter (ffmpeg ``alimiter``) shaves the peaks first and a
   final linear gain lands on the target. Measured here: loudnorm takes ~1.5 s for 94 s of
   speech, this ~0.4 s, and pyloudnorm's normalizer clips;
4. for text, the project's chime before and after (``audio.chime``), at the same loudness;
5. store as ``<work_dir>/<sha256>.wav`` (content-addressed, written atomically), with a small
   index entry keyed by the input's hash and every parameter, so preparing the same input again
   (ahead of a slot, then at air time) is a file lookup.

Output: 16-bit PCM WAV, mono, 22.05 kHz. Horn loudspeakers reproduce little above 7 kHz, and the
format keeps SD-card writes and Pi CPU low.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import threading
import time
import wave
from pathlib import Path
from typing import Any

from pydub import AudioSegment

from audio.chime import CHIME_PATH
from audio.errors import AudioError
from audio.loudness import (
    Loudness,
    ebur128_filter,
    measure_pcm,
    parse_ebur128_summary,
    pcm_input_args,
    run_ffmpeg,
)
from audio.settings import AudioPipelineConfig
from audio.tts import Synthesizer
from protocol.durable import atomic_write_bytes, atomic_write_text

SAMPLE_RATE = 22050
CHANNELS = 1
SAMPLE_WIDTH = 2
# A clip longer than an hour is refused: it would not fit comfortably in a small Pi's memory,
# and programmes that long are live relays (streams), not clips.
MAX_CLIP_S = 3600.0
# BS.1770 integrated loudness needs at least one 400 ms block of sound.
MIN_SOUND_S = 0.5
SILENCE_BELOW_PEAK_DB = 45.0
SILENCE_PAD_MS = 150
# Headroom kept under the true-peak ceiling for measurement and 16-bit rounding differences.
PEAK_MARGIN_DB = 0.2
# The limiter works on sample peaks; inter-sample peaks sit up to ~1 dB higher on speech.
LIMITER_HEADROOM_DB = 1.0
LIMITER_TOLERANCE_LU = 0.5
# At the target like everything else: a quieter chime drags a short announcement's loudness down.
CHIME_BELOW_TARGET_LU = 0.0
CHIME_GAP_MS = 300
PREPARE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class PreparedAudio:
    path: Path
    sha256: str
    duration_s: float
    lufs: float
    true_peak_dbfs: float


# --------------------------------------------------------------------------- decoding


def decode(path: Path, *, max_seconds: float = MAX_CLIP_S) -> AudioSegment:
    """Decode the first audio stream of ``path`` to mono 22.05 kHz 16-bit PCM."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioError(f"Không tìm thấy tệp âm thanh {name}.", f"Audio file {path} not found.",
                         code="audio.missing") from None
    except OSError as exc:
        raise AudioError(f"Không đọc được tệp âm thanh {name}.", f"Cannot read audio file {path}: {exc.strerror}.",
                         code="audio.unreadable") from None
    if not path.is_file():
        raise AudioError(f"{name} không phải là tệp âm thanh.", f"{path} is not a regular file.",
                         code="audio.not_audio")
    if size == 0:
        raise AudioError(f"Tệp âm thanh {name} rỗng (0 byte).", f"Audio file {name} is empty (0 bytes).",
                         code="audio.empty")
    result = run_ffmpeg(["-v", "error", "-i", f"file:{path}", "-map", "0:a:0", "-vn", "-sn", "-dn",
                         "-t", f"{max_seconds + 1:.0f}", "-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE),
                         "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"], input_path=path)
    if result.returncode != 0 or not result.stdout:
        detail = _first_error(result.stderr.decode("utf-8", "replace"))
        raise AudioError(
            f"Tệp {name} hỏng hoặc không phải là âm thanh nên không dùng được.",
            f"{name} is corrupt or not audio and cannot be used ({detail}).",
            code="audio.not_audio",
        )
    segment = AudioSegment(data=result.stdout, sample_width=SAMPLE_WIDTH, frame_rate=SAMPLE_RATE, channels=CHANNELS)
    if segment.duration_seconds > max_seconds:
        raise AudioError(
            f"Tệp {name} dài quá {max_seconds / 60:.0f} phút; hãy chia nhỏ hoặc phát dưới dạng luồng trực tiếp.",
            f"{name} is longer than {max_seconds / 60:.0f} minutes; split it or relay it as a stream.",
            code="audio.too_long",
        )
    return segment


def _first_error(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return (lines[-1] if lines else "no audio decoded")[:200]


# --------------------------------------------------------------------------- trimming


def trim_silence(segment: AudioSegment, *, below_peak_db: float = SILENCE_BELOW_PEAK_DB,
                 pad_ms: int = SILENCE_PAD_MS) -> AudioSegment:
    """Cut leading and trailing silence, keeping ``pad_ms`` so consonant onsets are not clipped."""
    peak = segment.max_dBFS
    if peak == float("-inf"):
        raise _no_sound()
    threshold = peak - below_peak_db
    start = _leading_silence_ms(segment, threshold)
    end = len(segment) - _leading_silence_ms(segment.reverse(), threshold)
    if end <= start:
        raise _no_sound()
    return segment[max(0, start - pad_ms):min(len(segment), end + pad_ms)]


def _leading_silence_ms(segment: AudioSegment, threshold_dbfs: float, step_ms: int = 10) -> int:
    position = 0
    total = len(segment)
    while position < total and segment[position:position + step_ms].dBFS < threshold_dbfs:
        position += step_ms
    return min(position, total)


def _no_sound() -> AudioError:
    return AudioError("Tệp âm thanh không có tiếng (chỉ toàn im lặng).",
                      "The audio holds no sound (silence only).", code="audio.silent")


# --------------------------------------------------------------------------- loudness


def linear_gain_db(measured: Loudness, target_lufs: float, ceiling_dbfs: float,
                   margin_db: float = PEAK_MARGIN_DB) -> float:
    """The gain toward the target that keeps true peak under the ceiling (may fall short of the target)."""
    return min(target_lufs - measured.integrated_lufs, ceiling_dbfs - margin_db - measured.true_peak_dbfs)


def needs_limiter(measured: Loudness, target_lufs: float, ceiling_dbfs: float,
                  margin_db: float = PEAK_MARGIN_DB, tolerance_lu: float = LIMITER_TOLERANCE_LU) -> bool:
    """True when a linear gain alone would miss the target by more than ``tolerance_lu``."""
    reach = measured.integrated_lufs + linear_gain_db(measured, target_lufs, ceiling_dbfs, margin_db)
    return target_lufs - reach > tolerance_lu


def limit_and_measure(pcm: bytes, gain_db: float, limit_dbfs: float) -> tuple[bytes, Loudness]:
    """Apply gain then a look-ahead peak limiter (one ffmpeg pass), measuring the result."""
    limit = min(1.0, max(0.0625, 10 ** (limit_dbfs / 20)))
    chain = (f"volume={gain_db:.3f}dB,"
             f"alimiter=limit={limit:.5f}:attack=5:release=50:level=disabled:latency=1,"
             f"{ebur128_filter()}")
    result = run_ffmpeg(["-v", "info", *pcm_input_args(SAMPLE_RATE, CHANNELS), "-af", chain,
                         "-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le",
                         "pipe:1"], input_bytes=pcm)
    log = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 or not result.stdout:
        raise AudioError("ffmpeg không xử lý được độ to của âm thanh.",
                         f"ffmpeg failed to limit the audio: {_first_error(log)}", code="audio.process")
    return result.stdout, parse_ebur128_summary(log)


def normalize_loudness(segment: AudioSegment, target_lufs: float, ceiling_dbfs: float) -> AudioSegment:
    """The segment at ``target_lufs`` integrated with true peak at or below ``ceiling_dbfs``."""
    if segment.duration_seconds < MIN_SOUND_S:
        raise AudioError(
            f"Âm thanh quá ngắn (dưới {MIN_SOUND_S} giây) để đo độ to.",
            f"The audio is too short (under {MIN_SOUND_S} s) to measure its loudness.",
            code="audio.too_short",
        )
    measured = measure_pcm(segment.raw_data, SAMPLE_RATE, CHANNELS)
    if measured.silent:
        raise _no_sound()
    if not needs_limiter(measured, target_lufs, ceiling_dbfs):
        return segment.apply_gain(linear_gain_db(measured, target_lufs, ceiling_dbfs))
    pre_gain = target_lufs - measured.integrated_lufs
    limit_dbfs = ceiling_dbfs - LIMITER_HEADROOM_DB
    # Limiting lowers loudness a little; if the final linear gain cannot make that up, push the
    # pre-gain by the shortfall (at most twice: each pass costs a full ffmpeg run).
    for _ in range(3):
        pcm, limited = limit_and_measure(segment.raw_data, pre_gain, limit_dbfs)
        reach = limited.integrated_lufs + linear_gain_db(limited, target_lufs, ceiling_dbfs)
        shortfall = target_lufs - reach
        if shortfall <= LIMITER_TOLERANCE_LU:
            break
        pre_gain += shortfall
    out = segment._spawn(pcm)
    return out.apply_gain(linear_gain_db(limited, target_lufs, ceiling_dbfs))


# --------------------------------------------------------------------------- output


def wav_bytes(segment: AudioSegment) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(segment.channels)
        wav.setsampwidth(segment.sample_width)
        wav.setframerate(segment.frame_rate)
        wav.writeframes(segment.raw_data)
    return buffer.getvalue()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _chime_digest(path: Path, size: int, mtime_ns: int) -> str:
    return _sha256_file(path)


class Preparer:
    """Prepare clips and texts into ``work_dir`` (default ``<data_dir>/prepared``)."""

    def __init__(self, config: AudioPipelineConfig, work_dir: Path | None = None, *,
                 synthesizer: Synthesizer | None = None, chime_path: Path = CHIME_PATH) -> None:
        self.config = config
        self.work_dir = Path(work_dir) if work_dir is not None else config.data_path / "prepared"
        self.target_lufs = config.audio.target_lufs
        self.ceiling_dbfs = config.audio.true_peak_dbfs
        self.chime = config.audio.chime
        self.chime_path = chime_path
        self._synthesizer = synthesizer
        self._owns_synthesizer = synthesizer is None
        self._chime_segment: AudioSegment | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_synthesizer and self._synthesizer is not None:
            self._synthesizer.close()
            self._synthesizer = None

    @property
    def synthesizer(self) -> Synthesizer:
        # Created on first use: preparing recorded clips never needs an engine process.
        with self._lock:
            if self._synthesizer is None:
                self._synthesizer = Synthesizer(self.config)
            return self._synthesizer

    # ------------------------------------------------------------------ public

    def prepare_text(self, text: str) -> PreparedAudio:
        synthesizer = self.synthesizer
        spoken = synthesizer.normalize(text)
        key = self._key("text", tts=synthesizer.cache_key(spoken), chime=self._chime_identity())
        cached = self._lookup(key)
        if cached is not None:
            return cached
        speech = synthesizer.synthesize(text)
        segment = normalize_loudness(trim_silence(decode(speech.path)), self.target_lufs, self.ceiling_dbfs)
        if self.chime:
            chime = self._chime()
            gap = AudioSegment.silent(CHIME_GAP_MS, frame_rate=SAMPLE_RATE)
            segment = chime + gap + segment + gap + chime
        return self._store(key, segment, source="text")

    def prepare_file(self, path: Path) -> PreparedAudio:
        path = Path(path)
        try:
            digest = _sha256_file(path)
        except FileNotFoundError:
            raise AudioError(f"Không tìm thấy tệp âm thanh {path.name}.", f"Audio file {path} not found.",
                             code="audio.missing") from None
        except (IsADirectoryError, PermissionError) as exc:
            raise AudioError(f"Không đọc được tệp âm thanh {path.name}.", f"Cannot read {path}: {exc.strerror}.",
                             code="audio.unreadable") from None
        key = self._key("file", input=digest)
        cached = self._lookup(key)
        if cached is not None:
            return cached
        segment = normalize_loudness(trim_silence(decode(path)), self.target_lufs, self.ceiling_dbfs)
        return self._store(key, segment, source="file")

    def prune(self, keep: set[str], *, max_age_s: float) -> int:
        """Delete prepared clips not in ``keep`` (sha256s in use) and unused for ``max_age_s``.

        Index entries whose clip is gone are removed too; an item whose clip was pruned is
        simply prepared again. Returns how many clips were deleted.
        """
        cutoff = time.time() - max_age_s
        removed = 0
        for path in self.work_dir.glob("*.wav"):
            sha = path.stem
            with contextlib.suppress(FileNotFoundError):
                if sha not in keep and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        for entry in (self.work_dir / "index").glob("*.json"):
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                sha = json.loads(entry.read_text(encoding="utf-8"))["sha256"]
                if not (self.work_dir / f"{sha}.wav").exists():
                    entry.unlink()
        return removed

    # ------------------------------------------------------------------ internals

    def _key(self, kind: str, **parts: Any) -> str:
        identity = {"format": PREPARE_FORMAT, "kind": kind, "target_lufs": self.target_lufs,
                    "true_peak_dbfs": self.ceiling_dbfs, "rate": SAMPLE_RATE, **parts}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def _chime_identity(self) -> str | None:
        if not self.chime:
            return None
        try:
            stat = self.chime_path.stat()
        except FileNotFoundError:
            raise AudioError("Thiếu tệp tiếng chuông báo hiệu. Hãy cài lại commune-radio.",
                             f"The chime file {self.chime_path} is missing. Reinstall commune-radio.",
                             code="audio.chime_missing") from None
        return _chime_digest(self.chime_path, stat.st_size, stat.st_mtime_ns)

    def _chime(self) -> AudioSegment:
        if self._chime_segment is None:
            raw = decode(self.chime_path, max_seconds=30)
            self._chime_segment = normalize_loudness(raw, self.target_lufs - CHIME_BELOW_TARGET_LU,
                                                     self.ceiling_dbfs)
        return self._chime_segment

    def _index_path(self, key: str) -> Path:
        return self.work_dir / "index" / f"{key}.json"

    def _lookup(self, key: str) -> PreparedAudio | None:
        try:
            entry = json.loads(self._index_path(key).read_text(encoding="utf-8"))
            path = self.work_dir / f"{entry['sha256']}.wav"
            if path.stat().st_size != entry["bytes"]:
                return None
            os.utime(path)  # marks the clip as used, so pruning keeps it
            return PreparedAudio(path=path, sha256=entry["sha256"], duration_s=entry["duration_s"],
                                 lufs=entry["lufs"], true_peak_dbfs=entry["true_peak_dbfs"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None  # absent or damaged entry: prepare again

    def _store(self, key: str, segment: AudioSegment, *, source: str) -> PreparedAudio:
        measured = measure_pcm(segment.raw_data, SAMPLE_RATE, CHANNELS)
        if measured.true_peak_dbfs > self.ceiling_dbfs:
            # Joining parts or 16-bit rounding nudged a peak over the ceiling: pull it back under.
            segment = segment.apply_gain(self.ceiling_dbfs - PEAK_MARGIN_DB - measured.true_peak_dbfs)
            measured = measure_pcm(segment.raw_data, SAMPLE_RATE, CHANNELS)
        data = wav_bytes(segment)
        sha = hashlib.sha256(data).hexdigest()
        path = self.work_dir / f"{sha}.wav"
        if not (path.is_file() and path.stat().st_size == len(data)):
            atomic_write_bytes(path, data)
        prepared = PreparedAudio(path=path, sha256=sha, duration_s=round(segment.duration_seconds, 3),
                                 lufs=measured.integrated_lufs, true_peak_dbfs=measured.true_peak_dbfs)
        entry = {"sha256": sha, "bytes": len(data), "duration_s": prepared.duration_s, "lufs": prepared.lufs,
                 "true_peak_dbfs": prepared.true_peak_dbfs, "source": source}
        atomic_write_text(self._index_path(key), json.dumps(entry, sort_keys=True))
        return prepared
