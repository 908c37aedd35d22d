"""Monthly partitions of ``device_logs`` on PostgreSQL (SQLite keeps one table and deletes rows).

Partitions are named ``device_logs_YYYY_MM`` and hold ``at`` from the first of that month
(UTC) to the first of the next. ``device_logs_default`` catches entries from clocks far off;
creating a month whose rows already sit in the default partition moves them first (PostgreSQL
refuses to attach over rows the default holds). Retention drops whole months.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Connection, text

PARENT = "device_logs"
DEFAULT = "device_logs_default"
_NAME_RE = re.compile(r"^device_logs_(\d{4})_(\d{2})$")


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + (month.month - 1) + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_{month.year:04d}_{month.month:02d}"


def existing_months(conn: Connection) -> list[datetime]:
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = CAST(:parent AS regclass)"), {"parent": PARENT}).scalars()
    months = []
    for name in rows:
        match = _NAME_RE.match(name)
        if match:
            months.append(datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC))
    return sorted(months)


def ensure_months(conn: Connection, now: datetime, *, back: int = 1, ahead: int = 2) -> list[str]:
    """Create the partitions from ``back`` months before ``now`` to ``ahead`` after; returns new names."""
    have = set(existing_months(conn))
    first = month_start(now)
    created = []
    for offset in range(-back, ahead + 1):
        month = add_months(first, offset)
        if month not in have:
            _create(conn, month)
            created.append(partition_name(month))
    return created


def ensure_for(conn: Connection, moments: list[datetime]) -> list[str]:
    """Create the partitions of the months these moments fall in (a copy of old data)."""
    have = set(existing_months(conn))
    created = []
    for month in sorted({month_start(m) for m in moments} - have):
        _create(conn, month)
        created.append(partition_name(month))
    return created


def _create(conn: Connection, month: datetime) -> None:
    name, low, high = partition_name(month), month, add_months(month, 1)
    bounds = {"low": low, "high": high}
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    moved = conn.execute(text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE at >= :low AND at < :high"),
                         bounds).rowcount
    if moved:
        conn.execute(text(f"DELETE FROM {DEFAULT} WHERE at >= :low AND at < :high"), bounds)
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM "
                      f"('{low.isoformat()}') TO ('{high.isoformat()}')"))


def drop_months_before(conn: Connection, cutoff: datetime) -> list[str]:
    """Drop every monthly partition that ends at or before ``cutoff``; returns their names."""
    dropped = []
    for month in existing_months(conn):
        if add_months(month, 1) <= cutoff:
            name = partition_name(month)
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
