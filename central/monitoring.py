"""Central's rules about a device's health (pure: plain data in, an explicit ``now``).

``device_status`` decides online / offline (1.5 heartbeat intervals without one) and the
problems shown (clock untrusted, disk low, amplifier fault); ``offline_at`` is the moment a
heartbeat received now stops counting (stored, indexed, so "who is offline" is a range scan);
``heartbeat_problems`` are the problem labels a heartbeat shows. What a device sends is checked
by ``protocol.reports``; ``central.monitor`` stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import protocol

DEFAULT_INTERVAL_S = 60
OFFLINE_AFTER_INTERVALS = 1.5
DISK_LOW_BYTES = 500_000_000
DISK_LOW_RATIO = 0.05
# What the fleet table's one word shows first: the worst problem of an online device.
LABEL_ORDER = ("amplifier_fault", "on_battery", "under_voltage", "disk_low", "throttled", "clock_untrusted")
# The station's own problem codes (its ``problems``) that name what ``power`` already says.
_STATION_POWER_CODES = {"power.on_battery": "on_battery", "power.under_voltage": "under_voltage",
                        "power.throttled": "throttled"}
PROBLEM_LABELS = {
    "clock_untrusted": ("Đồng hồ chưa tin cậy", "clock not trusted"),
    "disk_low": ("Thẻ nhớ sắp đầy", "disk low"),
    "amplifier_fault": ("Lỗi ampli", "amplifier fault"),
    "on_battery": ("Mất điện lưới, đang chạy ắc quy", "on battery (mains lost)"),
    "under_voltage": ("Sụt áp nguồn cấp", "under-voltage"),
    "throttled": ("Pi bị giảm tốc độ", "throttled"),
}

@dataclass(frozen=True)
class DeviceStatus:
    state: str                       # 'online' | 'offline' | 'never_seen'
    problems: tuple[str, ...]        # LABEL_ORDER's codes, then the station's own problem codes
    last_seen_at: str | None
    seconds_since: float | None

    @property
    def label(self) -> str:
        """The one word the fleet table shows: offline first, then the worst problem."""
        if self.state != "online":
            return self.state
        for problem in LABEL_ORDER:
            if problem in self.problems:
                return problem
        return "online"


def device_status(*, now: datetime, last_seen_at: str | None, interval_s: int | None,
                  heartbeat: Mapping[str, Any] | None, disk_low_bytes: int = DISK_LOW_BYTES,
                  disk_low_ratio: float = DISK_LOW_RATIO) -> DeviceStatus:
    """Online means a heartbeat within 1.5 intervals of ``now`` (central's clock)."""
    if last_seen_at is None:
        return DeviceStatus("never_seen", (), None, None)
    since = (now - protocol.parse_utc(last_seen_at)).total_seconds()
    period = interval_s or DEFAULT_INTERVAL_S
    state = "online" if since <= OFFLINE_AFTER_INTERVALS * period else "offline"
    problems = heartbeat_problems(heartbeat, disk_low_bytes=disk_low_bytes, disk_low_ratio=disk_low_ratio)
    return DeviceStatus(state, problems, last_seen_at, round(since, 1))


def heartbeat_problems(heartbeat: Mapping[str, Any] | None, *, disk_low_bytes: int = DISK_LOW_BYTES,
                       disk_low_ratio: float = DISK_LOW_RATIO) -> tuple[str, ...]:
    """The problems a heartbeat shows, in the order the fleet table ranks them last to first."""
    problems: list[str] = []
    hb = heartbeat or {}
    if not (hb.get("clock") or {}).get("trusted", True):
        problems.append("clock_untrusted")
    disk = hb.get("disk") or {}
    free, total = disk.get("free_bytes"), disk.get("total_bytes")
    if isinstance(free, int) and isinstance(total, int) and (
            free < disk_low_bytes or (total > 0 and free / total < disk_low_ratio)):
        problems.append("disk_low")
    if hb.get("amp_faults") or any(str(e).startswith("hardware") for e in hb.get("last_errors") or ()):
        problems.append("amplifier_fault")
    power = hb.get("power") if isinstance(hb.get("power"), Mapping) else {}
    if power.get("mains") == "lost":
        problems.append("on_battery")
    if power.get("under_voltage") is True:
        problems.append("under_voltage")
    if power.get("throttled") is True:
        problems.append("throttled")
    # What the station itself reports as going on now (a silent relay, a recovered store, …).
    for code in (str(p) for p in hb.get("problems") or ()):
        code = _STATION_POWER_CODES.get(code, code)
        if code not in problems:
            problems.append(code)
    return tuple(problems)


def problem_label(code: str, language: str = "vi") -> str:
    """How a problem code reads for people (Vietnamese first); unknown codes as they are."""
    vi, en = PROBLEM_LABELS.get(code, (code, code))
    return en if language == "en" else vi


def heartbeat_interval(heartbeat: Mapping[str, Any]) -> int:
    """The period the device announced (protocol §10), or the default."""
    value = heartbeat.get("heartbeat_interval_s")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_INTERVAL_S


def offline_at(received_at: datetime, interval_s: int) -> datetime:
    """When a device whose heartbeat arrived at ``received_at`` counts as offline: after this."""
    return received_at + timedelta(seconds=OFFLINE_AFTER_INTERVALS * interval_s)
