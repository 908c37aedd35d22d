"""The reference central's catalogue: devices, items, media and the per-device feed.

This is the Python API that the CLI, the HTTP server, the demo and the tests share. Items go
draft → approved (signed on approval) → revoked (a new signed version with ``revoked: true``).
Each publication takes the next feed position; a device's cursor is the position it has seen,
qualified by an epoch that is random per database, so a central rebuilt from scratch never
answers "nothing new" to a stale cursor. Storage is ``central.store`` (SQLite or PostgreSQL);
this module validates, signs and decides what a device's feed holds.

A feed poll writes nothing and reads only the index entries of the device's own audience
(``central.audience``), so an unchanged poll costs the same whatever other communes publish.

Why one module of this length: it is the whole item-and-device service (validation of every
operator input, signing, publication, the feed and the test hooks that forge feed entries);
the editorial workflow (issue 12) is expected to move items into a module of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import protocol
from central.audience import device_audience, item_audience, reaches
from central.config import CentralConfig
from central.content_rules import check_audio_media, check_media_type
from central.device_cache import DeviceCache
from central.keys import load_or_create_key
from central.media import MediaFiles
from central.store import Store, Transaction
from central.store.devices import DeviceRow, DuplicateDevice
from central.store.items import DuplicateItem, ItemRow
from protocol.errors import RejectedItem, ValidationError

Clock = Callable[[], datetime]
_CURSOR_RE = re.compile(r"^([0-9a-f]{8})\.([0-9]{1,15})$")
# Fields an operator may change on an item; targeting is fixed once published (see update_item).
_CONTENT_FIELDS = ("kind", "title", "text", "language", "media", "priority", "valid_from",
                   "valid_until", "schedule")
_TARGET_FIELDS = ("zones", "devices", "communes")
_COMMUNE_RE = re.compile(r"^[0-9]{5}$")
_FEED_BATCH = 200


def system_clock() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invalid(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en)


def _no_item(item_id: str) -> ValidationError:
    return _invalid(f"Không có bản tin {str(item_id)[:64]}.", f"No item {str(item_id)[:64]}.")


def _utc_or_none(value: Any) -> datetime | None:
    try:
        return protocol.parse_utc(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Device:
    id: str
    zones: tuple[str, ...]
    created_at: str


@dataclass(frozen=True)
class FeedAnswer:
    body: dict[str, Any]
    etag: str


class BadCursor(ValueError):
    """The cursor is not one this central could have issued (HTTP 400)."""


def _target(value: Any) -> list[str] | None:
    return list(value) if value is not None else None


def _device(row: DeviceRow) -> Device:
    return Device(id=row.id, zones=row.zones, created_at=protocol.format_utc(row.created_at))


class Catalog:
    """Thread-safe handle on one central: its data directory (key, media) and its database."""

    def __init__(self, data_dir: Path, *, clock: Clock | None = None, config: CentralConfig | None = None,
                 store: Store | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.clock: Clock = clock or system_clock
        self.config = config or CentralConfig(data_dir=self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = load_or_create_key(self.data_dir)
        self.media = MediaFiles(self.data_dir / "media")
        self._owns_store = store is None
        self._closers: list[Callable[[], None]] = []
        self.store = store or Store.open(self.config.effective_database_url, pool_size=self.config.pool_size,
                                         max_overflow=self.config.max_overflow)
        with self.store.read() as tx:
            epoch = tx.meta.get("epoch")
        if epoch is None:  # a new database: its feed positions get an epoch of their own
            with self.store.write() as tx:
                epoch = tx.meta.get_or_set("epoch", secrets.token_hex(4))
        self.epoch = epoch
        # Tokens and waiting commands of the device endpoints, without a database round trip.
        self.device_cache: DeviceCache[Device] = DeviceCache(
            self.store, self.clock, load_all=lambda tx: {row.token_hash: _device(row) for row in tx.devices.list()})
        from central.speech import SpeechDesk  # the service of rendered speech (issue 17)

        self.speech = SpeechDesk(self)

    # ------------------------------------------------------------------ plumbing

    def at_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the catalog closes, before its store (held heartbeats, services
        that hold processes or files)."""
        self._closers.append(callback)

    on_close = at_close

    def close(self) -> None:
        closers, self._closers = self._closers, []
        for callback in reversed(closers):
            callback()
        self.speech.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now_iso(self) -> str:
        return protocol.format_utc(self.clock())

    # ------------------------------------------------------------------ keys

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_key_b64(self) -> str:
        return protocol.public_key_to_b64(self.public_key)

    @property
    def key_id(self) -> str:
        return protocol.key_id(self.public_key)

    # ------------------------------------------------------------------ devices

    def add_device(self, device_id: str, zones: Sequence[str], *, province: str = "") -> str:
        """Register a device; returns its bearer token (shown once, only its hash is kept)."""
        return self.add_devices([(device_id, zones, province)])[device_id]

    def add_devices(self, devices: Sequence[tuple[str, Sequence[str], str]]) -> dict[str, str]:
        """Register (id, zones, province) devices in one transaction, all or none; returns each
        one's bearer token (shown once, only its hash is kept). Raises ValidationError."""
        checked = []
        for device_id, zones, province in devices:
            checked.append((self._check_device_id(device_id), self._check_zones(zones, allow_all=False),
                            self._check_province(province)))
        tokens = {device_id: secrets.token_urlsafe(32) for device_id, _, _ in checked}
        if len(tokens) != len(checked):
            raise _invalid("Danh sách có mã thiết bị trùng lặp.", "The list names a device twice.")
        now = self.clock()
        try:
            with self.store.write() as tx:
                for device_id, zone_list, province in checked:
                    current = device_id
                    tx.devices.add(device_id, token_hash=token_hash(tokens[device_id]), zones=zone_list, now=now,
                                   province=province)
        except DuplicateDevice:
            raise _invalid(f"Thiết bị {current} đã tồn tại.", f"Device {current} already exists.") from None
        return tokens

    @staticmethod
    def _check_province(province: Any) -> str:
        if not isinstance(province, str) or len(province.strip()) > 80 or any(
                ch < " " or ch == "\x7f" for ch in province):
            raise _invalid(f"Tên tỉnh không hợp lệ: {str(province)[:40]!r} (tối đa 80 ký tự).",
                           f"Invalid province {str(province)[:40]!r} (at most 80 characters).")
        return province.strip()

    def rotate_token(self, device_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.store.write() as tx:
            if not tx.devices.set_token_hash(device_id, token_hash(token)):
                raise _invalid(f"Không có thiết bị {device_id}.", f"No device {device_id}.")
        self.device_cache.forget_tokens()  # after the commit: the old token stops here at once
        return token

    def set_device_zones(self, device_id: str, zones: Sequence[str]) -> None:
        zone_list = self._check_zones(zones, allow_all=False)
        with self.store.write() as tx:
            if not tx.devices.set_zones(device_id, zone_list):
                raise _invalid(f"Không có thiết bị {device_id}.", f"No device {device_id}.")
        self.device_cache.forget_tokens()

    def get_device(self, device_id: str) -> Device | None:
        with self.store.read() as tx:
            row = tx.devices.get(device_id)
        return _device(row) if row is not None else None

    def list_devices(self) -> list[Device]:
        with self.store.read() as tx:
            return [_device(r) for r in tx.devices.list()]

    def authenticate(self, token: str | None) -> Device | None:
        """The device owning ``token``, or None. Lookup by hash, compared in constant time; kept
        in ``device_cache`` (a changed token stops working within its refresh, see there)."""
        if not token or len(token) > 200:
            return None
        return self.device_cache.device(token_hash(token), self._device_by_hash)

    def _device_by_hash(self, wanted: str) -> Device | None:
        with self.store.read() as tx:
            row = tx.devices.by_token_hash(wanted)
        if row is None or not hmac.compare_digest(row.token_hash, wanted):
            return None
        return _device(row)

    @staticmethod
    def _check_device_id(device_id: Any) -> str:
        if not isinstance(device_id, str) or not protocol.DEVICE_ID_RE.match(device_id):
            raise _invalid(
                f"Mã thiết bị không hợp lệ: {str(device_id)[:40]!r} (cần mã xã 5 chữ số, '-', số sê-ri).",
                f"Invalid device id {str(device_id)[:40]!r} (expected 5-digit commune code, '-', serial).")
        return device_id

    @staticmethod
    def _check_zones(zones: Any, *, allow_all: bool) -> list[str]:
        if isinstance(zones, str) or not isinstance(zones, Sequence):
            raise _invalid("Danh sách vùng phải là một danh sách.", "Zones must be a list.")
        zone_list = list(zones)
        if allow_all and zone_list == ["*"]:
            return zone_list
        if not zone_list or len(set(zone_list)) != len(zone_list) or not all(
                isinstance(z, str) and protocol.ZONE_RE.match(z) for z in zone_list):
            raise _invalid(
                f"Vùng không hợp lệ: {zone_list!r} (chữ thường, số, '-', '_'; không trùng lặp).",
                f"Invalid zones {zone_list!r} (lower-case letters, digits, '-', '_'; no duplicates).")
        return zone_list

    # ------------------------------------------------------------------ media

    def add_media(self, source: Path | bytes, *, mime: str | None = None) -> dict[str, Any]:
        """Store an audio file; returns the protocol ``media`` object referencing it."""
        if isinstance(source, bytes | bytearray):
            guessed = None
        else:
            path = Path(source)
            if not path.is_file():
                raise _invalid(f"Không có tệp {path}.", f"No such file {path}.")
            guessed = mimetypes.guess_type(path.name)[0]
        mime = check_media_type("audio", mime or guessed or "application/octet-stream")  # before storing
        if isinstance(source, bytes | bytearray):
            import io

            sha, size = self.media.put_stream(io.BytesIO(bytes(source)))
        else:
            sha, size = self.media.put_file(path)
        if size == 0:
            raise _invalid("Tệp âm thanh rỗng.", "The audio file is empty.")
        with self.store.write() as tx:
            tx.items.add_media(sha, size=size, mime=mime, now=self.clock())
        return {"url": f"/v1/media/{sha}", "sha256": sha, "bytes": size, "mime": mime}

    def media_info(self, sha256: str) -> tuple[Path, int, str] | None:
        """(path, bytes, mime) of stored media, or None."""
        if not self.media.has(sha256):
            return None
        with self.store.read() as tx:
            found = tx.items.media(sha256)
        if found is None:
            return None
        return self.media.path_for(sha256), found[0], found[1]

    # ------------------------------------------------------------------ items

    def add_item(self, *, kind: str, title: str, text: str = "", language: str = "vi",
                 media: Mapping[str, Any] | None = None, priority: str = "normal",
                 valid_from: str | None = None, valid_until: str | None = None,
                 zones: Sequence[str] = ("*",), devices: Sequence[str] = ("*",),
                 schedule: Mapping[str, Any] | None = None, item_id: str | None = None,
                 communes: Sequence[str] | None = None) -> str:
        """Create a draft; returns its id. The draft is validated as the device would.

        ``communes`` limits the item to devices of these communes (5-digit codes; None: all)."""
        item_id = item_id or f"it-{secrets.token_hex(6)}"
        content = {"kind": kind, "title": title, "text": text, "language": language,
                   "media": dict(media) if media is not None else None, "priority": priority,
                   "valid_from": valid_from or self._now_iso(), "valid_until": valid_until,
                   "schedule": dict(schedule) if schedule is not None else None}
        targets = {"zones": list(zones), "devices": list(devices),
                   "communes": list(communes) if communes is not None else None}
        self._check_content(item_id, content, targets)
        try:
            with self.store.write() as tx:
                tx.items.add(item_id, draft=content, zones=targets["zones"], devices=targets["devices"],
                             communes=targets["communes"], now=self.clock())
        except DuplicateItem:
            raise _invalid(f"Bản tin {item_id} đã tồn tại.", f"Item {item_id} already exists.") from None
        return item_id

    def update_item(self, item_id: str, **changes: Any) -> None:
        """Change a draft or an approved item; the change waits for approval as a new version.

        Targeting (zones, devices) is fixed once an item has been published: a device that
        already holds it must keep receiving its later versions, so narrowing the audience
        means revoking and creating a new item.
        """
        unknown = set(changes) - set(_CONTENT_FIELDS) - set(_TARGET_FIELDS)
        if unknown:
            names = ", ".join(sorted(unknown))
            raise _invalid(f"Không sửa được trường {names}.", f"Cannot change field(s) {names}.")
        row = self._item_row(item_id)
        if row.state == "revoked":
            raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is revoked.")
        targets: dict[str, Any] = {"zones": row.zones, "devices": row.devices, "communes": row.communes}
        if row.published is not None and any(
                f in changes and _target(changes[f]) != targets[f] for f in _TARGET_FIELDS):
            raise _invalid("Không đổi được vùng/thiết bị của bản tin đã phát hành; hãy thu hồi và tạo bản tin mới.",
                           "Targeting of a published item is fixed; revoke it and create a new item.")
        content = dict(row.draft)
        for field in _CONTENT_FIELDS:
            if field in changes:
                value = changes[field]
                content[field] = dict(value) if isinstance(value, Mapping) else value
        for field in _TARGET_FIELDS:
            if field in changes:
                targets[field] = _target(changes[field])
        self._check_content(item_id, content, targets)
        with self.store.write() as tx:
            current = self._locked_row(tx, item_id)
            if current.state == "revoked" or (current.published is not None and (
                    current.zones, current.devices, current.communes) != (row.zones, row.devices, row.communes)):
                raise _invalid(f"Bản tin {item_id} vừa thay đổi; hãy thử lại.",
                               f"Item {item_id} changed meanwhile; try again.")
            tx.items.set_draft(item_id, content, zones=targets["zones"], devices=targets["devices"],
                               communes=targets["communes"], now=self.clock())
            tx.items.set_state(item_id, "draft", now=self.clock())

    def approve_item(self, item_id: str, *, by: str) -> dict[str, Any]:
        """Sign the draft as the next version and publish it; returns the signed document."""
        self._check_person(by)
        speech = self.speech.render_draft(self._item_row(item_id))  # seconds of TTS: before the write lock
        with self.store.write() as tx:
            row = self._locked_row(tx, item_id)
            if row.state == "revoked":
                raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is revoked.")
            if row.state == "approved":
                raise _invalid(f"Bản tin {item_id} đã được duyệt, không có thay đổi chờ duyệt.",
                               f"Item {item_id} is already approved; nothing is waiting for approval.")
            doc = self._document(row, row.draft, version=row.version + 1, by=by, revoked=False)
            signed = self._publish(tx, row, doc, state="approved")
            self.speech.attach(tx, signed, speech)  # same transaction: the item never appears without it
            return signed

    def revoke_item(self, item_id: str, *, by: str = "central") -> dict[str, Any] | None:
        """Withdraw an item: devices receive a new signed version with ``revoked: true``.

        Returns that document, or None for a draft that was never published.
        """
        self._check_person(by)
        with self.store.write() as tx:
            row = self._locked_row(tx, item_id)
            if row.state == "revoked":
                raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is already revoked.")
            if row.published is None:
                tx.items.set_state(item_id, "revoked", now=self.clock())
                return None
            # The withdrawal keeps the content devices hold; only version, approval and flag change.
            held = json.loads(row.published)
            content = {f: held.get(f) for f in _CONTENT_FIELDS}
            doc = self._document(row, content, version=row.version + 1, by=by, revoked=True)
            return self._publish(tx, row, doc, state="revoked")

    def list_items(self) -> list[dict[str, Any]]:
        with self.store.read() as tx:
            rows = tx.items.list()
        return [{
            "id": row.id, "state": row.state, "version": row.version, "kind": row.draft["kind"],
            "title": row.draft["title"], "priority": row.draft["priority"], "zones": row.zones,
            "devices": row.devices, "communes": row.communes, "published": row.published is not None, "seq": row.seq,
            "valid_until": row.draft["valid_until"], "updated_at": protocol.format_utc(row.updated_at),
        } for row in rows]

    def get_item(self, item_id: str) -> ItemRow:
        """The item's row: its pending draft, targets, state and signed document."""
        return self._item_row(item_id)

    def get_published(self, item_id: str) -> dict[str, Any] | None:
        row = self._item_row(item_id)
        return json.loads(row.published) if row.published is not None else None

    def item_row(self, item_id: str) -> ItemRow:
        return self._item_row(item_id)

    def _item_row(self, item_id: str) -> ItemRow:
        with self.store.read() as tx:
            row = tx.items.get(item_id)
        if row is None:
            raise _no_item(item_id)
        return row

    @staticmethod
    def _locked_row(tx: Transaction, item_id: str) -> ItemRow:
        row = tx.items.get(item_id, for_update=True)
        if row is None:
            raise _no_item(item_id)
        return row

    @staticmethod
    def _check_person(by: Any) -> None:
        if not isinstance(by, str) or not 1 <= len(by.strip()) <= 100 or any(ord(ch) < 32 for ch in by):
            raise _invalid("Tên người duyệt không hợp lệ (1–100 ký tự).", "Invalid approver name (1-100 characters).")

    def _check_content(self, item_id: str, content: dict[str, Any], targets: dict[str, Any]) -> None:
        """Validate a draft exactly as a device would validate the signed item."""
        self._check_zones(targets["zones"], allow_all=True)
        communes = targets.get("communes")
        if communes is not None and (not communes or len(set(communes)) != len(communes) or not all(
                isinstance(c, str) and _COMMUNE_RE.match(c) for c in communes)):
            raise _invalid("Danh sách xã không hợp lệ (mã xã 5 chữ số, không trùng lặp).",
                           "Invalid communes (5-digit commune codes, no duplicates).")
        if targets["devices"] != ["*"]:
            for device in targets["devices"]:
                self._check_device_id(device)
        probe = {"id": item_id, "version": 1, **content, "zones": targets["zones"], "devices": targets["devices"],
                 "approved_by": "central",
                 "approved_at": self._now_iso(), "revoked": False}
        media = content.get("media")
        if content["kind"] in ("audio", "stream") and isinstance(media, Mapping):
            check_media_type(content["kind"], media.get("mime"))  # the operator's words, not "malformed"
        try:
            protocol.check_item_shape(probe)
        except RejectedItem as exc:
            raise ValidationError(exc.vi, exc.en) from None
        if content["kind"] == "audio":
            found = self.media_info(media["sha256"])
            check_audio_media(media, (found[1], found[2]) if found is not None else None)

    def _document(self, row: ItemRow, content: dict[str, Any], *, version: int, by: str,
                  revoked: bool) -> dict[str, Any]:
        return {"id": row.id, "version": version, **{f: content[f] for f in _CONTENT_FIELDS},
                "zones": row.zones, "devices": row.devices,
                "approved_by": by.strip(), "approved_at": self._now_iso(), "revoked": revoked}

    def _publish(self, tx: Transaction, row: ItemRow, doc: dict[str, Any], *, state: str) -> dict[str, Any]:
        signed = protocol.sign_item(doc, self._key)
        self._store_published(tx, row, signed, version=doc["version"], state=state)
        return signed

    def _store_published(self, tx: Transaction, row: ItemRow, doc: Any, *, version: int | None = None,
                         state: str | None = None) -> None:
        valid_until = _utc_or_none(doc.get("valid_until")) if isinstance(doc, dict) else None
        tx.items.publish(row.id, json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
                         audience=item_audience(row.zones, row.devices, row.communes), valid_until=valid_until,
                         now=self.clock(), version=version, state=state)

    def republish_in(self, tx: Transaction, item_id: str, doc: dict[str, Any]) -> None:
        """The same signed document at a new feed position (its speech or offers changed)."""
        self._store_published(tx, self._locked_row(tx, item_id), doc)

    # ------------------------------------------------------------------ test hooks

    def _republish(self, item_id: str, doc: Any) -> None:
        with self.store.write() as tx:
            self._store_published(tx, self._locked_row(tx, item_id), doc)

    def tamper_published(self, item_id: str, mutate: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Test hook: change the stored signed document without re-signing, and re-publish it.

        ``mutate`` edits the document in place. Devices see it as a new feed entry.
        """
        doc = self.get_published(item_id)
        if doc is None:
            raise _invalid(f"Bản tin {item_id} chưa phát hành.", f"Item {item_id} is not published.")
        mutate(doc)
        self._republish(item_id, doc)
        return doc

    def flip_byte(self, item_id: str, field: str) -> dict[str, Any]:
        """Test hook: flip one character of a string field (``media.sha256`` style paths allowed)."""
        def mutate(doc: dict[str, Any]) -> None:
            *parents, leaf = field.split(".")
            target = doc
            for name in parents:
                target = target[name]
            value = target[leaf]
            if isinstance(value, str) and value:
                # XOR the low bit of the last character keeps the value printable ASCII-ish.
                target[leaf] = value[:-1] + chr(ord(value[-1]) ^ 1)
            elif isinstance(value, bool):
                target[leaf] = not value
            elif isinstance(value, int):
                target[leaf] = value ^ 1
            else:
                raise _invalid(f"Không sửa được trường {field}.", f"Cannot flip field {field}.")
        return self.tamper_published(item_id, mutate)

    def publish_raw(self, item_id: str, doc: Any) -> None:
        """Test hook: serve ``doc`` (anything JSON) as the item's feed entry, as-is."""
        self._item_row(item_id)
        self._republish(item_id, doc)

    def resign_with(self, item_id: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
        """Test hook: serve the item signed with another (untrusted) key."""
        doc = self.get_published(item_id)
        if doc is None:
            raise _invalid(f"Bản tin {item_id} chưa phát hành.", f"Item {item_id} is not published.")
        signed = protocol.sign_document(doc, private_key, domain=protocol.ITEM_DOMAIN)
        self._republish(item_id, signed)
        return signed

    # ------------------------------------------------------------------ feed

    def _after(self, tx: Transaction, cursor: str | None) -> int | None:
        if cursor is None or cursor == "":
            return None
        match = _CURSOR_RE.match(cursor)
        if match is None:
            raise BadCursor(cursor)
        if match.group(1) != self.epoch:
            return None  # issued by another central database: start over
        seq = int(match.group(2))
        # A cursor ahead of us means our database was restored from an older backup.
        return None if seq > tx.items.feed_top() else seq

    def parse_cursor(self, cursor: str | None) -> int | None:
        """Feed position after which to send, or None for a full (initial) feed."""
        with self.store.read() as tx:
            return self._after(tx, cursor)

    def feed(self, device: Device, cursor: str | None, *, limit: int = protocol.FEED_PAGE_LIMIT) -> FeedAnswer:
        """One page of ``device``'s feed after ``cursor``. Raises ``BadCursor``. Writes nothing."""
        now = self.clock()
        audience = device_audience(device.id, device.zones)
        unchanged = self._unchanged_at(cursor, audience)
        if unchanged is not None:  # nothing filed for us after the cursor: the same answer, one statement
            return self._feed_answer(device, unchanged, [], more=False, now=now)
        items: list[str] = []
        more = False
        with self.store.read() as tx:
            after = self._after(tx, cursor)
            initial = after is None
            position = after or 0
            scanned = position
            while not more:
                rows = tx.items.feed_after(audience, scanned, _FEED_BATCH)
                for row in rows:
                    scanned = row.seq
                    if not reaches(row.zones, row.devices, device.id, device.zones, row.communes):
                        position = row.seq  # filed under one of our keys but not for us: pass it
                        continue
                    if initial and (row.state == "revoked" or (row.valid_until is not None and row.valid_until <= now)):
                        position = row.seq  # nothing to tell a device that never held it
                        continue
                    if len(items) == limit:
                        more = True
                        break
                    items.append(row.published)
                    position = row.seq
                if len(rows) < _FEED_BATCH:
                    break
        return self._feed_answer(device, position, items, more=more, now=now)

    def _unchanged_at(self, cursor: str | None, audience: Sequence[str]) -> int | None:
        """The cursor's position when nothing is filed under ``audience`` after it (one statement,
        ``Store.glance``); None when the full feed read must decide (new items, a first poll, a
        cursor of another database or from the future)."""
        match = _CURSOR_RE.match(cursor or "")
        if match is None or match.group(1) != self.epoch:
            return None
        seq = int(match.group(2))
        with self.store.glance() as tx:
            top, news = tx.items.news_after(audience, seq)
        return seq if seq <= top and not news and seq > 0 else None

    def _feed_answer(self, device: Device, position: int, items: list[str], *, more: bool,
                     now: datetime) -> FeedAnswer:
        next_cursor = f"{self.epoch}.{position}"
        body = {"protocol": protocol.PROTOCOL_VERSION, "server_time": protocol.format_utc(now),
                "cursor": next_cursor, "items": [json.loads(text) for text in items], "more": more}
        # The ETag names the feed position reached, so "nothing new after it" answers 304.
        tag = hashlib.sha256(f"{device.id}|{next_cursor}|{more}".encode()).hexdigest()[:20]
        return FeedAnswer(body=body, etag=f'"{tag}"')
