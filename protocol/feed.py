"""The feed envelope a device pulls (protocol §7); its items are validated one by one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.errors import CentralError
from protocol.spec import CONTROL_RE, FEED_PAGE_LIMIT, MAX_VOICE_PACK_OFFERS, PROTOCOL_VERSION
from protocol.times import parse_utc


@dataclass(frozen=True)
class FeedPage:
    """The envelope of a feed answer; ``items`` are raw documents, validate each on its own."""

    protocol: int
    server_time: str
    cursor: str
    items: list[Any]
    more: bool
    # Only when the device asked for them (``?include=speech,voice_packs``); None: not sent.
    speech: list[Any] | None = None
    voice_packs: list[Any] | None = None



def parse_feed_page(doc: Any) -> FeedPage:
    """Check the feed envelope (not the items). Raises ``CentralError`` for a malformed answer."""
    def bad(what: str) -> CentralError:
        return CentralError(f"Trung tâm trả về nguồn tin sai định dạng: {what}",
                            f"Central returned a malformed feed: {what}", code="central_malformed")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    required = {"protocol", "server_time", "cursor", "items", "more"}
    if not required <= set(doc) or set(doc) - required - {"speech", "voice_packs"}:
        raise bad("fields must be protocol, server_time, cursor, items, more (and speech, voice_packs)")
    if doc["protocol"] != PROTOCOL_VERSION or isinstance(doc["protocol"], bool):
        raise bad(f"unsupported protocol {str(doc['protocol'])[:20]}")
    try:
        parse_utc(doc["server_time"])
    except ValueError:
        raise bad("server_time") from None
    cursor = doc["cursor"]
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 256 or CONTROL_RE.search(cursor):
        raise bad("cursor")
    if not isinstance(doc["items"], list) or len(doc["items"]) > 10 * FEED_PAGE_LIMIT:
        raise bad("items")
    if not isinstance(doc["more"], bool):
        raise bad("more")
    speech = doc.get("speech")
    if speech is not None and (not isinstance(speech, list) or len(speech) > 4 * len(doc["items"])):
        raise bad("speech")
    offers = doc.get("voice_packs")
    if offers is not None and (not isinstance(offers, list) or len(offers) > MAX_VOICE_PACK_OFFERS):
        raise bad("voice_packs")
    return FeedPage(protocol=PROTOCOL_VERSION, server_time=doc["server_time"], cursor=cursor,
                    items=doc["items"], more=doc["more"], speech=speech, voice_packs=offers)
