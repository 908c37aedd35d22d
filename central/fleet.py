"""Fleet views for thousands of devices: a page of devices, counts by province, the alerts.

``parse_query`` turns the page's (or the JSON API's) query string into a ``FleetQuery`` and
refuses what it cannot mean with an operator-facing error; ``FleetViews`` answers it from the
store in a fixed number of queries (``central.store.fleet``). The pages and the JSON API
(``central.monitoring_web``) show the same dictionaries.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import protocol
from central.monitoring import FAILED_OUTCOMES, status_from_state
from central.store import Store, Transaction
from central.store.fleet import SORTS, STATUSES, FleetQuery, FleetRow
from central.store.types import format_time
from protocol.errors import ValidationError

log = logging.getLogger("central.fleet")
MAX_PAGE = 500
DEFAULT_PAGE = 100
ALERT_PROBLEMS = ("clock_untrusted", "disk_low", "amplifier_fault", "relay*")
DEFAULT_OFFLINE_MINUTES = 30
FAILED_PLAY_WINDOW = timedelta(hours=24)
MAX_ALERTS = 500
COUNTS_TTL_S = 30.0
_LABEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}\*?$")
_VERSION_RE = re.compile(r"^[0-9A-Za-z.+_-]{1,40}$")
_COMMUNE_RE = re.compile(r"^[0-9]{5}$")


def _bad(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en)


def _int(args: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    text = (args.get(key) or "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise _bad(f"{key} phải là số nguyên từ {low} đến {high}.", f"{key} must be an integer from {low} to {high}.")
    return int(text)


def _moment(args: Mapping[str, str], key: str) -> datetime | None:
    text = (args.get(key) or "").strip()
    if not text:
        return None
    try:
        return protocol.parse_utc(text)
    except ValueError:
        raise _bad(f"{key} phải là giờ UTC dạng 2025-06-01T06:30:00Z.",
                   f"{key} must be a UTC time like 2025-06-01T06:30:00Z.") from None


def parse_query(args: Mapping[str, str]) -> FleetQuery:
    """The fleet filters of a query string (empty values mean "no filter"). Raises ValidationError."""
    def text(key: str) -> str | None:
        value = (args.get(key) or "").strip()
        return value or None

    status, sort, problem = text("status"), text("sort") or "device_id", text("problem")
    commune, version, province = text("commune"), text("software_version"), text("province")
    if status is not None and status not in STATUSES:
        raise _bad(f"Trạng thái phải là một trong: {', '.join(STATUSES)}.", f"status must be one of {', '.join(STATUSES)}.")
    if sort.lstrip("-") not in SORTS:
        raise _bad(f"Sắp xếp theo một trong: {', '.join(SORTS)}.", f"sort must be one of {', '.join(SORTS)} "
                   "(a leading '-' sorts descending).")
    if problem is not None and problem != "any" and not _LABEL_RE.match(problem):
        raise _bad("Sự cố không hợp lệ.", "problem must be a problem label (e.g. disk_low) or 'any'.")
    if commune is not None and not _COMMUNE_RE.match(commune):
        raise _bad("Mã xã gồm 5 chữ số.", "commune must be a 5-digit commune code.")
    if version is not None and not _VERSION_RE.match(version):
        raise _bad("Phiên bản phần mềm không hợp lệ.", "software_version is not a version.")
    if province is not None and len(province) > 80:
        raise _bad("Tên tỉnh quá dài.", "province is too long.")
    limit = _int(args, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    page = _int(args, "page", 1, 1, 1_000_000)
    return FleetQuery(province=province, commune=commune, status=status, software_version=version,
                      problem=problem, seen_before=_moment(args, "seen_before"),
                      seen_after=_moment(args, "seen_after"), sort=sort.lstrip("-"),
                      descending=sort.startswith("-"), limit=limit, offset=(page - 1) * limit)


def version_key(version: str) -> tuple[Any, ...]:
    """'0.10.2' sorts after '0.9.9'; text parts sort after numbers of the same place."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.+_-]", version))


def stale_versions(versions: list[tuple[str, int]]) -> tuple[str | None, list[str]]:
    """(the newest version reported by any device, every older one)."""
    if not versions:
        return None, []
    newest = max((v for v, _ in versions), key=version_key)
    return newest, sorted((v for v, _ in versions if version_key(v) < version_key(newest)), key=version_key)


@dataclass(frozen=True)
class FleetPage:
    query: FleetQuery
    total: int
    devices: list[dict[str, Any]]
    counts: list[dict[str, Any]]
    counted_at: datetime

    @property
    def page(self) -> int:
        return self.query.offset // self.query.limit + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.limit))

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {"server_time": protocol.format_utc(now), "total": self.total, "page": self.page,
                "pages": self.pages, "limit": self.query.limit, "devices": self.devices,
                "counts_by_province": self.counts, "counts_as_of": protocol.format_utc(self.counted_at)}


def _total_from_counts(filters: FleetQuery, counts: list[dict[str, Any]]) -> int | None:
    """The total of a filter by status and/or province alone, from the counts per province."""
    if replace(filters, status=None, province=None) != FleetQuery(limit=0):
        return None
    rows = [c for c in counts if filters.province is None or c["province"] == filters.province]
    return sum(c[filters.status] if filters.status is not None else c["total"] for c in rows)


def device_summary(row: FleetRow, now: datetime) -> dict[str, Any]:
    status = status_from_state(now=now, last_seen_at=format_time(row.last_seen_at) if row.last_seen_at else None,
                               offline_at=row.offline_at, problems=row.problems)
    hb = row.heartbeat or {}
    return {
        "device_id": row.device_id, "commune": row.commune, "province": row.province, "zones": list(row.zones),
        "status": status.label, "state": status.state, "problems": list(status.problems),
        "last_seen_at": status.last_seen_at, "seconds_since": status.seconds_since,
        "playing": hb.get("playing"), "volume": hb.get("volume"), "software_version": row.software_version,
        "outbox_depth": hb.get("outbox_depth"), "plays_logged": row.plays_logged, "last_play": row.last_play,
        "last_failed_play_at": format_time(row.last_failed_play_at) if row.last_failed_play_at else None,
    }


class FleetViews:
    """``before_read``: write this process's held heartbeats first (``Monitor.flush_heartbeats``).

    The counts (per province, and the total a filter matches) scan the whole fleet: at 100,000
    devices that is 50–200 ms, so each process keeps them ``counts_ttl_s`` seconds (the page
    says as of when) and a page never waits for them but the first time: an older count is
    shown while a background thread counts again (one per count at a time). The total of a
    filter by status and/or province alone is read off the counts per province (no query of its
    own); ``warm`` counts per province ahead of the first page (``commune-central serve`` calls
    it when a worker starts). The page of devices itself is always read fresh."""

    def __init__(self, store: Store, clock: Callable[[], datetime],
                 before_read: Callable[[], None] = lambda: None, counts_ttl_s: float = COUNTS_TTL_S) -> None:
        self.store, self.clock, self._before_read = store, clock, before_read
        self._ttl = counts_ttl_s
        self._counts: dict[Any, tuple[float, datetime, Any]] = {}
        self._recounting: set[Any] = set()
        self._lock = threading.Lock()

    def _cached(self, key: Any, compute: Callable[[Transaction], Any], tx: Transaction) -> tuple[Any, datetime]:
        now = time.monotonic()
        with self._lock:
            hit = self._counts.get(key)
            if hit is not None and (hit[0] <= now) and key not in self._recounting:
                self._recounting.add(key)
                threading.Thread(target=self._recount, args=(key, compute), daemon=True,
                                 name="fleet-recount").start()
            if hit is not None:
                return hit[2], hit[1]
        return self._store_count(key, compute(tx), now)

    def _store_count(self, key: Any, value: Any, started: float) -> tuple[Any, datetime]:
        at = self.clock()
        with self._lock:
            if len(self._counts) > 256:
                self._counts.clear()
            self._counts[key] = (started + self._ttl, at, value)
        return value, at

    def _recount(self, key: Any, compute: Callable[[Transaction], Any]) -> None:
        try:
            started = time.monotonic()
            with self.store.read() as tx:
                self._store_count(key, compute(tx), started)
        except Exception:  # the database is away: the old count stays until the next try
            log.exception("counting the fleet failed")
        finally:
            with self._lock:
                self._recounting.discard(key)

    def _province_counts(self, tx: Transaction) -> tuple[list[dict[str, Any]], datetime]:
        return self._cached("provinces", lambda t: t.fleet.counts_by_province(self.clock()), tx)

    def warm(self) -> None:
        """Count per province now (a worker's start), so the first page does not wait for it."""
        with self.store.read() as tx:
            self._province_counts(tx)

    def page(self, query: FleetQuery) -> FleetPage:
        self._before_read()
        now = self.clock()
        with self.store.read() as tx:
            rows = tx.fleet.page(query, now)
            counts, counted_at = self._province_counts(tx)
            if len(rows) < query.limit and (rows or query.offset == 0):
                total = query.offset + len(rows)
            else:
                filters = replace(query, sort="device_id", descending=False, limit=0, offset=0)
                total = _total_from_counts(filters, counts)
                if total is None:
                    total = self._cached(("count", filters), lambda t: t.fleet.count(filters, self.clock()), tx)[0]
                total = max(total, query.offset + len(rows))  # an older count never says less than shown
        return FleetPage(query, total, [device_summary(r, now) for r in rows], counts, counted_at)

    def all(self) -> list[dict[str, Any]]:
        """Every device (the CLI's listing), a page at a time."""
        out: list[dict[str, Any]] = []
        query = FleetQuery(limit=MAX_PAGE)
        self._before_read()
        while True:
            now = self.clock()
            with self.store.read() as tx:
                rows = tx.fleet.page(query, now)
            out.extend(device_summary(r, now) for r in rows)
            if len(rows) < query.limit:
                return out
            query = replace(query, offset=query.offset + query.limit)

    def alerts(self, *, offline_minutes: int = DEFAULT_OFFLINE_MINUTES) -> dict[str, Any]:
        self._before_read()
        now = self.clock()
        with self.store.read() as tx:
            newest, stale = stale_versions(tx.fleet.software_versions())
            rows = tx.fleet.alerts(now=now, offline_since=now - timedelta(minutes=offline_minutes),
                                   failed_since=now - FAILED_PLAY_WINDOW, problems=ALERT_PROBLEMS,
                                   stale_versions=stale, limit=MAX_ALERTS)
        out = []
        for row in rows:
            summary = device_summary(row, now)
            reasons = []
            if row.offline_at is not None and row.offline_at < now - timedelta(minutes=offline_minutes):
                reasons.append("offline")
            if summary["state"] == "online":
                reasons.extend(p for p in row.problems if p in ALERT_PROBLEMS or p.startswith("relay"))
            if row.last_failed_play_at is not None and row.last_failed_play_at >= now - FAILED_PLAY_WINDOW:
                reasons.append("failed_play")
            if row.software_version in stale:
                reasons.append("stale_software")
            out.append(summary | {"alerts": reasons})
        return {"server_time": protocol.format_utc(now), "offline_minutes": offline_minutes,
                "newest_software": newest, "failed_outcomes": list(FAILED_OUTCOMES),
                "truncated": len(rows) == MAX_ALERTS, "alerts": out}
