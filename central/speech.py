"""Service: the speech central renders for approved text items, shipped as signed speech documents.

When ``[speech] engine`` is set, approving a text item renders its text with central's voice
(``central.speech_render``, the station's own pipeline) *before* the write transaction (it takes
seconds), stores the WAV as media, and in the approval's own transaction signs a speech document
bound to the item's id, version and content digest (protocol §4.3). A device that asks the feed
for ``include=speech`` receives, beside each item of a page, that item's speech document if its
version is the one in the page; a page that lists an item without one tells the device the item
has no rendered speech (any it holds is dropped). Removing or re-rendering speech re-publishes
the item (a new feed position, the same signed document), so devices learn of it.

If rendering fails, the item is approved all the same: stations read it with their own voice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import protocol
from protocol.errors import CommuneRadioError, ValidationError
from protocol.speech import sign_speech

if TYPE_CHECKING:
    from central.catalog import Catalog, FeedAnswer
    from central.speech_render import SpeechRenderer
    from central.store import Transaction
    from central.store.items import ItemRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingSpeech:
    """Speech rendered for a draft, waiting for the approval's transaction."""

    text: str
    language: str
    media: dict[str, Any]
    duration_s: float
    voice: dict[str, str]


def parse_includes(value: str | None) -> frozenset[str]:
    """``?include=speech,voice_packs``; unknown names are refused (HTTP 400)."""
    if not value:
        return frozenset()
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = names - set(protocol.spec.FEED_INCLUDES)
    if unknown:
        raise ValidationError(f"include không hợp lệ: {', '.join(sorted(unknown))[:80]}",
                              f"unknown include: {', '.join(sorted(unknown))[:80]}")
    return names


class SpeechDesk:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.enabled = bool(catalog.config.speech.engine)
        self._renderer: SpeechRenderer | None = None
        self.last_error: CommuneRadioError | None = None

    @property
    def renderer(self) -> SpeechRenderer:
        if self._renderer is None:
            from central.speech_render import SpeechRenderer  # audio and its engines: only when rendering

            self._renderer = SpeechRenderer(self.catalog.config)
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()

    # ------------------------------------------------------------------ rendering at approval

    def render(self, text: str, language: str) -> PendingSpeech | None:
        """Render ``text`` and store the audio as media; None (logged) when it cannot be rendered."""
        if not self.enabled or not text.strip():
            return None
        try:
            rendered = self.renderer.render(text)
            media = self.catalog.add_media(rendered.path, mime="audio/wav")
        except CommuneRadioError as exc:
            self.last_error = exc
            log.warning("speech not rendered: %s", exc.en)
            return None
        except (ImportError, OSError) as exc:  # a missing library or a full disk must not block approval
            self.last_error = CommuneRadioError(f"Không dựng được giọng đọc: {exc}", f"Speech not rendered: {exc}",
                                                code="speech.render_failed")
            log.warning("speech not rendered: %r", exc)
            return None
        self.last_error = None
        return PendingSpeech(text=text, language=language, media=media, duration_s=rendered.duration_s,
                             voice=rendered.voice)

    def render_draft(self, row: ItemRow) -> PendingSpeech | None:
        if row.draft.get("kind") != "text" or row.state not in ("draft",):
            return None
        return self.render(str(row.draft.get("text") or ""), str(row.draft.get("language") or "vi"))

    def attach(self, tx: Transaction, signed: dict[str, Any], pending: PendingSpeech | None) -> dict[str, Any] | None:
        """Inside the approval's transaction: sign and store the speech of ``signed`` (if it is what was rendered)."""
        if pending is None or signed.get("kind") != "text" or signed.get("revoked"):
            return None
        if signed.get("text") != pending.text:  # the draft changed while we rendered: no speech
            return None
        doc = sign_speech({
            "item_id": signed["id"], "version": signed["version"], "item_digest": protocol.content_digest(signed),
            "language": pending.language, "voice": pending.voice, "media": pending.media,
            "duration_s": round(pending.duration_s, 3), "rendered_at": protocol.format_utc(self.catalog.clock()),
        }, self.catalog.private_key)
        tx.speech.put(signed["id"], int(signed["version"]), doc, pending.media["sha256"], now=self.catalog.clock())
        return doc

    # ------------------------------------------------------------------ editors' actions

    def get(self, item_id: str) -> dict[str, Any] | None:
        """The speech document of the item's current version, or None."""
        published = self.catalog.get_published(item_id)
        with self.catalog.store.read() as tx:
            row = tx.speech.get(item_id)
        if row is None or published is None or row.version != published.get("version"):
            return None
        return row.document

    def preview(self, item_id: str) -> Any:
        """The editor's preview of a text item's pending text: the very file approval will ship
        (rendering is cached by text and voice, so approving renders nothing new)."""
        row = self.catalog.item_row(item_id)
        if row.draft.get("kind") != "text":
            raise ValidationError(f"Bản tin {item_id[:64]} không phải bản tin văn bản.",
                                  f"Item {item_id[:64]} is not a text item.")
        if not self.enabled:
            raise ValidationError("Trung tâm chưa cấu hình giọng đọc ([speech] engine).",
                                  "Central has no voice configured ([speech] engine).")
        return self.renderer.render(str(row.draft.get("text") or ""))

    def render_again(self, item_id: str) -> dict[str, Any]:
        """Render the published version again (after a voice change) and re-publish it."""
        published = self.catalog.get_published(item_id)
        if published is None or published.get("kind") != "text" or published.get("revoked"):
            raise ValidationError(f"Bản tin {item_id[:64]} không phải bản tin văn bản đang phát hành.",
                                  f"Item {item_id[:64]} is not a published text item.")
        if not self.enabled:
            raise ValidationError("Trung tâm chưa cấu hình giọng đọc ([speech] engine).",
                                  "Central has no voice configured ([speech] engine).")
        pending = self.render(str(published["text"]), str(published.get("language") or "vi"))
        if pending is None:
            assert self.last_error is not None
            raise self.last_error
        with self.catalog.store.write() as tx:
            doc = self.attach(tx, published, pending)
            self.catalog.republish_in(tx, item_id, published)
        assert doc is not None
        return doc

    def remove(self, item_id: str) -> bool:
        """Stop shipping the item's rendered speech: devices read it with their own voice."""
        published = self.catalog.get_published(item_id)
        with self.catalog.store.write() as tx:
            removed = tx.speech.remove(item_id)
            if removed and published is not None:
                self.catalog.republish_in(tx, item_id, published)
        return removed

    # ------------------------------------------------------------------ the feed

    def extend_feed(self, answer: FeedAnswer, includes: frozenset[str]) -> FeedAnswer:
        """Add what the device asked for beside the items (protocol §9); the ETag names it too."""
        if not includes:
            return answer
        body = dict(answer.body)
        tag = answer.etag.strip('"')
        with self.catalog.store.read() as tx:
            if "speech" in includes:
                versions = {doc["id"]: doc.get("version") for doc in body["items"]
                            if isinstance(doc, dict) and doc.get("kind") == "text" and not doc.get("revoked")}
                body["speech"] = [row.document for row in tx.speech.for_items(sorted(versions))
                                  if versions.get(row.item_id) == row.version]
                tag += "s"
            if "voice_packs" in includes:
                offers = [row.document for row in tx.speech.offers()]
                body["voice_packs"] = offers
                digest = hashlib.sha256(json.dumps(offers, sort_keys=True).encode()).hexdigest()[:12]
                tag += f"v{digest}"
        return dataclasses.replace(answer, body=body, etag=f'"{tag}"')
