"""Schedules the station refuses, made visible: the planner decides (too frequent, too long, not
understood, with the station's own settings); this records the decision where everyone sees it.

For each central item whose schedule is refused, the item row gets ``schedule_refusal`` (code
and bilingual text), the event log a warning, and ``rejections`` a row (the outbox trigger
reports it to central) — once per item version: the same decision again writes nothing. A
refusal that no longer holds (a settings change) is cleared and logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from appliance.broadcast.plan_types import Refusal
from appliance.state.store import Store, utc_now_iso

CENTRAL_SLOT_PREFIX = "central:"


def rejection_reason(code: str) -> str:
    """The outbox reason code of a refused schedule: ``schedule_invalid.too_frequent`` → ``schedule_too_frequent``."""
    return "schedule_" + code.rsplit(".", 1)[-1][:30]


class ScheduleRefusals:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[str, tuple[int, str]] | None = None

    def record(self, refused: Iterable[Refusal], versions: Mapping[str, int]) -> None:
        """Bring the store in line with this plan's refusals of central schedules."""
        current = {r.item_id: r for r in refused if r.slot_id.startswith(CENTRAL_SLOT_PREFIX)}
        signature = {item_id: (versions.get(item_id, 0), r.error.code) for item_id, r in current.items()}
        if signature == self._last:
            return  # the common case, every few seconds: nothing changed, nothing read or written
        wanted = tuple(current)
        rows = self.store.query(
            "SELECT id, version, schedule_refusal FROM items WHERE source = 'central' AND (schedule_refusal IS NOT NULL"
            f" OR id IN ({', '.join('?' * len(wanted)) or 'NULL'}))", wanted)
        for row in rows:
            have = json.loads(row["schedule_refusal"]) if row["schedule_refusal"] else None
            refusal = current.get(row["id"])
            if refusal is not None and (have is None or have.get("code") != refusal.error.code):
                self._set(row["id"], int(row["version"]), refusal)
            elif refusal is None and have is not None:
                self._clear(row["id"], int(row["version"]))
        self._last = signature

    def _set(self, item_id: str, version: int, refusal: Refusal) -> None:
        error = refusal.error
        value = {"code": error.code, "vi": error.vi, "en": error.en, "at": utc_now_iso()}
        with self.store.transaction() as tx:
            changed = tx.execute("UPDATE items SET schedule_refusal = ?, updated_at = ? WHERE id = ? AND version = ?",
                                 (json.dumps(value, ensure_ascii=False), value["at"], item_id, version)).rowcount
            if not changed:
                return  # a newer version arrived meanwhile: the next plan decides about it
            self.store.log_event("schedule_refused", error.vi, {"id": item_id, "version": version,
                                                                "code": error.code, "en": error.en},
                                 level="warning", conn=tx)
            self.store.record_rejection(reason=rejection_reason(error.code), vi=error.vi, en=error.en,
                                        item_id=item_id, version=version, conn=tx)

    def _clear(self, item_id: str, version: int) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE items SET schedule_refusal = NULL, updated_at = ? WHERE id = ? AND version = ?",
                       (utc_now_iso(), item_id, version))
            self.store.log_event("schedule_accepted", f"Lịch phát của bản tin {item_id} nay được chấp nhận",
                                 {"id": item_id, "version": version,
                                  "en": f"The schedule of item {item_id} is now accepted"}, conn=tx)
