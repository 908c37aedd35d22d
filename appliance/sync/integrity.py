"""What central signed, checked again when the station reads its own store.

The store keeps each central item's signed document exactly as received. Before an item is
planned, prepared or played, ``SignedItems.check`` verifies that document again (signature,
shape, targeting) and compares the columns the daemon acts on with what the document says:
a text changed in place, a priority raised, a validity stretched, a media checksum swapped all
show up as ``Tampered``, even though SQLite's own integrity check is still "ok". The daemon
then speaks only verified content (``verified_view``), and ``repair`` refuses, logs and reports
the alteration: the row is rebuilt from the signed document when that still verifies, and when
the document itself was forged the row is dropped and the feed is taken again from the start,
so central sends the genuine item back. Checks are cached by a fingerprint of the row, so an
unchanged item costs a hash, not a signature verification, per plan.

Local announcements (``source = 'local'``) carry no central signature: they are trusted as the
logged-in operator's, as the panel recorded them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

import protocol
from appliance.state.config import Config
from appliance.state.store import Store, utc_now_iso
from appliance.sync.syncer import item_row
from protocol.errors import RejectedItem, StorageError, ValidationError

log = logging.getLogger(__name__)

# Columns the daemon acts on, each rebuilt from the signed document by item_row.
COMPARED = ("id", "version", "kind", "title", "text", "language", "priority", "valid_from", "valid_until",
            "zones", "devices", "schedule", "revoked", "media_url", "media_sha256", "media_bytes", "media_mime",
            "digest")
_JSON_COLUMNS = ("zones", "devices", "schedule")
_CACHE_MAX = 2048


class Tampered(StorageError):
    """An item in the store is not what central signed."""

    code = "item_tampered"

    def __init__(self, vi: str, en: str, *, item_id: str, fields: list[str], verified: protocol.Item | None) -> None:
        super().__init__(vi, en)
        self.item_id = item_id
        self.fields = fields
        self.verified = verified   # the genuine item when its document still verifies


def _fingerprint(row: dict[str, Any]) -> str:
    picked = {k: row.get(k) for k in (*COMPARED, "document", "state", "source")}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _comparable(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)
    if column == "revoked":
        return bool(value)
    return value


class SignedItems:
    """Verifies central items read back from the store (thread-safe, cached)."""

    def __init__(self, config: Config) -> None:
        self._device_id = config.device.id
        self._keys: list[Any] = []
        if config.central.public_key:
            try:
                self._keys = [protocol.public_key_from_b64(config.central.public_key)]
            except ValidationError:
                self._keys = []
        self._lock = threading.Lock()
        self._verified: dict[str, protocol.Item] = {}
        self._reported: set[str] = set()

    @property
    def public_keys(self) -> list[Any]:
        """Central's trusted keys (also for what central signs beside items: its rendered speech)."""
        return list(self._keys)

    def check(self, row: dict[str, Any]) -> protocol.Item | None:
        """The verified item behind ``row`` (None for a local announcement); raises ``Tampered``."""
        if row.get("source") != "central":
            return None
        fingerprint = _fingerprint(row)
        with self._lock:
            known = self._verified.get(fingerprint)
        if known is not None:
            return known
        item_id = str(row.get("id"))
        document = row.get("document")
        try:
            item = protocol.validate_item(document, self._keys, device_id=self._device_id)
        except RejectedItem as exc:
            raise Tampered(
                f"Bản tin {item_id} trong bộ nhớ của trạm không còn chữ ký hợp lệ của trung tâm ({exc.vi}).",
                f"Item {item_id} in the station's store no longer carries central's valid signature ({exc.en}).",
                item_id=item_id, fields=["document"], verified=None) from None
        expected = item_row(item, str(row.get("state")), row.get("reject_reason"), utc_now_iso())
        fields = [c for c in COMPARED if _comparable(c, row.get(c)) != _comparable(c, expected[c])]
        if item.revoked != (row.get("state") == "revoked"):
            fields.append("state")
        if fields:
            shown = ", ".join(fields)
            raise Tampered(f"Bản tin {item_id} trong bộ nhớ của trạm đã bị sửa ({shown}), khác với bản trung tâm đã ký.",
                           f"Item {item_id} in the station's store was altered ({shown}): it is not what central "
                           "signed.", item_id=item_id, fields=fields, verified=item)
        with self._lock:
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified[fingerprint] = item
        return item

    def verified_view(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with what the daemon speaks or plays taken from the verified document."""
        item = self.check(row)
        if item is None:
            return row
        media = item.media
        return dict(row, text=item.text, kind=item.kind, digest=item.digest, media_sha256=media.sha256 if media else None,
                    media_bytes=media.bytes if media else None, media_url=media.url if media else None)

    def repair(self, store: Store, row: dict[str, Any], exc: Tampered) -> bool:
        """Refuse, log and report an altered item once; rebuild it from its signed document when that
        verifies, else drop it and take the feed again from the start. True if it was handled now."""
        fingerprint = _fingerprint(row)
        with self._lock:
            if fingerprint in self._reported:
                return False
            self._reported.add(fingerprint)
        log.error("%s", exc.en)
        with store.transaction(durable=True) as tx:
            current = tx.execute("SELECT * FROM items WHERE id = ?", (exc.item_id,)).fetchone()
            store.record_rejection(reason="tampered", vi=exc.vi, en=exc.en, item_id=exc.item_id,
                                   version=row.get("version") if isinstance(row.get("version"), int) else None,
                                   conn=tx)
            restored = exc.verified is not None and current is not None
            if restored:
                assert exc.verified is not None
                fresh = item_row(exc.verified, _state_after_repair(exc.verified, current), None, utc_now_iso())
                fresh["received_at"] = current["received_at"]
                tx.execute(f"INSERT OR REPLACE INTO items ({', '.join(fresh)}) VALUES ({', '.join('?' * len(fresh))})",
                           tuple(fresh.values()))
            elif current is not None:
                tx.execute("DELETE FROM items WHERE id = ?", (exc.item_id,))
                tx.execute("UPDATE sync_state SET cursor = NULL, etag = NULL WHERE id = 1")
            store.log_event("item_tampered", exc.vi, {"code": exc.code, "en": exc.en, "item_id": exc.item_id,
                                                      "fields": exc.fields,
                                                      "action": "restored" if restored else "dropped"},
                            level="error", conn=tx)
        return True


def _state_after_repair(item: protocol.Item, current: Any) -> str:
    if item.revoked:
        return "revoked"
    if item.kind != "audio":
        return "ready"
    # An audio item is ready only with its verified media; the sync checks that again.
    return "ready" if current["state"] == "ready" and current["media_sha256"] == (item.media.sha256 if item.media
                                                                                   else None) else "waiting_media"
