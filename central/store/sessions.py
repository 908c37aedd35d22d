"""People's browser sessions: only hashes of cookie values are stored, with the person's id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from central.store.engine import Database
from central.store.schema import admin_sessions


class SessionRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def open(self, id_sha256: str, *, csrf: str, now: datetime, expires_at: datetime,
             person_id: int | None = None) -> None:
        self._conn.execute(admin_sessions.insert().values(id_sha256=id_sha256, csrf=csrf, created_at=now,
                                                          expires_at=expires_at, person_id=person_id))

    def live_person(self, id_sha256: str, *, now: datetime) -> tuple[str, int] | None:
        """(CSRF token, person id) of an unexpired person's session, or None."""
        c = admin_sessions.c
        row = self._conn.execute(select(c.csrf, c.person_id).where(
            c.id_sha256 == id_sha256, c.expires_at > now, c.person_id.is_not(None))).one_or_none()
        return (row.csrf, int(row.person_id)) if row is not None else None

    def close_person(self, person_id: int) -> int:
        return self._conn.execute(delete(admin_sessions).where(admin_sessions.c.person_id == person_id)).rowcount

    def live(self, id_sha256: str, *, now: datetime) -> str | None:
        """The CSRF token of an unexpired session, or None."""
        c = admin_sessions.c
        return self._conn.execute(select(c.csrf).where(c.id_sha256 == id_sha256, c.expires_at > now)
                                  ).scalar_one_or_none()

    def close(self, id_sha256: str) -> None:
        self._conn.execute(delete(admin_sessions).where(admin_sessions.c.id_sha256 == id_sha256))

    def close_all(self) -> None:
        self._conn.execute(delete(admin_sessions))

    def prune(self, *, now: datetime) -> int:
        return self._conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now)).rowcount
