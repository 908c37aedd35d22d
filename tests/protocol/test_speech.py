"""Speech documents and voice-pack offers (protocol §4.3, §4.4): signature, domain, shape, binding."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from protocol.errors import RejectedItem
from protocol.feed import parse_feed_page
from protocol.spec import ITEM_DOMAIN, VOICE_PACK_MIME
from protocol.speech import sign_offer, sign_speech, validate_offer, validate_speech

KEY = Ed25519PrivateKey.generate()
SHA = "ab" * 32
DIGEST = "cd" * 32


def speech_doc(**changes: Any) -> dict[str, Any]:
    doc = {"item_id": "it-1", "version": 2, "item_digest": DIGEST, "language": "vi",
           "voice": {"engine": "espeak", "id": "vi-vn-x-south", "name": "espeak-ng Vietnamese (Southern)"},
           "media": {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 1234, "mime": "audio/wav"},
           "duration_s": 3.5, "rendered_at": "2026-12-02T10:00:00Z"}
    doc.update(changes)
    return doc


def check(doc: Any, **binding: Any) -> protocol.Speech:
    wanted = {"item_id": "it-1", "version": 2, "item_digest": DIGEST} | binding
    return validate_speech(doc, KEY.public_key(), **wanted)


def test_signed_speech_verifies_for_its_item() -> None:
    speech = check(sign_speech(speech_doc(), KEY))
    assert (speech.item_id, speech.version, speech.media.sha256, speech.voice["id"]) == ("it-1", 2, SHA, "vi-vn-x-south")


@pytest.mark.parametrize(("binding", "reason"), [
    ({"version": 3}, "tampered"), ({"item_id": "it-2"}, "tampered"), ({"item_digest": "ef" * 32}, "tampered"),
])
def test_speech_for_another_version_or_content_is_refused(binding: dict[str, Any], reason: str) -> None:
    with pytest.raises(RejectedItem) as caught:
        check(sign_speech(speech_doc(), KEY), **binding)
    assert caught.value.reason == reason


def test_altered_or_foreign_or_cross_domain_speech_is_refused() -> None:
    signed = sign_speech(speech_doc(), KEY)
    altered = copy.deepcopy(signed)
    altered["media"]["bytes"] = 1235
    other = sign_speech(speech_doc(), Ed25519PrivateKey.generate())
    as_item = protocol.sign_document(speech_doc(), KEY, domain=ITEM_DOMAIN)  # an item signature is not speech's
    unsigned = speech_doc()
    reasons = []
    for doc in (altered, other, as_item, unsigned):
        with pytest.raises(RejectedItem) as caught:
            check(doc)
        reasons.append(caught.value.reason)
    assert reasons == ["bad_signature", "unknown_key", "bad_signature", "missing_signature"]


@pytest.mark.parametrize("changes", [
    {"media": {"url": "/v1/media/" + "00" * 32, "sha256": SHA, "bytes": 1, "mime": "audio/wav"}},  # url != sha
    {"media": {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 0, "mime": "audio/wav"}},
    {"media": {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 10, "mime": "text/html"}},
    {"duration_s": 0}, {"version": True}, {"voice": {"engine": "espeak"}}, {"extra": 1}, {"language": "vi\n"},
])
def test_malformed_speech_is_refused_and_central_cannot_sign_it(changes: dict[str, Any]) -> None:
    with pytest.raises(RejectedItem):
        sign_speech(speech_doc(**changes), KEY)
    forged = protocol.sign_document(speech_doc(**changes), KEY, domain=protocol.spec.SPEECH_DOMAIN)
    with pytest.raises(RejectedItem) as caught:
        check(forged)
    assert caught.value.reason in ("malformed", "bad_media_type")


def offer_doc(**changes: Any) -> dict[str, Any]:
    doc = {"pack_id": "vi-test", "name": "Giọng thử", "language": "vi", "licence": "CC-BY-4.0",
           "media": {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 99, "mime": VOICE_PACK_MIME},
           "offered_at": "2026-12-02T10:00:00Z"}
    doc.update(changes)
    return doc


def test_voice_pack_offer_verifies_and_its_domain_is_its_own() -> None:
    offer = validate_offer(sign_offer(offer_doc(), KEY), KEY.public_key())
    assert offer.pack_id == "vi-test" and offer.media.bytes == 99
    as_speech = protocol.sign_document(offer_doc(), KEY, domain=protocol.spec.SPEECH_DOMAIN)
    with pytest.raises(RejectedItem) as caught:
        validate_offer(as_speech, KEY.public_key())
    assert caught.value.reason == "bad_signature"
    with pytest.raises(RejectedItem):
        sign_offer(offer_doc(pack_id="../etc"), KEY)
    with pytest.raises(RejectedItem):
        sign_offer(offer_doc(media={**offer_doc()["media"], "mime": "audio/wav"}), KEY)


def test_feed_page_carries_speech_and_offers_only_as_lists() -> None:
    page = {"protocol": 1, "server_time": "2026-12-02T10:00:00Z", "cursor": "abcd0123.4", "items": [], "more": False}
    assert parse_feed_page(page).speech is None
    assert parse_feed_page(page | {"speech": [], "voice_packs": []}).voice_packs == []
    for bad in ({"speech": {}}, {"voice_packs": "x"}, {"speech": [1]}, {"other": []}):
        with pytest.raises(protocol.errors.CentralError):
            parse_feed_page(page | bad)
