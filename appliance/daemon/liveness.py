"""Liveness of the daemon's long-running threads, for the systemd watchdog and health checks.

A thread proves it is alive by beating. A thread may be idle (e.g. the on-air thread
between broadcasts): an idle thread cannot be wedged. A thread that is busy and has not
beaten for longer than its limit is wedged, and the watchdog must not be fed.

``wedged(beats, now, limits)`` is pure; ``Heartbeats`` is the small thread-safe recorder.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping

DEBUG_ENV = "COMMUNE_RADIO_DEBUG"
WEDGE_ENV = "COMMUNE_RADIO_DEBUG_WEDGE"


@dataclasses.dataclass(frozen=True)
class Beat:
    at: float          # monotonic seconds of the last beat
    busy: bool         # False: idle, cannot be wedged


def wedged(beats: Mapping[str, Beat], now: float, limits: Mapping[str, float],
           required: tuple[str, ...] = ()) -> list[str]:
    """Names of threads that are busy and silent for longer than their limit, or required but never seen."""
    found = [name for name in required if name not in beats]
    for name, beat in beats.items():
        limit = limits.get(name)
        if limit is not None and beat.busy and now - beat.at > limit:
            found.append(name)
    return sorted(set(found))


class Heartbeats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beats: dict[str, Beat] = {}

    def beat(self, name: str) -> None:
        with self._lock:
            self._beats[name] = Beat(time.monotonic(), True)

    def idle(self, name: str) -> None:
        with self._lock:
            self._beats[name] = Beat(time.monotonic(), False)

    def snapshot(self) -> dict[str, Beat]:
        with self._lock:
            return dict(self._beats)

    def ages(self) -> dict[str, float]:
        now = time.monotonic()
        return {name: round(now - beat.at, 3) for name, beat in self.snapshot().items()}


_wedge_forever = threading.Event()


def debug_wedge_point(name: str) -> None:
    """Test-only fault hook: block this thread forever when ``COMMUNE_RADIO_DEBUG=1`` and
    ``COMMUNE_RADIO_DEBUG_WEDGE`` names this point. Without the debug flag it does nothing,
    so a stray variable on a real station cannot wedge anything."""
    if os.environ.get(DEBUG_ENV) == "1" and name in os.environ.get(WEDGE_ENV, "").split(","):
        _wedge_forever.wait()
