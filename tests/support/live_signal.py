"""A distinctive test signal for live voice (a tone sequence), and finding it in a capture.

The sequence is a run of 80 ms tones whose pitches follow a fixed pseudo-random order, so the
cross-correlation of a capture with it has one sharp peak where the signal is (a plain tone or
noise would match anywhere). ``find`` returns the normalised correlation at the best lag.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

RATE = 16_000
_TONE_S = 0.08
_FREQS = (440.0, 1175.0, 659.0, 1568.0, 523.0, 988.0, 784.0, 1319.0, 587.0, 1047.0, 698.0, 880.0)


def tone_sequence(seconds: float, rate: int = RATE, seed: int = 15, amplitude: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per = int(_TONE_S * rate)
    count = int(seconds / _TONE_S)
    t = np.arange(per) / rate
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)
    parts = [amplitude * ramp * np.sin(2 * np.pi * _FREQS[rng.integers(len(_FREQS))] * t) for _ in range(count)]
    return np.concatenate(parts).astype(np.float32)


def pcm16(signal: np.ndarray) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def write_wav(path: Path, signal: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm16(signal))
    return path


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as reader:
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
        raw = reader.readframes(reader.getnframes())
    if width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 4:
        data = np.frombuffer(raw, "<f4").astype(np.float32)
    else:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128.0
    return rate, data[::channels] if channels > 1 else data


def resample(data: np.ndarray, rate: int, to: int = RATE) -> np.ndarray:
    if rate == to or len(data) == 0:
        return data
    n = int(len(data) * to / rate)
    return np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.float32)


def find(capture: np.ndarray, reference: np.ndarray, window_s: float = 0.5, rate: int = RATE,
         pieces: int = 4) -> tuple[float, int]:
    """(best normalised correlation of a ``window_s`` piece of ``reference`` in ``capture``, its lag).

    ``pieces`` pieces spread over the reference are each looked for, and the best match counts: one
    dropout in the capture (a late chunk on a loaded machine) does not hide the signal around it.
    The capture may contain the reference looped (a browser's fake microphone loops its file), so
    any lag is accepted. A 0.5 s piece holds six tones of twelve pitches in a pseudo-random order:
    nothing but that signal correlates above 0.9 with it.
    """
    n = int(window_s * rate)
    if len(capture) < n or len(reference) < n:
        return 0.0, -1
    best, lag = 0.0, -1
    size = 1 << int(np.ceil(np.log2(len(capture) + n)))
    spectrum = np.fft.rfft(capture, size)
    for k in range(pieces):
        start = (len(reference) - n) * (k + 1) // (pieces + 1)
        piece = reference[start:start + n] - reference[start:start + n].mean()
        # FFT cross-correlation, then the exact normalised value at the top candidates.
        corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(piece, size)), size)[:len(capture) - n + 1]
        for candidate in np.argsort(corr)[-20:]:
            seg = capture[candidate:candidate + n]
            seg = seg - seg.mean()
            denom = float(np.linalg.norm(seg) * np.linalg.norm(piece))
            if denom > 0:
                value = float(np.dot(seg, piece) / denom)
                if value > best:
                    best, lag = value, int(candidate)
    return best, lag


def wav_bytes_header() -> bytes:
    """A streaming WAV header (16 kHz mono s16, sizes at their maximum), as a FIFO writer sends."""
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFDB))
