"""Play-log rows only for what came due on a trusted, steady clock (real daemon, OffsetClock).

A wall clock that jumps (to 2099, or hours ahead) or that was not trusted when an occurrence came
due must not leave "skipped" rows for days that never happened: they would reach central as proof
of non-play. What comes due afterwards on the steady clock is logged as always.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.daemon import Daemon
from appliance.state.store import Store
from appliance.system.clock import OffsetClock
from tests.support.daemon_rig import Recorder, add_text_item, iso_in, make_config, mock_factory


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Any]:
    made: list[Daemon] = []

    def start(*, trusted: bool, clock: OffsetClock,
              grace_minutes: int = 0) -> tuple[Daemon, Recorder, Store, Any, Path]:
        config = make_config(tmp_path / "data", schedule={"grace_minutes": grace_minutes})
        flag = tmp_path / "synchronized"
        if trusted:
            flag.write_text("")
        store = Store.open(config.db_path)
        recorder = Recorder()
        daemon = Daemon(config, clock=clock, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                        timesync_flag=flag)
        made.append(daemon)
        return daemon, recorder, store, config, flag

    yield start
    for daemon in made:
        daemon.stop("test over")


def _rows(store: Store) -> list[tuple[str, str]]:
    return [(r["item_id"], r["outcome"]) for r in store.query("SELECT item_id, outcome FROM play_log ORDER BY id")]


@pytest.mark.parametrize(("jump_s", "rule"), [(2 * 3600.0, "FREQ=HOURLY"), (74 * 365 * 86400.0, "FREQ=DAILY")],
                         ids=["hours-ahead", "year-2099"])
def test_a_clock_jump_leaves_no_skipped_row_for_what_it_leapt_over(rig: Any, jump_s: float, rule: str) -> None:
    clock = OffsetClock()
    daemon, recorder, store, config, _ = rig(trusted=True, clock=clock)
    add_text_item(store, "sang", "Bản tin sáng.")
    SlotRepository(store, config).add({"item_id": "sang", "kind": "rrule", "dtstart": iso_in(3600)[:19],
                                       "tzid": "UTC", "rrule": rule}, actor="test:rig")
    daemon.start()
    assert daemon.wait_ready(10)
    clock.jump(jump_s)
    recorder.wait_for(lambda e: e["type"] == "clock_jump", timeout=15)
    time.sleep(3)  # several plans on the jumped clock
    assert _rows(store) == []
    assert store.query("SELECT COUNT(*) FROM outbox WHERE type = 'play'")[0][0] == 0
    # A restart on the jumped clock does not log those days either (no jump is seen then).
    daemon.stop("restart")
    again, _, store, _, _ = rig(trusted=True, clock=clock)
    again.start()
    assert again.wait_ready(10)
    time.sleep(3)
    assert _rows(store) == []


def test_occurrences_due_while_the_clock_was_untrusted_leave_no_skipped_row(rig: Any) -> None:
    clock = OffsetClock()
    daemon, recorder, store, config, flag = rig(trusted=False, clock=clock, grace_minutes=1)
    add_text_item(store, "tin", "Thông báo.")
    # Due 90 s ago, before the clock could be trusted: beyond the 1 min grace once trust comes.
    SlotRepository(store, config).add({"item_id": "tin", "kind": "once", "starts": [iso_in(-90)]}, actor="test:rig")
    daemon.start()
    assert daemon.wait_ready(10)
    time.sleep(2)  # held: the clock is not trusted
    flag.write_text("")  # timesyncd synchronises
    deadline = time.monotonic() + 20
    while not daemon.trust.trusted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert daemon.trust.trusted
    time.sleep(3)
    assert _rows(store) == []
    # What comes due on the trusted clock is judged as always (played here).
    SlotRepository(store, config).add({"item_id": "tin", "kind": "once", "starts": [iso_in(3)]}, actor="test:rig")
    daemon.actions.handle("schedule_changed", {}, "test")
    end = recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "tin", timeout=60)
    assert end["outcome"] == "completed" and _rows(store) == [("tin", "completed")]
