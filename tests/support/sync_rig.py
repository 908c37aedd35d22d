"""Shared set-up for the sync tests: the appliance side (config, store, media store, client,
syncer on a temporary data dir) against the real central fixture (tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appliance.state import config as config_module
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer, SyncResult


@dataclass
class Device:
    """The appliance side: config, store, media store, client and syncer on a temp data dir."""

    config: Config
    store: Store
    media: MediaStore
    client: CentralClient
    syncer: Syncer
    sleeps: list[float] = field(default_factory=list)

    def sync(self) -> SyncResult:
        return self.syncer.sync_once()

    def state(self, item_id: str) -> str | None:
        item = self.store.get_item(item_id)
        return item["state"] if item else None

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a failed sync must leave untouched."""
        items = [(i["id"], i["version"], i["state"], i["digest"]) for i in self.store.list_items()]
        sync = self.store.sync_state()
        return tuple(items), sync["cursor"], sync["etag"], tuple(sorted(self.media.list()))


def make_config(central: Any, data_dir: Path, **sync: Any) -> Config:
    return config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(data_dir)},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64,
                    "connect_timeout_s": 5.0, "read_timeout_s": 2.0, "max_retries": 2},
        "sync": sync,
    }, "test", env={})


@pytest.fixture
def make_device(central: Any, tmp_path: Path) -> Iterator[Any]:
    made: list[Device] = []

    def build(**sync: Any) -> Device:
        config = make_config(central, tmp_path / f"device{len(made)}", **sync)
        store = Store.open(config.db_path)
        sleeps: list[float] = []
        # Backoff pauses are recorded and shortened: the schedule is asserted, not waited for.
        client = CentralClient.from_config(config, backoff_base_s=0.05,
                                           sleep=lambda s: (sleeps.append(s), None)[1])
        media = MediaStore(config.media_dir)
        device = Device(config, store, media, client, Syncer(config, store, media, client), sleeps)
        made.append(device)
        return device

    yield build
    for device in made:
        device.client.close()
        device.store.close()


@pytest.fixture
def device(make_device: Any) -> Device:
    return make_device()


def logged(central: Any, prefix: str, count: int) -> list[Any]:
    """Central's request log once ``count`` requests are in it: the server thread records a
    request when its body generator closes, which can be a moment after the client is done."""
    deadline = time.monotonic() + 10
    while len(central.faults.requests(prefix)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return central.faults.requests(prefix)
