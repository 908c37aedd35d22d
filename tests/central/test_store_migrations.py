"""Migrations: a central.db made by the hand-written SQLite code upgrades in place and keeps
everything; a fresh database on either engine matches central/store/schema.py.

tests/central/data/legacy_v3 was made by the code before the storage layer (commit ce13e61:
Catalog, Monitor and AdminAuth over sqlite3, PRAGMA user_version 3): its signing key, media,
and central.db as an SQL dump; made_by_old_code.json holds the tokens it printed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import inspect

import protocol
from central.app import create_app
from central.config import CentralConfig
from central.loopback import serve_in_thread
from central.store import Store, schema
from central.store.migrate import head_revision
from tests.central.test_monitoring import heartbeat

LEGACY = Path(__file__).parent / "data" / "legacy_v3"
OLD = json.loads((LEGACY / "made_by_old_code.json").read_text())


def legacy_data_dir(target: Path, *, scripts_run: int | None = None) -> Path:
    """A data directory as the old code left it (optionally an older legacy schema, empty)."""
    target.mkdir(mode=0o700)
    shutil.copy(LEGACY / "signing_key.b64", target / "signing_key.b64")
    (target / "signing_key.b64").chmod(0o600)
    shutil.copytree(LEGACY / "media", target / "media")
    db = sqlite3.connect(target / "central.db")
    if scripts_run is None:
        db.executescript((LEGACY / "central.sql").read_text(encoding="utf-8"))
    else:
        from central.store.migrate import LEGACY_DIR

        for path in sorted(LEGACY_DIR.glob("*.sql"))[:scripts_run]:
            db.executescript(path.read_text(encoding="utf-8"))
        db.execute(f"PRAGMA user_version={scripts_run}")
    db.close()
    return target


def test_a_legacy_database_upgrades_in_place_and_keeps_everything(tmp_path: Path) -> None:
    data = legacy_data_dir(tmp_path / "c")
    app = create_app(data, config=CentralConfig(data_dir=data))
    catalog = app.extensions["central.catalog"]
    try:
        assert catalog.public_key_b64 == OLD["public_key"] and catalog.epoch == OLD["epoch"]
        with serve_in_thread(app) as server:
            token = OLD["tokens"]["12345-0001"]
            headers = {"Authorization": f"Bearer {token}"}
            feed = requests.get(f"{server.url}/v1/devices/12345-0001/feed", headers=headers, timeout=30)
            body = feed.json()
            assert feed.status_code == 200
            # Items, versions and signatures survive; the revoked one is skipped on a first sync.
            assert [d["id"] for d in body["items"]] == ["it-legacy-all", "it-legacy-audio"]
            for doc in body["items"]:
                protocol.validate_item(doc, catalog.public_key, device_id="12345-0001")
            # A cursor the old central issued keeps working: nothing new, then new items only.
            old_cursor = f"{OLD['epoch']}.5"
            assert body["cursor"] == old_cursor
            again = requests.get(f"{server.url}/v1/devices/12345-0001/feed", params={"cursor": old_cursor},
                                 headers={**headers, "If-None-Match": feed.headers["ETag"]}, timeout=30)
            assert again.status_code == 304
            added = catalog.add_item(kind="text", title="Sau nâng cấp", text="x")
            catalog.approve_item(added, by="A")
            newer = requests.get(f"{server.url}/v1/devices/12345-0001/feed", params={"cursor": old_cursor},
                                 headers=headers, timeout=30).json()
            assert [d["title"] for d in newer["items"]] == ["Sau nâng cấp"] and newer["cursor"] == f"{OLD['epoch']}.6"
            # Media, the other device's targeting, the draft.
            (audio,) = [d for d in body["items"] if d["id"] == "it-legacy-audio"]
            media = requests.get(server.url + audio["media"]["url"], headers=headers, timeout=30)
            assert media.status_code == 200 and len(media.content) == audio["media"]["bytes"]
            other = requests.get(f"{server.url}/v1/devices/12345-0002/feed", timeout=30,
                                 headers={"Authorization": f"Bearer {OLD['tokens']['12345-0002']}"}).json()
            assert [d["id"] for d in other["items"]] == ["it-legacy-all", "it-legacy-thon3", "it-legacy-audio",
                                                          added]
            assert {i["id"]: i["state"] for i in catalog.list_items()}["it-legacy-draft"] == "draft"
            # Monitoring: the last heartbeat, the play log, the last play, commands and their results.
            admin = {"Authorization": f"Bearer {OLD['admin_token']}"}
            fleet = {d["device_id"]: d for d in requests.get(f"{server.url}/api/monitor/devices", headers=admin,
                                                              timeout=30).json()["devices"]}
            assert fleet["12345-0001"]["last_seen_at"] == "2026-11-20T08:05:00Z"
            assert fleet["12345-0001"]["plays_logged"] == 2
            assert fleet["12345-0001"]["last_play"]["item_id"] == "it-legacy-audio"
            assert fleet["12345-0002"]["status"] == "never_seen"
            detail = requests.get(f"{server.url}/api/monitor/devices/12345-0001", headers=admin, timeout=30).json()
            assert [p["id"] for p in detail["plays"]] == ["p.2", "p.1"]
            assert [e["id"] for e in detail["events"]] == ["r.1"]
            assert detail["commands"][0]["id"] == OLD["command_id"] and detail["commands"][0]["status"] == "done"
            assert detail["command_reports"][0]["command_id"] == OLD["command_id"]
            history = app.extensions["central.monitor"].heartbeat_history("12345-0001")
            assert history and history[0]["heartbeat"]["sent_at"] == "2026-11-20T08:05:00Z"
            # Devices go on reporting into the new tables.
            posted = requests.post(f"{server.url}/v1/devices/12345-0001/heartbeat", headers=headers,
                                   json=heartbeat(sent_at="2026-11-21T00:00:00Z"), timeout=30)
            assert posted.status_code == 200
    finally:
        catalog.close()
    db = sqlite3.connect(data / "central.db")
    try:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('heartbeats', 'device_logs_v1',"
                          " 'device_state_v1')").fetchone() == (0,)
    finally:
        db.close()


@pytest.mark.parametrize("scripts_run", [1, 2])
def test_an_older_legacy_schema_gets_its_missing_scripts_first(tmp_path: Path, scripts_run: int) -> None:
    data = legacy_data_dir(tmp_path / "c", scripts_run=scripts_run)
    store = Store.open(f"sqlite:///{data / 'central.db'}")
    try:
        with store.read() as tx:
            assert tx.items.feed_top() == 0 and tx.devices.list() == []
            assert inspect(tx.conn).has_table("admin_sessions")
    finally:
        store.close()


def test_a_legacy_database_newer_than_the_code_is_refused_unchanged(tmp_path: Path) -> None:
    from protocol.errors import StorageError

    data = legacy_data_dir(tmp_path / "c", scripts_run=3)
    db = sqlite3.connect(data / "central.db")
    db.execute("PRAGMA user_version=9")
    db.close()
    db = sqlite3.connect(data / "central.db")
    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    db.close()
    with pytest.raises(StorageError) as info:
        Store.open(f"sqlite:///{data / 'central.db'}")
    assert "newer" in info.value.en
    db = sqlite3.connect(data / "central.db")
    try:  # (opening switched the file to WAL mode; nothing else changed)
        assert db.execute("PRAGMA user_version").fetchone() == (9,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
        assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
    finally:
        db.close()


def _columns(store: Store) -> dict[str, set[str]]:
    with store.read() as tx:
        found = inspect(tx.conn)
        tables = set(found.get_table_names()) - {"alembic_version"}
        return {name: {c["name"] for c in found.get_columns(name)} for name in tables}


def test_a_fresh_database_matches_the_declared_schema(central_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "central").mkdir(exist_ok=True)
    store = Store.open(central_database_url)
    try:
        declared = {t.name: {c.name for c in t.columns} for t in schema.metadata.sorted_tables}
        found = _columns(store)
        if store.is_postgresql:  # the monthly partitions of device_logs are tables of their own
            found = {name: cols for name, cols in found.items() if not name.startswith("device_logs_")}
        assert found == declared
        with store.read() as tx:
            indexes: dict[str, Any] = {t: {i["name"] for i in inspect(tx.conn).get_indexes(t)} for t in declared}
        for table in schema.metadata.sorted_tables:
            for index in table.indexes:
                assert index.name in indexes[table.name], (table.name, index.name)
    finally:
        store.close()


def test_a_sqlite_central_copies_into_postgresql(tmp_path: Path, postgres_cluster: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from central.cli import main

    data = legacy_data_dir(tmp_path / "c")
    name = postgres_cluster.new_database_name()
    target = postgres_cluster.create_database(name)
    try:
        assert main(["copy-database", "--data", str(data), "--to", target]) == 0
        out = capsys.readouterr().out
        assert "items\t5" in out and "device_logs\t3" in out
        assert main(["copy-database", "--data", str(data), "--to", target]) == 2  # not empty: refused
        app = create_app(data, config=CentralConfig(data_dir=data, database_url=target))
        catalog = app.extensions["central.catalog"]
        try:
            assert catalog.epoch == OLD["epoch"] and catalog.store.is_postgresql
            device = catalog.authenticate(OLD["tokens"]["12345-0001"])
            assert device is not None
            assert [d["id"] for d in catalog.feed(device, None).body["items"]] == ["it-legacy-all", "it-legacy-audio"]
            catalog.approve_item(catalog.add_item(kind="text", title="Sau khi chép", text="x"), by="A")
            assert catalog.feed(device, f"{OLD['epoch']}.5").body["cursor"] == f"{OLD['epoch']}.6"
            monitor = app.extensions["central.monitor"]
            assert monitor.record_logs("12345-0001", [{"id": "p.9", "type": "play", "at": "2026-11-21T06:00:00Z",
                                                       "data": {"item_id": "x", "version": 1, "zones": ["thon-1"],
                                                                "started_at": None, "ended_at": None,
                                                                "outcome": "completed", "played_s": 1.0,
                                                                "trigger": "schedule"}}]).stored == 1
            assert [e["id"] for e in monitor.log_entries("12345-0001", entry_type="play")] == ["p.1", "p.2", "p.9"]
            assert app.extensions["central.admin"].check_token(OLD["admin_token"])
        finally:
            catalog.close()
    finally:
        postgres_cluster.drop_database(name)
