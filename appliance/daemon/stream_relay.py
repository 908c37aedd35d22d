"""Live relay of a radio stream for the length of its slot, retrying a failed or stalled stream.

A relay slot has no clip: the stream plays until the slot's end. When the stream fails or
stalls (the player's stall timeout bounds the silence), the amplifiers go off at once
(``hooks.silent``): a loudspeaker is never left on over silence. The stream is tried again
after a short pause with the amplifiers off, for at most ``SILENT_RETRY_S`` of continuous
silence and while the slot lasts (never for less than ``MIN_REMAINING_S``); as soon as an
attempt delivers audio again the amplifiers come back on (``hooks.flowing``). Every failed
attempt's reason stays in the play log's reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from appliance.system.clock import iso_z

if TYPE_CHECKING:
    from appliance.daemon.onair import OnAir, Outcome, Session

RETRY_PAUSE_S = 2.0
MIN_REMAINING_S = 3.0
SILENT_RETRY_S = 300.0   # a relay source silent this long is given up for this slot

# play_once(session, url, expected_s, max_s, on_started) plays one attempt; on_started is
# called once audio actually flows.
PlayOnce = Callable[["Session", Any, "float | None", "float | None", "Callable[[], None] | None"], "Outcome"]


class StreamHooks(Protocol):
    def silent(self, reason: str) -> None: ...

    def flowing(self) -> None: ...


def relay_stream(session: Session, url: str, duration: float | None, play_once: PlayOnce, hooks: StreamHooks, *,
                 give_up_after_s: float = SILENT_RETRY_S, retry_pause_s: float = RETRY_PAUSE_S) -> Outcome:
    """Relay ``url`` for ``duration`` seconds, switching the amplifiers off while it is silent."""
    total = float(duration or 0)
    if total <= 0:
        return "failed", "stream slot without a duration", 0.0
    deadline = time.monotonic() + total
    played, attempts, reasons = 0.0, 0, []
    reached_end = False
    silent_since: float | None = None

    def started() -> None:
        nonlocal silent_since
        if silent_since is not None:
            silent_since = None
            hooks.flowing()

    while not session.cancel.is_set():
        remaining = deadline - time.monotonic()
        if remaining < MIN_REMAINING_S and attempts:
            break
        if silent_since is not None and time.monotonic() - silent_since >= give_up_after_s:
            reasons.append(f"silent for {give_up_after_s:.0f} s: gave up")
            break
        attempts += 1
        outcome, reason, got = play_once(session, url, None, remaining, started)
        played += got or 0.0
        if outcome == "completed":
            reached_end = True
            break
        reasons.append(f"attempt {attempts}: {reason}")
        if session.cancel.is_set() or outcome == "interrupted":
            return outcome, "; ".join(reasons) or session.cancel_reason, played
        if silent_since is None:
            silent_since = time.monotonic()
            hooks.silent(reason)
        session.cancel.wait(retry_pause_s)
    if session.cancel.is_set():
        return session.cancel_outcome, session.cancel_reason, played
    if reached_end:
        # Relayed to the end of the slot (earlier failed attempts stay in the reason).
        return "completed", "; ".join(reasons), played
    return "failed", "; ".join(reasons) or "stream ended early", played


class RelayHooks:
    """What a live relay does to the amplifiers, the problems and the logs when its source
    falls silent or flows again (see ``appliance.daemon.stream_relay``)."""

    def __init__(self, onair: OnAir, session: Session) -> None:
        self.onair = onair
        self.session = session

    def silent(self, reason: str) -> None:
        onair, session = self.onair, self.session
        session.silent = True
        zones = list(session.zones)
        # The planner's hold too: it stops asking for an on-air zone whose relay is silent.
        onair.amplifiers.release(zones, session.owner, f"relay source silent: {reason}"[:200], immediate=True)
        onair.amplifiers.release(zones, "plan", "relay source silent", immediate=True)
        vi = f"Luồng tiếp sóng '{session.label}' bị mất tiếng; đã tắt ampli, đang thử kết nối lại."
        en = f"Relay stream '{session.label}' went silent; amplifiers off, reconnecting."
        at = iso_z(onair.clock.now())
        onair.problems.raise_("stream.stalled", vi, en, at=at, item_id=session.occurrence.item_id)
        with contextlib.suppress(Exception):
            onair.store.log_event("stream.stalled", vi, {"code": "stream.stalled", "en": en, "reason": reason[:300],
                                                         "item_id": session.occurrence.item_id,
                                                         "key": session.occurrence.key},
                                  level="warning", repeat_key=session.occurrence.key)
        onair._emit({"type": "stream_stalled", "item_id": session.occurrence.item_id, "key": session.occurrence.key,
                     "zones": zones, "reason": reason})
        onair._wake()

    def flowing(self) -> None:
        onair, session = self.onair, self.session
        session.silent = False
        zones = list(session.zones)
        onair.amplifiers.acquire(zones, session.owner, f"relay audio back: {session.label}"[:200])
        onair.problems.clear("stream.stalled")
        vi = f"Luồng tiếp sóng '{session.label}' có tiếng trở lại; đã bật ampli."
        en = f"Relay stream '{session.label}' is back; amplifiers on."
        with contextlib.suppress(Exception):
            onair.store.log_event("stream.recovered", vi, {"code": "stream.recovered", "en": en,
                                                           "item_id": session.occurrence.item_id,
                                                           "key": session.occurrence.key})
        onair._emit({"type": "stream_recovered", "item_id": session.occurrence.item_id, "key": session.occurrence.key,
                     "zones": zones})
        onair._wake()
