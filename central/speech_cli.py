"""``commune-central item speech`` and ``commune-central voice-pack``: rendered speech and voice packs.

Examples::

    commune-central item preview it-1a2b3c --out nghe-thu.wav   # before approval: what will air
    commune-central item speech it-1a2b3c             # which voice, which audio, how long
    commune-central item speech it-1a2b3c --render    # render the published version again
    commune-central item speech it-1a2b3c --remove    # stations read it with their own voice
    commune-central voice-pack offer vi-voice.voicepack
    commune-central voice-pack list
    commune-central voice-pack withdraw vi-voice
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol.errors import ValidationError


def _print_speech(item_id: str, doc: dict[str, Any] | None, catalog: Any) -> None:
    if doc is None:
        voice = catalog.speech.renderer.voice()["name"] if catalog.speech.enabled else "-"
        print(f"{item_id}: không có giọng trung tâm; trạm đọc bằng giọng của mình / no rendered speech; "
              f"stations read it with their own voice (central voice: {voice})")
        return
    media = doc["media"]
    print(f"{item_id} v{doc['version']}: {doc['voice']['name']} ({doc['voice']['engine']}:{doc['voice']['id']})\n"
          f"  {media['url']}  {media['bytes']} bytes  {str(doc['duration_s']).replace('.', ',')} s"
          f"  rendered {doc['rendered_at']}")


def add_speech_commands(sub: Any, item: Any, common: argparse.ArgumentParser,
                        catalog_for: Callable[[argparse.Namespace], Any]) -> None:
    def cmd_item_speech(args: argparse.Namespace) -> int:
        with catalog_for(args) as catalog:
            if args.remove:
                removed = catalog.speech.remove(args.item_id)
                print(f"{args.item_id}: " + ("speech removed" if removed else "no speech to remove"))
                return 0
            doc = catalog.speech.render_again(args.item_id) if args.render else catalog.speech.get(args.item_id)
            _print_speech(args.item_id, doc, catalog)
        return 0

    speech = item.add_parser("speech", parents=[common], help="central's rendered speech of a text item")
    speech.add_argument("item_id")
    mode = speech.add_mutually_exclusive_group()
    mode.add_argument("--render", action="store_true", help="render the published version again")
    mode.add_argument("--remove", action="store_true", help="stop shipping rendered speech for it")
    speech.set_defaults(func=cmd_item_speech)

    def cmd_item_preview(args: argparse.Namespace) -> int:
        import shutil

        with catalog_for(args) as catalog:
            rendered = catalog.speech.preview(args.item_id)
            shutil.copyfile(rendered.path, args.out)
            seconds = f"{rendered.duration_s:.1f}".replace(".", ",")  # Vietnamese decimal comma
            print(f"{args.out}: {rendered.voice['name']}, {seconds} s, sha256 {rendered.sha256}")
        return 0

    preview = item.add_parser("preview", parents=[common],
                              help="render a text item's pending text with central's voice: what will air")
    preview.add_argument("item_id")
    preview.add_argument("--out", required=True, help="WAV file to write")
    preview.set_defaults(func=cmd_item_preview)

    def offers(catalog: Any) -> Any:
        from central.voice_offers import VoiceOffers

        return VoiceOffers(catalog)

    def cmd_offer(args: argparse.Namespace) -> int:
        with catalog_for(args) as catalog:
            doc = offers(catalog).offer(Path(args.file))
            print(f"offered {doc['pack_id']} ({doc['name']}, {doc['language']}), {doc['media']['bytes']} bytes,"
                  f" sha256 {doc['media']['sha256']}")
        return 0

    def cmd_list(args: argparse.Namespace) -> int:
        with catalog_for(args) as catalog:
            for row in offers(catalog).list():
                flag = " [giọng trung tâm / central's voice]" if row["central_voice"] else ""
                print(f"{row['pack_id']}\t{row['language']}\t{row['bytes']}\t{row['offered_at']}\t{row['name']}{flag}")
        return 0

    def cmd_withdraw(args: argparse.Namespace) -> int:
        with catalog_for(args) as catalog:
            if not offers(catalog).withdraw(args.pack_id):
                raise ValidationError(f"Không có gói giọng {args.pack_id[:64]} đang được cung cấp.",
                                      f"No voice pack {args.pack_id[:64]} is offered.")
            print(f"{args.pack_id} withdrawn")
        return 0

    pack = sub.add_parser("voice-pack", help="voice packs offered to stations").add_subparsers(
        dest="voice_pack_command", required=True)
    offer = pack.add_parser("offer", parents=[common], help="sign a voice pack and offer it to every station")
    offer.add_argument("file")
    offer.set_defaults(func=cmd_offer)
    pack.add_parser("list", parents=[common], help="offered voice packs").set_defaults(func=cmd_list)
    withdraw = pack.add_parser("withdraw", parents=[common], help="stop offering a voice pack")
    withdraw.add_argument("pack_id")
    withdraw.set_defaults(func=cmd_withdraw)
