"""A full card (issue 16, fault 5): reported as such, never as a network failure; each item's
download is independent; partial downloads count in space management and go first."""

from __future__ import annotations

import os
from typing import Any

from tests.support.sync_rig import Device, logged


def test_no_space_left_is_reported_as_such_and_the_other_downloads_go_on(central: Any, device: Device) -> None:
    full_id, full_media = central.audio_item(os.urandom(50_000), item_id="a-full")
    news_id, _ = central.audio_item(os.urandom(100_000), item_id="b-news")
    # The card is full for this download: its partial file is /dev/full (every write: ENOSPC).
    partial = device.media.open_partial(full_media["sha256"])
    partial.symlink_to("/dev/full")
    result = device.sync()
    assert device.state(news_id) == "ready", "one item's full card must not stop the others"
    assert device.state(full_id) == "waiting_media"
    assert result.error is not None and result.error.code == "storage_full", result.error
    assert "no space" in result.error.en.lower() and "đầy" in result.error.vi
    assert not partial.exists() and not partial.is_symlink(), "the partial that filled the card is dropped"
    state = device.store.sync_state()
    assert state["last_error"]["code"] == "storage_full" and state["last_success_at"]
    kinds = [e["kind"] for e in device.store.recent_events(20)]
    assert "media_failed" in kinds and "sync_failed" in kinds
    failed = next(e for e in device.store.recent_events(20) if e["kind"] == "media_failed")
    assert failed["data"]["code"] == "storage_full"
    # Room again: it arrives on the next sync.
    assert device.sync().ok and device.state(full_id) == "ready"


def test_a_stalled_big_download_does_not_keep_a_small_urgent_item_out(central: Any, make_device: Any) -> None:
    tight = make_device(storage_quota_bytes=400_000)
    big_id, big_media = central.audio_item(os.urandom(300_000), item_id="a-big")
    central.faults.add("/v1/media/", cut_after=250_000, times=1)
    central.faults.add("/v1/media/", status=503)
    tight.sync()
    assert tight.media.partial_bytes(big_media["sha256"]) == 250_000
    central.faults.clear()
    alert_id, _ = central.audio_item(os.urandom(200_000), item_id="c-alert", priority="emergency")
    result = tight.sync()
    assert tight.state(alert_id) == "ready", result.notes
    # The big one's partial went first to make room; it waits for space, and says so.
    assert tight.media.partial_bytes(big_media["sha256"]) == 0 and tight.state(big_id) == "waiting_media"
    assert tight.media.total_bytes() <= 400_000
    dropped = [e for e in tight.store.recent_events(30) if e["kind"] == "media_retention"]
    assert dropped and dropped[0]["data"]["partials"] == 1


def test_smaller_items_of_equal_priority_are_fetched_first(central: Any, device: Device) -> None:
    central.audio_item(os.urandom(200_000), item_id="a-long")
    central.audio_item(os.urandom(20_000), item_id="b-short")
    central.faults.reset_log()
    assert device.sync().ok
    sizes = [r.body_bytes for r in logged(central, "/v1/media/", 2)]
    assert sizes == [20_000, 200_000]
