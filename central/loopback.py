"""Central on a free loopback port in a background thread: the demo, the tests, the benchmarks.

Production serves ``central.app.create_app`` with a real WSGI server (``commune-central serve``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from central.catalog import Catalog


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler with a short Server header and no per-request log lines."""

    server_version = "central"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class RunningServer:
    app: Flask
    host: str
    port: int
    _server: BaseWSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def catalog(self) -> Catalog:
        return self.app.extensions["central.catalog"]

    def stop(self) -> None:
        faults = self.app.extensions.get("central.faults")
        if faults is not None:
            faults.clear()  # wake requests sleeping in an injected delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` with werkzeug's threaded server in a daemon thread; port 0 picks a free one."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"central-{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(app=app, host=host, port=server.server_port, _server=server, _thread=thread)
