"""Shared set-up for the daemon tests: a real Daemon in-process (real libVLC capture output, real
espeak-ng, gpiozero MockFactory pins) on a temporary data directory, plus item/slot seeding."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from appliance.state import config as config_module
from appliance.state.config import Config
from appliance.state.store import Store, utc_now_iso


def make_config(data_dir: Path, **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "device": {"data_dir": str(data_dir)},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": ["00:00-00:00"], "min_interval_minutes": 1, "grace_minutes": 1},
        "zones": [
            {"name": "a", "relay_pin": 17, "warmup_ms": 300, "cooldown_ms": 200},
            {"name": "b", "relay_pin": 27, "warmup_ms": 300, "cooldown_ms": 200, "active_high": True},
        ],
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return config_module.from_mapping(data, "<test>", env={})


def add_text_item(store: Store, item_id: str, text: str, *, priority: str = "normal", zones: list[str] | None = None,
                  title: str = "", state: str = "ready") -> None:
    now = utc_now_iso()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO items (id, version, kind, title, text, priority, zones, state, source, received_at, updated_at)"
            " VALUES (?, 1, 'text', ?, ?, ?, ?, ?, 'local', ?, ?)",
            (item_id, title or item_id, text, priority, json.dumps(zones or ["*"]), state, now, now))


def add_stream_item(store: Store, item_id: str, url: str) -> None:
    now = utc_now_iso()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO items (id, version, kind, title, media_url, priority, zones, state, source, received_at,"
            " updated_at) VALUES (?, 1, 'stream', ?, ?, 'normal', '[\"*\"]', 'ready', 'local', ?, ?)",
            (item_id, item_id, url, now, now))


def iso_in(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    """Collects daemon events; ``wait_for`` blocks until one matches (generous timeouts)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(dict(event, t=time.monotonic()))
            self._cond.notify_all()

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event in {timeout} s; got {[e['type'] for e in self.events]}")
                self._cond.wait(remaining)

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e["type"] == kind]


def mock_factory() -> MockFactory:
    return MockFactory()
