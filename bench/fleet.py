"""Benchmark: a fleet of simulated devices against a real central (issue 13, item 5).

Central runs as in production: ``commune-central serve`` (gunicorn, gthread workers) in its own
processes, on SQLite and on PostgreSQL (a throwaway cluster with production settings: fsync,
full page writes, synchronous commit; tests/support/postgres.py). The simulated devices live in
this process, an asyncio HTTP/1.1 keep-alive client (bench/fleet_client.py, about a tenth of
aiohttp's CPU per request) sending the protocol's real bodies:

- a heartbeat every 60 s, the devices' phases spread evenly over the minute;
- a feed poll every 5 min with the cursor and ETag of the device's last answer (so 304s);
- a logs upload every 15 min (one play entry each).

Each step (1,000 / 10,000 / 30,000 devices) runs ``STEP_S`` seconds at the steady rates.
Latency is measured from the moment a request was due, so a client or server falling behind
shows as latency, not as a lower offered rate. Reported per endpoint: p50 / p99, errors
(anything but 200/304, time-outs, refused connections); achieved vs offered rate; central's CPU
(its gunicorn processes, and PostgreSQL's server processes) and resident memory; bytes written
to disk per heartbeat (``/proc/<pid>/io`` write_bytes of the server processes, measured over a
heartbeat-only phase of the 10,000-device step). Then a fleet page of 100 devices out of
100,000 registered (filtered, through the JSON API with the admin token), and the 304-poll cost
with 5,000 foreign items (bench/central_store.py's measurement).

The load generator shares the two cores with central: its CPU is printed too.

Run: .venv/bin/python bench/fleet.py [--quick]   (as root: PostgreSQL runs as an unprivileged user)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fleet_client import Client, HttpError  # noqa: E402

from appliance.system import procstats  # noqa: E402
from central.admin import AdminAuth  # noqa: E402
from central.catalog import token_hash  # noqa: E402
from central.config import CentralConfig  # noqa: E402
from central.store import Store  # noqa: E402
from central.store.schema import device_presence, device_state, devices  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402

HEARTBEAT_S, POLL_S, LOGS_S = 60, 300, 900
PHASE = {"heartbeat": 0.0, "feed": 0.33, "logs": 0.67}   # of one device's slot: kinds never collide
STEP_S = 75
HB_ONLY_S = 40
TIMEOUT_S = 10
FLEET_DEVICES = 100_000
FLEET_REQUESTS = 300
PROVINCES = ("Hà Nội", "Hải Phòng", "Lào Cai", "Nghệ An", "Huế", "Đà Nẵng", "Khánh Hòa", "Lâm Đồng",
             "Đồng Nai", "TP. Hồ Chí Minh", "Cần Thơ", "Cà Mau")


def device_id(n: int) -> str:
    return f"{10000 + n // 8:05d}-{n % 8:04d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def heartbeat_body(dev: str, now: datetime, uptime: int) -> bytes:
    return json.dumps({
        "device_id": dev, "sent_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "software_version": "0.10.1",
        "boot_id": "0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11", "uptime_s": uptime,
        "clock": {"trusted": True, "offset_s": -0.4, "source": "ntp"}, "timezone": "Asia/Ho_Chi_Minh",
        "disk": {"free_bytes": 12_000_000_000, "total_bytes": 31_000_000_000},
        "cpu": {"temp_c": 52.1, "load_1m": 0.35}, "memory": {"available_bytes": 512_000_000, "total_bytes": 10**9},
        "playing": None, "relays": {"thon-1": False, "thon-2": False}, "volume": 80,
        "last_sync": {"at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "result": "ok", "error": None},
        "outbox_depth": 0, "rejected_count": 0, "last_errors": [], "command_results": [],
        "heartbeat_interval_s": HEARTBEAT_S}).encode()


def logs_body(dev: str, serial: int, now: datetime) -> bytes:
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"entries": [{"id": f"pl-{dev}-{serial}", "type": "play", "at": at, "data": {
        "item_id": "bt-fleet-1", "version": 1, "zones": ["thon-1"], "started_at": at, "ended_at": at,
        "outcome": "completed", "played_s": 300.0, "trigger": "schedule"}}]}).encode()


# ---------------------------------------------------------------- processes and counters

def cpu_s(pids: list[int]) -> float:
    return sum(procstats.cpu_seconds(pid) or 0.0 for pid in pids)


def rss_mb(pids: list[int]) -> float:
    return sum(procstats.rss_bytes(pid) or 0 for pid in pids) / 2**20


def write_bytes(pids: list[int]) -> int:
    return sum(procstats.io_counters(pid).get("write_bytes", 0) for pid in pids)


# ---------------------------------------------------------------- central under test

@dataclass
class Central:
    url: str
    proc: subprocess.Popen[bytes]
    db_pids: Any                     # callable: the database server's processes ([] for SQLite)
    store: Store
    data: Path

    def server_pids(self) -> list[int]:
        return [self.proc.pid, *procstats.child_pids(self.proc.pid)]

    def all_pids(self) -> list[int]:
        return self.server_pids() + list(self.db_pids())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.store.close()


def register(store: Store, count: int, *, start: int = 0, seen: datetime | None = None,
             spread_s: float = 7200, never_seen_every: int = 10) -> list[tuple[str, str]]:
    """``count`` devices written straight into the tables (the bench's set-up, not the path under
    test); each with a token. ``seen``: give them (but one in ``never_seen_every``) a last state as a running central
    has one: a stored heartbeat, a last sample taken some time in the last 15 minutes (so samples
    fall due at the steady rate), last seen up to ``spread_s`` before ``seen``."""
    out = []
    now = datetime.now(UTC)
    for begin in range(start, start + count, 5000):
        rows, states, presence = [], [], []
        for n in range(begin, min(begin + 5000, start + count)):
            dev, token = device_id(n), secrets.token_urlsafe(32)
            out.append((dev, token))
            rows.append({"id": dev, "token_hash": token_hash(token), "zones": '["thon-1","thon-2"]',
                         "commune": dev[:5], "created_at": now, "province": PROVINCES[n % len(PROVINCES)]})
            state: dict[str, Any] = {"device_id": dev, "problems": "", "plays_logged": 0, "interval_s": None,
                                     "boot_id": None, "software_version": None, "heartbeat": None,
                                     "last_sample_at": None}
            here: dict[str, Any] = {"device_id": dev, "last_seen_at": None, "offline_at": None}
            if seen is not None and (not never_seen_every or n % never_seen_every):
                last = seen - timedelta(seconds=(n * 7919) % max(1, int(spread_s)))
                state.update(interval_s=60, boot_id="0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11",
                             software_version="0.10.1" if n % 5 else "0.9.0",
                             problems="disk_low" if n % 97 == 0 else "", heartbeat=heartbeat_body(dev, last, 1).decode(),
                             last_sample_at=seen - timedelta(seconds=(n * 104729) % 900))
                here.update(last_seen_at=last, offline_at=last + timedelta(seconds=90))
            states.append(state)
            presence.append(here)
        with store.write() as tx:
            tx.conn.execute(devices.insert(), rows)
            tx.conn.execute(device_state.insert(), states)
            tx.conn.execute(device_presence.insert(), presence)
    return out


def start_central(url: str, data: Path, db_pids: Any, *, workers: int) -> Central:
    store = Store.open(url)
    port = free_port()
    env = {**os.environ, "COMMUNE_CENTRAL_DATABASE_URL": url}
    with open(data / "serve.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "central.cli", "serve", "--server", "gunicorn", "--data",
                                 str(data), "--port", str(port), "--workers", str(workers), "--threads", "8"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    import urllib.request

    while True:
        try:
            urllib.request.urlopen(base + "/v1/info", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("central did not start: " + (data / "serve.log").read_text()[-2000:]) from None
            time.sleep(0.3)
    return Central(base, proc, db_pids, store, data)


# ---------------------------------------------------------------- the simulated fleet

@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    offered: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))


async def run_load(central: Central, fleet: list[tuple[str, str]], *, seconds: float, cursor: str,
                   kinds: tuple[str, ...] = ("heartbeat", "feed", "logs")) -> Stats:
    """Every device on its own schedule for ``seconds``; returns what happened."""
    n = len(fleet)
    events: list[tuple[float, str, int]] = []
    periods = {"heartbeat": HEARTBEAT_S, "feed": POLL_S, "logs": LOGS_S}
    for kind in kinds:
        period = periods[kind]
        for i in range(n):
            t = (i * period / n + PHASE[kind] * period / n) % period
            while t < seconds:
                events.append((t, kind, i))
                t += period
    events.sort()
    stats = Stats()
    etags = {dev: '"' + hashlib.sha256(f"{dev}|{cursor}|False".encode()).hexdigest()[:20] + '"' for dev, _ in fleet}
    client = Client(central.url, limit=1500)
    serial = [0]
    path_cursor = urllib.parse.quote(cursor)

    async def fire(due: float, kind: str, i: int) -> None:
        dev, token = fleet[i]
        headers = {"Authorization": f"Bearer {token}"}
        now = datetime.now(UTC)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                if kind == "heartbeat":
                    headers["Content-Type"] = "application/json"
                    status, _ = await client.request("POST", f"/v1/devices/{dev}/heartbeat", headers,
                                                     heartbeat_body(dev, now, 3600 + int(due)))
                elif kind == "feed":
                    headers["If-None-Match"] = etags[dev]
                    status, _ = await client.request("GET", f"/v1/devices/{dev}/feed?cursor={path_cursor}", headers)
                else:
                    serial[0] += 1
                    headers["Content-Type"] = "application/json"
                    status, _ = await client.request("POST", f"/v1/devices/{dev}/logs", headers,
                                                     logs_body(dev, serial[0], now))
        except (TimeoutError, HttpError, OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        elapsed = time.monotonic() - start - due
        stats.statuses[status] += 1
        if status in (200, 304):
            stats.latencies[kind].append(elapsed)
        else:
            stats.errors[kind] += 1

    try:
        tasks = set()
        start = time.monotonic()
        for due, kind, i in events:
            delay = start + due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            stats.offered[kind] += 1
            task = asyncio.create_task(fire(due, kind, i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        client.close()
    return stats


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class StepResult:
    engine: str
    devices: int
    stats: Stats
    seconds: float
    server_cpu: float
    db_cpu: float
    client_cpu: float
    rss: float
    load: tuple[float, float]
    hb_write_kb: float | None = None

    def p99_all(self) -> float:
        return pct([x for v in self.stats.latencies.values() for x in v], 0.99)

    def errors(self) -> int:
        return sum(self.stats.errors.values())


def warm_cursor(central: Central, fleet: list[tuple[str, str]]) -> str:
    """One real poll gives the feed position every device has reached; 20 devices check that
    their ETag for it is answered 304 (so the simulated fleet polls as devices in steady state)."""
    import urllib.request

    def get(dev: str, token: str, cursor: str | None = None, etag: str | None = None) -> tuple[int, Any, str]:
        url = f"{central.url}/v1/devices/{dev}/feed" + (f"?cursor={cursor}" if cursor else "")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}",
                                                       **({"If-None-Match": etag} if etag else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read()), answer.headers["ETag"]
        except urllib.error.HTTPError as exc:
            return exc.code, None, exc.headers.get("ETag", "")

    status, body, _ = get(*fleet[0])
    assert status == 200, status
    cursor = body["cursor"]
    for dev, token in fleet[:: max(1, len(fleet) // 20)]:
        etag = '"' + hashlib.sha256(f"{dev}|{cursor}|False".encode()).hexdigest()[:20] + '"'
        assert get(dev, token, cursor, etag)[0] == 304, dev
    return cursor


def publish_items(central: Central, count: int = 5) -> None:
    from central.catalog import Catalog

    with Catalog(central.data, config=CentralConfig(data_dir=central.data, database_url=central.store.database.url)
                 ) as catalog:
        for k in range(count):
            catalog.approve_item(catalog.add_item(kind="text", title=f"Thông báo {k}", text="Kính mời bà con họp."),
                                 by="Chủ tịch UBND xã")


def step(engine: str, central: Central, fleet: list[tuple[str, str]], cursor: str, seconds: float,
         *, measure_writes: bool) -> StepResult:
    hb_kb = None
    if measure_writes:
        # Heartbeats only: what one heartbeat costs the disk (after 15 s of the same load to settle).
        asyncio.run(run_load(central, fleet, seconds=15, cursor=cursor, kinds=("heartbeat",)))
        before = write_bytes(central.all_pids())
        hb = asyncio.run(run_load(central, fleet, seconds=HB_ONLY_S, cursor=cursor, kinds=("heartbeat",)))
        time.sleep(2)
        beats = len(hb.latencies["heartbeat"])
        hb_kb = (write_bytes(central.all_pids()) - before) / max(1, beats) / 1024
    load_before = os.getloadavg()[0]
    server0, db0, client0 = cpu_s(central.server_pids()), cpu_s(list(central.db_pids())), time.process_time()
    began = time.monotonic()
    stats = asyncio.run(run_load(central, fleet, seconds=seconds, cursor=cursor))
    elapsed = time.monotonic() - began
    result = StepResult(engine, len(fleet), stats, elapsed, (cpu_s(central.server_pids()) - server0) / elapsed,
                        (cpu_s(list(central.db_pids())) - db0) / elapsed, (time.process_time() - client0) / elapsed,
                        rss_mb(central.server_pids()), (load_before, os.getloadavg()[0]), hb_kb)
    print_step(result)
    return result


def print_step(r: StepResult) -> None:
    print(f"\n{r.engine} · {r.devices:,} devices · {r.seconds:.0f} s · load average {r.load[0]:.1f} → {r.load[1]:.1f}")
    print(f"  {'endpoint':10} {'offered/s':>10} {'done/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for kind in ("heartbeat", "feed", "logs"):
        done = r.stats.latencies.get(kind, [])
        print(f"  {kind:10} {r.stats.offered[kind] / r.seconds:10.1f} {len(done) / r.seconds:9.1f} "
              f"{pct(done, 0.5):9.1f} {pct(done, 0.99):9.1f} {r.stats.errors[kind]:7d}")
    print(f"  central CPU {r.server_cpu * 100:.0f} % of a core, database {r.db_cpu * 100:.0f} %, load generator "
          f"{r.client_cpu * 100:.0f} %; central RSS {r.rss:.0f} MB; statuses {dict(r.stats.statuses)}")
    if r.hb_write_kb is not None:
        print(f"  disk written per heartbeat (heartbeat-only {HB_ONLY_S} s): {r.hb_write_kb:.2f} KB")


def fleet_page(engine: str, url: str, data: Path, db_pids: Any) -> float:
    """p99 (ms) of filtered fleet pages of 100 with 100,000 devices registered."""
    data.mkdir(parents=True, exist_ok=True)
    store = Store.open(url)
    register(store, FLEET_DEVICES, seen=datetime.now(UTC))
    if store.is_postgresql:
        with store.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    token = AdminAuth(store, clock=lambda: datetime.now(UTC)).create_token()
    store.close()
    central = start_central(url, data, db_pids, workers=2)
    import urllib.parse
    import urllib.request

    queries = [{"province": "Lào Cai"}, {"status": "offline"}, {"status": "offline", "province": "Huế"},
               {"software_version": "0.9.0", "sort": "-last_seen_at"}, {"commune": "10500"},
               {"problem": "disk_low"}, {"province": "Cần Thơ", "page": "3"}, {}]
    times = []
    try:
        for n in range(FLEET_REQUESTS + 20):
            params = dict(queries[n % len(queries)], limit="100")
            request = urllib.request.Request(f"{central.url}/api/monitor/devices?{urllib.parse.urlencode(params)}",
                                             headers={"Authorization": f"Bearer {token}"})
            began = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as answer:
                body = json.loads(answer.read())
            if n >= 20:
                times.append(time.perf_counter() - began)
            assert body["total"] > 0 and body["devices"], params
    finally:
        central.stop()
    p99 = pct(times, 0.99)
    print(f"\n{engine}: fleet page of 100 of {FLEET_DEVICES:,} devices (8 filters/sorts, {FLEET_REQUESTS} requests): "
          f"p50 {pct(times, 0.5):.1f} ms, p99 {p99:.1f} ms")
    return p99


def run_engine(engine: str, url_for: Any, db_pids: Any, base: Path, sizes: tuple[int, ...], seconds: float,
               workers: int) -> list[StepResult]:
    results = []
    for size in sizes:
        data = base / f"{engine}-{size}"
        data.mkdir(parents=True)
        url = url_for(f"fleet_{size}", data)
        store = Store.open(url)
        # A fleet as a running central has it: every device known, samples due at the steady rate.
        fleet = [(dev, token) for dev, token in register(store, size, seen=datetime.now(UTC), spread_s=60,
                                                                   never_seen_every=0)]
        store.close()
        central = start_central(url, data, db_pids, workers=workers)
        try:
            publish_items(central)
            cursor = warm_cursor(central, fleet)
            results.append(step(engine, central, fleet, cursor, seconds, measure_writes=size == 10_000))
        finally:
            central.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short steps, smaller fleets (a smoke run)")
    parser.add_argument("--step-s", type=float, default=STEP_S)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--skip-fleet-page", action="store_true")
    parser.add_argument("--sqlite-sizes", default="1000,10000")
    parser.add_argument("--pg-sizes", default="1000,10000,30000")
    args = parser.parse_args()
    sqlite_sizes = tuple(int(x) for x in args.sqlite_sizes.split(",") if x)
    pg_sizes = tuple(int(x) for x in args.pg_sizes.split(",") if x)
    if args.quick:
        sqlite_sizes, pg_sizes = sqlite_sizes[:1], pg_sizes[:1]
    seconds = args.step_s if not args.quick else 20
    print(f"bench/fleet.py on {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}; "
          f"central: gunicorn, {args.workers} workers × 8 threads")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        sqlite = run_engine("SQLite", lambda name, data: f"sqlite:///{data / 'central.db'}", lambda: [], base,
                            sqlite_sizes, seconds, args.workers)
        cluster = PostgresCluster().start(durable=True) if pg_sizes or not args.skip_fleet_page else None
        try:
            pg = [] if cluster is None else run_engine("PostgreSQL", lambda name, data: cluster.create_database(name), cluster.server_pids,
                            base, pg_sizes, seconds, args.workers)
            pg_page = float("nan") if args.skip_fleet_page or cluster is None else fleet_page(
                "PostgreSQL", cluster.create_database("fleet_page"), base / "pg-page", cluster.server_pids)
        finally:
            if cluster is not None:
                cluster.stop()
        sqlite_page = float("nan") if args.skip_fleet_page else fleet_page(
            "SQLite", f"sqlite:///{base / 'sqlite-page' / 'central.db'}", base / "sqlite-page", lambda: [])
    import central_store

    with tempfile.TemporaryDirectory() as tmp:
        quiet, busy = central_store.poll_cost(lambda name: f"sqlite:///{Path(tmp) / name / 'central.db'}", Path(tmp))
    ratio = busy / quiet

    def at(results: list[StepResult], size: int) -> StepResult | None:
        return next((r for r in results if r.devices == size), None)

    # A key names its fleet size: a run without that step prints nan (and errors -1), never
    # another step's figure under its name.
    pg_top = at(pg, 30_000)
    sqlite_top = at(sqlite, 10_000)
    writes = [r.hb_write_kb for r in (*sqlite, *pg) if r.hb_write_kb is not None]
    print("\nsummary")
    print(f"  {'engine':11} {'devices':>8} {'offered/s':>10} {'done/s':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'CPU %':>6} {'RSS MB':>7} {'KB/hb':>6}")
    for r in (*sqlite, *pg):
        offered = sum(r.stats.offered.values()) / r.seconds
        done = sum(len(v) for v in r.stats.latencies.values()) / r.seconds
        kb = f"{r.hb_write_kb:.2f}" if r.hb_write_kb is not None else "—"
        print(f"  {r.engine:11} {r.devices:8,} {offered:10.1f} {done:8.1f} {r.p99_all():8.1f} {r.errors():7d} "
              f"{(r.server_cpu + r.db_cpu) * 100:6.0f} {r.rss:7.0f} {kb:>6}")
    print(f"  fleet page of 100 of {FLEET_DEVICES:,}: p99 SQLite {sqlite_page:.1f} ms, PostgreSQL {pg_page:.1f} ms;"
          f" 304 poll with 5,000 foreign items ÷ without: {ratio:.2f}")
    nan = float("nan")
    print(f"RESULT pg_p99_ms_at_30k={pg_top.p99_all() if pg_top else nan:.1f} "
          f"pg_errors_at_30k={pg_top.errors() if pg_top else -1} "
          f"sqlite_p99_ms_at_10k={sqlite_top.p99_all() if sqlite_top else nan:.1f} "
          f"sqlite_errors_at_10k={sqlite_top.errors() if sqlite_top else -1} "
          f"heartbeat_write_kb={max(writes) if writes else float('nan'):.2f} "
          f"fleet_page_p99_ms_at_100k={max(sqlite_page, pg_page):.1f} foreign_items_poll_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
