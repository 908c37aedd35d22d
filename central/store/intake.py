"""Intake sources (feeds, CAP alerts) with their status, and the entries taken from them.

The repository of ``intake_sources`` and ``intake_entries`` (central/intake/): plain values in,
plain rows out. Rules (what is due, what is a duplicate, what an alert means) stay in
``central.intake``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from central.store.engine import Database
from central.store.schema import intake_entries, intake_sources


@dataclass(frozen=True)
class SourceRow:
    id: str
    kind: str
    url: str | None
    config: dict[str, Any]
    enabled: bool
    token_sha256: str | None
    etag: str | None
    last_modified: str | None
    body_sha256: str | None
    next_poll_at: datetime | None
    last_poll_at: datetime | None
    last_status: int | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: dict[str, str] | None
    items_taken: int
    created_at: datetime


@dataclass(frozen=True)
class EntryRow:
    id: int
    source_id: str
    guid: str
    link: str | None
    content_sha256: str
    title: str
    published_at: datetime | None
    taken_at: datetime
    item_id: str | None
    outcome: str
    extraction: str
    note: str
    cap_key: str | None


class DuplicateSource(Exception):
    """A source with this id exists."""


class DuplicateEntry(Exception):
    """This source already has an entry with this guid."""


def _source(row: Row) -> SourceRow:
    return SourceRow(
        id=row.id, kind=row.kind, url=row.url, config=json.loads(row.config), enabled=bool(row.enabled),
        token_sha256=row.token_sha256, etag=row.etag, last_modified=row.last_modified, body_sha256=row.body_sha256,
        next_poll_at=row.next_poll_at, last_poll_at=row.last_poll_at, last_status=row.last_status,
        last_success_at=row.last_success_at, last_error_at=row.last_error_at,
        last_error=json.loads(row.last_error) if row.last_error else None, items_taken=int(row.items_taken),
        created_at=row.created_at)


def _entry(row: Row) -> EntryRow:
    return EntryRow(id=int(row.id), source_id=row.source_id, guid=row.guid, link=row.link,
                    content_sha256=row.content_sha256, title=row.title, published_at=row.published_at,
                    taken_at=row.taken_at, item_id=row.item_id, outcome=row.outcome, extraction=row.extraction,
                    note=row.note, cap_key=row.cap_key)


class IntakeRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    # ------------------------------------------------------------------ sources

    def add_source(self, source_id: str, *, kind: str, url: str | None, config: dict[str, Any], enabled: bool,
                   token_sha256: str | None, now: datetime) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(intake_sources.insert().values(
                    id=source_id, kind=kind, url=url, config=json.dumps(config, ensure_ascii=False),
                    enabled=enabled, token_sha256=token_sha256, next_poll_at=now, items_taken=0, created_at=now))
        except IntegrityError:
            raise DuplicateSource(source_id) from None

    def source(self, source_id: str, *, for_update: bool = False) -> SourceRow | None:
        query = select(intake_sources).where(intake_sources.c.id == source_id)
        if for_update and self._db.is_postgresql:
            query = query.with_for_update()
        row = self._conn.execute(query).one_or_none()
        return _source(row) if row is not None else None

    def source_by_token(self, token_sha256: str) -> SourceRow | None:
        row = self._conn.execute(select(intake_sources).where(intake_sources.c.token_sha256 == token_sha256)
                                 ).one_or_none()
        return _source(row) if row is not None else None

    def sources(self) -> list[SourceRow]:
        return [_source(r) for r in self._conn.execute(select(intake_sources).order_by(intake_sources.c.id))]

    def due(self, now: datetime) -> list[SourceRow]:
        c = intake_sources.c
        query = (select(intake_sources).where(c.enabled.is_(True), c.url.is_not(None),
                                              or_(c.next_poll_at.is_(None), c.next_poll_at <= now))
                 .order_by(c.next_poll_at, c.id))
        return [_source(r) for r in self._conn.execute(query)]

    def set_enabled(self, source_id: str, enabled: bool, *, now: datetime) -> bool:
        return self._conn.execute(update(intake_sources).where(intake_sources.c.id == source_id)
                                  .values(enabled=enabled, next_poll_at=now)).rowcount > 0

    def set_config(self, source_id: str, config: dict[str, Any]) -> bool:
        return self._conn.execute(update(intake_sources).where(intake_sources.c.id == source_id)
                                  .values(config=json.dumps(config, ensure_ascii=False))).rowcount > 0

    def set_token(self, source_id: str, token_sha256: str | None) -> bool:
        return self._conn.execute(update(intake_sources).where(intake_sources.c.id == source_id)
                                  .values(token_sha256=token_sha256)).rowcount > 0

    def remove_source(self, source_id: str) -> bool:
        """Forget the source; its entries stay (the drafts they became keep their provenance)."""
        return self._conn.execute(delete(intake_sources).where(intake_sources.c.id == source_id)).rowcount > 0

    def record_success(self, source_id: str, *, now: datetime, status: int, next_poll_at: datetime | None,
                       etag: str | None = None, last_modified: str | None = None, body_sha256: str | None = None,
                       taken: int = 0, keep_validators: bool = False) -> None:
        values: dict[str, Any] = {"last_poll_at": now, "last_status": status, "last_success_at": now,
                                  "last_error": None, "next_poll_at": next_poll_at,
                                  "items_taken": intake_sources.c.items_taken + taken}
        if not keep_validators:
            values.update(etag=etag, last_modified=last_modified, body_sha256=body_sha256)
        self._conn.execute(update(intake_sources).where(intake_sources.c.id == source_id).values(**values))

    def record_error(self, source_id: str, *, now: datetime, status: int | None, error: dict[str, str],
                     next_poll_at: datetime | None, taken: int = 0) -> None:
        self._conn.execute(update(intake_sources).where(intake_sources.c.id == source_id).values(
            last_poll_at=now, last_status=status, last_error_at=now,
            last_error=json.dumps(error, ensure_ascii=False), next_poll_at=next_poll_at,
            items_taken=intake_sources.c.items_taken + taken))

    # ------------------------------------------------------------------ entries

    def known(self, source_id: str, *, guid: str, link: str | None, content_sha256: str) -> EntryRow | None:
        """An entry of this source with the same guid, link or content, if there is one."""
        c = intake_entries.c
        match = [c.guid == guid, c.content_sha256 == content_sha256]
        if link:
            match.append(c.link == link)
        row = self._conn.execute(select(intake_entries).where(c.source_id == source_id, or_(*match))
                                 .order_by(c.id).limit(1)).one_or_none()
        return _entry(row) if row is not None else None

    def add_entry(self, *, source_id: str, guid: str, link: str | None, content_sha256: str, title: str,
                  published_at: datetime | None, taken_at: datetime, item_id: str | None, outcome: str,
                  extraction: str, note: str = "", cap_key: str | None = None) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(intake_entries.insert().values(
                    source_id=source_id, guid=guid, link=link, content_sha256=content_sha256, title=title,
                    published_at=published_at, taken_at=taken_at, item_id=item_id, outcome=outcome,
                    extraction=extraction, note=note, cap_key=cap_key))
        except IntegrityError:
            raise DuplicateEntry(guid) from None

    def entry_for_item(self, item_id: str) -> EntryRow | None:
        row = self._conn.execute(select(intake_entries).where(intake_entries.c.item_id == item_id)
                                 .order_by(intake_entries.c.id).limit(1)).one_or_none()
        return _entry(row) if row is not None else None

    def entries_for_cap(self, cap_keys: Sequence[str]) -> list[EntryRow]:
        if not cap_keys:
            return []
        c = intake_entries.c
        return [_entry(r) for r in self._conn.execute(
            select(intake_entries).where(c.cap_key.in_(list(cap_keys))).order_by(c.id))]

    def entries(self, source_id: str, *, limit: int = 100) -> list[EntryRow]:
        c = intake_entries.c
        return [_entry(r) for r in self._conn.execute(
            select(intake_entries).where(c.source_id == source_id).order_by(c.id.desc()).limit(limit))]

    def count_entries(self, source_id: str) -> int:
        return int(self._conn.execute(select(func.count()).select_from(intake_entries)
                                      .where(intake_entries.c.source_id == source_id)).scalar_one())
