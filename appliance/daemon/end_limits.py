"""Audio that must stop at ``Start.end_by`` (the slot's length, the window's end, the item's expiry).

A clip that would run past it is cut before it plays, with a short fade made in the sound itself
(``audio.cut``), so the listener hears an ending and the capture shows it too. A live relay lasts
its slot; only a window closing or the item expiring earlier shortens it.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.daemon.onair import Session

log = logging.getLogger(__name__)

CUT_TOLERANCE_S = 0.3   # a clip this much longer than its time left is not worth cutting
MIN_CUT_S = 1.0         # even a late start plays a second (with its fade) rather than a click
_SHORTEN_STREAMS = ("window_end", "expired")


@dataclasses.dataclass(frozen=True)
class Cut:
    seconds: float
    path: Path | None   # the faded copy of a clip (deleted after playing); None for a relay


def fit_to_end(session: Session, source: Any, duration: float | None, is_stream: bool, *, now: datetime,
               work_dir: Path) -> tuple[Any, float | None, Cut | None]:
    """(source, duration, cut) to play so that audio ends by ``session.end_by``; cut is None when it fits."""
    if session.end_by is None or duration is None or session.end_reason is None:
        return source, duration, None
    allowed = (session.end_by - now).total_seconds()
    if duration <= allowed + CUT_TOLERANCE_S:
        return source, duration, None
    seconds = max(MIN_CUT_S, allowed)
    if is_stream:
        if session.end_reason.code not in _SHORTEN_STREAMS:
            return source, duration, None
        return source, seconds, Cut(seconds, None)
    from audio.cut import cut_with_fade  # only when a clip must be cut

    path = cut_with_fade(Path(source), work_dir, seconds)
    log.info("cutting %s to %.1f s of %.1f s: %s", session.label, seconds, duration, session.end_reason.en)
    return path, seconds, Cut(seconds, path)
