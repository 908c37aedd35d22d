"""Announcements written or uploaded by a logged-in operator, stored as items with
source='local'. The planner treats them like central items; they need no signature because
the panel only lets an authenticated operator create them (created_by says who).
Voice and speed for a text announcement travel in ``document.tts``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appliance.state.store import Store, to_utc_iso, utc_now_iso


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
