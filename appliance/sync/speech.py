"""Central's rendered speech of text items (protocol §4.3): verified, stored, its audio fetched.

The feed page asked with ``include=speech`` lists, beside its items, the speech documents of those
items. For each text item of the page that the station holds at that version, the speech document
is verified (central's signature in the speech domain; bound to the item's id, version and the
digest of the signed content the station holds) and kept in ``item_speech``; an item listed
without speech drops any the station held (central removed it). The audio is fetched like item
media: size and sha256 verified before the row is ``ready``.

At air time (``appliance.daemon.preparation``) ``verified_speech`` checks it all again (the stored
document's signature and binding, the file's sha256): anything wrong and the item is read with the
station's own voice, and a ``speech.fallback`` event says why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import disk_error
from appliance.state.mediastore import MediaMismatch, MediaStore
from appliance.state.store import Store, utc_now_iso
from protocol.errors import CentralError, RejectedItem
from protocol.signing import PublicKeys
from protocol.speech import validate_speech

log = logging.getLogger(__name__)
# Kept free on the card beyond any speech download (the same reserve as item media).
RESERVE_BYTES = 64 * 1024 * 1024
_LINK_DOWN = ("central_unreachable", "central_timeout", "central_unavailable", "central_busy", "central_auth")


@dataclass(frozen=True)
class VerifiedSpeech:
    path: Path
    sha256: str
    voice_name: str


class SpeechUnusable(Exception):
    """The stored speech cannot be used; ``code`` and the texts say why (logged as speech.fallback)."""

    def __init__(self, code: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.code, self.vi, self.en = code, vi, en


def speech_row(store: Store, item_id: str, version: int) -> dict[str, Any] | None:
    row = store.query_one("SELECT * FROM item_speech WHERE item_id = ? AND version = ?", (item_id, int(version)))
    return dict(row) if row is not None else None


def ready_speech_sha(store: Store, item_id: str, version: int) -> str | None:
    """The sha256 of the item version's speech when it is ready to use (what a clip is made from)."""
    row = store.query_one("SELECT media_sha256 FROM item_speech WHERE item_id = ? AND version = ? AND state = 'ready'",
                          (item_id, int(version)))
    return row["media_sha256"] if row is not None else None


def verified_speech(store: Store, media: MediaStore, public_keys: PublicKeys, item: dict[str, Any]) -> VerifiedSpeech:
    """The speech audio for ``item`` (its verified view) after every check; raises ``SpeechUnusable``."""
    row = speech_row(store, item["id"], int(item["version"]))
    if row is None or row["state"] != "ready":
        raise SpeechUnusable("speech.missing", "không có giọng đọc của trung tâm", "no rendered speech from central")
    try:
        speech = validate_speech(json.loads(row["document"]), public_keys, item_id=item["id"],
                                 version=int(item["version"]), item_digest=str(item.get("digest") or ""))
    except (RejectedItem, ValueError) as exc:
        en = exc.en if isinstance(exc, RejectedItem) else str(exc)
        vi = exc.vi if isinstance(exc, RejectedItem) else en
        raise SpeechUnusable("speech.tampered", f"giọng đọc của trung tâm không hợp lệ: {vi}",
                             f"central's speech does not verify: {en}") from None
    if speech.media.sha256 != row["media_sha256"] or not media.verify(speech.media.sha256):
        raise SpeechUnusable("speech.media_altered", "tệp giọng đọc của trung tâm bị thiếu hoặc đã bị sửa",
                             "the audio of central's speech is missing or altered")
    return VerifiedSpeech(media.path_for(speech.media.sha256), speech.media.sha256, row["voice_name"])


def mark_unusable(store: Store, item: dict[str, Any], exc: SpeechUnusable) -> None:
    """Record why the station reads this item itself (event ``speech.fallback``, once per version)."""
    with store.transaction() as tx:
        tx.execute("UPDATE item_speech SET state = 'rejected', reason = ?, updated_at = ? WHERE item_id = ?"
                   " AND version = ? AND state = 'ready'", (exc.code, utc_now_iso(), item["id"], int(item["version"])))
        store.log_event("speech.fallback", f"{item['id']}: đọc bằng giọng của trạm ({exc.vi})",
                        {"item_id": item["id"], "version": item["version"], "code": exc.code, "en": exc.en},
                        level="warning", conn=tx, repeat_key=f"{item['id']}@{item['version']}")


class SpeechSync:
    def __init__(self, store: Store, media: MediaStore, public_keys: PublicKeys) -> None:
        self.store = store
        self.media = media
        self.public_keys = public_keys

    def accept_page(self, items: Sequence[Any], speech: Sequence[Any] | None) -> int:
        """Verify and store the page's speech documents; returns how many rows changed."""
        if speech is None:
            return 0  # central did not answer the include: nothing is known about speech
        offered: dict[str, list[Any]] = {}
        for doc in speech:
            if isinstance(doc, dict) and isinstance(doc.get("item_id"), str):
                offered.setdefault(doc["item_id"], []).append(doc)
        changed = 0
        for raw in items:
            if not isinstance(raw, dict) or raw.get("kind") != "text" or not isinstance(raw.get("id"), str):
                continue
            held = self.store.query_one("SELECT version, digest FROM items WHERE id = ? AND source = 'central'",
                                        (raw["id"],))
            if held is None or held["version"] != raw.get("version"):
                continue  # the item itself was refused: so is anything about it
            docs = offered.get(raw["id"], [])
            if not docs:
                changed += self._drop(raw["id"])
                continue
            try:
                found = validate_speech(docs[0], self.public_keys, item_id=raw["id"], version=int(held["version"]),
                                        item_digest=held["digest"])
            except RejectedItem as exc:
                log.warning("%s", exc.en)
                self.store.log_event("speech.rejected", exc.vi, {"item_id": raw["id"], "reason": exc.reason,
                                                                 "en": exc.en}, level="warning",
                                     repeat_key=f"speech:{raw['id']}@{held['version']}")
                changed += self._drop(raw["id"])
                continue
            changed += self._store(found)
        return changed

    def _drop(self, item_id: str) -> int:
        with self.store.transaction() as tx:
            removed = tx.execute("DELETE FROM item_speech WHERE item_id = ?", (item_id,)).rowcount
            if removed:
                self.store.log_event("speech.removed", f"{item_id}: trung tâm không còn gửi giọng đọc; trạm tự đọc",
                                     {"item_id": item_id}, conn=tx)
        return int(removed)

    def _store(self, speech: Any) -> int:
        now = utc_now_iso()
        with self.store.transaction() as tx:
            held = tx.execute("SELECT version, media_sha256 FROM item_speech WHERE item_id = ?",
                              (speech.item_id,)).fetchone()
            if held is not None and (held["version"], held["media_sha256"]) == (speech.version, speech.media.sha256):
                return 0
            state = "ready" if self.media.has(speech.media.sha256) and self.media.verify(speech.media.sha256) \
                else "waiting_media"
            tx.execute("INSERT OR REPLACE INTO item_speech (item_id, version, item_digest, document, media_url,"
                       " media_sha256, media_bytes, voice_name, state, reason, received_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                       (speech.item_id, speech.version, speech.item_digest,
                        json.dumps(speech.document, ensure_ascii=False, separators=(",", ":")), speech.media.url,
                        speech.media.sha256, speech.media.bytes, speech.voice["name"], state, now, now))
            if state == "ready":
                self._note_media(tx, speech.media.sha256, speech.media.bytes)
            self.store.log_event("speech.received", f"{speech.item_id} v{speech.version}: giọng {speech.voice['name']}",
                                 {"item_id": speech.item_id, "version": speech.version, "voice": speech.voice,
                                  "state": state}, conn=tx)
        return 1

    @staticmethod
    def _note_media(tx: Any, sha: str, size: int) -> None:
        tx.execute("INSERT OR IGNORE INTO media (sha256, bytes, mime, stored_at) VALUES (?, ?, 'audio/wav', ?)",
                   (sha, size, utc_now_iso()))

    def fetch_media(self, client: Any, *, quota_bytes: int, max_bytes: int) -> tuple[int, int]:
        """Download waiting speech audio of playable items; returns (files, bytes). Raises only when the link is down."""
        rows = self.store.query(
            "SELECT s.* FROM item_speech s JOIN items i ON i.id = s.item_id AND i.version = s.version"
            " WHERE s.state = 'waiting_media' AND i.state = 'ready' AND (i.valid_until IS NULL OR i.valid_until > ?)"
            " ORDER BY s.media_bytes", (utc_now_iso(),))
        files = fetched = 0
        for row in rows:
            sha, size = row["media_sha256"], int(row["media_bytes"])
            if not self.media.has(sha) or not self.media.verify(sha):
                if size > max_bytes or not self.media.fits(size, quota_bytes, sha, reserve_bytes=RESERVE_BYTES):
                    self.store.log_event("speech.deferred", f"{row['item_id']}: không đủ chỗ cho giọng đọc ({size} byte)",
                                         {"item_id": row["item_id"], "bytes": size}, level="warning",
                                         repeat_key=f"speech-room:{row['item_id']}")
                    continue
                part = self.media.open_partial(sha)
                try:
                    stats = client.download(row["media_url"], part, size)
                except CentralError as exc:
                    self.store.log_event("speech.media_failed", exc.vi, {"item_id": row["item_id"], "code": exc.code,
                                                                         "en": exc.en}, level="warning",
                                         repeat_key=f"speech:{exc.code}:{row['item_id']}")
                    if exc.code in _LINK_DOWN:
                        raise
                    continue
                fetched += stats.bytes_fetched
                try:
                    self.media.commit_partial(sha, size)
                except OSError as exc:
                    raise disk_error(exc, "speech media") from None
                except MediaMismatch as exc:
                    with self.store.transaction() as tx:
                        tx.execute("UPDATE item_speech SET state = 'rejected', reason = 'checksum_mismatch',"
                                   " updated_at = ? WHERE item_id = ? AND version = ?",
                                   (utc_now_iso(), row["item_id"], row["version"]))
                        self.store.log_event("speech.rejected", exc.vi, {"item_id": row["item_id"], "en": exc.en},
                                             level="warning", conn=tx)
                    continue
            with self.store.transaction() as tx:
                self._note_media(tx, sha, size)
                tx.execute("UPDATE item_speech SET state = 'ready', updated_at = ? WHERE item_id = ? AND version = ?"
                           " AND state = 'waiting_media'", (utc_now_iso(), row["item_id"], row["version"]))
            files += 1
        return files, fetched
