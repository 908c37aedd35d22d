"""An emergency text repeated every N minutes, M times or until an operator stops it.

The repeat is a row of ``emergency_repeats`` (migration 0007), written when the first airing is
accepted, so a restart carries on with it. Before every plan the scheduler asks ``due``: each
repeat whose next airing has come is aired again as a new emergency request (the same path as
the first: durable request, speech, alert signal fallback), unless an emergency is on air or
waiting, in which case it waits for it. An operator's stop ends every repeat.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from appliance.state.store import Store
from appliance.system.clock import iso_z, parse_iso_z

RETRY_BUSY_S = 15.0   # an emergency still on air or waiting: look again this much later


class EmergencyRepeats:
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self._now = now

    def add(self, *, text: str, zones: list[str] | None, every_s: int, times: int, resume: bool | None,
            actor: str) -> str:
        """Record a repeat whose first airing was just requested; ``times`` 0: until stopped."""
        repeat_id = uuid.uuid4().hex
        now = self._now()
        with self.store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO emergency_repeats (id, text, zones, every_s, times, aired, next_at, resume, actor,"
                       " created_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                       (repeat_id, text, json.dumps(zones) if zones else None, every_s, times or None,
                        iso_z(now + timedelta(seconds=every_s)), None if resume is None else int(resume), actor,
                        iso_z(now)))
            self.store.log_event("emergency.repeat", f"emergency repeated every {every_s} s, "
                                 f"{times or 'until stopped'} airings, by {actor}",
                                 {"repeat_id": repeat_id, "every_s": every_s, "times": times, "actor": actor}, conn=tx)
        return repeat_id

    def active(self) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM emergency_repeats WHERE ended_at IS NULL ORDER BY created_at")
        out = []
        for row in rows:
            entry = dict(row)
            entry["zones"] = json.loads(row["zones"]) if row["zones"] else None
            entry["resume"] = None if row["resume"] is None else bool(row["resume"])
            entry["left"] = None if row["times"] is None else max(0, int(row["times"]) - int(row["aired"]))
            out.append(entry)
        return out

    def due(self, air: Callable[[dict[str, Any]], None], *, busy: bool) -> int:
        """Air every repeat that is due (``air(repeat)`` requests it); returns how many were aired."""
        now = self._now()
        aired = 0
        for row in self.active():
            if parse_iso_z(row["next_at"]) > now:
                continue
            if busy:
                with self.store.transaction(durable=True) as tx:
                    tx.execute("UPDATE emergency_repeats SET next_at = ? WHERE id = ?",
                               (iso_z(now + timedelta(seconds=RETRY_BUSY_S)), row["id"]))
                continue
            air(row)
            aired += 1
            count = int(row["aired"]) + 1
            finished = row["times"] is not None and count >= int(row["times"])
            with self.store.transaction(durable=True) as tx:
                tx.execute("UPDATE emergency_repeats SET aired = ?, next_at = ?, ended_at = ?, ended_by = ?"
                           " WHERE id = ?", (count, iso_z(now + timedelta(seconds=int(row["every_s"]))),
                                             iso_z(now) if finished else None, "done" if finished else None,
                                             row["id"]))
            busy = True   # one airing per step: the next waits for this one
        return aired

    def end_all(self, actor: str) -> int:
        with self.store.transaction(durable=True) as tx:
            return int(tx.execute("UPDATE emergency_repeats SET ended_at = ?, ended_by = ? WHERE ended_at IS NULL",
                                  (iso_z(self._now()), actor)).rowcount)
