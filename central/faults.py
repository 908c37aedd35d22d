"""Fault injection for tests and benchmarks: a WSGI middleware steered at run time.

A test holds the ``Faults`` object it passed to ``create_app`` and adds rules while the
server runs, e.g. ``faults.add("/v1/media/", cut_after=5_000_000)`` ("cut every 5 MB") or
``faults.add("/v1/devices/", status=503, retry_after=2, times=1)``. Rules match by path
prefix (and optionally method); the first rule that applies wins. Every request is also
recorded (method, path, status, body bytes) so tests and benchmarks can count traffic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import protocol

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_REASONS = {302: "Found", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class FaultRule:
    """One fault. Counters are updated under ``Faults``' lock."""

    prefix: str
    method: str | None = None
    status: int | None = None          # answer this status (JSON error body) without calling the app
    retry_after: int | None = None     # with ``status``: a Retry-After header (seconds)
    delay_s: float = 0.0               # sleep before answering (client read timeouts)
    truncate_to: int | None = None     # body cut to N bytes, Content-Length adjusted (looks complete)
    cut_after: int | None = None       # connection closed after N body bytes, Content-Length kept
    overlong: int = 0                  # N extra bytes appended, Content-Length grown to match
    redirect_to: str | None = None     # 302 to this origin + the original path and query
    every_nth: int | None = None       # apply only to every Nth matching request
    times: int | None = None           # apply to this many requests, then retire
    seen: int = 0
    applied: int = 0

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.prefix) and (self.method is None or self.method == method)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    body_bytes: int
    header_bytes: int  # status line + headers the app sent (the server adds a few more)
    fault: bool


@dataclass
class Faults:
    """The run-time controllable fault set shared between a test and the middleware."""

    rules: list[FaultRule] = field(default_factory=list)
    log: list[RequestRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    def add(self, prefix: str, **options: Any) -> FaultRule:
        rule = FaultRule(prefix=prefix, **options)
        if rule.every_nth is not None and rule.every_nth < 1:
            raise ValueError("every_nth must be >= 1")
        with self._lock:
            self._release.clear()
            self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self) -> None:
        """Drop every rule and wake any request sleeping in a delay."""
        with self._lock:
            self.rules.clear()
            self._release.set()

    def requests(self, prefix: str = "") -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.every_nth is not None and rule.seen % rule.every_nth:
                    continue
                if rule.times is not None and rule.applied >= rule.times:
                    continue
                rule.applied += 1
                return rule
            return None

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self.log.append(record)

    def sleep(self, seconds: float) -> None:
        self._release.wait(seconds)


def _header_bytes(status: str, headers: list[tuple[str, str]]) -> int:
    return len(f"HTTP/1.1 {status}\r\n") + sum(len(k) + len(v) + 4 for k, v in headers) + 2


class FaultMiddleware:
    """Wraps the central WSGI app; passes requests through untouched unless a rule applies."""

    def __init__(self, app: WSGIApp, faults: Faults, clock: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self.faults = faults
        self.clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        rule = self.faults.pick(method, path)
        if rule is not None and rule.delay_s > 0:
            self.faults.sleep(rule.delay_s)
        if rule is not None and (rule.status is not None or rule.redirect_to is not None):
            return self._answer(rule, method, path, query, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            captured["status"], captured["headers"] = status, list(headers)
            return lambda data: None  # the legacy write() callable: our app never uses it

        body = self.app(environ, capture)
        status, headers = captured["status"], captured["headers"]
        chunks = self._shape(rule, body, headers)
        start_response(status, headers)
        return self._count(chunks, method, path, query, status, headers, rule is not None)

    def _answer(self, rule: FaultRule, method: str, path: str, query: str,
                start_response: StartResponse) -> Iterable[bytes]:
        headers = [("X-Server-Time", protocol.format_utc(self.clock()))]
        if rule.redirect_to is not None:
            code = 302
            location = rule.redirect_to.rstrip("/") + path + (f"?{query}" if query else "")
            headers.append(("Location", location))
            payload = b""
        else:
            code = int(rule.status or 500)
            payload = json.dumps({"error": {"code": "injected_fault",
                                            "message": f"injected HTTP {code}"}}).encode()
            headers.append(("Content-Type", "application/json"))
            if rule.retry_after is not None:
                headers.append(("Retry-After", str(rule.retry_after)))
        headers.append(("Content-Length", str(len(payload))))
        status = f"{code} {_REASONS.get(code, 'Fault')}"
        start_response(status, headers)
        self.faults.record(RequestRecord(method, path, query, code, len(payload),
                                         _header_bytes(status, headers), True))
        return [payload]

    @staticmethod
    def _shape(rule: FaultRule | None, body: Iterable[bytes], headers: list[tuple[str, str]]) -> Iterator[bytes]:
        """Apply the body faults; edits ``headers`` in place before they are sent."""
        if rule is None:
            return iter(_closing(body))
        if rule.truncate_to is not None:
            kept = b"".join(_limited(_closing(body), rule.truncate_to))
            _set_header(headers, "Content-Length", str(len(kept)))
            return iter([kept])
        if rule.cut_after is not None:
            return _limited(_closing(body), rule.cut_after)
        if rule.overlong:
            length = _get_header(headers, "Content-Length")
            if length is not None:
                _set_header(headers, "Content-Length", str(int(length) + rule.overlong))
            return _chain(_closing(body), b"\x00" * rule.overlong)
        return iter(_closing(body))

    def _count(self, chunks: Iterator[bytes], method: str, path: str, query: str, status: str,
               headers: list[tuple[str, str]], fault: bool) -> Iterator[bytes]:
        # Recorded before the last byte goes out when the length is known: a client that reads
        # its answer and then counts the requests must find this one already recorded.
        length = _get_header(headers, "Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        sent, recorded = 0, False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self.faults.record(RequestRecord(method, path, query, int(status.split()[0]), sent,
                                                 _header_bytes(status, headers), fault))
        try:
            if expected == 0:
                record()
            for chunk in chunks:
                sent += len(chunk)
                if expected is not None and sent >= expected:
                    record()
                yield chunk
        finally:
            record()


def _closing(body: Iterable[bytes]) -> Iterator[bytes]:
    """Iterate a WSGI body and always call its close() (Flask streams files through it)."""
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _limited(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    remaining = limit
    for chunk in chunks:
        if remaining <= 0:
            break
        piece = chunk[:remaining]
        remaining -= len(piece)
        yield piece
    # Stop early: the generator's close() runs the body's close() via _closing.
    if isinstance(chunks, Iterator) and hasattr(chunks, "close"):
        chunks.close()


def _chain(chunks: Iterator[bytes], tail: bytes) -> Iterator[bytes]:
    yield from chunks
    yield tail


def _get_header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def _set_header(headers: list[tuple[str, str]], name: str, value: str) -> None:
    headers[:] = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
