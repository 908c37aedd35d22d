"""Live audio in: the station's microphone (ALSA through ``arecord``), a WAV file or FIFO, or
chunks a browser sends through the panel, all behind one interface.

Every source gives the same PCM: ``LIVE_FORMAT`` (16 kHz, mono, signed 16-bit little-endian),
which is what a voice needs on a loudspeaker and small enough for a Pi and a phone on 3G.
``read(timeout)`` returns the next bytes (any length, whole samples), ``None`` when nothing
arrived within ``timeout``, and ``b""`` once the source has ended for good (the card went
away, the file ended, the browser said stop). A source never raises from ``read``: how it
ended is in ``ended_reason``.

- ``AlsaCapture``: ``arecord -t raw`` on the configured device (``plughw:1,0``, ``default``, …);
  a missing binary or device ends the source with the reason arecord gave.
- ``FileCapture``: a WAV (or raw PCM) file read at real-time pace, or a FIFO read as its writer
  delivers (tests and the benchmark feed the real code this way; a technician can play a file).
- ``ChunkSource``: bytes pushed by the panel (the operator's browser microphone).

``capture_source(spec)`` picks one from the ``live.capture_device`` setting: a path (``/…``)
is a file or FIFO, anything else an ALSA device name.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import math
import os
import queue
import shutil
import stat
import struct
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

from audio.errors import PlaybackError

READ_BYTES = 1600             # 50 ms of LIVE_FORMAT
MAX_CHUNK_BYTES = 64_000      # one pushed chunk: 2 s at most
QUEUE_CHUNKS = 200            # ~10 s buffered at most: a stuck reader never grows memory


@dataclasses.dataclass(frozen=True)
class PcmFormat:
    rate: int = 16_000
    channels: int = 1
    width: int = 2            # bytes per sample (s16le)

    @property
    def byte_rate(self) -> int:
        return self.rate * self.channels * self.width

    def seconds(self, n_bytes: int) -> float:
        return n_bytes / self.byte_rate


LIVE_FORMAT = PcmFormat()


def capture_error(reason: str, vi: str, en: str) -> PlaybackError:
    return PlaybackError(vi, en, code=f"capture.{reason}")


def level_dbfs(pcm: bytes) -> float:
    """RMS level of s16le samples in dBFS (-120 for digital silence)."""
    n = len(pcm) // 2
    if n == 0:
        return -120.0
    samples = array.array("h", pcm[:n * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    mean_square = sum(s * s for s in samples) / n
    if mean_square <= 0:
        return -120.0
    return max(-120.0, 10 * math.log10(mean_square / (32768.0 * 32768.0)))


class CaptureSource:
    """The interface (and the shared queue behind every implementation)."""

    kind = "source"

    def __init__(self, describe: str) -> None:
        self.describe = describe
        self.fmt = LIVE_FORMAT
        self.ended_reason: str | None = None
        self._queue: queue.Queue[bytes] = queue.Queue(QUEUE_CHUNKS)
        self._ended = threading.Event()
        self._closed = threading.Event()

    def start(self) -> None:
        """Begin capturing (a no-op for pushed chunks)."""

    def read(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            ended = self._ended.is_set()
            try:   # short slices: an end is noticed at once, not after the whole timeout
                return self._queue.get(timeout=max(0.0, min(0.05, deadline - time.monotonic())) if not ended
                                       else 0)
            except queue.Empty:
                if ended:
                    return b""
                if time.monotonic() >= deadline:
                    return None

    def close(self) -> None:
        self._closed.set()
        self._end("closed")

    def _put(self, data: bytes) -> None:
        try:
            self._queue.put_nowait(data)
        except queue.Full:            # the reader is behind: the oldest audio goes, latency stays low
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(data)

    def _end(self, reason: str) -> None:
        if self.ended_reason is None:
            self.ended_reason = reason
        self._ended.set()


class ChunkSource(CaptureSource):
    """PCM pushed by the panel: the browser's microphone, ~50 ms per chunk."""

    kind = "browser"

    def push(self, data: bytes) -> None:
        if self._ended.is_set():
            return
        if len(data) % (self.fmt.width * self.fmt.channels) or len(data) > MAX_CHUNK_BYTES:
            raise capture_error("bad_chunk", f"Khối âm thanh không hợp lệ ({len(data)} byte).",
                                f"Invalid audio chunk ({len(data)} bytes).")
        if data:
            self._put(data)

    def finish(self, reason: str = "the browser stopped sending") -> None:
        self._end(reason)


class _ThreadSource(CaptureSource):
    def start(self) -> None:
        threading.Thread(target=self._pump_safely, name=f"capture:{self.kind}", daemon=True).start()

    def _pump_safely(self) -> None:
        try:
            self._pump()
        except Exception as exc:  # noqa: BLE001 - the reason is what the session logs
            self._end(f"{type(exc).__name__}: {exc}")
        finally:
            self._end("the source ended")

    def _pump(self) -> None:
        raise NotImplementedError


class FileCapture(_ThreadSource):
    """A WAV file (16 kHz mono s16) or a FIFO: read at real-time pace (a FIFO paces itself)."""

    kind = "file"

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = Path(path)

    def _pump(self) -> None:
        try:
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise capture_error("missing", f"Không có nguồn thu âm {self.path}: {exc.strerror}",
                                f"No capture source {self.path}: {exc.strerror}") from None
        fifo = stat.S_ISFIFO(mode)
        with open(self.path, "rb", buffering=0) as handle:
            header = _read_exact(handle, 12)
            if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
                self._skip_to_data(handle)
            elif header:
                self._put(header)
            begun = time.monotonic()
            sent = 0
            while not self._closed.is_set():
                data = handle.read(READ_BYTES)
                if not data:
                    return
                self._put(data)
                sent += len(data)
                if not fifo:         # a regular file would be read at disk speed: pace it
                    ahead = begun + self.fmt.seconds(sent) - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)

    def _skip_to_data(self, handle: object) -> None:
        while True:
            chunk = _read_exact(handle, 8)
            if len(chunk) < 8:
                raise capture_error("bad_wav", "Tệp WAV không có dữ liệu âm thanh.", "The WAV file has no data chunk.")
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                return
            body = _read_exact(handle, size + (size & 1))
            if name == b"fmt ":
                channels, rate = struct.unpack_from("<HI", body, 2)
                bits = struct.unpack_from("<H", body, 14)[0]
                if (rate, channels, bits) != (self.fmt.rate, self.fmt.channels, self.fmt.width * 8):
                    raise capture_error("bad_format",
                                        f"Nguồn thu âm phải là 16 kHz, mono, 16 bit (nhận {rate} Hz, {channels} kênh, "
                                        f"{bits} bit).",
                                        f"The capture source must be 16 kHz mono 16-bit (got {rate} Hz, "
                                        f"{channels} channel(s), {bits} bit).")


class AlsaCapture(_ThreadSource):
    """The station's microphone or line-in through ``arecord`` (alsa-utils)."""

    kind = "alsa"

    def __init__(self, device: str) -> None:
        super().__init__(device)
        self.device = device
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        fmt = self.fmt
        # 20 ms periods, 100 ms buffer: low latency, and the Pi has time to wake up.
        return ["arecord", "-q", "-D", self.device, "-t", "raw", "-f", "S16_LE", "-c", str(fmt.channels),
                "-r", str(fmt.rate), "--period-time=20000", "--buffer-time=100000"]

    def _pump(self) -> None:
        if shutil.which("arecord") is None:
            raise capture_error("no_arecord", "Thiếu chương trình arecord: hãy cài gói alsa-utils.",
                                "arecord is missing: install the alsa-utils package.")
        process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                   stderr=subprocess.PIPE)
        self._process = process
        assert process.stdout is not None
        try:
            while not self._closed.is_set():
                data = process.stdout.read1(READ_BYTES) if hasattr(process.stdout, "read1") \
                    else process.stdout.read(READ_BYTES)
                if not data:
                    break
                self._put(data)
        finally:
            self._stop_process()
        if not self._closed.is_set():
            err = (process.stderr.read() if process.stderr else b"").decode("utf-8", "replace").strip()
            raise capture_error("device_lost", f"Micrô {self.device} ngừng thu: {err or 'không rõ lý do'}",
                                f"Microphone {self.device} stopped: {err or 'no reason given'}")

    def close(self) -> None:
        super().close()
        self._stop_process()

    def _stop_process(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(2)


def capture_source(spec: str) -> CaptureSource:
    """The station-microphone source named by ``live.capture_device``."""
    if not spec:
        raise capture_error("not_configured", "Chưa cấu hình micrô của trạm (live.capture_device).",
                            "The station microphone is not configured (live.capture_device).")
    if spec.startswith("/"):
        return FileCapture(Path(spec))
    return AlsaCapture(spec)


def write_wav_header(handle: object, fmt: PcmFormat = LIVE_FORMAT) -> None:
    """A streaming WAV header (sizes at their maximum): for feeding a FIFO source."""
    data_size = 0xFFFFFFFF - 36
    handle.write(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"  # type: ignore[attr-defined]
                 + b"fmt " + struct.pack("<IHHIIHH", 16, 1, fmt.channels, fmt.rate, fmt.byte_rate,
                                         fmt.channels * fmt.width, fmt.width * 8)
                 + b"data" + struct.pack("<I", data_size))


def read_wav_pcm(path: Path) -> tuple[int, bytes]:
    """(rate, mono s16le frames) of a WAV file (the first channel of a stereo one)."""
    with wave.open(str(path), "rb") as reader:
        rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
        frames = reader.readframes(reader.getnframes())
    if width != 2:
        raise capture_error("bad_format", "Chỉ đọc được WAV 16 bit.", "Only 16-bit WAV can be read.")
    if channels > 1:
        n = len(frames) // (2 * channels)
        samples = struct.unpack(f"<{n * channels}h", frames[:n * channels * 2])
        frames = struct.pack(f"<{n}h", *samples[::channels])
    return rate, frames


def _read_exact(handle: object, n: int) -> bytes:
    out = b""
    while len(out) < n:
        data = handle.read(n - len(out))  # type: ignore[attr-defined]
        if not data:
            break
        out += data
    return out


def make_fifo(path: Path) -> Path:
    """A fresh FIFO at ``path`` (mode 0600)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.mkfifo(path, 0o600)
    return path
