"""A small HTTP audio stream server on 127.0.0.1 for playback tests.

It stands in for a national or provincial station's relay: it can serve a clip at once or
paced at its byte rate (like a live stream), loop a body forever (an endless live stream),
stall after N bytes while keeping the connection open (the case libVLC never reports by
itself), and answer 404 for anything not registered. ``refused_url()`` gives a loopback URL
where nothing listens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import socket
import struct
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class Route:
    body: bytes
    header: bytes = b""
    content_type: str = "audio/wav"
    rate_bps: float | None = None  # None: as fast as the socket takes it
    loop: bool = False  # repeat body after the header until the client leaves
    stall_after: int | None = None  # bytes sent before going silent (connection kept open)


def endless_wav_header(sample_rate: int = 44100, channels: int = 1, sample_width: int = 2) -> bytes:
    """A RIFF/WAVE header whose sizes say 'as long as possible', as live WAV streams send."""
    byte_rate = sample_rate * channels * sample_width
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, byte_rate, channels * sample_width,
                      8 * sample_width)
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", 0xFFFFFFFF - 36))


def wav_bytes(frames: bytes, sample_rate: int = 44100, channels: int = 1, sample_width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(sample_width)
        out.setframerate(sample_rate)
        out.writeframes(frames)
    return buffer.getvalue()


class StreamServer:
    """Serves registered routes; use as a context manager. ``url(path)`` gives the full URL."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._closing = threading.Event()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                server.requests.append(self.path)
                route = server._routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                if not route.loop and route.stall_after is None:
                    self.send_header("Content-Length", str(len(route.header) + len(route.body)))
                self.end_headers()
                # The player hanging up is normal at stop().
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server._send(self.wfile, route)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="streamserver", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, route: Route) -> str:
        self._routes[path] = route
        return self.url(path)

    def _send(self, out: io.BufferedIOBase, route: Route) -> None:
        started = time.monotonic()
        sent = 0

        def emit(data: bytes) -> bool:
            nonlocal sent
            for start in range(0, len(data), CHUNK):
                if self._closing.is_set():
                    return False
                piece = data[start:start + CHUNK]
                if route.stall_after is not None and sent + len(piece) > route.stall_after:
                    piece = piece[:max(0, route.stall_after - sent)]
                    out.write(piece)
                    out.flush()
                    sent += len(piece)
                    # Keep the connection open and silent, as a hung relay does.
                    self._closing.wait()
                    return False
                if route.rate_bps:
                    due = started + sent / route.rate_bps
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                out.write(piece)
                out.flush()
                sent += len(piece)
            return True

        if not emit(route.header):
            return
        while emit(route.body) and route.loop:
            pass

    def __enter__(self) -> StreamServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def refused_url(path: str = "/live.wav") -> str:
    """A loopback URL on a port that was free a moment ago, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
