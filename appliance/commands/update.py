"""``commune-radio update PACKAGE_OR_WHEEL``: install a new version safely (see appliance/update.py).

Refuses while a broadcast is on air unless ``--force``. Exit 0 when the new version is running
and healthy, 1 when it was rolled back, and an error (with nothing switched) when it could
not even be built. ``--root``/``--restart-cmd``/``--health-cmd`` let it run without systemd.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from appliance import update as updates


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("package", help="tệp wheel hoặc tên gói / a wheel file or a pip requirement")
    parser.add_argument("--force", action="store_true",
                        help="khởi động lại cả khi đang phát / restart even during a broadcast")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="giây chờ bản mới khoẻ / seconds to wait for the new version to be healthy")
    parser.add_argument("--root", default="/", help="thư mục gốc (thử nghiệm) / filesystem root (tests, images)")
    parser.add_argument("--prefix", default=str(updates.DEFAULT_PREFIX), help="nơi cài / install prefix")
    parser.add_argument("--restart-cmd", default=shlex.join(updates.DEFAULT_RESTART),
                        help="lệnh khởi động lại / restart command")
    parser.add_argument("--health-cmd", default=updates.DEFAULT_HEALTH,
                        help="lệnh kiểm tra sức khoẻ ({current}, {version}) / health command")
    parser.add_argument("--pip-args", default="", help="tham số thêm cho pip / extra pip arguments")
    parser.add_argument("--python", default=None, help="trình thông dịch cho venv mới / interpreter for the new venv")


def _on_air(args: argparse.Namespace) -> bool:
    """True while the daemon reports something on air; a daemon that is down is not broadcasting."""
    from appliance.control import ControlClient
    from appliance.state import config as config_module
    from protocol.errors import CommuneRadioError

    try:
        config = config_module.load(getattr(args, "config", None))
        status = ControlClient(config.socket_path, timeout=10.0).request("status", actor="cli:update")
    except CommuneRadioError:
        return False
    return status.get("on_air") is not None


def run(args: argparse.Namespace) -> int:
    package = args.package
    if Path(package).exists():
        package = str(Path(package).resolve())
    en = args.lang == "en"
    result = updates.update(
        package, layout=updates.Layout(Path(args.root), Path(args.prefix)), restart=args.restart_cmd,
        health=args.health_cmd, health_timeout_s=args.timeout, force=args.force, on_air=lambda: _on_air(args),
        pip_args=shlex.split(args.pip_args), python=args.python, log=lambda line: print("== " + line, flush=True))
    print(result.en if en else result.vi)
    return 0 if result.ok else 1
