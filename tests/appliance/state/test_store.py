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
