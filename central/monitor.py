"""Central's fleet monitoring service: heartbeats and uploaded logs in, fleet views out, commands.

Each device request is one transaction (nothing half-way) and is not made durable before the
answer (``Store.write(durable=False)``): the device sends its logs again until they are
acknowledged, and a lost heartbeat is replaced by the next one. Heartbeats are written in
groups (``central.heartbeats.HeartbeatWriter``, at most ``FLUSH_S`` after they arrive; a read
here writes the held group first); a heartbeat without command results writes nothing itself
and opens a write transaction only when a command waits for the device. The status rules are
the pure functions of ``central.monitoring``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from central.config import Retention
from central.device_cache import DeviceCache
from central.heartbeats import FLUSH_S, HeartbeatWriter, pending
from central.monitoring import (
    FAILED_OUTCOMES,
    DeviceStatus,
    device_status,
    heartbeat_interval,
    heartbeat_problems,
    offline_at,
)
from central.store import Store
from central.store.reports import LogRow, NewEntry, StateRow
from central.store.types import format_time
from protocol.errors import ValidationError
from protocol.reports import BadReport, validate_entry

Clock = Callable[[], datetime]

COMMANDS_PER_ANSWER = 20
DEFAULT_COMMAND_LIFETIME_S = 600


@dataclass(frozen=True)
class LogsAnswer:
    acknowledged: list[str]
    refused: list[dict[str, str]]
    stored: int


def _iso(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def play_row(row: LogRow) -> dict[str, Any]:
    """A play entry as the pages, the JSON API and ``device_state.last_play`` show it."""
    data = row.data
    return {"id": row.entry_id, "at": format_time(row.at), "item_id": row.item_id, "outcome": row.outcome,
            "zones": data.get("zones"), "started_at": data.get("started_at"), "ended_at": data.get("ended_at"),
            "played_s": data.get("played_s"), "trigger": data.get("trigger"), "version": data.get("version")}


class Monitor:
    """Monitoring over central's store (shared with the catalog, which opened and migrated it)."""

    def __init__(self, store: Store, *, clock: Clock, private_key: Ed25519PrivateKey,
                 retention: Retention | None = None, heartbeat_flush_s: float = FLUSH_S,
                 device_cache: DeviceCache[Any] | None = None) -> None:
        self.store = store
        self._cache = device_cache
        self.clock = clock
        self._key = private_key
        self.retention = retention or Retention()
        self.heartbeats = HeartbeatWriter(store, sample_every=timedelta(seconds=self.retention.heartbeat_sample_s),
                                          flush_s=heartbeat_flush_s)

    def close(self) -> None:
        """Write the heartbeats held in memory (the store belongs to whoever opened it)."""
        self.heartbeats.close()

    def flush_heartbeats(self) -> None:
        self.heartbeats.flush()

    # ------------------------------------------------------------------ device endpoints

    def record_heartbeat(self, device_id: str, hb: dict[str, Any]) -> list[dict[str, Any]]:
        """Hold a validated heartbeat for the next group write, store its command results;
        returns the commands to send."""
        now = self.clock()
        interval = heartbeat_interval(hb)
        self.heartbeats.add(pending(
            device_id, received_at=now, body=json.dumps(hb, ensure_ascii=False, separators=(",", ":")),
            interval_s=interval, boot_id=hb["boot_id"], software_version=hb["software_version"],
            problems=heartbeat_problems(hb), offline_at=offline_at(now, interval), heartbeat=hb))
        results = hb.get("command_results", [])
        if not results:
            waiting = self._cache.command_may_wait(device_id) if self._cache is not None else None
            if waiting is False:
                return []
            if waiting is None:
                with self.store.read() as tx:
                    if not tx.commands.has_pending(device_id, now=now):
                        return []
        with self.store.write(durable=False) as tx:
            for result in results:
                tx.commands.record_result(device_id, command_id=result["id"], status=result["status"],
                                          error=result["error"], at=result["at"],
                                          result_at=_parse_or_none(result["at"]), now=now)
            return tx.commands.deliver(device_id, now=now, limit=COMMANDS_PER_ANSWER)

    def record_logs(self, device_id: str, entries: list[Any]) -> LogsAnswer:
        """Store each valid entry once per (device, id, at); refuse malformed ones. One transaction."""
        acknowledged: list[str] = []
        refused: list[dict[str, str]] = []
        fresh: list[NewEntry] = []
        for raw in entries:
            try:
                entry = validate_entry(raw)
            except BadReport as exc:
                ident = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(ident, str) and len(ident) <= 200:
                    refused.append({"id": ident, "code": exc.code, "message": str(exc)[:200]})
                continue
            data = entry["data"]
            kind = entry["type"]
            item_id = data.get("item_id") if kind in ("play", "rejected") else None
            outcome = data.get("outcome") if kind == "play" else (
                data.get("reason") if kind == "rejected" else data.get("state"))
            fresh.append(NewEntry(entry_id=entry["id"], type=kind, at=protocol.parse_utc(entry["at"]),
                                  item_id=item_id, outcome=outcome,
                                  data=json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
            acknowledged.append(entry["id"])
        unique = list({(e.entry_id, e.at): e for e in fresh}.values())  # a batch may repeat an entry
        with self.store.write(durable=False) as tx:
            stored = tx.reports.add_entries(device_id, unique, now=self.clock())
            plays = [e for e in stored if e.type == "play"]
            if plays:
                last = max(plays, key=lambda e: e.at)
                failed = [e.at for e in plays if e.outcome in FAILED_OUTCOMES]
                tx.reports.note_plays(device_id, len(plays), last.at, play_row(LogRow(
                    seq=0, device_id=device_id, entry_id=last.entry_id, type="play", at=last.at,
                    item_id=last.item_id, outcome=last.outcome, data=json.loads(last.data))),
                    failed_at=max(failed) if failed else None)
        return LogsAnswer(acknowledged, refused, len(stored))

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
        with self.store.write() as tx:
            tx.commands.add(signed["id"], device_id=device_id, command_type=command_type,
                            document=json.dumps(signed, ensure_ascii=False), issued_at=issued,
                            expires_at=issued + timedelta(seconds=expires_in_s), created_by=by[:100])
        if self._cache is not None:
            self._cache.command_queued(device_id)
        return signed

    def queue_raw_command(self, device_id: str, document: Any, *, command_id: str | None = None) -> None:
        """Queue any document as-is (tests of the device's refusals: tampered, expired, wrong device)."""
        ident = command_id or (document.get("id") if isinstance(document, dict) else None) or \
            "raw-" + secrets.token_hex(4)
        with self.store.write() as tx:
            tx.commands.add(ident, device_id=device_id, command_type="raw",
                            document=json.dumps(document, ensure_ascii=False), issued_at=self.clock(),
                            expires_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=self.clock().tzinfo),
                            created_by="test")
        if self._cache is not None:
            self._cache.command_queued(device_id)

    def commands(self, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
        now = self.clock()
        with self.store.read() as tx:
            rows = tx.commands.for_device(device_id, limit=limit)
        out = []
        for r in rows:
            status = "expired" if r.status == "pending" and r.expires_at <= now else r.status
            out.append({"id": r.id, "type": r.type, "issued_at": format_time(r.issued_at),
                        "expires_at": format_time(r.expires_at), "created_by": r.created_by, "status": status,
                        "error": r.error, "result_at": _iso(r.result_at), "deliveries": r.deliveries,
                        "params": r.document.get("params") if isinstance(r.document, dict) else None})
        return out

    def command_reports(self, device_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            rows = tx.commands.reports(device_id, limit=limit)
        return [r | {"received_at": format_time(r["received_at"])} for r in rows]

    # ------------------------------------------------------------------ queries

    def device_state(self, device_id: str) -> tuple[str | None, int | None, dict[str, Any] | None]:
        self.heartbeats.flush()
        with self.store.read() as tx:
            state = tx.reports.state(device_id)
        if state is None or state.last_seen_at is None:
            return None, None, None
        return format_time(state.last_seen_at), state.interval_s, state.heartbeat

    def _status(self, state: StateRow | None, now: datetime) -> DeviceStatus:
        if state is None or state.last_seen_at is None:
            return device_status(now=now, last_seen_at=None, interval_s=None, heartbeat=None)
        return device_status(now=now, last_seen_at=format_time(state.last_seen_at), interval_s=state.interval_s,
                             heartbeat=state.heartbeat)

    def status_of(self, device_id: str) -> DeviceStatus:
        self.heartbeats.flush()
        with self.store.read() as tx:
            state = tx.reports.state(device_id)
        return self._status(state, self.clock())

    def fleet(self, devices: list[Any]) -> list[dict[str, Any]]:
        """One summary per registered device (``devices``: catalog Device objects). No aggregate
        is computed: the last play and the play count are columns of each device's state."""
        self.heartbeats.flush()
        with self.store.read() as tx:
            states = tx.reports.states()
        now = self.clock()
        out = []
        for device in devices:
            state = states.get(device.id)
            hb = state.heartbeat if state is not None else None
            status = self._status(state, now)
            out.append({
                "device_id": device.id, "commune": device.id.split("-")[0], "zones": list(device.zones),
                "status": status.label, "state": status.state, "problems": list(status.problems),
                "last_seen_at": status.last_seen_at, "seconds_since": status.seconds_since,
                "playing": (hb or {}).get("playing"), "volume": (hb or {}).get("volume"),
                "software_version": (hb or {}).get("software_version"),
                "outbox_depth": (hb or {}).get("outbox_depth"),
                "plays_logged": state.plays_logged if state is not None else 0,
                "last_play": state.last_play if state is not None else None,
            })
        return out

    def device_detail(self, device_id: str, *, limit: int = 200) -> dict[str, Any]:
        self.heartbeats.flush()
        with self.store.read() as tx:
            state = tx.reports.state(device_id)
            plays = tx.reports.entries(device_id, types=("play",), newest_first=True, limit=limit)
            others = tx.reports.entries(device_id, exclude="play", newest_first=True, limit=limit)
            titles = tx.items.titles([r.item_id for r in (*plays, *others) if r.item_id])
            samples = tx.reports.samples(device_id, limit=96)
        status = self._status(state, self.clock())
        seen, interval, hb = (None, None, None) if state is None or state.last_seen_at is None else (
            format_time(state.last_seen_at), state.interval_s, state.heartbeat)
        return {
            "device_id": device_id, "status": status.label, "state": status.state,
            "problems": list(status.problems), "last_seen_at": seen, "heartbeat_interval_s": interval,
            "seconds_since": status.seconds_since, "heartbeat": hb,
            "plays": [play_row(r) | {"title": titles.get(r.item_id or "")} for r in plays],
            "events": [{"id": r.entry_id, "type": r.type, "at": format_time(r.at), "data": r.data,
                        "title": titles.get(r.item_id or "")} for r in others],
            "history": [_sample(at, body) for at, body in samples],
            "commands": self.commands(device_id), "command_reports": self.command_reports(device_id),
        }

    def item_plays(self, item_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            rows = tx.reports.item_plays(item_id, limit=limit)
        return [play_row(r) | {"device_id": r.device_id, "commune": r.device_id.split("-")[0]} for r in rows]

    def log_entries(self, device_id: str, *, entry_type: str | None = None) -> list[dict[str, Any]]:
        """Every stored entry of a device in arrival order (tests and audits)."""
        with self.store.read() as tx:
            rows = tx.reports.entries(device_id, types=(entry_type,) if entry_type else None)
        return [{"id": r.entry_id, "type": r.type, "at": format_time(r.at), "data": r.data} for r in rows]

    def heartbeat_history(self, device_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        self.heartbeats.flush()
        """The sampled heartbeats of a device, newest first."""
        with self.store.read() as tx:
            rows = tx.reports.samples(device_id, limit=limit)
        return [{"received_at": format_time(at), "heartbeat": body} for at, body in rows]


def _sample(at: datetime, hb: dict[str, Any]) -> dict[str, Any]:
    """One sampled heartbeat as the device page's history shows it."""
    disk = hb.get("disk") or {}
    return {"received_at": format_time(at), "software_version": hb.get("software_version"),
            "clock_trusted": (hb.get("clock") or {}).get("trusted"), "disk_free_bytes": disk.get("free_bytes"),
            "problems": list(heartbeat_problems(hb)), "playing": (hb.get("playing") or {}).get("item_id"),
            "outbox_depth": hb.get("outbox_depth"), "uptime_s": hb.get("uptime_s")}


def _parse_or_none(text: str) -> datetime | None:
    try:
        return protocol.parse_utc(text)
    except ValueError:
        return None
