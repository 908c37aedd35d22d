"""Speech engines behind one interface (``audio.engines.base.Engine``), one module each.

- ``espeak``: espeak-ng through pyttsx3, on every station (the default);
- ``neural``: Piper-format ONNX voices from an installed voice pack, through sherpa-onnx
  (Apache-2.0; the optional ``neural`` extra);
- ``piper_tts``: the same voices through the GPL ``piper-tts`` package (optional ``piper`` extra).

Nothing here downloads anything: a model is a file a voice pack installed, or it is refused.
"""

from __future__ import annotations

from pathlib import Path

from audio.settings import AudioPipelineConfig, TTSSettings

from .base import Engine


def engine_from_config(config: AudioPipelineConfig) -> Engine:
    tts = config.tts
    if tts.engine == "piper":
        from .piper_tts import PiperEngine

        return PiperEngine(tts.piper_model, rate=tts.rate, volume=tts.volume)
    if tts.engine == "neural":
        from .neural import NeuralEngine

        return NeuralEngine(tts.voice_pack, voices_dir=config.data_path / "voices", rate=tts.rate,
                            volume=tts.volume)
    from .espeak import EspeakEngine

    return EspeakEngine(voice=tts.voice, rate=tts.rate, volume=tts.volume, pitch=tts.pitch,
                        pitch_range=tts.pitch_range, word_gap=tts.word_gap, variant=tts.variant)


_ESPEAK_ACCENTS = {"vi": "Northern", "vi-vn-x-central": "Central", "vi-vn-x-south": "Southern"}


def describe_voice(tts: TTSSettings, voices_dir: Path) -> dict[str, str]:
    """Which voice the station speaks with, for the panel, ``status`` and the heartbeat (no engine started)."""
    if tts.engine == "neural":
        from audio.voicepacks import VoicePackError, load_installed

        try:
            pack = load_installed(voices_dir, tts.voice_pack, verify=False)
        except VoicePackError:
            return {"engine": "neural", "id": tts.voice_pack or "-", "name": f"{tts.voice_pack or '-'} (missing)",
                    "language": ""}
        return {"engine": "neural", "id": pack.pack_id, "name": pack.name, "language": pack.language}
    if tts.engine == "piper":
        return {"engine": "piper", "id": Path(tts.piper_model).stem or "-", "name": Path(tts.piper_model).name,
                "language": "vi"}
    variant = f"+{tts.variant}" if tts.variant else ""
    return {"engine": "espeak", "id": f"{tts.voice}{variant}",
            "name": f"espeak-ng Vietnamese ({_ESPEAK_ACCENTS.get(tts.voice, tts.voice)}{variant})", "language": "vi"}


__all__ = ["Engine", "describe_voice", "engine_from_config"]
