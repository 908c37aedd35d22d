"""Neural voices: a Piper-format voice from an installed voice pack, run by sherpa-onnx.

sherpa-onnx (Apache-2.0) runs the VITS model; espeak-ng (the system library the default engine
uses) turns text into the IPA phonemes the voice was trained on (``audio.engines.phonemes``).
The pack was verified when it was installed and its files are checked again when the engine
loads it (``audio.voicepacks.load_installed``). sherpa-onnx is the optional ``neural`` extra
(about 45 MB installed with its ONNX runtime): stations that only use espeak-ng do not carry it.
"""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path
from typing import Any

from audio.errors import TTSError
from audio.voicepacks import VoicePackError, load_installed

from .base import package_version, worker_path

# Piper voices speak at about this many words per minute at length_scale 1 (speed 1.0).
NATURAL_RATE_WPM = 150


class NeuralEngine:
    name = "neural"

    def __init__(self, voice_pack: str, voices_dir: str | Path, rate: int = NATURAL_RATE_WPM,
                 volume: float = 1.0) -> None:
        self.voice = voice_pack
        self.voices_dir = str(voices_dir)
        self.rate = rate
        self.volume = volume
        self._tts: Any = None
        self._phonemizer: Any = None
        self._sample_rate = 0

    def _pack(self, verify: bool) -> Any:
        try:
            return load_installed(Path(self.voices_dir), self.voice, verify=verify)
        except VoicePackError as exc:
            raise TTSError(exc.vi, exc.en, code=exc.code) from None

    def check(self) -> None:
        self._pack(verify=False)
        if importlib.util.find_spec("sherpa_onnx") is None:
            raise TTSError(
                "Chưa cài gói sherpa-onnx cho giọng nơ-ron. Hãy cài commune-radio[neural] hoặc dùng tts.engine = \"espeak\".",
                "sherpa-onnx (neural voices) is not installed. Install commune-radio[neural] or use "
                "tts.engine = \"espeak\".",
                code="tts.neural_missing",
            )

    def version(self) -> str:
        pack = self._pack(verify=False)
        record = (pack.directory / "installed.json").stat()
        return f"sherpa-onnx {package_version('sherpa-onnx')}; pack {pack.pack_id} {record.st_size}-{record.st_mtime_ns}"

    def params(self) -> dict[str, Any]:
        return {"voice_pack": self.voice, "voices_dir": self.voices_dir, "rate": self.rate, "volume": self.volume}

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        return worker_path(self), self.params()

    # -- in the worker process

    def open(self) -> dict[str, Any]:
        self.check()
        pack = self._pack(verify=True)
        import sherpa_onnx

        from .phonemes import Phonemizer

        config = sherpa_onnx.OfflineTtsConfig(model=sherpa_onnx.OfflineTtsModelConfig(
            vits=sherpa_onnx.OfflineTtsVitsModelConfig(model=str(pack.model), lexicon="", tokens=str(pack.tokens),
                                                       data_dir=""),
            num_threads=1, debug=False, provider="cpu"))
        self._tts = sherpa_onnx.OfflineTts(config)
        self._sample_rate = int(self._tts.sample_rate)
        self._phonemizer = Phonemizer(pack.espeak_voice)
        return {"voice_id": pack.pack_id, "voice_name": pack.name, "language": pack.language,
                "licence": pack.licence, "signed_by": pack.signed_by, "version": self.version()}

    def synthesize(self, text: str, out_path: Path) -> None:
        import numpy as np
        import sherpa_onnx

        out_path.unlink(missing_ok=True)
        phonemes = self._phonemizer.sentences(text)
        if not phonemes:
            raise TTSError("Không có âm vị nào để đọc.", "The text gave no phonemes to speak.", code="tts.no_audio")
        generation = sherpa_onnx.GenerationConfig()
        generation.sid = 0
        generation.speed = max(0.5, min(2.0, self.rate / NATURAL_RATE_WPM))
        generation.phoneme_codepoints = [[ord(ch) for ch in sentence] for sentence in phonemes]
        audio = self._tts.generate(text, generation)
        samples = np.asarray(audio.samples, dtype=np.float32) * float(self.volume)
        if samples.size == 0:
            raise TTSError("Giọng nơ-ron không tạo ra âm thanh.", "The neural voice produced no audio.",
                           code="tts.no_audio")
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with wave.open(str(out_path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(int(audio.sample_rate) or self._sample_rate)
            wav.writeframes(pcm)
