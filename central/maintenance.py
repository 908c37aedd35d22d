"""Keeping central's database the size its retention periods say, and PostgreSQL's months ready.

``run_once`` (``commune-central maintain``; ``serve`` runs it at start and hourly) creates the
coming months' partitions of the device logs on PostgreSQL, drops the months past the play-log
retention (SQLite deletes the rows), and deletes heartbeat samples, finished commands, command
reports and expired operator sessions past theirs. Each step is its own transaction, so a
large deletion never holds the writers of device reports for long.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from central.config import Retention
from central.store import Store, partitions

log = logging.getLogger("central.maintenance")
INTERVAL_S = 3600


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
    """``run_once`` at start and every hour, in a daemon thread of the serving process."""

    def __init__(self, store: Store, retention: Retention, clock: object, interval_s: float = INTERVAL_S) -> None:
        self._store, self._retention, self._clock, self._interval = store, retention, clock, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="central-maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = run_once(self._store, self._retention, self._clock())  # type: ignore[operator]
                log.info("maintenance: %s", done)
            except Exception:  # a failed pass is retried at the next one; serving goes on
                log.exception("maintenance pass failed")
            self._stop.wait(self._interval)
