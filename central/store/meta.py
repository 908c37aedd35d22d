"""Central-wide settings kept in the database: the feed epoch, the admin token's hash."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from central.store.engine import Database
from central.store.schema import meta


class MetaRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def get(self, key: str) -> str | None:
        return self._conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()

    def set(self, key: str, value: str) -> None:
        if self._conn.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount == 0:
            self._conn.execute(meta.insert().values(key=key, value=value))

    def get_or_set(self, key: str, default: str) -> str:
        """The stored value, or ``default`` stored now (the first caller wins a race)."""
        self._conn.execute(self._db.insert(meta).values(key=key, value=default).on_conflict_do_nothing())
        value = self.get(key)
        assert value is not None
        return value
