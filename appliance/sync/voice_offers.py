"""Voice packs central offers (protocol §4.4): verified, downloaded once, installed as verified packs.

The feed asked with ``include=voice_packs`` carries every current offer. Each offer must carry
central's signature (voice-pack-offer domain); it is recorded as ``pending`` in
``voice_pack_offers`` (so a restart that gets 304 from then on still installs it). The file is
downloaded to ``<data_dir>/voices-incoming``, its size and sha256 checked against the offer, and
installed through ``audio.voicepacks.install_pack`` with central's key as the only trusted key: the
pack's manifest signature and every member's size and sha256 are checked again there, and a
tampered pack is refused, changing nothing. A refused file is never fetched again. Installing a
pack does not switch the station's voice: the operator chooses it (``tts.engine = "neural"``,
``tts.voice_pack``), and the panel and ``status`` say which voice is active.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from typing import Any

from appliance.state.config import Config
from appliance.state.store import Store, utc_now_iso
from protocol.errors import CentralError, CommuneRadioError, RejectedItem
from protocol.signing import PublicKeys, keyring
from protocol.speech import validate_offer

log = logging.getLogger(__name__)
RESERVE_BYTES = 64 * 1024 * 1024
_LINK_DOWN = ("central_unreachable", "central_timeout", "central_unavailable", "central_busy", "central_auth")


def _sha256(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class VoiceOfferSync:
    def __init__(self, config: Config, store: Store, public_keys: PublicKeys) -> None:
        self.config = config
        self.store = store
        self.public_keys = public_keys

    @property
    def voices_dir(self) -> Any:
        return self.config.data_path / "voices"

    def offered(self, offers: Sequence[Any]) -> int:
        """Record the verified offers not seen before as pending; refused offers are logged."""
        added = 0
        for doc in offers:
            try:
                offer = validate_offer(doc, self.public_keys)
            except RejectedItem as exc:
                self.store.log_event("voice_pack.refused", exc.vi, {"en": exc.en, "reason": exc.reason},
                                     level="warning", repeat_key=f"offer:{exc.reason}")
                continue
            with self.store.transaction() as tx:
                added += tx.execute(
                    "INSERT OR IGNORE INTO voice_pack_offers (pack_id, sha256, name, document, state, detail, at)"
                    " VALUES (?, ?, ?, ?, 'pending', NULL, ?)",
                    (offer.pack_id, offer.media.sha256, offer.name,
                     json.dumps(offer.document, ensure_ascii=False, separators=(",", ":")), utc_now_iso())).rowcount
        return added

    def pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.store.query("SELECT * FROM voice_pack_offers WHERE state = 'pending' ORDER BY at")]

    def install_offered(self, client: Any) -> int:
        """Download and install the pending packs; returns the bytes fetched. Raises only when the link is down."""
        fetched = 0
        for row in self.pending():
            try:
                offer = validate_offer(json.loads(row["document"]), self.public_keys)  # read back: check again
            except (RejectedItem, ValueError):
                self._finish(row, "refused", "the stored offer no longer verifies")
                continue
            incoming = self.config.data_path / "voices-incoming"
            incoming.mkdir(parents=True, exist_ok=True)
            part = incoming / f"{offer.media.sha256}.part"
            # The download, the unpacked copy and the prepared model side by side, and the card's reserve.
            needed = 3 * offer.media.bytes + RESERVE_BYTES - (part.stat().st_size if part.exists() else 0)
            if shutil.disk_usage(incoming).free < needed:
                self.store.log_event("voice_pack.deferred", f"Thẻ nhớ không đủ chỗ cho gói giọng {offer.pack_id}",
                                     {"pack_id": offer.pack_id, "bytes": offer.media.bytes,
                                      "en": f"not enough room on the card for voice pack {offer.pack_id}"},
                                     level="warning", repeat_key=f"offer-room:{offer.pack_id}")
                continue
            try:
                stats = client.download(offer.media.url, part, offer.media.bytes)
            except CentralError as exc:
                self.store.log_event("voice_pack.download_failed", exc.vi, {"pack_id": offer.pack_id, "en": exc.en},
                                     level="warning", repeat_key=f"offer-dl:{offer.pack_id}")
                if exc.code in _LINK_DOWN:
                    raise
                continue
            fetched += stats.bytes_fetched
            try:
                if part.stat().st_size != offer.media.bytes or _sha256(part) != offer.media.sha256:
                    self._finish(row, "refused", "the downloaded file does not match the offer (size or sha256)")
                    continue
                from audio.voicepacks import install_pack  # only when a pack is offered

                installed = install_pack(part, self.voices_dir, trusted_keys=keyring(self.public_keys))
            except CommuneRadioError as exc:
                self._finish(row, "refused", exc.en, vi=exc.vi)
                continue
            except OSError as exc:  # the card, not the pack: tried again at the next sync
                self.store.log_event("voice_pack.deferred", f"Không cài được gói giọng {offer.pack_id}: {exc}",
                                     {"pack_id": offer.pack_id, "en": str(exc)}, level="warning",
                                     repeat_key=f"offer-os:{offer.pack_id}")
                continue
            finally:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
            self._finish(row, "installed", f"{installed.name} ({installed.language})")
        return fetched

    def _finish(self, row: dict[str, Any], state: str, en: str, *, vi: str | None = None) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE voice_pack_offers SET state = ?, detail = ?, at = ? WHERE pack_id = ? AND sha256 = ?",
                       (state, en[:500], utc_now_iso(), row["pack_id"], row["sha256"]))
            if state == "installed":
                self.store.log_event("voice_pack.installed",
                                     f"Đã cài gói giọng đọc {row['pack_id']} do trung tâm cung cấp: {en}",
                                     {"pack_id": row["pack_id"], "sha256": row["sha256"]}, conn=tx)
            else:
                self.store.log_event("voice_pack.refused",
                                     f"Gói giọng đọc {row['pack_id']} của trung tâm bị từ chối: {vi or en}",
                                     {"pack_id": row["pack_id"], "sha256": row["sha256"], "en": en},
                                     level="warning", conn=tx)
