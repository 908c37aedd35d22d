"""Local slots: validation (shape here, broadcast rules from the planner), storage, soft delete, audit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from appliance.broadcast.slots import SlotRepository, to_planner_slot
from appliance.errors import ScheduleError
from appliance.state.store import Store
from protocol.errors import ValidationError
from tests.support.daemon_rig import make_config
from tests.support.paths import REPO


@pytest.fixture()
def repo(tmp_path: Path):
    config = make_config(tmp_path / "data", schedule={"min_interval_minutes": 30, "max_duration_minutes": 60})
    store = Store.open(config.db_path)
    changes: list[int] = []
    yield SlotRepository(store, config, on_change=lambda: changes.append(1)), store, changes
    store.close()


def test_add_update_delete_with_audit(repo) -> None:
    slots, store, changes = repo
    slot = slots.add({"item_id": "x", "kind": "rrule", "dtstart": "2025-06-01T06:00", "rrule": "RRULE:FREQ=DAILY",
                      "exdates": ["2025-06-03T06:00"], "zones": ["a"]}, actor="panel:lan")
    assert (slot.kind, slot.rrule, slot.dtstart, slot.exdates, slot.tzid, slot.zones) == (
        "rrule", "FREQ=DAILY", "2025-06-01T06:00:00", ["2025-06-03T06:00:00"], "Asia/Ho_Chi_Minh", ["a"])
    planner_slot = to_planner_slot(slot)
    assert planner_slot.slot_id == slot.id and planner_slot.origin == "local" and planner_slot.zones == ("a",)
    # A local time without an offset is the device zone (UTC+7): 06:00 -> 23:00Z the day before.
    once = slots.add({"item_id": "y", "kind": "once", "starts": ["2025-06-01T06:00"]}, actor="panel:lan")
    assert once.starts == ["2025-05-31T23:00:00Z"] and once.zones == ["*"]
    updated = slots.update(once.id, {"item_id": "y", "kind": "once", "starts": ["2025-06-02T06:00:00+07:00"],
                                     "duration_s": 120}, actor="panel:lan")
    assert updated.starts == ["2025-06-01T23:00:00Z"] and updated.duration_s == 120
    slots.delete(slot.id, actor="panel:lan")
    assert [s.id for s in slots.list()] == [once.id]
    assert slots.get(slot.id).deleted is True
    kinds = [e["kind"] for e in store.recent_events()]
    assert kinds.count("slot.add") == 2 and "slot.update" in kinds and "slot.delete" in kinds
    assert len(changes) == 4
    with pytest.raises(ValidationError):
        slots.delete(slot.id, actor="panel:lan")


@pytest.mark.parametrize(("data", "error", "code"), [
    ({"item_id": "x", "kind": "rrule", "dtstart": "2025-06-01T06:00", "rrule": "FREQ=MINUTELY;INTERVAL=5"},
     ScheduleError, "schedule_invalid.too_frequent"),
    ({"item_id": "x", "kind": "once", "starts": ["2025-06-01T06:00Z"], "duration_s": 4000},
     ScheduleError, "schedule_invalid.too_long"),
    ({"item_id": "x", "kind": "rrule", "dtstart": "2025-06-01T06:00", "rrule": "FREQ=DAILY;BYSETPOS=1"},
     ScheduleError, None),
    ({"item_id": "x", "kind": "once", "starts": ["06:00 sáng"]}, ValidationError, "invalid_input.slot"),
    ({"item_id": "x", "kind": "once", "starts": []}, ValidationError, "invalid_input.slot"),
    ({"item_id": "x", "kind": "weekly"}, ValidationError, "invalid_input.slot"),
    ({"item_id": "", "kind": "once", "starts": ["2025-06-01T06:00Z"]}, ValidationError, "invalid_input.slot"),
    ({"item_id": "x", "kind": "once", "starts": ["2025-06-01T06:00Z"], "zones": ["mars"]}, ValidationError, None),
    ({"item_id": "x", "kind": "once", "starts": ["2025-06-01T06:00Z"], "tzid": "Mars/Base"}, ValidationError, None),
    ({"item_id": "x", "kind": "rrule", "dtstart": "2025-06-01T06:00+07:00", "rrule": "FREQ=DAILY"},
     ValidationError, None),
    ({"item_id": "x", "kind": "once", "starts": ["2025-06-01T06:00Z"], "valid_from": "2025-06-02T00:00Z",
      "valid_until": "2025-06-01T00:00Z"}, ValidationError, None),
    ({"item_id": "x", "kind": "once", "starts": ["2025-06-01T06:00Z"], "colour": "red"}, ValidationError, None),
])
def test_bad_slots_are_refused_and_nothing_is_stored(repo, data, error, code) -> None:
    slots, store, changes = repo
    with pytest.raises(error) as err:
        slots.add(data, actor="panel:lan")
    assert err.value.vi and err.value.en
    if code:
        assert err.value.code == code
    assert slots.list(include_deleted=True) == [] and changes == []
    assert store.recent_events() == []


def test_relays_off_command_needs_no_daemon(tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(f'[device]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config), "--lang", "en",
                           "relays-off", "--mock"], capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "trung-tam: relay off (GPIO17" in done.stdout and "thon-dong: relay off (GPIO27" in done.stdout
