"""Piper through the GPL ``piper-tts`` package: an optional extra (``commune-radio[piper]``), never core.

The permissive path for the same voices is ``audio.engines.neural`` (sherpa-onnx).
"""

from __future__ import annotations

import importlib.util
import json
import wave
from pathlib import Path
from typing import Any

from audio.errors import TTSError

from .base import file_digest, package_version, worker_path


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
        return f"piper-tts {package_version('piper-tts')}; model {file_digest(self.model, stat.st_size, stat.st_mtime_ns)}"

    def params(self) -> dict[str, Any]:
        return {"model": self.model, "rate": self.rate, "volume": self.volume, "voice": self.voice}

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        return worker_path(self), self.params()

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
