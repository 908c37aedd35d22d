"""Read-side memo for the busiest pages: the items and slots the week view and the dashboard
expand, and fragments rendered from them, reused until the data changes.

Why: twenty phones refreshing the dashboard would otherwise decode every item's JSON and
re-expand every recurrence on each request. A fingerprint (row count and latest
``updated_at`` of items, slots, play_log and panel_settings) is one cheap query and changes
with any write, by the panel, the daemon or sync, so nothing shown is ever stale. What the
planner will refuse depends on the settings (windows): ``plan_key`` is the part of the
fingerprint a planned view depends on (items, slots, settings).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from markupsafe import Markup, escape

from appliance.broadcast import recurrence
from appliance.broadcast.slots import SlotRepository
from appliance.panel.weekview import from_item, from_stored
from appliance.state.config import Config
from appliance.state.store import Store

T = TypeVar("T")
_MAX_FRAGMENTS = 64

# Where a memoised fragment holds a form, it is rendered with this marker in place of the CSRF
# token, and ``with_csrf`` puts the requesting session's token there. Random per process, so no
# stored text (a title, a name) can contain it.
CSRF_MARK = "csrf-mark-" + secrets.token_hex(16)


def with_csrf(fragment: str) -> Markup:
    """A memoised fragment (safe HTML) with this request's CSRF token in place of the marker."""
    if CSRF_MARK not in fragment:
        return Markup(fragment)
    from flask_wtf.csrf import generate_csrf

    return Markup(fragment.replace(CSRF_MARK, str(escape(generate_csrf()))))


class Snapshot:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._plan: tuple[Hashable, dict[str, dict[str, Any]], list[recurrence.Slot]] | None = None
        self._fragments: OrderedDict[Hashable, Any] = OrderedDict()

    def fingerprint(self) -> tuple[Any, ...]:
        row = self.store.query_one(
            "SELECT (SELECT COUNT(*) FROM items), (SELECT MAX(updated_at) FROM items),"
            " (SELECT COUNT(*) FROM slots), (SELECT MAX(updated_at) FROM slots),"
            " (SELECT COUNT(*) FROM play_log), (SELECT MAX(updated_at) FROM play_log),"
            " (SELECT COUNT(*) FROM panel_settings), (SELECT MAX(updated_at) FROM panel_settings)")
        return tuple(row) if row is not None else ()

    @staticmethod
    def plan_key(fingerprint: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(fingerprint[:4]) + tuple(fingerprint[6:8])

    def plan_inputs(self, config: Config, fingerprint: tuple[Any, ...] | None = None,
                    ) -> tuple[dict[str, dict[str, Any]], list[recurrence.Slot]]:
        """Items by id and every slot (local and from central items' schedules)."""
        key = (fingerprint or self.fingerprint())[:4]
        with self._lock:
            if self._plan is not None and self._plan[0] == key:
                return self._plan[1], self._plan[2]
        items = {i["id"]: i for i in self.store.list_items()}
        slots = [c for c in (from_stored(s) for s in SlotRepository(self.store, config).list()) if c is not None]
        slots += [s for s in (from_item(i) for i in items.values()) if s is not None]
        with self._lock:
            self._plan = (key, items, slots)
        return items, slots

    def fragment(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value computed once per key (the key must include the fingerprint it depends on)."""
        with self._lock:
            if key in self._fragments:
                self._fragments.move_to_end(key)
                return self._fragments[key]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._fragments[key] = value
            while len(self._fragments) > _MAX_FRAGMENTS:
                self._fragments.popitem(last=False)
        return value
