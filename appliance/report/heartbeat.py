"""The heartbeat document (protocol §10), built from plain facts and fitted into 2 KB (pure).

``protocol.reports.validate_heartbeat`` is what central accepts; the tests hold every
document built here to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import protocol
from appliance.version import __version__

_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def error_code(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    cleaned = "".join(c if c.isalnum() or c in "_.:-" else "_" for c in text.lower())[:64]
    return cleaned if _CODE_RE.match(cleaned) else None


def build_heartbeat(*, device_id: str, sent_at: str, boot_id: str, uptime_s: int, clock: Mapping[str, Any],
                    timezone: str, system: Mapping[str, Any], live: Mapping[str, Any], last_sync: Mapping[str, Any],
                    outbox_depth: int, rejected_count: int, last_errors: Sequence[str],
                    command_results: Sequence[Mapping[str, Any]], interval_s: int,
                    software_version: str = __version__, voice: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The heartbeat document (protocol §10) from plain facts."""
    playing = live.get("playing")
    extras: dict[str, Any] = {}
    if voice:
        extras["voice"] = {"engine": str(voice.get("engine", ""))[:16], "id": str(voice.get("id", ""))[:64]}
    power = power_member(live.get("power"))
    if power is not None:
        extras["power"] = power
    return extras | {
        "device_id": device_id,
        "sent_at": sent_at,
        "software_version": software_version[:32],
        "boot_id": boot_id[:64],
        "uptime_s": max(0, int(uptime_s)),
        "clock": {"trusted": bool(clock.get("trusted")), "offset_s": clock.get("offset_s"),
                  "source": clock.get("source") if clock.get("source") in ("ntp", "rtc", "central") else "none"},
        "timezone": timezone,
        "disk": {"free_bytes": int(system.get("disk_free", 0)), "total_bytes": int(system.get("disk_total", 0))},
        "cpu": {"temp_c": system.get("temp_c"), "load_1m": float(system.get("load_1m", 0.0))},
        "memory": {"available_bytes": int(system.get("mem_available", 0)),
                   "total_bytes": int(system.get("mem_total", 0))},
        "playing": ({"item_id": str(playing["item_id"])[:200], "zones": list(playing.get("zones") or [])}
                    if isinstance(playing, Mapping) and playing.get("item_id") else None),
        "relays": {str(k): bool(v) for k, v in (live.get("relays") or {}).items()},
        "volume": max(0, min(100, int(live.get("volume", 0)))),
        "last_sync": dict(last_sync),
        "outbox_depth": max(0, int(outbox_depth)),
        "rejected_count": max(0, int(rejected_count)),
        "last_errors": [c for c in (error_code(e) for e in last_errors) if c][-10:],
        "command_results": [{k: r[k] for k in ("id", "status", "error", "at")} for r in command_results],
        "heartbeat_interval_s": int(interval_s),
        "amp_faults": sorted(str(z) for z in live.get("amp_faults") or ()),
        "problems": [c for c in (error_code(p) for p in live.get("problems") or ()) if c][:10],
    }


def power_member(status: Any) -> dict[str, Any] | None:
    """The heartbeat's ``power`` (protocol §10) from the daemon's power status; None without one."""
    if not isinstance(status, Mapping):
        return None
    mains = status.get("mains") if status.get("mains") in ("present", "lost", "unknown") else "unknown"
    flags = status.get("flags")
    raw = flags.get("raw") if isinstance(flags, Mapping) else None
    since = status.get("since")
    return {"mains": mains, "since": since if mains != "unknown" and isinstance(since, str) else None,
            "under_voltage": bool(status.get("under_voltage")), "throttled": bool(status.get("throttled")),
            "flags": raw if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 0xFFFFFFFF else None}


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit_heartbeat(doc: dict[str, Any], max_bytes: int = protocol.HEARTBEAT_MAX_BYTES) -> tuple[bytes, dict[str, Any]]:
    """Encode within ``max_bytes``: drop last_errors (oldest first), then command results
    (newest kept), then the optional extras; returns the bytes and the document sent."""
    doc = dict(doc)
    doc["last_errors"] = list(doc.get("last_errors", []))
    doc["command_results"] = list(doc.get("command_results", []))
    data = encode(doc)
    while len(data) > max_bytes and doc["last_errors"]:
        doc["last_errors"].pop(0)
        data = encode(doc)
    while len(data) > max_bytes and doc["command_results"]:
        doc["command_results"].pop()   # the newest wait for the next heartbeat; the oldest go first
        data = encode(doc)
    for optional in ("amp_faults", "voice", "heartbeat_interval_s", "problems", "power"):
        if len(data) > max_bytes and optional in doc:
            doc.pop(optional)
            data = encode(doc)
    if len(data) > max_bytes and doc.get("playing"):
        doc["playing"] = {"item_id": doc["playing"]["item_id"][:64], "zones": doc["playing"]["zones"][:4]}
        data = encode(doc)
    while len(data) > max_bytes and doc["relays"]:
        doc["relays"].pop(sorted(doc["relays"])[-1])
        data = encode(doc)
    return data, doc
