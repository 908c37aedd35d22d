"""The play log: one durable row per play attempt (proof of play, and the "already played" set).

Order of writes is what makes a crash harmless: ``begin`` commits a ``playing`` row with
``durable=True`` BEFORE any audio starts; ``finish`` turns it into completed / cut (stopped at
its slot's length or window's end) / interrupted / failed. A row still ``playing`` at start-up belongs to a crashed run: ``recover`` marks it
interrupted, and because the occurrence key is taken, the occurrence never plays again.
The unique index (occurrence_key, attempt) makes the database refuse a double play too.

``on_final(conn, row)`` hooks (e.g. the reporting outbox) run inside the same transaction
that writes a final outcome, so a report is queued exactly when the row becomes final.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from appliance.broadcast.reasons import vietnamese
from appliance.state.store import Store, utc_now_iso
from protocol.errors import ValidationError
from protocol.spec import PLAY_TEXT_MAX_BYTES

OUTCOMES = ("completed", "cut", "interrupted", "failed", "skipped")
TRIGGERS = ("schedule", "operator", "emergency", "central")

FinalHook = Callable[[sqlite3.Connection, dict[str, Any]], None]


class AlreadyPlayed(ValidationError):
    """The occurrence (attempt) already has a play-log row: it must not play again."""

    code = "invalid_input.already_played"


@dataclasses.dataclass(frozen=True)
class PlayStart:
    """What is about to play (written as the 'playing' row)."""

    item_id: str
    item_version: int | None
    zones: Sequence[str]
    trigger: str
    occurrence_key: str | None = None
    attempt: int = 1
    slot_id: str | None = None
    scheduled_start: str | None = None
    actor: str = ""
    title: str = ""
    text: str | None = None   # what is spoken for an emergency text or a `say` (no stored item)


def clip_utf8(text: str | None, limit: int = PLAY_TEXT_MAX_BYTES) -> str | None:
    """``text`` cut to at most ``limit`` UTF-8 bytes at a character boundary."""
    if text is None:
        return None
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    data["zones"] = json.loads(data["zones"])
    return data


class PlayLog:
    def __init__(self, store: Store, *, now: Callable[[], str] = utc_now_iso) -> None:
        self._store = store
        self._now = now
        self._hooks: list[FinalHook] = []

    def add_final_hook(self, hook: FinalHook) -> None:
        self._hooks.append(hook)

    # ------------------------------------------------------------------ writes

    def begin(self, start: PlayStart) -> str:
        """Commit a durable 'playing' row; returns its id. Raises AlreadyPlayed for a taken occurrence."""
        if start.trigger not in TRIGGERS:
            raise ValueError(f"unknown trigger {start.trigger!r}")
        play_id = uuid.uuid4().hex
        now = self._now()
        try:
            with self._store.transaction(durable=True) as tx:
                tx.execute(
                    "INSERT INTO play_log (id, item_id, item_version, occurrence_key, attempt, slot_id, zones,"
                    " scheduled_start, actual_start, outcome, trigger, actor, title, text, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'playing', ?, ?, ?, ?, ?, ?)",
                    (play_id, start.item_id, start.item_version, start.occurrence_key, start.attempt, start.slot_id,
                     json.dumps(list(start.zones)), start.scheduled_start, now, start.trigger, start.actor,
                     start.title[:200], clip_utf8(start.text), now, now),
                )
        except sqlite3.IntegrityError:
            raise AlreadyPlayed(
                f"Lượt phát {start.occurrence_key} đã được ghi, không phát lại.",
                f"Occurrence {start.occurrence_key} is already logged; it will not play again.",
            ) from None
        return play_id

    def finish(self, play_id: str, outcome: str, reason: str = "", *, played_s: float | None = None,
               actual_start: str | None = None, reason_vi: str | None = None) -> dict[str, Any]:
        """Turn a 'playing' row into its final outcome (durably). Idempotent for a final row.
        ``reason_vi`` defaults to the Vietnamese form of ``reason`` (appliance.broadcast.reasons)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        now = self._now()
        with self._store.transaction(durable=True) as tx:
            current = tx.execute("SELECT outcome FROM play_log WHERE id = ?", (play_id,)).fetchone()
            if current is None:
                raise KeyError(play_id)
            if current["outcome"] == "playing":
                tx.execute(
                    "UPDATE play_log SET outcome=?, reason=?, reason_vi=?, actual_end=?, played_s=?,"
                    " actual_start=COALESCE(?, actual_start), updated_at=? WHERE id=?",
                    (outcome, reason[:500], (reason_vi if reason_vi is not None else vietnamese(reason))[:500],
                     now, played_s, actual_start, now, play_id),
                )
                row = _row(tx.execute("SELECT * FROM play_log WHERE id = ?", (play_id,)).fetchone())
                assert row is not None
                for hook in self._hooks:
                    hook(tx, row)
                return row
            row = _row(tx.execute("SELECT * FROM play_log WHERE id = ?", (play_id,)).fetchone())
            assert row is not None
            return row

    def skip(self, start: PlayStart, reason: str, reason_vi: str | None = None) -> dict[str, Any] | None:
        """Record a skipped occurrence (never played). Returns None if the occurrence was already logged."""
        play_id = uuid.uuid4().hex
        now = self._now()
        with self._store.transaction(durable=True) as tx:
            try:
                tx.execute(
                    "INSERT INTO play_log (id, item_id, item_version, occurrence_key, attempt, slot_id, zones,"
                    " scheduled_start, outcome, reason, reason_vi, trigger, actor, title, text, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'skipped', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (play_id, start.item_id, start.item_version, start.occurrence_key, start.attempt, start.slot_id,
                     json.dumps(list(start.zones)), start.scheduled_start, reason[:500],
                     (reason_vi if reason_vi is not None else vietnamese(reason))[:500], start.trigger, start.actor,
                     start.title[:200], clip_utf8(start.text), now, now),
                )
            except sqlite3.IntegrityError:
                return None
            row = _row(tx.execute("SELECT * FROM play_log WHERE id = ?", (play_id,)).fetchone())
            assert row is not None
            for hook in self._hooks:
                hook(tx, row)
            return row

    def recover(self, reason: str = "daemon restarted during playback") -> list[dict[str, Any]]:
        """Mark rows left 'playing' by a crashed run as interrupted; returns them."""
        ids = [r["id"] for r in self._store.query("SELECT id FROM play_log WHERE outcome = 'playing'")]
        return [self.finish(play_id, "interrupted", reason) for play_id in ids]

    # ------------------------------------------------------------------ reads

    def get(self, play_id: str) -> dict[str, Any] | None:
        return _row(self._store.query_one("SELECT * FROM play_log WHERE id = ?", (play_id,)))

    def logged_occurrences(self, keys: Iterable[str] | None = None) -> set[str]:
        """Occurrence keys that have any row (played, playing, failed, skipped): none may play again."""
        if keys is None:
            rows = self._store.query("SELECT DISTINCT occurrence_key FROM play_log WHERE occurrence_key IS NOT NULL")
            return {r[0] for r in rows}
        wanted = list(keys)
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._store.query(
                f"SELECT DISTINCT occurrence_key FROM play_log WHERE occurrence_key IN ({marks})", tuple(chunk))
            found.update(r[0] for r in rows)
        return found

    def attempts(self, occurrence_key: str) -> list[dict[str, Any]]:
        rows = self._store.query("SELECT * FROM play_log WHERE occurrence_key = ? ORDER BY attempt", (occurrence_key,))
        return [r for r in (_row(x) for x in rows) if r is not None]

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._store.query("SELECT * FROM play_log ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))
        return [r for r in (_row(x) for x in rows) if r is not None]

    def counts(self) -> dict[str, int]:
        rows = self._store.query("SELECT outcome, COUNT(*) FROM play_log GROUP BY outcome")
        return {r[0]: int(r[1]) for r in rows}
