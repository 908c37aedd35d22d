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
from appliance.errors import ControlError, ValidationError
from appliance.store import Store

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
