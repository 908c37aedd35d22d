"""A damaged database (issue 16, fault 4): checked at start, kept aside, replaced, said clearly."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.state.recovery import check_database, last_recovery, open_checked
from appliance.state.store import DatabaseDamaged, Store
from tests.appliance.daemon.test_faults_process import damage_pages
from tests.support.daemon_rig import add_text_item
from tests.support.paths import REPO


def filled(path: Path) -> Path:
    with Store.open(path) as store:
        for i in range(80):
            add_text_item(store, f"local-{i}", "Thông báo của xã. " * 20)
        store.query_one("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def test_a_sound_database_is_opened_as_it_is(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.sqlite3")
    assert check_database(path) is None
    store, recovery = open_checked(path)
    with store:
        assert recovery is None and len(store.list_items()) == 80 and last_recovery(store) is None


@pytest.mark.parametrize("damage", ["pages", "garbage"])
def test_a_damaged_database_is_kept_aside_and_replaced_with_the_account_of_it(tmp_path: Path, damage: str) -> None:
    path = filled(tmp_path / "state.sqlite3")
    if damage == "pages":
        damage_pages(path)
    else:
        path.write_bytes(b"\x00garbage" * 5000)
    assert check_database(path) is not None
    if damage == "garbage":   # page damage shows only when a damaged page is read
        with pytest.raises(DatabaseDamaged) as info:
            Store.open(path).close()
        assert "systemctl restart commune-radio" in info.value.en and "bị hỏng" in info.value.vi
    store, recovery = open_checked(path)
    with store:
        assert recovery is not None and store.integrity_ok() and store.list_items() == []
        aside = Path(recovery.damaged_path)
        assert aside.exists() and aside.name.startswith("state.sqlite3.damaged-")
        assert "damaged" in recovery.en and "Lost:" in recovery.en and "Đã mất" in recovery.vi
        if damage == "pages":
            assert recovery.lost["local_items"] in (80, None)
        shown = last_recovery(store)
        assert shown is not None and shown["damaged_path"] == str(aside)
        assert last_recovery(store, now=datetime.now(UTC) + timedelta(days=8)) is None
        (event,) = [e for e in store.recent_events() if e["kind"] == "store.recovered"]
        assert event["level"] == "error" and event["data"]["code"] == "store.recovered"
    # The next start finds the fresh store sound and leaves it alone.
    again, second = open_checked(path)
    again.close()
    assert second is None


def test_the_cli_on_a_damaged_database_says_what_to_do_without_a_traceback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    damage_pages(filled(data / "state.sqlite3"))
    config = tmp_path / "appliance.toml"
    config.write_text(f'[device]\ndata_dir = "{data}"\n', encoding="utf-8")
    for lang, words in (("vi", "bị hỏng"), ("en", "damaged")):
        done = subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config), "--lang", lang,
                               "items"], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_store_held_open_follows_the_fresh_database_that_replaced_a_damaged_one(tmp_path: Path) -> None:
    """The panel holds the store open while the daemon sets the damaged file aside."""
    path = filled(tmp_path / "state.sqlite3")
    panel = Store.open(path)
    damage_pages(path)
    fresh, recovery = open_checked(path)
    assert recovery is not None
    add_text_item(panel, "after", "Thông báo mới.")   # written to the fresh file, not the one set aside
    assert [i["id"] for i in fresh.list_items()] == ["after"]
    panel.close()
    fresh.close()
