"""Central's storage layer on both engines: the data model for scale, publication order under
concurrent publishers, no writes on feed polls, poll cost independent of foreign items,
retention and (PostgreSQL) monthly partitions."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event, text

from central.catalog import Catalog
from central.config import CentralConfig, Retention
from central.maintenance import run_once
from central.monitor import Monitor
from central.store import Store, partitions
from tests.central.test_monitoring import heartbeat, play, post
from tests.conftest import CentralHandle


@pytest.fixture
def catalog(central_config: CentralConfig, central_clock: Any) -> Iterator[Catalog]:
    with Catalog(central_config.data_dir, clock=central_clock, config=central_config) as opened:
        yield opened


class Statements:
    """Every SQL statement the engine runs while recording (the test's view of what a request costs)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.database.engine
        self.seen: list[str] = []
        self.recording = False
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.recording:
            self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        self.seen.clear()
        self.recording = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.recording = False
        event.remove(self.engine, "before_cursor_execute", self._before)

    def writes(self) -> list[str]:
        verbs = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE", "CREATE", "DROP", "ALTER", "PRAGMA SYNCHRONOUS=FULL")
        return [s for s in self.seen if s.upper().startswith(verbs)]


# ---------------------------------------------------------------- heartbeats: last state + samples


def test_a_heartbeat_updates_the_last_state_and_samples_the_history(central: CentralHandle) -> None:
    store = central.catalog.store
    monitor = central.server.app.extensions["central.monitor"]
    assert monitor.retention.heartbeat_sample_s == 900
    for minute in range(5):  # five heartbeats a minute apart: one sample
        assert post(central, "heartbeat", heartbeat(sent_at=f"2025-06-01T00:0{minute}:00Z")).status_code == 200
        central.clock.advance(60)
        monitor.flush_heartbeats()  # a minute apart: each in its own group (central.heartbeats)
    with store.read() as tx:
        state = tx.reports.state(central.device_id)
        assert tx.reports.count("heartbeat_samples") == 1
    # Only the times changed: the stored heartbeat is the first (its sample), the presence the last.
    assert state.heartbeat["sent_at"] == "2025-06-01T00:00:00Z" and state.software_version == "0.1.0"
    assert abs((central.clock() - timedelta(seconds=60) - state.last_seen_at).total_seconds()) < 5
    assert state.offline_at == state.last_seen_at + timedelta(seconds=90) and state.interval_s == 60
    central.clock.advance(15 * 60)
    post(central, "heartbeat", heartbeat(sent_at="2025-06-01T00:20:00Z",
                                         clock={"trusted": False, "offset_s": None, "source": "none"}))
    history = monitor.heartbeat_history(central.device_id)
    assert [h["heartbeat"]["sent_at"] for h in history] == ["2025-06-01T00:20:00Z", "2025-06-01T00:00:00Z"]
    with store.read() as tx:  # (the history read wrote the held heartbeat)
        assert tx.reports.state(central.device_id).problems == ("clock_untrusted",)


def test_offline_at_is_indexed_and_answers_who_is_offline(central: CentralHandle) -> None:
    central.add_device("12345-0002")
    post(central, "heartbeat", heartbeat())
    central.server.app.extensions["central.monitor"].flush_heartbeats()
    store = central.catalog.store
    with store.read() as tx:
        if store.is_postgresql:
            indexes = tx.conn.execute(text("SELECT indexdef FROM pg_indexes "
                                           "WHERE tablename = 'device_presence'")).scalars()
        else:
            indexes = tx.conn.execute(text("SELECT sql FROM sqlite_master WHERE tbl_name = 'device_presence'"
                                           " AND type = 'index'")).scalars()
        assert any("offline_at" in (sql or "") for sql in indexes)
        now = central.clock()
        later = now + timedelta(seconds=91)
        offline_sql = text("SELECT device_id FROM device_presence WHERE offline_at < :t")
        bind = {"t": later if store.is_postgresql else later.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert tx.conn.execute(offline_sql, bind).scalars().all() == [central.device_id]


# ---------------------------------------------------------------- last play is a column


def test_last_play_and_play_count_are_kept_per_device(central: CentralHandle) -> None:
    post(central, "logs", {"entries": [play("p.2", item_id="bt-late", at="2025-06-02T06:35:01Z")]})
    # An older play arriving later (an outbox drained out of order) does not replace the last one.
    post(central, "logs", {"entries": [play("p.1", item_id="bt-early", at="2025-06-01T06:35:01Z"),
                                       play("p.2", item_id="bt-late", at="2025-06-02T06:35:01Z")]})
    with central.catalog.store.read() as tx:
        state = tx.reports.state(central.device_id)
    assert state.plays_logged == 2 and state.last_play["item_id"] == "bt-late"
    assert state.last_play_at == datetime(2025, 6, 2, 6, 35, 1, tzinfo=UTC)
    fleet = requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(), timeout=30).json()
    assert fleet["devices"][0]["last_play"]["id"] == "p.2" and fleet["devices"][0]["plays_logged"] == 2


# ---------------------------------------------------------------- feed polls write nothing


def test_a_feed_poll_writes_nothing(central: CentralHandle) -> None:
    central.text_item("Bản tin")
    first = central.feed()
    cursor, etag = first.json()["cursor"], first.headers["ETag"]
    with Statements(central.catalog.store) as sql:
        for _ in range(3):
            unchanged = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": cursor},
                                     headers={**central.headers(), "If-None-Match": etag}, timeout=30)
            assert unchanged.status_code == 304
        assert central.feed(cursor).status_code == 200
    assert sql.seen, "the listener saw the poll's queries"
    assert sql.writes() == []


def _poll_statements(central: CentralHandle, cursor: str, etag: str) -> list[str]:
    with Statements(central.catalog.store) as sql:
        answer = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": cursor},
                              headers={**central.headers(), "If-None-Match": etag}, timeout=30)
    assert answer.status_code == 304
    return sql.seen


def test_an_unchanged_poll_reads_only_its_own_audience(central: CentralHandle) -> None:
    central.text_item("Toàn quốc")
    first = central.feed()
    cursor, etag = first.json()["cursor"], first.headers["ETag"]
    central.catalog.device_cache._refresh_s = 3600  # its refresh every 2 s is not the poll's
    before = _poll_statements(central, cursor, etag)
    store = central.catalog.store
    other = central.add_device("67890-0001", ["thon-9"])
    assert other
    for n in range(300):  # other communes publish: to their zones, to their devices
        central.text_item(f"Tin xã khác {n}", zones=["thon-9"] if n % 2 else ["*"], devices=["67890-0001"]
                          if n % 2 == 0 else ["*"])
    after = _poll_statements(central, cursor, etag)
    assert after == before  # the same statements; none of them can reach a foreign row:
    with store.read() as tx:
        keys = ["all", f"device:{central.device_id}", "zone:thon-1", "zone:thon-2"]
        found = tx.items.feed_after(keys, int(cursor.split(".")[1]), 500)
        assert found == []
        if not store.is_postgresql:
            plan = " ".join(str(r[-1]) for r in tx.conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT DISTINCT seq FROM feed_audience WHERE audience IN (?, ?) AND seq > ?"
                " ORDER BY seq LIMIT 10", ("all", "zone:thon-1", 5)))
            assert "USING PRIMARY KEY (audience=? AND seq>?)" in plan or "USING COVERING INDEX" in plan, plan


# ---------------------------------------------------------------- publication order under concurrency


def test_concurrent_publishers_never_make_a_device_skip_an_item(central: CentralHandle) -> None:
    """Publishers in threads approve items while a device polls as fast as it can: every item
    must reach the device, each once, in feed order (a later number never becomes visible
    before an earlier one)."""
    catalog = central.catalog
    per_thread, threads = 15, 6
    jitter = random.Random(13)

    def widen_the_window(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Between taking a number and committing, a publisher is slow here: without the
        # counter's lock, later numbers would commit first and the device would step over.
        if "feed_counter" in statement and statement.lstrip().upper().startswith("UPDATE"):
            time.sleep(jitter.random() * 0.004)

    event.listen(catalog.store.database.engine, "after_cursor_execute", widen_the_window)
    drafts = [[catalog.add_item(kind="text", title=f"T{t}-{n}", text="x") for n in range(per_thread)]
              for t in range(threads)]
    start = threading.Barrier(threads + 1)
    done = threading.Event()
    errors: list[BaseException] = []

    def publisher(ids: list[str]) -> None:
        try:
            start.wait(30)
            for item_id in ids:
                catalog.approve_item(item_id, by="Người duyệt")
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=publisher, args=(ids,)) for ids in drafts]
    for worker in workers:
        worker.start()
    received: list[str] = []
    cursor: str | None = None
    session = central.session()
    start.wait(30)
    while True:
        finished = done.is_set()
        body = session.get(f"{central.url}/v1/devices/{central.device_id}/feed",
                           params={"cursor": cursor} if cursor else {}, timeout=30).json()
        received += [doc["id"] for doc in body["items"]]
        cursor = body["cursor"]
        if finished and not body["more"]:
            break
        if all(not w.is_alive() for w in workers):
            done.set()
    for worker in workers:
        worker.join(30)
    event.remove(catalog.store.database.engine, "after_cursor_execute", widen_the_window)
    assert errors == []
    expected = {item_id for ids in drafts for item_id in ids}
    assert len(received) == len(expected) and set(received) == expected
    with catalog.store.read() as tx:
        seqs = sorted(r.seq for r in tx.items.list() if r.seq is not None)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free numbering


# ---------------------------------------------------------------- retention and partitions


def test_retention_prunes_samples_logs_and_commands(central: CentralHandle) -> None:
    store = central.catalog.store
    monitor: Monitor = central.server.app.extensions["central.monitor"]
    central.clock.set(datetime(2025, 6, 1, tzinfo=UTC))
    post(central, "heartbeat", heartbeat())
    post(central, "logs", {"entries": [play("old", at="2024-01-10T06:00:00Z"), play("new", at="2025-06-01T06:00:00Z")]})
    monitor.queue_command(central.device_id, "stop", {}, expires_in_s=60)
    now = datetime(2025, 6, 10, tzinfo=UTC)
    central.clock.set(now)
    done = run_once(store, Retention(play_log_days=400, heartbeat_history_days=30, command_days=90), now)
    assert [e["id"] for e in monitor.log_entries(central.device_id)] == ["new"]
    assert done["heartbeat_samples"] == 0 and monitor.commands(central.device_id)
    later = now + timedelta(days=120)
    central.clock.set(later)
    run_once(store, Retention(play_log_days=400, heartbeat_history_days=30, command_days=90), later)
    with store.read() as tx:
        assert tx.reports.count("heartbeat_samples") == 0
    assert monitor.commands(central.device_id) == []
    assert monitor.status_of(central.device_id).state == "offline"  # the last state itself is kept


@pytest.mark.parametrize("central_engine", ["postgresql"])  # SQLite keeps one table and deletes rows
def test_postgresql_keeps_logs_in_monthly_partitions(central: CentralHandle) -> None:
    store = central.catalog.store
    now = datetime.now(UTC)
    this_month = partitions.month_start(now)
    with store.read() as tx:
        months = partitions.existing_months(tx.conn)
    assert this_month in months and partitions.add_months(this_month, 2) in months
    # A device whose clock is years off lands in the default partition ...
    post(central, "logs", {"entries": [play("far", at="2031-03-05T06:00:00Z"), play("now", at=now.strftime(
        "%Y-%m-%dT%H:%M:%SZ"))]})
    with store.read() as tx:
        where = dict(tx.conn.execute(text("SELECT entry_id, tableoid::regclass::text FROM device_logs")).all())
    assert where == {"far": "device_logs_default", "now": partitions.partition_name(this_month)}
    # ... and moves into its month when that month's partition is made.
    with store.write() as tx:
        assert partitions.ensure_months(tx.conn, datetime(2031, 3, 1, tzinfo=UTC), back=0, ahead=0) == \
            ["device_logs_2031_03"]
    with store.read() as tx:
        where = dict(tx.conn.execute(text("SELECT entry_id, tableoid::regclass::text FROM device_logs")).all())
    assert where["far"] == "device_logs_2031_03"
    # Retention drops whole months that ended before the cutoff.
    retention = Retention(play_log_days=30)
    done = run_once(store, retention, datetime(2031, 6, 1, tzinfo=UTC))
    assert "device_logs_2031_03" not in done["partitions_created"]
    assert partitions.partition_name(this_month) in done["partitions_dropped"]
    assert "device_logs_2031_03" in done["partitions_dropped"]
    assert central.server.app.extensions["central.monitor"].log_entries(central.device_id) == []


# ---------------------------------------------------------------- configuration


def test_the_database_url_chooses_the_engine(tmp_path: Path, central_database_url: str, central_engine: str) -> None:
    from central.cli import main

    data = tmp_path / "c"
    assert main(["init", "--data", str(data), "--database-url", central_database_url]) == 0
    assert main(["device", "add", "26881-0001", "--zones", "thon-1", "--data", str(data),
                 "--database-url", central_database_url]) == 0
    assert not (data / "central.db").exists()  # the URL, not the data directory, says where the database is
    if central_engine == "sqlite":
        assert Path(central_database_url.removeprefix("sqlite:///")).is_file()
    with Catalog(data, config=CentralConfig(data_dir=data, database_url=central_database_url)) as catalog:
        assert [d.id for d in catalog.list_devices()] == ["26881-0001"]
        assert catalog.store.is_postgresql == (central_engine == "postgresql")
