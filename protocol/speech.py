"""Speech rendered by central and voice packs offered by central (protocol §4.3, §4.4): pure checks.

A **speech document** says "this audio is how central's voice reads this exact item": it names
the item's id and version and the digest of the item's signed content (``content_digest``), and
points at a media file by sha256, size and type. It is signed with its own domain
(``SPEECH_DOMAIN``), so no item or command signature can ever pass for one. A device uses the
audio only when the signature verifies, the binding matches the item it holds and the file's
size and sha256 match; otherwise it reads the item with its own voice.

A **voice-pack offer** points at a voice pack file (a zip, protocol §4.4) by sha256 and size and
names the pack; it is signed with ``VOICE_PACK_OFFER_DOMAIN``. The pack's own manifest is signed
too (``VOICE_PACK_DOMAIN``) and is verified again when the pack is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.fields import safe_copy
from protocol.rejections import reject
from protocol.signing import PublicKeys, keyring, sign_document, verify_signature
from protocol.spec import (
    ID_RE,
    LANGUAGE_RE,
    MAX_DURATION_S,
    MEDIA_PATH_RE,
    SHA256_RE,
    SPEECH_DOMAIN,
    SPEECH_MEDIA_TYPES,
    UTC_RE,
    VOICE_PACK_MAX_BYTES,
    VOICE_PACK_MIME,
    VOICE_PACK_OFFER_DOMAIN,
)

SPEECH_FIELDS = frozenset({"item_id", "version", "item_digest", "language", "voice", "media", "duration_s",
                           "rendered_at", "signature"})
OFFER_FIELDS = frozenset({"pack_id", "name", "language", "licence", "media", "offered_at", "signature"})
_VOICE_FIELDS = frozenset({"engine", "id", "name"})
_MEDIA_FIELDS = frozenset({"url", "sha256", "bytes", "mime"})
PACK_ID_RE_TEXT = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MAX_SPEECH_BYTES = 200_000_000


@dataclass(frozen=True)
class SpeechMedia:
    url: str
    sha256: str
    bytes: int
    mime: str


@dataclass(frozen=True)
class Speech:
    """A verified speech document; ``document`` is a deep copy, safe to store."""

    item_id: str
    version: int
    item_digest: str
    language: str
    voice: dict[str, str]
    media: SpeechMedia
    duration_s: float
    rendered_at: str
    key_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class VoicePackOffer:
    pack_id: str
    name: str
    language: str
    licence: str
    media: SpeechMedia
    offered_at: str
    key_id: str
    document: dict[str, Any]


def _malformed(ident: str | None, vi: str, en: str) -> Exception:
    return reject("malformed", vi, en, ident)


def _text(doc: Mapping[str, Any], field: str, ident: str | None, limit: int = 200) -> str:
    value = doc.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > limit or any(ord(c) < 32 for c in value):
        raise _malformed(ident, f"trường '{field}' không hợp lệ", f"field '{field}' is invalid")
    return value


def _media(value: Any, ident: str | None, *, mimes: tuple[str, ...], max_bytes: int) -> SpeechMedia:
    if not isinstance(value, dict) or set(value) != _MEDIA_FIELDS:
        raise _malformed(ident, "'media' phải có đúng url, sha256, bytes, mime",
                         "'media' must have exactly url, sha256, bytes, mime")
    url, sha, size, mime = value["url"], value["sha256"], value["bytes"], value["mime"]
    if not isinstance(sha, str) or not SHA256_RE.fullmatch(sha):
        raise _malformed(ident, "media.sha256 không hợp lệ", "media.sha256 is not 64 lower-case hex digits")
    if not isinstance(url, str) or not MEDIA_PATH_RE.fullmatch(url) or url != f"/v1/media/{sha}":
        raise _malformed(ident, "media.url phải là /v1/media/<sha256>", "media.url must be /v1/media/<sha256>")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= max_bytes:
        raise _malformed(ident, "media.bytes không hợp lệ", f"media.bytes must be 1..{max_bytes}")
    if mime not in mimes:
        raise reject("bad_media_type", f"kiểu {str(mime)[:40]!r} không được phép",
                     f"type {str(mime)[:40]!r} is not allowed here", ident)
    return SpeechMedia(url=url, sha256=sha, bytes=size, mime=mime)


def _utc(doc: Mapping[str, Any], field: str, ident: str | None) -> str:
    value = doc.get(field)
    if not isinstance(value, str) or not UTC_RE.fullmatch(value):
        raise _malformed(ident, f"'{field}' phải là giờ UTC", f"'{field}' must be a UTC time")
    return value


# --------------------------------------------------------------------------- speech


def check_speech_shape(doc: Mapping[str, Any], *, key: str = "") -> Speech:
    ident = doc.get("item_id") if isinstance(doc.get("item_id"), str) else None
    if set(doc) - SPEECH_FIELDS or not (SPEECH_FIELDS - {"signature"}) <= set(doc):
        raise _malformed(ident, "tài liệu giọng đọc thiếu hoặc thừa trường", "the speech document's fields are wrong")
    if not isinstance(ident, str) or not ID_RE.fullmatch(ident):
        raise _malformed(None, "item_id không hợp lệ", "invalid item_id")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 2**53 - 1:
        raise _malformed(ident, "version không hợp lệ", "invalid version")
    digest = doc["item_digest"]
    if not isinstance(digest, str) or not SHA256_RE.fullmatch(digest):
        raise _malformed(ident, "item_digest không hợp lệ", "item_digest is not a sha256")
    language = doc["language"]
    if not isinstance(language, str) or not LANGUAGE_RE.fullmatch(language):
        raise _malformed(ident, "language không hợp lệ", "invalid language")
    voice = doc["voice"]
    if not isinstance(voice, dict) or set(voice) != _VOICE_FIELDS:
        raise _malformed(ident, "'voice' phải có đúng engine, id, name", "'voice' must have exactly engine, id, name")
    for field in _VOICE_FIELDS:
        _text(voice, field, ident)
    duration = doc["duration_s"]
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration <= MAX_DURATION_S:
        raise _malformed(ident, "duration_s không hợp lệ", "invalid duration_s")
    media = _media(doc["media"], ident, mimes=SPEECH_MEDIA_TYPES, max_bytes=MAX_SPEECH_BYTES)
    return Speech(item_id=ident, version=version, item_digest=digest, language=language,
                  voice={k: str(voice[k]) for k in sorted(_VOICE_FIELDS)}, media=media, duration_s=float(duration),
                  rendered_at=_utc(doc, "rendered_at", ident), key_id=key, document=dict(doc))


def sign_speech(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Central: sign a speech document (refuses a malformed one)."""
    check_speech_shape({k: v for k, v in doc.items() if k != "signature"})
    return sign_document(doc, private_key, domain=SPEECH_DOMAIN)


def validate_speech(doc: Any, public_keys: PublicKeys, *, item_id: str, version: int, item_digest: str) -> Speech:
    """Verify a speech document for the item a device holds (id, version, content digest).

    Signature first, then shape, then the binding: speech rendered from another item, another
    version or other content is refused as ``tampered``.
    """
    ident = doc.get("item_id") if isinstance(doc, dict) and isinstance(doc.get("item_id"), str) else None
    if not isinstance(doc, dict):
        raise _malformed(ident, "không phải đối tượng JSON", "not a JSON object")
    doc = safe_copy(doc, ident)
    kid = verify_signature(doc, keyring(public_keys), SPEECH_DOMAIN, ident)
    speech = check_speech_shape(doc, key=kid)
    if (speech.item_id, speech.version, speech.item_digest) != (item_id, version, item_digest):
        raise reject("tampered", "giọng đọc không thuộc bản tin này (mã, phiên bản hoặc nội dung khác)",
                     "the speech is not for this item (another id, version or content)", item_id)
    return speech


# --------------------------------------------------------------------------- voice-pack offers


def check_offer_shape(doc: Mapping[str, Any], *, key: str = "") -> VoicePackOffer:
    import re

    ident = doc.get("pack_id") if isinstance(doc.get("pack_id"), str) else None
    if set(doc) - OFFER_FIELDS or not (OFFER_FIELDS - {"signature"}) <= set(doc):
        raise _malformed(ident, "lời mời gói giọng thiếu hoặc thừa trường", "the voice-pack offer's fields are wrong")
    if not isinstance(ident, str) or not re.fullmatch(PACK_ID_RE_TEXT, ident):
        raise _malformed(None, "pack_id không hợp lệ", "invalid pack_id")
    language = doc["language"]
    if not isinstance(language, str) or not LANGUAGE_RE.fullmatch(language):
        raise _malformed(ident, "language không hợp lệ", "invalid language")
    media = _media(doc["media"], ident, mimes=(VOICE_PACK_MIME,), max_bytes=VOICE_PACK_MAX_BYTES)
    return VoicePackOffer(pack_id=ident, name=_text(doc, "name", ident), language=language,
                          licence=_text(doc, "licence", ident), media=media,
                          offered_at=_utc(doc, "offered_at", ident), key_id=key, document=dict(doc))


def sign_offer(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    check_offer_shape({k: v for k, v in doc.items() if k != "signature"})
    return sign_document(doc, private_key, domain=VOICE_PACK_OFFER_DOMAIN)


def validate_offer(doc: Any, public_keys: PublicKeys) -> VoicePackOffer:
    ident = doc.get("pack_id") if isinstance(doc, dict) and isinstance(doc.get("pack_id"), str) else None
    if not isinstance(doc, dict):
        raise _malformed(ident, "không phải đối tượng JSON", "not a JSON object")
    doc = safe_copy(doc, ident)
    kid = verify_signature(doc, keyring(public_keys), VOICE_PACK_OFFER_DOMAIN, ident)
    return check_offer_shape(doc, key=kid)
