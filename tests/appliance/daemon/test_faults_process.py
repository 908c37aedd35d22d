"""Faults the station must survive (issue 16) on the real daemon process (``commune-radio run
--events``, capture output, mock pins): a stalled live relay, a slot cut at its length and at the
window's end, a text changed in the store behind central's back, a damaged database."""

from __future__ import annotations

import json
import math
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.state import config as config_module
from appliance.state.store import Store
from tests.support.daemon_proc import DaemonProcess
from tests.support.daemon_rig import add_stream_item, iso_in
from tests.support.streamserver import Route, StreamServer, endless_wav_header

TONE = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 44100))) for n in range(44100))
LIVE_BPS = 88200   # 44.1 kHz mono 16-bit: the route is paced like a live stream


def seeded_store(root: Path, **kwargs: Any) -> tuple[Store, Any]:
    """The store and config a DaemonProcess at ``root`` will use, created before it starts."""
    from tests.support.daemon_proc import write_config

    path = write_config(root, **kwargs)
    config = config_module.load(path, env={})
    return Store.open(config.db_path), config


def relay_events(daemon: DaemonProcess, zone: str) -> list[dict[str, Any]]:
    return [e for e in daemon.events_of("relay") if e["zone"] == zone and e["reason"] != "start-up: all relays off"]


@pytest.mark.slow
def test_stalled_relay_switches_the_amplifier_off_retries_silently_and_comes_back_with_the_audio(
        tmp_path: Path) -> None:
    """Fault 1: the stream died and the amplifiers stayed on in silence for the rest of the slot."""
    root = tmp_path / "station"
    store, config = seeded_store(root, audio_extra="stall_timeout_s = 3.0")
    with StreamServer() as server:
        url = server.add("/live.wav", Route(body=TONE, header=endless_wav_header(), rate_bps=LIVE_BPS, loop=True,
                                            stall_after=2 * LIVE_BPS))
        add_stream_item(store, "vov", url)
        SlotRepository(store, config).add({"item_id": "vov", "kind": "once", "starts": [iso_in(4)],
                                           "duration_s": 60, "zones": ["a"]}, actor="test:faults")
        store.close()
        daemon = DaemonProcess(root, keep_config=True)
        try:
            daemon.wait_event(lambda e: e["type"] == "ready", timeout=60)
            daemon.wait_event(lambda e: e["type"] == "play_start" and e["item_id"] == "vov", timeout=60)
            # The stream stalls after ~2 s of audio: after the stall timeout the amplifier goes off.
            stalled = daemon.wait_event(lambda e: e["type"] == "stream_stalled", timeout=30)
            off = daemon.wait_event(lambda e: e["type"] == "relay" and e["zone"] == "a" and not e["on"]
                                    and e["reason"] != "start-up: all relays off", timeout=10)
            assert off["_t"] - stalled["_t"] < 3.0
            status = json.loads(daemon.cli("status", "--json").stdout)
            assert "stream.stalled" in [p["code"] for p in status["problems"]], status["problems"]
            # The source is still down: retries go on with the amplifier off.
            server.add("/live.wav", Route(body=b"", content_type="text/plain", stall_after=0))
            time.sleep(8)
            assert [e["on"] for e in relay_events(daemon, "a")][-1] is False
            assert len([e for e in relay_events(daemon, "a") if e["on"]]) == 1
            # The source is back: audio flows, then the amplifier comes back on.
            server.add("/live.wav", Route(body=TONE, header=endless_wav_header(), rate_bps=LIVE_BPS, loop=True))
            recovered = daemon.wait_event(lambda e: e["type"] == "stream_recovered", timeout=30)
            back_on = daemon.wait_event(lambda e: e["type"] == "relay" and e["zone"] == "a" and e["on"]
                                        and e["_t"] > off["_t"], timeout=10)
            assert back_on["_t"] >= recovered["_t"] - 0.5
            status = json.loads(daemon.cli("status", "--json").stdout)
            assert "stream.stalled" not in [p["code"] for p in status["problems"]]
            end = daemon.wait_event(lambda e: e["type"] == "play_end" and e["item_id"] == "vov", timeout=90)
            assert end["outcome"] == "completed", end
            assert "attempt 1" in end["reason"]
        finally:
            daemon.terminate()
            daemon.close()
    with Store.open(config.db_path) as check:
        kinds = [e["kind"] for e in check.recent_events(200)]
        assert "stream.stalled" in kinds and "stream.recovered" in kinds


def _wav_rms(path: Path, start_s: float, end_s: float) -> float:
    import array
    import wave

    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        wav.setpos(int(start_s * rate))
        samples = array.array("h", wav.readframes(int((end_s - start_s) * rate)))
    return math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.mark.slow
def test_slot_length_and_window_end_cut_the_clip_with_a_fade_and_log_it_cut(tmp_path: Path) -> None:
    """Fault 2: a 15 s slot at 23:58:35 played its 34 s clip to 23:59:08, past the window, logged completed."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.support.daemon_rig import add_text_item

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    # The window closes at the next minute boundary at least 20 s away; the 5 s slot starts 8 s before it.
    now = datetime.now(UTC)
    closes = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    if (closes - now).total_seconds() > 80:
        closes -= timedelta(minutes=1)
    if closes.astimezone(tz).strftime("%H:%M") == "00:00":
        closes += timedelta(minutes=1)
    starts = closes - timedelta(seconds=8)
    window = f'default_windows = ["00:00-{closes.astimezone(tz):%H:%M}"]'
    root = tmp_path / "station"
    store, config = seeded_store(root, extra="")
    config_text = (root / "appliance.toml").read_text(encoding="utf-8")
    (root / "appliance.toml").write_text(config_text.replace('default_windows = ["00:00-00:00"]', window),
                                         encoding="utf-8")
    long_text = ("Bà con chú ý, hôm nay có lịch tiêm phòng cho gia súc tại nhà văn hoá thôn, "
                 "đề nghị các hộ gia đình đưa trâu bò đến đúng giờ để cán bộ thú y tiêm phòng.")
    add_text_item(store, "long", long_text, zones=["a"])
    SlotRepository(store, config).add({"item_id": "long", "kind": "once",
                                       "starts": [starts.strftime("%Y-%m-%dT%H:%M:%SZ")], "duration_s": 5,
                                       "zones": ["a"]}, actor="test:faults")
    store.close()
    daemon = DaemonProcess(root, keep_config=True)
    try:
        daemon.wait_event(lambda e: e["type"] == "ready", timeout=60)
        prepared = daemon.wait_event(lambda e: e["type"] == "prepared" and e["item_id"] == "long", timeout=60)
        assert prepared
        end = daemon.wait_event(lambda e: e["type"] == "play_end" and e["item_id"] == "long", timeout=120)
    finally:
        daemon.terminate()
        daemon.close()
    assert end["outcome"] == "cut", end
    assert "slot's length (5 s)" in end["reason"]
    ended = datetime.fromisoformat(end["at"].replace("Z", "+00:00"))
    assert ended < closes, "nothing plays past the window's end"
    capture = Path(end["capture"])
    seconds = _wav_seconds(capture)
    assert 4.5 <= seconds <= 5.6, seconds
    # A fade, not a click: the last 0.2 s is much quieter than the speech before the fade.
    assert _wav_rms(capture, seconds - 0.2, seconds) < 0.35 * _wav_rms(capture, 1.0, seconds - 1.2)
    with Store.open(config.db_path) as check:
        row = check.query_one("SELECT outcome, reason, played_s FROM play_log WHERE item_id = 'long'")
        assert row["outcome"] == "cut" and row["played_s"] <= 5.6
        payload = json.loads(check.query_one("SELECT payload FROM outbox WHERE type = 'play'")[0])
        assert payload["outcome"] == "cut" and "slot's length" in payload["reason"]


def signed_text_item(key: Any, item_id: str, text: str) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    import protocol

    now = datetime.now(UTC)
    doc = {"id": item_id, "version": 1, "kind": "text", "title": item_id, "text": text, "language": "vi",
           "media": None, "priority": "normal", "valid_from": protocol.format_utc(now - timedelta(hours=1)),
           "valid_until": None, "zones": ["*"], "devices": ["*"], "schedule": None, "approved_by": "Chủ tịch xã",
           "approved_at": protocol.format_utc(now - timedelta(hours=1)), "revoked": False}
    return protocol.sign_item(doc, key)


def store_signed(store: Store, doc: dict[str, Any], public_key: Any, device_id: str) -> None:
    """What the syncer stores for a verified item."""
    import protocol
    from appliance.state.store import utc_now_iso
    from appliance.sync.syncer import item_row

    item = protocol.validate_item(doc, [public_key], device_id=device_id)
    row = item_row(item, "ready", None, utc_now_iso())
    with store.transaction() as tx:
        tx.execute(f"INSERT INTO items ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


@pytest.mark.slow
def test_text_altered_in_the_store_is_refused_reported_and_the_signed_text_is_spoken(tmp_path: Path) -> None:
    """Fault 3: a text changed in place in the store (integrity check still ok) was synthesised and aired."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import protocol

    key = Ed25519PrivateKey.generate()
    central = f'\n[central]\npublic_key = "{protocol.public_key_to_b64(key.public_key())}"\n'
    root = tmp_path / "station"
    store, config = seeded_store(root, extra=central)
    genuine = "Thông báo họp thôn lúc tám giờ."
    forged = " ".join(["Tin giả: bà con hãy chuyển tiền vào tài khoản của kẻ gian ngay hôm nay."] * 3)
    store_signed(store, signed_text_item(key, "bt-column", genuine), key.public_key(), config.device.id)
    store_signed(store, signed_text_item(key, "bt-document", genuine), key.public_key(), config.device.id)
    # Altered behind central's back: one item's text column, the other's signed document itself.
    with store.transaction() as tx:
        tx.execute("UPDATE items SET text = ? WHERE id = 'bt-column'", (forged,))
        tx.execute("UPDATE items SET text = ?, document = json_set(document, '$.text', ?) WHERE id = 'bt-document'",
                   (forged, forged))
    assert store.integrity_ok()
    slots = SlotRepository(store, config)
    slots.add({"item_id": "bt-column", "kind": "once", "starts": [iso_in(8)], "zones": ["a"]}, actor="test:faults")
    slots.add({"item_id": "bt-document", "kind": "once", "starts": [iso_in(14)], "zones": ["b"]},
              actor="test:faults")
    store.close()
    daemon = DaemonProcess(root, keep_config=True)
    try:
        daemon.wait_event(lambda e: e["type"] == "ready", timeout=60)
        tampered = {daemon.wait_event(lambda e, i=i: e["type"] == "item_tampered" and e["item_id"] == i,
                                      timeout=30)["item_id"] for i in ("bt-column", "bt-document")}
        assert tampered == {"bt-column", "bt-document"}
        end = daemon.wait_event(lambda e: e["type"] == "play_end" and e["item_id"] == "bt-column", timeout=60)
        time.sleep(8)   # bt-document's slot passes
        assert not [e for e in daemon.events_of("play_start") if e["item_id"] == "bt-document"]
    finally:
        daemon.terminate()
        daemon.close()
    # What was spoken is the signed text (a few seconds), never the forged one (about half a minute).
    assert end["outcome"] == "completed" and _wav_seconds(Path(end["capture"])) < 6.0, end
    with Store.open(config.db_path) as check:
        assert check.get_item("bt-column")["text"] == genuine, "restored from the signed document"
        assert check.get_item("bt-document") is None, "a forged document is dropped (central will resend it)"
        reasons = {(r["item_id"], r["reason"]) for r in check.recent_rejections()}
        assert {("bt-column", "tampered"), ("bt-document", "tampered")} <= reasons
        sent = [json.loads(r[0]) for r in check.query("SELECT payload FROM outbox WHERE type = 'rejected'")]
        assert {(p["item_id"], p["reason"]) for p in sent} >= {("bt-column", "tampered"), ("bt-document", "tampered")}
        assert check.sync_state()["cursor"] is None, "the feed is taken again from the start"
        events = {e["data"]["item_id"]: e for e in check.recent_events(100) if e["kind"] == "item_tampered"}
        assert events["bt-column"]["level"] == "error" and events["bt-column"]["data"]["fields"] == ["text"]
        assert events["bt-column"]["data"]["action"] == "restored"
        assert events["bt-document"]["data"]["action"] == "dropped"


def damage_pages(path: Path, pages: tuple[int, ...] = (2, 3, 5, 8)) -> None:
    """Overwrite the start (b-tree header) of some pages, as a failing SD card does."""
    data = bytearray(path.read_bytes())
    for page in pages:
        start = 4096 * (page - 1)
        data[start:start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_damaged_database_is_kept_aside_replaced_resynced_and_said_clearly(central: Any, tmp_path: Path) -> None:
    """Fault 4: 'database disk image is malformed' gave a crash loop with a Python traceback."""
    from appliance.state.mediastore import MediaStore
    from appliance.sync.client import CentralClient
    from appliance.sync.syncer import Syncer
    from tests.support.daemon_rig import add_text_item

    ids = [central.text_item(f"Bản tin {i}", f"Thông báo số {i} của xã.") for i in range(3)]
    root = tmp_path / "station"
    (root / "data").mkdir(parents=True)
    flag = root / "synchronized"
    flag.write_text("")
    (root / "appliance.toml").write_text(f"""
[device]
id = "{central.device_id}"
data_dir = "{root / 'data'}"
[central]
url = "{central.url}"
token = "{central.token}"
public_key = "{central.public_key_b64}"
[report]
heartbeat_interval_s = 5
[audio]
output = "capture"
chime = false
[[zones]]
name = "thon-1"
relay_pin = 17
""", encoding="utf-8")
    config = config_module.load(root / "appliance.toml", env={})
    with Store.open(config.db_path) as store:
        client = CentralClient.from_config(config)
        assert Syncer(config, store, MediaStore(config.media_dir), client).sync_once().ok
        client.close()
        for i in range(60):   # enough rows that the damage lands inside tables
            add_text_item(store, f"local-{i}", "Thông báo của xã. " * 20)
        store.query_one("PRAGMA wal_checkpoint(TRUNCATE)")
    damage_pages(config.db_path)
    daemon = DaemonProcess(root, keep_config=True, sync=True, extra_env={"COMMUNE_RADIO_TIMESYNC_FLAG": str(flag)})
    try:
        recovered = daemon.wait_event(lambda e: e["type"] == "store_recovered", timeout=60)
        daemon.wait_event(lambda e: e["type"] == "ready", timeout=60)
        assert "damaged" in recovered["en"] and "bị hỏng" in recovered["vi"]
        assert recovered["lost"]["local_items"] in (60, None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # central's items come back with the first sync
            with Store.open(config.db_path, migrate=False) as check:
                if {i["id"] for i in check.list_items()} >= set(ids):
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("central's items were not synced again")
        vi = daemon.cli("health")
        en = daemon.cli("--lang", "en", "health")
        assert "bị hỏng" in vi.stdout and "damaged" in en.stdout and "Traceback" not in vi.stderr + en.stderr
        # Central hears of it: the heartbeat carries the problem.
        deadline = time.monotonic() + 30
        monitor = central.server.app.extensions["central.monitor"]
        while time.monotonic() < deadline:
            heartbeat = monitor.device_detail(central.device_id).get("heartbeat") or {}
            if "store.recovered" in (heartbeat.get("problems") or []):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"central never heard of it: {heartbeat}")
        assert "store.recovered" in monitor.device_detail(central.device_id)["problems"]
    finally:
        daemon.terminate()
        daemon.close()
    assert "Traceback" not in daemon.stderr, daemon.stderr[-3000:]
    assert "damaged" in daemon.stderr and "bị hỏng" in daemon.stderr, "the journal says it in both languages"
    kept = list((root / "data").glob("state.sqlite3.damaged-*"))
    assert kept and any(p.name.endswith(tuple("0123456789Z")) for p in kept), "the damaged file is kept aside"
    with Store.open(config.db_path) as fresh:
        assert fresh.integrity_ok()
        event = next(e for e in fresh.recent_events(200) if e["kind"] == "store.recovered")
        assert event["level"] == "error" and event["data"]["damaged_path"] == str(
            next(p for p in kept if not p.name.endswith(("-wal", "-shm"))))
