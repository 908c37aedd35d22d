"""The station's side of central's rendered speech (protocol §4.3): verified, stored, fetched, dropped.

A real central on loopback renders with espeak-ng; the device syncs over HTTP.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from appliance.sync.speech import SpeechUnusable, ready_speech_sha, speech_row, verified_speech
from central.config import CentralConfig, SpeechConfig
from tests.conftest import CentralHandle
from tests.support.sync_rig import Device

TEXT = "Thông báo: sáng mai 7 giờ họp dân tại nhà văn hóa thôn."


@pytest.fixture
def central_config(tmp_path: Path, central_database_url: str) -> CentralConfig:
    return CentralConfig(data_dir=tmp_path / "central", database_url=central_database_url,
                         speech=SpeechConfig(engine="espeak", voice="vi-vn-x-south"))


def test_speech_is_verified_fetched_and_ready(central: CentralHandle, device: Device) -> None:
    item_id = central.text_item(text=TEXT)
    result = device.sync()
    assert result.ok and result.speech == 2  # stored, then its audio fetched
    doc = central.catalog.speech.get(item_id)
    sha = doc["media"]["sha256"]
    assert ready_speech_sha(device.store, item_id, 1) == sha
    assert hashlib.sha256(device.media.path_for(sha).read_bytes()).hexdigest() == sha
    assert sha in device.store.referenced_media()  # kept by retention with its item
    item = device.store.get_item(item_id)
    found = verified_speech(device.store, device.media, device.syncer.public_keys, item)
    assert found.voice_name == "espeak-ng Vietnamese (Southern)"
    assert device.sync().not_modified  # nothing new: 304, nothing fetched again


def test_speech_removed_at_central_is_dropped(central: CentralHandle, device: Device) -> None:
    item_id = central.text_item(text=TEXT)
    device.sync()
    assert speech_row(device.store, item_id, 1) is not None
    assert central.catalog.speech.remove(item_id)
    result = device.sync()
    assert result.ok and result.speech == 1 and result.unchanged == 1
    assert speech_row(device.store, item_id, 1) is None
    kinds = [e["kind"] for e in device.store.query("SELECT kind FROM events ORDER BY id")]
    assert "speech.removed" in kinds


def test_tampered_or_misbound_speech_is_refused_and_the_item_still_plays(central: CentralHandle,
                                                                         device: Device) -> None:
    item_id = central.text_item(text=TEXT)
    other_id = central.text_item(title="Khác", text="Một bản tin khác.")
    signed = central.catalog.speech.get(item_id)
    altered = copy.deepcopy(signed)
    altered["voice"]["name"] = "Giọng giả"  # signature no longer matches
    old_speech = central.catalog.speech.get(other_id)  # validly signed, but for version 1
    central.catalog.update_item(other_id, text="Một bản tin khác, đã sửa.")
    central.catalog.approve_item(other_id, by="Chủ tịch UBND xã")
    with central.catalog.store.write() as tx:
        tx.speech.put(item_id, 1, altered, altered["media"]["sha256"], now=central.clock())
        tx.speech.put(other_id, 2, old_speech, old_speech["media"]["sha256"], now=central.clock())
    result = device.sync()
    assert result.ok and device.state(item_id) == "ready" and device.store.get_item(other_id)["version"] == 2
    assert speech_row(device.store, item_id, 1) is None and speech_row(device.store, other_id, 2) is None
    events = device.store.query("SELECT kind, data FROM events WHERE kind = 'speech.rejected' ORDER BY id")
    assert sorted(json.loads(e["data"])["reason"] for e in events) == ["bad_signature", "tampered"]


def test_stored_speech_is_checked_again_before_use(central: CentralHandle, device: Device) -> None:
    item_id = central.text_item(text=TEXT)
    device.sync()
    item = device.store.get_item(item_id)
    sha = ready_speech_sha(device.store, item_id, 1)
    path = device.media.path_for(sha)
    path.chmod(0o644)
    data = path.read_bytes()
    path.write_bytes(data[:-2] + b"\x00\x01")
    with pytest.raises(SpeechUnusable) as caught:
        verified_speech(device.store, device.media, device.syncer.public_keys, item)
    assert caught.value.code == "speech.media_altered"
    path.write_bytes(data)
    with device.store.transaction() as tx:  # a stored document edited on the card
        row = json.loads(speech_row(device.store, item_id, 1)["document"])
        row["duration_s"] = 1.0
        tx.execute("UPDATE item_speech SET document = ? WHERE item_id = ?", (json.dumps(row), item_id))
    with pytest.raises(SpeechUnusable) as caught:
        verified_speech(device.store, device.media, device.syncer.public_keys, item)
    assert caught.value.code == "speech.tampered"
