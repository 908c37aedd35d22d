"""``commune-radio demo``: central, device, broadcast, panel and monitoring on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("demo-data"),
                        help="thư mục demo: trống, mới hoặc của lần demo trước (chỉ phần của demo được tạo lại) / demo folder: empty, new or a previous demo's (only the demo's own files are recreated)")
    parser.add_argument("--duration", type=float, default=None,
                        help="dừng sau N giây / stop after N seconds (default: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    from appliance.demo import main_cli

    return main_cli(args.data, args.duration)
