"""Benchmark: faults the station must survive (issue 16).

1. Long outage, 30 simulated days on a fake clock: the reference central on loopback answers
   every device request with 503 while the station plays 20 items a day; the real Reporter
   runs its scheduling loop (heartbeat every 60 s, uploads with capped backoff). Then central
   comes back. Measured: reporter errors (steps that raised; the old backoff overflowed after
   ~8 days), upload attempts and the longest gap between them, event-log rows written, and
   entries delivered exactly once after the outage.
2. Kill test: the daemon as a real process (capture output, mock pins) killed with SIGKILL 50
   times at random moments around playback. Measured: plays lost (a durable row gone, or a play
   started with no row), occurrences played twice, ready time after each start.

Run: .venv/bin/python bench/faults.py [--kills N] [--days D]
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.broadcast.playlog import PlayLog, PlayStart  # noqa: E402
from appliance.broadcast.slots import SlotRepository  # noqa: E402
from appliance.report.outbox import Outbox  # noqa: E402
from appliance.report.pacing import BACKOFF_MAX_S  # noqa: E402
from appliance.report.reporter import Reporter  # noqa: E402
from appliance.state import config as config_module  # noqa: E402
from appliance.state.store import Store, to_utc_iso  # noqa: E402
from appliance.sync.client import CentralClient  # noqa: E402
from central.app import create_app  # noqa: E402
from central.faults import Faults  # noqa: E402
from central.loopback import serve_in_thread  # noqa: E402
from tests.appliance.daemon.test_crash import DaemonProcess, write_config  # noqa: E402
from tests.support.daemon_rig import add_text_item, iso_in, make_config  # noqa: E402

DEVICE_ID = "12345-0001"
PLAYS_PER_DAY = 20


class FakeTime:
    """Monotonic seconds and a wall clock that move together, only when told to."""

    def __init__(self, start: datetime) -> None:
        self.mono = 1000.0
        self.start_mono = self.mono
        self.start = start

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.mono - self.start_mono)

    def advance(self, seconds: float) -> None:
        self.mono += seconds


def long_outage(days: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        root = Path(tmp)
        faults = Faults()
        server = serve_in_thread(create_app(root / "central", faults=faults))
        try:
            token = server.catalog.add_device(DEVICE_ID, ["thon-1", "thon-2"])
            config = config_module.from_mapping({
                "device": {"id": DEVICE_ID, "data_dir": str(root / "device")},
                "central": {"url": server.url, "token": token, "public_key": server.catalog.public_key_b64},
                "report": {"heartbeat_interval_s": 60},
                "zones": [{"name": "thon-1", "relay_pin": 17}, {"name": "thon-2", "relay_pin": 27}],
            }, "<bench>", env={})
            store = Store.open(config.db_path)
            fake = FakeTime(datetime.now(UTC).replace(microsecond=0) - timedelta(days=days + 1))
            store.monotonic = fake.monotonic   # the store counts repeated failures on the simulated clock
            client = CentralClient(server.url, token, max_retries=0)
            reporter = Reporter(config, store, client, now=fake.now, monotonic=fake.monotonic, boot_id="bench",
                                clock_status=lambda: {"trusted": True, "source": "timesync"},
                                rng=random.Random(16))
            playlog = PlayLog(store, now=lambda: to_utc_iso(fake.now()))
            down = faults.add("/v1/devices/", status=503)
            events_before = int(store.query_one("SELECT COALESCE(MAX(id), 0) FROM events")[0])
            spacing = 86400.0 / PLAYS_PER_DAY
            next_play = fake.mono + spacing / 2
            end = fake.mono + days * 86400.0
            errors = plays = 0
            attempts: list[float] = []
            started = time.perf_counter()
            while fake.mono < end:
                while next_play <= fake.mono:
                    key = f"it-daily@{to_utc_iso(fake.now())}"
                    play_id = playlog.begin(PlayStart("it-daily", 1, ["thon-1"], "schedule", occurrence_key=key))
                    playlog.finish(play_id, "completed", played_s=60.0)
                    plays += 1
                    next_play += spacing
                    reporter.wake()
                failures = reporter.stats.upload_failures
                try:
                    wait = reporter.step()
                except Exception:  # what the old backoff did after ~1,025 failures
                    errors += 1
                    wait = 5.0
                if reporter.stats.upload_failures > failures:
                    attempts.append(fake.mono)
                fake.advance(max(0.001, min(wait, next_play - fake.mono)))
            outage_s = time.perf_counter() - started
            crashes = int(store.query_one("SELECT COUNT(*) FROM events WHERE kind = 'report.crash'")[0])
            events_written = int(store.query_one("SELECT COALESCE(MAX(id), 0) FROM events")[0]) - events_before
            event_rows = int(store.query_one("SELECT COUNT(*) FROM events")[0])
            gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
            # Central is back: the backlog goes out.
            faults.remove(down)
            faults.reset_log()
            for _ in range(200):
                if Outbox(store).depth() == 0:
                    break
                fake.advance(max(0.001, reporter.step()))
            stored = server.app.extensions["central.monitor"].log_entries(DEVICE_ID, entry_type="play")
            ids = [e["id"] for e in stored]
            result = {
                "days": days, "plays": plays, "reporter_errors": errors + crashes,
                "upload_attempts": len(attempts), "heartbeat_failures": reporter.stats.heartbeat_failures,
                "max_gap_s": max(gaps, default=0.0), "events_written": events_written, "event_rows": event_rows,
                "delivered": len(set(ids)), "delivered_twice": len(ids) - len(set(ids)),
                "left_in_outbox": Outbox(store).depth(),
                "requests_after": len(faults.requests(f"/v1/devices/{DEVICE_ID}/logs")),
                "wall_s": outage_s,
            }
            store.close()
            client.close()
            return result
        finally:
            server.stop()
            server.catalog.close()


def kill_test(kills: int) -> dict[str, Any]:
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="bench-kills-") as tmp:
        root = Path(tmp)
        data = root / "data"
        config_path = root / "appliance.toml"
        write_config(config_path, data)
        flag = root / "synchronized"
        flag.write_text("")
        config = make_config(data)
        with Store.open(config.db_path) as store:
            slots = SlotRepository(store, config)
            for i in range(kills * 2):
                add_text_item(store, f"tin-{i:03d}", f"Tin số {i}. Bà con chú ý.", zones=["a"] if i % 2 else ["b"])
                slots.add({"item_id": f"tin-{i:03d}", "kind": "once", "starts": [iso_in(6 + i * 1.5)]},
                          actor="bench:faults")
        ready: list[float] = []
        started_plays: dict[str, int] = {}
        durable_ids: set[str] = set()
        daemon = None
        for round_no in range(kills + 1):
            daemon = DaemonProcess(config_path, flag)
            event = daemon.wait_ready(60.0)
            ready.append(event["t"] - daemon.spawned)
            if round_no == kills:
                break
            trigger = rng.choice(["warmup", "play_start", "play_start", "play_end", "ready"])
            deadline = time.monotonic() + 6.0
            while trigger != "ready" and time.monotonic() < deadline:
                seen = daemon.next_event(0.2)
                if seen is not None and seen["type"] == trigger:
                    break
            time.sleep(rng.uniform(0.0, 0.8))
            daemon.kill()
            for seen in daemon.seen:
                if seen["type"] == "play_start":
                    started_plays[seen["key"]] = started_plays.get(seen["key"], 0) + 1
            with sqlite3.connect(config.db_path) as conn:
                durable_ids |= {r[0] for r in conn.execute("SELECT id FROM play_log WHERE outcome != 'skipped'")}
        assert daemon is not None
        time.sleep(3)
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(timeout=30)
        while daemon.next_event(0.1) is not None:
            pass
        for seen in daemon.seen:
            if seen["type"] == "play_start":
                started_plays[seen["key"]] = started_plays.get(seen["key"], 0) + 1
        with sqlite3.connect(config.db_path) as conn:
            rows = conn.execute("SELECT id, occurrence_key, outcome FROM play_log").fetchall()
        final_ids = {r[0] for r in rows}
        keys = [r[1] for r in rows if r[1]]
        logged_keys = set(keys)
        lost = len(durable_ids - final_ids) + len([k for k in started_plays if k not in logged_keys])
        duplicated = (len(keys) - len(logged_keys)) + sum(1 for n in started_plays.values() if n > 1)
        outcomes: dict[str, int] = {}
        for _, _, outcome in rows:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        ready.sort()
        return {"kills": kills, "lost": lost, "duplicated": duplicated, "ready_p50": ready[len(ready) // 2],
                "max_ready_s": ready[-1], "outcomes": outcomes, "left_playing": outcomes.get("playing", 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    outage = long_outage(args.days)
    kill = kill_test(args.kills)
    rows = [
        (f"outage: {outage['days']} days, central answering 503", f"{outage['plays']} plays", "20 a day"),
        ("  reporter errors (steps that raised)", f"{outage['reporter_errors']}", "target: 0"),
        ("  upload attempts / longest gap", f"{outage['upload_attempts']} / {outage['max_gap_s']:.0f} s",
         f"backoff capped at {BACKOFF_MAX_S:.0f} s"),
        ("  failed heartbeats", f"{outage['heartbeat_failures']:,}", "one a minute, as configured"),
        ("  event rows written / held", f"{outage['events_written']:,} / {outage['event_rows']:,}",
         "repeats collapse into one row"),
        ("  delivered after / twice / left", f"{outage['delivered']} / {outage['delivered_twice']} / "
         f"{outage['left_in_outbox']}", f"in {outage['requests_after']} logs requests"),
        ("  simulated in", f"{outage['wall_s']:.1f} s", "wall time"),
        (f"kill test: {kill['kills']} × SIGKILL around playback", f"{sum(kill['outcomes'].values())} rows",
         ", ".join(f"{k} {v}" for k, v in sorted(kill["outcomes"].items()))),
        ("  plays lost / played twice", f"{kill['lost']} / {kill['duplicated']}", "target: 0 / 0"),
        ("  ready after start p50 / max", f"{kill['ready_p50']:.2f} / {kill['max_ready_s']:.2f} s",
         "includes the database check"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>18}  detail")
    print(f"{'-' * width}  {'-' * 18}  {'-' * 36}")
    for name, value, detail in rows:
        print(f"{name.ljust(width)}  {value:>18}  {detail}")
    print(f"RESULT kills={kill['kills']} lost={kill['lost']} duplicated={kill['duplicated']} "
          f"max_ready_s={kill['max_ready_s']:.2f} outage_days={outage['days']} delivered={outage['delivered']} "
          f"reporter_errors={outage['reporter_errors']}")
    ok = (kill["lost"] == 0 and kill["duplicated"] == 0 and outage["reporter_errors"] == 0
          and outage["delivered"] == outage["plays"] and outage["delivered_twice"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
