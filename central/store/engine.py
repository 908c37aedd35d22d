"""One database for central, on SQLite or PostgreSQL, chosen by its URL.

``Database`` owns the SQLAlchemy engine and hands out transactions:

- ``read()``: one consistent snapshot (SQLite: a deferred transaction in WAL mode, so readers
  never wait for the writer; PostgreSQL: REPEATABLE READ, READ ONLY).
- ``write(durable=…)``: SQLite ``BEGIN IMMEDIATE`` (one writer at a time, waiting up to the busy
  timeout, never a failed lock upgrade half-way); PostgreSQL READ COMMITTED with row locks.
  ``durable=True`` (the default: items, devices, tokens, sessions) survives a power cut the
  moment it returns; ``durable=False`` (heartbeats, uploaded logs, command deliveries: a device
  sends them again until acknowledged, and a lost heartbeat is replaced a minute later) lets the
  disk flush happen after the answer (SQLite ``synchronous=NORMAL``; PostgreSQL
  ``synchronous_commit=off``), so a slow disk sync never holds up a device request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from protocol.errors import ConfigError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 15_000
# Pages of WAL before SQLite copies them into the database (its default is 1,000): a page
# rewritten by many heartbeat groups between two checkpoints is copied once (issue 13: ≤ 4 KB
# written per heartbeat). The WAL file grows to about 16 MB and is reused.
SQLITE_WAL_AUTOCHECKPOINT = 4000
_WRITE = "central_write"
_DURABLE = "central_durable"


def normalize_url(url: str) -> str:
    """The URL SQLAlchemy should use: ``postgresql://`` means psycopg 3. Raises ConfigError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"Địa chỉ cơ sở dữ liệu không hợp lệ: {redact(url)!r}",
                          f"Invalid database URL {redact(url)!r} (expected sqlite:///PATH or "
                          "postgresql://USER@HOST/NAME)") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("SQLite cần một tệp (sqlite:///đường/dẫn/central.db).",
                              "SQLite needs a file (sqlite:///path/to/central.db), not memory.")
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    raise ConfigError(f"Không hỗ trợ cơ sở dữ liệu {backend}{'+' + driver if driver else ''}.",
                      f"Unsupported database {parsed.drivername!r}: use sqlite:///PATH or postgresql://…")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


class Database:
    """The engine and its transactions. Thread-safe; one per process is enough."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        try:
            if self.dialect == "sqlite":
                database = make_url(self.url).database
                assert database is not None
                Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=max_overflow,
                                            pool_timeout=30, connect_args={"check_same_thread": False,
                                                                           "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
                _install_sqlite_transactions(self.engine)
            else:
                self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=max_overflow,
                                            pool_pre_ping=True, pool_timeout=30)
        except SQLAlchemyError as exc:
            raise StorageError(f"Không mở được cơ sở dữ liệu trung tâm {redact(self.url)}: {exc}",
                               f"Cannot open the central database {redact(self.url)}: {exc}") from None

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    def describe(self) -> str:
        return redact(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot; nothing written, so nothing committed."""
        with self._connect(write=False, durable=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def glance(self) -> Iterator[Connection]:
        """For ONE read statement (its own consistent snapshot): on PostgreSQL no BEGIN/ROLLBACK
        around it (autocommit), two round trips fewer than ``read()``; on SQLite ``read()``."""
        if not self.is_postgresql:
            with self.read() as conn:
                yield conn
            return
        with self._connect(write=False, durable=True) as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._connect(write=True, durable=durable) as conn, conn.begin():
            if self.is_postgresql and not durable:
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            yield conn

    @contextmanager
    def _connect(self, *, write: bool, durable: bool) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StorageError(f"Không kết nối được cơ sở dữ liệu trung tâm {self.describe()}: {exc}",
                               f"Cannot connect to the central database {self.describe()}: {exc}") from None
        try:
            if self.is_postgresql:
                if not write:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            else:
                conn = conn.execution_options(**{_WRITE: write, _DURABLE: durable})
            yield conn
        finally:
            conn.close()

    def insert(self, table: Table) -> Any:
        """An INSERT with this engine's ON CONFLICT clauses (``on_conflict_do_nothing/update``)."""
        return postgresql.insert(table) if self.is_postgresql else sqlite.insert(table)


def _install_sqlite_transactions(engine: Engine) -> None:
    """pysqlite's own transaction handling is switched off: we say BEGIN ourselves, as SQLAlchemy's
    documentation recommends, so reads are snapshots and writes take the lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_WRITE):
            conn.exec_driver_sql("PRAGMA synchronous=FULL" if options.get(_DURABLE, True) else
                                 "PRAGMA synchronous=NORMAL")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
