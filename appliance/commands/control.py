"""``commune-radio status | play | stop | emergency | volume | relay-reset``: ask the daemon over the control socket."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from appliance.commands import load_config


def configure(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "status":
        parser.add_argument("--json", action="store_true", help="in JSON / as JSON")
    elif name == "play":
        parser.add_argument("item", help="mã bản tin / item id")
        parser.add_argument("--zone", action="append", dest="zones", help="vùng (lặp lại được) / zone (repeatable)")
    elif name == "emergency":
        parser.add_argument("text", nargs="?", help="văn bản đọc khẩn cấp / text to speak")
        parser.add_argument("--item", help="phát bản tin này thay cho văn bản / play this item instead of text")
        parser.add_argument("--zone", action="append", dest="zones", help="vùng (lặp lại được) / zone (repeatable)")
    elif name == "volume":
        parser.add_argument("level", type=int, help="0-100")
    elif name == "relay-reset":
        parser.add_argument("--zone", action="append", dest="zones", help="vùng (mặc định: mọi vùng) / zone (default: all)")
    parser.set_defaults(control_action=name)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def run(args: argparse.Namespace) -> int:
    from appliance.control import ControlClient
    from protocol.errors import ValidationError

    config = load_config(args)
    client = ControlClient(config.socket_path, timeout=30.0)
    action = args.control_action
    en = args.lang == "en"
    if action == "status":
        from appliance import health

        # Health is evaluated even when the daemon is down (then it is the answer: failing).
        checked, status = health.gather(config, client=client)
        if args.json:
            print(json.dumps((status or {}) | {"health": checked.as_dict()}, ensure_ascii=False, indent=2))
        else:
            if status is not None:
                print(format_status(status, en=en))
            print(health.format_health(checked, en=en))
        return 0 if status is not None else 2
    if action == "play":
        result = client.request("play", actor=cli_actor(), item_id=args.item, zones=args.zones)
    elif action == "stop":
        result = client.request("stop", actor=cli_actor())
    elif action == "emergency":
        if (args.text is None) == (args.item is None):
            raise ValidationError("Hãy đưa văn bản khẩn cấp hoặc --item, không cả hai.",
                                  "Give the emergency text or --item, not both.")
        result = client.request("emergency", actor=cli_actor(), text=args.text, item_id=args.item, zones=args.zones)
    elif action == "volume":
        result = client.request("set_volume", actor=cli_actor(), volume=args.level)
    elif action == "relay-reset":
        result = client.request("relay_reset", actor=cli_actor(), zones=args.zones)
    else:  # pragma: no cover - argparse only routes the names above here
        raise SystemExit(2)
    message = result.get("message", {})
    print(message.get("en" if en else "vi") or json.dumps(result, ensure_ascii=False))
    return 0


def _yes(value: bool, en: bool) -> str:
    return ("yes" if value else "no") if en else ("có" if value else "không")


def format_status(status: dict[str, Any], *, en: bool = False) -> str:
    """A short human table of the daemon status."""
    t = (lambda e, v: e) if en else (lambda e, v: v)
    lines: list[str] = []
    on_air = status.get("on_air")
    if on_air:
        lines.append(f"{t('On air', 'Đang phát')}: {on_air.get('title') or on_air['item_id']} "
                     f"[{on_air['trigger']}] {t('zones', 'vùng')} {', '.join(on_air['zones'])} "
                     f"{t('since', 'từ')} {on_air.get('started_at')}")
    else:
        lines.append(f"{t('On air', 'Đang phát')}: -")
    clock = status.get("clock", {})
    reason = clock.get("reason", {}).get("en" if en else "vi", "")
    lines.append(f"{t('Clock trusted', 'Đồng hồ tin cậy')}: {_yes(bool(clock.get('trusted')), en)} "
                 f"({clock.get('source')}) {reason}")
    if status.get("held"):
        lines.append(t("Scheduled playback is HELD until the clock is trusted.",
                       "Lịch phát đang TẠM GIỮ cho tới khi đồng hồ tin cậy."))
    lines.append(f"{t('Volume', 'Âm lượng')}: {status.get('volume')}")
    power = status.get("power")
    if isinstance(power, dict):
        mains = {"present": t("mains", "có điện lưới"), "lost": t("ON BATTERY (mains lost)", "ĐANG CHẠY ẮC QUY (mất điện lưới)"),
                 }.get(str(power.get("mains")), t("no mains-sense input", "không có đầu vào báo điện lưới"))
        since = f" {t('since', 'từ')} {power['since']}" if power.get("since") and power.get("mains") != "unknown" else ""
        flags = power.get("flags")
        extra = [t("under-voltage", "sụt áp")] if power.get("under_voltage") else []
        extra += [t("throttled", "giảm tốc độ")] if power.get("throttled") else []
        word = f", get_throttled {flags['hex']}" if isinstance(flags, dict) else ""
        lines.append(f"{t('Power', 'Nguồn điện')}: {mains}{since}{'; ' + ', '.join(extra) if extra else ''}{word}")
        if power.get("saving_battery"):
            lines.append(t("Saving the battery: only emergency and priority items play.",
                           "Đang tiết kiệm ắc quy: chỉ phát bản tin khẩn cấp và ưu tiên."))
    sync = status.get("last_sync") or {}
    lines.append(f"{t('Last sync', 'Đồng bộ gần nhất')}: {sync.get('last_success_at') or '-'}")
    lines.append(f"{t('Zone', 'Vùng'):<16}{t('Relay', 'Rơ-le'):<8}{t('Fault', 'Lỗi'):<8}")
    for name, relay in (status.get("relays") or {}).items():
        fault = relay.get("fault")
        fault_text = "-" if fault is None else _yes(bool(fault), en)
        state = "ON" if relay.get("on") else "off"
        if relay.get("watchdog_tripped"):
            state += " (watchdog)"
        lines.append(f"{name:<16}{state:<8}{fault_text:<8}")
    upcoming = status.get("next") or []
    lines.append(f"{t('Next', 'Sắp phát')}:")
    for entry in upcoming[:10]:
        lines.append(f"  {entry.get('start')}  {entry.get('title') or entry.get('item_id')}  "
                     f"[{', '.join(entry.get('zones', []))}]")
    if not upcoming:
        lines.append("  -")
    refused = status.get("refused_slots") or []
    if refused:
        lines.append(f"{t('Refused schedules (never played)', 'Lịch bị từ chối (không phát)')}:")
        for entry in refused[:10]:
            lines.append(f"  {entry.get('item_id')}: {entry.get('en' if en else 'vi')}")
    counts = status.get("counts") or {}
    if counts:
        lines.append(f"{t('Counts', 'Số liệu')}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    problems = status.get("problems") or []
    if problems:
        lines.append(f"{t('Problems now', 'Sự cố đang xảy ra')}:")
        for problem in problems:
            lines.append(f"  {problem.get('since')} {problem.get('code')}: {problem.get('en' if en else 'vi')}")
    if status.get("settings"):
        from appliance.commands.check_config import format_sources

        lines.extend(format_sources(status["settings"], en=en))
    errors = status.get("recent_errors") or []
    if errors:
        lines.append(f"{t('Recent errors', 'Lỗi gần đây')}:")
        for err in errors[:5]:
            lines.append(f"  {err.get('at')} {err.get('kind')}: {err.get('message')}")
    return "\n".join(lines)
