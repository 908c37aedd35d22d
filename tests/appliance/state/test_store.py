"""Store basics: WAL mode, migrations, transactions, event log."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.state.store import Store


def test_open_uses_wal_and_applies_migrations(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        assert store.query_one("PRAGMA journal_mode")[0] == "wal"
        assert store.schema_version >= 1
        assert store.integrity_ok()
    # Re-opening applies nothing new and keeps the version.
    with Store.open(tmp_path / "s.db") as again:
        assert again.schema_version >= 1


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            store.log_event("x", "inside", conn=tx)
            raise RuntimeError("boom")
        assert store.recent_events() == []
        store.log_event("sync", "Đồng bộ xong", {"items": 3})
        (event,) = store.recent_events()
        assert event["kind"] == "sync" and event["data"] == {"items": 3}


def test_repeated_failures_collapse_into_one_event_with_a_count(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = [0.0]
        store.monotonic = lambda: clock[0]
        tick = 10 ** 4   # each repeat long enough after the last to be written
        for _ in range(50):
            clock[0] += tick
            store.log_event("report.upload_failed", "Không liên lạc được", {"code": "central_unreachable"},
                            level="warning", repeat_key="central_unreachable")
        store.log_event("sync", "Đồng bộ xong")
        store.log_event("report.upload_failed", "HTTP 503", {"code": "central_unavailable"},
                        level="warning", repeat_key="central_unavailable")
        clock[0] += tick
        store.log_event("report.upload_failed", "HTTP 503", {"code": "central_unavailable"},
                        level="warning", repeat_key="central_unavailable")
        events = store.recent_events(10)
        assert [e["kind"] for e in events] == ["report.upload_failed", "sync", "report.upload_failed"]
        newest, _, oldest = events
        assert newest["data"]["code"] == "central_unavailable" and newest["data"]["repeated"] == 2
        assert oldest["data"]["code"] == "central_unreachable" and oldest["data"]["repeated"] == 50
        assert oldest["data"]["first_at"] <= oldest["at"]
        # The collapsed event moves to the top when it repeats again.
        clock[0] += tick
        store.log_event("report.upload_failed", "Không liên lạc được", {"code": "central_unreachable"},
                        level="warning", repeat_key="central_unreachable")
        top = store.recent_events(1)[0]
        assert top["data"]["repeated"] == 51 and store.query_one("SELECT COUNT(*) FROM events")[0] == 3


def test_event_log_is_bounded(tmp_path: Path) -> None:
    from appliance.state.store import EVENTS_MAX_ROWS

    with Store.open(tmp_path / "s.db") as store:
        with store.transaction() as tx:
            for i in range(EVENTS_MAX_ROWS + 5000):
                store.log_event("x", f"event {i}", conn=tx)
        count = store.query_one("SELECT COUNT(*) FROM events")[0]
        assert EVENTS_MAX_ROWS <= count <= EVENTS_MAX_ROWS + 512
        assert store.recent_events(1)[0]["message"] == f"event {EVENTS_MAX_ROWS + 4999}"


def test_quick_repeats_are_counted_in_memory_and_written_at_most_every_ten_minutes(tmp_path: Path) -> None:
    from appliance.state.store import REPEAT_FLUSH_S

    with Store.open(tmp_path / "s.db") as store:
        clock = [0.0]
        store.monotonic = lambda: clock[0]
        counts = []
        for _ in range(30):   # a failure every minute for half an hour
            counts.append(store.log_event("report.heartbeat_failed", "HTTP 503", {"code": "central_unavailable"},
                                          level="warning", repeat_key="central_unavailable"))
            clock[0] += 60
        assert counts == list(range(1, 31))
        written = store.query_one("SELECT MAX(id) FROM events")[0]
        assert written <= 30 * 60 / REPEAT_FLUSH_S + 1
        (event,) = store.recent_events()
        assert 20 <= event["data"]["repeated"] <= 30


_OPEN_AT = """
import sys, time
from appliance.state.store import Store
start = float(sys.argv[2])
while time.time() < start:
    pass  # spin, not sleep: every process leaves the line at the same instant
store = Store.open(sys.argv[1])
print(store.schema_version)
"""


def test_processes_opening_a_fresh_database_at_once_all_migrate_it_once(tmp_path: Path) -> None:
    """The daemon's first start and a CLI command (or an update) opening the same new database:
    each must find the schema complete, none may fail with "table ... already exists"."""
    import subprocess
    import sys
    import time

    from appliance.state.store import _migrations
    from tests.support.paths import REPO

    latest = _migrations()[-1][0]
    for attempt in range(5):
        path = tmp_path / f"fresh-{attempt}.db"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(path), str(start)], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [proc.communicate(timeout=120) for proc in procs]
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err[-2000:]
            assert out.strip() == str(latest)
        with Store.open(path) as store:
            assert store.integrity_ok() and store.schema_version == latest
            assert store.query_one("SELECT COUNT(*) FROM sync_state")[0] == 1  # 0001's seed row, once


def test_migration_0006_rejects_held_items_whose_media_type_is_not_audio(tmp_path: Path) -> None:
    import re

    import protocol
    from appliance.state.store import MIGRATIONS_DIR

    store = Store.open(tmp_path / "s.db", migrate=False)
    store.migrate(upto=5)
    now = "2025-06-01T00:00:00.000000Z"
    rows = [("page", "audio", "text/html"), ("script", "audio", "text/javascript"), ("none", "audio", None),
            ("good", "audio", "audio/mpeg"), ("feed", "stream", "audio/aacp"), ("odd", "stream", "text/html")]
    with store.transaction() as tx:
        for item_id, kind, mime in rows:
            tx.execute("INSERT INTO items (id, version, kind, title, state, media_sha256, media_mime,"
                       " received_at, updated_at) VALUES (?, 2, ?, 't', 'ready', ?, ?, ?, ?)",
                       (item_id, kind, "ab" * 32, mime, now, now))
    store.migrate()
    states = {r["id"]: (r["state"], r["reject_reason"]) for r in store.query("SELECT * FROM items")}
    assert states == {"page": ("rejected", "bad_media_type"), "script": ("rejected", "bad_media_type"),
                      "none": ("rejected", "bad_media_type"), "odd": ("rejected", "bad_media_type"),
                      "good": ("ready", None), "feed": ("ready", None)}
    assert sorted(r["item_id"] for r in store.recent_rejections()) == ["none", "odd", "page", "script"]
    reported = store.query("SELECT payload FROM outbox WHERE type = 'rejected'")
    assert len(reported) == 4 and all('"bad_media_type"' in r["payload"] for r in reported)
    store.close()
    # The SQL lists are the protocol's.
    sql = (MIGRATIONS_DIR / "0006_security.sql").read_text(encoding="utf-8")
    audio_sql, stream_sql = (set(re.findall(r"'([a-z]+/[a-z0-9.+-]+)'", part))
                             for part in sql.split("kind = 'stream'")[:2])
    assert audio_sql == set(protocol.AUDIO_MEDIA_TYPES)
    assert stream_sql == set(protocol.STREAM_MEDIA_TYPES)
