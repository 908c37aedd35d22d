"""A live session's audio path: capture source → (chime) → the player's FIFO and the recording.

``LiveFeed.run`` is the feed's thread. It drops whatever the source captured before the
audio goes on air (the warm-up: what was said then would only add delay), plays the chime
at real-time pace when asked, then gives every chunk to the Opus recorder as it comes and to
the FIFO libVLC reads through a ``Pacer``: the FIFO is written at exactly real-time pace by the
station's clock, from a small jitter buffer (silence while it fills, the oldest audio dropped
when it holds too much). libVLC never starves (a starved libVLC re-buffers and keeps the delay
for the rest of the session: on a loaded machine the latency ratcheted up to half a second
before this), and the delay stays bounded whatever the network does. It ends (closing the FIFO, so the player plays what it has and
stops) on the first of ``stop_rule``'s reasons, an operator's stop, or the session's cancel.
``stop_rule`` is pure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import select
import threading
import time
from pathlib import Path

from audio.capture import CaptureSource, level_dbfs
from audio.recorder import OpusRecorder

READ_TIMEOUT_S = 0.1
TICK_S = 0.02               # the FIFO is topped up this often
JITTER_TARGET_S = 0.08      # the pacer starts (and restarts after an underrun) with this much buffered
JITTER_MAX_S = 0.3          # more than this buffered: the oldest is dropped back to the target
JITTER_WINDOW_S = 1.0       # audio buffered all through such a window beyond the target is dropped
OPEN_TIMEOUT_S = 10.0       # the player must open the FIFO within this
CHUNK_BYTES = 1600          # 50 ms of the live format


@dataclasses.dataclass(frozen=True)
class LiveLimits:
    max_s: float = 900.0
    silence_s: float = 60.0
    silence_dbfs: float = -50.0
    lost_s: float = 2.5


@dataclasses.dataclass(frozen=True)
class Ending:
    kind: str         # live_sessions.outcome: stopped, silence, source_lost, max_length, window_end, failed
    vi: str
    en: str


def stop_rule(now: float, *, started: float, last_data: float, silent_since: float | None, ended: bool,
              limits: LiveLimits, end_at: float | None) -> Ending | None:
    """Why a live feed must end now (monotonic seconds), or None. Pure."""
    if ended or now - last_data >= limits.lost_s:
        return Ending("source_lost", f"Mất nguồn âm thanh (không nhận được tiếng trong {limits.lost_s:g} giây).",
                      f"Source lost (no audio for {limits.lost_s:g} s).")
    if now - started >= limits.max_s:
        return Ending("max_length", f"Đạt thời lượng tối đa {limits.max_s / 60:g} phút.",
                      f"Maximum length of {limits.max_s / 60:g} min reached.")
    if end_at is not None and now >= end_at:
        return Ending("window_end", "Hết khung giờ phát.", "The broadcast window ended.")
    if silent_since is not None and now - silent_since >= limits.silence_s:
        return Ending("silence", f"Im lặng quá {limits.silence_s:g} giây: tự dừng.",
                      f"Silent for {limits.silence_s:g} s: stopped by itself.")
    return None


class Pacer:
    """A jitter buffer read at a fixed rate. Pure (no clock: the caller asks for ``n`` bytes).

    After a late burst (a network hiccup: silence played, then the late audio arrives all at
    once) the buffer holds more than it needs; what stayed buffered through a whole window
    beyond the target was never needed, and is dropped, so the delay comes back down.
    """

    def __init__(self, byte_rate: int, *, target_s: float = JITTER_TARGET_S, max_s: float = JITTER_MAX_S,
                 window_s: float = JITTER_WINDOW_S, frame: int = 2) -> None:
        self.frame = frame
        self.target = int(byte_rate * target_s) // frame * frame
        self.max = int(byte_rate * max_s) // frame * frame
        self.window = int(byte_rate * window_s)
        self.buffer = bytearray()
        self.primed = False
        self.dropped = 0
        self.underruns = 0
        self._taken = 0            # bytes taken in this window
        self._lowest: int | None = None

    def add(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > self.max:
            excess = len(self.buffer) - self.target
            del self.buffer[:excess]
            self.dropped += excess

    def take(self, n: int) -> bytes:
        n -= n % self.frame
        if not self.primed and len(self.buffer) >= self.target:
            self.primed = True
        if not self.primed:
            return bytes(n)
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        if len(out) < n:           # the source is late: silence, and fill up again
            self.primed = False
            self.underruns += 1
            self._taken, self._lowest = 0, None
            return out + bytes(n - len(out))
        self._lowest = len(self.buffer) if self._lowest is None else min(self._lowest, len(self.buffer))
        self._taken += n
        if self._taken >= self.window:
            surplus = self._lowest - self.target
            surplus -= surplus % self.frame
            if surplus > 0:
                del self.buffer[:surplus]
                self.dropped += surplus
            self._taken, self._lowest = 0, None
        return out


class LiveFeed:
    def __init__(self, source: CaptureSource, *, limits: LiveLimits, recorder: OpusRecorder | None,
                 fifo: Path | None = None, chime: bytes = b"") -> None:
        self.source = source
        self.limits = limits
        self.recorder = recorder
        self.fifo = fifo
        self.chime = chime
        self.level_dbfs = -120.0
        self.phase = "starting"        # starting → chime → live → ended
        self.started_mono: float | None = None
        self.fed_bytes = 0
        self.dropped_bytes = 0
        self.ending: Ending | None = None
        self.done = threading.Event()
        self._stop: Ending | None = None
        self._fd: int | None = None
        self.pacer: Pacer | None = None

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.started_mono is None else time.monotonic() - self.started_mono

    def request_stop(self, ending: Ending) -> None:
        if self._stop is None:
            self._stop = ending

    def run(self, cancel: threading.Event, *, end_at: float | None = None) -> None:
        try:
            self._run(cancel, end_at)
        except Exception as exc:  # noqa: BLE001 - the session logs how its feed ended
            self.ending = self.ending or Ending("failed", f"Lỗi đường âm thanh trực tiếp: {exc}",
                                                f"Live audio path failed: {exc!r}")
        finally:
            self.phase = "ended"
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            self.done.set()

    def _run(self, cancel: threading.Event, end_at: float | None) -> None:
        if self.fifo is not None and not self._open_fifo(cancel):
            if not cancel.is_set():
                self.ending = Ending("failed", "Bộ phát không mở đường âm thanh trực tiếp.",
                                     "The player did not open the live audio pipe.")
            return
        self._drain()
        if self.chime:
            self.phase = "chime"
            self._play_chime(cancel)
            self._drain()
        self.phase = "live"
        self.started_mono = now = time.monotonic()
        last_data = now
        silent_since: float | None = None
        fmt = self.source.fmt
        pacer = self.pacer = Pacer(fmt.byte_rate, frame=fmt.width * fmt.channels)
        paced = 0                  # bytes written to the FIFO since the voice began
        while not cancel.is_set():
            if self._stop is not None:
                self.ending = self._stop
                return
            wait = TICK_S if self.fifo is not None else READ_TIMEOUT_S
            data = self.source.read(wait)
            now = time.monotonic()
            if data:
                last_data = now
                self.level_dbfs = level_dbfs(data)
                if self.level_dbfs < self.limits.silence_dbfs:
                    silent_since = silent_since if silent_since is not None else now
                else:
                    silent_since = None
                pacer.add(data)
                if self.recorder is not None:
                    self.recorder.write(data)
            if self.fifo is not None:
                due = int((now - self.started_mono) * fmt.byte_rate) - paced
                due -= due % pacer.frame
                if due > 0:
                    self._write(pacer.take(due))
                    paced += due
            ending = stop_rule(now, started=self.started_mono, last_data=last_data, silent_since=silent_since,
                               ended=data == b"", limits=self.limits, end_at=end_at)
            if ending is not None:
                if ending.kind == "source_lost" and self.source.ended_reason:
                    ending = Ending(ending.kind, f"{ending.vi} ({self.source.ended_reason})",
                                    f"{ending.en} ({self.source.ended_reason})")
                self.ending = self._stop or ending
                return

    def _drain(self) -> None:
        while self.source.read(0):
            pass

    def _play_chime(self, cancel: threading.Event) -> None:
        begun = time.monotonic()
        for offset in range(0, len(self.chime), CHUNK_BYTES):
            if cancel.is_set() or self._stop is not None:
                return
            self._write(self.chime[offset:offset + CHUNK_BYTES])
            ahead = begun + self.source.fmt.seconds(offset + CHUNK_BYTES) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def _open_fifo(self, cancel: threading.Event) -> bool:
        """Open the FIFO for writing once the player has opened it for reading."""
        assert self.fifo is not None
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        while not cancel.is_set() and time.monotonic() < deadline:
            try:
                self._fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                return True
            except OSError as exc:
                if exc.errno != errno.ENXIO:   # ENXIO: no reader yet
                    raise
            cancel.wait(0.01)
        return False

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            return
        # Pieces of at most PIPE_BUF are written whole or not at all: samples never split.
        for offset in range(0, len(data), select.PIPE_BUF):
            piece = data[offset:offset + select.PIPE_BUF]
            try:
                self.fed_bytes += os.write(self._fd, piece)
            except BlockingIOError:
                self.dropped_bytes += len(piece)
            except BrokenPipeError:
                self.request_stop(Ending("failed", "Bộ phát đã đóng đường âm thanh trực tiếp.",
                                         "The player closed the live audio pipe."))
                return
