"""This process's footprint from /proc: bytes written to storage, resident memory, CPU time.

``write_bytes`` in /proc/<pid>/io counts bytes sent to the block layer (what wears an SD card),
not bytes passed to write(): a write that lands in a file later deleted before writeback may
never count, and a page written twice counts once per writeback.
"""

from __future__ import annotations

import os
from pathlib import Path


def io_counters(pid: int | str = "self") -> dict[str, int]:
    """``/proc/<pid>/io`` as integers (empty when the kernel or permissions hide it)."""
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            out[key.strip()] = int(value)
    return out


def rss_bytes(pid: int | str = "self") -> int | None:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU time of the process (all threads)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers, a test server's children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def snapshot(pid: int | str = "self") -> dict[str, float | int | None]:
    io = io_counters(pid)
    return {"write_bytes": io.get("write_bytes"), "read_bytes": io.get("read_bytes"),
            "rss_bytes": rss_bytes(pid), "cpu_seconds": cpu_seconds(pid)}
