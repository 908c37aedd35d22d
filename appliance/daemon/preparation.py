"""Audio preparation ahead of air time: TTS and loudness run here, never on the start-up path.

The planner names the items due soon (``Plan.prepare``); ``request`` queues each once and a
single worker thread (``run``) prepares them in order. A failure is logged and retried no
sooner than ``RETRY_S`` later, so one bad item cannot starve the others. A local announcement
may carry the operator's own voice and rate, which get a preparer of their own.

Readiness is durable: each prepared clip is recorded in ``prepared_audio`` with the digest of
what it was made from (the text or media, the voice, the loudness, the chime), so after a
restart an item whose clip is on disk is ready at once, and ``prepared_for`` answers the
planner's "is it ready, how long is it" only for a clip made from the item as it is now.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.errors import disk_error
from appliance.state import settings as operator_settings
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store, utc_now_iso
from appliance.sync.integrity import SignedItems, Tampered
from appliance.sync.speech import SpeechUnusable, mark_unusable, ready_speech_sha, speech_row, verified_speech
from protocol.errors import CommuneRadioError, StorageError, ValidationError

RETRY_S = 60.0
PREPARED_MAX_AGE_S = 7 * 86400.0
ItemKey = tuple[str, int]


@dataclasses.dataclass(frozen=True)
class PreparedClip:
    """A prepared clip known from the store (what ``audio.prepare.PreparedAudio`` tells the daemon)."""

    path: Path
    sha256: str
    duration_s: float


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()


def _wav_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def content_key(item: dict[str, Any], config: Config, speech_sha: str | None = None) -> str:
    """Digest of everything a prepared clip of ``item`` depends on: change any of it and the clip is stale.

    ``speech_sha`` is central's rendered speech of a text item, when it is ready: the clip is made
    from it, so its arrival or removal makes the clip stale too.
    """
    audio = config.audio
    identity: dict[str, Any] = {"kind": item["kind"], "target_lufs": audio.target_lufs,
                                "true_peak_dbfs": audio.true_peak_dbfs}
    if item["kind"] == "text" and speech_sha:
        identity |= {"text": item.get("text") or "", "central_speech": speech_sha}
    elif item["kind"] == "text":
        identity |= {"text": item.get("text") or "", "tts": dataclasses.asdict(config.tts), "chime": audio.chime}
    else:
        identity["media"] = item.get("media_sha256")
    return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def default_preparer(config: Config) -> Any:
    from audio.prepare import Preparer  # heavy (pydub, TTS): only when the daemon needs it

    return Preparer(config)


class PreparationQueue:
    def __init__(self, store: Store, config: Callable[[], Config], preparer: Any | None,
                 emit: Callable[[dict[str, Any]], None], wake: Callable[[], None],
                 signed: SignedItems | None = None) -> None:
        self.store = store
        self.signed = signed
        self._config = config
        self.owns_preparer = preparer is None
        self.preparer = preparer if preparer is not None else default_preparer(config())
        self._emit = emit
        self._wake = wake
        self._lock = threading.RLock()
        self._prepared: dict[ItemKey, tuple[str, Any]] = {}   # key -> (content key, clip)
        self._voice_preparers: dict[tuple[str, int], Any] = {}
        self._failed: dict[ItemKey, float] = {}
        self._queue: queue.Queue[ItemKey | None] = queue.Queue()
        self._pending: set[ItemKey] = set()
        self._durable = self._load_durable()
        self._alert: Any = None

    def _load_durable(self) -> dict[ItemKey, tuple[str, PreparedClip]]:
        """Clips recorded by earlier runs whose file is still in place."""
        found: dict[ItemKey, tuple[str, PreparedClip]] = {}
        work_dir = getattr(self.preparer, "work_dir", None)
        if work_dir is None:
            return found
        for row in self.store.query("SELECT item_id, version, content, sha256, duration_s FROM prepared_audio"):
            path = Path(work_dir) / f"{row['sha256']}.wav"
            if path.is_file():
                found[(row["item_id"], int(row["version"]))] = (
                    row["content"], PreparedClip(path, row["sha256"], float(row["duration_s"])))
        return found

    def content_key(self, item: dict[str, Any]) -> str:
        return content_key(item, self._config_for(item), self._speech_sha(item))

    def _speech_sha(self, item: dict[str, Any]) -> str | None:
        if item.get("kind") != "text" or item.get("source") != "central" or self.signed is None:
            return None
        return ready_speech_sha(self.store, item["id"], int(item["version"]))

    def _central_speech(self, item: dict[str, Any]) -> Any | None:
        """The clip made from central's rendered speech of ``item`` (verified now), or None: the
        station reads the item itself, and a ``speech.fallback`` event says why when speech was expected."""
        if item.get("kind") != "text" or item.get("source") != "central" or self.signed is None:
            return None
        row = speech_row(self.store, item["id"], int(item["version"]))
        if row is None or row["state"] == "rejected":
            return None
        try:
            if row["state"] != "ready":
                raise SpeechUnusable("speech.not_ready", "giọng đọc của trung tâm chưa tải xong",
                                     "central's speech is not downloaded yet")
            speech = verified_speech(self.store, MediaStore(self._config().media_dir), self.signed.public_keys, item)
            return self.preparer.prepare_file(speech.path)
        except SpeechUnusable as exc:
            mark_unusable(self.store, item, exc)
        except CommuneRadioError as exc:  # the audio itself is unusable (ffmpeg refused it)
            mark_unusable(self.store, item, SpeechUnusable(exc.code, exc.vi, exc.en))
        return None

    def verified(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` with its text and media as central signed them (raises ``Tampered``)."""
        return self.signed.verified_view(item) if self.signed is not None else item

    def report_tampered(self, item: dict[str, Any], exc: Tampered) -> None:
        """Refuse, log and report an altered item (once), and tell the listeners."""
        if self.signed is not None and self.signed.repair(self.store, item, exc):
            self._emit({"type": "item_tampered", "item_id": exc.item_id, "fields": exc.fields, "reason": exc.en,
                        "action": "restored" if exc.verified is not None else "dropped"})

    def prepared_for(self, item: dict[str, Any]) -> Any | None:
        """The clip prepared from ``item`` as central signed it, or None (never prepared, stale, altered)."""
        try:
            item = self.verified(item)
        except Tampered:
            return None
        key = (item["id"], int(item["version"]))
        wanted = self.content_key(item)
        with self._lock:
            known = self._prepared.get(key) or self._durable.get(key)
            if known is None or known[0] != wanted:
                return None
            self._prepared[key] = known
            return known[1]

    def request(self, item_id: str) -> None:
        item = self.store.get_item(item_id)
        if item is None or item["kind"] == "stream" or item["state"] != "ready":
            return
        key = (item["id"], int(item["version"]))
        if self.prepared_for(item) is not None or key in self._pending:
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
        # The alert signal is ready before any emergency needs it (a file lookup once prepared).
        with contextlib.suppress(Exception):
            self.alert_clip()
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
                if isinstance(exc, OSError):  # a full or failing card, said as such
                    exc = disk_error(exc, "prepared audio")
                message = exc.en if isinstance(exc, CommuneRadioError) else repr(exc)
                with contextlib.suppress(Exception):
                    self.store.log_event("prepare.error", f"item {key[0]}: {message}"[:500],
                                         {"item_id": key[0], "version": key[1]}, level="error",
                                         repeat_key=f"{key[0]}@{key[1]}")
            finally:
                self._pending.discard(key)
            self._wake()

    def prepare_item(self, item: dict[str, Any]) -> Any:
        """The prepared clip of a text or audio item as central signed it (prepared now if it is not yet).

        The speech and the cache key come from the verified document, never from the row alone.
        """
        item = self.verified(item)
        key = (item["id"], int(item["version"]))
        prepared = self.prepared_for(item)
        if prepared is not None and Path(prepared.path).exists():
            return prepared
        if item["kind"] == "text":
            prepared = self._central_speech(item) or self._preparer_for(item).prepare_text(item["text"])
        elif item["kind"] == "audio":
            media = MediaStore(self._config().media_dir)
            if not media.verify(item["media_sha256"]):
                # Altered or rotten on the card since it was verified: fetched again by the next sync.
                media.delete(item["media_sha256"])
                with self.store.transaction() as tx:
                    tx.execute("UPDATE items SET state = 'waiting_media' WHERE id = ? AND state = 'ready'",
                               (item["id"],))
                    self.store.log_event("media_altered", f"Tệp âm thanh của {item['id']} không còn khớp mã kiểm tra;"
                                         " sẽ tải lại.", {"item_id": item["id"], "code": "media_altered",
                                                          "en": f"media of {item['id']} no longer matches its"
                                                          " checksum; it will be fetched again"},
                                         level="error", conn=tx)
                raise StorageError(f"Tệp âm thanh của {item['id']} đã bị sửa hoặc hỏng; sẽ tải lại từ trung tâm.",
                                   f"The media of {item['id']} was altered or damaged; it will be fetched again.",
                                   code="media_altered")
            prepared = self.preparer.prepare_file(media.path_for(item["media_sha256"]))
        else:
            raise ValidationError(f"Không chuẩn bị được loại '{item['kind']}'.", f"Cannot prepare kind '{item['kind']}'.")
        wanted = self.content_key(item)  # after: a speech fallback changes what the clip was made from
        with self._lock:
            self._prepared[key] = (wanted, prepared)
        self._remember(key, wanted, prepared)
        return prepared

    def checked_clip(self, item: dict[str, Any]) -> Any:
        """The prepared clip, its file checked against its checksum just before it plays; a clip
        altered on the card is deleted and made again from the verified content."""
        prepared = self.prepare_item(item)
        sha = getattr(prepared, "sha256", "")
        if not sha or _file_sha256(Path(prepared.path)) == sha:
            return prepared
        key = (item["id"], int(item["version"]))
        with contextlib.suppress(Exception):
            self.store.log_event("prepare.clip_altered", f"prepared clip of {key[0]} did not match its checksum;"
                                 " made again", {"item_id": key[0], "sha256": sha, "code": "prepare.clip_altered"},
                                 level="error")
        with self._lock:
            self._prepared.pop(key, None)
            self._durable.pop(key, None)
        Path(prepared.path).unlink(missing_ok=True)
        again = self.prepare_item(item)
        if getattr(again, "sha256", "") and _file_sha256(Path(again.path)) != again.sha256:
            raise StorageError("Tệp âm thanh đã chuẩn bị bị hỏng và không tạo lại được.",
                               "The prepared clip is damaged and could not be made again.", code="prepare.clip_altered")
        return again

    def _remember(self, key: ItemKey, content: str, prepared: Any) -> None:
        """Record the clip durably (readiness must survive a restart); a failure only costs a re-check."""
        with contextlib.suppress(Exception), self.store.transaction() as tx:
            tx.execute("INSERT INTO prepared_audio (item_id, version, content, sha256, duration_s, prepared_at)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(item_id, version) DO UPDATE SET"
                       " content=excluded.content, sha256=excluded.sha256, duration_s=excluded.duration_s,"
                       " prepared_at=excluded.prepared_at",
                       (key[0], key[1], content, prepared.sha256, float(prepared.duration_s), utc_now_iso()))
            tx.execute("DELETE FROM prepared_audio WHERE item_id = ? AND version < ?", key)

    def prepare_text(self, text: str) -> Any:
        """Operator text spoken once (say, an emergency text), with the station's voice."""
        return self.preparer.prepare_text(text)

    def alert_clip(self) -> Any:
        """The emergency alert signal, at the station's loudness; the raw asset if preparing fails.

        It needs no speech engine: it is what plays when an emergency's speech cannot be made.
        """
        from audio.alert import ALERT_PATH  # small, and only when an emergency needs it

        if self._alert is None:
            try:
                self._alert = self.preparer.prepare_file(ALERT_PATH)
            except Exception as exc:  # ffmpeg itself failing must not silence the alert
                with contextlib.suppress(Exception):
                    self.store.log_event("prepare.alert_raw", f"alert signal not prepared: {exc!r}"[:300],
                                         level="warning")
                return PreparedClip(ALERT_PATH, "", _wav_seconds(ALERT_PATH))
        return self._alert

    def _chosen_tts(self, item: dict[str, Any]) -> Config | None:
        """The configuration a local announcement asks for with the operator's own voice and rate."""
        document = item.get("document")
        chosen = document.get("tts") if item.get("source") == "local" and isinstance(document, dict) else None
        if not self.owns_preparer or not isinstance(chosen, dict):
            return None
        config = self._config()
        try:
            tts = dataclasses.replace(config.tts, voice=str(chosen.get("voice", config.tts.voice)),
                                      rate=int(chosen.get("rate", config.tts.rate)))
            wanted = operator_settings.apply(config, {"tts.voice": tts.voice, "tts.rate": tts.rate})
        except (CommuneRadioError, TypeError, ValueError):
            return None  # an unusable choice falls back to the station's voice
        return None if wanted.tts == config.tts else wanted

    def _config_for(self, item: dict[str, Any]) -> Config:
        return self._chosen_tts(item) or self._config()

    def _preparer_for(self, item: dict[str, Any]) -> Any:
        """The preparer for a text item: a local announcement may carry the operator's voice and rate."""
        wanted = self._chosen_tts(item)
        if wanted is None:
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
            keep = {clip.sha256 for _, clip in [*self._prepared.values(), *self._durable.values()]}
        try:
            removed = self.preparer.prune(keep, max_age_s=PREPARED_MAX_AGE_S)
        except OSError as exc:
            self.store.log_event("prepare.prune_failed", str(exc), level="warning")
            return 0
        if removed:
            self.store.log_event("prepare.pruned", f"{removed} unused prepared clips deleted", {"removed": removed})
        return removed
