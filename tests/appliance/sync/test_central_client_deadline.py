"""A central (or a man in the middle) that trickles its answer byte by byte cannot hold the sync:
JSON answers have a whole-answer deadline on top of the per-read timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import appliance.sync.client as central_client
from appliance.sync.client import CentralClient
from protocol.errors import CentralError


def _trickling_server(stop: threading.Event) -> int:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                body = b'{"items": []}' + b" " * 400
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
                for byte in body:  # one byte every 50 ms: each read is quick, the answer never ends
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.05)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_trickled_json_answer_hits_the_whole_answer_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(central_client, "JSON_DEADLINE_MIN_S", 1.0)
    stop = threading.Event()
    port = _trickling_server(stop)
    client = CentralClient(f"http://127.0.0.1:{port}", "token", connect_timeout_s=1.0, read_timeout_s=0.2,
                           max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(CentralError) as caught:
            client.get_json("/v1/info")
    finally:
        stop.set()
    assert caught.value.code == "central_timeout"
    assert time.monotonic() - started < 10  # the answer alone would take over 20 s
