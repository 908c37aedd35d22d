"""The panel's audit log: who did what, to what, when, from where, and how it ended.

Rows are written in the same transaction as the change they describe when there is one,
so a change can never exist without its audit row.

Anyone on the LAN can fail to log in, so those rows must not grow the SD card's database without
bound: repeated anonymous failures (same action, account, outcome and address within a day) are
one row with a ``count`` and ``last_at``, written without an fsync; anonymous rows are kept 90
days and at most MAX_ANONYMOUS_ROWS of them. What people did (a logged-in actor) is what an
inspector needs: kept PEOPLE_RETENTION (three years), within a hard cap of MAX_ROWS.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.state.store import Store, to_utc_iso, utc_now_iso


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    remote_addr: str


ANONYMOUS = "-"
AGGREGATE_FOR = timedelta(days=1)
ANONYMOUS_RETENTION = timedelta(days=90)
MAX_ANONYMOUS_ROWS = 5_000
PEOPLE_RETENTION = timedelta(days=3 * 365)
MAX_ROWS = 200_000
_PRUNE_EVERY = 256  # rows of people's actions between two pruning passes

_INSERT = ("INSERT INTO panel_audit_log (at, actor, action, target, outcome, details, remote_addr)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")


def record(store: Store, actor: str, action: str, target: str = "", *, outcome: str = "ok",
           details: dict[str, Any] | None = None, remote_addr: str = "",
           conn: sqlite3.Connection | None = None) -> None:
    row = (utc_now_iso(), actor, action, str(target)[:200], outcome,
           json.dumps(details or {}, ensure_ascii=False, default=str)[:4000], remote_addr[:64])
    if conn is not None:
        _insert(conn, row)
        return
    with store.transaction(durable=True) as tx:
        _insert(tx, row)


def record_anonymous_failure(store: Store, action: str, target: str, *, outcome: str, remote_addr: str,
                             details: dict[str, Any] | None = None) -> None:
    """A refused attempt by someone not logged in: counted into the day's row for the same
    (action, target, outcome, address), or a new row; pruned and bounded."""
    now = datetime.now(UTC)
    target, remote_addr = str(target)[:200], remote_addr[:64]
    with store.transaction() as tx:
        found = tx.execute(
            "SELECT id, details FROM panel_audit_log WHERE actor = ? AND action = ? AND target = ? AND outcome = ?"
            " AND remote_addr = ? AND at >= ? ORDER BY id DESC LIMIT 1",
            (ANONYMOUS, action, target, outcome, remote_addr, to_utc_iso(now - AGGREGATE_FOR))).fetchone()
        if found is not None:
            try:
                merged = json.loads(found["details"])
            except ValueError:
                merged = {}
            merged = merged if isinstance(merged, dict) else {}
            merged["count"] = int(merged.get("count", 1)) + 1
            merged["last_at"] = to_utc_iso(now)
            tx.execute("UPDATE panel_audit_log SET details = ? WHERE id = ?",
                       (json.dumps(merged, ensure_ascii=False, default=str)[:4000], found["id"]))
            return
        fresh = dict(details or {}) | {"count": 1, "last_at": to_utc_iso(now)}
        tx.execute(_INSERT, (to_utc_iso(now), ANONYMOUS, action, target, outcome,
                             json.dumps(fresh, ensure_ascii=False, default=str)[:4000], remote_addr))
        prune(tx, now)


def prune(tx: sqlite3.Connection, now: datetime) -> None:
    """Drop what nobody needs any more, oldest first (index on ``at``; cheap when nothing is due)."""
    tx.execute("DELETE FROM panel_audit_log WHERE actor = ? AND at < ?",
               (ANONYMOUS, to_utc_iso(now - ANONYMOUS_RETENTION)))
    tx.execute("DELETE FROM panel_audit_log WHERE at < ?", (to_utc_iso(now - PEOPLE_RETENTION),))
    anonymous = int(tx.execute("SELECT COUNT(*) FROM panel_audit_log WHERE actor = ?", (ANONYMOUS,)).fetchone()[0])
    if anonymous > MAX_ANONYMOUS_ROWS:
        tx.execute("DELETE FROM panel_audit_log WHERE id IN (SELECT id FROM panel_audit_log WHERE actor = ?"
                   " ORDER BY id LIMIT ?)", (ANONYMOUS, anonymous - MAX_ANONYMOUS_ROWS))
    total = int(tx.execute("SELECT COUNT(*) FROM panel_audit_log").fetchone()[0])
    if total > MAX_ROWS:
        tx.execute("DELETE FROM panel_audit_log WHERE id IN (SELECT id FROM panel_audit_log ORDER BY id LIMIT ?)",
                   (total - MAX_ROWS,))


def _insert(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    cursor = conn.execute(_INSERT, row)
    if (cursor.lastrowid or 0) % _PRUNE_EVERY == 0:
        prune(conn, datetime.now(UTC))


def recent(store: Store, *, limit: int = 200, actor: str | None = None,
           action_prefix: str | None = None) -> list[AuditEntry]:
    sql = "SELECT * FROM panel_audit_log WHERE 1=1"
    params: list[Any] = []
    if actor:
        sql += " AND actor = ?"
        params.append(actor)
    if action_prefix:
        sql += " AND action LIKE ? ESCAPE '\\'"
        params.append(action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    out = []
    for r in store.query(sql, tuple(params)):
        try:
            details = json.loads(r["details"])
        except ValueError:
            details = {}
        out.append(AuditEntry(r["at"], r["actor"], r["action"], r["target"], r["outcome"], details,
                              r["remote_addr"]))
    return out
