"""Central renders the speech of a text item with the station's own pipeline (protocol §4.3).

The same code as on the station (``audio.prepare.Preparer``: normalizer, speech engine, silence
trim, loudness, chime), only with central's voice (``[speech]`` in central.toml): what an editor
hears in the preview is what the loudspeakers play. This module is one of the two through which
central reaches the audio package (the other is ``central.voice_offers``, for voice packs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.engines import describe_voice
from audio.prepare import Preparer
from central.config import CentralConfig, SpeechConfig


@dataclass(frozen=True)
class _TTS:
    engine: str
    voice: str
    rate: int
    voice_pack: str
    volume: float = 1.0
    pitch: int = 50
    pitch_range: int = 50
    word_gap: int = 4
    variant: str = ""
    sentence_gap_ms: int = 0
    max_phrase_words: int = 0
    piper_model: str = ""
    timeout_s: float = 120.0
    cache_max_bytes: int = 500_000_000


@dataclass(frozen=True)
class _Output:
    target_lufs: float
    chime: bool
    output: str = "capture"
    true_peak_dbfs: float = -1.0
    volume: int = 80
    watchdog_margin_s: float = 5.0
    stall_timeout_s: float = 10.0


@dataclass(frozen=True)
class _Pipeline:
    """What ``audio.settings.AudioPipelineConfig`` asks for, from central's ``[speech]``."""

    tts: _TTS
    audio: _Output
    data_path: Path
    capture_path: Path


@dataclass(frozen=True)
class Rendered:
    path: Path
    sha256: str
    duration_s: float
    voice: dict[str, str]     # engine, id, name


def pipeline_config(data_dir: Path, speech: SpeechConfig) -> _Pipeline:
    return _Pipeline(tts=_TTS(engine=speech.engine, voice=speech.voice, rate=speech.rate, voice_pack=speech.voice_pack),
                     audio=_Output(target_lufs=float(speech.target_lufs), chime=speech.chime),
                     data_path=Path(data_dir), capture_path=Path(data_dir) / "captures")


class SpeechRenderer:
    """Renders text to a prepared WAV with central's voice; thread-safe, engine started on first use."""

    def __init__(self, config: CentralConfig) -> None:
        self.config = config
        self.enabled = bool(config.speech.engine)
        self._pipeline = pipeline_config(Path(config.data_dir), config.speech)
        self._preparer: Preparer | None = None
        self._lock = threading.Lock()

    @property
    def voices_dir(self) -> Path:
        return Path(self.config.data_dir) / "voices"

    def voice(self) -> dict[str, str]:
        described = describe_voice(self._pipeline.tts, self.voices_dir)
        return {"engine": described["engine"], "id": described["id"], "name": described["name"]}

    def render(self, text: str) -> Rendered:
        """The prepared speech of ``text`` (raises ``AudioError``/``TTSError`` with bilingual messages)."""
        with self._lock:
            if self._preparer is None:
                self._preparer = Preparer(self._pipeline, Path(self.config.data_dir) / "speech")
            prepared: Any = self._preparer.prepare_text(text)
        return Rendered(path=Path(prepared.path), sha256=prepared.sha256, duration_s=float(prepared.duration_s),
                        voice=self.voice())

    def close(self) -> None:
        with self._lock:
            if self._preparer is not None:
                self._preparer.close()
                self._preparer = None
