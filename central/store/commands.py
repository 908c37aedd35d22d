"""Commands queued for devices (signed when queued) and the results devices report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from central.store.engine import Database
from central.store.schema import command_reports, commands


@dataclass(frozen=True)
class CommandRow:
    id: str
    type: str
    document: Any
    issued_at: datetime
    expires_at: datetime
    created_by: str
    status: str
    error: str | None
    result_at: datetime | None
    deliveries: int


class CommandRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def add(self, command_id: str, *, device_id: str, command_type: str, document: str, issued_at: datetime,
            expires_at: datetime, created_by: str) -> None:
        self._conn.execute(commands.insert().values(
            id=command_id, device_id=device_id, type=command_type, document=document, issued_at=issued_at,
            expires_at=expires_at, created_by=created_by, status="pending"))

    def record_result(self, device_id: str, *, command_id: str, status: str, error: str | None, at: str,
                      result_at: datetime | None, now: datetime) -> None:
        """Keep every report once; the first final result of a pending command wins (a later
        "rejected: replay" never hides that it ran)."""
        self._conn.execute(self._db.insert(command_reports).values(
            device_id=device_id, command_id=command_id, status=status, error=error or "", at=at,
            received_at=now).on_conflict_do_nothing())
        self._conn.execute(update(commands).where(
            commands.c.id == command_id, commands.c.device_id == device_id, commands.c.status == "pending")
            .values(status=status, error=error, result_at=result_at))

    def has_pending(self, device_id: str, *, now: datetime) -> bool:
        c = commands.c
        return self._conn.execute(select(c.id).where(c.device_id == device_id, c.status == "pending",
                                                     c.expires_at > now).limit(1)).first() is not None

    def pending_devices(self, *, now: datetime) -> list[str]:
        """Every device with a pending, unexpired command (``central.device_cache``; index
        ``commands_pending``)."""
        c = commands.c
        return list(self._conn.execute(select(c.device_id).where(c.status == "pending", c.expires_at > now)
                                       .distinct()).scalars())

    def deliver(self, device_id: str, *, now: datetime, limit: int) -> list[Any]:
        """The pending, unexpired commands for a device (oldest first), counted as delivered."""
        c = commands.c
        rows = self._conn.execute(select(c.id, c.document).where(
            c.device_id == device_id, c.status == "pending", c.expires_at > now)
            .order_by(c.issued_at, c.id).limit(limit)).all()
        if rows:
            self._conn.execute(update(commands).where(c.id.in_([r.id for r in rows]))
                               .values(deliveries=c.deliveries + 1))
        return [json.loads(r.document) for r in rows]

    def for_device(self, device_id: str, *, limit: int) -> list[CommandRow]:
        c = commands.c
        rows = self._conn.execute(select(commands).where(c.device_id == device_id)
                                  .order_by(c.issued_at.desc(), c.id).limit(limit))
        return [CommandRow(id=r.id, type=r.type, document=json.loads(r.document), issued_at=r.issued_at,
                           expires_at=r.expires_at, created_by=r.created_by, status=r.status, error=r.error,
                           result_at=r.result_at, deliveries=int(r.deliveries)) for r in rows]

    def reports(self, device_id: str, *, limit: int) -> list[dict[str, Any]]:
        c = command_reports.c
        rows = self._conn.execute(select(c.command_id, c.status, c.error, c.at, c.received_at)
                                  .where(c.device_id == device_id).order_by(c.id.desc()).limit(limit))
        return [{"command_id": r.command_id, "status": r.status, "error": r.error or None, "at": r.at,
                 "received_at": r.received_at} for r in rows]

    def prune(self, *, before: datetime) -> dict[str, int]:
        """Forget commands issued and reports received before ``before`` (expired by then)."""
        return {
            "commands": self._conn.execute(delete(commands).where(commands.c.issued_at < before,
                                                                 commands.c.expires_at < before)).rowcount,
            "command_reports": self._conn.execute(
                delete(command_reports).where(command_reports.c.received_at < before)).rowcount,
        }
