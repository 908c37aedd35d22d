"""Heartbeats are written in groups: one transaction every ``flush_s`` for all that arrived.

At 10,000 devices a heartbeat arrives every 6 ms; one commit each would write every touched
database page each time (SQLite writes whole 4 KB pages: 14.6 KB per heartbeat on the first
storage layer). ``HeartbeatWriter`` keeps the newest heartbeat of each device in memory and a
timer writes them together at most ``flush_s`` later, in one transaction:

- ``device_presence`` (last seen, offline at): every device in the group, one narrow row each;
- ``device_state`` (software, boot, problems, the heartbeat shown on the device page) only for
  devices whose heartbeat says something new (``display_key`` differs: volatile fields such as
  ``sent_at``, uptime, CPU, memory and disk bytes do not count) or whose sample is due;
- ``heartbeat_samples``: one per device per sample period.

A heartbeat is not durable before it is answered (as before: the next one replaces it a minute
later); a process that stops writes what it holds (``close``), one killed loses at most
``flush_s`` of heartbeats. Reading in the same process writes the group first (``flush``), so
what this process shows includes every heartbeat it answered; another worker process shows it
at most ``flush_s`` later. ``flush_s`` must stay under half a heartbeat interval (30 s): a device
counts as offline 1.5 intervals after its last stored heartbeat, so a held one always lands
before the previous one runs out. ``plan`` is the pure decision; the writer is the shell around it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from central.store import Store
from central.store.reports import CurrentState, PendingHeartbeat, StateWrite

log = logging.getLogger("central.heartbeats")
FLUSH_S = 10.0
MAX_PENDING = 5000
# What changes in every heartbeat without changing what an operator needs to see now.
VOLATILE = frozenset({"sent_at", "uptime_s", "cpu", "memory", "last_sync", "command_results"})


def display_key(heartbeat: Mapping[str, Any] | None) -> str:
    """The part of a heartbeat the pages show as state (not the moment's measurements)."""
    if heartbeat is None:
        return ""
    kept = {k: v for k, v in heartbeat.items() if k not in VOLATILE}
    disk = kept.get("disk")
    if isinstance(disk, dict):  # free space moves by bytes; "disk_low" is in the problems
        kept["disk"] = {k: v for k, v in disk.items() if k != "free_bytes"}
    clock = kept.get("clock")
    if isinstance(clock, dict):  # the offset shown in whole seconds: jitter is not news, a step is
        offset = clock.get("offset_s")
        kept["clock"] = {**clock, "offset_s": round(offset) if isinstance(offset, int | float) else offset}
    sync = heartbeat.get("last_sync")
    if isinstance(sync, dict):
        kept["last_sync_result"] = (sync.get("result"), sync.get("error"))
    return json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def plan(batch: Sequence[PendingHeartbeat], current: Mapping[str, CurrentState],
         sample_every: timedelta) -> tuple[list[StateWrite], list[PendingHeartbeat]]:
    """Which state rows to rewrite and which heartbeats to keep as samples (pure)."""
    states: list[StateWrite] = []
    samples: list[PendingHeartbeat] = []
    for hb in batch:
        cur = current.get(hb.device_id)
        due = cur is None or cur.last_sample_at is None or cur.last_sample_at <= hb.received_at - sample_every
        changed = cur is None or (cur.interval_s, cur.boot_id, cur.software_version, cur.problems) != (
            hb.interval_s, hb.boot_id, hb.software_version, hb.problems) or \
            display_key(json.loads(cur.heartbeat) if cur.heartbeat else None) != hb.display_key
        if due or changed:
            states.append(StateWrite(hb, last_sample_at=hb.received_at if due else cur.last_sample_at
                                     if cur is not None else None))
        if due:
            samples.append(hb)
    return states, samples


@dataclass
class FlushCounts:
    heartbeats: int = 0
    state_rows: int = 0
    samples: int = 0
    transactions: int = 0


class HeartbeatWriter:
    """The newest heartbeat of each device, written in groups. Thread-safe."""

    def __init__(self, store: Store, *, sample_every: timedelta, flush_s: float = FLUSH_S,
                 max_pending: int = MAX_PENDING) -> None:
        self._store, self._sample_every, self._flush_s, self._max = store, sample_every, flush_s, max_pending
        self._pending: dict[str, PendingHeartbeat] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False
        self.counts = FlushCounts()

    def add(self, heartbeat: PendingHeartbeat) -> None:
        with self._lock:
            self._pending[heartbeat.device_id] = heartbeat
            full = len(self._pending) >= self._max
            if self._timer is None and not full and not self._closed:
                self._timer = threading.Timer(self._flush_s, self._on_timer)
                self._timer.daemon = True
                self._timer.start()
        if full or self._closed or self._flush_s <= 0:
            self.flush()

    def _on_timer(self) -> None:
        try:
            self.flush()
        except Exception:  # the database is away: these heartbeats are lost, the next ones are not
            log.exception("writing heartbeats failed")

    def flush(self) -> int:
        """Write every held heartbeat now, in one transaction; returns how many."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = list(self._pending.values()), {}
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            if not batch:
                return 0
            with self._store.write(durable=False) as tx:
                current = tx.reports.current_states([hb.device_id for hb in batch])
                states, samples = plan(batch, current, self._sample_every)
                tx.reports.write_presence(batch)
                tx.reports.write_states(states)
                tx.reports.add_samples(samples)
            self.counts.heartbeats += len(batch)
            self.counts.state_rows += len(states)
            self.counts.samples += len(samples)
            self.counts.transactions += 1
            return len(batch)

    def close(self) -> None:
        self._closed = True
        self.flush()


def pending(device_id: str, *, received_at: datetime, body: str, interval_s: int, boot_id: str,
            software_version: str, problems: Sequence[str], offline_at: datetime,
            heartbeat: Mapping[str, Any]) -> PendingHeartbeat:
    return PendingHeartbeat(device_id=device_id, received_at=received_at, body=body, interval_s=interval_s,
                            boot_id=boot_id, software_version=software_version, problems=" ".join(problems),
                            offline_at=offline_at, display_key=display_key(heartbeat))
