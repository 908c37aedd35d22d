"""The daemon in-process with real parts: libVLC capture output, espeak-ng, gpiozero MockFactory.

Covers: a scheduled slot plays on time with the relay warmed up first and the captured WAV
holding the speech; the clock held untrusted holds the schedule but play-now works; an
emergency pre-empts a scheduled item (logged interrupted, then resumed); the control
channel; a failing item and bad requests leave the daemon running; a backward clock jump
does not replay an occurrence.
"""

from __future__ import annotations

import array
import math
import time
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.control import ControlClient
from appliance.errors import ControlError
from appliance.state.store import Store
from appliance.system.clock import OffsetClock
from tests.support.daemon_rig import (
    add_stream_item,
    add_text_item,
    iso_in,
)
from tests.support.pace import lead_s


def wav_seconds_and_rms(path: Path) -> tuple[float, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2
        samples = array.array("h", wav.readframes(wav.getnframes()))
        rms = int(math.sqrt(sum(x * x for x in samples) / len(samples))) if samples else 0
        return wav.getnframes() / wav.getframerate(), rms


def test_scheduled_slot_plays_on_time_with_warmup_and_capture(rig) -> None:
    daemon, rec, store, config = rig()
    add_text_item(store, "weather", "Dự báo thời tiết: trời nắng, gió nhẹ.")
    SlotRepository(store, config).add({"item_id": "weather", "kind": "once", "starts": [iso_in(lead_s(4))],
                                       "zones": ["a"]}, actor="test:rig")
    daemon.start()
    assert daemon.wait_ready(5)
    end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=lead_s(40))
    assert end["outcome"] == "completed", str(end)
    relay_on = rec.wait_for(lambda e: e["type"] == "relay" and e["zone"] == "a" and e["on"])
    start = rec.wait_for(lambda e: e["type"] == "play_start")
    # The relay went on at least the warm-up before audio; zone b never switched on.
    assert start["t"] - relay_on["t"] >= 0.25
    assert not [e for e in rec.of("relay") if e["zone"] == "b" and e["on"]]
    row = daemon.playlog.get(end["play_id"])
    assert row["trigger"] == "schedule" and row["zones"] == ["a"] and row["item_id"] == "weather"
    late = (datetime.fromisoformat(row["actual_start"].replace("Z", "+00:00"))
            - datetime.fromisoformat(row["scheduled_start"].replace("Z", "+00:00"))).total_seconds()
    assert abs(late) < 1.0   # the tight figure belongs to bench/schedule.py
    seconds, rms = wav_seconds_and_rms(Path(end["capture"]))
    assert seconds > 1.0 and rms > 100
    rec.wait_for(lambda e: e["type"] == "relay" and e["zone"] == "a" and not e["on"]
                 and e["reason"] != "start-up: all relays off", timeout=10)
    assert daemon.amplifiers.states() == {"a": False, "b": False}


def test_untrusted_clock_holds_schedule_but_play_now_works(rig) -> None:
    daemon, rec, store, config = rig(trusted=False)
    add_text_item(store, "notice", "Thông báo họp thôn.")
    SlotRepository(store, config).add({"item_id": "notice", "kind": "once", "starts": [iso_in(2)]}, actor="test:rig")
    daemon.start()
    client = ControlClient(config.socket_path)
    status = client.request("status")
    assert status["clock"]["trusted"] is False
    time.sleep(4)
    status = client.request("status")
    assert status["held"] and status["held"]["en"]
    assert rec.of("play_start") == []
    client.request("play", actor="panel:op", item_id="notice", zones=["b"])
    end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=40)
    row = daemon.playlog.get(end["play_id"])
    assert (row["outcome"], row["trigger"], row["actor"], row["zones"]) == ("completed", "operator", "panel:op", ["b"])
    assert any(e["kind"] == "control.play" and e["data"]["actor"] == "panel:op" for e in store.recent_events())


def test_emergency_preempts_scheduled_item_and_it_resumes(rig) -> None:
    daemon, rec, store, config = rig()
    long_text = " ".join(["Bà con chú ý, hôm nay có lịch tiêm phòng cho gia súc tại nhà văn hoá thôn."] * 4)
    add_text_item(store, "long", long_text)
    SlotRepository(store, config).add({"item_id": "long", "kind": "once", "starts": [iso_in(4)]}, actor="test:rig")
    daemon.start()
    client = ControlClient(config.socket_path)
    rec.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == "long", timeout=40)
    time.sleep(1.0)
    result = client.request("emergency", actor="cli:test", text="Khẩn cấp: lũ đang lên, bà con sơ tán ngay.",
                            zones=["a"])
    emergency_id = result["item_id"]
    first = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "long", timeout=30)
    assert first["outcome"] == "interrupted"
    em_end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == emergency_id, timeout=40)
    assert em_end["outcome"] == "completed"
    resumed = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "long"
                           and e["play_id"] != first["play_id"], timeout=60)
    rows = daemon.playlog.attempts(first["key"])
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "interrupted"), (2, resumed["outcome"])]
    em_row = daemon.playlog.get(em_end["play_id"])
    assert em_row["trigger"] == "emergency" and em_row["actor"] == "cli:test"
    # Proof of play keeps what was said, and why the bulletin stopped, in Vietnamese (issue 11 fix 3).
    assert em_row["text"] == "Khẩn cấp: lũ đang lên, bà con sơ tán ngay." and em_row["title"].startswith("Khẩn cấp")
    assert rows[0]["reason_vi"] == "Bản tin khẩn cấp ngắt bản tin đang phát (sẽ phát lại sau)"
    assert rows[0]["title"] == "long"
    _, rms = wav_seconds_and_rms(Path(em_end["capture"]))
    assert rms > 100


def test_bad_input_and_failing_player_do_not_kill_the_daemon(rig, tmp_path: Path) -> None:
    daemon, rec, store, config = rig()
    # A stream item pointing at a closed port: the player fails; the slot retries, then logs failed.
    add_stream_item(store, "radio", "http://127.0.0.1:9/live")
    SlotRepository(store, config).add({"item_id": "radio", "kind": "once", "starts": [iso_in(3)], "duration_s": 6},
                                      actor="test:rig")
    daemon.start()
    client = ControlClient(config.socket_path)
    with pytest.raises(ControlError) as err:
        client.request("play", item_id="no-such-item")
    assert err.value.code == "invalid_input.no_item" and err.value.vi != err.value.en
    with pytest.raises(ControlError):
        client.request("set_volume", volume=900)
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "radio", timeout=40)
    assert end["outcome"] == "failed" and "attempt 2" in end["reason"]
    add_text_item(store, "after", "Vẫn hoạt động.")
    client.request("schedule_changed")
    client.request("play", item_id="after")
    assert rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "after", timeout=40)["outcome"] == \
        "completed"
    assert client.request("set_volume", volume=40)["volume"] == 40
    assert client.request("status")["volume"] == 40 and daemon.healthy()


def test_clock_jump_back_does_not_replay_an_occurrence(rig) -> None:
    clock = OffsetClock()
    daemon, rec, store, config = rig(clock=clock)
    add_text_item(store, "short", "Xin chào.")
    SlotRepository(store, config).add({"item_id": "short", "kind": "once", "starts": [iso_in(3)]}, actor="test:rig")
    daemon.start()
    first = rec.wait_for(lambda e: e["type"] == "play_end", timeout=40)
    assert first["outcome"] == "completed"
    clock.jump(-20)   # NTP steps the clock back: the slot time is "in the future" again
    rec.wait_for(lambda e: e["type"] == "clock_jump", timeout=15)
    time.sleep(8)
    assert len(rec.of("play_start")) == 1
    assert [r["outcome"] for r in daemon.playlog.attempts(first["key"])] == ["completed"]


def test_volume_persists_and_status_counts(rig, tmp_path: Path) -> None:
    daemon, _, store, config = rig()
    daemon.start()
    ControlClient(config.socket_path).request("set_volume", volume=55)
    daemon.stop("restart")
    again, _, _, _ = rig(store=Store.open(config.db_path))
    again.start()
    status = ControlClient(config.socket_path).request("status")
    assert status["volume"] == 55
    assert set(status["relays"]) == {"a", "b"} and status["ready_s"] < 10
    assert datetime.fromisoformat(status["clock"]["now"].replace("Z", "+00:00")).tzinfo == UTC


def test_live_relay_plays_for_the_slot_and_retries_a_stall(rig) -> None:
    import math as _math
    import struct

    from tests.support.streamserver import Route, StreamServer, endless_wav_header

    tone = b"".join(struct.pack("<h", int(8000 * _math.sin(2 * _math.pi * 440 * n / 44100))) for n in range(44100))
    daemon, rec, store, config = rig(audio={"output": "capture", "chime": False, "stall_timeout_s": 2.0})
    with StreamServer() as server:
        # The first connection stalls after ~1 s of audio; the retry gets an endless live stream.
        url = server.add("/live.wav", Route(body=tone, header=endless_wav_header(), rate_bps=88200, loop=True,
                                            stall_after=90000))
        add_stream_item(store, "vov", url)
        SlotRepository(store, config).add({"item_id": "vov", "kind": "once", "starts": [iso_in(3)],
                                           "duration_s": 14}, actor="test:rig")
        daemon.start()
        first = rec.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == "vov", timeout=30)
        time.sleep(2)
        # Swap the route: the station is back and streams normally.
        server.add("/live.wav", Route(body=tone, header=endless_wav_header(), rate_bps=88200, loop=True))
        end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "vov", timeout=40)
    assert end["outcome"] == "completed", str(end)
    assert "attempt 1" in end["reason"]           # the stall is in the log...
    assert 14 - 6 < end["played_s"] <= 14 + 1      # ...and the relay stopped at the slot's end
    assert end["t"] - first["t"] < 14 + 5
