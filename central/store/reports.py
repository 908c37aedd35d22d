"""What devices report: their last state (one row each), sampled heartbeats, uploaded logs.

Heartbeats arrive in groups (``central.heartbeats``): one upsert of each device's narrow
``device_presence`` row, a rewrite of its ``device_state`` row only when the heartbeat says
something new or a sample is due, and one small INSERT into ``heartbeat_samples`` per sample
period. An upload inserts each entry once per (device, entry id, at) and moves the device's
last play and play count in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, delete, func, literal, or_, select, update

from central.store.engine import Database
from central.store.schema import device_logs, device_presence, device_state, devices, heartbeat_samples
from central.store.types import UtcDateTime


@dataclass(frozen=True)
class StateRow:
    device_id: str
    last_seen_at: datetime | None
    offline_at: datetime | None
    interval_s: int | None
    software_version: str | None
    problems: tuple[str, ...]
    heartbeat: dict[str, Any] | None
    last_play_at: datetime | None
    last_play: dict[str, Any] | None
    plays_logged: int


@dataclass(frozen=True)
class LogRow:
    seq: int
    device_id: str
    entry_id: str
    type: str
    at: datetime
    item_id: str | None
    outcome: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class NewEntry:
    entry_id: str
    type: str
    at: datetime
    item_id: str | None
    outcome: str | None
    data: str          # JSON text


@dataclass(frozen=True)
class PendingHeartbeat:
    device_id: str
    received_at: datetime
    body: str                       # JSON as received
    interval_s: int
    boot_id: str
    software_version: str
    problems: str                   # space-separated labels
    offline_at: datetime
    display_key: str                # central.heartbeats.display_key of the body


@dataclass(frozen=True)
class CurrentState:
    interval_s: int | None
    boot_id: str | None
    software_version: str | None
    problems: str
    heartbeat: str | None
    last_sample_at: datetime | None


@dataclass(frozen=True)
class StateWrite:
    heartbeat: PendingHeartbeat
    last_sample_at: datetime | None


def _state(row: Row) -> StateRow:
    return StateRow(device_id=row.device_id, last_seen_at=row.last_seen_at, offline_at=row.offline_at,
                    interval_s=row.interval_s, software_version=row.software_version,
                    problems=tuple(row.problems.split()) if row.problems else (),
                    heartbeat=json.loads(row.heartbeat) if row.heartbeat else None,
                    last_play_at=row.last_play_at, last_play=json.loads(row.last_play) if row.last_play else None,
                    plays_logged=int(row.plays_logged or 0))


def _log(row: Row) -> LogRow:
    return LogRow(seq=int(row.seq), device_id=row.device_id, entry_id=row.entry_id, type=row.type, at=row.at,
                  item_id=row.item_id, outcome=row.outcome, data=json.loads(row.data))


class ReportRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    # ------------------------------------------------------------------ heartbeats

    def current_states(self, device_ids: Sequence[str]) -> dict[str, CurrentState]:
        """What ``device_state`` holds now for these devices (to decide what a group changes)."""
        s = device_state.c
        out: dict[str, CurrentState] = {}
        ids = list(device_ids)
        for start in range(0, len(ids), 900):
            for r in self._conn.execute(select(s.device_id, s.interval_s, s.boot_id, s.software_version, s.problems,
                                               s.heartbeat, s.last_sample_at)
                                        .where(s.device_id.in_(ids[start:start + 900]))):
                out[r.device_id] = CurrentState(r.interval_s, r.boot_id, r.software_version, r.problems or "",
                                                r.heartbeat, r.last_sample_at)
        return out

    def write_presence(self, heartbeats: Sequence[PendingHeartbeat]) -> None:
        """Last seen and offline-at of each device; never moved back by an older heartbeat
        (two worker processes may each hold one of the same device)."""
        if not heartbeats:
            return
        statement = self._db.insert(device_presence)
        statement = statement.on_conflict_do_update(
            index_elements=["device_id"],
            set_={"last_seen_at": statement.excluded.last_seen_at, "offline_at": statement.excluded.offline_at},
            where=or_(device_presence.c.last_seen_at.is_(None),
                      device_presence.c.last_seen_at < statement.excluded.last_seen_at))
        self._conn.execute(statement, [{"device_id": hb.device_id, "last_seen_at": hb.received_at,
                                        "offline_at": hb.offline_at} for hb in heartbeats])

    def write_states(self, writes: Sequence[StateWrite]) -> None:
        if not writes:
            return
        columns = ("interval_s", "boot_id", "software_version", "problems", "heartbeat", "last_sample_at")
        statement = self._db.insert(device_state)
        statement = statement.on_conflict_do_update(
            index_elements=["device_id"], set_={c: getattr(statement.excluded, c) for c in columns})
        self._conn.execute(statement, [
            {"device_id": w.heartbeat.device_id, "interval_s": w.heartbeat.interval_s, "boot_id": w.heartbeat.boot_id,
             "software_version": w.heartbeat.software_version, "problems": w.heartbeat.problems,
             "heartbeat": w.heartbeat.body, "last_sample_at": w.last_sample_at} for w in writes])

    def add_samples(self, heartbeats: Sequence[PendingHeartbeat]) -> None:
        if heartbeats:
            self._conn.execute(heartbeat_samples.insert(), [
                {"device_id": hb.device_id, "received_at": hb.received_at, "body": hb.body} for hb in heartbeats])

    def _with_presence(self) -> Any:
        return select(device_state, device_presence.c.last_seen_at, device_presence.c.offline_at).select_from(
            device_state.outerjoin(device_presence, device_presence.c.device_id == device_state.c.device_id))

    def state(self, device_id: str) -> StateRow | None:
        row = self._conn.execute(self._with_presence().where(device_state.c.device_id == device_id)).one_or_none()
        return _state(row) if row is not None else None

    def states(self) -> dict[str, StateRow]:
        """Every registered device's state (the CLI's listing; the fleet pages page it instead)."""
        query = self._with_presence().join(devices, devices.c.id == device_state.c.device_id)
        return {r.device_id: _state(r) for r in self._conn.execute(query)}

    def samples(self, device_id: str, *, limit: int = 100) -> list[tuple[datetime, dict[str, Any]]]:
        rows = self._conn.execute(select(heartbeat_samples.c.received_at, heartbeat_samples.c.body)
                                  .where(heartbeat_samples.c.device_id == device_id)
                                  .order_by(heartbeat_samples.c.received_at.desc()).limit(limit))
        return [(r.received_at, json.loads(r.body)) for r in rows]

    # ------------------------------------------------------------------ uploaded logs

    def add_entries(self, device_id: str, entries: Sequence[NewEntry], *, now: datetime) -> list[NewEntry]:
        """Store each entry not stored before; returns those stored now."""
        if not entries:
            return []
        statement = (self._db.insert(device_logs)
                     .on_conflict_do_nothing(index_elements=["device_id", "entry_id", "at"])
                     .returning(device_logs.c.entry_id, device_logs.c.at))
        stored = {(r.entry_id, r.at) for r in self._conn.execute(statement, [
            {"device_id": device_id, "entry_id": e.entry_id, "type": e.type, "at": e.at, "item_id": e.item_id,
             "outcome": e.outcome, "data": e.data, "received_at": now} for e in entries])}
        return [e for e in entries if (e.entry_id, e.at) in stored]

    def note_plays(self, device_id: str, count: int, last_at: datetime, last_play: dict[str, Any],
                   failed_at: datetime | None = None) -> None:
        """Add ``count`` plays; make ``last_play`` the device's last one unless a later one is known;
        ``failed_at``: the latest of these plays that failed or was skipped (the alerts view)."""
        s = device_state.c
        newer = or_(s.last_play_at.is_(None), s.last_play_at <= last_at)
        values: dict[str, Any] = {
            "plays_logged": s.plays_logged + count,
            "last_play_at": case((newer, literal(last_at, UtcDateTime())), else_=s.last_play_at),
            "last_play": case((newer, json.dumps(last_play, ensure_ascii=False)), else_=s.last_play)}
        if failed_at is not None:
            later = or_(s.last_failed_play_at.is_(None), s.last_failed_play_at <= failed_at)
            values["last_failed_play_at"] = case((later, literal(failed_at, UtcDateTime())),
                                                 else_=s.last_failed_play_at)
        self._conn.execute(update(device_state).where(s.device_id == device_id).values(**values))

    def entries(self, device_id: str, *, types: Iterable[str] | None = None, exclude: str | None = None,
                newest_first: bool = False, limit: int | None = None) -> list[LogRow]:
        c = device_logs.c
        query = select(device_logs).where(c.device_id == device_id)
        if types is not None:
            query = query.where(c.type.in_(list(types)))
        if exclude is not None:
            query = query.where(c.type != exclude)
        query = query.order_by(c.seq.desc() if newest_first else c.seq)
        if limit is not None:
            query = query.limit(limit)
        return [_log(r) for r in self._conn.execute(query)]

    def item_plays(self, item_id: str, *, limit: int) -> list[LogRow]:
        c = device_logs.c
        return [_log(r) for r in self._conn.execute(
            select(device_logs).where(and_(c.item_id == item_id, c.type == "play"))
            .order_by(c.at.desc(), c.seq.desc()).limit(limit))]

    def play_summary(self, *, start: datetime, end: datetime, commune: str | None = None,
                     province: str | None = None) -> list[dict[str, Any]]:
        """Proof of play ending between ``start`` and ``end`` (UTC), per (commune, device, item,
        outcome): how many, first and last. One grouped query over the play log."""
        c, d = device_logs.c, devices.c
        query = (select(d.commune, d.province, c.device_id, c.item_id, c.outcome, func.count().label("plays"),
                        func.min(c.at).label("first_at"), func.max(c.at).label("last_at"))
                 .select_from(device_logs.join(devices, devices.c.id == c.device_id))
                 .where(c.type == "play", c.at >= literal(start, UtcDateTime()), c.at < literal(end, UtcDateTime()))
                 .group_by(d.commune, d.province, c.device_id, c.item_id, c.outcome)
                 .order_by(d.commune, c.device_id, c.item_id, c.outcome))
        if commune is not None:
            query = query.where(d.commune == commune)
        if province is not None:
            query = query.where(d.province == province)
        return [{"commune": r.commune, "province": r.province, "device_id": r.device_id, "item_id": r.item_id,
                 "outcome": r.outcome, "plays": int(r.plays), "first_at": r.first_at, "last_at": r.last_at}
                for r in self._conn.execute(query)]

    # ------------------------------------------------------------------ retention

    def prune(self, *, samples_before: datetime, logs_before: datetime | None) -> dict[str, int]:
        """Delete heartbeat samples and (where rows, not partitions, hold them) old log entries."""
        counts = {"heartbeat_samples": self._conn.execute(
            delete(heartbeat_samples).where(heartbeat_samples.c.received_at < samples_before)).rowcount}
        if logs_before is not None:
            counts["device_logs"] = self._conn.execute(
                delete(device_logs).where(device_logs.c.at < logs_before)).rowcount
        return counts

    def count(self, table: str) -> int:
        target = {"heartbeat_samples": heartbeat_samples, "device_logs": device_logs}[table]
        return int(self._conn.execute(select(func.count()).select_from(target)).scalar_one())

