"""Serving the panel with waitress: in the foreground (``commune-radio panel``) or in a thread
(the demo, tests). Waitress is pure Python and production-grade. Proxy headers are judged by
the app itself (``appliance.panel.proxies``: only from ``panel.trusted_proxies``), so
``request.is_secure`` and the client address are right behind a TLS proxy and cannot be faked
by anyone else."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from appliance.state.config import Config
from appliance.state.store import Store


@dataclass
class RunningPanel:
    url: str
    server: Any
    thread: threading.Thread
    store: Store

    def stop(self) -> None:
        self.server.close()
        self.thread.join(5)
        self.store.close()


def make_server(config: Config, *, host: str, port: int, threads: int = 8, store: Store | None = None) -> Any:
    import waitress

    from appliance.panel import create_app

    # "Task queue depth" is logged for every queued request under load: noise in the journal.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = create_app(config, store=store or Store.open(config.db_path))
    return waitress.create_server(app, host=host, port=port, threads=threads, ident="commune-radio",
                                  max_request_body_size=config.panel.max_upload_bytes + 1_000_000,
                                  # The app believes proxy headers only from panel.trusted_proxies
                                  # (proxies.py); waitress must leave them for it to judge.
                                  clear_untrusted_proxy_headers=False)


def serve_in_thread(config: Config, *, host: str = "127.0.0.1", port: int = 0, threads: int = 4) -> RunningPanel:
    """Start the panel on ``host:port`` (0: a free port) in a daemon thread; returns its URL."""
    store = Store.open(config.db_path)
    server = make_server(config, host=host, port=port, threads=threads, store=store)
    thread = threading.Thread(target=server.run, name="panel", daemon=True)
    thread.start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return RunningPanel(f"http://{shown}:{server.effective_port}/", server, thread, store)
