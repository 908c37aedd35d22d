"""Control channel over a real Unix socket: protocol, validation, permissions, audit of actions."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from appliance.control import ControlClient, ControlServer, validate_request
from appliance.errors import ControlError
from appliance.state.store import Store
from protocol.errors import ValidationError

ZONES = ["trung-tam", "thon-dong"]


class VolumeKeeper:
    """A tiny real handler: keeps a volume and answers status (the daemon's handler is tested elsewhere)."""

    def __init__(self) -> None:
        self.volume = 80
        self.calls: list[tuple[str, dict[str, Any], str]] = []

    def __call__(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        self.calls.append((action, params, actor))
        if action == "set_volume":
            self.volume = params["volume"]
        if action == "play" and params["item_id"] == "missing":
            raise ValidationError("Không có bản tin.", "No such item.", code="invalid_input.no_item")
        if action == "stop":
            raise RuntimeError("player exploded")
        return {"volume": self.volume}


@pytest.fixture()
def channel(tmp_path: Path):
    store = Store.open(tmp_path / "s.db")
    handler = VolumeKeeper()
    server = ControlServer(tmp_path / "control.sock", handler, zone_names=ZONES, store=store)
    server.start()
    yield server, handler, store, ControlClient(tmp_path / "control.sock", timeout=10)
    server.stop()
    store.close()


def test_socket_mode_and_roundtrip(channel) -> None:
    server, handler, store, client = channel
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o660
    assert client.request("status")["volume"] == 80
    assert client.request("set_volume", actor="panel:lan", volume=35) == {"volume": 35}
    assert handler.volume == 35
    events = store.recent_events()
    # Actions are audited with their actor; status polls are not.
    assert [(e["kind"], e["data"]["actor"]) for e in events] == [("control.set_volume", "panel:lan")]


@pytest.mark.parametrize(("message", "code"), [
    ({"action": "set_volume", "params": {"volume": 101}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "set_volume", "params": {"volume": "50"}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "play", "params": {}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "play", "params": {"item_id": "x", "zones": ["mars"]}, "actor": "cli:root"}, "control.unknown_zone"),
    ({"action": "emergency", "params": {"text": "a", "item_id": "b"}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "emergency", "params": {"text": "   "}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "emergency", "params": {"text": "x" * 6000}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "launch", "params": {}, "actor": "cli:root"}, "control.unknown_action"),
    ({"action": "status", "params": {"x": 1}, "actor": "cli:root"}, "control.bad_request"),
    ({"action": "status", "params": {}}, "control.bad_request"),
    ({"action": "status", "params": [], "actor": "cli:root"}, "control.bad_request"),
    (["status"], "control.bad_request"),
])
def test_bad_requests_get_bilingual_errors_and_change_nothing(channel, message: Any, code: str) -> None:
    server, handler, store, _ = channel
    response = server.handle_line(json.dumps(message).encode())
    assert response["ok"] is False
    assert response["error"]["code"] == code
    assert response["error"]["vi"] and response["error"]["en"] and response["error"]["vi"] != response["error"]["en"]
    assert handler.calls == [] and store.recent_events() == []


def test_garbage_bytes_and_long_lines_over_the_socket(channel) -> None:
    server, handler, _, client = channel
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(server.path))
        sock.sendall(b"\xff\xfe not json\n")
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["ok"] is False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(server.path))
        sock.sendall(b"{" + b" " * (70 * 1024))
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["ok"] is False and "too long" in reply["error"]["en"]
    assert handler.calls == []
    # The server still answers afterwards.
    assert client.request("status")["volume"] == 80


def test_handler_errors_are_reported_not_fatal(channel) -> None:
    _, _, store, client = channel
    with pytest.raises(ControlError) as err:
        client.request("play", item_id="missing", zones=["thon-dong"])
    assert err.value.code == "invalid_input.no_item"
    with pytest.raises(ControlError) as err:
        client.request("stop")
    assert err.value.code == "control.internal" and "player exploded" in err.value.en
    assert client.request("status")["volume"] == 80
    assert any(e["kind"] == "control.crash" for e in store.recent_events())


def test_client_reports_daemon_not_running(tmp_path: Path) -> None:
    with pytest.raises(ControlError) as err:
        ControlClient(tmp_path / "nope.sock").request("status")
    assert err.value.code == "control.not_running" and "not running" in err.value.en


def test_validate_request_normalises_zones() -> None:
    action, params, actor = validate_request(
        {"action": "emergency", "params": {"text": " Lũ về ", "zones": "*"}, "actor": "panel:an"}, ZONES)
    assert (action, params, actor) == ("emergency", {"zones": ZONES, "text": "Lũ về"}, "panel:an")
    _, params, _ = validate_request({"action": "relay_test", "params": {"zone": "thon-dong"}, "actor": "cli:x"}, ZONES)
    assert params == {"zone": "thon-dong", "seconds": 3.0}


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"\n",                                   # nesting deeper than the JSON parser's recursion
    b'{"action": "status", "actor": "cli:x", "n": ' + b"9" * 5000 + b"}\n",  # int over Python's digit limit
    b'{"action": [], "params": {}, "actor": "cli:x"}\n',     # unhashable action
    b'{"action": {"a": 1}, "params": {}, "actor": "cli:x"}\n',
])
def test_malformed_json_shapes_are_answered_not_raised(channel, raw: bytes) -> None:
    server, handler, store, client = channel
    response = server.handle_line(raw)
    assert response["ok"] is False and response["error"]["en"]
    assert handler.calls == [] and store.recent_events() == []
    with socket.socket(socket.AF_UNIX) as sock:  # over the socket too: an answer, then the server goes on
        sock.settimeout(10)
        sock.connect(str(server.path))
        sock.sendall(raw)
        assert json.loads(sock.makefile("rb").readline())["ok"] is False
    assert client.request("status")["volume"] == 80


def test_audit_records_the_kernel_reported_peer(channel) -> None:
    _, _, store, client = channel
    client.request("set_volume", actor="panel:someone-else", volume=10)
    [event] = store.recent_events()
    assert event["data"]["actor"] == "panel:someone-else"
    assert event["data"]["peer"]["uid"] == os.getuid() and event["data"]["peer"]["pid"] == os.getpid()


def test_a_trickling_client_is_cut_off_and_never_delays_others(channel, monkeypatch) -> None:
    import threading
    import time

    from appliance import control

    monkeypatch.setattr(control, "REQUEST_DEADLINE_S", 1.0)
    server, _, _, client = channel
    with socket.socket(socket.AF_UNIX) as slow:
        slow.settimeout(10)
        slow.connect(str(server.path))
        stop = threading.Event()

        def trickle() -> None:  # one byte every 0.2 s: never a whole line
            for byte in b'{"action": "status", "params": {}, "actor": "cli:slow"' + b" " * 200:
                if stop.is_set():
                    return
                try:
                    slow.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

        feeder = threading.Thread(target=trickle, daemon=True)
        feeder.start()
        started = time.monotonic()
        for _ in range(5):
            assert client.request("status")["volume"] == 80
        assert time.monotonic() - started < 2
        reply = json.loads(slow.makefile("rb").readline())
        stop.set()
        assert reply["ok"] is False and reply["error"]["code"] == "control.timeout"
        assert time.monotonic() - started < 5
        feeder.join(timeout=5)


def test_a_connection_flood_is_refused_busy_and_the_channel_recovers(tmp_path: Path, monkeypatch) -> None:
    from appliance import control

    monkeypatch.setattr(control, "MAX_CONNECTIONS", 4)
    handler = VolumeKeeper()
    server = ControlServer(tmp_path / "c.sock", handler, zone_names=ZONES)
    server.start()
    idle = []
    try:
        for _ in range(4):
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(10)
            sock.connect(str(server.path))
            idle.append(sock)
        with socket.socket(socket.AF_UNIX) as extra:
            extra.settimeout(5)
            extra.connect(str(server.path))
            extra.sendall(b'{"action": "status", "params": {}, "actor": "cli:x"}\n')
            reply = json.loads(extra.makefile("rb").readline())
        assert reply["ok"] is False and reply["error"]["code"] == "control.busy"
        idle.pop().close()
        client = ControlClient(server.path, timeout=10)
        for _ in range(20):  # the freed slot is released as soon as the server sees the close
            try:
                assert client.request("status")["volume"] == 80
                break
            except ControlError as exc:
                assert exc.code == "control.busy"
                import time
                time.sleep(0.05)
        else:
            raise AssertionError("the channel did not recover")
    finally:
        for sock in idle:
            sock.close()
        server.stop()
