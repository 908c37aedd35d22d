"""The reference central over real HTTP on loopback: auth, feed, targeting, signing, Range, faults."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from protocol.errors import RejectedItem, ValidationError
from tests.conftest import CentralHandle
from tests.support.paths import REPO

AUDIO = os.urandom(100_000)


def feed_all(central: CentralHandle, cursor: str | None = None, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Follow `more` to the end; returns (items, final cursor)."""
    items: list[dict[str, Any]] = []
    for _ in range(100):
        response = central.feed(cursor, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["cursor"]
        if not body["more"]:
            return items, cursor
    raise AssertionError("feed never ended")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


# ---------------------------------------------------------------- auth and common headers


def test_auth_is_required_and_errors_are_json(central: CentralHandle) -> None:
    url = f"{central.url}/v1/devices/{central.device_id}/feed"
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {central.token}"},
                    {"Authorization": "Bearer "}, {"Authorization": "Bearer " + "x" * 500}):
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"
        assert protocol.parse_utc(response.headers["X-Server-Time"])
    other = central.add_device("12345-0002", ["thon-1"])
    forbidden = requests.get(url, headers=central.headers(other), timeout=30)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    sha = central.catalog.add_media(AUDIO, mime="audio/wav")["sha256"]
    assert requests.get(f"{central.url}/v1/media/{sha}", timeout=30).status_code == 401
    missing = requests.get(f"{central.url}/v1/nothing", headers=central.headers(), timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "X-Server-Time" in missing.headers


def test_server_time_follows_central_clock(central: CentralHandle) -> None:
    central.clock.advance(3600)
    response = central.feed()
    server_time = protocol.parse_utc(response.headers["X-Server-Time"])
    assert response.json()["server_time"] == response.headers["X-Server-Time"]
    delta = (server_time - central.clock()).total_seconds()
    assert -5 < delta <= 1  # same clock, read a moment apart
    info = requests.get(f"{central.url}/v1/info", timeout=30).json()
    assert info["protocol"] == 1 and info["public_key"] == central.public_key_b64


# ---------------------------------------------------------------- feed, cursor, ETag


def test_feed_cursor_etag_and_304(central: CentralHandle) -> None:
    first = central.text_item("Bản tin 1")
    central.text_item("Nháp chưa duyệt", approve=False)
    response = central.feed()
    body = response.json()
    assert set(body) == {"protocol", "server_time", "cursor", "items", "more"}
    assert body["protocol"] == 1 and body["more"] is False and ids(body["items"]) == [first]
    etag = response.headers["ETag"]
    # Nothing new: 304 with an empty body, the same ETag and the server time.
    again = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": body["cursor"]},
                         headers={**central.headers(), "If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag and "X-Server-Time" in again.headers
    # A weak validator matches too.
    weak = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": body["cursor"]},
                        headers={**central.headers(), "If-None-Match": f"W/{etag}"}, timeout=30)
    assert weak.status_code == 304
    # Something new: 200 with only the change since the cursor, and a new ETag.
    second = central.text_item("Bản tin 2")
    changed = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", params={"cursor": body["cursor"]},
                           headers={**central.headers(), "If-None-Match": etag}, timeout=30)
    assert changed.status_code == 200 and ids(changed.json()["items"]) == [second]
    assert changed.headers["ETag"] != etag
    # Without If-None-Match the same position answers 200 with no items.
    empty = central.feed(changed.json()["cursor"])
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert empty.headers["ETag"] == changed.headers["ETag"]


def test_unchanged_feed_costs_one_small_request(central: CentralHandle) -> None:
    for n in range(30):
        central.text_item(f"Bản tin {n}")
    response = central.feed()
    cursor, etag = response.json()["cursor"], response.headers["ETag"]
    request = (f"GET /v1/devices/{central.device_id}/feed?cursor={cursor} HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{central.server.port}\r\nAuthorization: Bearer {central.token}\r\n"
               f"If-None-Match: {etag}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", central.server.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 304")
    assert answer.endswith(b"\r\n\r\n")  # headers only
    assert len(request) + len(answer) < 2048


def test_paging_with_more(central: CentralHandle) -> None:
    made = [central.text_item(f"Bản tin {n}") for n in range(12)]
    sizes = []
    cursor = None
    seen: list[str] = []
    while True:
        body = central.feed(cursor, limit=5).json()
        sizes.append((len(body["items"]), body["more"]))
        seen += ids(body["items"])
        cursor = body["cursor"]
        if not body["more"]:
            break
    assert sizes == [(5, True), (5, True), (2, False)]
    assert seen == made
    for bad in ("0", "501", "abc", "-1"):
        response = central.feed(limit=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_default_page_is_500_items(central: CentralHandle) -> None:
    for n in range(501):
        central.catalog.approve_item(central.catalog.add_item(kind="text", title=f"B{n}", text="x"), by="A")
    first = central.feed().json()
    assert len(first["items"]) == 500 and first["more"] is True
    rest = central.feed(first["cursor"]).json()
    assert len(rest["items"]) == 1 and rest["more"] is False


def test_cursor_rules(central: CentralHandle) -> None:
    item = central.text_item()
    for bad in ("garbage", "1.2.3", "ZZZZZZZZ.1", "../etc"):
        response = central.feed(bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_cursor"
    # A cursor from another central database, or from the future, restarts the feed.
    assert ids(central.feed("00000000.5").json()["items"]) == [item]
    assert ids(central.feed(f"{central.catalog.epoch}.999").json()["items"]) == [item]


# ---------------------------------------------------------------- signing, versions, revocation


def test_approval_signs_and_devices_can_verify(central: CentralHandle) -> None:
    item_id, media = central.audio_item(AUDIO, title="Âm thanh", priority="priority", zones=["thon-1"])
    (doc,) = central.feed().json()["items"]
    public_key = protocol.public_key_from_b64(central.public_key_b64)
    item = protocol.validate_item(doc, public_key, device_id=central.device_id)
    assert item.id == item_id and item.version == 1 and item.approved_by == "Chủ tịch UBND xã"
    assert item.media == protocol.Media(url=f"/v1/media/{media['sha256']}", mime="audio/wav",
                                        sha256=hashlib.sha256(AUDIO).hexdigest(), bytes=len(AUDIO))
    assert item.key_id == central.catalog.key_id and item.revoked is False


def test_changes_need_approval_and_bump_the_version(central: CentralHandle) -> None:
    catalog = central.catalog
    item_id = central.text_item("Lịch cúp điện")
    _, cursor = feed_all(central)
    catalog.update_item(item_id, title="Lịch cúp điện (sửa)")
    assert central.feed(cursor).json()["items"] == []  # pending change is not published
    with pytest.raises(ValidationError) as refused:
        catalog.update_item(item_id, zones=["thon-1"])
    assert "revoke" in refused.value.en
    catalog.approve_item(item_id, by="Phó chủ tịch")
    (doc,) = central.feed(cursor).json()["items"]
    item = central.verify(doc)
    assert item.version == 2 and item.title == "Lịch cúp điện (sửa)" and item.approved_by == "Phó chủ tịch"
    with pytest.raises(ValidationError, match="duyệt"):
        catalog.approve_item(item_id, by="Phó chủ tịch")


def test_revocation_is_a_new_signed_version(central: CentralHandle) -> None:
    catalog = central.catalog
    item_id = central.text_item("Sẽ thu hồi")
    kept = central.text_item("Giữ lại")
    _, cursor = feed_all(central)
    revocation = catalog.revoke_item(item_id, by="Chủ tịch")
    (doc,) = central.feed(cursor).json()["items"]
    assert doc == revocation
    item = central.verify(doc)
    assert item.revoked is True and item.version == 2 and item.title == "Sẽ thu hồi"
    assert protocol.check_version(item, 1, "old-digest") is True
    # A fresh device never hears of it; a revoked item cannot come back.
    assert ids(central.feed().json()["items"]) == [kept]
    for action in (lambda: catalog.approve_item(item_id, by="A"), lambda: catalog.update_item(item_id, title="x"),
                   lambda: catalog.revoke_item(item_id)):
        with pytest.raises(ValidationError, match="thu hồi"):
            action()
    draft = central.text_item("Nháp", approve=False)
    assert catalog.revoke_item(draft) is None
    assert draft not in ids(feed_all(central)[0])


def test_expired_items_are_skipped_on_initial_sync_only(central: CentralHandle) -> None:
    past = central.text_item("Hết hạn", valid_from="2020-01-01T00:00:00Z", valid_until="2020-01-02T00:00:00Z")
    live = central.text_item("Còn hạn")
    assert ids(central.feed().json()["items"]) == [live]
    assert past in ids(central.feed(f"{central.catalog.epoch}.0").json()["items"])


# ---------------------------------------------------------------- targeting


def test_targeting_by_zone_and_device(central: CentralHandle) -> None:
    everyone = central.text_item("Toàn xã")
    zone2 = central.text_item("Thôn 2", zones=["thon-2"])
    zone3 = central.text_item("Thôn 3", zones=["thon-3"])
    mine = central.text_item("Riêng máy này", devices=[central.device_id])
    other_device = central.text_item("Máy khác", devices=["12345-0009"])
    mine_wrong_zone = central.text_item("Máy này, thôn 3", devices=[central.device_id], zones=["thon-3"])
    items, _ = feed_all(central)
    assert ids(items) == [everyone, zone2, mine]
    for doc in items:
        central.verify(doc)
    token3 = central.add_device("12345-0003", ["thon-3"])
    response = requests.get(f"{central.url}/v1/devices/12345-0003/feed", headers=central.headers(token3), timeout=30)
    assert ids(response.json()["items"]) == [everyone, zone3]
    token9 = central.add_device("12345-0009", ["thon-9"])
    response = requests.get(f"{central.url}/v1/devices/12345-0009/feed", headers=central.headers(token9), timeout=30)
    assert ids(response.json()["items"]) == [everyone, other_device]
    assert mine_wrong_zone not in ids(items)


# ---------------------------------------------------------------- media and Range


@pytest.fixture
def media_url(central: CentralHandle) -> str:
    _, media = central.audio_item(AUDIO)
    return central.url + media["url"]


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99),
    ("bytes=1000-1999", 1000, 1999),
    ("bytes=-50", len(AUDIO) - 50, len(AUDIO) - 1),
    ("bytes=99990-", 99990, len(AUDIO) - 1),
    ("bytes=99990-5000000", 99990, len(AUDIO) - 1),
    ("bytes=-5000000", 0, len(AUDIO) - 1),
], ids=["first", "middle", "suffix", "open", "clamped", "long-suffix"])
def test_range_requests(central: CentralHandle, media_url: str, header: str, first: int, last: int) -> None:
    response = requests.get(media_url, headers={**central.headers(), "Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(AUDIO)}"
    assert int(response.headers["Content-Length"]) == last - first + 1
    assert response.content == AUDIO[first:last + 1]


@pytest.mark.parametrize("header", ["bytes=100000-", "bytes=200000-300000", "bytes=-0"])
def test_unsatisfiable_range_is_416(central: CentralHandle, media_url: str, header: str) -> None:
    response = requests.get(media_url, headers={**central.headers(), "Range": header}, timeout=30)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=0-1,5-6", "items=0-5", "bytes=9-2"])
def test_ignored_range_headers_serve_everything(central: CentralHandle, media_url: str, header: str) -> None:
    response = requests.get(media_url, headers={**central.headers(), "Range": header}, timeout=30)
    assert response.status_code == 200 and response.content == AUDIO


def test_media_integrity_and_headers(central: CentralHandle, media_url: str) -> None:
    response = requests.get(media_url, headers=central.headers(), timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == media_url.rsplit("/", 1)[1]
    assert response.headers["Content-Length"] == str(len(AUDIO))
    assert response.headers["Accept-Ranges"] == "bytes" and response.headers["Content-Type"] == "audio/wav"
    head = requests.head(media_url, headers=central.headers(), timeout=30)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(AUDIO)) and head.content == b""
    for missing in ("0" * 64, "not-a-hash", "A" * 64):
        assert requests.get(f"{central.url}/v1/media/{missing}", headers=central.headers(),
                            timeout=30).status_code == 404


def test_identical_media_is_stored_once(central: CentralHandle) -> None:
    first = central.catalog.add_media(AUDIO, mime="audio/wav")
    second = central.catalog.add_media(bytes(AUDIO), mime="audio/wav")
    assert first == second
    files = [p for p in (central.data_dir / "media").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [first["sha256"]]


# ---------------------------------------------------------------- fault injection


def test_fault_status_retry_after_and_times(central: CentralHandle) -> None:
    central.text_item()
    rule = central.faults.add("/v1/devices/", status=503, retry_after=7, times=2)
    for _ in range(2):
        response = central.feed()
        assert response.status_code == 503 and response.headers["Retry-After"] == "7"
        assert response.json()["error"]["code"] == "injected_fault" and "X-Server-Time" in response.headers
    assert central.feed().status_code == 200
    assert rule.applied == 2
    central.faults.clear()
    central.faults.add("/v1/devices/", status=500, every_nth=3)
    assert [central.feed().status_code for _ in range(6)] == [200, 200, 500, 200, 200, 500]


def test_fault_delay_causes_a_client_timeout(central: CentralHandle) -> None:
    central.faults.add("/v1/devices/", delay_s=30, times=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", headers=central.headers(), timeout=(10, 0.5))
    central.faults.clear()  # wakes the sleeping request
    assert central.feed().status_code == 200


def test_fault_truncated_and_cut_bodies(central: CentralHandle, media_url: str) -> None:
    central.text_item()
    central.faults.add("/v1/devices/", truncate_to=40, times=1)
    truncated = central.feed()
    assert truncated.status_code == 200 and len(truncated.content) == 40
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)
    central.faults.add("/v1/media/", cut_after=30_000)
    received = b""
    for _ in range(10):  # resume after every cut, as a device does
        try:
            response = requests.get(media_url, headers={**central.headers(), "Range": f"bytes={len(received)}-"},
                                    stream=True, timeout=30)
            for chunk in response.iter_content(8192):
                received += chunk
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
            continue
        if len(received) == len(AUDIO):
            break
    assert received == AUDIO
    # The server records a request when its body iterator closes, just after the client has the bytes.
    deadline = time.monotonic() + 5
    while len(central.faults.requests("/v1/media/")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    media_requests = central.faults.requests("/v1/media/")
    assert len(media_requests) == 4 and all(r.body_bytes <= 30_000 for r in media_requests)


def test_fault_overlong_body_and_redirect(central: CentralHandle, media_url: str) -> None:
    central.faults.add("/v1/media/", overlong=1000, times=1)
    response = requests.get(media_url, headers=central.headers(), timeout=30)
    assert len(response.content) == len(AUDIO) + 1000  # longer than the item's media.bytes
    central.faults.add("/v1/media/", redirect_to="http://203.0.113.9:8080")
    redirect = requests.get(media_url, headers=central.headers(), allow_redirects=False, timeout=30)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == "http://203.0.113.9:8080" + media_url[len(central.url):]


# ---------------------------------------------------------------- test hooks for rejection tests


def test_tamper_hooks_produce_rejections(central: CentralHandle) -> None:
    catalog = central.catalog
    flipped = central.text_item("Tiêu đề")
    foreign = central.text_item("Khóa lạ")
    replayed = central.text_item("Phát lại")
    old = catalog.get_published(replayed)
    catalog.update_item(replayed, title="Phát lại v2")
    catalog.approve_item(replayed, by="A")
    _, cursor = feed_all(central)

    catalog.flip_byte(flipped, "title")
    catalog.resign_with(foreign, Ed25519PrivateKey.generate())
    catalog.publish_raw(replayed, old)
    docs = {doc["id"]: doc for doc in central.feed(cursor).json()["items"]}
    assert set(docs) == {flipped, foreign, replayed}
    reasons = {}
    for item_id, doc in docs.items():
        try:
            item = central.verify(doc)
            protocol.check_version(item, 2, "digest-of-v2")
        except RejectedItem as error:
            reasons[item_id] = error.reason
    assert reasons == {flipped: "bad_signature", foreign: "unknown_key", replayed: "replay"}
    catalog.flip_byte(flipped, "revoked")
    doc = catalog.get_published(flipped)
    assert doc["revoked"] is True
    with pytest.raises(RejectedItem) as info:
        central.verify(doc)
    assert info.value.reason == "bad_signature"


# ---------------------------------------------------------------- docs/openapi.yaml agrees with the server


def _openapi_validator(name: str) -> Any:
    import yaml
    from openapi_schema_validator import OAS30Validator
    from openapi_spec_validator import validate
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    spec = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    validate(spec)
    registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT4))
    return OAS30Validator({"$ref": f"urn:spec#/components/schemas/{name}"}, registry=registry), spec


def test_openapi_describes_real_answers(central: CentralHandle) -> None:
    feed_schema, spec = _openapi_validator("FeedPage")
    schemas = spec["components"]["schemas"]
    assert set(schemas["Item"]["required"]) == protocol.ITEM_FIELDS
    assert set(schemas["Command"]["required"]) == protocol.COMMAND_FIELDS
    central.audio_item(AUDIO, schedule={"type": "once", "starts": ["2030-01-01T00:00:00Z"], "duration_s": 60})
    central.catalog.approve_item(central.catalog.add_item(
        kind="stream", title="VOV1", media={"url": "http://127.0.0.1:9/vov1", "mime": "audio/mpeg"},
        schedule={"type": "rrule", "dtstart": "2030-01-01T05:00:00", "tzid": "Asia/Ho_Chi_Minh",
                  "rrule": "FREQ=DAILY", "exdates": [], "duration_s": 1800}), by="A")
    central.catalog.revoke_item(central.text_item())
    body = central.feed(f"{central.catalog.epoch}.0").json()
    assert len(body["items"]) == 3
    assert list(feed_schema.iter_errors(body)) == []
    body["items"][0]["surprise"] = True
    assert list(feed_schema.iter_errors(body))  # the schema is strict too
    error_schema, _ = _openapi_validator("Error")
    unauthorized = requests.get(f"{central.url}/v1/devices/{central.device_id}/feed", timeout=30).json()
    assert list(error_schema.iter_errors(unauthorized)) == []
