"""What the daemon holds in memory between two plans, under one lock.

The planner is pure: everything it needs besides the store comes from here. Operator and
central requests wait in ``requests`` until the planner starts or drops them; ``transients``
are texts spoken once (``say``, an emergency text) that are not items in the store;
``interrupted`` are pre-empted occurrences to resume; ``audio_ended_at`` tells the planner
when each zone last went quiet (for the cool-down and the next warm-up). The session on air
is ``session`` (at most one: the station has one audio output).
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime

from appliance.broadcast import planner


@dataclasses.dataclass(frozen=True)
class Transient:
    """An emergency text or other request that is not an item in the store."""

    item: planner.PlannableItem
    text: str


def request_key(request: planner.Request) -> str:
    return f"{request.item_id}@request:{request.request_id}"


class BroadcastState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[planner.Request] = []
        self.request_actors: dict[str, str] = {}
        self.transients: dict[str, Transient] = {}
        self.interrupted: list[planner.Interrupted] = []
        self.audio_ended_at: dict[str, datetime] = {}
        # Occurrences that started but whose play-log row could not be written (a full card):
        # the planner counts them as failed, so they are not started again and again.
        self.unrecorded: set[str] = set()

    def add_request(self, request: planner.Request, actor: str) -> None:
        with self.lock:
            self.requests.append(request)
            self.request_actors[request_key(request)] = actor

    def forget_request(self, key: str) -> None:
        with self.lock:
            self.requests = [r for r in self.requests if request_key(r) != key]

    def drop_requests(self) -> int:
        """Forget every waiting request (an operator's stop); returns how many there were."""
        with self.lock:
            dropped = len(self.requests)
            self.requests = []
        return dropped

    def add_transient(self, transient: Transient) -> None:
        with self.lock:
            self.transients[transient.item.id] = transient

    def transient_text(self, item_id: str) -> str | None:
        """The text of an emergency text or a `say` (None for a stored item)."""
        with self.lock:
            found = self.transients.get(item_id)
            return found.text if found is not None else None

    def actor_of(self, key: str) -> str:
        """Who asked for a waiting request (``scheduler`` for a slot's occurrence)."""
        with self.lock:
            return self.request_actors.get(key, "scheduler")

    def transient_items(self) -> list[planner.PlannableItem]:
        with self.lock:
            return [t.item for t in self.transients.values()]

    def take_start(self, key: str, item_id: str, *, resume: bool) -> tuple[Transient | None, str]:
        """An occurrence starts: drop its request (and resume entry); returns its transient and actor."""
        with self.lock:
            self.requests = [r for r in self.requests if request_key(r) != key]
            if resume:
                self.interrupted = [i for i in self.interrupted if i.occurrence.key != key]
            return self.transients.get(item_id), self.request_actors.pop(key, "scheduler")

    def note_unrecorded(self, key: str) -> None:
        with self.lock:
            self.unrecorded.add(key)

    def unrecorded_keys(self) -> set[str]:
        with self.lock:
            return set(self.unrecorded)

    def note_interrupted(self, entry: planner.Interrupted) -> None:
        with self.lock:
            self.interrupted.append(entry)

    def session_ended(self, zones: tuple[str, ...], item_id: str, ended: datetime) -> None:
        with self.lock:
            for zone in zones:
                self.audio_ended_at[zone] = ended
            self.transients.pop(item_id, None)

    def snapshot(self) -> tuple[tuple[planner.Request, ...], tuple[planner.Interrupted, ...], dict[str, datetime]]:
        with self.lock:
            return tuple(self.requests), tuple(self.interrupted), dict(self.audio_ended_at)
