"""Faults the station must survive (issue 16), on the daemon in-process with real parts.

The faults that need the real daemon process (stall, window cut, tampered store, damaged
database) are in test_faults_process.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

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


def test_audio_still_running_when_the_window_closes_is_cut_there_with_the_reason(rig) -> None:
    """Fault 2, the window's end: whatever made the audio late (a warm-up, the player, a clock step),
    it stops when the window closes."""
    from datetime import timedelta

    from appliance.broadcast import planner
    from tests.appliance.daemon.test_faults_process import _wav_rms, _wav_seconds

    daemon, rec, store, config = rig()
    add_text_item(store, "late", "Bà con chú ý, hôm nay có lịch tiêm phòng cho gia súc tại nhà văn hoá thôn, "
                                 "đề nghị các hộ gia đình đưa trâu bò đến đúng giờ.", zones=["b"])
    daemon.start()
    clip = daemon.preparation.prepare_item(store.get_item("late"))
    assert clip.duration_s > 6
    now = daemon.clock.now()
    occurrence = planner.Occurrence("late@request:t1", "late", now, clip.duration_s, ("b",), "normal", "operator",
                                    "request:t1")
    closes = now + timedelta(seconds=3.5)
    daemon.onair.launch(planner.Start(occurrence, ("b",), now, False, planner.Reason("due", "", ""), closes,
                                      planner.Reason("window_end", "Dừng khi hết khung giờ phát của vùng b (21:30).",
                                                     "Stopped at the end of zone b's broadcast window (21:30).")))
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "late", timeout=30)
    assert end["outcome"] == "cut" and "broadcast window" in end["reason"], end
    seconds = _wav_seconds(Path(end["capture"]))
    assert 2.5 <= seconds <= 3.8, seconds
    assert _wav_rms(Path(end["capture"]), seconds - 0.15, seconds) < 0.35 * _wav_rms(Path(end["capture"]), 0.5, 1.5)
    assert not list((config.data_path / "prepared").glob(".part-cut-*")), "the cut copy is removed after playing"


class FlakyPreparer:
    """The real preparer, but speech fails the first ``failures`` times (espeak-ng writing no audio)."""

    def __init__(self, config, failures: int) -> None:
        from audio.prepare import Preparer

        self.real = Preparer(config)
        self.work_dir = self.real.work_dir
        self.failures = failures
        self.calls = 0

    def prepare_text(self, text: str):
        from audio.errors import TTSError

        self.calls += 1
        if self.calls <= self.failures:
            raise TTSError("espeak-ng không tạo ra âm thanh.", "espeak-ng produced no audio.", code="tts.no_audio")
        return self.real.prepare_text(text)

    def prepare_file(self, path):
        return self.real.prepare_file(path)

    def close(self) -> None:
        self.real.close()


def _emergency_rig(rig, failures: int):
    from appliance.daemon import Daemon
    from tests.support.daemon_rig import Recorder, mock_factory

    _, _, store, config = rig()   # a data directory and store; this daemon is not started
    preparer = FlakyPreparer(config, failures)
    rec = Recorder()
    flag = config.data_path.parent / "synchronized"
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=rec, sync=False, timesync_flag=flag,
                    preparer=preparer)
    return daemon, rec, store, config, preparer


def test_emergency_text_is_recorded_first_and_speech_is_retried(rig) -> None:
    """Fault 8: speech came before the durable row, and one 'no audio' dropped the emergency unseen."""
    daemon, rec, store, config, preparer = _emergency_rig(rig, failures=2)
    daemon.start()
    try:
        daemon.actions.emergency(text="Khẩn cấp: nước lũ đang lên, bà con di chuyển lên chỗ cao.", actor="cli:test")
        end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=60)
    finally:
        daemon.stop("test over")
    assert end["outcome"] == "completed", end
    assert preparer.calls == 3
    row = daemon.playlog.get(end["play_id"])
    assert row["trigger"] == "emergency" and row["outcome"] == "completed"
    kinds = [e["kind"] for e in reversed(store.recent_events(100)) if e["kind"].startswith("emergency.")]
    assert kinds[0] == "emergency.recorded"
    assert kinds.count("emergency.tts_failed") == 2 and kinds[-1] == "emergency.tts_recovered"
    failed = [e for e in store.recent_events(100) if e["kind"] == "emergency.tts_failed"]
    assert [e["data"]["attempt"] for e in failed] == [2, 1] and failed[0]["data"]["code"] == "tts.no_audio"


def test_emergency_whose_speech_keeps_failing_plays_the_alert_sound_and_says_so(rig) -> None:
    daemon, rec, store, config, preparer = _emergency_rig(rig, failures=1000)
    daemon.start()
    try:
        daemon.actions.emergency(text="Khẩn cấp: bão sắp đổ bộ.", actor="cli:test")
        end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=90)
    finally:
        daemon.stop("test over")
    row = daemon.playlog.get(end["play_id"])
    assert row["trigger"] == "emergency" and row["outcome"] == "failed", row
    assert "alert sound" in row["reason"] and row["played_s"] > 2.0
    from tests.appliance.daemon.test_faults_process import _wav_rms, _wav_seconds

    capture = Path(end["capture"])
    assert _wav_seconds(capture) > 2.0 and _wav_rms(capture, 0.2, 2.0) > 500
    kinds = [e["kind"] for e in store.recent_events(100)]
    assert "emergency.alert_fallback" in kinds and "emergency.failed" in kinds
    payload = [json.loads(r[0]) for r in store.query("SELECT payload FROM outbox WHERE type = 'play'")]
    assert payload and payload[0]["trigger"] == "emergency" and payload[0]["outcome"] == "error"


def test_old_and_excess_captures_are_pruned(tmp_path: Path) -> None:
    """Found with fault 5: a Pi without a sound card wrote a WAV per broadcast and never deleted one."""
    import os

    from appliance.daemon.housekeeping import prune_captures

    now = time.time()
    for i in range(6):
        path = tmp_path / f"2025010{i}T000000.000000Z_tin.wav"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - i * 86400 * 2, now - i * 86400 * 2))
    removed, freed = prune_captures(tmp_path, now=now, keep_s=5 * 86400, max_bytes=2500)
    left = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert left == ["20250100T000000.000000Z_tin.wav", "20250101T000000.000000Z_tin.wav"]
    assert (removed, freed) == (4, 4000)


def test_a_prepared_clip_altered_on_the_card_is_made_again_before_it_plays(rig) -> None:
    """Fault 3, before playing: the clip on the card must be the one made from the signed text."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import protocol
    from tests.appliance.daemon.test_faults_process import _wav_seconds, signed_text_item, store_signed

    key = Ed25519PrivateKey.generate()
    daemon, rec, store, config = rig(central={"public_key": protocol.public_key_to_b64(key.public_key())})
    store_signed(store, signed_text_item(key, "bt-clip", "Thông báo họp thôn lúc tám giờ."), key.public_key(),
                 config.device.id)
    daemon.start()
    clip = daemon.preparation.prepare_item(store.get_item("bt-clip"))
    genuine_s = clip.duration_s
    # Someone swaps the clip on the card for a longer one (here: the alert signal, 3.4 s + a repeat).
    from audio.alert import alert_wav_bytes

    Path(clip.path).write_bytes(alert_wav_bytes() + b"\0" * 10)
    daemon.actions.play_now("bt-clip", actor="cli:test")
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == "bt-clip", timeout=60)
    assert end["outcome"] == "completed", end
    assert abs(_wav_seconds(Path(end["capture"])) - genuine_s) < 0.5
    assert any(e["kind"] == "prepare.clip_altered" for e in store.recent_events(50))


def test_the_panel_dashboard_says_what_is_going_on_now_in_the_operators_language(tmp_path: Path) -> None:
    """Fault 4 (and 1): a recovered database, a silent relay: the panel says so, Vietnamese first."""
    from appliance.control import ControlServer
    from tests.appliance.panel.test_panel_support import make_rig

    rig = make_rig(tmp_path)
    problem = {"code": "store.recovered", "since": "2025-06-01T00:00:00.000000Z",
               "vi": "Cơ sở dữ liệu của trạm bị hỏng và đã được làm mới.",
               "en": "The station's database was damaged and was replaced by a fresh one."}

    def handler(action: str, params: dict, actor: str) -> dict:
        return {"on_air": None, "relays": {}, "clock": {"trusted": True}, "problems": [problem]}

    server = ControlServer(rig.config.socket_path, handler, zone_names=rig.config.zone_names())
    server.start()
    try:
        client = rig.login()
        page = client.get("/").get_data(as_text=True)
        assert "Sự cố đang xảy ra" in page and problem["vi"] in page
        client.post("/language", data={"lang": "en", "csrf_token": _csrf(client)})
        page = client.get("/").get_data(as_text=True)
        assert "Problems now" in page and "database was damaged and was replaced" in page
    finally:
        server.stop()
        rig.store.close()


def _csrf(client) -> str:
    from tests.appliance.panel.test_panel_support import csrf_of

    return csrf_of(client, "/")


def test_an_emergency_accepted_just_before_a_crash_is_played_after_the_restart(rig) -> None:
    """Fault 8, recorded first: the request itself is durable, not only in the daemon's memory."""
    from datetime import UTC, datetime, timedelta

    from appliance.system.clock import iso_z

    _, _, store, config = rig()
    now = datetime.now(UTC)
    with store.transaction(durable=True) as tx:
        tx.executemany(
            "INSERT INTO emergency_requests (request_id, item_id, text, zones, actor, requested_at)"
            " VALUES (?, ?, ?, NULL, 'cli:root', ?)",
            [("r-recent", "emergency-recent", "Khẩn cấp: nước lũ đang lên.", iso_z(now - timedelta(seconds=40))),
             ("r-old", "emergency-old", "Khẩn cấp: bão.", iso_z(now - timedelta(minutes=30))),
             ("r-cut", "emergency-cut", "Khẩn cấp: sạt lở đất.", iso_z(now - timedelta(seconds=20)))])
    # r-cut was on air when the power went: its row was left 'playing'.
    from appliance.broadcast.playlog import PlayLog, PlayStart

    PlayLog(store).begin(PlayStart("emergency-cut", 1, ["a", "b"], "emergency",
                                   occurrence_key="emergency-cut@request:r-cut"))
    daemon, rec, store, config = rig(store=store)
    daemon.start()
    ends = {}
    for item in ("emergency-recent", "emergency-cut"):
        ends[item] = rec.wait_for(lambda e, i=item: e["type"] == "play_end" and e["item_id"] == i
                                  and e["outcome"] != "interrupted", timeout=90)
        assert ends[item]["outcome"] == "completed", ends[item]
        assert daemon.playlog.get(ends[item]["play_id"])["trigger"] == "emergency"
    kinds = {e["kind"]: e for e in store.recent_events(100)}
    assert "emergency.replayed" in kinds and kinds["emergency.lost"]["level"] == "error"
    assert "30 min" not in kinds["emergency.lost"]["data"]["en"] and "10 min" in kinds["emergency.lost"]["data"]["en"]
    deadline = time.monotonic() + 10
    while store.query_one("SELECT COUNT(*) FROM emergency_requests")[0] and time.monotonic() < deadline:
        time.sleep(0.1)   # deleted as the session closes, just after its play_end
    assert store.query_one("SELECT COUNT(*) FROM emergency_requests")[0] == 0
    assert sorted(e["item_id"] for e in rec.of("play_start")) == ["emergency-cut", "emergency-recent"]


def test_a_card_too_full_for_the_play_log_still_airs_an_emergency_and_never_loops(rig) -> None:
    """Found with faults 5 and 8: a play-log row that cannot be written (disk full)."""
    import sqlite3

    daemon, rec, store, config = rig()
    add_text_item(store, "news", "Bản tin thời sự.")
    SlotRepository(store, config).add({"item_id": "news", "kind": "once", "starts": [iso_in(3)]}, actor="test:rig")
    daemon.start()

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    daemon.playlog.begin = full
    rec.wait_for(lambda e: e["type"] == "warmup" and e["item_id"] == "news", timeout=30)
    time.sleep(4)
    assert len([e for e in rec.of("warmup") if e["item_id"] == "news"]) == 1, "not started again and again"
    daemon.actions.emergency(text="Khẩn cấp: mất điện diện rộng.", actor="cli:test")
    end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"].startswith("emergency-"), timeout=60)
    assert end["outcome"] == "completed" and end["play_id"] is None
