"""The ``commune-radio`` command line.

Each sub-command lives in its own module under ``appliance.commands`` and is imported only
when used, so ``commune-radio status`` starts fast on a Pi. A command module provides
``configure(parser)`` to declare its arguments and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from pathlib import Path

from appliance.version import __version__
from protocol.errors import CommuneRadioError

# name -> (module, Vietnamese help / English help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("appliance.commands.demo", "chạy thử toàn bộ hệ thống trên máy này / run the whole system locally"),
    "run": ("appliance.commands.run", "chạy dịch vụ chính (daemon) / run the daemon"),
    "sync": ("appliance.commands.sync", "đồng bộ bản tin từ trung tâm / sync items from central"),
    "items": ("appliance.commands.items", "liệt kê bản tin và trạng thái / list items and their state"),
    "check-config": ("appliance.commands.check_config", "kiểm tra cấu hình / print the effective configuration"),
    "normalize-text": ("appliance.commands.speech", "chuẩn hoá văn bản để đọc / print the spoken form of a text"),
    "say": ("appliance.commands.speech", "đọc một văn bản ngay / speak a text now or into a WAV file"),
    "voice-pack": ("appliance.commands.voice_pack", "cài, liệt kê, gỡ gói giọng đọc / install, list, remove voice packs"),
    "status": ("appliance.commands.control", "trạng thái của daemon / daemon status"),
    "play": ("appliance.commands.control", "phát một bản tin ngay / play an item now"),
    "stop": ("appliance.commands.control", "dừng phát / stop playback"),
    "emergency": ("appliance.commands.control", "phát khẩn cấp / emergency broadcast"),
    "volume": ("appliance.commands.control", "đặt âm lượng / set the volume"),
    "relay-reset": ("appliance.commands.control", "đặt lại ngắt bảo vệ ampli / reset a relay watchdog trip"),
    "relays-off": ("appliance.commands.relays_off", "tắt mọi rơ-le, không cần daemon / switch every relay off"),
    "panel": ("appliance.commands.panel", "chạy bảng điều khiển web / run the web panel"),
    "panel-cert": ("appliance.commands.panel_cert", "tạo chứng chỉ HTTPS của bảng điều khiển / make the panel's "
                   "HTTPS certificate"),
    "health": ("appliance.commands.health", "sức khoẻ của đài (0 tốt, 1 cảnh báo, 2 hỏng) / station health"),
    "update": ("appliance.commands.update", "cập nhật phần mềm an toàn / install a new version safely"),
}


def _language(argv: list[str]) -> str:
    if "--lang" in argv:
        idx = argv.index("--lang")
        if idx + 1 < len(argv):
            return argv[idx + 1]
    return os.environ.get("COMMUNE_RADIO_LANG", "vi")


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="commune-radio",
        description="Đài truyền thanh xã ứng dụng CNTT-VT / commune loudspeaker station appliance",
    )
    parser.add_argument("--version", action="version", version=f"commune-radio {__version__}")
    parser.add_argument("--config", help="tệp cấu hình / configuration file (default: $COMMUNE_RADIO_CONFIG "
                        "or /etc/commune-radio/appliance.toml)")
    parser.add_argument("--lang", choices=["vi", "en"], default=None, help="ngôn ngữ / message language")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.configure(p, name) if _takes_name(module) else module.configure(p)
    return parser


def _takes_name(module: object) -> bool:
    configure = module.configure  # type: ignore[attr-defined]
    return configure.__code__.co_argcount >= 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    language = args.lang or _language(argv)
    args.lang = language
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except CommuneRadioError as exc:
        label = "Error" if language == "en" else "Lỗi"
        print(f"{label} [{exc.code}]: {exc.message(language)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        # A damaged or locked database met in the middle of a command: said plainly, never a traceback.
        from appliance.state.store import damaged, is_damage

        if is_damage(exc):
            error = damaged(Path("state.sqlite3"), exc)
            print(f"{'Error' if language == 'en' else 'Lỗi'} [{error.code}]: {error.message(language)}",
                  file=sys.stderr)
        else:
            print(("Error: the station's database cannot be used now" if language == "en" else
                   "Lỗi: hiện không dùng được cơ sở dữ liệu của trạm") + f" ({exc}).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
