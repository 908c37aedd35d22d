"""Crash test: the daemon as a subprocess (capture output, mock pins), killed with SIGKILL 50 times
at random moments around playback.

After each restart: relays are off until the next planned switch, a play cut by the kill is
logged interrupted, no occurrence ever plays twice, and the daemon becomes ready quickly (the
3 s figure is reported; the assertion is a generous bound for a loaded machine).
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.state.store import Store
from tests.support.daemon_rig import add_text_item, iso_in, make_config
from tests.support.pace import lead_s
from tests.support.paths import REPO

KILLS = 50
ROOT = REPO


def write_config(path: Path, data_dir: Path) -> None:
    path.write_text(f"""
[device]
data_dir = "{data_dir}"
[audio]
output = "capture"
chime = false
[schedule]
default_windows = ["00:00-00:00"]
min_interval_minutes = 1
grace_minutes = 1
[[zones]]
name = "a"
relay_pin = 17
warmup_ms = 300
cooldown_ms = 200
[[zones]]
name = "b"
relay_pin = 27
warmup_ms = 300
cooldown_ms = 200
""", encoding="utf-8")


class DaemonProcess:
    def __init__(self, config_path: Path, flag: Path) -> None:
        env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", COMMUNE_RADIO_TIMESYNC_FLAG=str(flag),
                   PYTHONUNBUFFERED="1")
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "--config", str(config_path), "run", "--events", "--no-sync"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            event["t"] = time.monotonic()
            self.events.put(event)

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        self.seen.append(event)
        return event

    def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.next_event(0.5)
            if event is not None and event["type"] == "ready":
                return event
            if self.proc.poll() is not None:
                break
        raise AssertionError(f"daemon not ready (rc={self.proc.poll()}): {self.seen}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        # Drain what the dead process printed before it died.
        while self.next_event(0.05) is not None:
            pass


@pytest.mark.slow
def test_sigkill_fifty_times_around_playback(tmp_path: Path) -> None:
    rng = random.Random(4)
    data = tmp_path / "data"
    config_path = tmp_path / "appliance.toml"
    write_config(config_path, data)
    flag = tmp_path / "synchronized"
    flag.write_text("")
    config = make_config(data)
    with Store.open(config.db_path) as store:
        slots = SlotRepository(store, config)
        for i in range(80):
            add_text_item(store, f"tin-{i:03d}", f"Tin số {i}. Bà con chú ý.", zones=["a"] if i % 2 else ["b"])
            slots.add({"item_id": f"tin-{i:03d}", "kind": "once", "starts": [iso_in(lead_s(6 + i * 1.5))]}, actor="test:crash")

    ready_times: list[float] = []
    plays_started: dict[str, int] = {}
    interrupted_checked = 0
    daemon = None
    left_playing: set[str] = set()
    for round_no in range(KILLS + 1):
        daemon = DaemonProcess(config_path, flag)
        ready = daemon.wait_ready()
        ready_times.append(ready["t"] - daemon.spawned)
        # What the killed process left 'playing' comes back as interrupted.
        assert set(ready["recovered_interrupted"]) == left_playing
        interrupted_checked += bool(left_playing)
        relay_events = [e for e in daemon.seen if e["type"] == "relay"]
        # Relays are off at start-up: the daemon's first relay events switch every zone off, before
        # anything switches one on (a slot already due may warm up before "ready" is printed).
        first_on = next((i for i, e in enumerate(relay_events) if e["on"]), len(relay_events))
        start_up = relay_events[:first_on]
        assert start_up and {e["zone"] for e in start_up} == {"a", "b"}, relay_events
        assert all(e["reason"] == "start-up: all relays off" for e in start_up), start_up
        if round_no == KILLS:
            break
        # Run until a random moment around playback, then SIGKILL.
        trigger = rng.choice(["warmup", "play_start", "play_start", "play_end", "ready"])
        deadline = time.monotonic() + lead_s(6.0)
        while trigger != "ready" and time.monotonic() < deadline:
            event = daemon.next_event(0.2)
            if event is not None and event["type"] == trigger:
                break
        time.sleep(rng.uniform(0.0, 0.8))
        daemon.kill()
        for event in daemon.seen:
            if event["type"] == "play_start":
                plays_started[event["key"]] = plays_started.get(event["key"], 0) + 1
        # What the dead process left 'playing' must come back as interrupted after restart.
        with sqlite3.connect(config.db_path) as conn:
            left_playing = {r[0] for r in conn.execute("SELECT id FROM play_log WHERE outcome = 'playing'")}

    # Let the last daemon run a little, then stop it cleanly (SIGTERM: relays off).
    assert daemon is not None
    time.sleep(3)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=20) == 0
    while daemon.next_event(0.1) is not None:
        pass
    for event in daemon.seen:
        if event["type"] == "play_start":
            plays_started[event["key"]] = plays_started.get(event["key"], 0) + 1

    with sqlite3.connect(config.db_path) as conn:
        rows = conn.execute("SELECT occurrence_key, outcome, attempt FROM play_log").fetchall()
        last_relays = dict(conn.execute(
            "SELECT zone, state FROM relay_log WHERE id IN (SELECT MAX(id) FROM relay_log GROUP BY zone)").fetchall())
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "an occurrence has two play-log rows"
    assert all(n == 1 for n in plays_started.values()), {k: n for k, n in plays_started.items() if n > 1}
    assert "playing" not in {r[1] for r in rows}
    assert last_relays == {"a": 0, "b": 0}
    outcomes = {o: sum(1 for r in rows if r[1] == o) for o in ("completed", "interrupted", "skipped", "failed")}
    assert outcomes["completed"] > 0 and outcomes["interrupted"] > 0 and interrupted_checked > 0
    ready_times.sort()
    print(f"\ncrash test: {KILLS} kills, ready p50={ready_times[len(ready_times) // 2]:.2f}s "
          f"max={ready_times[-1]:.2f}s, outcomes={outcomes}, interrupted recoveries checked={interrupted_checked}")
    # Generous on a loaded shared machine; the 3 s target is measured and reported.
    assert ready_times[-1] < 20.0
