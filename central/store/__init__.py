"""Central's storage layer: one database (SQLite or PostgreSQL), one repository per aggregate.

    store = Store.open("sqlite:///central-data/central.db")   # or postgresql://…
    with store.write() as tx:                                  # one transaction, all or nothing
        tx.devices.add(...)
        tx.reports.record_heartbeat(...)
    with store.read() as tx:                                   # one consistent snapshot
        tx.items.feed_after(...)

``Store.open`` migrates the database to the newest schema first (central.store.migrate).
Repositories take plain values and return plain rows; validation, signing and status rules
live in the services above them (central.catalog, central.monitor, central.admin).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

try:
    from sqlalchemy import Connection
except ImportError as exc:  # the station's own install leaves central's dependencies out
    raise ImportError("central needs its storage libraries: pip install 'commune-radio[central]' "
                      "(SQLAlchemy, Alembic, psycopg)") from exc

from central.store.commands import CommandRepository
from central.store.devices import DeviceRepository
from central.store.editorial import EditorialRepository
from central.store.engine import Database
from central.store.fleet import FleetRepository
from central.store.intake import IntakeRepository
from central.store.items import ItemRepository
from central.store.meta import MetaRepository
from central.store.people import PeopleRepository
from central.store.reports import ReportRepository
from central.store.sessions import SessionRepository
from central.store.speech import SpeechRepository


class Transaction:
    """The repositories, all on one connection inside one transaction (a unit of work)."""

    def __init__(self, conn: Connection, database: Database) -> None:
        self.conn = conn
        self._db = database

    @cached_property
    def meta(self) -> MetaRepository:
        return MetaRepository(self.conn, self._db)

    @cached_property
    def devices(self) -> DeviceRepository:
        return DeviceRepository(self.conn, self._db)

    @cached_property
    def fleet(self) -> FleetRepository:
        return FleetRepository(self.conn, self._db)

    @cached_property
    def items(self) -> ItemRepository:
        return ItemRepository(self.conn, self._db)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self.conn, self._db)

    @cached_property
    def commands(self) -> CommandRepository:
        return CommandRepository(self.conn, self._db)

    @cached_property
    def sessions(self) -> SessionRepository:
        return SessionRepository(self.conn, self._db)

    @cached_property
    def intake(self) -> IntakeRepository:  # issue 12: automatic intake (central/intake/)
        return IntakeRepository(self.conn, self._db)

    @cached_property
    def speech(self) -> SpeechRepository:
        return SpeechRepository(self.conn, self._db)

    @cached_property
    def people(self) -> PeopleRepository:
        return PeopleRepository(self.conn, self._db)

    @cached_property
    def editorial(self) -> EditorialRepository:
        return EditorialRepository(self.conn, self._db)


class Store:
    """A migrated database and its transactions. Thread-safe; share one per process."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Store:
        from central.store.migrate import upgrade

        database = Database(url, pool_size=pool_size, max_overflow=max_overflow)
        try:
            upgrade(database)
        except BaseException:
            database.dispose()
            raise
        return cls(database)

    @property
    def is_postgresql(self) -> bool:
        return self.database.is_postgresql

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        with self.database.read() as conn:
            yield Transaction(conn, self.database)

    @contextmanager
    def glance(self) -> Iterator[Transaction]:
        """Repositories for ONE read statement (``Database.glance``: no transaction around it
        on PostgreSQL)."""
        with self.database.glance() as conn:
            yield Transaction(conn, self.database)

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Transaction]:
        with self.database.write(durable=durable) as conn:
            yield Transaction(conn, self.database)

    def close(self) -> None:
        self.database.dispose()


__all__ = ["Database", "Store", "Transaction"]
