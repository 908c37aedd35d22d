"""Production serving (central.serving): gunicorn with several worker processes over real HTTP,
hundreds of idle keep-alive devices not exhausting the server, one maintenance process, and
a clean stop; waitress (the simple case) no longer limited to ~100 connections."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from appliance.system import procstats
from central.catalog import Catalog
from central.config import CentralConfig, Retention
from central.maintenance import MaintenanceThread
from central.serving import ServeOptions
from central.store import Store

IDLE_DEVICES = 400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(data: Path, database_url: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "central.cli", "serve", "--data", str(data), "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "COMMUNE_CENTRAL_DATABASE_URL": database_url})
    deadline = time.monotonic() + 90
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/info", timeout=5)
            return proc, port
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "commune-central serve did not start"
            time.sleep(0.2)


def _keep_alive_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` devices that made one request each and keep their connection open, idle."""
    request = f"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    conns = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(request)
        conns.append(sock)
    for sock in conns:
        assert b"200 OK" in _read_answer(sock)
    return conns


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed by the server"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.parametrize("server", ["gunicorn", "waitress"])
def test_idle_keep_alive_devices_do_not_exhaust_the_server(tmp_path: Path, central_database_url: str,
                                                           server: str) -> None:
    data = tmp_path / "c"
    with Catalog(data, config=CentralConfig(data_dir=data, database_url=central_database_url)) as catalog:
        token = catalog.add_device("26881-0001", ["thon-1"])
    proc, port = _start(data, central_database_url, "--server", server, "--workers", "2", "--threads", "4")
    conns: list[socket.socket] = []
    try:
        if server == "gunicorn":
            workers = procstats.child_pids(proc.pid)
            assert len(workers) == 2, workers
        conns = _keep_alive_connections(port, IDLE_DEVICES)   # 100 × the request threads
        started = time.monotonic()
        answer = requests.get(f"http://127.0.0.1:{port}/v1/devices/26881-0001/feed",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200 and time.monotonic() - started < 5
        # The idle connections were kept alive, not dropped: each still answers.
        for sock in conns[:: IDLE_DEVICES // 20]:
            sock.sendall(f"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert b"200 OK" in _read_answer(sock)
        if server == "gunicorn":
            lock = data / "maintenance.lock"
            deadline = time.monotonic() + 20
            while not (lock.exists() and lock.read_text().strip()):
                assert time.monotonic() < deadline, "no worker took the maintenance lock"
                time.sleep(0.2)
            assert int(lock.read_text()) in workers   # one worker runs maintenance, not the arbiter
    finally:
        for sock in conns:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 0, output[-3000:]


def test_gunicorn_settings_leave_proxy_headers_to_the_app() -> None:
    settings = ServeOptions(host="127.0.0.1", port=8700, workers=3).gunicorn_settings()
    assert settings["worker_class"] == "gthread" and settings["workers"] == 3
    assert settings["keepalive"] > 60                      # a device's connection outlives its heartbeat gap
    assert settings["secure_scheme_headers"] == {} and settings["forwarded_allow_ips"] == ""
    assert settings["preload_app"] is False                 # each worker opens its own database pool
    assert ServeOptions(host="::1", port=1).gunicorn_settings()["bind"] == ["[::1]:1"]


def test_only_the_lock_holder_runs_maintenance_and_another_takes_over(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'central.db'}")
    lock = tmp_path / "maintenance.lock"
    from datetime import UTC, datetime

    first = MaintenanceThread(store, Retention(), lambda: datetime.now(UTC), interval_s=0.05, lock_path=lock,
                              lock_retry_s=0.05)
    second = MaintenanceThread(store, Retention(), lambda: datetime.now(UTC), interval_s=0.05, lock_path=lock,
                               lock_retry_s=0.05)
    try:
        first.start()
        deadline = time.monotonic() + 10
        while first.passes < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second.start()
        time.sleep(0.3)
        assert second.passes == 0 and not second.holds_lock and first.holds_lock
        first.stop()
        deadline = time.monotonic() + 10
        while second.passes < 1:
            assert time.monotonic() < deadline, "maintenance stopped with the process that held the lock"
            time.sleep(0.02)
        assert int(lock.read_text()) == os.getpid()
    finally:
        first.stop()
        second.stop()
        store.close()
