"""Pull signed items and their media from central into the store.

Order of trust: an item is stored only after its signature and shape verify (and it is not
a replay); it becomes playable (state ``ready``) only once its media's size and sha256 verify
too. Each item is committed in its own transaction and the feed cursor advances only after a
page's items are committed, so a crash at any instant keeps all progress and never leaves a
``ready`` item without its media file. Central's misbehaviour (bad JSON, HTTP errors,
timeouts, oversized bodies) is logged and retried on the next sync; nothing already held is
lost. Only ``CentralError`` is reported to the caller, inside ``SyncResult.error``.

Why one module of this length: the order of a sync (feed page, verify, store, media, cursor)
is its durability argument, and it reads best as one piece.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import protocol
from appliance.errors import CardFull, disk_error
from appliance.state.config import Config
from appliance.state.mediastore import MediaMismatch, MediaStore
from appliance.state.store import Store, item_is_expired, to_utc_iso, utc_now_iso
from appliance.sync.client import CentralClient
from appliance.sync.speech import SpeechSync
from appliance.sync.voice_offers import VoiceOfferSync
from protocol.errors import (
    CentralError,
    CommuneRadioError,
    ConfigError,
    RejectedItem,
    StorageError,
    ValidationError,
)

log = logging.getLogger(__name__)

# Asked beside the items: central's rendered speech and its voice packs (protocol §4.3, §4.4, §9).
FEED_INCLUDE = "speech,voice_packs"
# A feed that keeps saying "more" beyond this many pages in one sync is central looping.
MAX_PAGES_PER_SYNC = 200
# Page sizes tried, largest first, when central's page is too big to read (protocol max 500).
FEED_LIMITS = (100, 20, 5, 1)
# Client errors that mean "this item's media cannot be fetched as signed": never ready, and
# never fetched again for this version (a body longer than signed would otherwise be
# downloaded again at every sync, over a metered link).
_MEDIA_REJECT_CODES = {"central_foreign_url": "bad_origin", "central_bad_url": "bad_origin",
                       "central_body_too_long": "size_mismatch", "central_size_mismatch": "size_mismatch"}
# Kept free on the card beyond any download: the database, the journal and prepared audio need room.
DISK_RESERVE_BYTES = 64 * 1024 * 1024
_PRIORITY_RANK = {"emergency": 0, "priority": 1}

# (item id, title, bytes on disk, total bytes)
MediaProgress = Callable[[str, str, int, int], None]


@dataclass
class SyncResult:
    """What one sync did; ``error`` is set when central could not be (fully) used."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    revoked: int = 0
    rejected: int = 0
    ready: int = 0
    media_fetched: int = 0
    bytes: int = 0
    requests: int = 0
    deferred: int = 0
    speech: int = 0          # speech documents stored, dropped or made ready
    pages: int = 0
    not_modified: bool = False
    started_at: str = ""
    finished_at: str = ""
    error: CommuneRadioError | None = None   # CentralError, or StorageError (a full card) — never confused
    notes: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated or self.revoked or self.ready or self.speech)

    def note(self, error: CentralError | RejectedItem | StorageError) -> None:
        # Bounded: a hostile feed of 5,000 bad items must not make a huge summary.
        if len(self.notes) < 20:
            self.notes.append(error.as_dict())

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "error"}
        data["error"] = self.error.as_dict() if self.error else None
        return data


# --------------------------------------------------------------------------- pure core


def item_state(item: protocol.Item, *, media_present: bool, max_media_bytes: int,
               station_zones: Sequence[str] | None = None) -> tuple[str, str | None]:
    """The state a freshly accepted item starts in, and why when it is ``rejected``."""
    if item.revoked:
        return "revoked", None
    if station_zones is not None and not protocol.zones_on_station(item.zones, station_zones):
        # Central thinks this station has one of its zones; it has not: never playable here.
        return "rejected", "wrong_zone"
    if item.kind != "audio":
        # Text is synthesised locally; a stream is played from its URL at broadcast time.
        return "ready", None
    assert item.media is not None and item.media.bytes is not None
    if item.media.bytes > max_media_bytes:
        return "rejected", "too_large"
    return ("ready" if media_present else "waiting_media"), None


def item_row(item: protocol.Item, state: str, reason: str | None, now: str) -> dict[str, Any]:
    """The ``items`` columns for a validated item (timestamps normalised so they sort as text)."""
    media = item.media

    def norm(value: str | None) -> str | None:
        return to_utc_iso(protocol.parse_utc(value)) if value else None

    return {
        "id": item.id, "version": item.version, "kind": item.kind, "title": item.title,
        "text": item.text, "language": item.language, "priority": item.priority,
        "valid_from": norm(item.valid_from), "valid_until": norm(item.valid_until),
        "zones": json.dumps(list(item.zones)), "devices": json.dumps(list(item.devices)),
        "schedule": json.dumps(item.schedule, ensure_ascii=False) if item.schedule is not None else None,
        "approved_by": item.approved_by, "approved_at": norm(item.approved_at),
        "revoked": int(item.revoked),
        "media_url": media.url if media else None, "media_sha256": media.sha256 if media else None,
        "media_bytes": media.bytes if media else None, "media_mime": media.mime if media else None,
        "state": state, "reject_reason": reason, "source": "central",
        "document": json.dumps(item.document, ensure_ascii=False, separators=(",", ":")),
        "digest": item.digest, "key_id": item.key_id, "received_at": now, "updated_at": now,
    }


def _wrong_zone(item_id: str, item_zones: Sequence[str], station_zones: Sequence[str]) -> RejectedItem:
    wanted, have = ", ".join(item_zones), ", ".join(station_zones)
    return protocol.reject("wrong_zone", f"bản tin cho vùng {wanted}; trạm có {have}",
                           f"the item is for zone(s) {wanted}; this station has {have}", item_id)


def _raw_ident(raw: Any) -> tuple[str | None, int | None]:
    if not isinstance(raw, dict):
        return None, None
    ident = raw.get("id")
    version = raw.get("version")
    return (ident if isinstance(ident, str) else None,
            version if isinstance(version, int) and not isinstance(version, bool)
            and abs(version) < 2**63 else None)


def _raw_text(raw: Any) -> str:
    try:
        return json.dumps(raw, ensure_ascii=False)[:4096]
    except (TypeError, ValueError, RecursionError):
        return repr(raw)[:4096]


# --------------------------------------------------------------------------- shell


class Syncer:
    def __init__(self, config: Config, store: Store, media: MediaStore, client: CentralClient, *,
                 on_change: Callable[[], None] | None = None,
                 in_use: Callable[[], set[str]] | None = None) -> None:
        try:
            key = protocol.public_key_from_b64(config.central.public_key)
        except ValidationError as exc:
            raise ConfigError(
                f"Cấu hình sai trong {config.source}: khoá 'central.public_key': {exc.vi}",
                f"Invalid configuration in {config.source}: key 'central.public_key': {exc.en}",
            ) from None
        self.config = config
        self.store = store
        self.media = media
        self.client = client
        self.public_keys = [key]
        self.on_change = on_change
        # Media the daemon holds on to (playing, future slots): never removed to make room.
        self.in_use = in_use or set
        self._lock = threading.Lock()
        self._lock_path = config.data_path / "sync.lock"
        self._page_limit: int | None = None  # None: central's default page size
        self.speech = SpeechSync(store, media, self.public_keys)
        self.voice_offers = VoiceOfferSync(config, store, self.public_keys)

    # ------------------------------------------------------------------ entry point

    def sync_once(self, progress: MediaProgress | None = None) -> SyncResult:
        """Pull the feed, fetch missing media, record the outcome. Never raises for central's faults."""
        result = SyncResult(started_at=utc_now_iso())
        requests_before = self.client.requests_made
        with self._lock, self._process_lock() as locked:
            if not locked:
                result.error = CentralError(
                    "Một tiến trình khác đang đồng bộ; bỏ qua lần này.",
                    "Another process is syncing; skipping this run.", code="sync_busy")
                result.finished_at = utc_now_iso()
                return result
            self.store.update_sync_state(last_attempt_at=result.started_at)
            self._reconsider_zones(result)
            try:
                self._pull_feed(result)
            except CentralError as exc:
                result.error = exc
            try:
                self._fetch_media(result, progress)
                files, fetched = self.speech.fetch_media(self.client, quota_bytes=self.config.sync.storage_quota_bytes,
                                                         max_bytes=self.config.sync.max_media_bytes)
                result.speech += files
                result.bytes += fetched
                result.bytes += self.voice_offers.install_offered(self.client)
            except CentralError as exc:
                result.error = result.error or exc
            except StorageError as exc:
                result.note(exc)
                result.error = result.error or exc
            result.requests = self.client.requests_made - requests_before
            result.finished_at = utc_now_iso()
            self._record(result)
        if result.changed and self.on_change is not None:
            self.on_change()
        return result

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[bool]:
        """An flock shared with other processes (CLI ``sync --once`` while the daemon runs).

        The kernel drops it when a process dies, even by SIGKILL.
        """
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ feed

    def _pull_feed(self, result: SyncResult) -> None:
        state = self.store.sync_state()
        cursor, etag = state.get("cursor"), state.get("etag")
        for _ in range(MAX_PAGES_PER_SYNC):
            try:
                page = self.client.get_feed(self.config.device.id, cursor, etag, self._page_limit, FEED_INCLUDE)
            except CentralError as exc:
                smaller = [n for n in FEED_LIMITS if n < (self._page_limit or protocol.FEED_PAGE_LIMIT)]
                if exc.code == "central_too_large" and smaller:
                    # Long bulletins made the page bigger than we read: ask for fewer items per page
                    # (remembered), instead of fetching the same oversized page at every sync.
                    self._page_limit = smaller[0]
                    self.store.log_event("sync_smaller_pages", exc.vi, {"en": exc.en, "limit": self._page_limit},
                                         level="warning")
                    continue
                if exc.code != "central_bad_cursor" or cursor is None:
                    raise
                # Protocol §3: forget the position and take the whole feed (replays are harmless).
                self.store.log_event("sync_cursor_reset", exc.vi, {"en": exc.en}, level="warning")
                self.store.update_sync_state(cursor=None, etag=None)
                cursor = etag = None
                continue
            if page.not_modified:
                result.not_modified = result.pages == 0
                return
            envelope = protocol.parse_feed_page(page.data)
            result.pages += 1
            for raw in envelope.items:
                self._accept(raw, result)
            result.speech += self.speech.accept_page(envelope.items, envelope.speech)
            if envelope.voice_packs is not None:
                self.voice_offers.offered(envelope.voice_packs)
            # The cursor moves only now: every item of the page is committed.
            cursor = envelope.cursor
            etag = page.etag if not envelope.more else None
            self.store.update_sync_state(cursor=cursor, etag=etag)
            if not envelope.more:
                return
        raise CentralError("Nguồn tin của trung tâm không kết thúc; sẽ tiếp tục lần sau.",
                           "Central's feed does not end; will continue next time.", code="central_feed_loop")

    def _accept(self, raw: Any, result: SyncResult) -> None:
        """Verify one item document and store it in its own transaction (or record the rejection)."""
        try:
            item = protocol.validate_item(raw, self.public_keys, device_id=self.config.device.id)
        except RejectedItem as exc:
            ident, version = _raw_ident(raw)
            self._reject(exc, ident, version, _raw_text(raw), result)
            return
        media_present = bool(item.kind == "audio" and item.media and item.media.sha256
                             and self.media.has(item.media.sha256) and self.media.verify(item.media.sha256))
        state, reason = item_state(item, media_present=media_present,
                                   max_media_bytes=self.config.sync.max_media_bytes,
                                   station_zones=self.config.zone_names())
        now = utc_now_iso()
        try:
            with self.store.transaction() as tx:
                held = tx.execute("SELECT version, digest, state, received_at FROM items WHERE id = ?",
                                  (item.id,)).fetchone()
                is_new = protocol.check_version(item, held["version"] if held else None,
                                                held["digest"] if held else None)
                if is_new and held is not None and held["state"] == "revoked" and not item.revoked:
                    raise protocol.reject(
                        "replay", "bản tin đã thu hồi không được phát lại",
                        "a revoked item never becomes playable again", item.id)
                if not is_new:
                    result.unchanged += 1
                    return
                row = item_row(item, state, reason, now)
                if held is not None:
                    row["received_at"] = held["received_at"]
                columns = ", ".join(row)
                tx.execute(f"INSERT OR REPLACE INTO items ({columns}) VALUES ({', '.join('?' * len(row))})",
                           tuple(row.values()))
                if media_present and item.media is not None:
                    self._note_media(tx, item.media.sha256, item.media.bytes, item.media.mime)
                self.store.log_event(
                    "item_received", f"Nhận bản tin {item.id} v{item.version}: {item.title}",
                    {"id": item.id, "version": item.version, "state": state, "kind": item.kind,
                     "priority": item.priority}, conn=tx)
        except RejectedItem as exc:  # replay: the stored row is untouched
            self._reject(exc, item.id, item.version, _raw_text(raw), result)
            return
        if held is None:
            result.new += 1
        else:
            result.updated += 1
        if state == "revoked":
            result.revoked += 1
        elif state == "ready":
            result.ready += 1
        elif state == "rejected" and reason == "wrong_zone":
            self._reject(_wrong_zone(item.id, item.zones, self.config.zone_names()), item.id, item.version,
                         None, result)
        elif state == "rejected" and reason == "too_large":
            assert item.media is not None
            limit = self.config.sync.max_media_bytes
            self._reject(protocol.reject(
                "too_large", f"tệp {item.media.bytes} byte vượt giới hạn {limit} byte; không tải",
                f"media of {item.media.bytes} bytes exceeds the {limit}-byte limit; not downloaded",
                item.id), item.id, item.version, None, result)

    def _reject(self, exc: RejectedItem, ident: str | None, version: int | None,
                document: str | None, result: SyncResult) -> None:
        log.warning("%s", exc.en)
        result.rejected += 1
        result.note(exc)
        self.store.record_rejection(reason=exc.reason, vi=exc.vi, en=exc.en, item_id=ident,
                                    version=version, document=document)

    def _reconsider_zones(self, result: SyncResult) -> None:
        """The station's zones are configuration: when a technician adds or renames one, items
        held as not for this station may now be for it, and playable ones may no longer be."""
        zones = self.config.zone_names()
        rows = self.store.query(
            "SELECT id, version, kind, zones, state, reject_reason FROM items WHERE source = 'central'"
            " AND (state IN ('ready', 'waiting_media') OR (state = 'rejected' AND reject_reason = 'wrong_zone'))")
        for row in rows:
            item_zones = json.loads(row["zones"])
            here = bool(protocol.zones_on_station(item_zones, zones))
            if row["state"] == "rejected" and here:
                state = "waiting_media" if row["kind"] == "audio" else "ready"
                with self.store.transaction() as tx:
                    tx.execute("UPDATE items SET state = ?, reject_reason = NULL, updated_at = ? WHERE id = ?"
                               " AND version = ?", (state, utc_now_iso(), row["id"], row["version"]))
                    self.store.log_event("item_zones_here", f"Bản tin {row['id']} nay dành cho trạm này",
                                         {"id": row["id"], "zones": item_zones, "state": state}, conn=tx)
                result.updated += 1
            elif row["state"] != "rejected" and not here:
                exc = _wrong_zone(row["id"], item_zones, zones)
                self._mark_rejected(dict(row), exc, result, from_states=("ready", "waiting_media"))

    # ------------------------------------------------------------------ media

    def _fetch_media(self, result: SyncResult, progress: MediaProgress | None) -> None:
        now = utc_now_iso()
        waiting = self.store.list_items(states=("waiting_media",))
        # Urgent first, then small before big: a short alert never waits behind a long programme.
        waiting.sort(key=lambda i: (_PRIORITY_RANK.get(i["priority"], 2), i.get("media_bytes") or 0, i["id"]))
        for item in waiting:
            if item_is_expired(item, now):
                continue  # never spend the link on something that can no longer play
            try:
                self._fetch_one(item, result, progress)
            except StorageError as exc:
                # The card, not the link: this item waits for room; the others are tried all the same.
                self.media.discard_partial(item["media_sha256"])
                result.deferred += 1
                result.note(exc)
                result.error = result.error or exc
                self.store.log_event("media_failed", exc.vi, {"id": item["id"], "code": exc.code, "en": exc.en},
                                     level="warning", repeat_key=f"{exc.code}:{item['id']}")

    def _fetch_one(self, item: dict[str, Any], result: SyncResult, progress: MediaProgress | None) -> None:
        sha, size, url = item["media_sha256"], item["media_bytes"], item["media_url"]
        if size > self.config.sync.max_media_bytes:
            self._mark_rejected(item, protocol.reject(
                "too_large", f"tệp {size} byte vượt giới hạn", f"media of {size} bytes exceeds the limit",
                item["id"]), result)
            return
        if self.media.has(sha):
            if self.media.verify(sha):
                self._mark_ready(item, result)
                return
            self.media.delete(sha)  # rotten copy on the card: fetch it again
        if not self._make_room(size, sha):
            result.deferred += 1
            quota = self.config.sync.storage_quota_bytes
            free = self.media.disk_free_bytes()
            if size - self.media.partial_bytes(sha) > free - DISK_RESERVE_BYTES:
                error: CommuneRadioError = CardFull(
                    f"Thẻ nhớ sắp đầy: không đủ chỗ cho {item['id']} ({size} byte, còn trống {free} byte); chưa tải.",
                    f"The SD card is nearly full: no room for {item['id']} ({size} bytes, {free} bytes free); "
                    "not downloaded.")
                result.error = result.error or error
            else:
                error = StorageError(
                    f"Không đủ dung lượng cho {item['id']} ({size} byte, hạn mức {quota} byte); chưa tải.",
                    f"No room for {item['id']} ({size} bytes, quota {quota} bytes); not downloaded.",
                    code="storage_quota")
            result.note(error)
            self.store.log_event("media_deferred", error.vi, {"id": item["id"], "bytes": size,
                                                              "en": error.en}, level="warning",
                                 repeat_key=f"{error.code}:{item['id']}")
            return

        def report(done: int, total: int) -> None:
            if progress is not None:
                progress(item["id"], item["title"], done, total)

        for attempt in range(2):
            part = self.media.open_partial(sha)
            try:
                stats = self.client.download(url, part, size, progress=report)
            except CentralError as exc:
                if exc.code in _MEDIA_REJECT_CODES:
                    self.media.discard_partial(sha)
                    self._mark_rejected(item, protocol.reject(
                        _MEDIA_REJECT_CODES[exc.code], exc.vi, exc.en, item["id"]), result)
                    return
                result.deferred += 1
                result.note(exc)
                self.store.log_event("media_failed", exc.vi, {"id": item["id"], "code": exc.code,
                                                              "en": exc.en}, level="warning",
                                     repeat_key=f"{exc.code}:{item['id']}")
                if exc.code in ("central_unreachable", "central_timeout", "central_unavailable",
                                "central_busy", "central_auth"):
                    raise  # the link or central is down: the other media would fail the same way
                return
            result.bytes += stats.bytes_fetched
            try:
                self.media.commit_partial(sha, size)
            except OSError as exc:
                raise disk_error(exc, "media") from None
            except MediaMismatch as exc:
                if attempt == 0 and stats.resumed_from > 0:
                    # The resumed prefix may be what a power cut left: fetch it whole once more.
                    continue
                self._mark_rejected(item, protocol.reject(
                    exc.reason if exc.reason in protocol.REJECT_REASONS else "checksum_mismatch",
                    exc.vi, exc.en, item["id"]), result)
                return
            result.media_fetched += 1
            self._mark_ready(item, result)
            return

    def _make_room(self, size: int, sha: str) -> bool:
        """Room for ``size`` bytes of ``sha`` in the quota and on the card: other partial downloads
        go first (they play nothing), then complete files that nothing needs any more."""
        quota = self.config.sync.storage_quota_bytes

        def fits() -> bool:
            return self.media.fits(size, quota, sha, reserve_bytes=DISK_RESERVE_BYTES)

        if fits():
            return True
        partials, partial_bytes = self.media.drop_partials(keep=sha)
        deleted: tuple[str, ...] = ()
        freed = partial_bytes
        if not fits():
            keep = self.store.referenced_media() | set(self.in_use()) | {sha}
            report = self.media.retain(keep)
            deleted, freed = report.deleted, freed + report.freed_bytes
            partials += report.partials_removed
        if deleted or partials:
            with self.store.transaction() as tx:
                tx.executemany("DELETE FROM media WHERE sha256 = ?", [(s,) for s in deleted])
                self.store.log_event(
                    "media_retention", f"Đã xoá {len(deleted)} tệp không còn dùng và {partials} tệp tải dở để có chỗ",
                    {"deleted": len(deleted), "partials": partials, "bytes": freed,
                     "en": f"deleted {len(deleted)} unused files and {partials} partial downloads to make room"},
                    conn=tx)
        return fits()

    def _mark_ready(self, item: dict[str, Any], result: SyncResult) -> None:
        with self.store.transaction() as tx:
            self._note_media(tx, item["media_sha256"], item["media_bytes"], item["media_mime"])
            changed = tx.execute(
                "UPDATE items SET state = 'ready', updated_at = ? WHERE id = ? AND version = ?"
                " AND state = 'waiting_media'", (utc_now_iso(), item["id"], item["version"])).rowcount
            if changed:
                self.store.log_event("item_ready", f"Bản tin {item['id']} sẵn sàng phát",
                                     {"id": item["id"], "version": item["version"]}, conn=tx)
        if changed:
            result.ready += 1
            if self.on_change is not None:
                self.on_change()  # an emergency must not wait for the other downloads

    def _mark_rejected(self, item: dict[str, Any], exc: RejectedItem, result: SyncResult, *,
                       from_states: tuple[str, ...] = ("waiting_media",)) -> None:
        log.warning("%s", exc.en)
        result.rejected += 1
        result.note(exc)
        with self.store.transaction() as tx:
            tx.execute(f"UPDATE items SET state = 'rejected', reject_reason = ?, updated_at = ?"
                       f" WHERE id = ? AND version = ? AND state IN ({', '.join('?' * len(from_states))})",
                       (exc.reason, utc_now_iso(), item["id"], item["version"], *from_states))
            self.store.record_rejection(reason=exc.reason, vi=exc.vi, en=exc.en, item_id=item["id"],
                                        version=item["version"], conn=tx)

    @staticmethod
    def _note_media(tx: Any, sha: str | None, size: int | None, mime: str | None) -> None:
        tx.execute("INSERT OR IGNORE INTO media (sha256, bytes, mime, stored_at) VALUES (?, ?, ?, ?)",
                   (sha, size, mime, utc_now_iso()))

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, result: SyncResult) -> None:
        state = self.store.sync_state()
        failures = 0 if result.ok else int(state.get("consecutive_failures") or 0) + 1
        fields: dict[str, Any] = {
            "last_result": {k: v for k, v in result.as_dict().items() if k not in ("notes", "error")},
            "last_error": result.error.as_dict() if result.error else None,
            "consecutive_failures": failures,
        }
        if not isinstance(result.error, CentralError):
            # Central answered (a full card is the station's problem, not the link's).
            fields["last_success_at"] = result.finished_at
        if self.client.last_server_time is not None:
            fields["last_server_time"] = to_utc_iso(self.client.last_server_time)
            fields["server_offset_s"] = self.client.server_offset_s
        with self.store.transaction() as tx:
            self.store.update_sync_state(conn=tx, **fields)
            if result.error is not None:
                self.store.log_event("sync_failed", result.error.vi,
                                     {"code": result.error.code, "en": result.error.en}, level="warning", conn=tx,
                                     repeat_key=result.error.code)
            elif result.changed or result.rejected:
                summary = {k: getattr(result, k) for k in ("new", "updated", "revoked", "rejected", "ready",
                                                           "media_fetched", "bytes")}
                self.store.log_event("sync", "Đồng bộ xong", summary, conn=tx)


def open_syncer(config: Config, *, store: Store | None = None, client: CentralClient | None = None,
                on_change: Callable[[], None] | None = None) -> Syncer:
    """A Syncer wired from the configuration (the CLI and the daemon use this)."""
    store = store or Store.open(config.db_path)
    client = client or CentralClient.from_config(config)
    return Syncer(config, store, MediaStore(config.media_dir), client, on_change=on_change)


def server_clock(store: Store) -> tuple[datetime | None, float | None]:
    """Central's last reported time and its offset from ours (seconds), as recorded by sync."""
    state = store.sync_state()
    stamp = state.get("last_server_time")
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC) if stamp else None
    return moment, state.get("server_offset_s")

