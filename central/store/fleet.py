"""The fleet as operators query it: one page of devices, counts by province, the alerts.

Each answer is one or two queries over ``devices`` joined with ``device_state`` and
``device_presence``, whatever the
fleet's size (never one query per device). Status is judged from stored columns, the same way
``central.monitoring.status_from_state`` judges it: never seen (no heartbeat yet), offline
(``offline_at`` passed), online with problems, online.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, literal, not_, or_, select

from central.store.engine import Database
from central.store.schema import device_presence, device_state, devices
from central.store.types import UtcDateTime

STATUSES = ("online", "problem", "offline", "never_seen")
SORTS = ("device_id", "commune", "province", "last_seen_at", "software_version", "status")


@dataclass(frozen=True)
class FleetQuery:
    province: str | None = None
    commune: str | None = None
    status: str | None = None                  # one of STATUSES
    software_version: str | None = None
    problem: str | None = None                 # a problem label, or "any"
    seen_before: datetime | None = None
    seen_after: datetime | None = None
    sort: str = "device_id"                    # one of SORTS
    descending: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class FleetRow:
    device_id: str
    commune: str
    province: str
    zones: tuple[str, ...]
    last_seen_at: datetime | None
    offline_at: datetime | None
    software_version: str | None
    problems: tuple[str, ...]
    heartbeat: dict[str, Any] | None
    plays_logged: int
    last_play: dict[str, Any] | None
    last_failed_play_at: datetime | None


def _at(moment: datetime) -> ColumnElement[Any]:
    return literal(moment, UtcDateTime())


def status_condition(status: str, now: datetime, *, offline_at: ColumnElement[Any] | None = None
                     ) -> ColumnElement[bool]:
    s, p = device_state.c, device_presence.c
    offline = p.offline_at if offline_at is None else offline_at
    if status == "never_seen":
        return p.last_seen_at.is_(None)
    if status == "offline":
        return offline < _at(now)
    online = offline >= _at(now)
    has_problems = and_(s.problems.is_not(None), s.problems != "")
    if status == "problem":
        return and_(online, has_problems)
    if status == "online":
        return and_(online, not_(has_problems))
    raise ValueError(status)


def problem_condition(label: str) -> ColumnElement[bool]:
    """Devices whose stored problems include ``label`` (``any``: at least one; ``relay*``: any
    label starting with ``relay``)."""
    p = device_state.c.problems
    if label == "any":
        return and_(p.is_not(None), p != "")
    padded = literal(" ") + p + literal(" ")
    if label.endswith("*"):
        return padded.contains(f" {label[:-1]}", autoescape=True)
    return padded.contains(f" {label} ", autoescape=True)


def _filtered(query: Select[Any], q: FleetQuery, now: datetime, *, index_offline: bool = True) -> Select[Any]:
    """``index_offline=False``: the status test reads ``offline_at`` through an expression SQLite
    cannot index, so a page sorted by id walks the devices in id order and stops after a page
    (SQLite's planner cannot tell a status matching 2 % of the fleet from one matching 98 %, and
    walking the ``offline_at`` index then sorting is 170 ms at 100,000 devices; PostgreSQL
    judges that from its statistics)."""
    d, s, p = devices.c, device_state.c, device_presence.c
    if q.province is not None:
        query = query.where(d.province == q.province)
    if q.commune is not None:
        query = query.where(d.commune == q.commune)
    if q.status is not None:
        query = query.where(status_condition(q.status, now, offline_at=p.offline_at if index_offline else
                                             func.coalesce(p.offline_at, p.offline_at)))
    if q.software_version is not None:
        query = query.where(s.software_version == q.software_version)
    if q.problem is not None:
        query = query.where(problem_condition(q.problem))
    if q.seen_before is not None:
        query = query.where(p.last_seen_at < _at(q.seen_before))
    if q.seen_after is not None:
        query = query.where(p.last_seen_at >= _at(q.seen_after))
    return query


def _row(r: Any) -> FleetRow:
    return FleetRow(device_id=r.id, commune=r.commune, province=r.province, zones=tuple(json.loads(r.zones)),
                    last_seen_at=r.last_seen_at, offline_at=r.offline_at, software_version=r.software_version,
                    problems=tuple(r.problems.split()) if r.problems else (),
                    heartbeat=json.loads(r.heartbeat) if r.heartbeat else None,
                    plays_logged=int(r.plays_logged or 0),
                    last_play=json.loads(r.last_play) if r.last_play else None,
                    last_failed_play_at=r.last_failed_play_at)


_COLUMNS = (devices.c.id, devices.c.commune, devices.c.province, devices.c.zones, device_presence.c.last_seen_at,
            device_presence.c.offline_at, device_state.c.software_version, device_state.c.problems,
            device_state.c.heartbeat, device_state.c.plays_logged, device_state.c.last_play,
            device_state.c.last_failed_play_at)


class FleetRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    def _joined(self, *columns: Any) -> Select[Any]:
        return select(*columns).select_from(
            devices.join(device_state, device_state.c.device_id == devices.c.id)
            .join(device_presence, device_presence.c.device_id == devices.c.id))

    def page(self, q: FleetQuery, now: datetime) -> list[FleetRow]:
        return [_row(r) for r in self._conn.execute(self.page_statement(q, now))]

    def page_statement(self, q: FleetQuery, now: datetime) -> Select[Any]:
        """The page's query (tests EXPLAIN it: a page must be a short index walk, not a sort)."""
        d, s, p = devices.c, device_state.c, device_presence.c
        key = {"device_id": d.id, "commune": d.commune, "province": d.province, "last_seen_at": p.last_seen_at,
               "software_version": s.software_version, "status": p.offline_at}[q.sort]
        # Never-seen devices (NULL) first going up, last going down: the natural order of an index
        # on (key, id) walked either way (device_presence_last_seen_id), so a page is a short walk.
        order = [key.desc().nulls_last() if q.descending else key.asc().nulls_first()]
        if q.sort in ("device_id", "commune", "province"):
            order = [key.desc() if q.descending else key.asc()]
        if q.sort != "device_id":  # ties by id: of the index's table when the key is of it
            tie = p.device_id if q.sort in ("last_seen_at", "status") else d.id
            order.append(tie.desc() if q.descending else tie.asc())
        query = _filtered(self._joined(*_COLUMNS), q, now, index_offline=self._db.is_postgresql or q.sort != "device_id")
        return query.order_by(*order).limit(q.limit).offset(q.offset)

    def count(self, q: FleetQuery, now: datetime) -> int:
        return int(self._conn.execute(_filtered(self._joined(func.count()), q, now)).scalar_one())

    def counts_by_province(self, now: datetime) -> list[dict[str, Any]]:
        """Per province: how many devices are online, online with problems, offline, never seen."""
        def tally(status: str) -> Any:
            return func.sum(case((status_condition(status, now), 1), else_=0)).label(status)

        query = (self._joined(devices.c.province, func.count().label("total"), *(tally(x) for x in STATUSES))
                 .group_by(devices.c.province).order_by(devices.c.province))
        return [{"province": r.province, "total": int(r.total), **{x: int(getattr(r, x) or 0) for x in STATUSES}}
                for r in self._conn.execute(query)]

    def software_versions(self) -> list[tuple[str, int]]:
        s = device_state.c
        rows = self._conn.execute(select(s.software_version, func.count()).where(s.software_version.is_not(None))
                                  .group_by(s.software_version))
        return [(r[0], int(r[1])) for r in rows]

    def alerts(self, *, now: datetime, offline_since: datetime, failed_since: datetime,
               problems: Sequence[str], stale_versions: Sequence[str], limit: int) -> list[FleetRow]:
        """Devices offline since before ``offline_since``, online with one of ``problems``, with a
        failed or skipped play since ``failed_since``, or running one of ``stale_versions``;
        the longest offline first."""
        s, p = device_state.c, device_presence.c
        online = p.offline_at >= _at(now)
        reasons: list[ColumnElement[bool]] = [p.offline_at < _at(offline_since),
                                              s.last_failed_play_at >= _at(failed_since)]
        if problems:
            reasons.append(and_(online, or_(*(problem_condition(p) for p in problems))))
        if stale_versions:
            reasons.append(s.software_version.in_(list(stale_versions)))
        query = (self._joined(*_COLUMNS).where(or_(*reasons))
                 .order_by(p.offline_at.asc(), devices.c.id).limit(limit))
        return [_row(r) for r in self._conn.execute(query)]

    def provinces(self) -> list[str]:
        return list(self._conn.execute(select(devices.c.province).distinct().order_by(devices.c.province)).scalars())
