"""Reporter against the real reference central on loopback: heartbeats, outage and backlog,
faults (500, every third request, cut answers, timeouts, Retry-After), misbehaving centrals,
and SIGKILL during uploads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.wrappers import Request, Response

import protocol
from appliance.report.heartbeat import build_heartbeat, fit_heartbeat
from appliance.report.outbox import Outbox
from appliance.report.pacing import heartbeat_period
from appliance.state.store import Store
from protocol.reports import validate_heartbeat
from tests.conftest import CentralHandle
from tests.support.paths import REPO
from tests.support.report_rig import (
    BadCentral,
    FakeMono,
    device_config,
    json_response,
    make_reporter,
    seed_plays,
)

ROOT = REPO
LOGS = "/v1/devices/12345-0001/logs"
HEARTBEAT = "/v1/devices/12345-0001/heartbeat"


def monitor(central: CentralHandle) -> Any:
    return central.server.app.extensions["central.monitor"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "device" / "state.sqlite3")
    yield s
    s.close()


def config_for(central: CentralHandle, tmp_path: Path, **report: Any) -> Any:
    return device_config(tmp_path / "device", central.url, central.token, central.public_key_b64, **report)


def drive(reporter: Any, mono: FakeMono, *, until: Any, max_steps: int = 200, step_cost_s: float = 0.0) -> int:
    """Run the reporter's scheduler on a fake monotonic clock until ``until()``; returns steps."""
    for steps in range(1, max_steps + 1):
        wait = reporter.step()
        if until():
            return steps
        mono.advance(max(wait, step_cost_s))
    raise AssertionError("condition not reached")


# --------------------------------------------------------------------------- heartbeat


def test_heartbeat_is_small_valid_and_marks_the_device_online(central: CentralHandle, tmp_path: Path,
                                                              store: Store) -> None:
    reporter = make_reporter(config_for(central, tmp_path), store)
    result = reporter.heartbeat_once()
    assert result.ok and 0 < result.bytes <= 2048
    detail = monitor(central).device_detail(central.device_id)
    assert detail["status"] == "online"
    hb = detail["heartbeat"]
    assert hb["device_id"] == central.device_id and hb["boot_id"] == "boot-test"
    assert hb["timezone"] == "Asia/Ho_Chi_Minh" and hb["relays"] == {"thon-1": False, "thon-2": False}
    assert hb["disk"]["total_bytes"] > 0 and hb["memory"]["total_bytes"] > 0
    assert hb["clock"]["source"] == "ntp" and hb["clock"]["offset_s"] is None, "no answer measured yet"
    assert protocol.parse_utc(hb["sent_at"])
    assert reporter.heartbeat_once().ok
    offset = monitor(central).device_detail(central.device_id)["heartbeat"]["clock"]["offset_s"]
    assert isinstance(offset, float) and abs(offset) < 5, "device minus central, as last measured"


def test_heartbeat_drops_detail_to_stay_within_2kb() -> None:
    doc = build_heartbeat(
        device_id="12345-0001", sent_at="2025-06-01T00:00:00Z", boot_id="b" * 64, uptime_s=5,
        clock={"trusted": False, "offset_s": -3.25, "source": "none"}, timezone="Asia/Ho_Chi_Minh",
        system={"disk_free": 10**10, "disk_total": 3 * 10**10, "temp_c": 51.2, "load_1m": 0.4,
                "mem_available": 10**8, "mem_total": 10**9},
        live={"playing": {"item_id": "bt-" + "x" * 60, "zones": [f"zone-{i}" for i in range(8)]},
              "relays": {f"zone-{i:02d}": bool(i % 2) for i in range(16)}, "volume": 80},
        last_sync={"at": "2025-06-01T00:00:00Z", "result": "error", "error": "central_unreachable"},
        outbox_depth=123456, rejected_count=7,
        last_errors=[f"item_rejected.bad_signature_{i}" for i in range(10)],
        command_results=[{"id": f"cmd-{i:040d}", "status": "rejected", "error": "command_rejected.expired",
                          "at": "2025-06-01T00:00:00Z"} for i in range(10)], interval_s=60)
    data, sent = fit_heartbeat(doc)
    assert len(data) <= 2048
    assert len(sent["last_errors"]) < 10, "detail was dropped, errors first"
    assert sent["command_results"] == doc["command_results"][:len(sent["command_results"])], "oldest results kept"
    validate_heartbeat(sent, "12345-0001")


def test_heartbeat_carries_the_problems_going_on_now() -> None:
    doc = build_heartbeat(
        device_id="12345-0001", sent_at="2025-06-01T00:00:00Z", boot_id="b", uptime_s=5,
        clock={"trusted": True, "offset_s": 0.0, "source": "ntp"}, timezone="Asia/Ho_Chi_Minh",
        system={"disk_free": 10**10, "disk_total": 3 * 10**10, "load_1m": 0.4, "mem_available": 10**8,
                "mem_total": 10**9},
        live={"relays": {"thon-1": False}, "volume": 80, "problems": ["stream.stalled", "Bad Code!"]},
        last_sync={"at": None, "result": "ok", "error": None}, outbox_depth=0, rejected_count=0,
        last_errors=[], command_results=[], interval_s=60)
    assert doc["problems"] == ["stream.stalled", "bad_code_"]
    validate_heartbeat(doc, "12345-0001")
    with pytest.raises(ValueError, match="problems"):
        validate_heartbeat(doc | {"problems": ["x"] * 11}, "12345-0001")


def test_heartbeat_period_has_a_stable_per_device_jitter_below_the_interval() -> None:
    rng = random.Random(1)
    a = [heartbeat_period(60, "12345-0001", rng) for _ in range(200)]
    b = [heartbeat_period(60, "67890-0002", rng) for _ in range(200)]
    assert all(50 < p < 61.3 for p in a + b)
    assert abs(sum(a) / len(a) - sum(b) / len(b)) > 0.1, "two devices get different phases"


# --------------------------------------------------------------------------- outage, backlog, faults


def test_thirty_day_outage_then_back_delivers_600_in_order_exactly_once_in_few_requests(
        central: CentralHandle, tmp_path: Path, store: Store) -> None:
    ids = seed_plays(store, 600, spacing_s=30 * 86400 / 600)  # 20 plays a day for 30 days
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path), store, mono=mono)
    down = central.faults.add("/v1/devices/", status=503)
    for _ in range(20):  # days of failing attempts, with backoff
        mono.advance(reporter.step() + 1)
    assert reporter.stats.upload_failures >= 5 and Outbox(store).depth() == 600
    assert monitor(central).log_entries(central.device_id) == []
    central.faults.remove(down)
    central.faults.reset_log()
    drive(reporter, mono, until=lambda: Outbox(store).depth() == 0)
    stored = monitor(central).log_entries(central.device_id, entry_type="play")
    assert [e["id"] for e in stored] == ids
    assert len(central.faults.requests(LOGS)) <= 10
    assert stored[0]["at"].startswith("2025-06-01") and stored[-1]["at"].startswith("2025-06-30")


def test_backoff_honours_retry_after(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    seed_plays(store, 3)
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path), store, mono=mono)
    reporter.next_heartbeat = mono() + 10_000
    central.faults.add(LOGS, status=429, retry_after=120, times=1)
    reporter.step()
    assert reporter.next_upload - mono() >= 120
    mono.advance(60)
    reporter.step()
    assert Outbox(store).depth() == 3, "nothing sent before Retry-After passed"
    mono.advance(61)
    reporter.step()
    assert Outbox(store).depth() == 0


def test_a_power_change_sends_the_next_heartbeat_at_once(central: CentralHandle, tmp_path: Path,
                                                        store: Store) -> None:
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path), store, mono=mono)
    reporter.next_heartbeat = mono()
    reporter.step()
    beats = len(central.faults.requests("/v1/devices/12345-0001/heartbeat"))
    assert beats == 1 and reporter.next_heartbeat - mono() > 30
    reporter.step()
    assert len(central.faults.requests("/v1/devices/12345-0001/heartbeat")) == 1, "not due yet"
    reporter.heartbeat_soon()
    reporter.step()
    assert len(central.faults.requests("/v1/devices/12345-0001/heartbeat")) == 2
    down = central.faults.add("/v1/devices/", status=503)
    reporter.next_heartbeat = mono()   # due now, and central answers 503: backing off
    reporter.step()
    assert reporter.stats.heartbeat_failures == 1
    failures = len(central.faults.requests("/v1/devices/12345-0001/heartbeat"))
    central.faults.remove(down)
    reporter.heartbeat_soon()
    reporter.step()
    assert len(central.faults.requests("/v1/devices/12345-0001/heartbeat")) == failures, "the backoff holds"


def test_exponential_backoff_grows_with_failures(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    seed_plays(store, 3)
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path), store, mono=mono)
    reporter.next_heartbeat = mono() + 10**7
    central.faults.add(LOGS, status=500)
    delays = []
    for _ in range(8):
        reporter.step()
        delays.append(reporter.next_upload - mono())
        mono.advance(delays[-1])
    assert delays[0] < 10 and delays[-1] > 200 and max(delays) <= 900
    assert Outbox(store).peek(1)[0].attempts == 8


def test_every_third_request_failing_still_delivers_exactly_once(central: CentralHandle, tmp_path: Path,
                                                                store: Store) -> None:
    ids = seed_plays(store, 600, spacing_s=4320)
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path, batch_size=20, backlog_batch_size=50), store, mono=mono)
    central.faults.add("/v1/devices/", status=500, every_nth=3)
    drive(reporter, mono, until=lambda: Outbox(store).depth() == 0, max_steps=400)
    stored = monitor(central).log_entries(central.device_id, entry_type="play")
    assert [e["id"] for e in stored] == ids
    assert sum(1 for r in central.faults.requests(LOGS) if r.status == 500) >= 4


def test_answers_cut_mid_response_or_timing_out_are_retried_without_duplicates(
        central: CentralHandle, tmp_path: Path, store: Store) -> None:
    ids = seed_plays(store, 40)
    reporter = make_reporter(config_for(central, tmp_path, batch_size=10, backlog_batch_size=10), store,
                             read_timeout_s=1.0)
    central.faults.add(LOGS, cut_after=5, times=2)           # central stored it; the answer never arrives whole
    for _ in range(2):
        result = reporter.upload_once()
        assert result.error is not None and Outbox(store).depth() == 40
    central.faults.add(LOGS, delay_s=3.0, times=1)           # longer than the read timeout
    result = reporter.upload_once()
    assert result.error is not None and result.error.code == "central_timeout"
    assert Outbox(store).depth() == 40
    requests_made, removed = reporter.drain()
    assert removed == 40 and Outbox(store).depth() == 0
    assert [e["id"] for e in monitor(central).log_entries(central.device_id)] == ids


def test_backlog_mode_does_not_starve_heartbeats(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    seed_plays(store, 300)
    mono = FakeMono()
    reporter = make_reporter(config_for(central, tmp_path, heartbeat_interval_s=5, batch_size=10,
                                        backlog_batch_size=10), store, mono=mono)
    reporter.next_heartbeat = mono()
    # Each step "takes" 1 s of (fake) time: 30 batches span several heartbeat intervals.
    drive(reporter, mono, until=lambda: Outbox(store).depth() == 0, step_cost_s=1.0, max_steps=200)
    paths = [r.path for r in central.faults.requests("/v1/devices/")]
    logs_at = [i for i, p in enumerate(paths) if p == LOGS]
    beats_at = [i for i, p in enumerate(paths) if p == HEARTBEAT]
    assert len(logs_at) == 30
    assert len([b for b in beats_at if logs_at[0] < b < logs_at[-1]]) >= 4, paths
    assert reporter.stats.backlog_batches >= 25


def test_refused_entries_leave_the_outbox_and_do_not_block_it(central: CentralHandle, tmp_path: Path,
                                                              store: Store) -> None:
    ids = seed_plays(store, 3)
    Outbox(store).enqueue("z.bad", "relay", "2025-06-01T00:00:00Z", {"zone": "NOT A ZONE", "state": "on"})
    later = seed_plays(store, 2, start=datetime(2025, 7, 1, tzinfo=UTC))
    reporter = make_reporter(config_for(central, tmp_path), store)
    result = reporter.upload_once()
    assert (result.removed, result.refused, Outbox(store).depth()) == (6, 1, 0)
    assert [e["id"] for e in monitor(central).log_entries(central.device_id)] == ids + later


# --------------------------------------------------------------------------- misbehaving central


@pytest.mark.parametrize("answer", [
    lambda req: Response(b"oops", status=500),
    lambda req: Response(b"<html>not json</html>", status=200, mimetype="application/json"),
    lambda req: json_response({"acknowledged": "everything"}),
    lambda req: json_response([1, 2, 3]),
    lambda req: json_response({"error": {"code": "internal", "message": "boom"}}, status=502),
], ids=["500", "not-json", "acks-not-a-list", "not-an-object", "502"])
def test_bad_answers_keep_the_outbox(tmp_path: Path, store: Store, answer: Any) -> None:
    ids = seed_plays(store, 5)
    bad = BadCentral(answer)
    try:
        config = device_config(tmp_path / "device", bad.url, "token", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        reporter = make_reporter(config, store)
        result = reporter.upload_once()
        assert result.error is not None
        assert [e.id for e in Outbox(store).peek(10)] == ids
        assert not reporter.heartbeat_once().ok
        assert any(e["kind"].startswith("report.") for e in store.recent_events(10))
    finally:
        bad.stop()


def test_acknowledging_ids_never_sent_changes_nothing(tmp_path: Path, store: Store) -> None:
    ids = seed_plays(store, 4)

    def answer(req: Request) -> Response:
        sent = [e["id"] for e in req.get_json()["entries"]]
        return json_response({"acknowledged": [sent[0], "p.never-sent", ids[3] + "x"], "refused": []})

    bad = BadCentral(answer)
    try:
        config = device_config(tmp_path / "device", bad.url, "token", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
        result = make_reporter(config, store).upload_once()
        assert (result.removed, result.ignored) == (1, 2)
        assert [e.id for e in Outbox(store).peek(10)] == ids[1:]
        assert any(e["kind"] == "report.unknown_ack" for e in store.recent_events(10))
    finally:
        bad.stop()


def test_413_halves_the_batch_until_central_takes_it(tmp_path: Path, store: Store) -> None:
    seed_plays(store, 40)

    def answer(req: Request) -> Response:
        entries = req.get_json()["entries"]
        if len(entries) > 7:
            return json_response({"error": {"code": "too_large", "message": "too big"}}, status=413)
        return json_response({"acknowledged": [e["id"] for e in entries], "refused": []})

    bad = BadCentral(answer)
    try:
        config = device_config(tmp_path / "device", bad.url, "token", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                               batch_size=20, backlog_batch_size=40)
        reporter = make_reporter(config, store)
        reporter.drain(max_requests=50)
        assert Outbox(store).depth() == 0
        sizes = [len(body["entries"]) for path, body in bad.requests if path.endswith("/logs")]
        assert sizes[:4] == [40, 20, 10, 5]
    finally:
        bad.stop()


# --------------------------------------------------------------------------- SIGKILL


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from appliance.state.store import Store
from tests.support.report_rig import device_config, make_reporter
config = device_config(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], batch_size=25,
                       backlog_batch_size=25)
store = Store.open(config.db_path)
reporter = make_reporter(config, store)
print("ready", flush=True)
while True:
    reporter.drain(max_requests=1000)
    time.sleep(0.05)
"""


def test_sigkill_during_uploads_loses_and_duplicates_nothing(central: CentralHandle, tmp_path: Path) -> None:
    data_dir = tmp_path / "device"
    config = config_for(central, tmp_path)
    with Store.open(config.db_path) as seed_store:
        ids = seed_plays(seed_store, 1500, spacing_s=600)
    central.faults.add(LOGS, delay_s=0.05)  # keep requests in flight so kills land mid-upload
    rng = random.Random(5)
    script = _CHILD.format(root=str(ROOT))
    kills = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", script, str(data_dir), central.url, central.token,
                                  central.public_key_b64], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 cwd=ROOT)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.2, 0.8))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            kills += 1
        with Store.open(config.db_path) as check:
            if Outbox(check).depth() == 0:
                break
    central.faults.clear()
    with Store.open(config.db_path) as store:
        assert store.integrity_ok()
        in_flight = Outbox(store).depth()
        make_reporter(config, store).drain()
        assert Outbox(store).depth() == 0
    stored = [e["id"] for e in monitor(central).log_entries(central.device_id)]
    assert len(stored) == len(set(stored)), "nothing duplicated at central"
    assert stored == ids, "nothing lost, order kept"
    assert kills >= 1 and in_flight < 1500


def test_reporter_thread_starts_heartbeats_and_stops(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    seed_plays(store, 3)
    reporter = make_reporter(config_for(central, tmp_path), store)
    reporter.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (reporter.stats.heartbeats == 0 or Outbox(store).depth()):
            time.sleep(0.1)
        assert reporter.stats.heartbeats >= 1 and Outbox(store).depth() == 0
    finally:
        reporter.stop()
    assert not reporter.alive



def test_twelve_days_without_central_back_off_capped_and_collapse_failures(tmp_path: Path, store: Store) -> None:
    """Issue 16, fault 6: the backoff overflowed after ~1,025 failures (about 8 days); from then on
    every step crashed and two event rows were written every 5 s."""
    from appliance.report.pacing import BACKOFF_MAX_S
    from tests.support.streamserver import refused_url

    seed_plays(store, 5)
    mono = FakeMono()
    config = device_config(tmp_path / "device", refused_url("/"), "token", protocol.public_key_to_b64(
        Ed25519PrivateKey.generate().public_key()), heartbeat_interval_s=600)
    reporter = make_reporter(config, store, mono=mono)
    store.monotonic = mono   # the store counts repeats on the same simulated clock
    start = mono()
    attempts: list[float] = []
    while mono() - start < 12 * 86400:
        before = reporter.stats.upload_failures
        wait = reporter.step()
        if reporter.stats.upload_failures > before:
            attempts.append(mono())
        mono.advance(max(wait, 0.001))
    assert reporter.stats.upload_failures > 1100, "the outage must outlast the old overflow point"
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert max(gaps) <= BACKOFF_MAX_S + 1 and min(gaps[-100:]) >= BACKOFF_MAX_S / 2
    kinds = [r[0] for r in store.query("SELECT kind FROM events")]
    assert "report.crash" not in kinds
    assert kinds.count("report.upload_failed") == 1 and kinds.count("report.heartbeat_failed") == 1
    upload = next(e for e in store.recent_events(10) if e["kind"] == "report.upload_failed")
    # Counted exactly; written at most every ten minutes (the last repeats may still be in memory).
    assert reporter.stats.upload_failures - 1 <= upload["data"]["repeated"] <= reporter.stats.upload_failures
    assert store.query_one("SELECT MAX(id) FROM events")[0] < 12 * 24 * 6 * 2 + 10
    assert Outbox(store).depth() == 5


def _power_heartbeat(power: Any) -> dict[str, Any]:
    return build_heartbeat(
        device_id="12345-0001", sent_at="2025-06-01T00:00:00Z", boot_id="b", uptime_s=5,
        clock={"trusted": True, "offset_s": 0.0, "source": "ntp"}, timezone="Asia/Ho_Chi_Minh",
        system={"disk_free": 10**10, "disk_total": 3 * 10**10, "load_1m": 0.4, "mem_available": 10**8,
                "mem_total": 10**9},
        live={"relays": {"thon-1": False}, "volume": 80, "power": power},
        last_sync={"at": None, "result": "ok", "error": None}, outbox_depth=0, rejected_count=0,
        last_errors=[], command_results=[], interval_s=60)


def test_heartbeat_carries_the_power_state_and_central_checks_it() -> None:
    from appliance.system.power import decode_throttled

    status = {"mains": "lost", "on_battery": True, "since": "2025-06-01T00:00:00.123456Z", "under_voltage": True,
              "throttled": False, "flags": decode_throttled(0x50001).as_dict(), "battery_policy": "keep_all"}
    doc = _power_heartbeat(status)
    assert doc["power"] == {"mains": "lost", "since": "2025-06-01T00:00:00.123456Z", "under_voltage": True,
                            "throttled": False, "flags": 0x50001}
    validate_heartbeat(doc, "12345-0001")
    assert "power" not in _power_heartbeat(None), "a daemon without a watcher sends no power member"
    unknown = _power_heartbeat({"mains": "unknown", "since": "2025-06-01T00:00:00Z", "flags": None})
    assert unknown["power"] == {"mains": "unknown", "since": None, "under_voltage": False, "throttled": False,
                                "flags": None}
    validate_heartbeat(unknown, "12345-0001")
    for bad, field in (({"mains": "battery"}, "power.mains"), ({"since": "yesterday"}, "power.since"),
                       ({"under_voltage": 1}, "power.under_voltage"), ({"flags": -1}, "power.flags"),
                       ({"flags": 1 << 32}, "power.flags"), ({"throttled": None}, "power.throttled")):
        with pytest.raises(ValueError, match=field):
            validate_heartbeat(doc | {"power": doc["power"] | bad}, "12345-0001")
    with pytest.raises(ValueError, match="power: missing flags"):
        validate_heartbeat(doc | {"power": {k: v for k, v in doc["power"].items() if k != "flags"}}, "12345-0001")
    with pytest.raises(ValueError, match="power: expected an object"):
        validate_heartbeat(doc | {"power": "lost"}, "12345-0001")
