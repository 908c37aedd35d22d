"""A local HTTP server on loopback for intake's tests, benchmark and demo.

Routes are set by path (``server.route("/rss/home.rss", Route(body))``) and may change while
it runs (a new article appears). It answers conditional GETs (ETag, Last-Modified → 304),
redirects, slow trickles, endless bodies and delays, and counts the requests each path got.
It binds 127.0.0.1 on a free port only; ``stop()`` ends it and every trickle.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes | Callable[[], bytes] = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    location: str | None = None          # a redirect's target (status 30x)
    conditional: bool = True             # ETag and Last-Modified, 304 when they match
    trickle_bytes_per_s: float = 0.0     # > 0: a slow server, that many bytes a second
    endless_bytes: int = 0               # > 0: that much filler after the body, no Content-Length
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))

    def payload(self) -> bytes:
        return self.body() if callable(self.body) else self.body


class FixtureServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
            server_version = "fixture"
            sys_version = ""

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._answer(self)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="intake-fixtures", daemon=True)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def route(self, path: str, route: Route) -> str:
        """Serve ``route`` at ``path``; returns its full URL."""
        with self._lock:
            self.routes[path] = route
        return self.url + path

    def total_hits(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()

    # ------------------------------------------------------------------ answers

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self.hits[path] += 1
            route = self.routes.get(path)
        try:
            if route is None:
                self._send(handler, 404, b"not found", "text/plain", {})
            elif route.location is not None:
                self._send(handler, route.status if route.status in (301, 302, 303, 307, 308) else 302, b"",
                           "text/plain", {"Location": route.location})
            else:
                self._content(handler, route)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return

    def _content(self, handler: BaseHTTPRequestHandler, route: Route) -> None:
        body = route.payload()
        headers = dict(route.headers)
        if route.conditional:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers.update({"ETag": etag, "Last-Modified": route.last_modified})
            if handler.headers.get("If-None-Match") == etag or (
                    handler.headers.get("If-None-Match") is None
                    and handler.headers.get("If-Modified-Since") == route.last_modified):
                self._send(handler, 304, b"", None, headers)
                return
        if route.endless_bytes:
            self._stream(handler, route, body, headers)
        elif route.trickle_bytes_per_s:
            self._trickle(handler, route, body, headers)
        else:
            self._send(handler, route.status, body, route.content_type, headers)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str | None,
              headers: dict[str, str]) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def _stream(self, handler: BaseHTTPRequestHandler, route: Route, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(route.status)
        handler.send_header("Content-Type", route.content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        handler.wfile.write(body)
        filler = b"<p>" + "Lặp lại nội dung rất dài. ".encode() * 2000 + b"</p>\n"
        sent = 0
        while sent < route.endless_bytes and not self._stopping.is_set():
            handler.wfile.write(filler)
            sent += len(filler)

    def _trickle(self, handler: BaseHTTPRequestHandler, route: Route, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(route.status)
        handler.send_header("Content-Type", route.content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        step = max(1, int(route.trickle_bytes_per_s / 10))
        for at in range(0, len(body), step):
            if self._stopping.wait(0.1):
                return
            handler.wfile.write(body[at:at + step])
            handler.wfile.flush()
