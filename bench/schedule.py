"""Benchmark: how punctually the real daemon starts audio, compared with the `schedule` library.

Runs the real daemon (``commune-radio run`` as a subprocess: libVLC capture output, gpiozero
mock pins) with 100 one-off slots 1-2 s apart (short spoken clips), and in the same run the
`schedule` library's documented loop (``run_pending(); time.sleep(1)``) on the same slot
times. Then: emergency from request to relay-on and to first audio, idle CPU over 60 s and
resident memory of the daemon process.

Start error of the daemon = first audio (libVLC's playing event, logged in play_log) minus
the slot time. Start error of the baseline = when its job ran minus the slot time.

Usage: .venv/bin/python bench/schedule.py [--slots 100] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# This file is named schedule.py: make sure `import schedule` finds the library, not us.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import schedule as schedule_lib  # noqa: E402

from appliance.broadcast.slots import SlotRepository  # noqa: E402
from appliance.control import ControlClient  # noqa: E402
from appliance.state import config as config_module  # noqa: E402
from appliance.state.store import Store, utc_now_iso  # noqa: E402

WARMUP_MS = 300
WARMUP_PLAYS = 5       # the first plays are excluded (libVLC and page-cache warm-up)
EMERGENCIES = 5
LEAD_S = 20.0          # time between daemon start and the first slot


def _config_text(data_dir: Path) -> str:
    zones = "".join(f"""
[[zones]]
name = "{name}"
relay_pin = {pin}
warmup_ms = {WARMUP_MS}
cooldown_ms = 200
""" for name, pin in (("trung-tam", 17), ("thon-dong", 27)))
    return f"""
[device]
data_dir = "{data_dir}"
[audio]
output = "capture"
chime = false
[schedule]
default_windows = ["00:00-00:00"]
min_interval_minutes = 1
grace_minutes = 1
{zones}"""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Events:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all: list[dict[str, Any]] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.all.append(event)
            self.queue.put(event)

    def wait(self, kind: str, timeout: float, **match: Any) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        return None


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_baseline(times: list[float], errors: list[float], done: threading.Event) -> None:
    """The `schedule` library's documented loop on the same (whole-second) slot times."""
    scheduler = schedule_lib.Scheduler()

    def job(slot_ts: float) -> Any:
        errors.append((time.time() - slot_ts) * 1000)
        return schedule_lib.CancelJob

    for ts in times:
        scheduler.every().day.at(datetime.fromtimestamp(ts).strftime("%H:%M:%S")).do(job, ts)
    while not done.is_set() and scheduler.jobs:
        scheduler.run_pending()
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measurement")
    args = parser.parse_args()
    rng = random.Random(7)

    work = Path(tempfile.mkdtemp(prefix="bench-schedule-"))
    data = work / "data"
    config_path = work / "appliance.toml"
    config_path.write_text(_config_text(data), encoding="utf-8")
    config = config_module.load(config_path, env={})
    flag = work / "synchronized"
    flag.write_text("")

    # Prepare the clips first (the daemon prepares ahead of the slot; here the cache is warm).
    from audio.prepare import Preparer

    # One short word per slot (clips shorter than the 1 s gap, so no item queues behind another).
    texts = ["Alô." for _ in range(args.slots)] + ["Khẩn cấp, bà con chú ý."]
    t0 = time.monotonic()
    with Preparer(config) as preparer:
        durations = [preparer.prepare_text(t).duration_s for t in texts]
    print(f"prepared {len(texts)} clips in {time.monotonic() - t0:.1f} s "
          f"(clip length {min(durations):.2f}-{max(durations):.2f} s)")

    # Slot times: whole seconds (the `schedule` library cannot express less), 1-2 s apart.
    first = int(time.time() + LEAD_S) + 1
    times, ts = [], float(first)
    for _ in range(args.slots):
        times.append(ts)
        ts += rng.choice((1.0, 2.0))
    with Store.open(config.db_path) as store:
        repo = SlotRepository(store, config)
        now = utc_now_iso()
        for i, slot_ts in enumerate(times):
            with store.transaction() as tx:
                tx.execute("INSERT INTO items (id, version, kind, title, text, priority, zones, state, source,"
                           " received_at, updated_at) VALUES (?, 1, 'text', ?, ?, 'normal', ?, 'ready', 'local', ?, ?)",
                           (f"b{i:03d}", f"b{i:03d}", texts[i], json.dumps(["trung-tam"] if i % 2 else ["thon-dong"]),
                            now, now))
            repo.add({"item_id": f"b{i:03d}", "kind": "once", "starts": [_iso(slot_ts)]}, actor="bench:schedule")

    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", COMMUNE_RADIO_TIMESYNC_FLAG=str(flag), PYTHONUNBUFFERED="1")
    spawned = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "--config", str(config_path), "run", "--events",
                             "--no-sync"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    events = Events(proc)
    try:
        ready = events.wait("ready", 30)
        if ready is None:
            print("daemon did not become ready", file=sys.stderr)
            return 1
        ready_s = time.monotonic() - spawned
        print(f"daemon ready in {ready_s:.2f} s (self-reported {ready['ready_s']:.2f} s); "
              f"{args.slots} slots from {_iso(times[0])} to {_iso(times[-1])}")

        baseline_errors: list[float] = []
        stop_baseline = threading.Event()
        baseline = threading.Thread(target=run_baseline, args=(times, baseline_errors, stop_baseline), daemon=True)
        baseline.start()
        time.sleep(max(0.0, times[-1] - time.time() + 4.0))
        baseline.join(timeout=5)
        stop_baseline.set()

        with sqlite3.connect(config.db_path) as conn:
            rows = conn.execute("SELECT item_id, scheduled_start, actual_start, outcome FROM play_log"
                                " WHERE trigger = 'schedule' ORDER BY scheduled_start").fetchall()
        played = [r for r in rows if r[2] and r[3] == "completed"]
        errors = [(_ts(r[2]) - _ts(r[1])) * 1000 for r in played][WARMUP_PLAYS:]
        if os.environ.get("BENCH_VERBOSE"):
            print("start errors (ms):", [round(e) for e in errors])
        outcomes = {o: sum(1 for r in rows if r[3] == o) for o in ("completed", "interrupted", "failed", "skipped")}

        # Emergency: request -> relay on -> first audio (the relays are idle and off here).
        time.sleep(2)
        client = ControlClient(config.socket_path)
        relay_ms, audio_ms = [], []
        for _ in range(EMERGENCIES):
            while events.queue.qsize():
                events.queue.get_nowait()
            requested = time.time()
            result = client.request("emergency", actor="bench:schedule", text=texts[-1], zones=["trung-tam"])
            on = events.wait("relay", 10, zone="trung-tam", on=True)
            end = events.wait("play_end", 30, item_id=result["item_id"])
            if on is None or end is None or not end.get("actual_start"):
                print("emergency did not play", file=sys.stderr)
                continue
            relay_ms.append((_ts(on["at"]) - requested) * 1000)
            audio_ms.append((_ts(end["actual_start"]) - requested) * 1000)
            time.sleep(1.5)

        # Idle: nothing scheduled any more.
        time.sleep(3)
        cpu0, wall0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu_pct = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0) * 100
        rss = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    p50, p99 = _pct(errors, 50), _pct(errors, 99)
    base_p50, base_p99 = _pct(baseline_errors, 50), _pct(baseline_errors, 99)
    em_relay, em_audio = statistics.median(relay_ms), statistics.median(audio_ms)
    rows_out = [
        ("slots", f"{args.slots}", f"{len(played)} played, {outcomes}"),
        ("start error p50 (ms)", f"{p50:.1f}", f"schedule lib {base_p50:.1f}"),
        ("start error p99 (ms)", f"{p99:.1f}", f"schedule lib {base_p99:.1f}  (target <= 50)"),
        ("start error max (ms)", f"{max(errors, key=abs):.1f}", f"schedule lib {max(baseline_errors):.1f}"),
        ("emergency -> relay on (ms)", f"{em_relay:.1f}", f"median of {len(relay_ms)}: {[round(x) for x in relay_ms]}"),
        ("emergency -> audio (ms)", f"{em_audio:.1f}",
         f"incl. {WARMUP_MS} ms warm-up; beyond it {em_audio - WARMUP_MS:.1f} (target <= 100)"),
        ("idle CPU (% of a core)", f"{idle_cpu_pct:.2f}", f"over {args.idle:.0f} s (target <= 0.5)"),
        ("RSS (MB)", f"{rss:.1f}", "daemon process (target <= 60)"),
        ("ready (s)", f"{ready_s:.2f}", "spawn to ready, incl. Python start-up (target <= 3)"),
    ]
    width = max(len(r[0]) for r in rows_out)
    print()
    print(f"{'measure':<{width}}  {'daemon':>10}  notes")
    for name, value, note in rows_out:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(f"RESULT start_p50_ms={p50:.1f} start_p99_ms={p99:.1f} baseline_p99_ms={base_p99:.1f} "
          f"emergency_relay_ms={em_relay:.1f} emergency_audio_ms={em_audio:.1f} idle_cpu_pct={idle_cpu_pct:.2f} "
          f"rss_mb={rss:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
