"""Serving central in production: gunicorn, several worker processes, threads for the requests.

``commune-central serve`` runs gunicorn (``--server gunicorn``, the default on Linux) with
``gthread`` workers: each worker process has ``threads`` request threads, and a connection kept
alive by a device waits in the worker's selector without holding a thread, so thousands of
idle keep-alive devices (``worker_connections`` per worker) never starve the others. Each worker
opens its own database pool after the fork (nothing is shared across processes but the listening
socket). One process runs the hourly maintenance: whoever holds ``<data_dir>/maintenance.lock``
(``central.maintenance.MaintenanceThread`` with a lock file; another worker takes over when it dies).

``--server waitress`` keeps the single-process server for the demo and small sites (it needs no
fork, so it runs wherever Python does). nginx in front (deploy/nginx/commune-central.conf) ends
TLS, buffers slow clients and serves many more idle connections; docs/central-deployment.md
has the sizing.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.config import CentralConfig

DEFAULT_THREADS = 8
KEEPALIVE_S = 75                 # longer than the devices' 60 s heartbeat: one connection each
WORKER_CONNECTIONS = 4000        # open connections per worker (gthread); beyond this they queue
BACKLOG = 2048


def default_workers() -> int:
    """One worker per core plus one (requests spend time in the database, not only in Python)."""
    return (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8700
    workers: int = field(default_factory=default_workers)
    threads: int = DEFAULT_THREADS
    keepalive_s: int = KEEPALIVE_S
    worker_connections: int = WORKER_CONNECTIONS
    trusted_proxies: tuple[str, ...] = ()
    access_log: bool = False

    def gunicorn_settings(self) -> dict[str, Any]:
        """gunicorn's settings for these options (also read by tests and the docs)."""
        return {
            "bind": [f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"],
            "workers": self.workers, "worker_class": "gthread", "threads": self.threads,
            "keepalive": self.keepalive_s, "worker_connections": self.worker_connections,
            "backlog": BACKLOG, "timeout": 60, "graceful_timeout": 30,
            # Recycle workers now and then (a leak cannot grow for ever); jitter so they never all go at once.
            "max_requests": 200_000, "max_requests_jitter": 20_000,
            # Proxy headers are judged by the app (central.proxies), never by gunicorn itself.
            "forwarded_allow_ips": "", "secure_scheme_headers": {},
            "accesslog": "-" if self.access_log else None, "errorlog": "-", "loglevel": "info",
            "proc_name": "commune-central", "preload_app": False,
        }


def serve_gunicorn(config: CentralConfig, options: ServeOptions) -> None:
    """Run gunicorn in this process (the arbiter) until it is stopped (SIGTERM / SIGINT)."""
    from gunicorn.app.base import BaseApplication

    from central.app import create_app
    from central.intake.service import IntakeThread
    from central.maintenance import MaintenanceThread

    lock_path = Path(config.data_dir) / "maintenance.lock"

    class CentralApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.gunicorn_settings().items():
                if value is not None:
                    self.cfg.set(key, value)
            self.cfg.set("post_worker_init", _post_worker_init)
            self.cfg.set("worker_exit", _worker_exit)

        def load(self) -> Any:
            # Runs in each worker after the fork: its own engine, pool and services.
            app = create_app(config.data_dir, config=config, trusted_proxies=options.trusted_proxies)
            catalog = app.extensions["central.catalog"]
            maintenance = MaintenanceThread(catalog.store, config.retention, catalog.clock, lock_path=lock_path)
            app.extensions["central.maintenance"] = maintenance
            app.extensions["central.intake_thread"] = IntakeThread(app.extensions["central.intake"],
                                                                   only_when=lambda: maintenance.holds_lock)
            return app

    def _post_worker_init(worker: Any) -> None:
        maintenance = worker.wsgi.extensions.get("central.maintenance")
        if maintenance is not None:
            maintenance.start()
        intake = worker.wsgi.extensions.get("central.intake_thread")
        if intake is not None:  # polls due feed and CAP sources (commune-central source …)
            intake.start()
        fleet = worker.wsgi.extensions.get("central.fleet")
        if fleet is not None:  # the fleet page's counts per province, before anyone asks
            threading.Thread(target=_warm, args=(fleet,), name="fleet-warm", daemon=True).start()

    def _worker_exit(_server: Any, worker: Any) -> None:
        app = getattr(worker, "wsgi", None)
        if app is None:
            return
        maintenance = app.extensions.get("central.maintenance")
        intake = app.extensions.get("central.intake_thread")
        if intake is not None and intake.is_alive():
            intake.stop()
        if maintenance is not None:
            maintenance.stop()
        app.extensions["central.catalog"].close()

    CentralApplication().run()


def serve_waitress(config: CentralConfig, options: ServeOptions) -> None:
    """One process, ``threads`` threads: the demo and small sites."""
    import waitress

    from central.app import create_app
    from central.intake.service import IntakeThread
    from central.maintenance import MaintenanceThread

    app = create_app(config.data_dir, config=config, trusted_proxies=options.trusted_proxies)
    catalog = app.extensions["central.catalog"]
    maintenance = MaintenanceThread(catalog.store, config.retention, catalog.clock)
    maintenance.start()
    intake = IntakeThread(app.extensions["central.intake"])  # polls due sources (commune-central source …)
    intake.start()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # systemd's stop: close the store, then exit 0
    try:
        # Proxy headers are judged by the app (central.proxies); waitress must leave them to it.
        # connection_limit: waitress's default of 100 would be taken by 100 keep-alive devices.
        waitress.serve(app, host=options.host, port=options.port, threads=options.threads, ident="central",
                       clear_untrusted_proxy_headers=False, connection_limit=options.worker_connections,
                       channel_timeout=options.keepalive_s)
    finally:
        intake.stop()
        maintenance.stop()
        catalog.close()


def _warm(fleet: Any) -> None:
    try:
        fleet.warm()
    except Exception:  # the database is away: the first page counts then
        logging.getLogger("central.serving").exception("counting the fleet at start failed")


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    sys.exit(0)
