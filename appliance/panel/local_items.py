"""Announcements written or uploaded by a logged-in operator, stored as items with
source='local'. The planner treats them like central items; they need no signature because
the panel only lets an authenticated operator create them (created_by says who).
Voice and speed for a text announcement travel in ``document.tts``.

Deleting is soft (migration 0007): the item is withdrawn at once (revoked: it never plays) and
hidden, its slots are deleted with it (``slots.deleted_with``), and ``undelete`` within
``UNDO_WINDOW`` puts both back as they were.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.state.store import Store, to_utc_iso, utc_now_iso
from protocol.errors import ValidationError

UNDO_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Announcement:
    """Validated fields of a local item (see appliance.panel.forms for the checks)."""

    title: str
    kind: str  # 'text' | 'audio'
    text: str = ""
    priority: str = "normal"
    zones: tuple[str, ...] = ("*",)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    voice: str = "vi"
    rate: int = 150
    media_sha256: str | None = None
    media_bytes: int | None = None
    media_mime: str | None = None
    duration_s: float | None = None


def new_item_id() -> str:
    return f"local-{uuid.uuid4().hex[:16]}"


def create(store: Store, announcement: Announcement, *, created_by: str,
           audit: Callable[[sqlite3.Connection, str], None] | None = None) -> str:
    """Insert a ready local item; ``audit(conn, item_id)`` runs in the same transaction."""
    item_id = new_item_id()
    now = utc_now_iso()
    document: dict[str, Any] = {"source": "local", "created_by": created_by}
    if announcement.kind == "text":
        document["tts"] = {"voice": announcement.voice, "rate": announcement.rate}
    if announcement.duration_s is not None:
        document["duration_s"] = round(announcement.duration_s, 3)
    with store.transaction(durable=True) as tx:
        if announcement.media_sha256:
            tx.execute("INSERT OR IGNORE INTO media (sha256, bytes, mime, stored_at) VALUES (?, ?, ?, ?)",
                       (announcement.media_sha256, announcement.media_bytes or 0, announcement.media_mime, now))
        tx.execute(
            "INSERT INTO items (id, version, kind, title, text, language, priority, valid_from, valid_until,"
            " zones, devices, schedule, approved_by, approved_at, revoked, media_url, media_sha256, media_bytes,"
            " media_mime, state, source, created_by, document, received_at, updated_at)"
            " VALUES (?, 1, ?, ?, ?, 'vi', ?, ?, ?, ?, '[\"*\"]', NULL, ?, ?, 0, NULL, ?, ?, ?, 'ready', 'local',"
            " ?, ?, ?, ?)",
            (item_id, announcement.kind, announcement.title, announcement.text, announcement.priority,
             to_utc_iso(announcement.valid_from) if announcement.valid_from else None,
             to_utc_iso(announcement.valid_until) if announcement.valid_until else None,
             json.dumps(list(announcement.zones)), created_by, now, announcement.media_sha256,
             announcement.media_bytes, announcement.media_mime, created_by,
             json.dumps(document, ensure_ascii=False), now, now))
        store.log_event("item.local_created", f"local item {item_id} by {created_by}",
                        {"item_id": item_id, "kind": announcement.kind, "actor": created_by}, conn=tx)
        if audit is not None:
            audit(tx, item_id)
    return item_id


def revoke(store: Store, item_id: str, *, actor: str,
           audit: Callable[[sqlite3.Connection, str], None] | None = None) -> bool:
    """Withdraw a local announcement (central items are only revoked by central)."""
    with store.transaction(durable=True) as tx:
        changed = tx.execute(
            "UPDATE items SET revoked = 1, state = 'revoked', updated_at = ? WHERE id = ? AND source = 'local'"
            " AND revoked = 0", (utc_now_iso(), item_id)).rowcount
        if changed:
            store.log_event("item.local_revoked", f"local item {item_id} revoked by {actor}",
                            {"item_id": item_id, "actor": actor}, conn=tx)
            if audit is not None:
                audit(tx, item_id)
    return bool(changed)


def live_slot_ids(store: Store, item_id: str) -> list[str]:
    return [r["id"] for r in store.query("SELECT id FROM slots WHERE item_id = ? AND deleted = 0 ORDER BY created_at",
                                         (item_id,))]


def delete(store: Store, item_id: str, *, actor: str,
           audit: Callable[[sqlite3.Connection, list[str]], None] | None = None) -> list[str]:
    """Delete a local announcement and its slots (softly, in one transaction); returns the slot ids.
    Raises ValidationError when there is no such live local announcement."""
    now = utc_now_iso()
    with store.transaction(durable=True) as tx:
        row = tx.execute("SELECT state FROM items WHERE id = ? AND source = 'local' AND deleted_at IS NULL",
                         (item_id,)).fetchone()
        if row is None:
            raise ValidationError("Không có thông báo này.", "No such announcement.", code="invalid_input.no_item")
        slots = [r["id"] for r in tx.execute("SELECT id FROM slots WHERE item_id = ? AND deleted = 0", (item_id,))]
        tx.execute("UPDATE items SET state_before_delete = state, state = 'revoked', revoked = 1, deleted_at = ?,"
                   " deleted_by = ?, updated_at = ? WHERE id = ?", (now, actor, now, item_id))
        tx.execute("UPDATE slots SET deleted = 1, deleted_with = ?, updated_at = ? WHERE item_id = ? AND deleted = 0",
                   (item_id, now, item_id))
        store.log_event("item.local_deleted", f"local item {item_id} and {len(slots)} slots deleted by {actor}",
                        {"item_id": item_id, "actor": actor, "slots": slots}, conn=tx)
        if audit is not None:
            audit(tx, slots)
    return slots


def deleted_recently(store: Store, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Local announcements deleted within the undo window, newest first, with their slot count."""
    since = to_utc_iso((now or datetime.now(UTC)) - UNDO_WINDOW)
    rows = store.query(
        "SELECT i.id, i.title, i.deleted_at, i.deleted_by,"
        " (SELECT COUNT(*) FROM slots s WHERE s.deleted_with = i.id) AS slots"
        " FROM items i WHERE i.source = 'local' AND i.deleted_at IS NOT NULL AND i.deleted_at >= ?"
        " ORDER BY i.deleted_at DESC LIMIT 20", (since,))
    return [dict(r) for r in rows]


def undelete(store: Store, item_id: str, *, actor: str, now: datetime | None = None,
             audit: Callable[[sqlite3.Connection, list[str]], None] | None = None) -> list[str]:
    """Undo a delete made within the undo window: the announcement and the slots deleted with it
    come back; returns the slot ids. Raises ValidationError past the window or for anything else."""
    since = to_utc_iso((now or datetime.now(UTC)) - UNDO_WINDOW)
    stamp = utc_now_iso()
    with store.transaction(durable=True) as tx:
        row = tx.execute("SELECT state_before_delete FROM items WHERE id = ? AND source = 'local'"
                         " AND deleted_at IS NOT NULL AND deleted_at >= ?", (item_id, since)).fetchone()
        if row is None:
            raise ValidationError("Không hoàn tác được: thông báo không còn trong thời hạn 24 giờ.",
                                  "Cannot undo: the announcement is no longer within the 24-hour window.",
                                  code="invalid_input.undo_expired")
        slots = [r["id"] for r in tx.execute("SELECT id FROM slots WHERE deleted_with = ?", (item_id,))]
        tx.execute("UPDATE items SET state = COALESCE(state_before_delete, 'ready'), revoked = 0, deleted_at = NULL,"
                   " deleted_by = NULL, state_before_delete = NULL, updated_at = ? WHERE id = ?", (stamp, item_id))
        tx.execute("UPDATE slots SET deleted = 0, deleted_with = NULL, updated_at = ? WHERE deleted_with = ?",
                   (stamp, item_id))
        store.log_event("item.local_restored", f"local item {item_id} and {len(slots)} slots restored by {actor}",
                        {"item_id": item_id, "actor": actor, "slots": slots}, conn=tx)
        if audit is not None:
            audit(tx, slots)
    return slots
