"""Benchmark: central's storage layer on SQLite and on PostgreSQL (issue 13, milestone 1).

1. Disk bytes written per heartbeat: 400 devices, 15 rounds of heartbeats a minute apart
   (central's clock is moved, so one round in 15 brings a history sample, as in production),
   through ``Monitor.record_heartbeat``. SQLite: this process's write_bytes (/proc/self/io),
   WAL checkpointed at the end. PostgreSQL (production settings: fsync, full page writes):
   write_bytes of every server process, after a CHECKPOINT (this includes the one-time
   zero-filling of new 16 MB WAL segments, which a running server recycles instead), and
   apart from it what PostgreSQL wrote for the data: WAL bytes plus data pages written.
   Target (issue 13): at most 4 KB per heartbeat.
2. Cost of an unchanged feed poll (304), through the WSGI app (token check, feed, ETag), on a
   central where only the device's commune published and on one where 5,000 items were
   published for other communes too (other zones, other devices); polls alternate between the
   two so the machine's load falls on both alike. Target: the ratio stays about 1.

Run: .venv/bin/python bench/central_store.py   (as root, PostgreSQL runs as an unprivileged user)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from central.app import create_app  # noqa: E402
from central.audience import item_audience  # noqa: E402
from central.config import CentralConfig  # noqa: E402
from central.heartbeats import FLUSH_S  # noqa: E402
from tests.central.test_monitoring import heartbeat  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402

DEVICES = 400
ROUNDS = 15
FOREIGN = 5000
POLLS = 1000


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def write_bytes(pids: list[int] | list[str]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def heartbeat_writes(url: str, data: Path, pids: Callable[[], list[int] | list[str]],
                     flush: Callable[[Any], None]) -> tuple[float, float]:
    clock = Clock()
    app = create_app(data, clock=clock, config=CentralConfig(data_dir=data, database_url=url))
    catalog, monitor = app.extensions["central.catalog"], app.extensions["central.monitor"]
    ids = [f"{10000 + n // 4:05d}-{n % 4:04d}" for n in range(DEVICES)]
    for device_id in ids:
        catalog.add_device(device_id, ["thon-1"])
    bodies = {d: heartbeat(device_id=d) for d in ids}

    # central.heartbeats writes a group every FLUSH_S: at 400 devices a minute, this many.
    group = max(1, round(DEVICES * FLUSH_S / 60))

    def rounds() -> None:
        for round_ in range(ROUNDS):
            clock.now += timedelta(seconds=60)
            for n, device_id in enumerate(ids):
                body = dict(bodies[device_id], sent_at=clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            uptime_s=3600 + round_ * 60)
                monitor.record_heartbeat(device_id, body)
                if n % group == group - 1:
                    monitor.flush_heartbeats()
            monitor.flush_heartbeats()

    # Warm-up: tables at their steady size, PostgreSQL's WAL segments made (a new segment is
    # zero-filled once; a running server recycles them), then measure the same load again.
    rounds()
    flush(catalog.store)
    before, wal_before = write_bytes(pids()), wal_bytes(catalog.store)
    rounds()
    flush(catalog.store)
    written, wal = write_bytes(pids()) - before, wal_bytes(catalog.store) - wal_before
    catalog.close()
    count = DEVICES * ROUNDS
    return written / count / 1024, wal / count / 1024


def wal_bytes(store: Any) -> int:
    """PostgreSQL: WAL bytes plus data pages written (checkpointer, background writer, backends),
    8 KB each; what the database writes for the data, without the one-time zero-filling of new
    WAL segment files that /proc's write_bytes also counts."""
    if not store.is_postgresql:
        return 0
    with store.read() as tx:
        wal = int(tx.conn.exec_driver_sql("SELECT wal_bytes FROM pg_stat_wal").scalar_one())
        pages = int(tx.conn.exec_driver_sql("SELECT buffers_checkpoint + buffers_clean + buffers_backend"
                                            " FROM pg_stat_bgwriter").scalar_one())
    return wal + pages * 8192


def sqlite_flush(store: Any) -> None:
    with store.database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def pg_flush(store: Any) -> None:
    with store.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")


def poll_setup(url: str, data: Path, *, foreign: int) -> Callable[[], float]:
    """A central with 20 items for the device (and ``foreign`` for other communes); returns a
    function that times one unchanged poll (304) of the device, in seconds."""
    app = create_app(data, config=CentralConfig(data_dir=data, database_url=url))
    catalog = app.extensions["central.catalog"]
    token = catalog.add_device("12345-0001", ["thon-1", "thon-2"])
    for n in range(20):
        catalog.approve_item(catalog.add_item(kind="text", title=f"Tin xã nhà {n}", text="x"), by="A")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/v1/devices/12345-0001/feed", headers=headers)
    path = f"/v1/devices/12345-0001/feed?cursor={first.get_json()['cursor']}"
    headers["If-None-Match"] = first.headers["ETag"]
    if foreign:
        signed = catalog.approve_item(catalog.add_item(kind="text", title="Mẫu", text="x", zones=["thon-9"]), by="A")
        document = json.dumps(signed, ensure_ascii=False)
        now = datetime.now(UTC)
        for start in range(0, foreign, 500):  # other communes publish, 500 per transaction
            with catalog.store.write() as tx:
                for n in range(start, min(start + 500, foreign)):
                    item_id = f"it-foreign-{n}"
                    zones, devices = (["thon-9"], ["*"]) if n % 2 else (["*"], [f"{20000 + n:05d}-0001"])
                    tx.items.add(item_id, draft=signed, zones=zones, devices=devices, now=now)
                    tx.items.publish(item_id, document, audience=item_audience(zones, devices), valid_until=None,
                                     now=now, version=1, state="approved")
    if catalog.store.is_postgresql:  # statistics as autovacuum keeps them
        with catalog.store.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")

    def poll() -> float:
        began = time.perf_counter()
        answer = client.get(path, headers=headers)
        elapsed = time.perf_counter() - began
        assert answer.status_code == 304
        return elapsed

    for _ in range(50):  # warm-up: connections, caches
        poll()
    return poll


def poll_cost(url: Callable[[str], str], data: Path) -> tuple[float, float]:
    """Median poll time (ms) without and with foreign items, measured alternately (A, B, A, B …)
    on two centrals side by side, so the machine's load falls on both alike."""
    quiet = poll_setup(url("quiet"), data / "quiet", foreign=0)
    busy = poll_setup(url("busy"), data / "busy", foreign=FOREIGN)
    quiet_times, busy_times = [], []
    for _ in range(POLLS):
        quiet_times.append(quiet())
        busy_times.append(busy())
    return statistics.median(quiet_times) * 1000, statistics.median(busy_times) * 1000


def main() -> int:
    rows = []
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        sqlite_kb, _ = heartbeat_writes(f"sqlite:///{base / 'hb' / 'central.db'}", base / "hb", lambda: ["self"],
                                        sqlite_flush)
        s_without, s_with = poll_cost(lambda name: f"sqlite:///{base / 'poll' / name / 'central.db'}", base / "poll")
        cluster = PostgresCluster().start(durable=True)
        try:
            hb_url = cluster.create_database("bench_heartbeats")
            pg_kb, pg_wal_kb = heartbeat_writes(hb_url, base / "pg-hb", cluster.server_pids, pg_flush)
            p_without, p_with = poll_cost(lambda name: cluster.create_database(f"bench_poll_{name}"), base / "pg-poll")
        finally:
            cluster.stop()
    results.update(sqlite_heartbeat_write_kb=sqlite_kb, pg_heartbeat_write_kb=pg_kb, pg_heartbeat_wal_kb=pg_wal_kb,
                   sqlite_poll_ms=s_without, sqlite_poll_foreign_ms=s_with, pg_poll_ms=p_without,
                   pg_poll_foreign_ms=p_with)
    rows.append(("disk written per heartbeat (KB), /proc write_bytes", f"{sqlite_kb:.2f}", f"{pg_kb:.2f}", "≤ 4"))
    rows.append(("  PostgreSQL: WAL + data pages written (KB)", "", f"{pg_wal_kb:.2f}", "≤ 4"))
    rows.append(("304 poll, no foreign items (ms, median)", f"{s_without:.2f}", f"{p_without:.2f}", "—"))
    rows.append((f"304 poll, {FOREIGN:,} foreign items (ms)", f"{s_with:.2f}", f"{p_with:.2f}", "—"))
    rows.append(("ratio foreign ÷ without", f"{s_with / s_without:.2f}", f"{p_with / p_without:.2f}", "≈ 1"))
    print(f"{'measure':52} {'SQLite':>12} {'PostgreSQL':>22} {'target':>8}")
    for name, sqlite_value, pg_value, target in rows:
        print(f"{name:52} {sqlite_value:>12} {pg_value:>22} {target:>8}")
    print(f"({DEVICES} devices × {ROUNDS} heartbeat rounds; {POLLS} polls per measure)")
    print(f"RESULT sqlite_heartbeat_write_kb={sqlite_kb:.2f} pg_heartbeat_write_kb={pg_kb:.2f} "
          f"pg_heartbeat_data_kb={pg_wal_kb:.2f} sqlite_foreign_items_poll_ratio={s_with / s_without:.2f} "
          f"pg_foreign_items_poll_ratio={p_with / p_without:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
