"""Daily housekeeping of what the daemon writes to the card: prepared clips nobody uses and
old captures. Runs in its own thread whether or not sync is configured (a station without
central must not fill its card either).

Captures are what the ``capture`` output writes (a Pi without a sound card: every broadcast
becomes a WAV file): kept ``CAPTURE_KEEP_S``, and at most ``CAPTURE_MAX_BYTES`` in all, newest
kept first.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

CAPTURE_KEEP_S = 7 * 86400.0
CAPTURE_MAX_BYTES = 1_000_000_000


def prune_captures(directory: Path, *, now: float | None = None, keep_s: float = CAPTURE_KEEP_S,
                   max_bytes: int = CAPTURE_MAX_BYTES, pattern: str = "*.wav") -> tuple[int, int]:
    """Delete captures older than ``keep_s`` and the oldest beyond ``max_bytes``; returns (files, bytes)."""
    now = time.time() if now is None else now
    entries: list[tuple[float, int, Path]] = []
    with contextlib.suppress(FileNotFoundError):
        for path in directory.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                info = path.stat()
                entries.append((info.st_mtime, info.st_size, path))
    entries.sort(reverse=True)   # newest first
    kept = removed = freed = 0
    for mtime, size, path in entries:
        if now - mtime <= keep_s and kept + size <= max_bytes:
            kept += size
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
            freed += size
    return removed, freed
