"""The panel's audit log: who did what, to what, when, from where, and how it ended.

Rows are written in the same transaction as the change they describe when there is one,
so a change can never exist without its audit row.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from appliance.state.store import Store, utc_now_iso


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    remote_addr: str


def record(store: Store, actor: str, action: str, target: str = "", *, outcome: str = "ok",
           details: dict[str, Any] | None = None, remote_addr: str = "",
           conn: sqlite3.Connection | None = None) -> None:
    row = (utc_now_iso(), actor, action, str(target)[:200], outcome,
           json.dumps(details or {}, ensure_ascii=False, default=str)[:4000], remote_addr[:64])
    sql = ("INSERT INTO panel_audit_log (at, actor, action, target, outcome, details, remote_addr)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")
    if conn is not None:
        conn.execute(sql, row)
        return
    with store.transaction(durable=True) as tx:
        tx.execute(sql, row)


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
