"""The durable store: one SQLite database in WAL mode with numbered schema migrations.

Why WAL + ``synchronous=NORMAL``: a power cut can lose at most the last transactions,
never corrupt the database, and it writes far less to the SD card than FULL. Records
whose loss matters (play log, outbox acknowledgements) are committed with
``durable=True``, which forces a WAL sync for that transaction.

Migrations live in ``appliance/migrations/NNNN_name.sql`` and run in order inside one
transaction each; ``PRAGMA user_version`` records the last one applied. Each feature
owns its own migration file (0001 foundation, 0002 broadcast, 0003 reporting, 0004 panel).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.errors import StorageError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with an explicit 'Z' (how every timestamp is stored)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _migrations() -> list[tuple[int, Path]]:
    found = []
    for path in MIGRATIONS_DIR.glob("*.sql"):
        match = _MIGRATION_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    numbers = [n for n, _ in found]
    if len(set(numbers)) != len(numbers):
        raise StorageError("Trùng số hiệu migration.", f"Duplicate migration numbers: {numbers}")
    return found


class Store:
    """A thread-safe handle on the state database.

    One connection is shared behind a lock: the daemon's threads do short transactions, and
    SQLite serialises writers anyway. Other processes (panel, CLI) open their own Store.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._conn = connection
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=15.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(
                f"Không mở được cơ sở dữ liệu {path}: {exc}. Kiểm tra thẻ nhớ và quyền ghi.",
                f"Cannot open the database {path}: {exc}. Check the SD card and write permissions.",
            ) from None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=15000")
        # Fewer, larger checkpoints: less SD-card wear while idle.
        conn.execute("PRAGMA wal_autocheckpoint=1000")
        conn.execute("PRAGMA temp_store=MEMORY")
        store = cls(path, conn)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version reached."""
        with self._lock:
            current = self.schema_version
            for number, path in _migrations():
                if number <= current:
                    continue
                sql = path.read_text(encoding="utf-8")
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    for statement in _split_sql(sql):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={number}")
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._conn.execute("ROLLBACK")
                    raise StorageError(
                        f"Nâng cấp cơ sở dữ liệu thất bại ở {path.name}: {exc}.",
                        f"Database migration {path.name} failed: {exc}.",
                    ) from None
                current = number
            return current

    # ------------------------------------------------------------------ access

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE). ``durable`` fsyncs the WAL on commit."""
        with self._lock:
            conn = self._conn
            if durable:
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Read access (no transaction held open between statements)."""
        with self._lock:
            yield self._conn

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    # ------------------------------------------------------------------ event log

    def log_event(self, kind: str, message: str, data: dict[str, Any] | None = None,
                  *, level: str = "info", conn: sqlite3.Connection | None = None) -> None:
        """Append to the event log (inside ``conn``'s transaction when given)."""
        row = (utc_now_iso(), level, kind, message, json.dumps(data or {}, ensure_ascii=False))
        sql = "INSERT INTO events (at, level, kind, message, data) VALUES (?, ?, ?, ?, ?)"
        if conn is not None:
            conn.execute(sql, row)
            return
        with self.transaction() as tx:
            tx.execute(sql, row)

    def recent_events(self, limit: int = 50, *, level: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, at, level, kind, message, data FROM events"
        params: tuple[Any, ...] = ()
        if level:
            sql += " WHERE level = ?"
            params = (level,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self.query(sql, (*params, limit))
        return [dict(r) | {"data": json.loads(r["data"])} for r in rows]

    def integrity_ok(self) -> bool:
        return self.query_one("PRAGMA integrity_check")[0] == "ok"  # type: ignore[index]


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (migrations keep one statement per ';'-terminated block)."""
    statements, buffer = [], []
    for line in sql.splitlines():
        buffer.append(line)
        candidate = "\n".join(buffer).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            buffer = []
    rest = "\n".join(buffer).strip()
    if rest and not rest.startswith("--"):
        statements.append(rest)
    return [s for s in statements if s.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in s.splitlines())]
