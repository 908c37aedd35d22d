"""Broadcast windows: the local times of day when a zone may play normal and priority items.

A window is ``HH:MM-HH:MM`` in the device zone and may cross midnight (``21:00-02:00``).
``HH:MM-HH:MM`` with equal ends means the whole day. Emergency items ignore windows; that
rule lives in the planner. Everything here is pure: instants in, instants out.

Concrete intervals are built from local wall times and converted with zoneinfo, so a
window stays a wall-clock window across a DST change (Vietnam has none, the code is
still correct for zones that do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from appliance.errors import ScheduleError

_WINDOW_RE = re.compile(r"^\s*([01][0-9]|2[0-3]):([0-5][0-9])\s*-\s*([01][0-9]|2[0-3]):([0-5][0-9])\s*$")


@dataclass(frozen=True)
class Window:
    """One daily window in local wall time; ``end <= start`` means it ends the next day."""

    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_window(text: str) -> Window:
    """Parse ``'HH:MM-HH:MM'``; raise ScheduleError with both languages when it is malformed."""
    match = _WINDOW_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ScheduleError(
            f"Khung giờ phát '{text}' không hợp lệ: hãy viết dạng GG:PP-GG:PP, ví dụ 05:30-21:30.",
            f"Broadcast window '{text}' is invalid: write it as HH:MM-HH:MM, e.g. 05:30-21:30.",
            code="schedule_invalid.window",
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return Window(time(h1, m1), time(h2, m2))


def parse_windows(texts: Iterable[str]) -> tuple[Window, ...]:
    return tuple(parse_window(t) for t in texts)


def _local_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    # fold=0: a wall time skipped by a DST gap maps past the gap, a repeated one to its first pass.
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def intervals_around(windows: Iterable[Window], instant: datetime, tz: ZoneInfo,
                     days_before: int = 1, days_after: int = 1) -> list[tuple[datetime, datetime]]:
    """Concrete UTC intervals of ``windows`` for the local days around ``instant``, merged.

    Touching or overlapping intervals are merged, so ``05:30-12:00`` and ``12:00-21:30``
    behave as one window and an item may run across the seam.
    """
    local_day = instant.astimezone(tz).date()
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(-days_before, days_after + 1):
        day = local_day + timedelta(days=offset)
        for w in windows:
            start = _local_instant(day, w.start, tz)
            end_day = day + timedelta(days=1) if w.crosses_midnight else day
            end = _local_instant(end_day, w.end, tz)
            if end > start:
                spans.append((start, end))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def allows(windows: Iterable[Window], start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """True when the whole span [start, end] lies inside one (merged) window.

    A zone with no windows allows nothing: silence is the safe reading of an empty list.
    """
    windows = tuple(windows)
    if not windows:
        return False
    span_days = max(1, (end - start).days + 1)
    for w_start, w_end in intervals_around(windows, start, tz, days_after=span_days):
        if w_start <= start and end <= w_end:
            return True
    return False


def window_end(windows: Iterable[Window], instant: datetime, tz: ZoneInfo) -> datetime | None:
    """When the (merged) window open at ``instant`` closes; None when none is open then."""
    for w_start, w_end in intervals_around(tuple(windows), instant, tz, days_after=2):
        if w_start <= instant < w_end:
            return w_end
    return None


def next_opening(windows: Iterable[Window], instant: datetime, tz: ZoneInfo) -> datetime | None:
    """The first instant at or after ``instant`` when a window is open (``instant`` itself if open)."""
    windows = tuple(windows)
    if not windows:
        return None
    for w_start, w_end in intervals_around(windows, instant, tz, days_after=2):
        if w_end > instant:
            return max(w_start, instant)
    return None
