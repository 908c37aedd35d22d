"""Facts about the host for the heartbeat: disk, CPU temperature and load, memory, boot id, uptime.

Each reads Linux's /proc and /sys and falls back quietly where a file is missing (a test
machine, a container), so a heartbeat is always sent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return None


def read_boot_id() -> str:
    return (_read("/proc/sys/kernel/random/boot_id") or "").strip() or "unknown-" + uuid.uuid4().hex[:8]


def system_facts(data_dir: Path) -> dict[str, Any]:
    """Disk, CPU and memory facts from the OS; each falls back quietly where not available."""
    facts: dict[str, Any] = {"disk_free": 0, "disk_total": 0, "temp_c": None, "load_1m": 0.0,
                             "mem_available": 0, "mem_total": 0, "uptime_s": 0}
    with contextlib.suppress(OSError):
        usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
        facts["disk_free"], facts["disk_total"] = usage.free, usage.total
    with contextlib.suppress(OSError, AttributeError):
        facts["load_1m"] = round(os.getloadavg()[0], 2)
    temp = _read("/sys/class/thermal/thermal_zone0/temp")
    if temp and temp.strip().lstrip("-").isdigit():
        facts["temp_c"] = round(int(temp.strip()) / 1000, 1)
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            if name == "MemTotal":
                facts["mem_total"] = int(parts[0]) * 1024
            elif name == "MemAvailable":
                facts["mem_available"] = int(parts[0]) * 1024
    uptime = _read("/proc/uptime")
    if uptime:
        with contextlib.suppress(ValueError, IndexError):
            facts["uptime_s"] = int(float(uptime.split()[0]))
    return facts
