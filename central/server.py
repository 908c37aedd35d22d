"""The reference central's HTTP face (protocol v1, docs/protocol.md) and a loopback runner.

``create_app(data_dir)`` builds the Flask app over a ``Catalog``; ``serve_in_thread(app)``
runs it on a free loopback port in a background thread (tests, demo, benchmarks).
Production deployments use ``commune-central serve`` (waitress).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from appliance import protocol
from central.catalog import BadCursor, Catalog, Device
from central.faults import FaultMiddleware, Faults
from central.media import CHUNK, RangeNotSatisfiable, parse_range

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_BEARER_RE = re.compile(r"^Bearer ([A-Za-z0-9._~+/=-]{1,200})$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _json(body: Any, status: int = 200) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def catalog_of(app: Flask) -> Catalog:
    return app.extensions["central.catalog"]


def create_app(data_dir: Path, *, clock: Callable[[], datetime] | None = None,
               faults: Faults | None = None) -> Flask:
    """The central WSGI app over ``data_dir`` (created and keyed on first use)."""
    catalog = Catalog(Path(data_dir), clock=clock)
    app = Flask("central")
    app.extensions["central.catalog"] = catalog

    def authenticate() -> Device:
        match = _BEARER_RE.match(request.headers.get("Authorization", ""))
        device = catalog.authenticate(match.group(1)) if match else None
        if device is None:
            raise ApiError(401, "unauthorized", "missing or invalid device token",
                           {"WWW-Authenticate": 'Bearer realm="commune-radio"'})
        return device

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = _error(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return _error(exc.code or 500, code, exc.description or exc.name or "error")

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return _error(500, "internal", "internal server error")

    @app.after_request
    def server_time(response: Response) -> Response:
        response.headers["X-Server-Time"] = protocol.format_utc(catalog.clock())
        return response

    @app.get("/v1/info")
    def info() -> Response:
        # Informational only: a device must get the public key out of band, never from here.
        return _json({"protocol": protocol.PROTOCOL_VERSION, "server_time": protocol.format_utc(catalog.clock()),
                      "key_id": catalog.key_id, "public_key": catalog.public_key_b64})

    @app.get("/v1/devices/<device_id>/feed")
    def feed(device_id: str) -> Response:
        device = authenticate()
        if device.id != device_id:
            raise ApiError(403, "forbidden", "this token belongs to another device")
        limit_text = request.args.get("limit", str(protocol.FEED_PAGE_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= protocol.FEED_PAGE_LIMIT:
            raise ApiError(400, "bad_request", f"limit must be 1..{protocol.FEED_PAGE_LIMIT}")
        try:
            answer = catalog.feed(device, request.args.get("cursor"), limit=int(limit_text))
        except BadCursor:
            raise ApiError(400, "bad_cursor", "the cursor was not issued by this server") from None
        catalog.touch_device(device.id)
        if answer.etag in _etags(request.headers.get("If-None-Match", "")):
            response = Response(status=304)
            response.headers["ETag"] = answer.etag
            return response
        response = _json(answer.body)
        response.headers["ETag"] = answer.etag
        return response

    @app.get("/v1/media/<sha256>")
    def media(sha256: str) -> Response:
        authenticate()
        found = catalog.media_info(sha256) if _SHA_RE.match(sha256) else None
        if found is None:
            raise ApiError(404, "not_found", "no such media")
        path, size, mime = found
        try:
            span = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            response = _error(416, "range_not_satisfiable", f"the file has {size} bytes")
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        first, last = span if span is not None else (0, size - 1)
        response = Response(_read_span(path, first, last), status=206 if span else 200, mimetype=mime,
                            direct_passthrough=True)
        response.headers["Content-Length"] = str(last - first + 1)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["ETag"] = f'"{sha256}"'
        if span is not None:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return response

    # Monitoring (issue 5): heartbeat and logs endpoints, fleet pages, JSON API.
    from central.monitoring_web import register_monitoring

    register_monitoring(app, catalog, authenticate)

    if faults is not None:
        app.extensions["central.faults"] = faults
        app.wsgi_app = FaultMiddleware(app.wsgi_app, faults, catalog.clock)  # type: ignore[method-assign]
    return app


def _etags(header: str) -> set[str]:
    # Weak comparison (RFC 9110 If-None-Match): W/"x" matches "x".
    tags = set()
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part:
            tags.add(part)
    return tags


def _read_span(path: Path, first: int, last: int) -> Iterator[bytes]:
    remaining = last - first + 1
    with open(path, "rb") as handle:
        handle.seek(first)
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


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
        return catalog_of(self.app)

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
