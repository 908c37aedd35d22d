"""Copy a whole central database into a new one (SQLite → PostgreSQL, when a province grows).

The target must be migrated and empty (no devices, items or meta rows). Every table of
``schema.metadata`` is copied in one read snapshot of the source and one transaction on the
target, so a failed copy leaves the target empty; counters (the feed position, PostgreSQL's
sequences) continue after the copied rows, and on PostgreSQL the months of the copied device
logs get their partitions first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Table, func, select, text

from central.store import Store, partitions
from central.store.schema import device_logs, devices, feed_counter, items, meta, metadata
from protocol.errors import StorageError

BATCH = 1000


def copy_database(source: Store, target: Store) -> dict[str, int]:
    """Copy every row; returns the number copied per table. Raises StorageError (target unchanged)."""
    counts: dict[str, int] = {}
    with source.read() as src, target.write() as dst:
        for table in (devices, items, meta):
            if dst.conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise StorageError("Cơ sở dữ liệu đích không trống; hãy tạo một cơ sở dữ liệu mới.",
                                   f"The target database is not empty ({table.name} has rows): use a new one.")
        if target.is_postgresql:
            now = datetime.now(UTC)
            partitions.ensure_months(dst.conn, now)
            first, last = src.conn.execute(select(func.min(device_logs.c.at), func.max(device_logs.c.at))).one()
            if first is not None:
                # Clocks far off stay in the DEFAULT partition: months from 5 years back to 1 ahead.
                low = partitions.month_start(max(first, now - timedelta(days=5 * 366)))
                high = partitions.month_start(min(last, now + timedelta(days=366)))
                months = [low]
                while months[-1] < high:
                    months.append(partitions.add_months(months[-1], 1))
                partitions.ensure_for(dst.conn, months)
        for table in metadata.sorted_tables:
            if table is feed_counter:
                top = src.conn.execute(select(feed_counter.c.last_seq).where(feed_counter.c.id == 1)).scalar_one()
                dst.conn.execute(feed_counter.update().where(feed_counter.c.id == 1).values(last_seq=top))
                counts[table.name] = 1
                continue
            counts[table.name] = _copy_table(src.conn, dst.conn, table)
        if target.is_postgresql:
            for table in metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True:
                        dst.conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'),"
                            f" COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))
    return counts


def _copy_table(src: Connection, dst: Connection, table: Table) -> int:
    copied = 0
    result = src.execute(select(table).execution_options(yield_per=BATCH))
    for chunk in result.mappings().partitions(BATCH):
        dst.execute(table.insert(), [dict(row) for row in chunk])
        copied += len(chunk)
    return copied
