"""Audio preparation ahead of air time: TTS and loudness run here, never on the start-up path.

The planner names the items due soon (``Plan.prepare``); ``request`` queues each once and a
single worker thread (``run``) prepares them in order. A failure is logged and retried no
sooner than ``RETRY_S`` later, so one bad item cannot starve the others. Prepared clips are
remembered by (item id, version); ``prepared_for`` answers the planner's "is it ready, how
long is it". A local announcement may carry the operator's own voice and rate, which get a
preparer of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.state import settings as operator_settings
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from protocol.errors import CommuneRadioError, ValidationError

RETRY_S = 60.0
PREPARED_MAX_AGE_S = 7 * 86400.0
ItemKey = tuple[str, int]


def default_preparer(config: Config) -> Any:
    from audio.prepare import Preparer  # heavy (pydub, TTS): only when the daemon needs it

    return Preparer(config)


class PreparationQueue:
    def __init__(self, store: Store, config: Callable[[], Config], preparer: Any | None,
                 emit: Callable[[dict[str, Any]], None], wake: Callable[[], None]) -> None:
        self.store = store
        self._config = config
        self.owns_preparer = preparer is None
        self.preparer = preparer if preparer is not None else default_preparer(config())
        self._emit = emit
        self._wake = wake
        self._lock = threading.RLock()
        self._prepared: dict[ItemKey, Any] = {}
        self._voice_preparers: dict[tuple[str, int], Any] = {}
        self._failed: dict[ItemKey, float] = {}
        self._queue: queue.Queue[ItemKey | None] = queue.Queue()
        self._pending: set[ItemKey] = set()

    def prepared_for(self, key: ItemKey) -> Any | None:
        return self._prepared.get(key)

    def request(self, item_id: str) -> None:
        item = self.store.get_item(item_id)
        if item is None or item["kind"] == "stream" or item["state"] != "ready":
            return
        key = (item["id"], int(item["version"]))
        if key in self._prepared or key in self._pending:
            return
        failed_at = self._failed.get(key)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_S:
            return
        self._pending.add(key)
        self._queue.put(key)

    def close(self) -> None:
        """Ends ``run`` after the item in hand."""
        self._queue.put(None)

    def run(self, stopping: threading.Event) -> None:
        while True:
            key = self._queue.get()
            if key is None or stopping.is_set():
                return
            try:
                item = self.store.get_item(key[0])
                if item is not None and int(item["version"]) == key[1]:
                    self.prepare_item(item)
                    self._emit({"type": "prepared", "item_id": key[0], "version": key[1]})
            except Exception as exc:  # a bad item must not stop the preparation of others
                self._failed[key] = time.monotonic()
                message = exc.en if isinstance(exc, CommuneRadioError) else repr(exc)
                with contextlib.suppress(Exception):
                    self.store.log_event("prepare.error", f"item {key[0]}: {message}"[:500],
                                         {"item_id": key[0], "version": key[1]}, level="error",
                                         repeat_key=f"{key[0]}@{key[1]}")
            finally:
                self._pending.discard(key)
            self._wake()

    def prepare_item(self, item: dict[str, Any]) -> Any:
        """The prepared clip of a text or audio item (prepared now if it is not yet)."""
        key = (item["id"], int(item["version"]))
        prepared = self._prepared.get(key)
        if prepared is not None and Path(prepared.path).exists():
            return prepared
        if item["kind"] == "text":
            prepared = self._preparer_for(item).prepare_text(item["text"])
        elif item["kind"] == "audio":
            prepared = self.preparer.prepare_file(MediaStore(self._config().media_dir).path_for(item["media_sha256"]))
        else:
            raise ValidationError(f"Không chuẩn bị được loại '{item['kind']}'.", f"Cannot prepare kind '{item['kind']}'.")
        self._prepared[key] = prepared
        return prepared

    def prepare_text(self, text: str) -> Any:
        """Operator text spoken once (say, an emergency text), with the station's voice."""
        return self.preparer.prepare_text(text)

    def _preparer_for(self, item: dict[str, Any]) -> Any:
        """The preparer for a text item: a local announcement may carry the operator's voice and rate."""
        document = item.get("document")
        chosen = document.get("tts") if item.get("source") == "local" and isinstance(document, dict) else None
        if not self.owns_preparer or not isinstance(chosen, dict):
            return self.preparer
        config = self._config()
        try:
            tts = dataclasses.replace(config.tts, voice=str(chosen.get("voice", config.tts.voice)),
                                      rate=int(chosen.get("rate", config.tts.rate)))
            wanted = operator_settings.apply(config, {"tts.voice": tts.voice, "tts.rate": tts.rate})
        except (CommuneRadioError, TypeError, ValueError):
            return self.preparer  # an unusable choice falls back to the station's voice
        if wanted.tts == config.tts:
            return self.preparer
        key = (wanted.tts.voice, wanted.tts.rate)
        with self._lock:
            if key not in self._voice_preparers:
                self._voice_preparers[key] = default_preparer(wanted)
            return self._voice_preparers[key]

    def voice_changed(self, config: Config) -> None:
        """A new voice, rate or chime: forget every prepared clip, so upcoming items use it."""
        if not self.owns_preparer:
            return
        with self._lock:
            self.preparer = default_preparer(config)
            self._voice_preparers.clear()
            self._prepared.clear()
            self._failed.clear()

    def prune(self) -> int:
        """Delete prepared clips that no prepared item uses and nobody used for a week."""
        if not self.owns_preparer or not hasattr(self.preparer, "prune"):
            return 0
        with self._lock:
            keep = {p.sha256 for p in self._prepared.values() if p is not None}
        try:
            removed = self.preparer.prune(keep, max_age_s=PREPARED_MAX_AGE_S)
        except OSError as exc:
            self.store.log_event("prepare.prune_failed", str(exc), level="warning")
            return 0
        if removed:
            self.store.log_event("prepare.pruned", f"{removed} unused prepared clips deleted", {"removed": removed})
        return removed
