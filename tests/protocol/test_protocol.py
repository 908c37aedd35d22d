"""Protocol v1 (appliance/protocol.py): canonical form, signatures, strict validation."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol
from protocol.errors import CentralError, RejectedItem, ValidationError
from tests.support.paths import REPO

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
DEVICE = "12345-0001"
SHA = hashlib.sha256(b"audio").hexdigest()
DOCS = REPO / "docs"


def base_item(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "bt-2025.06_01", "version": 3, "kind": "audio", "title": "Thông báo phòng chống bão số 3",
        "text": "Bà con chú ý.\nGia cố nhà cửa.", "language": "vi",
        "media": {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 48000, "mime": "audio/mpeg"},
        "priority": "emergency", "valid_from": "2025-06-01T00:00:00Z", "valid_until": "2025-06-02T00:00:00Z",
        "zones": ["thon-1", "thon-2"], "devices": ["*"],
        "schedule": {"type": "once", "starts": ["2025-06-01T23:30:00Z", "2025-06-01T10:00:00Z"],
                     "duration_s": 600},
        "approved_by": "Nguyễn Văn A", "approved_at": "2025-05-31T09:00:00.123Z", "revoked": False,
    }
    doc.update(changes)
    return doc


def signed(**changes: Any) -> dict[str, Any]:
    return protocol.sign_document(base_item(**changes), KEY, domain=protocol.ITEM_DOMAIN)


def reason_of(doc: Any, **kwargs: Any) -> str:
    with pytest.raises(RejectedItem) as info:
        protocol.validate_item(doc, KEY.public_key(), **kwargs)
    error = info.value
    assert error.code == f"item_rejected.{error.reason}"
    assert error.vi and error.en and error.vi != error.en
    return error.reason


# ---------------------------------------------------------------- canonical form and signatures


def test_documented_test_vector_matches_the_code() -> None:
    """docs/protocol.md §5.1 is checked against the implementation, byte for byte."""
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("### 5.1 Test vector"):text.index("## 6.")]
    secret = re.search(r"secret\): `([0-9a-f]{64})`", section).group(1)
    item = json.loads(re.search(r"Item:\n```json\n(.*?)\n```", section, re.S).group(1))
    payload_sha = re.search(r"sha256 of the signed bytes: `([0-9a-f]{64})`", section).group(1)
    value = re.search(r"Signature value: `([A-Za-z0-9+/=]+)`", section).group(1)
    public_b64 = re.search(r"public key `([A-Za-z0-9+/=]+)`", section).group(1)
    key_id = re.search(r"key id `([0-9a-f]{16})`", section).group(1)
    jcs_line = re.search(r"```\ncommune-radio/item/v1\n(.*?)\n```", section, re.S).group(1)

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert protocol.public_key_to_b64(key.public_key()) == public_b64
    assert protocol.key_id(key.public_key()) == key_id
    doc = protocol.sign_item(item, key)
    payload = protocol.signing_payload(doc, protocol.ITEM_DOMAIN)
    assert payload == b"commune-radio/item/v1\n" + jcs_line.encode("utf-8")
    assert hashlib.sha256(payload).hexdigest() == payload_sha
    assert doc["signature"] == {"alg": "ed25519", "key_id": key_id, "value": value}
    assert protocol.validate_item(doc, protocol.public_key_from_b64(public_b64)).id == "bt-2025-0601"


def test_canonical_form_ignores_key_order_whitespace_and_escapes() -> None:
    doc = base_item()
    compact = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    pretty = json.dumps(dict(reversed(list(doc.items()))), ensure_ascii=True, indent=4)
    assert "\\u" in pretty and "Th\\u00f4ng" in pretty
    a = protocol.canonical_bytes(json.loads(compact))
    b = protocol.canonical_bytes(json.loads(pretty))
    assert a == b
    assert a.startswith(b'{"approved_at":') and b" " not in a.split(b'"text"')[0].replace(b"Nguy\xe1\xbb\x85n V\xc4\x83n A", b"")
    assert "Thông".encode() in a  # raw UTF-8, never \u escapes
    # A signature made over one layout verifies over the other.
    sig = protocol.sign_item(json.loads(compact), KEY)["signature"]
    protocol.validate_item({**json.loads(pretty), "signature": sig}, KEY.public_key())


def test_canonical_form_does_not_normalise_unicode() -> None:
    # NFC "ô" and NFD "o + combining circumflex" are different content: the signature must say so.
    nfc, nfd = "Thông báo", "Tho\u0302ng báo"
    assert protocol.canonical_bytes({"t": nfc}) != protocol.canonical_bytes({"t": nfd})
    doc = signed(title=nfc)
    doc["title"] = nfd
    assert reason_of(doc) == "bad_signature"


def test_signature_block_shape_and_key_id() -> None:
    doc = signed()
    sig = doc["signature"]
    assert set(sig) == {"alg", "key_id", "value"} and sig["alg"] == "ed25519"
    assert sig["key_id"] == hashlib.sha256(protocol.raw_public_bytes(KEY.public_key())).hexdigest()[:16]
    assert len(base64.b64decode(sig["value"])) == 64
    item = protocol.validate_item(doc, KEY.public_key(), device_id=DEVICE)
    assert item.key_id == sig["key_id"] and item.version == 3 and item.media.bytes == 48000
    assert item.zones == ("thon-1", "thon-2") and item.devices == ("*",)
    assert item.digest == hashlib.sha256(protocol.canonical_bytes(base_item())).hexdigest()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))] or [prefix]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))] or [prefix]
    return [prefix]


def _altered(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + chr(ord(value[-1]) ^ 1) if value else "x"
    if value is None:
        return 0
    return None


ALL_LEAVES = _paths(base_item())


@pytest.mark.parametrize("path", ALL_LEAVES, ids=[".".join(map(str, p)) for p in ALL_LEAVES])
def test_tampering_any_single_field_breaks_the_signature(path: tuple[Any, ...]) -> None:
    doc = signed()
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = _altered(target[path[-1]])
    assert reason_of(doc) == "bad_signature"


@pytest.mark.parametrize("change", [
    lambda d: d.update(extra="x"),
    lambda d: d.pop("language"),
    lambda d: d["zones"].append("thon-3"),
    lambda d: d["schedule"]["starts"].reverse(),
    lambda d: d.update(valid_until=None),
], ids=["added-field", "removed-field", "list-grown", "list-reordered", "value-nulled"])
def test_structural_tampering_breaks_the_signature(change: Callable[[dict[str, Any]], Any]) -> None:
    doc = signed()
    change(doc)
    assert reason_of(doc) == "bad_signature"


def test_signature_failures_have_their_own_reasons() -> None:
    doc = signed()
    assert reason_of({k: v for k, v in doc.items() if k != "signature"}) == "missing_signature"
    assert reason_of({**doc, "signature": None}) == "missing_signature"
    assert reason_of(protocol.sign_document(base_item(), OTHER_KEY, domain=protocol.ITEM_DOMAIN)) == "unknown_key"
    assert reason_of({**doc, "signature": {**doc["signature"], "alg": "rsa"}}) == "bad_signature"
    assert reason_of({**doc, "signature": {**doc["signature"], "value": "bm90IGEgc2ln"}}) == "bad_signature"
    assert reason_of({**doc, "signature": {**doc["signature"], "value": "%%%"}}) == "bad_signature"
    assert reason_of({**doc, "signature": {**doc["signature"], "value": 7}}) == "bad_signature"
    assert reason_of({**doc, "signature": {**doc["signature"], "key_id": "XYZ"}}) == "malformed"
    assert reason_of({**doc, "signature": {**doc["signature"], "extra": 1}}) == "malformed"
    assert reason_of({**doc, "signature": "abc"}) == "malformed"
    # A key ring with several keys picks the right one by key id.
    item = protocol.validate_item(doc, [OTHER_KEY.public_key(), KEY.public_key()])
    assert item.id == "bt-2025.06_01"
    assert protocol.validate_item(doc, {"k": KEY.public_key()}).version == 3


def test_domain_separation_between_items_and_commands() -> None:
    as_command = protocol.sign_document(base_item(), KEY, domain=protocol.COMMAND_DOMAIN)
    assert reason_of(as_command) == "bad_signature"
    command = _command()
    as_item = protocol.sign_document(command, KEY, domain=protocol.ITEM_DOMAIN)
    with pytest.raises(RejectedItem) as info:
        protocol.validate_command(as_item, DEVICE, NOW, KEY.public_key())
    assert info.value.reason == "bad_signature"


def test_signed_document_is_copied_not_shared() -> None:
    doc = signed()
    item = protocol.validate_item(doc, KEY.public_key())
    doc["title"] = "changed after validation"
    doc["zones"].append("x")
    assert item.document["title"] == "Thông báo phòng chống bão số 3"
    assert item.document["zones"] == ["thon-1", "thon-2"]


# ---------------------------------------------------------------- shapes

MALFORMED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id-path-traversal": lambda d: d.update(id="../../etc/passwd"),
    "id-slash": lambda d: d.update(id="a/b"),
    "id-leading-dot": lambda d: d.update(id=".hidden"),
    "id-empty": lambda d: d.update(id=""),
    "id-too-long": lambda d: d.update(id="a" * 65),
    "id-number": lambda d: d.update(id=5),
    "version-zero": lambda d: d.update(version=0),
    "version-bool": lambda d: d.update(version=True),
    "version-float": lambda d: d.update(version=1.0),
    "version-string": lambda d: d.update(version="1"),
    "kind-unknown": lambda d: d.update(kind="video"),
    "title-empty": lambda d: d.update(title=""),
    "title-too-long": lambda d: d.update(title="á" * 201),
    "title-control-char": lambda d: d.update(title="a\x00b"),
    "title-newline": lambda d: d.update(title="a\nb"),
    "text-too-long": lambda d: d.update(text="x" * 20_001),
    "text-null": lambda d: d.update(text=None),
    "text-item-blank": lambda d: d.update(kind="text", media=None, text="  \n "),
    "language-word": lambda d: d.update(language="Vietnamese"),
    "media-on-text-item": lambda d: d.update(kind="text"),
    "audio-without-media": lambda d: d.update(media=None),
    "media-absolute-url": lambda d: d["media"].update(url=f"http://evil.example/{SHA}"),
    "media-protocol-relative": lambda d: d["media"].update(url="//evil.example/x"),
    "media-dotdot": lambda d: d["media"].update(url="/v1/media/../../etc/passwd"),
    "media-sha-uppercase": lambda d: d["media"].update(sha256=SHA.upper()),
    "media-sha-short": lambda d: d["media"].update(sha256=SHA[:63]),
    "media-bytes-zero": lambda d: d["media"].update(bytes=0),
    "media-bytes-string": lambda d: d["media"].update(bytes="48000"),
    "media-mime-bad": lambda d: d["media"].update(mime="audio"),
    "media-extra-key": lambda d: d["media"].update(extra=1),
    "media-missing-key": lambda d: d["media"].pop("sha256"),
    "stream-file-url": lambda d: d.update(kind="stream", media={"url": "file:///etc/passwd", "mime": "audio/mpeg"}),
    "stream-ftp-url": lambda d: d.update(kind="stream", media={"url": "ftp://x/y", "mime": "audio/mpeg"}),
    "stream-with-sha": lambda d: d.update(kind="stream", media={"url": "http://radio.example/vov1",
                                                                 "mime": "audio/mpeg", "sha256": SHA}),
    "priority-unknown": lambda d: d.update(priority="urgent"),
    "valid-from-no-z": lambda d: d.update(valid_from="2025-06-01T00:00:00"),
    "valid-from-offset": lambda d: d.update(valid_from="2025-06-01T07:00:00+07:00"),
    "valid-from-date-only": lambda d: d.update(valid_from="2025-06-01"),
    "valid-from-impossible": lambda d: d.update(valid_from="2025-02-30T00:00:00Z"),
    "valid-until-before-from": lambda d: d.update(valid_until="2025-05-31T00:00:00Z"),
    "valid-until-equals-from": lambda d: d.update(valid_until="2025-06-01T00:00:00Z"),
    "zones-empty": lambda d: d.update(zones=[]),
    "zones-star-mixed": lambda d: d.update(zones=["*", "thon-1"]),
    "zones-uppercase": lambda d: d.update(zones=["THON"]),
    "zones-duplicate": lambda d: d.update(zones=["thon-1", "thon-1"]),
    "zones-string": lambda d: d.update(zones="thon-1"),
    "devices-bad-id": lambda d: d.update(devices=["device-1"]),
    "schedule-type": lambda d: d.update(schedule={"type": "weekly", "duration_s": 1}),
    "schedule-list": lambda d: d.update(schedule=[]),
    "once-no-starts": lambda d: d["schedule"].update(starts=[]),
    "once-local-start": lambda d: d["schedule"].update(starts=["2025-06-01T06:30:00"]),
    "once-duplicate-starts": lambda d: d["schedule"].update(starts=["2025-06-01T10:00:00Z"] * 2),
    "once-duration-zero": lambda d: d["schedule"].update(duration_s=0),
    "once-duration-huge": lambda d: d["schedule"].update(duration_s=86_401),
    "once-extra-key": lambda d: d["schedule"].update(rrule="FREQ=DAILY"),
    "rrule-secondly": lambda d: d.update(schedule=_rrule(rrule="FREQ=SECONDLY")),
    "rrule-prefixed": lambda d: d.update(schedule=_rrule(rrule="RRULE:FREQ=DAILY")),
    "rrule-embedded-dtstart": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY\nDTSTART:20200101T000000")),
    "rrule-no-freq": lambda d: d.update(schedule=_rrule(rrule="BYHOUR=6")),
    "rrule-bad-hour": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;BYHOUR=25")),
    "rrule-count-and-until": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;COUNT=2;UNTIL=20250701")),
    "rrule-interval-zero": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;INTERVAL=0")),
    "rrule-repeated-part": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;FREQ=WEEKLY")),
    "rrule-unknown-part": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;X-FOO=1")),
    "rrule-bysetpos": lambda d: d.update(schedule=_rrule(rrule="FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1")),
    "rrule-byweekno": lambda d: d.update(schedule=_rrule(rrule="FREQ=YEARLY;BYWEEKNO=53")),
    "rrule-until-garbage": lambda d: d.update(schedule=_rrule(rrule="FREQ=DAILY;UNTIL=2025")),
    "rrule-empty": lambda d: d.update(schedule=_rrule(rrule="")),
    "rrule-unknown-tz": lambda d: d.update(schedule=_rrule(tzid="Mars/Olympus_Mons")),
    "rrule-tz-path": lambda d: d.update(schedule=_rrule(tzid="../../etc/passwd")),
    "rrule-dtstart-utc": lambda d: d.update(schedule=_rrule(dtstart="2025-06-01T06:30:00Z")),
    "rrule-exdate-utc": lambda d: d.update(schedule=_rrule(exdates=["2025-06-03T06:30:00Z"])),
    "rrule-exdates-null": lambda d: d.update(schedule=_rrule(exdates=None)),
    "approved-by-empty": lambda d: d.update(approved_by=""),
    "approved-at-bad": lambda d: d.update(approved_at="yesterday"),
    "revoked-int": lambda d: d.update(revoked=0),
    "revoked-string": lambda d: d.update(revoked="false"),
    "unknown-field": lambda d: d.update(playlist=[]),
    "missing-field": lambda d: d.pop("language"),
}


def _rrule(**changes: Any) -> dict[str, Any]:
    schedule = {"type": "rrule", "dtstart": "2025-06-01T06:30:00", "tzid": "Asia/Ho_Chi_Minh",
                "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20250630T235959", "exdates": ["2025-06-04T06:30:00"],
                "duration_s": 900}
    schedule.update(changes)
    return schedule


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_signed_item_is_rejected_as_malformed(name: str) -> None:
    doc = base_item()
    MALFORMED[name](doc)
    # Signed by the trusted key: only the shape rules can refuse it.
    assert reason_of(protocol.sign_document(doc, KEY, domain=protocol.ITEM_DOMAIN)) == "malformed"
    with pytest.raises(RejectedItem):
        protocol.sign_item(doc, KEY)  # central never signs it in the first place


@pytest.mark.parametrize("doc", [
    base_item(kind="text", media=None),
    base_item(kind="stream", media={"url": "https://radio.example:8443/vov1?x=1", "mime": "audio/mpeg"}, text=""),
    base_item(schedule=None, valid_until=None, zones=["*"], devices=[DEVICE, "12345-0002"]),
    base_item(schedule=_rrule()),
    base_item(schedule=_rrule(rrule="FREQ=DAILY;COUNT=30", exdates=[])),
    base_item(schedule=_rrule(rrule="FREQ=DAILY;UNTIL=20250701T000000Z")),
    base_item(schedule=_rrule(rrule="FREQ=DAILY;UNTIL=20250701")),
    base_item(revoked=True, priority="normal"),
    base_item(title="á" * 200, text="x" * 20_000, language="vi-VN"),
], ids=["text", "stream", "no-schedule", "rrule", "rrule-count", "rrule-utc-until", "rrule-date-until",
     "revoked", "limits"])
def test_valid_shapes_are_accepted(doc: dict[str, Any]) -> None:
    item = protocol.validate_item(protocol.sign_item(doc, KEY), KEY.public_key(), device_id=DEVICE)
    assert item.kind == doc["kind"] and item.revoked == doc["revoked"]
    assert item.schedule == doc["schedule"]


def test_non_i_json_numbers_are_malformed() -> None:
    # They cannot be canonicalized, so neither signed nor verified.
    for value in (2**60, float("nan"), float("inf")):
        doc = signed()
        doc["version"] = value
        assert reason_of(doc) == "malformed"
        with pytest.raises(RejectedItem):
            protocol.sign_item(base_item(version=value), KEY)


def test_not_an_object_is_malformed() -> None:
    for garbage in (None, [], "item", 3, [signed()]):
        assert reason_of(garbage) == "malformed"


def test_targeting_by_device() -> None:
    other = protocol.sign_item(base_item(devices=["99999-0002"]), KEY)
    assert reason_of(other, device_id=DEVICE) == "wrong_device"
    mine = protocol.sign_item(base_item(devices=["99999-0002", DEVICE]), KEY)
    assert protocol.validate_item(mine, KEY.public_key(), device_id=DEVICE).targets_device(DEVICE)
    # Without a device id only signature and shape are checked (central-side tooling).
    assert protocol.validate_item(other, KEY.public_key()).devices == ("99999-0002",)


def test_expiry_is_derived_from_valid_until() -> None:
    item = protocol.validate_item(signed(), KEY.public_key())
    assert not item.is_expired(datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC))
    assert item.is_expired(datetime(2025, 6, 2, tzinfo=UTC))
    open_ended = protocol.validate_item(signed(valid_until=None), KEY.public_key())
    assert not open_ended.is_expired(datetime(2100, 1, 1, tzinfo=UTC))


def test_version_and_replay_rules() -> None:
    v3 = protocol.validate_item(signed(), KEY.public_key())
    assert protocol.check_version(v3, None, None) is True
    assert protocol.check_version(v3, 2, "whatever") is True
    assert protocol.check_version(v3, 3, v3.digest) is False  # the copy already held
    # Re-signing the same content gives the same digest (the digest ignores the signature).
    resigned = protocol.validate_item(protocol.sign_item(base_item(), KEY), KEY.public_key())
    assert protocol.check_version(resigned, 3, v3.digest) is False
    changed = protocol.validate_item(signed(title="Khác"), KEY.public_key())
    with pytest.raises(RejectedItem) as same_version:
        protocol.check_version(changed, 3, v3.digest)
    assert same_version.value.reason == "replay"
    with pytest.raises(RejectedItem) as older:
        protocol.check_version(v3, 4, "x")
    assert older.value.reason == "replay" and older.value.item_id == v3.id


# ---------------------------------------------------------------- commands

NOW = datetime(2025, 6, 1, 0, 5, tzinfo=UTC)


def _command(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": "cmd-7f3a", "device_id": DEVICE, "type": "set_volume", "params": {"volume": 70},
                           "issued_at": "2025-06-01T00:00:00Z", "expires_at": "2025-06-01T00:10:00Z"}
    doc.update(changes)
    return doc


def command_reason(doc: Any, now: datetime = NOW) -> str:
    with pytest.raises(RejectedItem) as info:
        protocol.validate_command(doc, DEVICE, now, KEY.public_key())
    return info.value.reason


def test_valid_commands() -> None:
    for changes in ({}, {"type": "play", "params": {"item_id": "bt-1"}},
                    {"type": "play", "params": {"item_id": "bt-1", "zones": ["thon-1"]}},
                    {"type": "stop", "params": {}}, {"type": "sync_now", "params": {}},
                    {"type": "reload", "params": {}}, {"params": {"volume": 0}}):
        command = protocol.validate_command(protocol.sign_command(_command(**changes), KEY), DEVICE, NOW,
                                            KEY.public_key())
        assert command.device_id == DEVICE and command.key_id == protocol.key_id(KEY.public_key())


def test_command_rejections() -> None:
    good = protocol.sign_command(_command(), KEY)
    assert command_reason({k: v for k, v in good.items() if k != "signature"}) == "missing_signature"
    tampered = copy.deepcopy(good)
    tampered["params"]["volume"] = 100
    assert command_reason(tampered) == "bad_signature"
    assert command_reason(protocol.sign_document(_command(), OTHER_KEY, domain=protocol.COMMAND_DOMAIN)) == "unknown_key"
    assert command_reason(protocol.sign_command(_command(device_id="99999-0002"), KEY)) == "wrong_device"
    assert command_reason(good, now=datetime(2025, 6, 1, 0, 10, tzinfo=UTC)) == "expired"
    assert command_reason(good, now=NOW - timedelta(minutes=11)) == "not_yet_valid"
    # Small clock skew is tolerated.
    protocol.validate_command(good, DEVICE, NOW - timedelta(minutes=9), KEY.public_key())
    for changes in ({"type": "reboot", "params": {}}, {"params": {"volume": 101}}, {"params": {"volume": "70"}},
                    {"params": {}}, {"type": "stop", "params": {"now": True}},
                    {"type": "play", "params": {"item_id": "../x"}},
                    {"expires_at": "2025-06-02T00:00:01Z"}, {"expires_at": "2025-06-01T00:00:00Z"},
                    {"id": "../../etc"}, {"extra": 1}):
        doc = protocol.sign_document(_command(**changes), KEY, domain=protocol.COMMAND_DOMAIN)
        assert command_reason(doc) == "malformed", changes
        with pytest.raises(RejectedItem):
            protocol.sign_command(_command(**changes), KEY)


# ---------------------------------------------------------------- keys, feed envelope


def test_public_key_parsing() -> None:
    b64 = protocol.public_key_to_b64(KEY.public_key())
    assert protocol.key_id(protocol.public_key_from_b64(f"  {b64}\n")) == protocol.key_id(KEY.public_key())
    for bad in ("", "not base64!", base64.b64encode(b"short").decode(), base64.b64encode(bytes(33)).decode()):
        with pytest.raises(ValidationError) as info:
            protocol.public_key_from_b64(bad)
        assert info.value.vi and info.value.en


def test_feed_envelope() -> None:
    page = protocol.parse_feed_page({"protocol": 1, "server_time": "2025-06-01T00:00:00Z", "cursor": "ab.1",
                                     "items": [{"x": 1}], "more": False})
    assert page.cursor == "ab.1" and page.items == [{"x": 1}]
    good = {"protocol": 1, "server_time": "2025-06-01T00:00:00Z", "cursor": "c", "items": [], "more": True}
    for bad in (None, [], {**good, "protocol": 2}, {**good, "protocol": True}, {**good, "server_time": "now"},
                {**good, "cursor": ""}, {**good, "cursor": 5}, {**good, "items": {}}, {**good, "more": "no"},
                {**good, "extra": 1}, {k: v for k, v in good.items() if k != "more"}):
        with pytest.raises(CentralError):
            protocol.parse_feed_page(bad)


def test_time_helpers() -> None:
    assert protocol.parse_utc("2025-06-01T00:00:00.5Z") == datetime(2025, 6, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert protocol.format_utc(datetime(2025, 6, 1, 7, tzinfo=zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh"))) \
        == "2025-06-01T00:00:00Z"
    with pytest.raises(ValueError):
        protocol.format_utc(datetime(2025, 6, 1))
    with pytest.raises(ValueError):
        protocol.parse_utc("2025-06-01T00:00:00+00:00")


# ---------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(json_values)
def test_fuzz_garbage_only_raises_rejected_item(doc: Any) -> None:
    with pytest.raises(RejectedItem):
        protocol.validate_item(doc, KEY.public_key(), device_id=DEVICE)
    with pytest.raises(RejectedItem):
        protocol.validate_command(doc, DEVICE, NOW, KEY.public_key())


@FUZZ
@given(field=st.sampled_from(sorted(protocol.ITEM_FIELDS - {"signature"})), value=json_values)
def test_fuzz_signed_items_with_one_arbitrary_field(field: str, value: Any) -> None:
    """Signed with the trusted key, so the shape rules see every odd value: valid Item or RejectedItem."""
    doc = base_item()
    doc[field] = value
    try:
        doc = protocol.sign_document(doc, KEY, domain=protocol.ITEM_DOMAIN)
    except ValueError:
        return  # not representable as I-JSON (NaN, huge ints): cannot even be signed
    try:
        item = protocol.validate_item(doc, KEY.public_key(), device_id=DEVICE)
    except RejectedItem as error:
        assert error.reason == "malformed"
    else:
        assert item.document[field] == value


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(protocol.ITEM_FIELDS)), json_values, max_size=17))
def test_fuzz_item_shaped_garbage(doc: dict[str, Any]) -> None:
    with contextlib.suppress(ValueError):
        doc = protocol.sign_document(doc, KEY, domain=protocol.ITEM_DOMAIN)
    with pytest.raises(RejectedItem):
        protocol.validate_item(doc, KEY.public_key())


def test_deeply_nested_document_is_malformed_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    assert reason_of({**signed(), "title": deep}) in {"malformed", "bad_signature"}


@pytest.mark.parametrize("field", ["zones", "devices"])
def test_a_trailing_newline_in_a_zone_or_device_name_is_malformed(field: str) -> None:
    # '$' in the name patterns also matches before a final newline; §2 forbids control characters.
    name = "thon-1\n" if field == "zones" else DEVICE + "\n"
    assert reason_of(signed(**{field: [name]}), device_id=DEVICE) == "malformed"


# ---------------------------------------------------------------- media types (§4.1)


@pytest.mark.parametrize("mime", ["text/html", "text/javascript", "application/javascript", "image/svg+xml",
                                  "application/octet-stream", "video/mp4", "audio/x-evil", "audio/html"])
def test_an_audio_item_with_a_non_audio_media_type_is_refused(mime: str) -> None:
    media = {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 48000, "mime": mime}
    assert reason_of(signed(media=media)) == "bad_media_type"
    with pytest.raises(RejectedItem):
        protocol.sign_item(base_item(media=media), KEY)  # central never signs it either


@pytest.mark.parametrize("mime", ["text/html", "application/x-shockwave-flash", "audio/x-evil"])
def test_a_stream_item_with_a_non_stream_media_type_is_refused(mime: str) -> None:
    media = {"url": "http://radio.example:8000/vov1", "mime": mime}
    assert reason_of(signed(kind="stream", media=media)) == "bad_media_type"


@pytest.mark.parametrize("mime", ["audio/mpeg", "audio/wav", "audio/x-wav", "audio/ogg", "audio/flac",
                                  "audio/mp4", "audio/aac", "audio/opus"])
def test_documented_audio_types_are_accepted(mime: str) -> None:
    media = {"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 48000, "mime": mime}
    assert protocol.validate_item(signed(media=media), KEY.public_key()).media.mime == mime


def test_the_media_type_lists_are_the_documented_ones() -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    section = text.split("### 4.1 Media")[1].split("### 4.2")[0]
    for mime in protocol.AUDIO_MEDIA_TYPES + protocol.STREAM_MEDIA_TYPES:
        assert f"`{mime}`" in section, mime
    assert protocol.media_type_allowed("audio", "audio/mpeg")
    assert not protocol.media_type_allowed("audio", "text/html")
    assert not protocol.media_type_allowed("text", "audio/mpeg")


def test_play_entries_may_carry_title_text_actor_and_vietnamese_reason_within_limits() -> None:
    """Issue 11 fix 3: proof of play keeps what was said (protocol §10)."""
    from protocol.reports import BadReport, validate_entry
    from protocol.spec import PLAY_TEXT_MAX_BYTES

    data = {"item_id": "emergency-1", "version": 1, "zones": ["thon-1"], "started_at": None, "ended_at": None,
            "outcome": "skipped", "played_s": None, "trigger": "emergency", "title": "Bão",
            "text": "ệ" * (PLAY_TEXT_MAX_BYTES // 3), "actor": "panel:lan", "reason_vi": "Ngoài khung giờ phát."}
    entry = {"id": "p.1", "type": "play", "at": "2026-01-01T00:00:00Z", "data": data}
    assert validate_entry(entry)["data"]["title"] == "Bão"
    for key, value in (("text", "ệ" * (PLAY_TEXT_MAX_BYTES // 3 + 1)), ("title", "x" * 201),
                       ("actor", 5), ("reason_vi", "a\nb")):
        with pytest.raises(BadReport):
            validate_entry({**entry, "data": {**data, key: value}})
    assert validate_entry({**entry, "data": {**data, "text": None, "title": None}})
