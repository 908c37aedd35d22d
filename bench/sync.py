"""Benchmark: what sync costs on the wire.

1. Re-sync of an unchanged 1,000-item feed: requests and total bytes (request + response,
   headers included), measured by a byte-counting TCP relay between the appliance and an
   in-process reference central. Target: 1 request, under 2 KB.
2. A 50 MB media file whose connection central cuts every 5 MB: bytes fetched beyond the
   file's size. Target: at most 10 % extra.

Run: .venv/bin/python bench/sync.py
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.state import config as config_module  # noqa: E402
from appliance.state.mediastore import MediaStore  # noqa: E402
from appliance.state.store import Store  # noqa: E402
from appliance.sync.client import CentralClient  # noqa: E402
from appliance.sync.syncer import Syncer  # noqa: E402
from central.app import create_app  # noqa: E402
from central.faults import Faults  # noqa: E402
from central.loopback import serve_in_thread  # noqa: E402

DEVICE_ID = "12345-0001"
FEED_ITEMS = 1000
MEDIA_BYTES = 50 * 1000 * 1000
CUT_EVERY = 5 * 1000 * 1000


class CountingRelay:
    """A loopback TCP relay that counts every byte in each direction (headers and all)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = 0       # client -> central
        self.received = 0   # central -> client
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.sent = self.received = self.connections = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, "sent"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "received"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counter: str) -> None:
        try:
            while data := source.recv(256 * 1024):
                with self._lock:
                    setattr(self, counter, getattr(self, counter) + len(data))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def _device(base: Path, url: str, token: str, public_key: str) -> tuple[Syncer, Store, CentralClient]:
    config = config_module.from_mapping({
        "device": {"id": DEVICE_ID, "data_dir": str(base)},
        "central": {"url": url, "token": token, "public_key": public_key},
        "sync": {"max_media_bytes": 100_000_000},
    }, "bench", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config, backoff_base_s=0.05)
    return Syncer(config, store, MediaStore(config.media_dir), client), store, client


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        root = Path(tmp)
        faults = Faults()
        server = serve_in_thread(create_app(root / "central", faults=faults))
        catalog = server.catalog
        token = catalog.add_device(DEVICE_ID, ["thon-1"])
        relay = CountingRelay(server.port)
        rows: list[tuple[str, str, str]] = []
        try:
            started = time.monotonic()
            for n in range(FEED_ITEMS):
                item_id = catalog.add_item(kind="text", title=f"Thông báo số {n}",
                                           text=f"Nội dung thông báo số {n} của Ủy ban nhân dân xã.")
                catalog.approve_item(item_id, by="Chủ tịch UBND xã")
            seed_s = time.monotonic() - started

            syncer, store, client = _device(root / "device-a", relay.url, token, catalog.public_key_b64)
            started = time.monotonic()
            first = syncer.sync_once()
            first_s = time.monotonic() - started
            assert first.ok and first.new == FEED_ITEMS, first.error
            first_bytes = relay.sent + relay.received
            relay.reset()
            again = syncer.sync_once()
            assert again.ok and again.not_modified, again.error
            unchanged_requests = again.requests
            unchanged_bytes = relay.sent + relay.received
            rows += [
                ("seed central with 1,000 signed items", f"{seed_s:.1f} s", ""),
                ("first sync of 1,000 items", f"{first.requests} requests", f"{first_bytes:,} B, {first_s:.1f} s"),
                ("re-sync, feed unchanged", f"{unchanged_requests} requests",
                 f"{unchanged_bytes:,} B (target: 1 request, < 2,048 B)"),
            ]
            store.close()
            client.close()

            media = catalog.add_media(os.urandom(MEDIA_BYTES), mime="audio/mpeg")
            item_id = catalog.add_item(kind="audio", title="Chương trình dài", media=media)
            catalog.approve_item(item_id, by="Chủ tịch UBND xã")
            syncer, store, client = _device(root / "device-b", relay.url, token, catalog.public_key_b64)
            faults.add("/v1/media/", cut_after=CUT_EVERY)
            faults.reset_log()
            relay.reset()
            started = time.monotonic()
            result = syncer.sync_once()
            media_s = time.monotonic() - started
            assert result.ok, result.error
            assert store.get_item(item_id)["state"] == "ready"
            # The server logs a request when its body generator closes, a moment after the client is done.
            deadline = time.monotonic() + 10
            while sum(r.body_bytes for r in faults.requests("/v1/media/")) < MEDIA_BYTES \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            media_requests = faults.requests("/v1/media/")
            body = sum(r.body_bytes for r in media_requests)
            overhead = (body - MEDIA_BYTES) / MEDIA_BYTES
            wire_overhead = (relay.sent + relay.received - MEDIA_BYTES) / MEDIA_BYTES
            rows += [
                ("50 MB media, cut every 5 MB", f"{len(media_requests)} requests",
                 f"{body:,} body B in {media_s:.1f} s"),
                ("  bytes re-fetched (body)", f"{overhead:.2%}", "target: <= 10 %"),
                ("  wire overhead incl. headers, 1,000-item feed", f"{wire_overhead:.2%}", ""),
            ]
            store.close()
            client.close()
        finally:
            relay.close()
            server.stop()
            catalog.close()

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>14}  detail")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 40}")
    for name, value, detail in rows:
        print(f"{name.ljust(width)}  {value:>14}  {detail}")
    print(f"RESULT unchanged_requests={unchanged_requests} unchanged_bytes={unchanged_bytes} "
          f"resume_overhead={overhead:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
