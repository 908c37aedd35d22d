"""``commune-radio voice-pack install FILE | list | remove ID | build …``: neural voices as verified packs.

``install`` verifies the pack (every file's size and sha256 against its manifest; the manifest's
signature against central's public key, ``central.public_key``) and installs it under
``<data_dir>/voices``; an unsigned pack needs ``--allow-unsigned`` (a technician's deliberate
choice). Then set ``tts.engine = "neural"`` and ``tts.voice_pack = "ID"``. ``build`` makes a pack
from a Piper voice's ``.onnx``, ``.onnx.json`` and licence, for a technician provisioning one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.commands import load_config
from audio.voicepacks import build_pack_from_piper, install_pack, installed_packs, remove_pack
from protocol.signing import keyring, public_key_from_b64


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = sub.add_parser("install", help="cài một gói giọng đọc từ tệp / install a voice pack from a file")
    install.add_argument("file", type=Path)
    install.add_argument("--allow-unsigned", action="store_true",
                         help="cho phép gói chưa được trung tâm ký / accept a pack central did not sign")
    sub.add_parser("list", help="các gói đã cài / installed voice packs")
    remove = sub.add_parser("remove", help="gỡ một gói / remove a voice pack")
    remove.add_argument("pack_id")
    build = sub.add_parser("build", help="đóng gói một giọng Piper / make a pack from a Piper voice")
    build.add_argument("--model", type=Path, required=True)
    build.add_argument("--model-config", type=Path, required=True)
    build.add_argument("--licence-file", type=Path, required=True)
    build.add_argument("--id", dest="pack_id", required=True)
    build.add_argument("--name", required=True)
    build.add_argument("--licence", required=True, help="giấy phép, ví dụ 'CC-BY-4.0' / licence, e.g. 'CC-BY-4.0'")
    build.add_argument("--out-dir", type=Path, default=Path("."))


def run(args: argparse.Namespace) -> int:
    english = args.lang == "en"
    if args.action == "build":
        path = build_pack_from_piper(args.model, args.model_config, args.licence_file, pack_id=args.pack_id,
                                     name=args.name, licence=args.licence, out_dir=args.out_dir)
        print(f"Wrote {path}" if english else f"Đã ghi {path}")
        return 0
    config = load_config(args)
    voices_dir = config.data_path / "voices"
    if args.action == "install":
        keys = keyring([public_key_from_b64(config.central.public_key)]) if config.central.public_key else {}
        pack = install_pack(args.file, voices_dir, trusted_keys=keys, allow_unsigned=args.allow_unsigned)
        signed = (f"signed by {pack.signed_by}" if english else f"ký bởi {pack.signed_by}") if pack.signed_by else (
            "unsigned" if english else "chưa ký")
        print(f"Installed voice pack {pack.pack_id} ({pack.name}, {pack.language}, {signed}). "
              f"Use it with tts.engine = \"neural\", tts.voice_pack = \"{pack.pack_id}\"." if english else
              f"Đã cài gói giọng đọc {pack.pack_id} ({pack.name}, {pack.language}, {signed}). "
              f"Dùng bằng tts.engine = \"neural\", tts.voice_pack = \"{pack.pack_id}\".")
        return 0
    if args.action == "list":
        packs = installed_packs(voices_dir)
        active = config.tts.voice_pack if config.tts.engine == "neural" else ""
        if not packs:
            print("No voice packs installed." if english else "Chưa cài gói giọng đọc nào.")
        for pack in packs:
            mark = "*" if pack.pack_id == active else " "
            print(f"{mark} {pack.pack_id}  {pack.name}  {pack.language}  {pack.licence}")
        return 0
    removed = remove_pack(voices_dir, args.pack_id)
    if not removed:
        print(f"No voice pack {args.pack_id}." if english else f"Không có gói giọng đọc {args.pack_id}.")
        return 1
    print(f"Removed {args.pack_id}." if english else f"Đã gỡ {args.pack_id}.")
    return 0
