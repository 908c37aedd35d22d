"""Voice packs: a Piper-format voice (model, config, licence) as one verified file, installed locally.

A pack is a zip file holding ``manifest.json``, ``model.onnx``, ``model.onnx.json`` (Piper's
config: sample rate, espeak voice, phoneme ids) and ``LICENSE`` (the model card or licence of
the voice and of its training data). The manifest names the pack (id, name, language, licence)
and lists every file with its size and sha256; central signs it (Ed25519, domain
``commune-radio/voice-pack/v1``) when it distributes the pack as signed media.

Installing (``install_pack``) refuses, changing nothing: anything but exactly those four
members, a member whose size or sha256 differs from the manifest (a tampered pack), a bad or
unknown signature, and an unsigned pack unless the operator allows it. The pack is unpacked to a
temporary directory next to ``<voices_dir>/<id>``, prepared for sherpa-onnx (the model's Piper
settings written into its ONNX metadata, the phoneme table as ``tokens.txt``), fsynced, and
swapped in with a rename. ``installed.json`` records every file's sha256, and the engine checks
them again when it loads the voice: nothing read back from the SD card is trusted blindly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audio.errors import AudioError
from protocol.durable import TEMP_PREFIX, atomic_write_bytes, fsync_dir
from protocol.errors import CommuneRadioError
from protocol.signing import sign_document, verify_signature
from protocol.spec import VOICE_PACK_DOMAIN

PACK_FORMAT = 1
PACK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
MEMBERS = ("model.onnx", "model.onnx.json", "LICENSE")
MAX_MODEL_BYTES = 400_000_000
MAX_SMALL_BYTES = 2_000_000
PREPARED_MODEL = "model.sherpa.onnx"
TOKENS = "tokens.txt"
INSTALLED = "installed.json"


class VoicePackError(AudioError):
    """A voice pack that cannot be built, installed or loaded; nothing was changed."""

    code = "voice_pack"


def _refuse(vi: str, en: str, code: str = "voice_pack.invalid") -> VoicePackError:
    return VoicePackError(f"Gói giọng đọc bị từ chối: {vi}", f"Voice pack refused: {en}", code=code)


@dataclasses.dataclass(frozen=True)
class InstalledPack:
    pack_id: str
    name: str
    language: str
    licence: str
    directory: Path
    espeak_voice: str
    sample_rate: int
    signed_by: str | None

    @property
    def model(self) -> Path:
        return self.directory / PREPARED_MODEL

    @property
    def tokens(self) -> Path:
        return self.directory / TOKENS


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- building and signing


def build_pack_from_piper(model: Path, config: Path, licence_file: Path, *, pack_id: str, name: str, licence: str,
                          out_dir: Path, language: str | None = None) -> Path:
    """A pack file from a Piper voice's ``.onnx`` + ``.onnx.json`` and its licence or model card."""
    if not PACK_ID_RE.fullmatch(pack_id):
        raise _refuse(f"mã gói '{pack_id}' không hợp lệ", f"invalid pack id {pack_id!r}")
    piper = _piper_config(Path(config).read_bytes())
    language = language or str((piper.get("language") or {}).get("code") or piper["espeak"]["voice"])
    sources = {"model.onnx": Path(model), "model.onnx.json": Path(config), "LICENSE": Path(licence_file)}
    manifest = {
        "format": PACK_FORMAT, "id": pack_id, "name": name, "language": language.replace("_", "-"),
        "engine": "piper", "licence": licence,
        "files": {member: {"bytes": path.stat().st_size, "sha256": sha256_file(path)} for member, path in sources.items()},
    }
    _check_manifest(manifest)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{pack_id}.voicepack"
    _write_pack(target, manifest, sources)
    return target


def sign_pack(pack: Path, private_key: Ed25519PrivateKey, target: Path | None = None) -> Path:
    """The same pack with its manifest signed by ``private_key`` (central's signing key)."""
    target = target or pack
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        signed = sign_document(manifest, private_key, domain=VOICE_PACK_DOMAIN)
        temp = target.with_name(f"{TEMP_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}")
        with zipfile.ZipFile(temp, "w") as out:
            out.writestr("manifest.json", json.dumps(signed, ensure_ascii=False, sort_keys=True))
            for member in MEMBERS:
                with archive.open(member) as source, out.open(member, "w") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
    os.replace(temp, target)
    return target


def _write_pack(target: Path, manifest: Mapping[str, Any], sources: Mapping[str, Path]) -> None:
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}")
    with zipfile.ZipFile(temp, "w") as out:
        out.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, sort_keys=True))
        for member, path in sources.items():
            # Models are already compressed weights: store them as they are.
            out.write(path, member, compress_type=zipfile.ZIP_STORED if member == "model.onnx" else zipfile.ZIP_DEFLATED)
    os.replace(temp, target)


# --------------------------------------------------------------------------- reading and verifying


def _piper_config(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        ids = data["phoneme_id_map"]
        voice = data["espeak"]["voice"]
        rate = int(data["audio"]["sample_rate"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse("tệp cấu hình Piper sai hoặc thiếu trường", f"the Piper config is not valid ({exc})") from None
    if (not isinstance(ids, dict) or not ids or not isinstance(voice, str) or not 8000 <= rate <= 48000
            or not all(isinstance(v, list) and v and all(isinstance(i, int) and 0 <= i < 10_000 for i in v)
                       for v in ids.values())):
        raise _refuse("bảng âm vị hoặc tần số mẫu không hợp lệ", "bad phoneme table, espeak voice or sample rate")
    return data


def _check_manifest(manifest: Any) -> None:
    keys = {"format", "id", "name", "language", "engine", "licence", "files"}
    if not isinstance(manifest, dict) or not keys <= set(manifest) or set(manifest) - keys - {"signature"}:
        raise _refuse("tệp kê khai thiếu hoặc thừa trường", "the manifest's fields are wrong")
    if manifest["format"] != PACK_FORMAT or manifest["engine"] != "piper":
        raise _refuse("định dạng gói không được hỗ trợ", f"unsupported format/engine {manifest['format']!r}")
    if not isinstance(manifest["id"], str) or not PACK_ID_RE.fullmatch(manifest["id"]):
        raise _refuse("mã gói không hợp lệ", "invalid pack id")
    if not isinstance(manifest["language"], str) or not LANGUAGE_RE.fullmatch(manifest["language"]):
        raise _refuse("mã ngôn ngữ không hợp lệ", "invalid language code")
    for field in ("name", "licence"):
        value = manifest[field]
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise _refuse(f"trường {field} phải có 1-200 ký tự", f"'{field}' must have 1-200 characters")
    files = manifest["files"]
    if not isinstance(files, dict) or set(files) != set(MEMBERS):
        raise _refuse("gói phải có đúng model.onnx, model.onnx.json và LICENSE",
                      "the pack must list exactly model.onnx, model.onnx.json and LICENSE")
    for member, entry in files.items():
        limit = MAX_MODEL_BYTES if member == "model.onnx" else MAX_SMALL_BYTES
        if (not isinstance(entry, dict) or set(entry) != {"bytes", "sha256"} or not isinstance(entry["bytes"], int)
                or not 0 < entry["bytes"] <= limit or not isinstance(entry["sha256"], str)
                or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])):
            raise _refuse(f"mục {member} trong tệp kê khai sai", f"the manifest entry for {member} is invalid")


def read_manifest(pack: Path, trusted_keys: Mapping[str, Ed25519PublicKey] | None = None, *,
                  allow_unsigned: bool = False) -> tuple[dict[str, Any], str | None]:
    """The pack's manifest after every check but the members' hashes; and who signed it."""
    try:
        with zipfile.ZipFile(pack) as archive:
            names = archive.namelist()
            if sorted(names) != sorted(("manifest.json", *MEMBERS)):
                raise _refuse("gói chứa tệp lạ hoặc thiếu tệp", f"unexpected members {sorted(names)[:8]}")
            manifest = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise _refuse("tệp không phải gói giọng đọc hợp lệ", f"not a readable voice pack ({exc})") from None
    _check_manifest(manifest)
    signer = None
    if "signature" in manifest:
        try:
            signer = verify_signature(manifest, dict(trusted_keys or {}), VOICE_PACK_DOMAIN, manifest["id"])
        except CommuneRadioError as exc:
            raise _refuse(f"chữ ký không hợp lệ ({exc.vi})", f"bad signature ({exc.en})", "voice_pack.signature") from None
    elif not allow_unsigned:
        raise _refuse("gói chưa được ký; chỉ cài gói chưa ký khi chắc chắn nguồn gốc (--allow-unsigned)",
                      "the pack is not signed; install an unsigned pack only from a source you trust "
                      "(--allow-unsigned)", "voice_pack.unsigned")
    return manifest, signer


# --------------------------------------------------------------------------- installing


def install_pack(pack: Path, voices_dir: Path, *, trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
                 allow_unsigned: bool = False) -> InstalledPack:
    """Verify and install ``pack`` under ``voices_dir/<id>``, replacing an older copy atomically."""
    manifest, signer = read_manifest(Path(pack), trusted_keys, allow_unsigned=allow_unsigned)
    pack_id = manifest["id"]
    voices_dir.mkdir(parents=True, exist_ok=True)
    staging = voices_dir / f"{TEMP_PREFIX}{pack_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        with zipfile.ZipFile(pack) as archive:
            for member in MEMBERS:
                expected = manifest["files"][member]
                digest = hashlib.sha256()
                size = 0
                with archive.open(member) as source, (staging / member).open("wb") as sink:
                    while block := source.read(1 << 20):
                        size += len(block)
                        if size > expected["bytes"]:
                            break
                        digest.update(block)
                        sink.write(block)
                    sink.flush()
                    os.fsync(sink.fileno())
                if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
                    raise _refuse(f"{member} không khớp tệp kê khai (gói đã bị sửa hoặc hỏng)",
                                  f"{member} does not match its manifest entry (tampered or damaged)",
                                  "voice_pack.tampered")
        piper = _piper_config((staging / "model.onnx.json").read_bytes())
        _prepare_for_sherpa(staging, piper, manifest)
        record = {"manifest": manifest, "signed_by": signer,
                  "prepared": {name: sha256_file(staging / name)
                               for name in (PREPARED_MODEL, TOKENS, "model.onnx.json", "LICENSE")}}
        (staging / "model.onnx").unlink()  # the prepared copy replaces it: one model on the SD card
        atomic_write_bytes(staging / INSTALLED, json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
        fsync_dir(staging)
        target = voices_dir / pack_id
        old = voices_dir / f"{TEMP_PREFIX}old-{pack_id}-{uuid.uuid4().hex[:8]}"
        if target.exists():
            os.rename(target, old)
        os.rename(staging, target)
        fsync_dir(voices_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_installed(voices_dir, pack_id, verify=False)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def onnx_metadata_bytes(metadata: Mapping[str, str]) -> bytes:
    """ONNX ``metadata_props`` entries (ModelProto field 14) as protobuf bytes.

    Appended to a serialized ModelProto they add entries: protobuf merges repeated fields across
    concatenated messages. This is how the Piper settings reach sherpa-onnx without the onnx package.
    """
    return b"".join(_field(14, _field(1, k.encode()) + _field(2, v.encode())) for k, v in metadata.items())


def _prepare_for_sherpa(directory: Path, piper: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
    inference = piper.get("inference") or {}
    metadata = {
        "model_type": "vits", "comment": "piper", "language": str(manifest["language"]),
        "voice": str(piper["espeak"]["voice"]), "has_espeak": "1", "n_speakers": str(int(piper.get("num_speakers", 1))),
        "sample_rate": str(int(piper["audio"]["sample_rate"])), "add_blank": "0",
        "noise_scale": str(inference.get("noise_scale", 0.667)), "length_scale": str(inference.get("length_scale", 1)),
        "noise_scale_w": str(inference.get("noise_w", 0.8)),
    }
    with (directory / "model.onnx").open("rb") as source, (directory / PREPARED_MODEL).open("wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
        sink.write(onnx_metadata_bytes(metadata))
        sink.flush()
        os.fsync(sink.fileno())
    lines = [f"{symbol} {ids[0]}" for symbol, ids in piper["phoneme_id_map"].items()
             if symbol.strip() or symbol == " "]
    atomic_write_bytes(directory / TOKENS, ("\n".join(lines) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------- loading


def load_installed(voices_dir: Path, pack_id: str, *, verify: bool = True) -> InstalledPack:
    """An installed pack; with ``verify`` every file's sha256 is checked against installed.json."""
    if not PACK_ID_RE.fullmatch(pack_id or ""):
        raise _refuse("chưa chọn gói giọng đọc (tts.voice_pack)", "no voice pack chosen (tts.voice_pack)",
                      "voice_pack.missing")
    directory = voices_dir / pack_id
    try:
        record = json.loads((directory / INSTALLED).read_text(encoding="utf-8"))
        manifest = record["manifest"]
        piper = _piper_config((directory / "model.onnx.json").read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        raise VoicePackError(
            f"Chưa cài gói giọng đọc '{pack_id}'. Hãy cài bằng: commune-radio voice-pack install TỆP.",
            f"The voice pack '{pack_id}' is not installed. Install it with: commune-radio voice-pack install FILE.",
            code="voice_pack.missing") from None
    if verify:
        for name, expected in record.get("prepared", {}).items():
            try:
                actual = sha256_file(directory / name)
            except OSError:
                actual = ""
            if actual != expected:
                raise VoicePackError(
                    f"Tệp {name} của gói giọng đọc '{pack_id}' đã bị thay đổi hoặc hỏng. Hãy cài lại gói.",
                    f"The voice pack '{pack_id}' file {name} was changed or damaged. Install the pack again.",
                    code="voice_pack.tampered")
    return InstalledPack(pack_id=pack_id, name=manifest["name"], language=manifest["language"],
                         licence=manifest["licence"], directory=directory, espeak_voice=piper["espeak"]["voice"],
                         sample_rate=int(piper["audio"]["sample_rate"]), signed_by=record.get("signed_by"))


def installed_packs(voices_dir: Path) -> list[InstalledPack]:
    packs = []
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted(voices_dir.iterdir()):
            if entry.is_dir() and not entry.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(VoicePackError):
                    packs.append(load_installed(voices_dir, entry.name, verify=False))
    return packs


def remove_pack(voices_dir: Path, pack_id: str) -> bool:
    directory = voices_dir / pack_id
    if not PACK_ID_RE.fullmatch(pack_id) or not directory.is_dir():
        return False
    trash = voices_dir / f"{TEMP_PREFIX}old-{pack_id}-{uuid.uuid4().hex[:8]}"
    os.rename(directory, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return True
