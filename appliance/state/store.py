"""The durable store: one SQLite database in WAL mode with numbered schema migrations.

Why WAL + ``synchronous=NORMAL``: a power cut can lose at most the last transactions,
never corrupt the database, and it writes far less to the SD card than FULL. Records
whose loss matters (play log, outbox acknowledgements) are committed with
``durable=True``, which forces a WAL sync for that transaction.

Migrations live in ``appliance/state/migrations/NNNN_name.sql`` and run in order inside one
transaction each; ``PRAGMA user_version`` records the last one applied. Each feature
owns its own migration file (0001 foundation, 0002 broadcast, 0003 reporting, 0004 panel,
0005 faults: retention of the event log, rejections and relay log, durable readiness of
prepared clips, the play log's 'cut' outcome).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocol.errors import StorageError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The event log keeps about this many rows (trigger in migration 0005): old rows are pruned.
EVENTS_MAX_ROWS = 20_000
# A failure repeating within this long of its last occurrence is collapsed into one event.
REPEAT_WINDOW_S = 24 * 3600.0
# Repeats within this long of the last written one are counted in memory only (fewer card writes).
REPEAT_FLUSH_S = 600.0
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def utc_now_iso() -> str:
    """Current UTC time as ISO 8601 with an explicit 'Z' (how every timestamp is stored)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_utc_iso(moment: datetime) -> str:
    """A timezone-aware datetime in the stored format (same shape as ``utc_now_iso``, so they sort)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone before storing")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DAMAGE_WORDS = ("malformed", "not a database", "corrupt", "encrypted")


def is_damage(exc: BaseException) -> bool:
    """Whether an sqlite3 error means a damaged file (not a lock, a permission or a full disk)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    return type(exc) is sqlite3.DatabaseError or any(word in str(exc).lower() for word in _DAMAGE_WORDS)


class DatabaseDamaged(StorageError):
    """The database file is damaged (SD-card corruption)."""

    code = "storage_damaged"


def damaged(path: Path, exc: BaseException) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"Cơ sở dữ liệu {path} bị hỏng ({exc}). Hãy khởi động lại dịch vụ (systemctl restart commune-radio): "
        "trạm sẽ giữ lại bản hỏng, tạo cơ sở dữ liệu mới và tải lại bản tin từ trung tâm.",
        f"The database {path} is damaged ({exc}). Restart the service (systemctl restart commune-radio): the "
        "station keeps the damaged file aside, starts a fresh database and syncs central's items again.")


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
        self._inode = _inode(path)
        # (kind, repeat key) -> (monotonic time written, count written, repeats since): see log_event.
        self._repeats: dict[tuple[str, str], tuple[float, int, int]] = {}
        self.monotonic = time.monotonic   # replaceable: simulations run the store on their own clock

    def _current(self) -> sqlite3.Connection:
        """The connection, reopened if the file was replaced under it (the daemon set a damaged
        database aside and started a fresh one while the panel or a CLI held it open)."""
        if self._inode is not None and _inode(self.path) not in (self._inode, None):
            fresh = Store.open(self.path)
            self._conn.close()
            self._conn, self._inode = fresh._conn, fresh._inode
        return self._conn

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
        try:
            _enable_wal(conn, path)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=15000")
            # Fewer, larger checkpoints: less SD-card wear while idle.
            conn.execute("PRAGMA wal_autocheckpoint=1000")
            conn.execute("PRAGMA temp_store=MEMORY")
            store = cls(path, conn)
            if migrate:
                store.migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_damage(exc):
                raise damaged(path, exc) from None
            raise
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

    def migrate(self, *, upto: int | None = None) -> int:
        """Apply pending migrations (up to ``upto``, default all); returns the version reached.

        Several processes may open a fresh database at the same moment (the daemon's first start
        and a CLI command, or an update): each migration runs under the write lock and the
        version is read again inside it, so a migration another process applied meanwhile is
        never applied twice.
        """
        with self._lock:
            while True:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    current = self.schema_version
                    pending = [(n, p) for n, p in _migrations() if n > current and (upto is None or n <= upto)]
                    if not pending:
                        self._conn.execute("COMMIT")
                        return current
                    number, path = pending[0]
                    for statement in _split_sql(path.read_text(encoding="utf-8")):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={number}")
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    if is_damage(exc):
                        raise damaged(self.path, exc) from None
                    raise StorageError(
                        f"Nâng cấp cơ sở dữ liệu thất bại ở {path.name}: {exc}.",
                        f"Database migration {path.name} failed: {exc}.",
                    ) from None
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise

    # ------------------------------------------------------------------ access

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE). ``durable`` fsyncs the WAL on commit."""
        with self._lock:
            conn = self._current()
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
            yield self._current()

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._current().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._current().execute(sql, params).fetchone()

    # ------------------------------------------------------------------ event log

    def log_event(self, kind: str, message: str, data: dict[str, Any] | None = None,
                  *, level: str = "info", conn: sqlite3.Connection | None = None,
                  repeat_key: str | None = None) -> int:
        """Append to the event log (inside ``conn``'s transaction when given); returns the repeat count.

        With ``repeat_key`` a failure that repeats (the same kind and key, its last time less than
        ``REPEAT_WINDOW_S`` ago) does not add a row: the previous row is replaced by one at the top
        of the log carrying ``repeated`` (how many times) and ``first_at``. Repeats within
        ``REPEAT_FLUSH_S`` of the last write are only counted in memory, so a failure every minute
        costs a few card writes an hour. A week without central is then one row, not 35,000 a day.
        """
        now = utc_now_iso()
        payload = dict(data or {})
        if repeat_key is not None:
            pending = self._held_repeat(kind, repeat_key)
            if pending is not None:
                return pending
        if conn is not None:
            return self._log_event(conn, now, level, kind, message, payload, repeat_key)
        with self.transaction() as tx:
            return self._log_event(tx, now, level, kind, message, payload, repeat_key)

    def _held_repeat(self, kind: str, repeat_key: str) -> int | None:
        """A repeat not written now (counted in memory), or None when it is time to write."""
        with self._lock:
            key = (kind, repeat_key)
            held = self._repeats.get(key)
            if held is None or self.monotonic() - held[0] >= REPEAT_FLUSH_S:
                return None
            self._repeats[key] = (held[0], held[1], held[2] + 1)
            return held[1] + held[2] + 1

    def _log_event(self, conn: sqlite3.Connection, now: str, level: str, kind: str, message: str,
                   payload: dict[str, Any], repeat_key: str | None) -> int:
        repeated = 1
        if repeat_key is not None:
            payload["repeat_key"] = repeat_key
            previous = conn.execute(
                "SELECT id, at, level, data FROM events WHERE kind = ? AND json_extract(data, '$.repeat_key') = ?"
                " ORDER BY id DESC LIMIT 1", (kind, repeat_key)).fetchone()
            unwritten = self._repeats.pop((kind, repeat_key), (0.0, 0, 0))[2]
            if previous is not None and previous["level"] == level:
                try:
                    old = json.loads(previous["data"])
                except ValueError:
                    old = {}
                if isinstance(old, dict) and old.get("repeat_key") == repeat_key \
                        and _seconds_between(previous["at"], now) < REPEAT_WINDOW_S + REPEAT_FLUSH_S:
                    repeated = int(old.get("repeated", 1)) + unwritten + 1
                    payload["first_at"] = old.get("first_at") or previous["at"]
                    conn.execute("DELETE FROM events WHERE id = ?", (previous["id"],))
            payload["repeated"] = repeated
            payload.setdefault("first_at", now)
            self._repeats[(kind, repeat_key)] = (self.monotonic(), repeated, 0)
        conn.execute("INSERT INTO events (at, level, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                     (now, level, kind, message, json.dumps(payload, ensure_ascii=False)))
        return repeated

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

    # ------------------------------------------------------------------ items (0001)

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM items WHERE id = ?", (item_id,))
        return item_from_row(row) if row is not None else None

    def list_items(self, *, states: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Items ordered emergency first, then by id; optionally only some states."""
        sql = "SELECT * FROM items"
        params: tuple[Any, ...] = ()
        if states is not None:
            wanted = tuple(states)
            sql += f" WHERE state IN ({', '.join('?' * len(wanted))})"
            params = wanted
        sql += (" ORDER BY CASE priority WHEN 'emergency' THEN 0 WHEN 'priority' THEN 1 ELSE 2 END,"
                " id")
        return [item_from_row(r) for r in self.query(sql, params)]

    def playable_items(self, now: str | None = None) -> list[dict[str, Any]]:
        """Items that may be broadcast at ``now``: ready, inside their validity window."""
        now = now or utc_now_iso()
        return [item for item in self.list_items(states=("ready",)) if item_is_playable(item, now)]

    def referenced_media(self, now: str | None = None) -> set[str]:
        """sha256 of media that items still need (not expired, revoked or rejected)."""
        now = now or utc_now_iso()
        rows = self.query(
            "SELECT media_sha256 FROM items WHERE media_sha256 IS NOT NULL"
            " AND state IN ('waiting_media', 'ready') AND (valid_until IS NULL OR valid_until > ?)",
            (now,))
        # Central's rendered speech of those items (0009) is kept with them.
        speech = self.query(
            "SELECT s.media_sha256 FROM item_speech s JOIN items i ON i.id = s.item_id AND i.version = s.version"
            " WHERE s.state IN ('waiting_media', 'ready') AND i.state IN ('waiting_media', 'ready')"
            " AND (i.valid_until IS NULL OR i.valid_until > ?)", (now,))
        return {r["media_sha256"] for r in rows} | {r["media_sha256"] for r in speech}

    # ------------------------------------------------------------------ sync state (0001)

    def sync_state(self) -> dict[str, Any]:
        row = self.query_one("SELECT * FROM sync_state WHERE id = 1")
        data = dict(row) if row is not None else {}
        for key in ("last_result", "last_error"):
            if data.get(key):
                data[key] = json.loads(data[key])
        return data

    def update_sync_state(self, *, conn: sqlite3.Connection | None = None, **fields: Any) -> None:
        unknown = set(fields) - _SYNC_STATE_FIELDS
        if unknown:
            raise ValueError(f"unknown sync_state fields: {sorted(unknown)}")
        if not fields:
            return
        values = [json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for v in fields.values()]
        sql = f"UPDATE sync_state SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = 1"
        if conn is not None:
            conn.execute(sql, values)
            return
        with self.transaction() as tx:
            tx.execute(sql, values)

    # ------------------------------------------------------------------ rejections (0001)

    def record_rejection(self, *, reason: str, vi: str, en: str, item_id: str | None = None,
                         version: int | None = None, document: str | None = None,
                         conn: sqlite3.Connection | None = None) -> None:
        """Remember something that must never play; the event log gets a warning too."""
        row = (utc_now_iso(), _clip(item_id, 200), version, reason, vi, en, _clip(document, 4096))
        sql = ("INSERT INTO rejections (at, item_id, version, reason, vi, en, document)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")
        data = {"item_id": row[1], "version": version, "reason": reason, "en": en}
        if conn is not None:
            conn.execute(sql, row)
            self.log_event("item_rejected", vi, data, level="warning", conn=conn)
            return
        with self.transaction() as tx:
            tx.execute(sql, row)
            self.log_event("item_rejected", vi, data, level="warning", conn=tx)

    def rejection_counts(self) -> dict[str, int]:
        rows = self.query("SELECT reason, COUNT(*) AS n FROM rejections GROUP BY reason ORDER BY reason")
        return {r["reason"]: int(r["n"]) for r in rows}

    def recent_rejections(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM rejections ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]


_SYNC_STATE_FIELDS = {"cursor", "etag", "last_attempt_at", "last_success_at", "last_result", "last_error",
                      "last_server_time", "server_offset_s", "consecutive_failures"}
_ITEM_JSON_COLUMNS = ("zones", "devices", "schedule", "document", "schedule_refusal")


def item_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """An items row as plain data: JSON columns decoded, ``revoked`` as bool."""
    item = dict(row)
    for key in _ITEM_JSON_COLUMNS:
        if item.get(key) is not None:
            item[key] = json.loads(item[key])
    item["revoked"] = bool(item.get("revoked"))
    return item


def item_is_expired(item: dict[str, Any], now: str) -> bool:
    until = item.get("valid_until")
    return until is not None and until <= now


def item_is_playable(item: dict[str, Any], now: str) -> bool:
    """Ready, not revoked, and ``now`` inside [valid_from, valid_until)."""
    if item.get("state") != "ready" or item.get("revoked"):
        return False
    start = item.get("valid_from")
    return not item_is_expired(item, now) and (start is None or start <= now)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _seconds_between(earlier: str, later: str) -> float:
    try:
        a = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
        b = datetime.fromisoformat(later.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return (b - a).total_seconds()


def _enable_wal(conn: sqlite3.Connection, path: Path, *, patience_s: float = 15.0) -> None:
    """Switch a database to WAL. On a fresh file another process may be doing the same: SQLite
    then answers "database is locked" at once, without waiting for the busy timeout, so wait here."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StorageError(f"Không mở được cơ sở dữ liệu {path}: {exc}.",
                                   f"Cannot open the database {path}: {exc}.") from None
            if time.monotonic() > deadline:
                raise StorageError(
                    f"Cơ sở dữ liệu {path} đang bị tiến trình khác giữ quá lâu: {exc}.",
                    f"The database {path} has been held by another process for too long: {exc}.") from None
            time.sleep(0.02)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[:limit] + "…"


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
