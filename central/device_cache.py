"""What the device endpoints know without asking the database: tokens and waiting commands.

A heartbeat arrives every 60 s from every device (500 a second at 30,000 devices); before this
cache each one cost two read transactions (the token's device, "a command waiting?"), most of
central's CPU per request. ``DeviceCache`` keeps, per process:

- **tokens**: token digest → the device (id, zones): every registered device, read in one query
  at the first refresh and after each generation change (30,000 devices: about 0.1 s once per
  process, ~10 MB), and a device registered since then on first use by the usual lookup.
  Every change of a device's token or zones stores a new ``device_generation`` in ``meta`` in
  the same transaction (``central.store.devices``). A change made in this process clears the
  cache at once (``forget_tokens``); one made by another process (another gunicorn worker, the
  CLI) is seen at the next refresh, at most ``refresh_s`` later: the cache is cleared when the
  stored generation differs. A revoked or rotated token therefore stops working within
  ``refresh_s`` (2 s) everywhere, at once in the process that changed it. Unknown tokens are
  never cached (a wrong token always costs a lookup).
- **devices with a waiting command**: the set of devices with a pending, unexpired command,
  read again every ``refresh_s``; a command queued in this process joins it at once. A
  heartbeat from a device outside the set gets "no commands" without a database round trip; one
  inside takes the delivery transaction as before. A command queued by another process reaches
  its device at the first heartbeat after the next refresh (a heartbeat is 60 s apart: at most
  one heartbeat later than before).

A refresh is one read transaction of two small queries (the ``meta`` row, the pending
commands through the ``commands_pending`` index), done by whichever request finds the
snapshot older than ``refresh_s`` (no thread of its own). If it fails (the database is away),
the cache forgets everything and callers ask the database, as without a cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from central.store import Store, Transaction
from central.store.devices import GENERATION_KEY

log = logging.getLogger("central.device_cache")
REFRESH_S = 2.0
MAX_TOKENS = 500_000          # far above a national fleet; beyond it the cache starts again

D = TypeVar("D")


class DeviceCache(Generic[D]):
    """Per-process caches of the device hot path. Thread-safe."""

    def __init__(self, store: Store, clock: Callable[[], datetime], *, refresh_s: float = REFRESH_S,
                 monotonic: Callable[[], float] = time.monotonic,
                 load_all: Callable[[Transaction], dict[str, D]] | None = None) -> None:
        self._store, self._clock, self._refresh_s, self._monotonic = store, clock, refresh_s, monotonic
        self._load_all = load_all
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._tokens: dict[str, D] = {}
        self._epoch = 0                         # bumped whenever the token cache is cleared
        self._generation: str | None = None
        self._pending: frozenset[str] | None = None   # None: unknown, ask the database
        self._queued_here: dict[str, float] = {}      # device → monotonic time queued in this process
        self._refreshed_at: float | None = None

    # ------------------------------------------------------------------ tokens

    def device(self, digest: str, lookup: Callable[[str], D | None]) -> D | None:
        """The device for this token digest: from the cache, else from ``lookup`` (kept if found)."""
        self._maybe_refresh()
        found = self._tokens.get(digest)
        if found is not None:
            return found
        epoch = self._epoch
        device = lookup(digest)
        if device is not None:
            with self._lock:
                # Not if the cache was cleared meanwhile: the row read may predate that change.
                if epoch == self._epoch and self._generation is not None:
                    if len(self._tokens) >= MAX_TOKENS:
                        self._tokens = {}
                    self._tokens[digest] = device
        return device

    def forget_tokens(self) -> None:
        """A token or zones changed in this process: nothing cached is trusted any more."""
        with self._lock:
            self._tokens = {}
            self._epoch += 1

    # ------------------------------------------------------------------ commands

    def command_may_wait(self, device_id: str) -> bool | None:
        """True/False from the snapshot (plus commands queued here since), None when unknown."""
        self._maybe_refresh()
        pending = self._pending
        if pending is None:
            return None
        return device_id in pending or device_id in self._queued_here

    def command_queued(self, device_id: str) -> None:
        with self._lock:
            self._queued_here[device_id] = self._monotonic()

    # ------------------------------------------------------------------ refresh

    def refresh(self) -> None:
        """Read the generation and the devices with waiting commands now."""
        started, epoch = self._monotonic(), self._epoch
        try:
            with self._store.read() as tx:
                generation = tx.meta.get(GENERATION_KEY) or ""
                pending = frozenset(tx.commands.pending_devices(now=self._clock()))
                reload = generation != self._generation and self._load_all is not None
                loaded = self._load_all(tx) if reload and self._load_all is not None else None
        except Exception:
            log.exception("refreshing the device cache failed; asking the database meanwhile")
            with self._lock:
                self._tokens, self._epoch = {}, self._epoch + 1
                self._generation, self._pending, self._refreshed_at = None, None, None
            return
        with self._lock:
            if generation != self._generation:
                self._tokens, self._epoch = {}, self._epoch + 1
                self._generation = generation
                # Not if a change here cleared the cache meanwhile: the snapshot may predate it.
                if loaded is not None and len(loaded) <= MAX_TOKENS and epoch + 1 == self._epoch:
                    self._tokens = loaded
            # Commands queued here after the snapshot began are not in it: keep them one more round.
            self._queued_here = {d: t for d, t in self._queued_here.items() if t >= started - self._refresh_s}
            self._pending = pending
            self._refreshed_at = started

    def _maybe_refresh(self) -> None:
        last = self._refreshed_at
        if last is not None and self._monotonic() - last < self._refresh_s:
            return
        # The first caller refreshes; the others go on with the snapshot they have (or, before the
        # first one, with the database).
        if self._refreshing.acquire(blocking=False):
            try:
                last = self._refreshed_at
                if last is None or self._monotonic() - last >= self._refresh_s:
                    self.refresh()
            finally:
                self._refreshing.release()
