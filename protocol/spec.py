"""Protocol v1's constants as docs/protocol.md states them: version, signature domains, limits,
enumerations and the patterns every field is checked against. Plain data, nothing else.
"""

from __future__ import annotations

import re

PROTOCOL_VERSION = 1
ITEM_DOMAIN = b"commune-radio/item/v1\n"
COMMAND_DOMAIN = b"commune-radio/command/v1\n"
VOICE_PACK_DOMAIN = b"commune-radio/voice-pack/v1\n"
SIGNATURE_ALG = "ed25519"

MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 20_000
MAX_LIST_ENTRIES = 256
MAX_STARTS = 1_000
MAX_DURATION_S = 86_400
MAX_COMMAND_LIFETIME_S = 86_400
# A command issued slightly "in the future" is normal clock skew; far ahead is suspicious.
COMMAND_FUTURE_SKEW_S = 300
MAX_SAFE_INT = 2**53 - 1  # I-JSON / RFC 8785 integer range
HEARTBEAT_MAX_BYTES = 2048
# Proof of play keeps what was said (protocol §10): a play entry's optional text is at most this
# many UTF-8 bytes (longer texts are cut at a character boundary by the station), and a play
# entry's data at most PLAY_DATA_MAX_BYTES as UTF-8 JSON (other entries: ENTRY_DATA_MAX_CHARS).
PLAY_TEXT_MAX_BYTES = 4096
PLAY_DATA_MAX_BYTES = 12_288
ENTRY_DATA_MAX_CHARS = 4096
FEED_PAGE_LIMIT = 500

KINDS = ("text", "audio", "stream")
PRIORITIES = ("normal", "priority", "emergency")
COMMAND_TYPES = ("play", "stop", "set_volume", "sync_now", "reload")
OUTBOX_TYPES = ("play", "rejected", "relay")

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Same shapes as appliance.config (kept here so the protocol module has no config import).
DEVICE_ID_RE = re.compile(r"^[0-9]{5}-[A-Za-z0-9]{1,16}$")
ZONE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")
MIME_RE = re.compile(r"^[a-z]+/[a-z0-9][a-z0-9.+-]{0,63}$")
# The only media types an item may carry (docs/protocol.md §4.1). A device serves stored media
# back to browsers (the panel's listen button): a type outside these lists could make central's
# bytes a document or a script on the panel's origin, so it is refused, not played.
AUDIO_MEDIA_TYPES = (
    "audio/mpeg", "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/ogg", "audio/opus",
    "audio/flac", "audio/x-flac", "audio/mp4", "audio/aac", "audio/webm",
)
STREAM_MEDIA_TYPES = (
    "audio/mpeg", "audio/aac", "audio/aacp", "audio/ogg", "audio/opus", "audio/flac", "audio/webm",
    "audio/mp4", "application/vnd.apple.mpegurl", "audio/mpegurl", "audio/x-mpegurl",
)
MEDIA_PATH_RE = re.compile(r"^/(?!/)[A-Za-z0-9._~/-]{1,511}$")
STREAM_URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+,;=:@!$&'()*?-]*)?$")
TZID_RE = re.compile(r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$")
RRULE_PART_RE = re.compile(r"^[A-Z]+=[A-Z0-9,+-]+$")
# BYSETPOS/BYYEARDAY/BYWEEKNO are left out (as in the planner): they allow rules that never
# fire, and expanding such a rule makes dateutil search up to year 9999.
RRULE_NAMES = frozenset({
    "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
    "BYMONTHDAY", "BYMONTH", "WKST",
})
UNTIL_RE = re.compile(r"^\d{8}(T\d{6}Z?)?$")
# SECONDLY makes no sense for a loudspeaker; how frequent is too frequent is the planner's call.
RRULE_FREQS = frozenset({"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"})
# Control characters are refused in every string except newline/tab in bulletin text.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ITEM_FIELDS = frozenset({
    "id", "version", "kind", "title", "text", "language", "media", "priority", "valid_from",
    "valid_until", "zones", "devices", "schedule", "approved_by", "approved_at", "revoked",
    "signature",
})
COMMAND_FIELDS = frozenset({
    "id", "device_id", "type", "params", "issued_at", "expires_at", "signature",
})
