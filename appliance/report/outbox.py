"""The durable outbox: proof of play, rejected items and relay events waiting for central.

Entries are queued by SQL triggers (migration 0003) in the same transaction as their source
row (play_log, rejections, relay_log), so nothing is queued twice or lost in between. Each
entry keeps a stable id; an entry leaves the outbox only when central acknowledges (or
definitively refuses) that id, and only ids we actually sent count (a central acknowledging
ids it was never sent changes nothing). The outbox is bounded: past ``max_entries`` the
oldest non-play entry goes first, and every drop is counted per type.

Pure helpers (``entry_document``, ``take_batch``) shape what is sent; ``Outbox`` is the thin
store-backed shell.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.state.store import Store, utc_now_iso
from protocol.errors import CentralError

# Protocol §10: at most 2,000 entries and 1 MiB per logs request.
MAX_BATCH_ENTRIES = 2000
MAX_BATCH_BYTES = 1024 * 1024
# Room for the envelope {"entries":[...]} and separators.
_ENVELOPE_BYTES = 64


@dataclass(frozen=True)
class Entry:
    seq: int
    id: str
    type: str
    at: str
    data: dict[str, Any]
    attempts: int


def entry_document(entry: Entry) -> dict[str, Any]:
    """The protocol form of one entry (``{"id", "type", "at", "data"}``)."""
    return {"id": entry.id, "type": entry.type, "at": entry.at, "data": entry.data}


def encoded_size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def take_batch(entries: Sequence[Entry], *, max_entries: int = MAX_BATCH_ENTRIES,
               max_bytes: int = MAX_BATCH_BYTES) -> list[Entry]:
    """The longest prefix of ``entries`` (kept in order) that fits one logs request.

    A single entry too big for any request is still returned alone: central refuses it and
    the device drops it, rather than let it block the queue forever.
    """
    chosen: list[Entry] = []
    size = _ENVELOPE_BYTES
    for entry in entries[:max(1, min(max_entries, MAX_BATCH_ENTRIES))]:
        cost = encoded_size(entry_document(entry)) + 1
        if chosen and size + cost > max_bytes:
            break
        chosen.append(entry)
        size += cost
    return chosen


def _entry(row: sqlite3.Row) -> Entry:
    try:
        data = json.loads(row["payload"])
    except ValueError:
        data = {}
    return Entry(seq=int(row["seq"]), id=row["id"], type=row["type"], at=row["at"],
                 data=data if isinstance(data, dict) else {}, attempts=int(row["attempts"]))


class Outbox:
    """Store-backed queue of entries for ``POST /v1/devices/{id}/logs``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def configure(self, max_entries: int) -> int:
        """Set the bound (from ``report.outbox_max_entries``); trims at once. Returns entries dropped."""
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        with self._store.transaction(durable=True) as tx:
            tx.execute("UPDATE outbox_state SET max_entries = ? WHERE id = 1", (max_entries,))
            return self._trim(tx, max_entries)

    @staticmethod
    def _trim(tx: sqlite3.Connection, max_entries: int) -> int:
        depth = int(tx.execute("SELECT depth FROM outbox_state WHERE id = 1").fetchone()[0])
        excess = depth - max_entries
        if excess <= 0:
            return 0
        victims = tx.execute(
            "SELECT seq, type FROM outbox ORDER BY (type = 'play'), seq LIMIT ?", (excess,)).fetchall()
        now = utc_now_iso()
        for row in victims:
            tx.execute("INSERT INTO outbox_dropped (type, count, last_at) VALUES (?, 1, ?)"
                       " ON CONFLICT(type) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
                       (row["type"], now))
            tx.execute("DELETE FROM outbox WHERE seq = ?", (row["seq"],))
        return len(victims)

    def enqueue(self, entry_id: str, entry_type: str, at: str, data: dict[str, Any], *,
                conn: sqlite3.Connection | None = None) -> bool:
        """Queue an entry by hand (triggers queue the usual ones). False if the id is already queued."""
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        sql = ("INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at) VALUES (?, ?, ?, ?, ?)")
        params = (entry_id, entry_type, at, payload, utc_now_iso())
        if conn is not None:
            return conn.execute(sql, params).rowcount == 1
        with self._store.transaction(durable=True) as tx:
            return tx.execute(sql, params).rowcount == 1

    # ------------------------------------------------------------------ reads

    def depth(self) -> int:
        row = self._store.query_one("SELECT depth FROM outbox_state WHERE id = 1")
        return int(row[0]) if row is not None else 0

    def max_entries(self) -> int:
        row = self._store.query_one("SELECT max_entries FROM outbox_state WHERE id = 1")
        return int(row[0]) if row is not None else 0

    def peek(self, limit: int) -> list[Entry]:
        """The oldest ``limit`` entries, in upload order."""
        rows = self._store.query("SELECT * FROM outbox ORDER BY seq LIMIT ?", (max(1, limit),))
        return [_entry(r) for r in rows]

    def dropped(self) -> dict[str, int]:
        return {r["type"]: int(r["count"]) for r in self._store.query("SELECT type, count FROM outbox_dropped")}

    # ------------------------------------------------------------------ acknowledgement

    def settle(self, sent: Iterable[Entry], acknowledged: Iterable[str], refused: Iterable[str]) -> tuple[int, int]:
        """Delete the sent entries central acknowledged or refused; count an attempt on the rest.

        Ids that were not in ``sent`` are ignored: a confused central must not empty the outbox.
        Returns (entries removed, ids ignored).
        """
        sent_list = list(sent)
        sent_ids = {e.id for e in sent_list}
        settled = (set(acknowledged) | set(refused))
        ignored = len(settled - sent_ids)
        done = settled & sent_ids
        with self._store.transaction(durable=True) as tx:
            removed = 0
            for entry in sent_list:
                if entry.id in done:
                    removed += tx.execute("DELETE FROM outbox WHERE seq = ? AND id = ?",
                                          (entry.seq, entry.id)).rowcount
            rest = [e.seq for e in sent_list if e.id not in done]
            for i in range(0, len(rest), 500):
                chunk = rest[i:i + 500]
                tx.execute(f"UPDATE outbox SET attempts = attempts + 1 WHERE seq IN ({','.join('?' * len(chunk))})",
                           chunk)
        return removed, ignored

    def note_failure(self, sent: Sequence[Entry], error: str) -> None:
        """Count a failed attempt on the entries of a batch that did not get through."""
        if not sent:
            return
        with self._store.transaction() as tx:
            for i in range(0, len(sent), 500):
                chunk = [e.seq for e in sent[i:i + 500]]
                tx.execute(f"UPDATE outbox SET attempts = attempts + 1, last_error = ?"
                           f" WHERE seq IN ({','.join('?' * len(chunk))})", (error[:200], *chunk))


@dataclass(frozen=True)
class LogsAnswer:
    acknowledged: list[str]
    refused: list[str]


def parse_logs_answer(body: Any) -> LogsAnswer:
    """Central's answer to a logs upload; raises ``CentralError`` when it is malformed."""
    def bad(what: str) -> CentralError:
        return CentralError(f"Trung tâm trả lời nhật ký sai định dạng: {what}",
                            f"Central's answer to the logs upload is malformed: {what}", code="central_malformed")

    if not isinstance(body, dict):
        raise bad("not a JSON object")
    acked, refused = body.get("acknowledged"), body.get("refused", [])
    if not isinstance(acked, list) or not all(isinstance(i, str) for i in acked):
        raise bad("acknowledged must be a list of ids")
    if not isinstance(refused, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str)
                                                for r in refused):
        raise bad("refused must be a list of {id, code}")
    return LogsAnswer(acked, [r["id"] for r in refused])
