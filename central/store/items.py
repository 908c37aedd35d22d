"""Items, their publications on the feed, and media records.

An item row holds the pending draft and the one signed document devices receive
(``published``) at its feed position ``seq``. Publishing takes the next number from
``feed_counter`` under its row lock (held to commit, so numbers become visible in order: a
device that has seen N has seen everything below N) and files the item under its audience
keys in ``feed_audience``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from central.store.engine import Database
from central.store.schema import feed_audience, feed_counter, items, media


@dataclass(frozen=True)
class ItemRow:
    id: str
    state: str
    version: int
    draft: dict[str, Any]
    zones: list[str]
    devices: list[str]
    published: str | None          # the signed document's JSON text
    seq: int | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    communes: list[str] | None = None   # None: every commune


@dataclass(frozen=True)
class FeedRow:
    id: str
    state: str
    seq: int
    published: str
    zones: list[str]
    devices: list[str]
    valid_until: datetime | None
    communes: list[str] | None = None


_NEWS_AFTER = text(
    "SELECT last_seq, EXISTS (SELECT 1 FROM feed_audience WHERE audience IN :keys AND seq > :after) "
    "FROM feed_counter WHERE id = 1").bindparams(bindparam("keys", expanding=True))


class DuplicateItem(Exception):
    """An item with this id exists."""


def _item(row: Row) -> ItemRow:
    return ItemRow(id=row.id, state=row.state, version=int(row.version), draft=json.loads(row.draft),
                   zones=json.loads(row.target_zones), devices=json.loads(row.target_devices),
                   published=row.published, seq=row.seq, valid_until=row.valid_until,
                   created_at=row.created_at, updated_at=row.updated_at, communes=_communes(row.target_communes))


def _communes(text: str | None) -> list[str] | None:
    return json.loads(text) if text is not None else None


def _communes_text(communes: Sequence[str] | None) -> str | None:
    return json.dumps(list(communes)) if communes is not None else None


class ItemRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    # ------------------------------------------------------------------ items

    def add(self, item_id: str, *, draft: dict[str, Any], zones: Sequence[str], devices: Sequence[str],
            now: datetime, communes: Sequence[str] | None = None) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(items.insert().values(
                    id=item_id, state="draft", version=0, draft=json.dumps(draft, ensure_ascii=False),
                    target_zones=json.dumps(list(zones)), target_devices=json.dumps(list(devices)),
                    target_communes=_communes_text(communes), created_at=now, updated_at=now))
        except IntegrityError:
            raise DuplicateItem(item_id) from None

    def get(self, item_id: str, *, for_update: bool = False) -> ItemRow | None:
        query = select(items).where(items.c.id == item_id)
        if for_update and self._db.is_postgresql:
            query = query.with_for_update()
        row = self._conn.execute(query).one_or_none()
        return _item(row) if row is not None else None

    def list(self) -> list[ItemRow]:
        return [_item(r) for r in self._conn.execute(select(items).order_by(items.c.created_at, items.c.id))]

    def set_draft(self, item_id: str, draft: dict[str, Any], *, zones: Sequence[str], devices: Sequence[str],
                  now: datetime, communes: Sequence[str] | None = None) -> None:
        self._conn.execute(update(items).where(items.c.id == item_id).values(
            draft=json.dumps(draft, ensure_ascii=False), target_zones=json.dumps(list(zones)),
            target_devices=json.dumps(list(devices)), target_communes=_communes_text(communes), updated_at=now))

    def set_state(self, item_id: str, state: str, *, now: datetime) -> None:
        self._conn.execute(update(items).where(items.c.id == item_id).values(state=state, updated_at=now))

    # ------------------------------------------------------------------ publications

    def publish(self, item_id: str, document: str, *, audience: Sequence[str], valid_until: datetime | None,
                now: datetime, version: int | None = None, state: str | None = None) -> int:
        """Put ``document`` on the feed at the next position; returns that position."""
        seq = int(self._conn.execute(
            update(feed_counter).where(feed_counter.c.id == 1)
            .values(last_seq=feed_counter.c.last_seq + 1).returning(feed_counter.c.last_seq)).scalar_one())
        values: dict[str, Any] = {"published": document, "seq": seq, "valid_until": valid_until, "updated_at": now}
        if version is not None:
            values["version"] = version
        if state is not None:
            values["state"] = state
        self._conn.execute(update(items).where(items.c.id == item_id).values(**values))
        self._conn.execute(delete(feed_audience).where(feed_audience.c.item_id == item_id))
        self._conn.execute(feed_audience.insert(), [{"audience": key, "seq": seq, "item_id": item_id}
                                                    for key in sorted(set(audience))])
        return seq

    def titles(self, item_ids: Sequence[str]) -> dict[str, str]:
        """The published title of each of these items central holds (one query)."""
        wanted = sorted(set(item_ids))
        if not wanted:
            return {}
        out = {}
        for row in self._conn.execute(select(items.c.id, items.c.published, items.c.draft)
                                      .where(items.c.id.in_(wanted))):
            doc = json.loads(row.published) if row.published else json.loads(row.draft)
            if isinstance(doc, dict) and isinstance(doc.get("title"), str):
                out[row.id] = doc["title"]
        return out

    def feed_top(self) -> int:
        """The newest feed position handed out (committed or not yet visible)."""
        return int(self._conn.execute(select(feed_counter.c.last_seq).where(feed_counter.c.id == 1)).scalar_one())

    def news_after(self, audience: Sequence[str], after: int) -> tuple[int, bool]:
        """The newest feed position handed out, and whether anything is filed under ``audience``
        after ``after``: ONE statement (one snapshot), for ``Store.glance`` (an unchanged poll)."""
        row = self._conn.execute(_NEWS_AFTER, {"keys": list(audience), "after": after}).one()
        return int(row[0]), bool(row[1])

    def feed_after(self, audience: Sequence[str], after: int, limit: int) -> list[FeedRow]:
        """Up to ``limit`` publications filed under any of ``audience`` after position ``after``,
        in feed order. Reads only the index entries of these keys: what other communes publish
        costs nothing here."""
        seqs = list(self._conn.execute(
            select(feed_audience.c.seq).where(feed_audience.c.audience.in_(list(audience)),
                                              feed_audience.c.seq > after)
            .distinct().order_by(feed_audience.c.seq).limit(limit)).scalars())
        if not seqs:
            return []
        rows = self._conn.execute(
            select(items.c.id, items.c.state, items.c.seq, items.c.published, items.c.target_zones,
                   items.c.target_devices, items.c.valid_until, items.c.target_communes)
            .where(items.c.seq.in_(seqs)).order_by(items.c.seq))
        return [FeedRow(id=r.id, state=r.state, seq=int(r.seq), published=r.published,
                        zones=json.loads(r.target_zones), devices=json.loads(r.target_devices),
                        valid_until=r.valid_until, communes=_communes(r.target_communes))
                for r in rows if r.published is not None]

    # ------------------------------------------------------------------ media

    def add_media(self, sha256: str, *, size: int, mime: str, now: datetime) -> None:
        self._conn.execute(self._db.insert(media).values(sha256=sha256, bytes=size, mime=mime, created_at=now)
                           .on_conflict_do_nothing())

    def media(self, sha256: str) -> tuple[int, str] | None:
        row = self._conn.execute(select(media.c.bytes, media.c.mime).where(media.c.sha256 == sha256)).one_or_none()
        return (int(row.bytes), str(row.mime)) if row is not None else None
