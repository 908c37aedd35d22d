"""Speech engines behind one interface (``audio.engines.base.Engine``), one module each.

- ``espeak``: espeak-ng through pyttsx3, on every station (the default);
- ``neural``: Piper-format ONNX voices from an installed voice pack, through sherpa-onnx
  (Apache-2.0; the optional ``neural`` extra);
- ``piper_tts``: the same voices through the GPL ``piper-tts`` package (optional ``piper`` extra).

Nothing here downloads anything: a model is a file a voice pack installed, or it is refused.
"""

from __future__ import annotations

from audio.settings import AudioPipelineConfig

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


__all__ = ["Engine", "engine_from_config"]
