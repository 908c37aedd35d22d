"""The editorial side of items: author, review status and areas, and each item's history.

Items made by intake or the command line have no ``editorial_items`` row until an editor
touches them; the approval queue (``central.editorial.workflow``) reads catalog drafts and
this table together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from central.store.engine import Database
from central.store.schema import editorial_items, item_history


@dataclass(frozen=True)
class EditorialRow:
    item_id: str
    author: str
    status: str
    areas: dict[str, list[str]]
    comment: str
    updated_at: datetime


@dataclass(frozen=True)
class HistoryRow:
    id: int
    item_id: str
    at: datetime
    actor: str
    action: str
    content: dict[str, Any] | None
    comment: str


def _editorial(row: Row) -> EditorialRow:
    return EditorialRow(item_id=row.item_id, author=row.author, status=row.status, areas=json.loads(row.areas),
                        comment=row.comment, updated_at=row.updated_at)


class EditorialRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def get(self, item_id: str) -> EditorialRow | None:
        row = self._conn.execute(select(editorial_items).where(editorial_items.c.item_id == item_id)).one_or_none()
        return _editorial(row) if row is not None else None

    def all(self) -> dict[str, EditorialRow]:
        return {r.item_id: _editorial(r) for r in self._conn.execute(select(editorial_items))}

    def put(self, item_id: str, *, author: str, status: str, areas: dict[str, list[str]], comment: str = "",
            now: datetime) -> None:
        values = {"author": author, "status": status, "areas": json.dumps(areas), "comment": comment,
                  "updated_at": now}
        if self._conn.execute(update(editorial_items).where(editorial_items.c.item_id == item_id)
                              .values(**values)).rowcount == 0:
            self._conn.execute(editorial_items.insert().values(item_id=item_id, **values))

    def set_status(self, item_id: str, status: str, *, comment: str = "", now: datetime) -> None:
        self._conn.execute(update(editorial_items).where(editorial_items.c.item_id == item_id)
                           .values(status=status, comment=comment, updated_at=now))

    def record(self, item_id: str, *, actor: str, action: str, content: dict[str, Any] | None, comment: str = "",
               now: datetime) -> None:
        self._conn.execute(item_history.insert().values(
            item_id=item_id, at=now, actor=actor, action=action, comment=comment,
            content=json.dumps(content, ensure_ascii=False) if content is not None else None))

    def history(self, item_id: str) -> list[HistoryRow]:
        rows = self._conn.execute(select(item_history).where(item_history.c.item_id == item_id)
                                  .order_by(item_history.c.id))
        return [HistoryRow(id=int(r.id), item_id=r.item_id, at=r.at, actor=r.actor, action=r.action,
                           content=json.loads(r.content) if r.content is not None else None, comment=r.comment)
                for r in rows]
