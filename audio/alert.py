"""The emergency alert signal, synthesized from first principles (no samples, no licence doubt).

What the loudspeakers play when an emergency's speech cannot be synthesized: an unmistakable
attention signal (three rising two-tone calls, 880/1175 Hz, the intervals of a fire-brigade
horn) that needs no engine, so villagers know something is wrong while the station retries the
speech. Deterministic, so the committed ``audio/assets/alert.wav`` can be checked against this
script. Regenerate it with ``python -m audio.alert`` (writes the asset atomically).
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
ALERT_PATH = Path(__file__).resolve().parent / "assets" / "alert.wav"

_TONES = (880.0, 1174.66)   # A5 and D6: a fourth, as two-tone horns use
_TONE_S = 0.45
_CALLS = 3
_GAP_S = 0.35
_RAMP_S = 0.015
_PEAK = 0.5  # -6 dBFS: preparation normalizes loudness anyway.


def render_alert(sample_rate: int = SAMPLE_RATE) -> list[float]:
    """The alert as float samples in [-1, 1]: (low, high) × 3 with gaps, soft edges, a few harmonics."""
    out: list[float] = []
    ramp = int(_RAMP_S * sample_rate)
    tone_n = int(_TONE_S * sample_rate)
    for call in range(_CALLS):
        for freq in _TONES:
            step = 2.0 * math.pi * freq / sample_rate
            for n in range(tone_n):
                edge = min(1.0, n / ramp, (tone_n - 1 - n) / ramp)
                # Odd harmonics make it carry over a horn loudspeaker's narrow band.
                value = math.sin(step * n) + 0.3 * math.sin(3 * step * n) + 0.12 * math.sin(5 * step * n)
                out.append(edge * value)
        if call < _CALLS - 1:
            out.extend([0.0] * int(_GAP_S * sample_rate))
    peak = max(abs(s) for s in out)
    return [s * _PEAK / peak for s in out]


def alert_wav_bytes(sample_rate: int = SAMPLE_RATE) -> bytes:
    """The alert as a 16-bit mono PCM WAV file."""
    samples = render_alert(sample_rate)
    pcm = struct.pack(f"<{len(samples)}h", *(round(s * 32767) for s in samples))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def main() -> int:
    atomic_write_bytes(ALERT_PATH, alert_wav_bytes())
    print(ALERT_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
