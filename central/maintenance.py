"""Keeping central's database the size its retention periods say, and PostgreSQL's months ready.

``run_once`` (``commune-central maintain``; ``serve`` runs it at start and hourly) creates the
coming months' partitions of the device logs on PostgreSQL, drops the months past the play-log
retention (SQLite deletes the rows), and deletes heartbeat samples, finished commands, command
reports and expired operator sessions past theirs. Each step is its own transaction, so a
large deletion never holds the writers of device reports for long.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path

from central.config import Retention
from central.store import Store, partitions

log = logging.getLogger("central.maintenance")
INTERVAL_S = 3600
LOCK_RETRY_S = 60


def run_once(store: Store, retention: Retention, now: datetime) -> dict[str, int | list[str]]:
    """One pass; returns what it did (names of partitions made and dropped, rows deleted)."""
    done: dict[str, int | list[str]] = {}
    logs_before = now - timedelta(days=retention.play_log_days)
    if store.is_postgresql:
        with store.write() as tx:
            done["partitions_created"] = partitions.ensure_months(tx.conn, now)
        with store.write() as tx:
            # A month is dropped once all of it is older than the retention period.
            done["partitions_dropped"] = partitions.drop_months_before(tx.conn, logs_before)
    with store.write() as tx:
        counts = tx.reports.prune(samples_before=now - timedelta(days=retention.heartbeat_history_days),
                                  logs_before=logs_before)
        done.update(counts)
    with store.write() as tx:
        done.update(tx.commands.prune(before=now - timedelta(days=retention.command_days)))
        done["admin_sessions"] = tx.sessions.prune(now=now)
    return done


class MaintenanceThread:
    """``run_once`` at start and every hour, in a daemon thread of the serving process.

    With ``lock_path`` (several worker processes, ``central.serving``) only the process holding
    an exclusive lock on that file runs it; the others try to take the lock every minute, so
    maintenance goes on when the worker that held it exits."""

    def __init__(self, store: Store, retention: Retention, clock: object, interval_s: float = INTERVAL_S,
                 *, lock_path: Path | None = None, lock_retry_s: float = LOCK_RETRY_S) -> None:
        self._store, self._retention, self._clock, self._interval = store, retention, clock, interval_s
        self._lock_path, self._lock_retry = lock_path, lock_retry_s
        self._lock_fd: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="central-maintenance", daemon=True)
        self.passes = 0

    @property
    def holds_lock(self) -> bool:
        return self._lock_path is None or self._lock_fd is not None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    def _try_lock(self) -> bool:
        if self.holds_lock:
            return True
        assert self._lock_path is not None
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._try_lock():
                self._stop.wait(self._lock_retry)
                continue
            try:
                done = run_once(self._store, self._retention, self._clock())  # type: ignore[operator]
                self.passes += 1
                log.info("maintenance: %s", done)
            except Exception:  # a failed pass is retried at the next one; serving goes on
                log.exception("maintenance pass failed")
            self._stop.wait(self._interval)
