"""Central's fleet monitoring: heartbeats, uploaded device logs, device status, remote commands.

Pure core: ``validate_heartbeat`` and ``validate_entry`` check what a device sends (protocol
§10) and explain refusals; ``device_status`` decides online / offline (1.5 heartbeat intervals
without one) and the problems shown (clock untrusted, disk low, amplifier fault) from plain
data and an explicit ``now``. ``Monitor`` is the SQLite shell: it stores heartbeats and log
entries idempotently, each request in one transaction (nothing half-way), queues signed
commands and answers the queries of the monitoring page and JSON API.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from protocol.errors import ValidationError
from protocol.reports import BadReport, validate_entry

Clock = Callable[[], datetime]

DEFAULT_INTERVAL_S = 60
OFFLINE_AFTER_INTERVALS = 1.5
DISK_LOW_BYTES = 500_000_000
DISK_LOW_RATIO = 0.05
HEARTBEATS_KEPT_PER_DEVICE = 1000
COMMANDS_PER_ANSWER = 20
DEFAULT_COMMAND_LIFETIME_S = 600





@dataclass(frozen=True)
class DeviceStatus:
    state: str                       # 'online' | 'offline' | 'never_seen'
    problems: tuple[str, ...]        # 'clock_untrusted', 'disk_low', 'amplifier_fault'
    last_seen_at: str | None
    seconds_since: float | None

    @property
    def label(self) -> str:
        """The one word the fleet table shows: offline first, then the worst problem."""
        if self.state != "online":
            return self.state
        for problem in ("amplifier_fault", "disk_low", "clock_untrusted"):
            if problem in self.problems:
                return problem
        return "online"


def device_status(*, now: datetime, last_seen_at: str | None, interval_s: int | None,
                  heartbeat: Mapping[str, Any] | None, disk_low_bytes: int = DISK_LOW_BYTES,
                  disk_low_ratio: float = DISK_LOW_RATIO) -> DeviceStatus:
    """Online means a heartbeat within 1.5 intervals of ``now`` (central's clock)."""
    if last_seen_at is None:
        return DeviceStatus("never_seen", (), None, None)
    since = (now - protocol.parse_utc(last_seen_at)).total_seconds()
    period = interval_s or DEFAULT_INTERVAL_S
    state = "online" if since <= OFFLINE_AFTER_INTERVALS * period else "offline"
    problems: list[str] = []
    hb = heartbeat or {}
    if not (hb.get("clock") or {}).get("trusted", True):
        problems.append("clock_untrusted")
    disk = hb.get("disk") or {}
    free, total = disk.get("free_bytes"), disk.get("total_bytes")
    if isinstance(free, int) and isinstance(total, int) and (
            free < disk_low_bytes or (total > 0 and free / total < disk_low_ratio)):
        problems.append("disk_low")
    if hb.get("amp_faults") or any(str(e).startswith("hardware") for e in hb.get("last_errors") or ()):
        problems.append("amplifier_fault")
    # What the station itself reports as going on now (a silent relay, a recovered store, …).
    problems.extend(str(p) for p in hb.get("problems") or () if str(p) not in problems)
    return DeviceStatus(state, tuple(problems), last_seen_at, round(since, 1))


# --------------------------------------------------------------------------- store shell


@dataclass(frozen=True)
class LogsAnswer:
    acknowledged: list[str]
    refused: list[dict[str, str]]
    stored: int


class Monitor:
    """Monitoring data over ``central.db`` (its own connection; the Catalog runs the migrations)."""

    def __init__(self, db_path: Path, *, clock: Clock, private_key: Ed25519PrivateKey) -> None:
        self.clock = clock
        self._key = private_key
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, timeout=15.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=15000")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _now(self) -> str:
        return protocol.format_utc(self.clock())

    # ------------------------------------------------------------------ device endpoints

    def record_heartbeat(self, device_id: str, hb: dict[str, Any]) -> list[dict[str, Any]]:
        """Store a validated heartbeat and its command results; returns the commands to send."""
        now = self._now()
        body = json.dumps(hb, ensure_ascii=False, separators=(",", ":"))
        interval = int(hb.get("heartbeat_interval_s") or DEFAULT_INTERVAL_S)
        with self._tx() as tx:
            tx.execute("INSERT OR IGNORE INTO heartbeats (device_id, boot_id, sent_at, received_at, body)"
                       " VALUES (?, ?, ?, ?, ?)", (device_id, hb["boot_id"], hb["sent_at"], now, body))
            tx.execute("INSERT INTO device_state (device_id, last_seen_at, interval_s, heartbeat) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT(device_id) DO UPDATE SET last_seen_at=excluded.last_seen_at,"
                       " interval_s=excluded.interval_s, heartbeat=excluded.heartbeat",
                       (device_id, now, interval, body))
            tx.execute("DELETE FROM heartbeats WHERE device_id = ? AND id <= (SELECT id FROM heartbeats"
                       " WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                       (device_id, device_id, HEARTBEATS_KEPT_PER_DEVICE))
            for result in hb.get("command_results", []):
                error = result["error"] or ""
                tx.execute("INSERT OR IGNORE INTO command_reports (device_id, command_id, status, error, at,"
                           " received_at) VALUES (?, ?, ?, ?, ?, ?)",
                           (device_id, result["id"], result["status"], error, result["at"], now))
                # The first final result wins: a later "rejected: replay" never hides that it ran.
                tx.execute("UPDATE commands SET status = ?, error = ?, result_at = ? WHERE id = ? AND device_id = ?"
                           " AND status = 'pending'", (result["status"], result["error"], result["at"],
                                                       result["id"], device_id))
            rows = tx.execute("SELECT id, document FROM commands WHERE device_id = ? AND status = 'pending'"
                              " AND expires_at > ? ORDER BY issued_at, id LIMIT ?",
                              (device_id, now, COMMANDS_PER_ANSWER)).fetchall()
            for row in rows:
                tx.execute("UPDATE commands SET deliveries = deliveries + 1 WHERE id = ?", (row["id"],))
        return [json.loads(r["document"]) for r in rows]

    def record_logs(self, device_id: str, entries: list[Any]) -> LogsAnswer:
        """Store each valid entry once per (device, id); refuse malformed ones. One transaction."""
        now = self._now()
        acknowledged: list[str] = []
        refused: list[dict[str, str]] = []
        stored = 0
        with self._tx() as tx:
            for raw in entries:
                try:
                    entry = validate_entry(raw)
                except BadReport as exc:
                    ident = raw.get("id") if isinstance(raw, dict) else None
                    if isinstance(ident, str) and len(ident) <= 200:
                        refused.append({"id": ident, "code": exc.code, "message": str(exc)[:200]})
                    continue
                data = entry["data"]
                item_id = data.get("item_id") if entry["type"] in ("play", "rejected") else None
                outcome = data.get("outcome") if entry["type"] == "play" else (
                    data.get("reason") if entry["type"] == "rejected" else data.get("state"))
                cursor = tx.execute(
                    "INSERT OR IGNORE INTO device_logs (device_id, entry_id, type, at, item_id, outcome, data,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (device_id, entry["id"], entry["type"], entry["at"], item_id, outcome,
                     json.dumps(data, ensure_ascii=False, separators=(",", ":")), now))
                stored += cursor.rowcount
                acknowledged.append(entry["id"])
        return LogsAnswer(acknowledged, refused, stored)

    # ------------------------------------------------------------------ commands

    def queue_command(self, device_id: str, command_type: str, params: dict[str, Any], *,
                      expires_in_s: int = DEFAULT_COMMAND_LIFETIME_S, by: str = "central",
                      known_devices: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """Sign and queue a command; returns the signed document. Raises ValidationError."""
        if known_devices is not None and not known_devices(device_id):
            raise ValidationError(f"Không có thiết bị {device_id}.", f"No device {device_id}.")
        if not isinstance(expires_in_s, int) or not 1 <= expires_in_s <= protocol.MAX_COMMAND_LIFETIME_S:
            raise ValidationError("Thời hạn lệnh phải từ 1 giây đến 24 giờ.",
                                  "A command must expire within 1 second to 24 hours.")
        issued = self.clock().replace(microsecond=0)
        doc = {"id": "cmd-" + secrets.token_hex(6), "device_id": device_id, "type": command_type,
               "params": params, "issued_at": protocol.format_utc(issued),
               "expires_at": protocol.format_utc(issued + timedelta(seconds=expires_in_s))}
        try:
            signed = protocol.sign_command(doc, self._key)
        except Exception as exc:  # RejectedItem (malformed) from the protocol's own checks
            en = getattr(exc, "en", str(exc))
            vi = getattr(exc, "vi", str(exc))
            raise ValidationError(f"Lệnh không hợp lệ: {vi}", f"Invalid command: {en}") from None
        with self._tx() as tx:
            tx.execute("INSERT INTO commands (id, device_id, type, document, issued_at, expires_at, created_by,"
                       " status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                       (signed["id"], device_id, command_type, json.dumps(signed, ensure_ascii=False),
                        signed["issued_at"], signed["expires_at"], by[:100]))
        return signed

    def queue_raw_command(self, device_id: str, document: Any, *, command_id: str | None = None) -> None:
        """Queue any document as-is (tests of the device's refusals: tampered, expired, wrong device)."""
        ident = command_id or (document.get("id") if isinstance(document, dict) else None) or \
            "raw-" + secrets.token_hex(4)
        now = self._now()
        with self._tx() as tx:
            tx.execute("INSERT INTO commands (id, device_id, type, document, issued_at, expires_at, created_by,"
                       " status) VALUES (?, ?, 'raw', ?, ?, '9999-12-31T23:59:59Z', 'test', 'pending')",
                       (ident, device_id, json.dumps(document, ensure_ascii=False), now))

    def commands(self, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, type, document, issued_at, expires_at, created_by, status, error, result_at,"
                           " deliveries FROM commands WHERE device_id = ? ORDER BY issued_at DESC, id LIMIT ?",
                           (device_id, limit))
        now = self._now()
        out = []
        for r in rows:
            item = dict(r)
            item.pop("document")
            doc = json.loads(r["document"])
            item["params"] = doc.get("params") if isinstance(doc, dict) else None
            if item["status"] == "pending" and item["expires_at"] <= now:
                item["status"] = "expired"
            out.append(item)
        return out

    def command_reports(self, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query("SELECT command_id, status, error, at, received_at FROM command_reports"
                           " WHERE device_id = ? ORDER BY id DESC LIMIT ?", (device_id, limit))
        return [dict(r) | {"error": r["error"] or None} for r in rows]

    # ------------------------------------------------------------------ queries

    def device_state(self, device_id: str) -> tuple[str | None, int | None, dict[str, Any] | None]:
        rows = self._query("SELECT last_seen_at, interval_s, heartbeat FROM device_state WHERE device_id = ?",
                           (device_id,))
        if not rows:
            return None, None, None
        return rows[0]["last_seen_at"], int(rows[0]["interval_s"]), json.loads(rows[0]["heartbeat"])

    def status_of(self, device_id: str) -> DeviceStatus:
        seen, interval, hb = self.device_state(device_id)
        return device_status(now=self.clock(), last_seen_at=seen, interval_s=interval, heartbeat=hb)

    def fleet(self, devices: list[Any]) -> list[dict[str, Any]]:
        """One summary per registered device (``devices``: catalog Device objects)."""
        states = {r["device_id"]: r for r in self._query("SELECT * FROM device_state")}
        plays = {r["device_id"]: r for r in self._query(
            "SELECT device_id, MAX(seq) AS seq, COUNT(*) AS n FROM device_logs WHERE type = 'play' GROUP BY device_id")}
        now = self.clock()
        out = []
        for device in devices:
            row = states.get(device.id)
            hb = json.loads(row["heartbeat"]) if row is not None else None
            status = device_status(now=now, last_seen_at=row["last_seen_at"] if row else None,
                                   interval_s=int(row["interval_s"]) if row else None, heartbeat=hb)
            last_play = None
            if device.id in plays:
                found = self._query("SELECT entry_id, at, item_id, outcome, data FROM device_logs WHERE seq = ?",
                                    (plays[device.id]["seq"],))
                if found:
                    last_play = _play_row(found[0])
            out.append({
                "device_id": device.id, "commune": device.id.split("-")[0], "zones": list(device.zones),
                "status": status.label, "state": status.state, "problems": list(status.problems),
                "last_seen_at": status.last_seen_at, "seconds_since": status.seconds_since,
                "playing": (hb or {}).get("playing"), "volume": (hb or {}).get("volume"),
                "software_version": (hb or {}).get("software_version"),
                "outbox_depth": (hb or {}).get("outbox_depth"), "plays_logged": int(plays[device.id]["n"])
                if device.id in plays else 0, "last_play": last_play,
            })
        return out

    def device_detail(self, device_id: str, *, limit: int = 200) -> dict[str, Any]:
        seen, interval, hb = self.device_state(device_id)
        status = device_status(now=self.clock(), last_seen_at=seen, interval_s=interval, heartbeat=hb)
        plays = self._query("SELECT entry_id, at, item_id, outcome, data FROM device_logs WHERE device_id = ?"
                            " AND type = 'play' ORDER BY seq DESC LIMIT ?", (device_id, limit))
        others = self._query("SELECT entry_id, type, at, item_id, outcome, data FROM device_logs WHERE device_id = ?"
                             " AND type != 'play' ORDER BY seq DESC LIMIT ?", (device_id, limit))
        return {
            "device_id": device_id, "status": status.label, "state": status.state,
            "problems": list(status.problems), "last_seen_at": seen, "heartbeat_interval_s": interval,
            "seconds_since": status.seconds_since, "heartbeat": hb,
            "plays": [_play_row(r) for r in plays],
            "events": [{"id": r["entry_id"], "type": r["type"], "at": r["at"], "data": json.loads(r["data"])}
                       for r in others],
            "commands": self.commands(device_id), "command_reports": self.command_reports(device_id),
        }

    def item_plays(self, item_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self._query("SELECT device_id, entry_id, at, item_id, outcome, data FROM device_logs"
                           " WHERE item_id = ? AND type = 'play' ORDER BY at DESC, seq DESC LIMIT ?", (item_id, limit))
        return [_play_row(r) | {"device_id": r["device_id"], "commune": r["device_id"].split("-")[0]} for r in rows]

    def log_entries(self, device_id: str, *, entry_type: str | None = None) -> list[dict[str, Any]]:
        """Every stored entry of a device in arrival order (tests and audits)."""
        sql = "SELECT entry_id, type, at, data FROM device_logs WHERE device_id = ?"
        params: tuple[Any, ...] = (device_id,)
        if entry_type:
            sql, params = sql + " AND type = ?", (device_id, entry_type)
        return [{"id": r["entry_id"], "type": r["type"], "at": r["at"], "data": json.loads(r["data"])}
                for r in self._query(sql + " ORDER BY seq", params)]


def _play_row(row: sqlite3.Row) -> dict[str, Any]:
    data = json.loads(row["data"])
    return {"id": row["entry_id"], "at": row["at"], "item_id": row["item_id"], "outcome": row["outcome"],
            "zones": data.get("zones"), "started_at": data.get("started_at"), "ended_at": data.get("ended_at"),
            "played_s": data.get("played_s"), "trigger": data.get("trigger"), "version": data.get("version")}
