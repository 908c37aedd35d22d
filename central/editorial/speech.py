"""Speech previews and uploaded audio, through the station's own audio pipeline.

A preview is made by ``audio.prepare.Preparer.prepare_text`` with the station's default
voice and loudness (espeak-ng, -16 LUFS, chimes), so an editor hears what a station with the
default settings will say; the normalized text (what the engine reads) is shown beside it.
Uploaded audio is decoded, checked and brought to the target loudness by
``Preparer.prepare_file`` before it is stored as the item's media: a file the pipeline
cannot read is refused with its reason. Work files live in ``<data_dir>/editorial-audio``;
only files made here are served back (by sha256).
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audio.errors import AudioError, TTSError

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class TTS:
    """The station's ``[tts]`` defaults (appliance/state/config.py)."""

    engine: str = "espeak"
    voice: str = "vi"
    rate: int = 130
    volume: float = 1.0
    pitch: int = 50
    pitch_range: int = 50
    word_gap: int = 4
    variant: str = ""
    sentence_gap_ms: int = 0
    max_phrase_words: int = 0
    voice_pack: str = ""
    piper_model: str = ""
    timeout_s: float = 60.0
    cache_max_bytes: int = 200_000_000


@dataclass(frozen=True)
class Output:
    """The station's ``[audio]`` defaults."""

    output: str = "capture"
    target_lufs: float = -16.0
    true_peak_dbfs: float = -1.0
    chime: bool = True
    volume: int = 80
    watchdog_margin_s: float = 5.0
    stall_timeout_s: float = 10.0


@dataclass(frozen=True)
class PipelineConfig:
    data_path: Path
    tts: TTS = field(default_factory=TTS)
    audio: Output = field(default_factory=Output)

    @property
    def capture_path(self) -> Path:
        return self.data_path / "captures"


@dataclass(frozen=True)
class Preview:
    sha256: str
    duration_s: float
    spoken: str


class Speech:
    """Lazily made preparer (the engine child process starts at the first preview)."""

    def __init__(self, data_dir: Path) -> None:
        self.work_dir = Path(data_dir) / "editorial-audio"
        self._config = PipelineConfig(data_path=self.work_dir)
        self._preparer: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._preparer is None:
                from audio.prepare import Preparer

                self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._preparer = Preparer(self._config, self.work_dir / "prepared")
            return self._preparer

    def spoken_form(self, text: str) -> str:
        from audio.tts import spoken_form

        return str(spoken_form(text))

    def preview(self, text: str) -> Preview:
        spoken = self.spoken_form(text)
        prepared = self._get().prepare_text(text)
        return Preview(sha256=prepared.sha256, duration_s=float(prepared.duration_s), spoken=spoken)

    def prepare_upload(self, data: bytes) -> Path:
        """A checked, loudness-prepared WAV made from uploaded bytes; raises AudioError."""
        if not data:
            raise AudioError("Tệp âm thanh rỗng.", "The audio file is empty.", code="audio.empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise AudioError("Tệp âm thanh quá lớn (tối đa 50 MB).", "The audio file is too large (50 MB at most).",
                             code="audio.too_long")
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=self.work_dir, prefix="upload-", delete=False) as handle:
            handle.write(data)
            upload = Path(handle.name)
        try:
            return Path(self._get().prepare_file(upload).path)
        finally:
            upload.unlink(missing_ok=True)

    def path_for(self, sha256: str) -> Path | None:
        if len(sha256) != 64 or not all(ch in "0123456789abcdef" for ch in sha256):
            return None
        path = self.work_dir / "prepared" / f"{sha256}.wav"
        return path if path.is_file() else None

    def close(self) -> None:
        with self._lock:
            if self._preparer is not None:
                self._preparer.close()
                self._preparer = None


def speech_error(exc: Exception) -> AudioError:
    if isinstance(exc, AudioError):
        return exc
    return TTSError(f"Không tổng hợp được giọng nói: {exc}.", f"Speech synthesis failed: {exc}.")
