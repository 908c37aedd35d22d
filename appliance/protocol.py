"""Protocol v1: canonical encoding, Ed25519 signatures and strict validation (pure, no I/O).

docs/protocol.md is the normative text; this module is its executable form, shared by the
appliance (which verifies) and the reference central (which signs). Everything here works on
plain JSON data (dicts, lists, str, int, bool, None) and raises ``RejectedItem`` for anything
a device must refuse, so callers never see a ``KeyError`` or ``TypeError`` from a hostile
document.

Signatures cover ``DOMAIN + rfc8785(document without "signature")``. The domain prefix keeps
an item signature from ever being accepted as a command signature and the reverse.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from dateutil.rrule import rrulestr

from appliance.errors import CentralError, RejectedItem, ValidationError

PROTOCOL_VERSION = 1
ITEM_DOMAIN = b"commune-radio/item/v1\n"
COMMAND_DOMAIN = b"commune-radio/command/v1\n"
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
_UNTIL_RE = re.compile(r"^\d{8}(T\d{6}Z?)?$")
# SECONDLY makes no sense for a loudspeaker; how frequent is too frequent is the planner's call.
RRULE_FREQS = frozenset({"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"})
# Control characters are refused in every string except newline/tab in bulletin text.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ITEM_FIELDS = frozenset({
    "id", "version", "kind", "title", "text", "language", "media", "priority", "valid_from",
    "valid_until", "zones", "devices", "schedule", "approved_by", "approved_at", "revoked",
    "signature",
})
COMMAND_FIELDS = frozenset({
    "id", "device_id", "type", "params", "issued_at", "expires_at", "signature",
})

_REASON_TEXT: dict[str, tuple[str, str]] = {
    "malformed": ("Bản tin sai định dạng", "The item is malformed"),
    "missing_signature": ("Bản tin không có chữ ký", "The item carries no signature"),
    "bad_signature": ("Chữ ký không hợp lệ (nội dung đã bị sửa hoặc giả mạo)",
                      "The signature does not verify (content altered or forged)"),
    "unknown_key": ("Bản tin được ký bằng khóa không được tin cậy",
                    "The item is signed with a key this device does not trust"),
    "wrong_device": ("Bản tin không dành cho thiết bị này", "The item is not addressed to this device"),
    "replay": ("Phiên bản cũ hoặc bị phát lại", "An older or replayed version"),
    "expired": ("Lệnh đã hết hạn", "The command has expired"),
    "not_yet_valid": ("Lệnh có thời điểm phát hành ở tương lai", "The command is issued in the future"),
    "checksum_mismatch": ("Tệp âm thanh không khớp mã kiểm tra", "The media does not match its checksum"),
    "size_mismatch": ("Tệp âm thanh không đúng kích thước", "The media size does not match"),
    "bad_origin": ("Địa chỉ tệp nằm ngoài máy chủ trung tâm", "The media URL leaves the central origin"),
}
REJECT_REASONS = tuple(_REASON_TEXT)


def reject(reason: str, detail_vi: str, detail_en: str, item_id: str | None = None) -> RejectedItem:
    """Build the bilingual ``RejectedItem`` for ``reason`` (one of ``REJECT_REASONS``)."""
    head_vi, head_en = _REASON_TEXT.get(reason, ("Bản tin bị từ chối", "The item is rejected"))
    prefix_vi = f"{head_vi} ({item_id})" if item_id else head_vi
    prefix_en = f"{head_en} ({item_id})" if item_id else head_en
    return RejectedItem(f"{prefix_vi}: {detail_vi}", f"{prefix_en}: {detail_en}", reason=reason, item_id=item_id)


# --------------------------------------------------------------------------- encoding


def canonical_bytes(doc: Any) -> bytes:
    """RFC 8785 canonical JSON of ``doc``; raises ``ValueError`` for non-I-JSON values."""
    try:
        return rfc8785.dumps(doc)
    except RecursionError as exc:
        raise ValueError("document nested too deeply") from exc
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"not a JSON value: {exc}") from exc


def _without_signature(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "signature"}


def signing_payload(doc: Mapping[str, Any], domain: bytes) -> bytes:
    """The exact bytes a signature covers: domain prefix + canonical document minus ``signature``."""
    return domain + canonical_bytes(_without_signature(doc))


def content_digest(doc: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical document without its signature (same content => same digest)."""
    return hashlib.sha256(canonical_bytes(_without_signature(doc))).hexdigest()


# --------------------------------------------------------------------------- keys


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex chars of sha256(raw 32-byte public key)."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_key_to_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Parse central's public key as configured (standard base64 of the 32 raw bytes)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Thiếu khóa công khai của trung tâm.", "Central's public key is missing.")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Khóa công khai không phải base64 hợp lệ.",
                              "The public key is not valid base64.") from exc
    if len(raw) != 32:
        raise ValidationError(f"Khóa công khai phải dài 32 byte (nhận {len(raw)}).",
                              f"The public key must be 32 bytes (got {len(raw)}).")
    return Ed25519PublicKey.from_public_bytes(raw)


def _keyring(public_keys: Ed25519PublicKey | Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey],
             ) -> dict[str, Ed25519PublicKey]:
    if isinstance(public_keys, Ed25519PublicKey):
        return {key_id(public_keys): public_keys}
    if isinstance(public_keys, Mapping):
        return {key_id(k): k for k in public_keys.values()}
    return {key_id(k): k for k in public_keys}


# --------------------------------------------------------------------------- signing


def sign_document(doc: Mapping[str, Any], private_key: Ed25519PrivateKey, *, domain: bytes) -> dict[str, Any]:
    """Return a copy of ``doc`` with a fresh ``signature`` (any old one is replaced). No shape checks."""
    body = copy.deepcopy(_without_signature(doc))
    value = private_key.sign(domain + canonical_bytes(body))
    body["signature"] = {
        "alg": SIGNATURE_ALG,
        "key_id": key_id(private_key.public_key()),
        "value": base64.b64encode(value).decode("ascii"),
    }
    return body


def sign_item(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Validate the item's shape, then sign it. Central never signs a malformed item."""
    check_item_shape(_without_signature(doc))
    return sign_document(doc, private_key, domain=ITEM_DOMAIN)


def sign_command(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Validate the command's shape, then sign it."""
    check_command_shape(_without_signature(doc))
    return sign_document(doc, private_key, domain=COMMAND_DOMAIN)


def _verify(doc: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey], domain: bytes,
            ident: str | None) -> str:
    """Check the signature block and verify it; returns the key id. Raises RejectedItem."""
    sig = doc.get("signature")
    if sig is None:
        raise reject("missing_signature", "trường 'signature' vắng mặt", "no 'signature' field", ident)
    if not isinstance(sig, dict) or set(sig) != {"alg", "key_id", "value"}:
        raise reject("malformed", "khối chữ ký phải có đúng alg, key_id, value",
                     "the signature block must have exactly alg, key_id, value", ident)
    if sig["alg"] != SIGNATURE_ALG:
        raise reject("bad_signature", "thuật toán chữ ký không được hỗ trợ",
                     f"unsupported signature algorithm {str(sig['alg'])[:20]!r}", ident)
    kid = sig["key_id"]
    if not isinstance(kid, str) or not KEY_ID_RE.match(kid):
        raise reject("malformed", "key_id phải là 16 ký tự hex", "key_id must be 16 hex characters", ident)
    if kid not in keys:
        raise reject("unknown_key", f"khóa {kid} không được tin cậy", f"key {kid} is not trusted", ident)
    value = sig["value"]
    try:
        raw_sig = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw_sig = b""
    if len(raw_sig) != 64:
        raise reject("bad_signature", "giá trị chữ ký không phải 64 byte base64",
                     "the signature value is not 64 base64-encoded bytes", ident)
    try:
        payload = signing_payload(doc, domain)
    except ValueError as exc:
        raise reject("malformed", "không mã hóa chuẩn được (JSON không hợp lệ)",
                     f"cannot be canonicalized: {exc}", ident) from exc
    try:
        keys[kid].verify(raw_sig, payload)
    except InvalidSignature:
        raise reject("bad_signature", "chữ ký không khớp nội dung",
                     "the signature does not match the content", ident) from None
    return kid


# --------------------------------------------------------------------------- time


def parse_utc(text: str) -> datetime:
    """Parse a protocol UTC timestamp ('…Z'); raises ValueError on anything else."""
    if not isinstance(text, str) or not UTC_RE.match(text):
        raise ValueError(f"not a UTC ISO 8601 time with 'Z': {str(text)[:40]!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def format_utc(moment: datetime) -> str:
    """UTC ISO 8601 with 'Z' and whole seconds (how central writes protocol timestamps)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: protocol times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_local(text: str) -> datetime:
    """Parse a floating local time 'YYYY-MM-DDTHH:MM:SS' (naive datetime)."""
    if not isinstance(text, str) or not LOCAL_RE.match(text):
        raise ValueError(f"not a local ISO time without offset: {str(text)[:40]!r}")
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Media:
    url: str
    mime: str
    sha256: str | None = None  # None only for streams
    bytes: int | None = None


@dataclass(frozen=True)
class Item:
    """A validated item. ``document`` is the signed JSON exactly as received (store it as-is)."""

    id: str
    version: int
    kind: str
    title: str
    text: str
    language: str
    media: Media | None
    priority: str
    valid_from: str
    valid_until: str | None
    zones: tuple[str, ...]
    devices: tuple[str, ...]
    schedule: dict[str, Any] | None  # the protocol schedule object (plain JSON; do not mutate)
    approved_by: str
    approved_at: str
    revoked: bool
    key_id: str | None
    digest: str
    document: dict[str, Any]

    def targets_device(self, device_id: str) -> bool:
        return self.devices == ("*",) or device_id in self.devices

    def is_expired(self, now: datetime) -> bool:
        return self.valid_until is not None and now >= parse_utc(self.valid_until)


@dataclass(frozen=True)
class Command:
    id: str
    device_id: str
    type: str
    params: dict[str, Any]
    issued_at: str
    expires_at: str
    key_id: str
    document: dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    """The envelope of a feed answer; ``items`` are raw documents, validate each on its own."""

    protocol: int
    server_time: str
    cursor: str
    items: list[Any]
    more: bool


# --------------------------------------------------------------------------- field checks


class _Checker:
    """Collects the item id for messages; each method raises ``malformed`` on failure."""

    def __init__(self, ident: str | None) -> None:
        self.ident = ident

    def fail(self, field: str, vi: str, en: str) -> RejectedItem:
        return reject("malformed", f"{field}: {vi}", f"{field}: {en}", self.ident)

    def exact_keys(self, obj: Any, field: str, required: frozenset[str],
                   optional: frozenset[str] = frozenset()) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(field, "phải là đối tượng JSON", "must be a JSON object")
        keys = set(obj)
        missing = required - keys
        unknown = keys - required - optional
        if missing:
            names = ", ".join(sorted(missing))
            raise self.fail(field, f"thiếu trường {names}", f"missing field(s) {names}")
        if unknown:
            names = ", ".join(sorted(str(k)[:40] for k in unknown))
            raise self.fail(field, f"trường không được phép {names}", f"unknown field(s) {names}")
        return obj

    def string(self, value: Any, field: str, *, max_len: int, min_len: int = 1,
               pattern: re.Pattern[str] | None = None, multiline: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(field, "phải là chuỗi", "must be a string")
        if not min_len <= len(value) <= max_len:
            raise self.fail(field, f"độ dài phải từ {min_len} đến {max_len} ký tự",
                            f"length must be {min_len}..{max_len} characters")
        if (_TEXT_CONTROL_RE if multiline else _CONTROL_RE).search(value):
            raise self.fail(field, "chứa ký tự điều khiển", "contains control characters")
        if pattern is not None and not pattern.match(value):
            raise self.fail(field, "sai định dạng", "has the wrong format")
        return value

    def integer(self, value: Any, field: str, *, minimum: int, maximum: int = MAX_SAFE_INT) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, "phải là số nguyên", "must be an integer")
        if not minimum <= value <= maximum:
            raise self.fail(field, f"phải trong khoảng {minimum}..{maximum}", f"must be in {minimum}..{maximum}")
        return value

    def utc(self, value: Any, field: str) -> datetime:
        try:
            return parse_utc(value)
        except ValueError:
            raise self.fail(field, "phải là thời gian UTC ISO 8601 kết thúc bằng 'Z'",
                            "must be a UTC ISO 8601 time ending in 'Z'") from None

    def local(self, value: Any, field: str) -> datetime:
        try:
            return parse_local(value)
        except ValueError:
            raise self.fail(field, "phải là giờ địa phương dạng YYYY-MM-DDTHH:MM:SS",
                            "must be a local time YYYY-MM-DDTHH:MM:SS") from None

    def name_list(self, value: Any, field: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_ENTRIES:
            raise self.fail(field, f"phải là danh sách 1..{MAX_LIST_ENTRIES} phần tử",
                            f"must be a list of 1..{MAX_LIST_ENTRIES} entries")
        if value == ["*"]:
            return ("*",)
        for entry in value:
            # fullmatch: the patterns end in '$', which also matches before a final '\n'.
            if not isinstance(entry, str) or not pattern.fullmatch(entry):
                raise self.fail(field, "có phần tử sai định dạng (hoặc '*' lẫn với tên khác)",
                                "has a malformed entry (or '*' mixed with names)")
        if len(set(value)) != len(value):
            raise self.fail(field, "có phần tử trùng lặp", "has duplicate entries")
        return tuple(value)


def _check_media(c: _Checker, kind: str, media: Any) -> Media | None:
    if kind == "text":
        if media is not None:
            raise c.fail("media", "bản tin văn bản không được có media", "must be null for a text item")
        return None
    if kind == "audio":
        c.exact_keys(media, "media", frozenset({"url", "sha256", "bytes", "mime"}))
        url = c.string(media["url"], "media.url", max_len=512, pattern=MEDIA_PATH_RE)
        if "/../" in url + "/" or "/./" in url + "/":
            raise c.fail("media.url", "không được chứa '.' hoặc '..'", "must not contain '.' or '..' segments")
        sha = c.string(media["sha256"], "media.sha256", max_len=64, pattern=SHA256_RE)
        size = c.integer(media["bytes"], "media.bytes", minimum=1)
        mime = c.string(media["mime"], "media.mime", max_len=80, pattern=MIME_RE)
        return Media(url=url, mime=mime, sha256=sha, bytes=size)
    c.exact_keys(media, "media", frozenset({"url", "mime"}))
    url = c.string(media["url"], "media.url", max_len=1024, pattern=STREAM_URL_RE)
    mime = c.string(media["mime"], "media.mime", max_len=80, pattern=MIME_RE)
    return Media(url=url, mime=mime)


def _check_rrule(c: _Checker, rule: Any, dtstart: datetime, tzid: str) -> str:
    rule = c.string(rule, "schedule.rrule", max_len=512)
    parts = rule.split(";")
    names: dict[str, str] = {}
    for part in parts:
        if not RRULE_PART_RE.match(part):
            raise c.fail("schedule.rrule", "phần tử RRULE sai định dạng", f"malformed RRULE part {part[:40]!r}")
        name, value = part.split("=", 1)
        if name not in RRULE_NAMES or name in names:
            raise c.fail("schedule.rrule", f"tham số {name} không hợp lệ hoặc lặp lại",
                         f"unknown or repeated RRULE part {name}")
        names[name] = value
    if names.get("FREQ") not in RRULE_FREQS:
        raise c.fail("schedule.rrule", "FREQ phải là YEARLY..MINUTELY", "FREQ must be one of YEARLY..MINUTELY")
    if "COUNT" in names and "UNTIL" in names:
        raise c.fail("schedule.rrule", "không dùng cùng lúc COUNT và UNTIL", "COUNT and UNTIL are exclusive")
    for name in ("INTERVAL", "COUNT"):
        if name in names and (not names[name].isdigit() or not 1 <= int(names[name]) <= 100_000):
            raise c.fail("schedule.rrule", f"{name} phải là số nguyên dương", f"{name} must be a positive integer")
    if "UNTIL" in names and not _UNTIL_RE.match(names["UNTIL"]):
        raise c.fail("schedule.rrule", "UNTIL phải có dạng YYYYMMDD hoặc YYYYMMDDTHHMMSS[Z]",
                     "UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSS[Z]")
    # dateutil insists that a UTC UNTIL goes with an aware DTSTART, a local one with a naive.
    utc_until = names.get("UNTIL", "").endswith("Z")
    start = dtstart.replace(tzinfo=zoneinfo.ZoneInfo(tzid)) if utc_until else dtstart
    try:
        rrulestr(rule, dtstart=start)
    except Exception as exc:  # dateutil raises ValueError, TypeError, IndexError… for bad rules
        raise c.fail("schedule.rrule", "không phân tích được quy tắc lặp", f"does not parse: {exc}") from None
    return rule


def _check_schedule(c: _Checker, schedule: Any) -> dict[str, Any] | None:
    if schedule is None:
        return None
    if not isinstance(schedule, dict):
        raise c.fail("schedule", "phải là null hoặc đối tượng", "must be null or an object")
    kind = schedule.get("type")
    if kind == "once":
        c.exact_keys(schedule, "schedule", frozenset({"type", "starts", "duration_s"}))
        starts = schedule["starts"]
        if not isinstance(starts, list) or not 1 <= len(starts) <= MAX_STARTS:
            raise c.fail("schedule.starts", f"phải có 1..{MAX_STARTS} thời điểm",
                         f"must hold 1..{MAX_STARTS} times")
        moments = [c.utc(s, "schedule.starts") for s in starts]
        if len(set(moments)) != len(moments):
            raise c.fail("schedule.starts", "có thời điểm trùng lặp", "has duplicate times")
    elif kind == "rrule":
        c.exact_keys(schedule, "schedule",
                     frozenset({"type", "dtstart", "tzid", "rrule", "exdates", "duration_s"}))
        dtstart = c.local(schedule["dtstart"], "schedule.dtstart")
        tzid = c.string(schedule["tzid"], "schedule.tzid", max_len=64, pattern=TZID_RE)
        try:
            zoneinfo.ZoneInfo(tzid)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise c.fail("schedule.tzid", "múi giờ không tồn tại", "unknown time zone") from None
        _check_rrule(c, schedule["rrule"], dtstart, tzid)
        exdates = schedule["exdates"]
        if not isinstance(exdates, list) or len(exdates) > MAX_STARTS:
            raise c.fail("schedule.exdates", f"phải là danh sách tối đa {MAX_STARTS} phần tử",
                         f"must be a list of at most {MAX_STARTS} entries")
        for entry in exdates:
            c.local(entry, "schedule.exdates")
    else:
        raise c.fail("schedule.type", "phải là 'once' hoặc 'rrule'", "must be 'once' or 'rrule'")
    c.integer(schedule["duration_s"], "schedule.duration_s", minimum=1, maximum=MAX_DURATION_S)
    return schedule


def _ident_of(doc: Any) -> str | None:
    if isinstance(doc, dict):
        ident = doc.get("id")
        if isinstance(ident, str) and ID_RE.match(ident):
            return ident
    return None


def check_item_shape(doc: Any, *, key: str | None = None) -> Item:
    """Validate every field of an item (signature excluded from the checks). Raises ``malformed``.

    Central calls this before signing; devices reach it through ``validate_item``.
    """
    c = _Checker(_ident_of(doc))
    if not isinstance(doc, dict):
        raise c.fail("item", "phải là đối tượng JSON", "must be a JSON object")
    c.exact_keys(doc, "item", ITEM_FIELDS - {"signature"}, frozenset({"signature"}))
    ident = c.string(doc["id"], "id", max_len=64, pattern=ID_RE)
    version = c.integer(doc["version"], "version", minimum=1)
    kind = doc["kind"]
    if kind not in KINDS:
        raise c.fail("kind", "phải là text, audio hoặc stream", "must be text, audio or stream")
    title = c.string(doc["title"], "title", max_len=MAX_TITLE_CHARS)
    text = c.string(doc["text"], "text", max_len=MAX_TEXT_CHARS, min_len=0, multiline=True)
    if kind == "text" and not text.strip():
        raise c.fail("text", "bản tin văn bản cần nội dung", "a text item needs text")
    language = c.string(doc["language"], "language", max_len=35, pattern=LANGUAGE_RE)
    media = _check_media(c, kind, doc["media"])
    priority = doc["priority"]
    if priority not in PRIORITIES:
        raise c.fail("priority", "phải là normal, priority hoặc emergency", "must be normal, priority or emergency")
    valid_from = c.utc(doc["valid_from"], "valid_from")
    if doc["valid_until"] is not None:
        valid_until = c.utc(doc["valid_until"], "valid_until")
        if not valid_from < valid_until:
            raise c.fail("valid_until", "phải sau valid_from", "must be after valid_from")
    zones = c.name_list(doc["zones"], "zones", ZONE_RE)
    devices = c.name_list(doc["devices"], "devices", DEVICE_ID_RE)
    schedule = _check_schedule(c, doc["schedule"])
    approved_by = c.string(doc["approved_by"], "approved_by", max_len=100)
    c.utc(doc["approved_at"], "approved_at")
    revoked = doc["revoked"]
    if not isinstance(revoked, bool):
        raise c.fail("revoked", "phải là true hoặc false", "must be true or false")
    try:
        digest = content_digest(doc)
    except ValueError as exc:
        raise c.fail("item", "không mã hóa chuẩn được", f"cannot be canonicalized: {exc}") from None
    return Item(
        id=ident, version=version, kind=kind, title=title, text=text, language=language, media=media,
        priority=priority, valid_from=doc["valid_from"], valid_until=doc["valid_until"], zones=zones,
        devices=devices, schedule=schedule, approved_by=approved_by, approved_at=doc["approved_at"],
        revoked=revoked, key_id=key, digest=digest, document=doc,
    )


def validate_item(doc: Any,
                  public_keys: Ed25519PublicKey | Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey],
                  *, device_id: str | None = None) -> Item:
    """Verify and validate one item document as received from central.

    Order: signature first (any altered byte is ``bad_signature``), then shape
    (``malformed``), then targeting (``wrong_device`` when ``device_id`` is given).
    The returned ``Item.document`` is a deep copy, safe to store.
    """
    ident = _ident_of(doc)
    if not isinstance(doc, dict):
        raise reject("malformed", "không phải đối tượng JSON", "not a JSON object", ident)
    doc = _safe_copy(doc, ident)
    kid = _verify(doc, _keyring(public_keys), ITEM_DOMAIN, ident)
    item = check_item_shape(doc, key=kid)
    if device_id is not None and not item.targets_device(device_id):
        raise reject("wrong_device", f"chỉ dành cho {', '.join(item.devices)[:80]}",
                     f"addressed to {', '.join(item.devices)[:80]}", ident)
    return item


def _safe_copy(doc: dict[str, Any], ident: str | None) -> dict[str, Any]:
    try:
        return copy.deepcopy(doc)
    except RecursionError:
        raise reject("malformed", "lồng nhau quá sâu", "nested too deeply", ident) from None


def check_version(item: Item, stored_version: int | None, stored_digest: str | None) -> bool:
    """Replay rule: True if ``item`` is new (store it), False if it is the copy already held.

    A lower version, or the same version with different content, raises ``replay``.
    """
    if stored_version is None:
        return True
    if item.version > stored_version:
        return True
    if item.version == stored_version and item.digest == stored_digest:
        return False
    if item.version == stored_version:
        raise reject("replay", f"phiên bản {item.version} đã nhận với nội dung khác",
                     f"version {item.version} was already received with different content", item.id)
    raise reject("replay", f"phiên bản {item.version} cũ hơn phiên bản đang giữ {stored_version}",
                 f"version {item.version} is older than the held version {stored_version}", item.id)


# --------------------------------------------------------------------------- commands


def _check_params(c: _Checker, kind: str, params: Any) -> dict[str, Any]:
    if kind == "play":
        c.exact_keys(params, "params", frozenset({"item_id"}), frozenset({"zones"}))
        c.string(params["item_id"], "params.item_id", max_len=64, pattern=ID_RE)
        if "zones" in params:
            c.name_list(params["zones"], "params.zones", ZONE_RE)
    elif kind == "set_volume":
        c.exact_keys(params, "params", frozenset({"volume"}))
        c.integer(params["volume"], "params.volume", minimum=0, maximum=100)
    else:
        c.exact_keys(params, "params", frozenset())
    return params


def check_command_shape(doc: Any, *, key: str | None = None) -> Command:
    """Validate a command's fields (not its signature, expiry or addressee). Raises ``malformed``."""
    c = _Checker(_ident_of(doc))
    if not isinstance(doc, dict):
        raise c.fail("command", "phải là đối tượng JSON", "must be a JSON object")
    c.exact_keys(doc, "command", COMMAND_FIELDS - {"signature"}, frozenset({"signature"}))
    ident = c.string(doc["id"], "id", max_len=64, pattern=ID_RE)
    device = c.string(doc["device_id"], "device_id", max_len=22, pattern=DEVICE_ID_RE)
    kind = doc["type"]
    if kind not in COMMAND_TYPES:
        raise c.fail("type", "loại lệnh không hợp lệ", f"must be one of {', '.join(COMMAND_TYPES)}")
    params = _check_params(c, kind, doc["params"])
    issued = c.utc(doc["issued_at"], "issued_at")
    expires = c.utc(doc["expires_at"], "expires_at")
    if not issued < expires <= issued + timedelta(seconds=MAX_COMMAND_LIFETIME_S):
        raise c.fail("expires_at", "phải sau issued_at tối đa 24 giờ",
                     "must be after issued_at, by at most 24 hours")
    return Command(id=ident, device_id=device, type=kind, params=params, issued_at=doc["issued_at"],
                   expires_at=doc["expires_at"], key_id=key or "", document=doc)


def validate_command(doc: Any, device_id: str, now: datetime,
                     public_keys: Ed25519PublicKey | Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey],
                     ) -> Command:
    """Verify a heartbeat command: signature, shape, addressee, and validity at ``now`` (aware)."""
    ident = _ident_of(doc)
    if not isinstance(doc, dict):
        raise reject("malformed", "lệnh không phải đối tượng JSON", "the command is not a JSON object", ident)
    doc = _safe_copy(doc, ident)
    kid = _verify(doc, _keyring(public_keys), COMMAND_DOMAIN, ident)
    command = check_command_shape(doc, key=kid)
    if command.device_id != device_id:
        raise reject("wrong_device", f"lệnh dành cho {command.device_id}",
                     f"the command is for {command.device_id}", ident)
    if now >= parse_utc(command.expires_at):
        raise reject("expired", f"hết hạn lúc {command.expires_at}", f"expired at {command.expires_at}", ident)
    if parse_utc(command.issued_at) > now + timedelta(seconds=COMMAND_FUTURE_SKEW_S):
        raise reject("not_yet_valid", f"phát hành lúc {command.issued_at}", f"issued at {command.issued_at}", ident)
    return command


# --------------------------------------------------------------------------- feed envelope


def parse_feed_page(doc: Any) -> FeedPage:
    """Check the feed envelope (not the items). Raises ``CentralError`` for a malformed answer."""
    def bad(what: str) -> CentralError:
        return CentralError(f"Trung tâm trả về nguồn tin sai định dạng: {what}",
                            f"Central returned a malformed feed: {what}", code="central_malformed")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    if set(doc) != {"protocol", "server_time", "cursor", "items", "more"}:
        raise bad("fields must be protocol, server_time, cursor, items, more")
    if doc["protocol"] != PROTOCOL_VERSION or isinstance(doc["protocol"], bool):
        raise bad(f"unsupported protocol {str(doc['protocol'])[:20]}")
    try:
        parse_utc(doc["server_time"])
    except ValueError:
        raise bad("server_time") from None
    cursor = doc["cursor"]
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 256 or _CONTROL_RE.search(cursor):
        raise bad("cursor")
    if not isinstance(doc["items"], list) or len(doc["items"]) > 10 * FEED_PAGE_LIMIT:
        raise bad("items")
    if not isinstance(doc["more"], bool):
        raise bad("more")
    return FeedPage(protocol=PROTOCOL_VERSION, server_time=doc["server_time"], cursor=cursor,
                    items=doc["items"], more=doc["more"])
