"""Service: voice packs central offers to its stations as signed media (protocol §4.4).

``offer(FILE)`` checks the pack (``audio.voicepacks``: exactly its four members, each matching
the manifest; a pack signed by another key is refused), signs its manifest with central's key,
installs it in central's own ``<data_dir>/voices`` (so ``[speech] engine = "neural"`` can render
with it), stores the signed file as media and publishes a signed offer. Devices that ask the feed
for ``include=voice_packs`` receive every current offer; they verify the offer, the file's size and
sha256, then the pack's own signature and members before installing it. This module and
``central.speech_render`` are the only ones through which central reaches the audio package.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import protocol
from audio.voicepacks import install_pack, installed_packs, read_manifest, sign_pack
from protocol.durable import TEMP_PREFIX
from protocol.errors import ValidationError
from protocol.spec import VOICE_PACK_MIME
from protocol.speech import sign_offer

if TYPE_CHECKING:
    from central.catalog import Catalog


class VoiceOffers:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @property
    def voices_dir(self) -> Path:
        return self.catalog.data_dir / "voices"

    def offer(self, pack: Path) -> dict[str, Any]:
        """Sign, install here and offer ``pack`` to every device; returns the signed offer."""
        pack = Path(pack)
        if not pack.is_file():
            raise ValidationError(f"Không có tệp {pack}.", f"No such file {pack}.")
        keys = {self.catalog.key_id: self.catalog.public_key}
        read_manifest(pack, keys, allow_unsigned=True)  # refuses a foreign signature, bad members
        staging = self.catalog.data_dir / f"{TEMP_PREFIX}offer-{secrets.token_hex(6)}.voicepack"
        try:
            sign_pack(pack, self.catalog.private_key, target=staging)
            installed = install_pack(staging, self.voices_dir, trusted_keys=keys)  # checks every member
            sha, size = self.catalog.media.put_file(staging)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        now = self.catalog.clock()
        doc = sign_offer({
            "pack_id": installed.pack_id, "name": installed.name, "language": installed.language,
            "licence": installed.licence,
            "media": {"url": f"/v1/media/{sha}", "sha256": sha, "bytes": size, "mime": VOICE_PACK_MIME},
            "offered_at": protocol.format_utc(now),
        }, self.catalog.private_key)
        with self.catalog.store.write() as tx:
            tx.items.add_media(sha, size=size, mime=VOICE_PACK_MIME, now=now)
            tx.speech.put_offer(installed.pack_id, doc, sha, now=now)
        return doc

    def list(self) -> list[dict[str, Any]]:
        """Offers, with whether central itself renders with the pack."""
        active = self.catalog.config.speech.voice_pack if self.catalog.config.speech.engine == "neural" else ""
        here = {p.pack_id for p in installed_packs(self.voices_dir)}
        with self.catalog.store.read() as tx:
            offers = tx.speech.offers()
        return [{"pack_id": o.pack_id, "name": o.document["name"], "language": o.document["language"],
                 "licence": o.document["licence"], "bytes": o.document["media"]["bytes"],
                 "sha256": o.media_sha256, "offered_at": o.document["offered_at"],
                 "installed_here": o.pack_id in here, "central_voice": o.pack_id == active} for o in offers]

    def withdraw(self, pack_id: str) -> bool:
        """Stop offering the pack (stations that installed it keep it until an operator removes it)."""
        with self.catalog.store.write() as tx:
            return tx.speech.withdraw_offer(pack_id)
