"""``commune-central command`` and ``commune-central monitor``: queue signed commands, show the fleet.

Examples::

    commune-central command 26881-0001 set_volume --param volume=70 --expires-in 600
    commune-central command 26881-0001 play --param item_id=it-1a2b3c --param zones=thon-1,thon-2
    commune-central monitor
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import protocol
from protocol.errors import ValidationError


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``k=v`` pairs: integers stay integers, ``zones`` is a comma-separated list, the rest text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"Tham số phải có dạng khoá=giá_trị: {pair!r}", f"A param must be key=value: {pair!r}")
        if key in params:
            raise ValidationError(f"Tham số {key} bị lặp.", f"Param {key} is given twice.")
        if key == "zones":
            params[key] = [z.strip() for z in value.split(",") if z.strip()]
        elif value.lstrip("-").isdigit():
            params[key] = int(value)
        else:
            params[key] = value
    return params


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from central.catalog import Catalog
    from central.config import from_args
    from central.monitor import Monitor

    config = from_args(args)
    catalog = Catalog(config.data_dir, config=config)
    return catalog, Monitor(catalog.store, clock=catalog.clock, private_key=catalog.private_key,
                            retention=config.retention)


def cmd_command(args: argparse.Namespace) -> int:
    catalog, monitor = _open(args)
    try:
        signed = monitor.queue_command(args.device_id, args.type, parse_params(args.param),
                                       expires_in_s=args.expires_in, by=args.by,
                                       known_devices=lambda d: catalog.get_device(d) is not None)
    finally:
        monitor.close()
        catalog.close()
    print(f"{signed['id']}\t{signed['type']}\t{json.dumps(signed['params'], ensure_ascii=False)}\t"
          f"expires {signed['expires_at']}")
    print("Lệnh sẽ được gửi trong nhịp tim tiếp theo của thiết bị / "
          "the command goes out with the device's next heartbeat answer.")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    catalog, monitor = _open(args)
    try:
        fleet = monitor.fleet(catalog.list_devices())
    finally:
        monitor.close()
        catalog.close()
    if args.json:
        print(json.dumps(fleet, ensure_ascii=False, indent=2))
        return 0
    for d in fleet:
        last = d["last_play"]
        play = f"{last['item_id']} {last['outcome']} {last['at']}" if last else "-"
        print(f"{d['device_id']}\t{d['status']}\tlast seen {d['last_seen_at'] or '-'}\t"
              f"plays {d['plays_logged']}\tlast play {play}")
    return 0


def demo_lines(central_url: str, device_id: str | None = None, *, admin_token: str,
               timeout_s: float = 10.0) -> list[str]:
    """What the demo prints about monitoring: the page URL and, per device, whether it is online
    and its last logged play (read over HTTP from the JSON API with the admin token, like any
    operator would)."""
    import requests

    base = central_url.rstrip("/")
    response = requests.get(f"{base}/api/monitor/devices", timeout=timeout_s,
                            headers={"Authorization": f"Bearer {admin_token}"})
    response.raise_for_status()
    fleet = response.json()["devices"]
    lines = [f"Giám sát / monitoring: {base}/monitor"]
    for d in fleet:
        if device_id is not None and d["device_id"] != device_id:
            continue
        last = d["last_play"]
        play = (f"lượt phát cuối / last play: {last['item_id']} {last['outcome']} {last['at']}"
                if last else "chưa có lượt phát / no play logged yet")
        lines.append(f"  {d['device_id']}: {d['status']} (last seen {d['last_seen_at'] or '-'}), "
                     f"{d['plays_logged']} plays logged; {play}")
        lines.append(f"  {base}/monitor/devices/{d['device_id']}")
    return lines


def add_monitoring_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("command", parents=[common], help="queue a signed command for a device")
    command.add_argument("device_id")
    command.add_argument("type", choices=protocol.COMMAND_TYPES)
    command.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="command parameter (repeatable): item_id=…, zones=a,b, volume=0..100")
    command.add_argument("--expires-in", type=int, default=600, metavar="SECONDS",
                         help="lifetime in seconds (1..86400, default 600)")
    command.add_argument("--by", default="central-cli", help="who queued it (shown on the page)")
    command.set_defaults(func=cmd_command)
    monitor = sub.add_parser("monitor", parents=[common], help="fleet status: online/offline, last play")
    monitor.add_argument("--json", action="store_true")
    monitor.set_defaults(func=cmd_monitor)
