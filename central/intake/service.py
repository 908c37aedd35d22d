"""Intake as central runs it: sources, the poller and the CAP taker over one catalog, and the
background thread ``commune-central serve`` polls due sources from.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from central.intake.alerts import AlertOutcome, AlertTaker
from central.intake.drafts import CatalogSink
from central.intake.errors import IntakeError
from central.intake.poller import Poller, PollResult
from central.intake.sources import Sources, SourceStatus

if TYPE_CHECKING:
    from central.catalog import Catalog

log = logging.getLogger("central.intake")


class Intake:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.sink = CatalogSink(catalog)
        self.sources = Sources(catalog.store, clock=catalog.clock)
        self.poller = Poller(catalog.store, self.sink, clock=catalog.clock)
        self.alerts = AlertTaker(catalog.store, self.sink, clock=catalog.clock)
        self._lock = threading.Lock()  # one poll at a time in this process (the thread, the API)

    def close(self) -> None:
        self.poller.close()

    def poll(self, source_id: str) -> PollResult:
        self.sources.get(source_id)  # a clear error for an unknown name
        with self._lock:
            return self.poller.poll(source_id)

    def poll_due(self) -> list[PollResult]:
        with self._lock:
            return self.poller.poll_due()

    def take_posted(self, source: SourceStatus, xml: bytes) -> AlertOutcome:
        """A CAP message posted by ``source``; its status records the outcome or the refusal."""
        now = self.catalog.clock()
        store = self.catalog.store
        try:
            outcome = self.alerts.take(source, xml)
        except IntakeError as exc:
            with store.write() as tx:
                tx.intake.record_error(source.id, now=now, status=422, error=exc.as_dict(),
                                       next_poll_at=source.next_poll_at)
            raise
        with store.write() as tx:
            tx.intake.record_success(source.id, now=now, status=200, next_poll_at=source.next_poll_at,
                                     keep_validators=True, taken=0 if outcome.outcome == "duplicate" else 1)
        return outcome


class IntakeThread(threading.Thread):
    """Polls due sources every ``every_s`` seconds until stopped."""

    def __init__(self, intake: Intake, *, every_s: float = 30.0,
                 only_when: Callable[[], bool] = lambda: True) -> None:
        super().__init__(name="central-intake", daemon=True)
        # With several worker processes only one polls: the one holding maintenance's lock.
        self.intake, self.every_s, self._only_when = intake, every_s, only_when
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            if not self._only_when():
                continue
            try:
                for result in self.intake.poll_due():
                    if result.error is not None:
                        log.warning("intake %s: %s", result.source_id, result.error.en)
            except Exception:  # the next round tries again; the error is logged, not lost
                log.exception("intake poll failed")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
