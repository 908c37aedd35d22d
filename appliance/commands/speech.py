"""``commune-radio normalize-text "…"`` and ``commune-radio say "…" [--out file.wav]``.

``normalize-text`` prints the spoken form the engine will read (after the text guard and the
Vietnamese normalizer). ``say`` prepares the text exactly as a broadcast would (TTS, trim,
loudness, chime) and either writes the prepared WAV (``--out``) or plays it now through the
configured output (``audio.output``: the sound card, or a WAV in the capture folder).
A text of ``-`` (or none) is read from standard input.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

from appliance.commands import load_config
from appliance.state.config import Config
from audio.errors import PlaybackError
from protocol.durable import atomic_writer
from protocol.errors import StorageError, ValidationError

VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")
# How long past the clip's length we wait for the player before giving up on it.
PLAY_WAIT_MARGIN_S = 30.0


def configure(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("text", nargs="?", default="-",
                        help="văn bản; '-' để đọc từ đầu vào chuẩn / the text; '-' reads standard input")
    if name == "say":
        parser.add_argument("--out", type=Path, help="ghi tệp WAV thay vì phát / write a WAV file instead of playing")
        parser.add_argument("--voice", choices=VOICES,
                            help="giọng: vi (Bắc), vi-vn-x-central (Trung), vi-vn-x-south (Nam) / voice")
        parser.add_argument("--rate", type=int, help="tốc độ đọc, từ/phút (80-300) / words per minute (80-300)")
        parser.add_argument("--zone", action="append", dest="zones",
                            help="vùng loa khi daemon đang chạy (lặp lại được) / zone when the daemon runs (repeatable)")


def run(args: argparse.Namespace) -> int:
    text = _read_text(args.text)
    if args.command == "normalize-text":
        from audio.tts import spoken_form

        print(spoken_form(text))
        return 0
    return _say(args, text)


def _read_text(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    return value


def _say(args: argparse.Namespace, text: str) -> int:
    english = args.lang == "en"
    config = _with_overrides(load_config(args), voice=args.voice, rate=args.rate)
    if args.out is None and _ask_daemon(config, text, args.zones, english):
        return 0
    config = _usable_data_dir(config, english)
    from audio.prepare import Preparer

    with Preparer(config) as preparer:
        prepared = preparer.prepare_text(text)
    summary = f"{prepared.duration_s:.1f} s, {prepared.lufs:.1f} LUFS, true peak {prepared.true_peak_dbfs:.1f} dBFS"
    if args.out is not None:
        with prepared.path.open("rb") as source, atomic_writer(args.out) as target:
            shutil.copyfileobj(source, target)
        print(f"Wrote {args.out} ({summary})" if english else f"Đã ghi {args.out} ({summary})")
        return 0
    return _play_now(config, prepared.path, prepared.duration_s, summary, english)


def _ask_daemon(config: Config, text: str, zones: list[str] | None, english: bool) -> bool:
    """The daemon owns the speakers and relays: when it runs, it speaks the text (False if it is not running)."""
    from appliance.commands.control import cli_actor
    from appliance.control import ControlClient
    from appliance.errors import ControlError

    try:
        answer = ControlClient(config.socket_path, timeout=30.0).request("say", actor=cli_actor(), text=text,
                                                                         zones=zones)
    except ControlError as exc:
        if exc.code == "control.not_running":
            return False
        raise
    message = answer.get("message", {})
    print(message.get("en" if english else "vi", ""))
    return True


def _with_overrides(config: Config, *, voice: str | None, rate: int | None) -> Config:
    if rate is not None and not 80 <= rate <= 300:
        raise ValidationError(f"Tốc độ đọc {rate} không hợp lệ: cần từ 80 đến 300 từ/phút.",
                              f"Invalid rate {rate}: use 80 to 300 words per minute.")
    changes = {k: v for k, v in (("voice", voice), ("rate", rate)) if v is not None}
    if not changes:
        return config
    return dataclasses.replace(config, tts=dataclasses.replace(config.tts, **changes))


def _usable_data_dir(config: Config, english: bool) -> Config:
    """An operator without write access to the station's data folder still gets speech (uncached)."""
    data = config.data_path
    try:
        data.mkdir(parents=True, exist_ok=True)
        writable = os.access(data, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if writable:
        return config
    scratch = tempfile.mkdtemp(prefix="commune-radio-say-")
    note = (f"Note: {data} is not writable; using {scratch} for this run." if english
            else f"Lưu ý: không ghi được vào {data}; tạm dùng {scratch}.")
    print(note, file=sys.stderr)
    return dataclasses.replace(config, device=dataclasses.replace(config.device, data_dir=scratch))


def _play_now(config: Config, path: Path, duration_s: float, summary: str, english: bool) -> int:
    from audio.playback import Player

    try:
        player = Player.from_config(config)
    except OSError as exc:
        raise StorageError(f"Không mở được đầu ra âm thanh: {exc}", f"Cannot open the audio output: {exc}") from None
    with player:
        playback = player.play(path, expected_duration_s=duration_s, label="say")
        result = playback.wait(timeout=duration_s + config.audio.watchdog_margin_s + PLAY_WAIT_MARGIN_S)
        if result is None:
            player.stop("timeout")
            raise PlaybackError("Phát âm thanh không kết thúc đúng hạn nên đã dừng.",
                                "Playback did not finish in time and was stopped.", code="playback.timeout")
    if result.outcome != "completed":
        if result.failure is not None:
            raise result.failure
        raise PlaybackError(f"Phát âm thanh không thành công ({result.outcome}).",
                            f"Playback did not complete ({result.outcome}).", code=f"playback.{result.outcome}")
    where = f" -> {result.capture_path}" if result.capture_path else ""
    print(f"Played {result.played_s:.1f} s ({summary}){where}" if english
          else f"Đã phát {result.played_s:.1f} s ({summary}){where}")
    return 0
