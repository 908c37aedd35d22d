"""``commune-radio health``: is the station healthy? Exit 0 ok, 1 degraded (warnings), 2 failing.

Works when the daemon is down (that is a failing check, not an error). ``--critical-only`` exits
0 on warnings (clock untrusted, sync stale): what an update waits for, since an offline
station must not roll back for being offline. ``--expect-version`` also requires that version
to be the one running. ``--metrics`` prints the Prometheus text instead.
"""

from __future__ import annotations

import argparse
import json

from appliance.commands import load_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="in JSON / as JSON")
    parser.add_argument("--metrics", action="store_true", help="in dạng Prometheus / Prometheus text format")
    parser.add_argument("--critical-only", action="store_true",
                        help="chỉ lỗi nghiêm trọng mới trả mã khác 0 / only critical failures give a non-zero exit")
    parser.add_argument("--expect-version", help="phiên bản phải đang chạy / version that must be running")
    parser.add_argument("--timeout", type=float, default=5.0, help="giây chờ daemon / seconds to wait for the daemon")
    parser.add_argument("--quiet", action="store_true", help="không in gì / print nothing")


def run(args: argparse.Namespace) -> int:
    from appliance import health

    config = load_config(args)
    result, status = health.gather(config, expect_version=args.expect_version, timeout_s=args.timeout)
    if args.metrics:
        print(health.render_metrics(status, result, device_id=config.device.id), end="")
    elif args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    elif not args.quiet:
        print(health.format_health(result, en=args.lang == "en"))
    if args.critical_only:
        return 2 if result.status == "failing" else 0
    return result.exit_code
