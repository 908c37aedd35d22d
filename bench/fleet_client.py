"""bench/fleet.py's HTTP client: HTTP/1.1 with keep-alive over asyncio streams, nothing else.

The simulated fleet shares the machine's two cores with the central it loads, so what the
client burns per request is taken from central: aiohttp cost about 1.4 ms of CPU per request
(0.35 of a core at 240 requests/s, 0.8 at 550), this client about a tenth of that. It sends the
same bytes a device's client does (request line, Host, Authorization, Content-Type,
If-None-Match, Content-Length, the JSON body) on connections kept alive and reused, reads the
whole answer (Content-Length or chunked) and hands back the status and body. A reused
connection the server closed meanwhile (keep-alive ended, a worker recycled) is retried once on
a new one, as browsers and requests' urllib3 do; nothing else is retried.
"""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlsplit


class HttpError(Exception):
    """A malformed answer or a connection lost mid-answer."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class Client:
    """Requests to one origin; at most ``limit`` at a time, each on a kept-alive connection."""

    def __init__(self, base_url: str, *, limit: int = 1500) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._host_header = f"{self._host}:{self._port}".encode()
        self._idle: deque[_Conn] = deque()
        self._slots = asyncio.Semaphore(limit)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        head.extend(f"{name}: {value}".encode() for name, value in headers.items())
        if body or method == "POST":
            head.append(b"Content-Length: " + str(len(body)).encode())
        data = b"\r\n".join(head) + b"\r\n\r\n" + body
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._open()
            try:
                status, answer, keep = await self._exchange(conn, data)
            except (HttpError, OSError, asyncio.IncompleteReadError) as exc:
                conn.close()
                if not reused or not getattr(exc, "nothing_read", False):
                    raise
                conn = await self._open()   # the server had closed the idle connection: once more
                try:
                    status, answer, keep = await self._exchange(conn, data)
                except BaseException:
                    conn.close()
                    raise
            except BaseException:       # time-out (cancelled): the connection's state is unknown
                conn.close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn.close()
            return status, answer

    async def _open(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        return _Conn(reader, writer)

    @staticmethod
    async def _exchange(conn: _Conn, data: bytes) -> tuple[int, bytes, bool]:
        conn.writer.write(data)
        try:
            raw = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            error = HttpError("connection closed before an answer")
            error.nothing_read = not exc.partial  # type: ignore[attr-defined]
            raise error from None
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"bad status line {lines[0]!r}") from None
        length, chunked, keep = None, False, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        if status in (204, 304) or 100 <= status < 200:
            return status, b"", keep
        if chunked:
            parts = []
            while True:
                size = int((await conn.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await conn.reader.readexactly(size + 2))
                if size == 0:
                    return status, b"".join(p[:-2] for p in parts), keep
        if length is None:
            return status, await conn.reader.read(), False
        return status, await conn.reader.readexactly(length), keep

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
