"""When to report: heartbeat periods spread per device, and backoff after failures (pure)."""

from __future__ import annotations

import hashlib
import random

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 900.0
MAX_RETRY_AFTER_S = 3600.0
MAX_EXPONENT = 30  # 2**30 × any sane base is far past any cap


def device_jitter_fraction(device_id: str) -> float:
    """A stable per-device fraction in [0, 1): the same device always gets the same phase."""
    digest = hashlib.sha256(device_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def heartbeat_period(interval_s: float, device_id: str, rng: random.Random) -> float:
    """Seconds to the next heartbeat: up to 10 % early per device, plus ±2 % noise.

    Always shorter than ``interval_s`` × 1.05, so central's 1.5-interval offline rule holds.
    """
    return interval_s * (1.0 - 0.10 * device_jitter_fraction(device_id)) * rng.uniform(0.98, 1.02)


def backoff_delay(failures: int, rng: random.Random, *, retry_after: float | None = None,
                  base_s: float = BACKOFF_BASE_S, max_s: float = BACKOFF_MAX_S) -> float:
    """Exponential backoff with full jitter, never below ``Retry-After`` (capped at an hour).

    The exponent is capped before it is computed: ``5.0 * 2 ** 1024`` does not fit a float, and
    a station a week without central reaches a thousand failures.
    """
    exponent = min(max(0, failures - 1), MAX_EXPONENT)
    ceiling = min(max_s, base_s * 2.0 ** exponent)
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay
