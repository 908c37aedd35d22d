"""Heartbeats written in groups (central.heartbeats) over real HTTP, on both engines: one
transaction for many devices, the state row rewritten only when the heartbeat says something
new, the timer writing without any reader, a closing central writing what it holds, and the
last-seen time never moved back by an older heartbeat from another worker."""

from __future__ import annotations

import time
from datetime import timedelta

from central.heartbeats import HeartbeatWriter, display_key, pending
from central.monitoring import heartbeat_problems
from tests.central.test_monitoring import heartbeat, post
from tests.conftest import CentralHandle


def monitor(central: CentralHandle):  # type: ignore[no-untyped-def]
    return central.server.app.extensions["central.monitor"]


def test_many_heartbeats_one_transaction_and_state_rewritten_only_on_news(central: CentralHandle) -> None:
    tokens = central.catalog.add_devices([(f"20000-{n:04d}", ["thon-1"], "Huế") for n in range(40)])
    writer = monitor(central).heartbeats
    writer.flush()
    before = (writer.counts.transactions, writer.counts.state_rows)
    for device_id, token in tokens.items():
        assert post(central, "heartbeat", heartbeat(device_id=device_id), token=token,
                    device_id=device_id).status_code == 200
    assert writer.flush() == 40
    assert writer.counts.transactions - before[0] == 1 and writer.counts.state_rows - before[1] == 40
    central.clock.advance(60)
    # A minute later: only times and measurements changed for 39 devices; one reports a fault.
    for n, (device_id, token) in enumerate(tokens.items()):
        changes = {"sent_at": "2025-06-01T00:01:00Z", "uptime_s": 86460,
                   "cpu": {"temp_c": 55.0, "load_1m": 0.9}}
        if n == 7:
            changes["amp_faults"] = ["thon-1"]
        post(central, "heartbeat", heartbeat(device_id=device_id, **changes), token=token, device_id=device_id)
    writer.flush()
    assert writer.counts.state_rows - before[1] == 41
    with central.catalog.store.read() as tx:
        states = {d: tx.reports.state(d) for d in tokens}
    assert all(abs((central.clock() - s.last_seen_at).total_seconds()) < 5 for s in states.values())
    assert states["20000-0007"].problems == ("amplifier_fault",)
    assert states["20000-0008"].heartbeat["uptime_s"] == 86400      # the stored body: the last news


def test_the_timer_writes_without_a_reader_and_close_writes_the_rest(central: CentralHandle) -> None:
    store = central.catalog.store
    writer = HeartbeatWriter(store, sample_every=timedelta(minutes=15), flush_s=0.2)
    hb = heartbeat()
    now = central.clock()
    writer.add(pending(central.device_id, received_at=now, body="{}", interval_s=60, boot_id=hb["boot_id"],
                       software_version="0.1.0", problems=heartbeat_problems(hb), offline_at=now + timedelta(seconds=90),
                       heartbeat=hb))
    deadline = time.monotonic() + 10
    while True:
        with store.read() as tx:
            state = tx.reports.state(central.device_id)
        if state.last_seen_at is not None:
            break
        assert time.monotonic() < deadline, "the held heartbeat was never written"
        time.sleep(0.05)
    slow = HeartbeatWriter(store, sample_every=timedelta(minutes=15), flush_s=3600)
    later = now + timedelta(seconds=60)
    slow.add(pending(central.device_id, received_at=later, body="{}", interval_s=60, boot_id=hb["boot_id"],
                     software_version="0.2.0", problems=(), offline_at=later + timedelta(seconds=90), heartbeat=hb))
    slow.close()
    with store.read() as tx:
        state = tx.reports.state(central.device_id)
    assert state.last_seen_at == later and state.software_version == "0.2.0"


def test_an_older_heartbeat_never_moves_last_seen_back(central: CentralHandle) -> None:
    store = central.catalog.store
    hb = heartbeat()
    now = central.clock()
    newer, older = (HeartbeatWriter(store, sample_every=timedelta(minutes=15), flush_s=3600) for _ in range(2))
    for writer, at in ((newer, now), (older, now - timedelta(seconds=30))):
        writer.add(pending(central.device_id, received_at=at, body="{}", interval_s=60, boot_id=hb["boot_id"],
                           software_version="0.1.0", problems=(), offline_at=at + timedelta(seconds=90), heartbeat=hb))
    newer.flush()
    older.flush()     # another worker process writing its group later
    with store.read() as tx:
        assert tx.reports.state(central.device_id).last_seen_at == now


def test_display_key_ignores_measurements_but_not_state() -> None:
    base = heartbeat()
    assert display_key(base) == display_key(heartbeat(sent_at="2030-01-01T00:00:00Z", uptime_s=5,
                                                      cpu={"temp_c": 80.0, "load_1m": 3.0},
                                                      disk={"free_bytes": 11_000_000_000, "total_bytes": 31_000_000_000},
                                                      clock={"trusted": True, "offset_s": 0.1, "source": "ntp"}))
    for change in ({"playing": None}, {"volume": 10}, {"clock": {"trusted": False, "offset_s": 0, "source": "none"}},
                   {"software_version": "0.2.0"}, {"outbox_depth": 0},
                   {"clock": {"trusted": True, "offset_s": None, "source": "ntp"}},
                   {"clock": {"trusted": True, "offset_s": 3.2, "source": "ntp"}},
                   {"last_sync": {"at": "2025-05-31T23:55:00Z", "result": "error", "error": "timeout"}}):
        assert display_key(heartbeat(**change)) != display_key(base), change


def test_a_held_heartbeat_lands_before_the_previous_one_runs_out() -> None:
    """Offline is 1.5 intervals after the last stored heartbeat; the next one arrives after one
    interval and waits at most FLUSH_S: so FLUSH_S must stay under half an interval."""
    from central.heartbeats import FLUSH_S
    from central.monitoring import DEFAULT_INTERVAL_S, OFFLINE_AFTER_INTERVALS

    assert 0 < FLUSH_S < (OFFLINE_AFTER_INTERVALS - 1) * DEFAULT_INTERVAL_S
