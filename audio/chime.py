"""The project's announcement chime, synthesized from first principles (no samples, no licence doubt).

Two bell-like notes, E5 then C5 (the familiar "ding-dong" of public-address systems), each a
fundamental plus a few decaying partials. The result is deterministic, so the committed
``audio/assets/chime.wav`` can be checked against this script. Regenerate it with
``python -m audio.chime`` (writes the asset atomically).
"""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from pathlib import Path

from protocol.durable import atomic_write_bytes

SAMPLE_RATE = 22050
CHIME_PATH = Path(__file__).resolve().parent / "assets" / "chime.wav"

# (frequency ratio to the fundamental, relative amplitude, decay time constant in s).
# The 2.76 ratio is the inharmonic "hum" partial of a struck bar that makes it sound like a bell.
_PARTIALS = ((1.0, 1.0, 0.55), (2.0, 0.35, 0.30), (2.76, 0.18, 0.18), (4.07, 0.06, 0.10))
# (start s, fundamental Hz): E5 then C5.
_NOTES = ((0.0, 659.26), (0.5, 523.25))
_LENGTH_S = 1.9
_ATTACK_S = 0.006
_PEAK = 0.5  # -6 dBFS: preparation normalizes loudness anyway; headroom avoids clipping here.


def render_chime(sample_rate: int = SAMPLE_RATE) -> list[float]:
    """The chime as float samples in [-1, 1]."""
    total = int(_LENGTH_S * sample_rate)
    out = [0.0] * total
    for start_s, f0 in _NOTES:
        first = int(start_s * sample_rate)
        for ratio, amp, tau in _PARTIALS:
            freq = f0 * ratio
            if freq >= sample_rate / 2:
                continue
            step = 2.0 * math.pi * freq / sample_rate
            for n in range(total - first):
                t = n / sample_rate
                envelope = math.exp(-t / tau) * min(1.0, t / _ATTACK_S)
                out[first + n] += amp * envelope * math.sin(step * n)
    # A short fade-out so the file never ends on a click.
    fade = int(0.05 * sample_rate)
    for i in range(fade):
        out[total - fade + i] *= 1.0 - i / fade
    peak = max(abs(s) for s in out)
    return [s * _PEAK / peak for s in out]


def chime_wav_bytes(sample_rate: int = SAMPLE_RATE) -> bytes:
    """The chime as a 16-bit mono PCM WAV file."""
    samples = render_chime(sample_rate)
    pcm = struct.pack(f"<{len(samples)}h", *(round(s * 32767) for s in samples))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def main() -> int:
    atomic_write_bytes(CHIME_PATH, chime_wav_bytes())
    print(CHIME_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
