"""Sync against a real reference central on loopback: verified intake, media, rejections, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from protocol.errors import CentralError
from tests.support.report_rig import make_reporter
from tests.support.sync_rig import Device, logged

MEDIA_SIZE = 300_000


def _rejections(device: Device) -> dict[str, int]:
    return device.store.rejection_counts()


# --------------------------------------------------------------------------- happy path


def test_items_and_media_become_ready_and_unchanged_feed_costs_one_304(central: Any, device: Device) -> None:
    data = os.urandom(MEDIA_SIZE)
    text_id = central.text_item()
    audio_id, media = central.audio_item(data, title="Bản tin sáng", priority="priority")
    same_id, _ = central.audio_item(data, title="Phát lại bản tin sáng")

    result = device.sync()
    assert result.ok, result.error
    assert (result.new, result.ready, result.media_fetched, result.rejected) == (3, 3, 1, 0)
    assert result.bytes == MEDIA_SIZE
    assert {device.state(i) for i in (text_id, audio_id, same_id)} == {"ready"}
    # Identical media: one download, one file, referenced by both items.
    assert len(logged(central, "/v1/media/", 1)) == 1
    assert list(device.media.list()) == [media["sha256"]]
    assert device.media.path_for(media["sha256"]).read_bytes() == data
    item = device.store.get_item(audio_id)
    assert item["priority"] == "priority" and item["title"] == "Bản tin sáng"
    assert item["valid_from"].endswith("Z") and item["document"]["signature"]["alg"] == "ed25519"
    assert {i["id"] for i in device.store.playable_items()} == {text_id, audio_id, same_id}
    sync_state = device.store.sync_state()
    assert sync_state["cursor"] and sync_state["etag"] and sync_state["last_success_at"]
    assert sync_state["last_server_time"].endswith("Z") and abs(sync_state["server_offset_s"]) < 5

    central.faults.reset_log()
    again = device.sync()
    assert again.ok and again.not_modified and again.requests == 1
    assert [r.status for r in logged(central, "", 1)] == [304]


def test_new_version_replaces_and_revocation_stops_playing_at_once(central: Any, device: Device) -> None:
    item_id = central.text_item(title="Lịch cắt điện")
    device.sync()
    central.catalog.update_item(item_id, title="Lịch cắt điện (sửa)")
    central.catalog.approve_item(item_id, by="Phó chủ tịch")
    result = device.sync()
    assert result.updated == 1
    assert device.store.get_item(item_id)["version"] == 2
    assert device.store.get_item(item_id)["title"] == "Lịch cắt điện (sửa)"

    central.catalog.revoke_item(item_id)
    result = device.sync()
    assert result.revoked == 1
    assert device.state(item_id) == "revoked"
    assert device.store.playable_items() == []


def test_expired_items_are_not_playable_and_their_media_is_not_fetched(central: Any, device: Device) -> None:
    live_id = central.text_item(valid_until="2999-01-01T00:00:00Z")
    device.sync()
    assert [i["id"] for i in device.store.playable_items()] == [live_id]
    assert device.store.playable_items(now="2999-01-01T00:00:00.000000Z") == []

    # Audio that is already expired when it arrives (the device holds a cursor, so central
    # sends it) is stored for the record but its media is never downloaded.
    old_id, _ = central.audio_item(os.urandom(1000), valid_from="2000-01-01T00:00:00Z",
                                   valid_until="2000-01-02T00:00:00Z")
    central.faults.reset_log()
    device.sync()
    assert device.state(old_id) == "waiting_media"
    assert old_id not in {i["id"] for i in device.store.playable_items()}
    assert central.faults.requests("/v1/media/") == []


# --------------------------------------------------------------------------- rejections


def _assert_never_ready(device: Device, item_id: str) -> None:
    item = device.store.get_item(item_id)
    assert item is None or item["state"] != "ready"
    assert item_id not in {i["id"] for i in device.store.playable_items()}


def test_flipped_byte_in_an_item_field_is_rejected(central: Any, device: Device) -> None:
    item_id = central.text_item(title="Thông báo họp thôn")
    central.catalog.flip_byte(item_id, "title")
    result = device.sync()
    assert result.rejected == 1 and result.ok
    assert _rejections(device) == {"bad_signature": 1}
    _assert_never_ready(device, item_id)
    assert device.store.get_item(item_id) is None


def test_tampered_update_of_a_ready_item_keeps_the_genuine_version(central: Any, device: Device) -> None:
    item_id = central.text_item(text="Họp lúc 8 giờ.")
    device.sync()
    central.catalog.flip_byte(item_id, "text")  # same version, altered text
    device.sync()
    item = device.store.get_item(item_id)
    assert item["state"] == "ready" and item["text"] == "Họp lúc 8 giờ."
    assert _rejections(device) == {"bad_signature": 1}


def test_flipped_byte_in_the_media_is_rejected(central: Any, device: Device) -> None:
    data = os.urandom(MEDIA_SIZE)
    item_id, media = central.audio_item(data)
    stored = central.catalog.media.path_for(media["sha256"])
    tampered = bytearray(stored.read_bytes())
    tampered[MEDIA_SIZE // 2] ^= 0x40
    stored.write_bytes(bytes(tampered))
    result = device.sync()
    assert result.rejected == 1
    assert _rejections(device) == {"checksum_mismatch": 1}
    item = device.store.get_item(item_id)
    assert item["state"] == "rejected" and item["reject_reason"] == "checksum_mismatch"
    assert not device.media.has(media["sha256"]) and device.media.partial_bytes(media["sha256"]) == 0
    _assert_never_ready(device, item_id)


def test_signed_checksum_that_does_not_match_the_served_media_is_rejected(central: Any, device: Device) -> None:
    item_id, media = central.audio_item(os.urandom(5000))
    other = central.catalog.add_media(os.urandom(5000), mime="audio/wav")
    doc = central.catalog.get_published(item_id)
    doc["version"] += 1
    doc["media"]["url"] = other["url"]  # signed by central, but the bytes there hash differently
    central.catalog.publish_raw(item_id, protocol.sign_document(doc, central.catalog.private_key,
                                                                domain=protocol.ITEM_DOMAIN))
    device.sync()
    assert _rejections(device) == {"checksum_mismatch": 1}
    _assert_never_ready(device, item_id)
    assert list(device.media.list()) == []


def test_replayed_older_version_is_rejected(central: Any, device: Device) -> None:
    item_id = central.text_item(title="Phiên bản 1")
    first = central.catalog.get_published(item_id)
    central.catalog.update_item(item_id, title="Phiên bản 2")
    central.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
    device.sync()
    assert device.store.get_item(item_id)["version"] == 2
    central.catalog.publish_raw(item_id, first)
    result = device.sync()
    assert result.rejected == 1
    assert _rejections(device) == {"replay": 1}
    item = device.store.get_item(item_id)
    assert (item["version"], item["title"], item["state"]) == (2, "Phiên bản 2", "ready")


def test_same_version_with_other_content_is_a_replay(central: Any, device: Device) -> None:
    item_id = central.text_item(title="Gốc")
    device.sync()
    doc = central.catalog.get_published(item_id)
    doc["title"] = "Khác"
    central.catalog.publish_raw(item_id, protocol.sign_document(doc, central.catalog.private_key,
                                                                domain=protocol.ITEM_DOMAIN))
    device.sync()
    assert _rejections(device) == {"replay": 1}
    assert device.store.get_item(item_id)["title"] == "Gốc"


def test_wrong_key_is_rejected(central: Any, device: Device) -> None:
    item_id = central.text_item()
    central.catalog.resign_with(item_id, Ed25519PrivateKey.generate())
    device.sync()
    assert _rejections(device) == {"unknown_key": 1}
    _assert_never_ready(device, item_id)


def test_forged_key_id_with_another_key_is_rejected(central: Any, device: Device) -> None:
    item_id = central.text_item()
    doc = protocol.sign_document(central.catalog.get_published(item_id), Ed25519PrivateKey.generate(),
                                 domain=protocol.ITEM_DOMAIN)
    doc["signature"]["key_id"] = central.catalog.key_id  # claims to be central's key
    central.catalog.publish_raw(item_id, doc)
    device.sync()
    assert _rejections(device) == {"bad_signature": 1}
    _assert_never_ready(device, item_id)


def test_missing_signature_is_rejected(central: Any, device: Device) -> None:
    item_id = central.text_item()
    central.catalog.tamper_published(item_id, lambda doc: doc.pop("signature"))
    device.sync()
    assert _rejections(device) == {"missing_signature": 1}
    _assert_never_ready(device, item_id)


def test_media_redirect_to_another_origin_is_refused(central: Any, device: Device) -> None:
    item_id, media = central.audio_item(os.urandom(2000))
    central.faults.add("/v1/media/", redirect_to="http://127.0.0.2:9")
    result = device.sync()
    assert _rejections(device) == {"bad_origin": 1} and result.rejected == 1
    assert device.store.get_item(item_id)["state"] == "rejected"
    assert not device.media.has(media["sha256"])
    _assert_never_ready(device, item_id)


def test_same_origin_redirect_is_followed(central: Any, device: Device) -> None:
    item_id, _ = central.audio_item(os.urandom(2000))
    central.faults.add("/v1/media/", redirect_to=central.url, times=1)
    assert device.sync().ok
    assert device.state(item_id) == "ready"


def test_feed_redirect_elsewhere_is_an_error_and_changes_nothing(central: Any, device: Device) -> None:
    central.text_item()
    central.faults.add("/v1/devices/", redirect_to="http://127.0.0.2:9")
    result = device.sync()
    assert result.error is not None and result.error.code == "central_foreign_url"
    assert device.store.list_items() == []


def test_wrong_types_huge_strings_unknown_fields_and_traversal_ids_are_malformed(central: Any,
                                                                                 device: Device) -> None:
    good_id = central.text_item(title="Bản tin tốt")
    base = central.catalog.get_published(good_id)
    key = central.catalog.private_key
    variants: list[dict[str, Any]] = []
    for change in ({"version": "3"}, {"title": "x" * 1_000_000}, {"colour": "red"},
                   {"id": "../../etc/passwd"}, {"zones": "thon-1"}, {"priority": "urgent"}):
        doc = {**base, "version": 5, **change}
        variants.append(protocol.sign_document(doc, key, domain=protocol.ITEM_DOMAIN))
    holders = [central.text_item(title=f"giữ chỗ {n}", approve=False) for n in range(len(variants))]
    for holder, doc in zip(holders, variants, strict=True):
        central.catalog.publish_raw(holder, doc)
    result = device.sync()
    assert result.ok
    assert _rejections(device) == {"malformed": len(variants)}
    assert [i["id"] for i in device.store.list_items()] == [good_id]
    assert not Path("/etc/passwd.part").exists()
    # Messages are bilingual and name the field.
    reasons = device.store.recent_rejections()
    assert all(r["vi"] and r["en"] for r in reasons)
    assert any("title" in r["en"] for r in reasons)


# --------------------------------------------------------------------------- media transfer


def test_cut_download_resumes_with_range(central: Any, device: Device) -> None:
    data = os.urandom(MEDIA_SIZE)
    item_id, _ = central.audio_item(data)
    central.faults.add("/v1/media/", cut_after=100_000, times=2)
    result = device.sync()
    assert result.ok and device.state(item_id) == "ready"
    media_requests = logged(central, "/v1/media/", 3)
    assert [r.status for r in media_requests] == [200, 206, 206]
    # Nothing is fetched twice: the resumed requests only carry the missing bytes.
    assert sum(r.body_bytes for r in media_requests) == MEDIA_SIZE == result.bytes


def test_download_interrupted_across_runs_resumes_from_the_partial(central: Any, make_device: Any) -> None:
    impatient = make_device()
    data = os.urandom(MEDIA_SIZE)
    item_id, media = central.audio_item(data)
    central.faults.add("/v1/media/", cut_after=120_000, times=1)
    central.faults.add("/v1/media/", status=503)  # then central goes down
    first = impatient.sync()
    assert first.error is not None and first.error.code == "central_unavailable"
    assert impatient.state(item_id) == "waiting_media"
    partial = impatient.media.partial_bytes(media["sha256"])
    assert partial == 120_000
    central.faults.clear()
    central.faults.reset_log()
    second = impatient.sync()
    assert second.ok and impatient.state(item_id) == "ready"
    (request,) = logged(central, "/v1/media/", 1)
    assert request.status == 206 and request.body_bytes == MEDIA_SIZE - partial == second.bytes
    assert impatient.media.verify(media["sha256"])


def test_oversized_media_is_refused_before_downloading(central: Any, make_device: Any) -> None:
    small = make_device(max_media_bytes=10_000)
    item_id, _ = central.audio_item(os.urandom(20_000))
    result = small.sync()
    assert result.rejected == 1 and _rejections(small) == {"too_large": 1}
    assert small.state(item_id) == "rejected"
    assert central.faults.requests("/v1/media/") == []


def test_media_over_quota_waits_without_downloading(central: Any, make_device: Any) -> None:
    tight = make_device(storage_quota_bytes=25_000)
    first_id, _ = central.audio_item(os.urandom(20_000))
    assert tight.sync().ok and tight.state(first_id) == "ready"
    second_id, _ = central.audio_item(os.urandom(20_000))
    central.faults.reset_log()
    result = tight.sync()
    assert result.deferred == 1 and tight.state(second_id) == "waiting_media"
    assert central.faults.requests("/v1/media/") == []
    # Once the first item is revoked its media may go, and the second fits.
    central.catalog.revoke_item(first_id)
    result = tight.sync()
    assert tight.state(second_id) == "ready" and result.media_fetched == 1
    assert tight.media.total_bytes() == 20_000


@pytest.mark.parametrize("resumed", [False, True], ids=["whole-body", "resumed-range"])
def test_media_body_longer_than_signed_is_rejected_reported_and_never_fetched_again(
        central: Any, device: Device, resumed: bool) -> None:
    data = os.urandom(50_000)
    item_id, media = central.audio_item(data)
    if resumed:
        # The first answer is cut (a partial stays); the resumed Range answer claims a longer file.
        central.faults.add("/v1/media/", cut_after=20_000, times=1)
    central.faults.add("/v1/media/", overlong=1000)
    result = device.sync()
    assert result.rejected == 1 and result.deferred == 0
    assert device.state(item_id) == "rejected"
    assert device.store.get_item(item_id)["reject_reason"] == "size_mismatch"
    assert _rejections(device) == {"size_mismatch": 1}
    (rejection,) = device.store.recent_rejections()
    assert rejection["item_id"] == item_id and "signed size" in rejection["en"]
    assert not device.media.has(media["sha256"]) and device.media.partial_bytes(media["sha256"]) == 0

    # Never retried for this version: the next syncs do not touch the media (metered 4G).
    central.faults.clear()
    central.faults.reset_log()
    for _ in range(2):
        assert device.sync().ok
    # (A faulty answer from before may be recorded late: the server logs it when its body closes.)
    assert [r for r in central.faults.requests("/v1/media/") if not r.fault] == []
    assert device.state(item_id) == "rejected"

    # Reported to central like every other rejection.
    reporter = make_reporter(device.config, device.store)
    try:
        assert reporter.upload_once().removed >= 1
    finally:
        reporter.client.close()
    reported = central.server.app.extensions["central.monitor"].log_entries(central.device_id,
                                                                           entry_type="rejected")
    assert [(e["data"]["item_id"], e["data"]["reason"]) for e in reported] == [(item_id, "size_mismatch")]

    # A new signed version is a new decision: fetched (and ready) once central serves the signed size.
    central.catalog.update_item(item_id, title="Bản tin âm thanh (sửa)")
    central.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
    assert device.sync().ok and device.state(item_id) == "ready"


def test_a_feed_page_too_big_to_read_is_asked_for_in_smaller_pages(central: Any, make_device: Any) -> None:
    """Long bulletins can make a 500-item page bigger than the station reads (16 MB; 200 KB here):
    it must not be fetched in full and refused again at every sync, stuck, over a metered link."""
    device = make_device()
    device.client.max_json_bytes = 200_000
    ids = [central.text_item(title=f"Bản tin dài {i}", text="Bà con chú ý lắng nghe. " * 800) for i in range(30)]
    result = device.sync()
    assert result.ok, result.error
    assert {device.state(i) for i in ids} == {"ready"}
    assert len(central.faults.requests("/v1/devices/")) <= 12
    assert any(e["kind"] == "sync_smaller_pages" for e in device.store.recent_events())
    # The page size that worked is kept: the next syncs ask for it at once.
    central.faults.reset_log()
    late = central.text_item(title="Thêm một bản tin dài", text="Bà con chú ý lắng nghe. " * 800)
    assert device.sync().ok and device.state(late) == "ready"
    feeds = logged(central, "/v1/devices/", 1)
    assert feeds and all("limit=" in r.query and r.status == 200 for r in feeds)


# --------------------------------------------------------------------------- media types


def publish_signed_as_is(central: Any, item_id: str, doc: dict[str, Any]) -> None:
    """A central that signs whatever it is given (an old or careless one): no checks of its own."""
    central.catalog.add_item(kind="text", title="chỗ giữ", text="x", item_id=item_id)
    body = {k: v for k, v in doc.items() if k != "signature"} | {"id": item_id, "version": 1}
    central.catalog.publish_raw(item_id, protocol.sign_document(body, central.catalog.private_key,
                                                                domain=protocol.ITEM_DOMAIN))


@pytest.mark.parametrize("mime", ["text/html", "text/javascript", "image/svg+xml"])
def test_signed_audio_item_with_a_non_audio_type_is_rejected_and_its_media_never_fetched(
        central: Any, device: Device, mime: str) -> None:
    cover_id, _ = central.audio_item(b"<script>alert(1)</script>" * 40)
    template = central.catalog.get_published(cover_id)
    central.catalog.revoke_item(cover_id)  # only the hostile item is left to fetch the bytes
    publish_signed_as_is(central, "hostile", template | {"media": template["media"] | {"mime": mime}})
    central.faults.reset_log()
    result = device.sync()
    # Refused like any item that breaks a field rule: never stored as an item, the refusal recorded.
    assert device.state("hostile") is None
    assert _rejections(device) == {"bad_media_type": 1} and result.rejected == 1
    (rejection,) = device.store.recent_rejections()
    assert rejection["item_id"] == "hostile" and mime in rejection["en"]
    assert central.faults.requests("/v1/media/") == []
    assert list(device.media.list()) == []
    assert [i["id"] for i in device.store.playable_items()] == []


def test_signed_stream_item_with_a_non_stream_type_is_rejected(central: Any, device: Device) -> None:
    stream_id = central.catalog.add_item(kind="stream", title="VOV1",
                                         media={"url": "http://127.0.0.1:9/vov1", "mime": "audio/mpeg"})
    template = central.catalog.approve_item(stream_id, by="A")
    publish_signed_as_is(central, "hostile-stream", template | {"media": template["media"] | {"mime": "text/html"}})
    device.sync()
    assert device.state(stream_id) == "ready"
    assert device.state("hostile-stream") is None and _rejections(device) == {"bad_media_type": 1}


# --------------------------------------------------------------------------- bad transport input


def _seeded(central: Any, device: Device) -> tuple[Any, ...]:
    central.text_item(title="Đã có")
    assert device.sync().ok
    central.text_item(title="Mới")  # so the next feed is not a 304
    return device.snapshot()


@pytest.mark.parametrize("fault, code", [
    ({"status": 500}, "central_unavailable"),
    ({"status": 503}, "central_unavailable"),
    ({"truncate_to": 40}, "central_bad_json"),
    ({"cut_after": 40}, "central_truncated"),
    ({"status": 404}, "central_http_error"),
    ({"status": 401}, "central_auth"),
])
def test_feed_failures_keep_everything_and_recover(central: Any, device: Device, fault: dict[str, Any],
                                                   code: str) -> None:
    before = _seeded(central, device)
    central.faults.add("/v1/devices/", **fault)
    result = device.sync()
    assert result.error is not None and result.error.code.startswith(code.rsplit("_", 1)[0])
    assert result.error.code == code or code == "central_truncated"
    assert result.error.vi and result.error.en
    assert device.snapshot() == before
    state = device.store.sync_state()
    assert state["last_error"]["code"] == result.error.code and state["consecutive_failures"] == 1
    central.faults.clear()
    after = device.sync()
    assert after.ok and after.new == 1
    assert device.store.sync_state()["consecutive_failures"] == 0


def test_feed_timeout_is_retried_then_reported(central: Any, device: Device) -> None:
    before = _seeded(central, device)
    central.faults.add("/v1/devices/", delay_s=4.0)  # read timeout is 2 s
    result = device.sync()
    assert result.error is not None and result.error.code == "central_timeout"
    assert device.snapshot() == before
    assert len(device.sleeps) == 2  # max_retries = 2


def test_garbage_feed_json_changes_nothing(central: Any, device: Device) -> None:
    before = _seeded(central, device)
    item_id = central.text_item()
    central.catalog.publish_raw(item_id, {"id": item_id, "nested": [[[[["deep"]]]]]})
    central.faults.add("/v1/devices/", truncate_to=1)
    result = device.sync()
    assert result.error is not None and result.error.code == "central_bad_json"
    assert device.snapshot() == before


def test_retry_after_is_honoured(central: Any, device: Device) -> None:
    central.text_item()
    central.faults.add("/v1/devices/", status=503, retry_after=7, times=1)
    result = device.sync()
    assert result.ok and result.new == 1
    assert device.sleeps and device.sleeps[0] >= 7


def test_backoff_grows_exponentially_with_jitter(central: Any, device: Device) -> None:
    central.faults.add("/v1/devices/", status=502)
    result = device.sync()
    assert result.error is not None
    assert len(device.sleeps) == 2
    assert 0 <= device.sleeps[0] <= 0.05 and 0 <= device.sleeps[1] <= 0.1


def test_a_transient_feed_failure_is_retried_within_the_sync(central: Any, device: Device) -> None:
    central.text_item()
    central.faults.add("/v1/devices/", status=500, times=1)
    assert device.sync().ok
    assert [r.status for r in logged(central, "/v1/devices/", 2)] == [500, 200]


def test_the_rejected_and_failed_syncs_are_in_the_event_log(central: Any, device: Device) -> None:
    item_id = central.text_item()
    central.catalog.flip_byte(item_id, "title")
    device.sync()
    kinds = {e["kind"] for e in device.store.recent_events()}
    assert "item_rejected" in kinds
    event = next(e for e in device.store.recent_events() if e["kind"] == "item_rejected")
    assert event["level"] == "warning" and event["data"]["reason"] == "bad_signature"
    assert json.dumps(event["data"])


def test_unknown_cursor_restarts_from_the_beginning(central: Any, device: Device) -> None:
    item_id = central.text_item()
    device.sync()
    device.store.update_sync_state(cursor="not-issued-by-central", etag=None)
    result = device.sync()
    assert result.ok and result.unchanged == 1
    assert device.store.sync_state()["cursor"] != "not-issued-by-central"
    assert device.state(item_id) == "ready"


def test_a_revoked_item_never_comes_back(central: Any, device: Device) -> None:
    item_id = central.text_item()
    device.sync()
    central.catalog.revoke_item(item_id)
    device.sync()
    assert device.state(item_id) == "revoked"
    doc = central.catalog.get_published(item_id)
    doc.update(version=doc["version"] + 1, revoked=False)
    central.catalog.publish_raw(item_id, protocol.sign_document(doc, central.catalog.private_key,
                                                                domain=protocol.ITEM_DOMAIN))
    device.sync()
    assert device.state(item_id) == "revoked"
    assert _rejections(device) == {"replay": 1}


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://127.0.0.2/v1/media/x",
                                 "//evil.example/v1/media/x", "http://user:pw@127.0.0.1/x", "/v1/\r\nX: y",
                                 "https://127.0.0.1/v1/media/x"])
def test_client_refuses_urls_off_the_central_origin(device: Device, url: str) -> None:
    with pytest.raises(CentralError) as caught:
        device.client.resolve(url)
    assert caught.value.code in ("central_foreign_url", "central_bad_url")
    assert caught.value.vi and caught.value.en


def test_client_resolves_paths_on_the_central_origin(central: Any, device: Device) -> None:
    assert device.client.resolve("/v1/media/abc") == f"{central.url}/v1/media/abc"
    assert device.client.resolve(f"{central.url}/v1/info") == f"{central.url}/v1/info"
