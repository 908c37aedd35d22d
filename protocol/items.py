"""Items: what central signs and a device verifies before anything can play (protocol §4–§6).

``validate_item`` checks the signature first (any altered byte is ``bad_signature``), then
every field, then the addressee. ``check_version`` is the replay rule. Central calls
``sign_item``, which refuses to sign a malformed item.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from dateutil.rrule import rrulestr

from protocol.fields import FieldChecker, ident_of, safe_copy
from protocol.rejections import reject
from protocol.signing import (
    PublicKeys,
    content_digest,
    keyring,
    sign_document,
    verify_signature,
    without_signature,
)
from protocol.spec import (
    AUDIO_MEDIA_TYPES,
    DEVICE_ID_RE,
    ID_RE,
    ITEM_DOMAIN,
    ITEM_FIELDS,
    KINDS,
    LANGUAGE_RE,
    MAX_DURATION_S,
    MAX_STARTS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MEDIA_PATH_RE,
    MIME_RE,
    PRIORITIES,
    RRULE_FREQS,
    RRULE_NAMES,
    RRULE_PART_RE,
    SHA256_RE,
    STREAM_MEDIA_TYPES,
    STREAM_URL_RE,
    TZID_RE,
    UNTIL_RE,
    ZONE_RE,
)
from protocol.times import parse_utc

ALL_ZONES = "*"


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



def media_type_allowed(kind: str, mime: str) -> bool:
    """Whether an item of ``kind`` may carry media of type ``mime`` (§4.1; exact match)."""
    if kind == "audio":
        return mime in AUDIO_MEDIA_TYPES
    if kind == "stream":
        return mime in STREAM_MEDIA_TYPES
    return False


def _check_media_type(c: FieldChecker, kind: str, mime: str) -> str:
    if not media_type_allowed(kind, mime):
        allowed = ", ".join(AUDIO_MEDIA_TYPES if kind == "audio" else STREAM_MEDIA_TYPES)
        raise reject("bad_media_type", f"media.mime {mime!r} không được phép (chỉ {allowed})",
                     f"media.mime {mime!r} is not allowed (only {allowed})", c.ident)
    return mime


def _check_media(c: FieldChecker, kind: str, media: Any) -> Media | None:
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
        mime = _check_media_type(c, kind, c.string(media["mime"], "media.mime", max_len=80, pattern=MIME_RE))
        return Media(url=url, mime=mime, sha256=sha, bytes=size)
    c.exact_keys(media, "media", frozenset({"url", "mime"}))
    url = c.string(media["url"], "media.url", max_len=1024, pattern=STREAM_URL_RE)
    mime = _check_media_type(c, kind, c.string(media["mime"], "media.mime", max_len=80, pattern=MIME_RE))
    return Media(url=url, mime=mime)


def _check_rrule(c: FieldChecker, rule: Any, dtstart: datetime, tzid: str) -> str:
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
    if "UNTIL" in names and not UNTIL_RE.match(names["UNTIL"]):
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


def _check_schedule(c: FieldChecker, schedule: Any) -> dict[str, Any] | None:
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



def check_item_shape(doc: Any, *, key: str | None = None) -> Item:
    """Validate every field of an item (signature excluded from the checks). Raises ``malformed``.

    Central calls this before signing; devices reach it through ``validate_item``.
    """
    c = FieldChecker(ident_of(doc))
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
                  public_keys: PublicKeys, *, device_id: str | None = None) -> Item:
    """Verify and validate one item document as received from central.

    Order: signature first (any altered byte is ``bad_signature``), then shape
    (``malformed``), then targeting (``wrong_device`` when ``device_id`` is given).
    The returned ``Item.document`` is a deep copy, safe to store.
    """
    ident = ident_of(doc)
    if not isinstance(doc, dict):
        raise reject("malformed", "không phải đối tượng JSON", "not a JSON object", ident)
    doc = safe_copy(doc, ident)
    kid = verify_signature(doc, keyring(public_keys), ITEM_DOMAIN, ident)
    item = check_item_shape(doc, key=kid)
    if device_id is not None and not item.targets_device(device_id):
        raise reject("wrong_device", f"chỉ dành cho {', '.join(item.devices)[:80]}",
                     f"addressed to {', '.join(item.devices)[:80]}", ident)
    return item



def zones_on_station(item_zones: Sequence[str], station_zones: Sequence[str]) -> tuple[str, ...]:
    """The station's zones an item is meant for (§8: the intersection; ``["*"]`` is all), in the
    station's order. Empty: the item is not for this station."""
    if ALL_ZONES in item_zones:
        return tuple(station_zones)
    return tuple(z for z in station_zones if z in item_zones)


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



def sign_item(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Validate the item's shape, then sign it. Central never signs a malformed item."""
    check_item_shape(without_signature(doc))
    return sign_document(doc, private_key, domain=ITEM_DOMAIN)

