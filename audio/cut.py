"""A clip cut short with a fade-out: what plays when a slot's length or a broadcast window ends
before the clip does.

The cut is made before the audio starts, on the prepared WAV (16-bit PCM), so the fade is in the
sound itself and sounds the same on the sound card and in a capture. Only the kept frames are
read: cutting the first minute of an hour-long clip reads one minute.
"""

from __future__ import annotations

import array
import sys
import uuid
import wave
from pathlib import Path

from audio.errors import AudioError
from protocol.durable import TEMP_PREFIX, atomic_writer

FADE_S = 1.0          # a short fade: the listener hears an ending, not a click
_BLOCK_FRAMES = 1 << 16


def cut_with_fade(source: Path, work_dir: Path, seconds: float, *, fade_s: float = FADE_S) -> Path:
    """The first ``seconds`` of ``source`` with a linear fade over its last ``fade_s``, as a temp-named
    WAV in ``work_dir`` (the caller deletes it after playing; the start-up sweep removes leftovers)."""
    if seconds <= 0:
        raise AudioError("Không còn thời gian để phát.", "No time left to play.", code="audio.cut_empty")
    try:
        reader = wave.open(str(source), "rb")  # noqa: SIM115 - closed by the with below
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioError(f"Không đọc được tệp âm thanh {source.name}.", f"Cannot read the clip {source}: {exc}",
                         code="audio.unreadable") from None
    target = work_dir / f"{TEMP_PREFIX}cut-{uuid.uuid4().hex[:12]}.wav"
    with reader:
        if reader.getsampwidth() != 2:
            raise AudioError("Tệp âm thanh không phải PCM 16 bit.", f"{source.name} is not 16-bit PCM.",
                             code="audio.not_pcm16")
        channels, rate = reader.getnchannels(), reader.getframerate()
        keep = min(reader.getnframes(), int(round(seconds * rate)))
        fade_frames = min(keep, int(round(fade_s * rate)))
        fade_from = keep - fade_frames
        work_dir.mkdir(parents=True, exist_ok=True)
        with atomic_writer(target) as handle, wave.open(handle, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(rate)
            done = 0
            while done < keep:
                count = min(_BLOCK_FRAMES, keep - done)
                samples = array.array("h")
                samples.frombytes(reader.readframes(count))
                if sys.byteorder == "big":
                    samples.byteswap()
                if done + count > fade_from:
                    for i in range(len(samples)):
                        frame = done + i // channels
                        if frame >= fade_from:
                            samples[i] = int(samples[i] * (keep - frame) / max(1, fade_frames))
                if sys.byteorder == "big":
                    samples.byteswap()
                out.writeframes(samples.tobytes())
                done += count
    return target
