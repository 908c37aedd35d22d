"""Protocol v1, shared by the station (which verifies) and central (which signs).

docs/protocol.md is the normative text; this package is its executable form. Everything in it
is pure (no network, no database, no clock of its own) except ``protocol.durable``, the
crash-safe file writes both products use. Modules:

- ``spec``: version, signature domains, limits, enumerations, field patterns;
- ``errors``: the base of the exception hierarchy (bilingual, with stable codes);
- ``signing``: RFC 8785 canonical JSON and Ed25519 signatures with domain separation;
- ``items``, ``commands``, ``feed``, ``reports``, ``speech``: validation of what crosses the wire;
- ``rejections``, ``fields``, ``times``: their building blocks;
- ``durable``: temp file, fsync, rename, fsync the directory.

The names most callers need are re-exported here (``protocol.validate_item``, ...). They load
on first use, so a process that only needs ``protocol.errors`` or ``protocol.durable`` (the
``relays-off`` command at shutdown, say) does not pay for the cryptography imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, tuple[str, ...]] = {
    "protocol.spec": (
        "PROTOCOL_VERSION", "ITEM_DOMAIN", "COMMAND_DOMAIN", "SIGNATURE_ALG", "MAX_TITLE_CHARS", "MAX_TEXT_CHARS",
        "MAX_LIST_ENTRIES", "MAX_STARTS", "MAX_DURATION_S", "MAX_COMMAND_LIFETIME_S", "COMMAND_FUTURE_SKEW_S",
        "MAX_SAFE_INT", "HEARTBEAT_MAX_BYTES", "FEED_PAGE_LIMIT", "KINDS", "PRIORITIES", "COMMAND_TYPES",
        "OUTBOX_TYPES", "ID_RE", "DEVICE_ID_RE", "ZONE_RE", "UTC_RE", "LOCAL_RE", "SHA256_RE", "KEY_ID_RE",
        "LANGUAGE_RE", "MIME_RE", "AUDIO_MEDIA_TYPES", "STREAM_MEDIA_TYPES", "MEDIA_PATH_RE", "STREAM_URL_RE",
        "TZID_RE", "ITEM_FIELDS", "COMMAND_FIELDS",
    ),
    "protocol.rejections": ("REJECT_REASONS", "reject", "reason_text"),
    "protocol.times": ("parse_utc", "format_utc", "parse_local"),
    "protocol.signing": (
        "canonical_bytes", "signing_payload", "content_digest", "raw_public_bytes", "key_id", "public_key_to_b64",
        "public_key_from_b64", "sign_document",
    ),
    "protocol.items": ("Media", "Item", "check_item_shape", "validate_item", "check_version", "sign_item",
                       "media_type_allowed", "zones_on_station"),
    "protocol.commands": ("Command", "check_command_shape", "validate_command", "sign_command"),
    "protocol.feed": ("FeedPage", "parse_feed_page"),
    "protocol.speech": ("Speech", "VoicePackOffer", "sign_speech", "validate_speech", "sign_offer", "validate_offer"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'protocol' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what the lazy names are, for type checkers and the import graph
    from protocol.commands import Command, check_command_shape, sign_command, validate_command  # noqa: F401
    from protocol.feed import FeedPage, parse_feed_page  # noqa: F401
    from protocol.items import (  # noqa: F401
        Item,
        Media,
        check_item_shape,
        check_version,
        media_type_allowed,
        sign_item,
        validate_item,
        zones_on_station,
    )
    from protocol.rejections import REJECT_REASONS, reason_text, reject  # noqa: F401
    from protocol.signing import (  # noqa: F401
        canonical_bytes,
        content_digest,
        key_id,
        public_key_from_b64,
        public_key_to_b64,
        raw_public_bytes,
        sign_document,
        signing_payload,
    )
    from protocol.spec import *  # noqa: F403
    from protocol.speech import (  # noqa: F401,E501
        Speech,
        VoicePackOffer,
        sign_offer,
        sign_speech,
        validate_offer,
        validate_speech,
    )
    from protocol.times import format_utc, parse_local, parse_utc  # noqa: F401
