"""Live relay of a radio stream for the length of its slot, retrying a failed or stalled stream.

A relay slot has no clip: the stream plays until the slot's end. When the stream fails or
stalls, it is tried again after a short pause while the slot lasts (never for less than
``MIN_REMAINING_S``); every failed attempt's reason stays in the play log's reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.daemon.onair import Outcome, Session

RETRY_PAUSE_S = 2.0
MIN_REMAINING_S = 3.0

PlayOnce = Callable[["Session", Any, "float | None", "float | None"], "Outcome"]


def relay_stream(session: Session, url: str, duration: float | None, play_once: PlayOnce) -> Outcome:
    """Relay ``url`` for ``duration`` seconds; ``play_once(session, url, None, remaining)`` plays one attempt."""
    total = float(duration or 0)
    if total <= 0:
        return "failed", "stream slot without a duration", 0.0
    deadline = time.monotonic() + total
    played, attempts, reasons = 0.0, 0, []
    reached_end = False
    while not session.cancel.is_set():
        remaining = deadline - time.monotonic()
        if remaining < MIN_REMAINING_S and attempts:
            break
        attempts += 1
        outcome, reason, got = play_once(session, url, None, remaining)
        played += got or 0.0
        if outcome == "completed":
            reached_end = True
            break
        reasons.append(f"attempt {attempts}: {reason}")
        if session.cancel.is_set() or outcome == "interrupted":
            return outcome, "; ".join(reasons) or session.cancel_reason, played
        session.cancel.wait(RETRY_PAUSE_S)
    if session.cancel.is_set():
        return session.cancel_outcome, session.cancel_reason, played
    if reached_end:
        # Relayed to the end of the slot (earlier failed attempts stay in the reason).
        return "completed", "; ".join(reasons), played
    return "failed", "; ".join(reasons) or "stream ended early", played
