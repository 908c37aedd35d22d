"""``commune-radio items``: the items in the store and their state, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from appliance.commands import load_config
from appliance.state.store import Store, item_is_expired, utc_now_iso

_STATE_VI = {"waiting_media": "chờ tệp", "ready": "sẵn sàng", "revoked": "thu hồi", "rejected": "từ chối",
             "expired": "hết hạn"}
_PRIORITY_VI = {"normal": "thường", "priority": "ưu tiên", "emergency": "khẩn cấp"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="in JSON / as JSON")
    parser.add_argument("--state", choices=sorted(_STATE_VI), help="chỉ trạng thái này / only this state")


def display_state(item: dict[str, Any], now: str) -> str:
    """The state an operator cares about: a ready item past its validity shows as expired."""
    if item["state"] in ("ready", "waiting_media") and item_is_expired(item, now):
        return "expired"
    return item["state"]


def _local(stamp: str | None, zone: ZoneInfo) -> str:
    if not stamp:
        return "…"
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _fit(text: str, width: int) -> str:
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def table(items: list[dict[str, Any]], now: str, zone: ZoneInfo, lang: str) -> list[str]:
    en = lang == "en"
    head = (["id", "ver", "kind", "priority", "state", "valid (local time)", "title"] if en else
            ["mã", "pb", "loại", "mức", "trạng thái", "hiệu lực (giờ địa phương)", "tiêu đề"])
    rows = []
    for item in items:
        state = display_state(item, now)
        rows.append([
            _fit(item["id"], 24), str(item["version"]), item["kind"],
            item["priority"] if en else _PRIORITY_VI.get(item["priority"], item["priority"]),
            (state if en else _STATE_VI.get(state, state))
            + (f" ({item['reject_reason']})" if state == "rejected" and item.get("reject_reason") else "")
            + ((", schedule refused" if en else ", lịch bị từ chối") if item.get("schedule_refusal") else ""),
            f"{_local(item['valid_from'], zone)} → {_local(item['valid_until'], zone)}",
            _fit(item["title"], 48),
        ])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, ["-" * w for w in widths], *rows]]
    if not rows:
        lines.append("(no items)" if en else "(chưa có bản tin)")
    refused = [i for i in items if i.get("schedule_refusal")]
    if refused:
        lines.append("")
        lines.append("Refused schedules (these items never play on their own):" if en
                     else "Lịch bị từ chối (các bản tin này không tự phát theo lịch):")
        for item in refused:
            lines.append(f"  {item['id']}: {item['schedule_refusal'].get('en' if en else 'vi', '')}")
    return lines


def run(args: argparse.Namespace) -> int:
    config = load_config(args)
    now = utc_now_iso()
    with Store.open(config.db_path) as store:
        items = store.list_items()
    if args.state:
        items = [i for i in items if display_state(i, now) == args.state]
    if args.json:
        for item in items:
            item["display_state"] = display_state(item, now)
            item.pop("document", None)
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    print("\n".join(table(items, now, ZoneInfo(config.device.timezone), args.lang)))
    return 0
