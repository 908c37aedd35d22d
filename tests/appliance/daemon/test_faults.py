"""Faults the station must survive (issue 16), on the daemon in-process with real parts.

The faults that need the real daemon process (stall, window cut, tampered store, damaged
database) are in test_faults_process.py.
"""

from __future__ import annotations

import json
import time

from appliance.broadcast.slots import SlotRepository
from appliance.system.clock import OffsetClock
from tests.support.daemon_rig import add_text_item, iso_in


def test_occurrence_missed_while_the_station_was_off_says_so_and_readiness_survives_a_restart(rig) -> None:
    """Fault 7: missed while off was reported as "Audio was not ready within the grace period",
    because what was prepared lived only in the daemon's memory."""
    daemon, rec, store, config = rig()
    add_text_item(store, "missed", "Thông báo họp thôn lúc tám giờ.")
    add_text_item(store, "later", "Lịch tiêm phòng cho gia súc.")
    slots = SlotRepository(store, config)
    slots.add({"item_id": "missed", "kind": "once", "starts": [iso_in(20 * 60)]}, actor="test:rig")
    slots.add({"item_id": "later", "kind": "once", "starts": [iso_in(55 * 60)]}, actor="test:rig")
    daemon.start()
    for item in ("missed", "later"):
        rec.wait_for(lambda e, i=item: e["type"] == "prepared" and e["item_id"] == i, timeout=60)
    daemon.stop("power cut")

    # The station comes back 30 minutes later: "missed" (grace 1 min) was due while it was off.
    daemon, rec, store, config = rig(store=store, clock=OffsetClock(30 * 60))
    daemon.start()
    skipped = rec.wait_for(lambda e: e["type"] == "skipped" and e["item_id"] == "missed", timeout=20)
    assert "station was off" in skipped["reason"], skipped
    assert "trạm tắt" in skipped["reason_vi"]
    row = store.query_one("SELECT reason FROM play_log WHERE item_id = 'missed'")
    assert "station was off" in row["reason"]
    (payload,) = [json.loads(r[0]) for r in store.query("SELECT payload FROM outbox WHERE type = 'play'")]
    assert payload["outcome"] == "skipped" and "station was off" in payload["reason"]
    # What was prepared before the restart is ready at once: nothing is synthesised again.
    time.sleep(2)
    assert daemon.preparation.prepared_for(store.get_item("later")) is not None
    assert not [e for e in rec.of("prepared") if e["item_id"] == "later"]
