"""Text-to-speech for the panel: the spoken form of a text and a WAV preview to listen to.

The panel may synthesize (it touches neither GPIO nor the sound card); it uses the same
normalizer and Preparer as the daemon so the preview is what the loudspeakers will say.
Previews are registered by sha256 so that only files the panel produced can be served.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from appliance.state.config import Config
from audio.errors import AudioError, TTSError

_MAX_REGISTERED = 256


class SpeechService:
    def __init__(self, config: Config, work_dir: Path, preparer_factory: Any) -> None:
        self.config = config
        self.work_dir = work_dir
        self._factory = preparer_factory
        self._preparers: dict[tuple[str, int], Any] = {}
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def spoken_form(self, text: str) -> str:
        try:
            from audio.normalize import normalize_for_speech
        except ImportError:
            raise TTSError("Bộ chuẩn hoá văn bản chưa được cài đặt.", "The text normalizer is not installed.",
                           code="tts.unavailable") from None
        return str(normalize_for_speech(text))

    def _preparer(self, voice: str, rate: int) -> Any:
        key = (voice, rate)
        with self._lock:
            if key not in self._preparers:
                tts = dataclasses.replace(self.config.tts, voice=voice, rate=rate)
                config = dataclasses.replace(self.config, tts=tts)
                try:
                    self._preparers[key] = self._factory(config, self.work_dir / "prepared")
                except ImportError:
                    raise TTSError("Bộ tổng hợp giọng nói chưa được cài đặt.", "Speech synthesis is not installed.",
                                   code="tts.unavailable") from None
            return self._preparers[key]

    def preview(self, text: str, voice: str, rate: int) -> tuple[str, float]:
        """Synthesize (cached by the Preparer) and register the WAV; returns (sha256, seconds)."""
        prepared = self._preparer(voice, rate).prepare_text(text)
        self.register(prepared.sha256, Path(prepared.path))
        return prepared.sha256, float(prepared.duration_s)

    def register(self, sha: str, path: Path) -> None:
        with self._lock:
            self._files[sha] = path
            self._files.move_to_end(sha)
            while len(self._files) > _MAX_REGISTERED:
                self._files.popitem(last=False)

    def path_for(self, sha: str) -> Path | None:
        with self._lock:
            path = self._files.get(sha)
        if path is None or not path.is_file():
            return None
        return path


def speech_error(exc: Exception) -> AudioError:
    if isinstance(exc, AudioError):
        return exc
    return TTSError(f"Không tổng hợp được giọng nói: {exc}.", f"Speech synthesis failed: {exc}.")
