"""Benchmark: reporting to central.

1. Delivery of a 10,000-entry outbox backlog (proof-of-play rows queued by the play-log
   trigger) to an in-process reference central over loopback: wall time and requests.
   Targets: at most 10 s and at most 20 requests.
2. Heartbeat payload size (a realistic heartbeat with errors and command results).
   Target: at most 2 KB.

Run: .venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.report.outbox import Outbox  # noqa: E402
from appliance.report.reporter import Reporter  # noqa: E402
from appliance.state import config as config_module  # noqa: E402
from appliance.state.store import Store, to_utc_iso  # noqa: E402
from appliance.sync.client import CentralClient  # noqa: E402
from central.app import create_app  # noqa: E402
from central.faults import Faults  # noqa: E402
from central.loopback import serve_in_thread  # noqa: E402

DEVICE_ID = "12345-0001"
BACKLOG = 10_000


def seed(store: Store, count: int) -> None:
    """Final play rows in one transaction; the 0003 trigger queues one outbox entry per row."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    with store.transaction() as tx:
        for i in range(count):
            began = start + timedelta(minutes=72 * i)
            ended = began + timedelta(seconds=300)
            tx.execute(
                "INSERT INTO play_log (id, item_id, item_version, occurrence_key, zones, scheduled_start,"
                " actual_start, actual_end, outcome, trigger, played_s, created_at, updated_at)"
                " VALUES (?, ?, 1, ?, '[\"thon-1\",\"thon-2\"]', ?, ?, ?, 'completed', 'schedule', 300.2, ?, ?)",
                (uuid.uuid4().hex, f"bt-2025-{i % 300:04d}", f"k{i}", to_utc_iso(began), to_utc_iso(began),
                 to_utc_iso(ended), to_utc_iso(ended), to_utc_iso(ended)))


def main() -> int:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = Path(tmp)
        faults = Faults()
        server = serve_in_thread(create_app(root / "central", faults=faults))
        try:
            token = server.catalog.add_device(DEVICE_ID, ["thon-1", "thon-2"])
            config = config_module.from_mapping({
                "device": {"id": DEVICE_ID, "data_dir": str(root / "device")},
                "central": {"url": server.url, "token": token, "public_key": server.catalog.public_key_b64},
                "zones": [{"name": "thon-1", "relay_pin": 17}, {"name": "thon-2", "relay_pin": 27}],
            }, "<bench>", env={})
            store = Store.open(config.db_path)
            seed(store, BACKLOG)
            outbox = Outbox(store)
            assert outbox.depth() == BACKLOG
            client = CentralClient(server.url, token, max_retries=0)
            reporter = Reporter(config, store, client, boot_id="bench")
            faults.reset_log()
            started = time.perf_counter()
            requests_made, removed = reporter.drain()
            elapsed = time.perf_counter() - started
            logs = faults.requests(f"/v1/devices/{DEVICE_ID}/logs")
            stored = len(server.app.extensions["central.monitor"].log_entries(DEVICE_ID))
            body_bytes = sum(r.body_bytes for r in logs)
            rows += [
                (f"{BACKLOG:,}-entry backlog delivered", f"{elapsed:.2f} s", "target: <= 10 s"),
                ("  logs requests", f"{len(logs)}", f"target: <= 20 (batch {config.report.backlog_batch_size})"),
                ("  stored at central / left in outbox", f"{stored:,} / {outbox.depth()}", "exactly once"),
                ("  answer bytes", f"{body_bytes:,}", ""),
            ]
            if stored != BACKLOG or removed != BACKLOG:
                print(f"delivery incomplete: stored {stored}, removed {removed}", file=sys.stderr)
                return 1
            # A heavy but realistic heartbeat: ten error codes (the most the protocol allows).
            with store.transaction() as tx:
                for i in range(10):
                    tx.execute("INSERT INTO events (at, level, kind, message, data) VALUES (?, 'warning', ?, ?, ?)",
                               (to_utc_iso(datetime.now(UTC)), "sync_failed", "x",
                                json.dumps({"code": f"item_rejected.bad_signature{i}"})))
            data, doc, _ = reporter.build()
            beat = reporter.heartbeat_once()
            rows.append(("heartbeat payload", f"{len(data):,} B", "target: <= 2,048 B"))
            rows.append(("  accepted by central", "yes" if beat.ok else "NO", f"{len(doc['last_errors'])} errors"))
            heartbeat_bytes = len(data)
            store.close()
        finally:
            server.stop()
            server.catalog.close()

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>14}  detail")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 36}")
    for name, value, detail in rows:
        print(f"{name.ljust(width)}  {value:>14}  {detail}")
    print(f"RESULT backlog_10k_s={elapsed:.2f} backlog_requests={len(logs)} heartbeat_bytes={heartbeat_bytes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
