"""Live voice: mouth-to-output latency on loopback, and the daemon's CPU while live.

The whole browser path except the browser itself: a client sends 50 ms chunks of 16 kHz PCM
by HTTP POST to the panel (waitress on loopback), which passes them to the daemon (a real
``commune-radio run`` subprocess) over the control socket; the daemon feeds libVLC through a
FIFO into its WAV capture output. Every ``--spacing`` seconds a chunk starts with a 20 ms tone
burst; its "mouth" time is when that chunk began to be recorded (a browser's AudioWorklet
sends a chunk once it is full, 50 ms later). A watcher reads the capture file as libVLC writes
it and notes when each burst appears: latency = appearance − mouth. The daemon's CPU is its
utime+stime (from /proc) over the live part, as a share of one core.

    .venv/bin/python bench/live.py [--seconds 40] [--spacing 1.2]

What this does not include: the phone's own capture and network (Wi-Fi adds ~5-50 ms), and the
sound card's buffer on a Pi (ALSA output adds its period/buffer, ~20-100 ms, instead of the
capture file).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from appliance.panel.accounts import Accounts  # noqa: E402
from appliance.panel.serve import serve_in_thread  # noqa: E402
from appliance.state import config as config_module  # noqa: E402
from appliance.state.store import Store  # noqa: E402
from tests.support.daemon_proc import DaemonProcess  # noqa: E402

RATE = 16_000
CHUNK = 800                  # samples: 50 ms
BURST = 320                  # samples: 20 ms at 1 kHz
PASSWORD = "mật khẩu đo đạc 2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def chunk(burst: bool, n: int) -> bytes:
    samples = [0] * CHUNK
    for i in range(CHUNK):    # a faint hiss: the session must not stop for digital silence
        samples[i] = ((n * 7919 + i * 104729) % 61) - 30
    if burst:
        for i in range(BURST):
            samples[i] = int(16000 * math.sin(2 * math.pi * 1000 * i / RATE))
    return struct.pack(f"<{CHUNK}h", *samples)


class Watcher(threading.Thread):
    """Reads the capture file as libVLC writes it; notes when each burst's first sample lands."""

    def __init__(self, capture_dir: Path) -> None:
        super().__init__(daemon=True)
        self.capture_dir = capture_dir
        self.onsets: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        path = None
        while path is None and not self.stop.is_set():
            parts = sorted(self.capture_dir.glob(".part-*.wav"))
            path = parts[-1] if parts else None
            time.sleep(0.005)
        if path is None:
            return
        with open(path, "rb") as handle:
            header = b""
            while len(header) < 44 and not self.stop.is_set():
                header += handle.read(44 - len(header))
                time.sleep(0.002)
            channels, _, _, _, bits = struct.unpack_from("<HIIHH", header, 22)
            width = bits // 8
            frame = width * channels
            loud = 0.25 if width == 4 else 8000
            quiet_for, pending = 1000, b""
            while not self.stop.is_set():
                data = handle.read(65536)
                now = time.monotonic()
                if not data:
                    time.sleep(0.002)
                    continue
                pending += data
                usable = len(pending) - len(pending) % frame
                block, pending = pending[:usable], pending[usable:]
                fmt = "f" if width == 4 else "h"
                values = struct.unpack(f"<{usable // width}{fmt}", block)[::channels]
                for v in values:
                    if abs(v) > loud:
                        if quiet_for > RATE // 4:     # a new burst after a quarter second of quiet
                            self.onsets.append(now)
                        quiet_for = 0
                    else:
                        quiet_for += 1


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--spacing", type=float, default=1.2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-live-"))
    daemon = DaemonProcess(root, watchdog_usec=None, notify=False, config_extra="\n[live]\nchime = false\n")
    panel = None
    try:
        daemon.wait_event(lambda e: e.get("type") == "ready", timeout=60)
        config = config_module.load(str(daemon.config))
        store = Store.open(config.db_path)
        Accounts(store).create_user("bench", PASSWORD, "operator")
        store.close()
        panel = serve_in_thread(config, threads=4)
        http = requests.Session()
        token = _CSRF.search(http.get(panel.url + "login").text).group(1)
        http.post(panel.url + "login", data={"csrf_token": token, "username": "bench", "password": PASSWORD})
        csrf = _CSRF.search(http.get(panel.url + "live").text).group(1)
        headers = {"X-CSRFToken": csrf}
        time.sleep(2.0)
        idle_cpu0, idle_t0 = cpu_seconds(daemon.proc.pid), time.monotonic()
        time.sleep(5.0)
        idle_pct = 100 * (cpu_seconds(daemon.proc.pid) - idle_cpu0) / (time.monotonic() - idle_t0)

        started = http.post(panel.url + "live/start", json={"source": "browser"}, headers=headers).json()
        session_id = started["session_id"]
        watcher = Watcher(config.capture_path)
        watcher.start()
        marks: list[float] = []
        on_air_at: list[float] = []
        post_ms: list[float] = []
        begun = time.monotonic()
        next_mark = None
        cpu0 = t0 = None
        n = 0
        while True:
            chunk_began = begun + n * CHUNK / RATE      # when this chunk's first sample was "spoken"
            wait = chunk_began + CHUNK / RATE - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not on_air_at and daemon.events_of("live_on_air"):
                on_air_at.append(time.monotonic())
                next_mark = time.monotonic() + 1.0
                cpu0, t0 = cpu_seconds(daemon.proc.pid), time.monotonic()
            burst = next_mark is not None and chunk_began >= next_mark
            if burst:
                marks.append(chunk_began)
                next_mark = chunk_began + args.spacing
            sent = time.monotonic()
            answer = http.post(f"{panel.url}live/chunk?session={session_id}", data=chunk(burst, n), headers=headers)
            post_ms.append((time.monotonic() - sent) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"chunk refused: {answer.status_code} {answer.text[:200]}")
            n += 1
            if on_air_at and time.monotonic() - on_air_at[0] > args.seconds:
                break
        live_cpu = cpu_seconds(daemon.proc.pid) - (cpu0 or 0.0)
        live_wall = time.monotonic() - (t0 or time.monotonic())
        time.sleep(1.0)
        http.post(panel.url + "live/stop", json={"session_id": session_id}, headers=headers)
        ended = daemon.wait_event(lambda e: e.get("type") == "live_end", timeout=20)
        print("feed:", {k: ended.get(k) for k in ("underruns", "jitter_dropped_bytes", "player_dropped_bytes")})
        watcher.stop.set()
        watcher.join(5)
        latencies = []
        for onset in watcher.onsets:
            before = [m for m in marks if m < onset and onset - m < args.spacing]
            if before:
                latencies.append((onset - before[-1]) * 1000)
        if len(latencies) < 5:
            raise SystemExit(f"too few bursts found: {len(latencies)} of {len(marks)}")
        print("latency of each burst, in order (ms):", " ".join(f"{v:.0f}" for v in latencies))
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)]
        cpu_pct = 100 * live_cpu / live_wall
        post_ms.sort()
        print("Live voice on loopback: client → panel (HTTP POST, 50 ms chunks) → control socket → daemon → "
              "libVLC (FIFO) → WAV capture")
        print(f"{'measure':<44}{'value':>12}")
        print(f"{'bursts sent / found':<44}{len(marks):>6} / {len(latencies):<5}")
        print(f"{'latency min (ms)':<44}{latencies[0]:>12.0f}")
        print(f"{'latency p50 (ms)':<44}{p50:>12.0f}")
        print(f"{'latency p95 (ms)':<44}{p95:>12.0f}")
        print(f"{'latency max (ms)':<44}{latencies[-1]:>12.0f}")
        print(f"{'chunk POST round trip p50 / p95 (ms)':<44}{statistics.median(post_ms):>6.1f} / "
              f"{post_ms[int(0.95 * (len(post_ms) - 1))]:.1f}")
        print(f"{'daemon CPU idle (% of one core)':<44}{idle_pct:>12.1f}")
        print(f"{'daemon CPU while live (% of one core)':<44}{cpu_pct:>12.1f}")
        print(f"RESULT latency_p50_ms={p50:.0f} latency_p95_ms={p95:.0f} daemon_cpu_pct={cpu_pct:.1f}")
        return 0
    finally:
        if panel is not None:
            panel.stop()
        daemon.terminate(30)
        daemon.close()


if __name__ == "__main__":
    sys.exit(main())
