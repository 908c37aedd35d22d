"""Panel latency and memory: `commune-radio panel` (waitress, its default thread count) as a real subprocess, 20 concurrent
logged-in clients over loopback HTTP loading the dashboard and the schedule week view, with the
live dashboard in use (each client also polls /dashboard/live, as panel.js does every 2 s), on a
seeded store (items, local slots, a week of play log, panel settings). Prints a table and ends
with `RESULT dashboard_p99_ms=… schedule_p99_ms=… live_p99_ms=… panel_rss_mb=…` (targets: p99 <= 150 ms)."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.broadcast.slots import SlotRepository  # noqa: E402
from appliance.panel.accounts import Accounts  # noqa: E402
from appliance.state import config as config_module  # noqa: E402
from appliance.state import settings as operator_settings  # noqa: E402
from appliance.state.store import Store, to_utc_iso, utc_now_iso  # noqa: E402

CLIENTS = 20
REQUESTS_PER_CLIENT = 80
PASSWORD = "benchmark password 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(data_dir: Path, port: int) -> Path:
    config_path = data_dir / "appliance.toml"
    config_path.write_text(f'[device]\ndata_dir = "{data_dir}"\n[panel]\nlisten = "127.0.0.1"\nport = {port}\n',
                           encoding="utf-8")
    config = config_module.load(config_path, env={})
    store = Store.open(config.db_path)
    Accounts(store).create_first_admin("admin", PASSWORD, PASSWORD)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for i in range(60):
            stamp = utc_now_iso()
            tx.execute("INSERT INTO items (id, version, kind, title, text, priority, zones, state, source, received_at,"
                       " updated_at) VALUES (?, 1, 'text', ?, ?, ?, '[\"*\"]', 'ready', 'central', ?, ?)",
                       (f"item-{i}", f"Bản tin số {i}", "Kính thưa bà con. " * 20,
                        ("normal", "priority")[i % 2], stamp, stamp))
        for day in range(7):
            for n in range(6):
                start = now - timedelta(days=day, hours=n * 2)
                tx.execute("INSERT INTO play_log (id, item_id, item_version, zones, scheduled_start, actual_start,"
                           " actual_end, outcome, trigger, actor, played_s, created_at, updated_at)"
                           " VALUES (?, ?, 1, '[\"trung-tam\"]', ?, ?, ?, 'completed', 'schedule', '', 300, ?, ?)",
                           (uuid.uuid4().hex, f"item-{n}", to_utc_iso(start), to_utc_iso(start),
                            to_utc_iso(start + timedelta(minutes=5)), to_utc_iso(start), to_utc_iso(start)))
    slots = SlotRepository(store, config)
    for i in range(20):
        slots.add({"item_id": f"item-{i}", "kind": "rrule", "dtstart": "2026-01-01T05:00:00",
                   "rrule": f"FREQ=WEEKLY;BYDAY={('MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU')[i % 7]};"
                            f"BYHOUR={5 + i % 12};BYMINUTE=0"}, actor="bench")
    # Operator settings in force: the planner's verdicts shown on both pages depend on them.
    operator_settings.save(store, config, {"schedule.default_windows": ["05:30-11:00", "13:30-21:30"]}, actor="bench")
    store.close()
    return config_path


def login(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = session.post(base + "/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.status_code
    return session


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        port = free_port()
        config_path = seed(data_dir, port)
        env = dict(os.environ, COMMUNE_RADIO_CONFIG=str(config_path))
        # The server's log goes to a file: an unread pipe would fill up and block the server.
        log = (data_dir / "panel.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "panel"], cwd=ROOT, env=env,
                                stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    requests.get(base + "/login", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            sessions = [login(base) for _ in range(CLIENTS)]
            for s in sessions[:2]:  # warm-up: templates compiled, caches filled
                s.get(base + "/", timeout=30)
                s.get(base + "/schedule", timeout=30)
            timings: dict[str, list[float]] = {"/": [], "/schedule": [], "/dashboard/live": []}
            lock = threading.Lock()
            barrier = threading.Barrier(CLIENTS)

            def client(session: requests.Session) -> None:
                barrier.wait()
                for i in range(REQUESTS_PER_CLIENT):
                    path = ("/", "/dashboard/live", "/schedule", "/dashboard/live")[i % 4]
                    started = time.perf_counter()
                    response = session.get(base + path, timeout=60)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (path, response.status_code)
                    with lock:
                        timings[path].append(elapsed)

            threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
            wall = time.perf_counter()
            for t in threads:
                t.start()
            peak = 0.0
            while any(t.is_alive() for t in threads):
                peak = max(peak, rss_mb(proc.pid))
                time.sleep(0.05)
            wall = time.perf_counter() - wall
            peak = max(peak, rss_mb(proc.pid))
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()
    total = sum(len(v) for v in timings.values())
    print(f"panel under {CLIENTS} concurrent clients, {total} requests in {wall:.1f} s ({total / wall:.0f} req/s)")
    print(f"{'page':<16}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for path, values in timings.items():
        print(f"{path:<16}{len(values):>6}{statistics.median(values):>10.1f}{percentile(values, 90):>10.1f}"
              f"{percentile(values, 99):>10.1f}{max(values):>10.1f}")
    print(f"panel resident memory (peak): {peak:.1f} MB   target p99 <= 150 ms")
    print(f"RESULT dashboard_p99_ms={percentile(timings['/'], 99):.1f} "
          f"schedule_p99_ms={percentile(timings['/schedule'], 99):.1f} "
          f"live_p99_ms={percentile(timings['/dashboard/live'], 99):.1f} panel_rss_mb={peak:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
