"""Issue 11 build 4 on the real daemon in-process: an emergency text repeated every N minutes, M
times or until stopped, and the operator's choice for the bulletin it interrupts."""

from __future__ import annotations

import time

from appliance.broadcast.slots import SlotRepository
from appliance.control import ControlClient
from appliance.system.clock import OffsetClock
from tests.support.daemon_rig import add_text_item, iso_in

TEXT = "Khẩn cấp: bão số 5 sắp đổ bộ, bà con ở yên trong nhà."


def test_emergency_repeats_twice_and_the_interrupted_bulletin_is_not_resumed_as_chosen(rig) -> None:
    clock = OffsetClock()
    daemon, rec, store, config = rig(clock=clock)
    long_text = " ".join(["Bà con chú ý, hôm nay có lịch tiêm phòng cho gia súc tại nhà văn hoá thôn."] * 4)
    add_text_item(store, "long", long_text)
    SlotRepository(store, config).add({"item_id": "long", "kind": "once", "starts": [iso_in(4)]}, actor="test:rig")
    daemon.start()
    client = ControlClient(config.socket_path)
    rec.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == "long", timeout=40)
    answer = client.request("emergency", actor="panel:lan", text=TEXT, zones=["a"], repeat_every_s=60,
                            repeat_times=2, resume=False)
    first_id = answer["item_id"]
    cut = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "long", timeout=30)
    assert cut["outcome"] == "interrupted"
    row = daemon.playlog.get(cut["play_id"])
    assert row["reason_vi"] == "Bản tin khẩn cấp ngắt bản tin đang phát (không phát lại)"
    rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == first_id, timeout=40)
    [repeat] = client.request("status")["repeats"]
    assert (repeat["aired"], repeat["left"], repeat["every_s"]) == (1, 1, 60)
    clock.jump(61)    # a minute later: the second airing
    second = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"].startswith("emergency-")
                          and e["item_id"] != first_id, timeout=40)
    assert second["outcome"] == "completed"
    assert daemon.playlog.get(second["play_id"])["text"] == TEXT
    assert client.request("status")["repeats"] == []
    clock.jump(61)
    time.sleep(6)     # no third airing, and the interrupted bulletin is not played again
    ends = [e["item_id"] for e in rec.of("play_end")]
    assert len([i for i in ends if i.startswith("emergency-")]) == 2 and ends.count("long") == 1


def test_stop_ends_a_repeat_until_stopped(rig) -> None:
    daemon, rec, store, config = rig()
    daemon.start()
    client = ControlClient(config.socket_path)
    client.request("emergency", actor="panel:lan", text=TEXT, repeat_every_s=300, repeat_times=0)
    rec.wait_for(lambda e: e["type"] == "play_start", timeout=40)
    assert client.request("status")["repeats"][0]["left"] is None      # until stopped
    client.request("stop", actor="panel:lan")
    assert client.request("status")["repeats"] == []
    ended = store.query_one("SELECT ended_by FROM emergency_repeats")
    assert ended["ended_by"] == "panel:lan"
