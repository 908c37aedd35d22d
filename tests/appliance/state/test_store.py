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
