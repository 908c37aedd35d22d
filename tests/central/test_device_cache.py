"""The device endpoints' caches (central.device_cache) and the one-statement unchanged poll.

Each test fails if a cache answers wrongly: a token changed elsewhere must stop working after a
refresh (at once in the process that changed it), a queued command must reach its device, a
publication must end the 304s. "Elsewhere" is a second Catalog/Monitor on the same database, as
another gunicorn worker or the CLI is. Both engines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from central.catalog import Catalog
from central.config import CentralConfig
from central.monitor import Monitor
from central.store.commands import CommandRepository
from protocol.reports import validate_heartbeat

ZONES = ["thon-1", "thon-2"]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tick() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def here(central_config: CentralConfig, tick: FakeMonotonic) -> Iterator[Catalog]:
    """The process under test (its device cache on a clock the test moves)."""
    catalog = Catalog(central_config.data_dir, config=central_config)
    catalog.device_cache._monotonic = tick  # the cache's own clock, for refresh_s
    try:
        yield catalog
    finally:
        catalog.close()


@pytest.fixture
def elsewhere(central_config: CentralConfig) -> Iterator[Catalog]:
    """Another process on the same database (another worker, the CLI)."""
    catalog = Catalog(central_config.data_dir, config=central_config)
    try:
        yield catalog
    finally:
        catalog.close()


def heartbeat(device_id: str, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return validate_heartbeat({
        "device_id": device_id, "sent_at": now, "software_version": "0.10.1", "boot_id": "b-1", "uptime_s": 5,
        "clock": {"trusted": True, "offset_s": 0.0, "source": "ntp"}, "timezone": "Asia/Ho_Chi_Minh",
        "disk": {"free_bytes": 10**10, "total_bytes": 3 * 10**10}, "cpu": {"temp_c": 50.0, "load_1m": 0.1},
        "memory": {"available_bytes": 10**8, "total_bytes": 10**9}, "playing": None, "relays": {},
        "volume": 80, "last_sync": {"at": now, "result": "ok", "error": None}, "outbox_depth": 0, "rejected_count": 0, "last_errors": [],
        "command_results": [], "heartbeat_interval_s": 60, **extra}, device_id)


def monitor_of(catalog: Catalog) -> Monitor:
    return Monitor(catalog.store, clock=catalog.clock, private_key=catalog.private_key,
                   device_cache=catalog.device_cache, heartbeat_flush_s=0)


# ---------------------------------------------------------------- tokens


def test_token_rotated_in_this_process_stops_at_once(here: Catalog) -> None:
    old = here.add_device("12345-0001", ZONES)
    assert here.authenticate(old).id == "12345-0001"
    new = here.rotate_token("12345-0001")
    assert here.authenticate(old) is None
    assert here.authenticate(new).id == "12345-0001"


def test_token_rotated_elsewhere_stops_at_the_next_refresh(here: Catalog, elsewhere: Catalog,
                                                           tick: FakeMonotonic) -> None:
    old = here.add_device("12345-0001", ZONES)
    assert here.authenticate(old).id == "12345-0001"      # looked up, now cached
    with here.store.write() as tx:                           # prove the answer comes from the cache
        tx.conn.exec_driver_sql("UPDATE devices SET token_hash = 'x' WHERE id = '12345-0001'")
    assert here.authenticate(old).id == "12345-0001"
    new = elsewhere.rotate_token("12345-0001")
    assert elsewhere.authenticate(old) is None
    tick.now += here.device_cache._refresh_s                 # the next refresh sees the new generation
    assert here.authenticate(old) is None
    assert here.authenticate(new).id == "12345-0001"


def test_zones_changed_elsewhere_reach_the_feed_after_a_refresh(here: Catalog, elsewhere: Catalog,
                                                                 tick: FakeMonotonic) -> None:
    token = here.add_device("12345-0001", ["thon-1"])
    item = here.add_item(kind="text", title="Chỉ thôn 2", text="Họp thôn 2.", zones=["thon-2"])
    here.approve_item(item, by="Chủ tịch UBND xã")
    device = here.authenticate(token)
    assert here.feed(device, None).body["items"] == []
    elsewhere.set_device_zones("12345-0001", ["thon-1", "thon-2"])
    tick.now += here.device_cache._refresh_s
    device = here.authenticate(token)
    assert device.zones == ("thon-1", "thon-2")
    assert [doc["id"] for doc in here.feed(device, None).body["items"]] == [item]


def test_failed_refresh_forgets_the_cache(here: Catalog, tick: FakeMonotonic, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    token = here.add_device("12345-0001", ZONES)
    assert here.authenticate(token) is not None
    cache = here.device_cache

    def broken(**_: Any) -> list[str]:
        raise RuntimeError("database away")

    monkeypatch.setattr("central.store.commands.CommandRepository.pending_devices", lambda self, **kw: broken())
    tick.now += cache._refresh_s
    assert cache.command_may_wait("12345-0001") is None     # unknown: the caller asks the database
    assert cache._tokens == {}


# ---------------------------------------------------------------- commands


def test_command_queued_in_this_process_is_delivered_at_once(here: Catalog) -> None:
    here.add_device("12345-0001", ZONES)
    monitor = monitor_of(here)
    assert monitor.record_heartbeat("12345-0001", heartbeat("12345-0001")) == []   # snapshot: none waiting
    signed = monitor.queue_command("12345-0001", "set_volume", {"volume": 40})
    assert [c["id"] for c in monitor.record_heartbeat("12345-0001", heartbeat("12345-0001"))] == [signed["id"]]


def test_command_queued_elsewhere_is_delivered_after_a_refresh(here: Catalog, elsewhere: Catalog,
                                                               tick: FakeMonotonic) -> None:
    here.add_device("12345-0001", ZONES)
    monitor = monitor_of(here)
    assert monitor.record_heartbeat("12345-0001", heartbeat("12345-0001")) == []
    signed = monitor_of(elsewhere).queue_command("12345-0001", "set_volume", {"volume": 40})
    assert monitor.record_heartbeat("12345-0001", heartbeat("12345-0001")) == []   # within refresh_s
    tick.now += here.device_cache._refresh_s
    assert [c["id"] for c in monitor.record_heartbeat("12345-0001", heartbeat("12345-0001"))] == [signed["id"]]


def test_command_queued_during_a_refresh_is_not_lost(here: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refresh's snapshot was read before the command committed: the command still counts."""
    here.add_device("12345-0001", ZONES)
    monitor = monitor_of(here)
    real = CommandRepository.pending_devices

    def racing(self: CommandRepository, *, now: datetime) -> list[str]:
        before = real(self, now=now)
        monitor.queue_command("12345-0001", "set_volume", {"volume": 40})
        return before

    monkeypatch.setattr(CommandRepository, "pending_devices", racing)
    here.device_cache.refresh()
    assert "12345-0001" not in here.device_cache._pending
    assert here.device_cache.command_may_wait("12345-0001") is True


# ---------------------------------------------------------------- the unchanged poll


def etag_for(device_id: str, cursor: str) -> str:
    return '"' + hashlib.sha256(f"{device_id}|{cursor}|False".encode()).hexdigest()[:20] + '"'


def test_unchanged_poll_answers_304_until_something_is_published(central: Any) -> None:
    central.text_item("Thứ nhất")
    first = central.feed()
    cursor, tag = first.json()["cursor"], first.headers["ETag"]
    assert tag == etag_for(central.device_id, cursor)

    def poll() -> requests.Response:
        return requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": cursor},
                            headers={**central.headers(), "If-None-Match": tag}, timeout=30)

    assert poll().status_code == 304
    central.add_device("54321-0001", ["thon-1"])
    central.text_item("Xã khác", devices=["54321-0001"], zones=["*"])    # another commune's item
    answer = poll()
    assert answer.status_code == 304 and answer.headers["ETag"] == tag
    second = central.text_item("Thứ hai")
    answer = poll()
    assert answer.status_code == 200
    assert [doc["id"] for doc in answer.json()["items"]] == [second]


def test_unchanged_answer_is_the_full_reads_answer(here: Catalog) -> None:
    """The one-statement path and the full read give the same body and ETag."""
    token = here.add_device("12345-0001", ZONES)
    here.approve_item(here.add_item(kind="text", title="A", text="Họp."), by="Chủ tịch UBND xã")
    device = here.authenticate(token)
    cursor = here.feed(device, None).body["cursor"]
    fast = here.feed(device, cursor)
    here._unchanged_at = lambda *_: None  # type: ignore[method-assign]
    full = here.feed(device, cursor)
    assert fast.etag == full.etag
    assert {k: v for k, v in fast.body.items() if k != "server_time"} == \
        {k: v for k, v in full.body.items() if k != "server_time"}
