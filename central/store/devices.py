"""Registered devices: ids, token hashes, zones. Each gets its ``device_state`` and
``device_presence`` rows at birth."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import IntegrityError

from central.store.engine import Database
from central.store.meta import MetaRepository
from central.store.schema import device_presence, device_state, devices

GENERATION_KEY = "device_generation"   # meta: changes with every token or zones change


@dataclass(frozen=True)
class DeviceRow:
    id: str
    token_hash: str
    zones: tuple[str, ...]
    commune: str
    created_at: datetime
    province: str = ""


class DuplicateDevice(Exception):
    """A device with this id (or, vanishingly unlikely, this token hash) exists."""


def _row(row: Row) -> DeviceRow:
    return DeviceRow(id=row.id, token_hash=row.token_hash, zones=tuple(json.loads(row.zones)),
                     commune=row.commune, created_at=row.created_at, province=row.province)


class DeviceRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def add(self, device_id: str, *, token_hash: str, zones: Sequence[str], now: datetime,
            province: str = "") -> None:
        """Raises DuplicateDevice; the caller's transaction is then unusable (roll it back)."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(devices.insert().values(
                    id=device_id, token_hash=token_hash, zones=json.dumps(list(zones)),
                    commune=device_id.split("-", 1)[0], created_at=now, province=province))
        except IntegrityError:
            raise DuplicateDevice(device_id) from None
        self._conn.execute(self._db.insert(device_state).values(device_id=device_id).on_conflict_do_nothing())
        self._conn.execute(self._db.insert(device_presence).values(device_id=device_id).on_conflict_do_nothing())

    def get(self, device_id: str) -> DeviceRow | None:
        row = self._conn.execute(select(devices).where(devices.c.id == device_id)).one_or_none()
        return _row(row) if row is not None else None

    def by_token_hash(self, token_hash: str) -> DeviceRow | None:
        row = self._conn.execute(select(devices).where(devices.c.token_hash == token_hash)).one_or_none()
        return _row(row) if row is not None else None

    def list(self) -> list[DeviceRow]:
        return [_row(r) for r in self._conn.execute(select(devices).order_by(devices.c.id))]

    def set_token_hash(self, device_id: str, token_hash: str) -> bool:
        changed = self._conn.execute(update(devices).where(devices.c.id == device_id)
                                     .values(token_hash=token_hash)).rowcount == 1
        self._new_generation()
        return changed

    def set_zones(self, device_id: str, zones: Sequence[str]) -> bool:
        changed = self._conn.execute(update(devices).where(devices.c.id == device_id)
                                     .values(zones=json.dumps(list(zones)))).rowcount == 1
        self._new_generation()
        return changed

    def _new_generation(self) -> None:
        """A token or zones changed: every process's ``central.device_cache`` starts again (same
        transaction, so no process can see the change without the new generation)."""
        MetaRepository(self._conn, self._db).set(GENERATION_KEY, secrets.token_hex(8))
