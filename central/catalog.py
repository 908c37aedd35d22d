"""The reference central's catalogue: devices, items, media and the per-device feed.

This is the Python API that the CLI, the HTTP server, the demo and the tests share.
Items go draft → approved (signed on approval) → revoked (a new signed version with
``revoked: true``). Each publication takes the next feed sequence number; a device's
cursor is the sequence number it has seen, qualified by an epoch that is random per data
directory, so a central rebuilt from scratch never answers "nothing new" to a stale cursor.

Why one module of this length: the catalog is the reference central's whole item and device
store (SQLite); the storage layer for production scale replaces it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import protocol
from central.content_rules import check_audio_media, check_media_type
from central.keys import load_or_create_key
from central.media import MediaFiles
from protocol.errors import RejectedItem, StorageError, ValidationError

Clock = Callable[[], datetime]
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DB_FILE = "central.db"
_CURSOR_RE = re.compile(r"^([0-9a-f]{8})\.([0-9]{1,15})$")
# Fields an operator may change on an item; targeting is fixed once published (see update_item).
_CONTENT_FIELDS = ("kind", "title", "text", "language", "media", "priority", "valid_from",
                   "valid_until", "schedule")
_TARGET_FIELDS = ("zones", "devices")


def _statements(sql: str) -> list[str]:
    """A migration's statements, one by one (``executescript`` would commit on its own)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()):
        statements.append(buffer.strip())
    return statements


def system_clock() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invalid(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en)


@dataclass(frozen=True)
class Device:
    id: str
    zones: tuple[str, ...]
    created_at: str
    last_seen_at: str | None


@dataclass(frozen=True)
class FeedAnswer:
    body: dict[str, Any]
    etag: str


class BadCursor(ValueError):
    """The cursor is not one this central could have issued (HTTP 400)."""


class Catalog:
    """Thread-safe handle on one central data directory."""

    def __init__(self, data_dir: Path, *, clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.clock: Clock = clock or system_clock
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = load_or_create_key(self.data_dir)
        self.media = MediaFiles(self.data_dir / "media")
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.data_dir / DB_FILE, timeout=15.0, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"Không mở được cơ sở dữ liệu trung tâm: {exc}",
                               f"Cannot open the central database: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        self._enable_wal()
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=15000")
        self._migrate()
        self.epoch = self._meta_get_or_set("epoch", secrets.token_hex(4))

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Apply pending migrations, each under the write lock with the version read inside it:
        two processes opening a new data directory at once never apply one twice."""
        with self._lock:
            while True:
                self._conn.execute("BEGIN IMMEDIATE")
                current = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
                pending = [p for p in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
                           if int(p.name[:4]) > current]
                if not pending:
                    self._conn.execute("COMMIT")
                    return
                path = pending[0]
                try:
                    for statement in _statements(path.read_text(encoding="utf-8")):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version={int(path.name[:4])}")
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise StorageError(f"Nâng cấp cơ sở dữ liệu trung tâm thất bại ({path.name}): {exc}",
                                       f"Central database migration {path.name} failed: {exc}") from None

    def _enable_wal(self, patience_s: float = 15.0) -> None:
        # On a new file SQLite answers "locked" at once (no busy wait) while another process
        # switches it to WAL too.
        deadline = time.monotonic() + patience_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StorageError(f"Không mở được cơ sở dữ liệu trung tâm: {exc}",
                                       f"Cannot open the central database: {exc}") from None
                time.sleep(0.02)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _meta_get_or_set(self, key: str, default: str) -> str:
        with self._tx() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row["value"])
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, default))
            return default

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

    def add_device(self, device_id: str, zones: Sequence[str]) -> str:
        """Register a device; returns its bearer token (shown once, only its hash is kept)."""
        self._check_device_id(device_id)
        zone_list = self._check_zones(zones, allow_all=False)
        token = secrets.token_urlsafe(32)
        try:
            with self._tx() as tx:
                tx.execute("INSERT INTO devices (id, token_hash, zones, created_at) VALUES (?, ?, ?, ?)",
                           (device_id, token_hash(token), json.dumps(zone_list), self._now_iso()))
        except sqlite3.IntegrityError:
            raise _invalid(f"Thiết bị {device_id} đã tồn tại.", f"Device {device_id} already exists.") from None
        return token

    def rotate_token(self, device_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._tx() as tx:
            if tx.execute("UPDATE devices SET token_hash = ? WHERE id = ?",
                          (token_hash(token), device_id)).rowcount != 1:
                raise _invalid(f"Không có thiết bị {device_id}.", f"No device {device_id}.")
        return token

    def set_device_zones(self, device_id: str, zones: Sequence[str]) -> None:
        zone_list = self._check_zones(zones, allow_all=False)
        with self._tx() as tx:
            if tx.execute("UPDATE devices SET zones = ? WHERE id = ?",
                          (json.dumps(zone_list), device_id)).rowcount != 1:
                raise _invalid(f"Không có thiết bị {device_id}.", f"No device {device_id}.")

    def get_device(self, device_id: str) -> Device | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM devices WHERE id = ?", (device_id,)).fetchone()
        return self._device(row) if row is not None else None

    def list_devices(self) -> list[Device]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM devices ORDER BY id").fetchall()
        return [self._device(r) for r in rows]

    def authenticate(self, token: str | None) -> Device | None:
        """The device owning ``token``, or None. Lookup by hash; compared in constant time."""
        if not token or len(token) > 200:
            return None
        wanted = token_hash(token)
        with self._lock:
            row = self._conn.execute("SELECT * FROM devices WHERE token_hash = ?", (wanted,)).fetchone()
        if row is None or not hmac.compare_digest(row["token_hash"], wanted):
            return None
        return self._device(row)

    def touch_device(self, device_id: str) -> None:
        with self._tx() as tx:
            tx.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", (self._now_iso(), device_id))

    @staticmethod
    def _device(row: sqlite3.Row) -> Device:
        return Device(id=row["id"], zones=tuple(json.loads(row["zones"])), created_at=row["created_at"],
                      last_seen_at=row["last_seen_at"])

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
        with self._tx() as tx:
            tx.execute("INSERT OR IGNORE INTO media (sha256, bytes, mime, created_at) VALUES (?, ?, ?, ?)",
                       (sha, size, mime, self._now_iso()))
        return {"url": f"/v1/media/{sha}", "sha256": sha, "bytes": size, "mime": mime}

    def media_info(self, sha256: str) -> tuple[Path, int, str] | None:
        """(path, bytes, mime) of stored media, or None."""
        if not self.media.has(sha256):
            return None
        with self._lock:
            row = self._conn.execute("SELECT bytes, mime FROM media WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        return self.media.path_for(sha256), int(row["bytes"]), str(row["mime"])

    # ------------------------------------------------------------------ items

    def add_item(self, *, kind: str, title: str, text: str = "", language: str = "vi",
                 media: Mapping[str, Any] | None = None, priority: str = "normal",
                 valid_from: str | None = None, valid_until: str | None = None,
                 zones: Sequence[str] = ("*",), devices: Sequence[str] = ("*",),
                 schedule: Mapping[str, Any] | None = None, item_id: str | None = None) -> str:
        """Create a draft; returns its id. The draft is validated as the device would."""
        item_id = item_id or f"it-{secrets.token_hex(6)}"
        content = {"kind": kind, "title": title, "text": text, "language": language,
                   "media": dict(media) if media is not None else None, "priority": priority,
                   "valid_from": valid_from or self._now_iso(), "valid_until": valid_until,
                   "schedule": dict(schedule) if schedule is not None else None}
        targets = {"zones": list(zones), "devices": list(devices)}
        self._check_content(item_id, content, targets)
        now = self._now_iso()
        try:
            with self._tx() as tx:
                tx.execute(
                    "INSERT INTO items (id, state, version, draft, target_zones, target_devices, created_at,"
                    " updated_at) VALUES (?, 'draft', 0, ?, ?, ?, ?, ?)",
                    (item_id, json.dumps(content, ensure_ascii=False), json.dumps(targets["zones"]),
                     json.dumps(targets["devices"]), now, now))
        except sqlite3.IntegrityError:
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
        if row["state"] == "revoked":
            raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is revoked.")
        targets = {"zones": json.loads(row["target_zones"]), "devices": json.loads(row["target_devices"])}
        if row["published"] is not None and any(
                f in changes and list(changes[f]) != targets[f] for f in _TARGET_FIELDS):
            raise _invalid("Không đổi được vùng/thiết bị của bản tin đã phát hành; hãy thu hồi và tạo bản tin mới.",
                           "Targeting of a published item is fixed; revoke it and create a new item.")
        content = json.loads(row["draft"])
        for field in _CONTENT_FIELDS:
            if field in changes:
                value = changes[field]
                content[field] = dict(value) if isinstance(value, Mapping) else value
        for field in _TARGET_FIELDS:
            if field in changes:
                targets[field] = list(changes[field])
        self._check_content(item_id, content, targets)
        with self._tx() as tx:
            tx.execute(
                "UPDATE items SET state = 'draft', draft = ?, target_zones = ?, target_devices = ?,"
                " updated_at = ? WHERE id = ?",
                (json.dumps(content, ensure_ascii=False), json.dumps(targets["zones"]),
                 json.dumps(targets["devices"]), self._now_iso(), item_id))

    def approve_item(self, item_id: str, *, by: str) -> dict[str, Any]:
        """Sign the draft as the next version and publish it; returns the signed document."""
        self._check_person(by)
        row = self._item_row(item_id)
        if row["state"] == "revoked":
            raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is revoked.")
        if row["state"] == "approved":
            raise _invalid(f"Bản tin {item_id} đã được duyệt, không có thay đổi chờ duyệt.",
                           f"Item {item_id} is already approved; nothing is waiting for approval.")
        doc = self._document(row, json.loads(row["draft"]), version=row["version"] + 1, by=by, revoked=False)
        return self._publish(item_id, doc, state="approved")

    def revoke_item(self, item_id: str, *, by: str = "central") -> dict[str, Any] | None:
        """Withdraw an item: devices receive a new signed version with ``revoked: true``.

        Returns that document, or None for a draft that was never published.
        """
        self._check_person(by)
        row = self._item_row(item_id)
        if row["state"] == "revoked":
            raise _invalid(f"Bản tin {item_id} đã bị thu hồi.", f"Item {item_id} is already revoked.")
        if row["published"] is None:
            with self._tx() as tx:
                tx.execute("UPDATE items SET state = 'revoked', updated_at = ? WHERE id = ?",
                           (self._now_iso(), item_id))
            return None
        # The withdrawal keeps the content devices hold; only version, approval and flag change.
        held = json.loads(row["published"])
        content = {f: held.get(f) for f in _CONTENT_FIELDS}
        doc = self._document(row, content, version=row["version"] + 1, by=by, revoked=True)
        return self._publish(item_id, doc, state="revoked")

    def list_items(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM items ORDER BY created_at, id").fetchall()
        out = []
        for row in rows:
            content = json.loads(row["draft"])
            out.append({
                "id": row["id"], "state": row["state"], "version": row["version"], "kind": content["kind"],
                "title": content["title"], "priority": content["priority"],
                "zones": json.loads(row["target_zones"]), "devices": json.loads(row["target_devices"]),
                "published": row["published"] is not None, "seq": row["seq"],
                "valid_until": content["valid_until"], "updated_at": row["updated_at"],
            })
        return out

    def get_published(self, item_id: str) -> dict[str, Any] | None:
        row = self._item_row(item_id)
        return json.loads(row["published"]) if row["published"] is not None else None

    def _item_row(self, item_id: str) -> sqlite3.Row:
        with self._lock:
            row = self._conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise _invalid(f"Không có bản tin {str(item_id)[:64]}.", f"No item {str(item_id)[:64]}.")
        return row

    @staticmethod
    def _check_person(by: Any) -> None:
        if not isinstance(by, str) or not 1 <= len(by.strip()) <= 100 or any(ord(ch) < 32 for ch in by):
            raise _invalid("Tên người duyệt không hợp lệ (1–100 ký tự).", "Invalid approver name (1-100 characters).")

    def _check_content(self, item_id: str, content: dict[str, Any], targets: dict[str, Any]) -> None:
        """Validate a draft exactly as a device would validate the signed item."""
        self._check_zones(targets["zones"], allow_all=True)
        if targets["devices"] != ["*"]:
            for device in targets["devices"]:
                self._check_device_id(device)
        probe = {"id": item_id, "version": 1, **content, **targets, "approved_by": "central",
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

    def _document(self, row: sqlite3.Row, content: dict[str, Any], *, version: int, by: str,
                  revoked: bool) -> dict[str, Any]:
        return {"id": row["id"], "version": version, **{f: content[f] for f in _CONTENT_FIELDS},
                "zones": json.loads(row["target_zones"]), "devices": json.loads(row["target_devices"]),
                "approved_by": by.strip(), "approved_at": self._now_iso(), "revoked": revoked}

    def _publish(self, item_id: str, doc: dict[str, Any], *, state: str) -> dict[str, Any]:
        signed = protocol.sign_item(doc, self._key)
        self._store_published(item_id, signed, version=doc["version"], state=state)
        return signed

    def _store_published(self, item_id: str, doc: Any, *, version: int | None = None,
                         state: str | None = None) -> None:
        with self._tx() as tx:
            seq = int(tx.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM items").fetchone()[0])
            valid_until = doc.get("valid_until") if isinstance(doc, dict) else None
            tx.execute(
                "UPDATE items SET published = ?, seq = ?, valid_until = ?, updated_at = ?,"
                " version = COALESCE(?, version), state = COALESCE(?, state) WHERE id = ?",
                (json.dumps(doc, ensure_ascii=False, separators=(",", ":")), seq,
                 valid_until if isinstance(valid_until, str) else None, self._now_iso(), version, state,
                 item_id))

    # ------------------------------------------------------------------ test hooks

    def tamper_published(self, item_id: str, mutate: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Test hook: change the stored signed document without re-signing, and re-publish it.

        ``mutate`` edits the document in place. Devices see it as a new feed entry.
        """
        doc = self.get_published(item_id)
        if doc is None:
            raise _invalid(f"Bản tin {item_id} chưa phát hành.", f"Item {item_id} is not published.")
        mutate(doc)
        self._store_published(item_id, doc)
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
        self._store_published(item_id, doc)

    def resign_with(self, item_id: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
        """Test hook: serve the item signed with another (untrusted) key."""
        doc = self.get_published(item_id)
        if doc is None:
            raise _invalid(f"Bản tin {item_id} chưa phát hành.", f"Item {item_id} is not published.")
        signed = protocol.sign_document(doc, private_key, domain=protocol.ITEM_DOMAIN)
        self._store_published(item_id, signed)
        return signed

    # ------------------------------------------------------------------ feed

    def parse_cursor(self, cursor: str | None) -> int | None:
        """Sequence number after which to send, or None for a full (initial) feed."""
        if cursor is None or cursor == "":
            return None
        match = _CURSOR_RE.match(cursor)
        if match is None:
            raise BadCursor(cursor)
        if match.group(1) != self.epoch:
            return None  # issued by another central database: start over
        seq = int(match.group(2))
        with self._lock:
            top = int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM items").fetchone()[0])
        # A cursor ahead of us means our database was restored from an older backup.
        return None if seq > top else seq

    def feed(self, device: Device, cursor: str | None, *, limit: int = protocol.FEED_PAGE_LIMIT) -> FeedAnswer:
        """One page of ``device``'s feed after ``cursor``. Raises ``BadCursor``."""
        after = self.parse_cursor(cursor)
        initial = after is None
        now = self.clock()
        items: list[str] = []
        position = after or 0
        more = False
        with self._lock:
            rows: Iterable[sqlite3.Row] = self._conn.execute(
                "SELECT id, state, published, seq, target_zones, target_devices, valid_until FROM items"
                " WHERE published IS NOT NULL AND seq > ? ORDER BY seq", (position,)).fetchall()
        for row in rows:
            if not self._targets(row, device):
                continue
            if initial and self._dead(row, now):
                position = row["seq"]  # nothing to tell a device that never held it
                continue
            if len(items) == limit:
                more = True
                break
            items.append(row["published"])
            position = row["seq"]
        next_cursor = f"{self.epoch}.{position}"
        body = {"protocol": protocol.PROTOCOL_VERSION, "server_time": self._now_iso(), "cursor": next_cursor,
                "items": [json.loads(text) for text in items], "more": more}
        # The ETag names the feed position reached, so "nothing new after it" answers 304.
        tag = hashlib.sha256(f"{device.id}|{next_cursor}|{more}".encode()).hexdigest()[:20]
        return FeedAnswer(body=body, etag=f'"{tag}"')

    @staticmethod
    def _targets(row: sqlite3.Row, device: Device) -> bool:
        devices = json.loads(row["target_devices"])
        zones = json.loads(row["target_zones"])
        device_ok = devices == ["*"] or device.id in devices
        zone_ok = zones == ["*"] or bool(set(zones) & set(device.zones))
        return device_ok and zone_ok

    @staticmethod
    def _dead(row: sqlite3.Row, now: datetime) -> bool:
        if row["state"] == "revoked":
            return True
        until = row["valid_until"]
        try:
            return until is not None and protocol.parse_utc(until) <= now
        except ValueError:
            return False
