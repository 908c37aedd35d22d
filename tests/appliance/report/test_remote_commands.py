"""Remote commands end to end through the real central: signed, verified, run at most once,
refusals reported in the next heartbeat; bad command lists change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import protocol
from appliance.report.remote_commands import RemoteCommands
from appliance.state.store import Store
from central import monitoring_cli
from central.cli import main as central_main
from protocol.errors import ValidationError
from tests.conftest import CentralHandle
from tests.support.report_rig import Executed, device_config, make_reporter


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "device" / "state.sqlite3")
    yield s
    s.close()


def monitor(central: CentralHandle) -> Any:
    return central.server.app.extensions["central.monitor"]


def rig(central: CentralHandle, tmp_path: Path, store: Store, **options: Any) -> tuple[Any, Executed]:
    executed = Executed()
    config = device_config(tmp_path / "device", central.url, central.token, central.public_key_b64)
    return make_reporter(config, store, executor=executed, **options), executed


def signed(central: CentralHandle, *, device_id: str = "12345-0001", ctype: str = "set_volume",
           params: dict[str, Any] | None = None, issued: datetime | None = None, lifetime_s: int = 600,
           ident: str = "cmd-manual", key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    issued = issued or datetime.now(UTC).replace(microsecond=0)
    doc = {"id": ident, "device_id": device_id, "type": ctype,
           "params": {"volume": 40} if params is None else params,
           "issued_at": protocol.format_utc(issued),
           "expires_at": protocol.format_utc(issued + timedelta(seconds=lifetime_s))}
    return protocol.sign_command(doc, key or central.catalog.private_key)


def reported(central: CentralHandle) -> list[tuple[str, str, str | None]]:
    return [(r["command_id"], r["status"], r["error"]) for r in monitor(central).command_reports(central.device_id)]


def test_valid_command_runs_once_and_its_result_reaches_central(central: CentralHandle, tmp_path: Path,
                                                                store: Store) -> None:
    reporter, executed = rig(central, tmp_path, store)
    cmd = monitor(central).queue_command(central.device_id, "set_volume", {"volume": 55}, by="test")
    assert reporter.heartbeat_once().commands == 1
    assert executed.calls == [("set_volume", {"volume": 55}, f"central:{cmd['id']}")]
    assert reporter.heartbeat_once().ok                      # carries the result; central stops sending
    assert executed.calls == [("set_volume", {"volume": 55}, f"central:{cmd['id']}")]
    [row] = monitor(central).commands(central.device_id)
    assert (row["status"], row["deliveries"]) == ("done", 1)
    assert reported(central) == [(cmd["id"], "done", None)]
    assert reporter.heartbeat_once().commands == 0
    assert store.query_one("SELECT COUNT(*) FROM command_results")[0] == 0, "acknowledged results are not repeated"


def test_command_delivered_twice_runs_once(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    reporter, executed = rig(central, tmp_path, store)
    doc = signed(central, ident="cmd-twice")
    monitor(central).queue_raw_command(central.device_id, doc, command_id="cmd-twice")
    monitor(central).queue_raw_command(central.device_id, doc, command_id="copy-of-cmd-twice")
    assert reporter.heartbeat_once().commands == 2
    assert len(executed.calls) == 1
    assert reporter.heartbeat_once().ok
    assert reported(central) == [("cmd-twice", "done", None)], "the second delivery adds no second result"


def test_replayed_command_is_refused_and_reported(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    reporter, executed = rig(central, tmp_path, store)
    doc = signed(central, ident="cmd-replay")
    monitor(central).queue_raw_command(central.device_id, doc, command_id="cmd-replay")
    reporter.heartbeat_once()
    reporter.heartbeat_once()                                # result "done" delivered
    monitor(central).queue_raw_command(central.device_id, doc, command_id="captured-and-replayed")
    reporter.heartbeat_once()
    reporter.heartbeat_once()
    assert len(executed.calls) == 1
    assert ("cmd-replay", "rejected", "replay") in reported(central)
    assert ("cmd-replay", "done", None) in reported(central)
    assert monitor(central).commands(central.device_id)[-1]["status"] == "done", "the first result stands"
    assert any(e["kind"] == "command.replay" for e in store.recent_events(20))


@pytest.mark.parametrize("case", ["expired", "tampered", "wrong_device", "unknown_key", "not_yet_valid", "malformed"])
def test_bad_commands_are_refused_and_reported(central: CentralHandle, tmp_path: Path, store: Store,
                                               case: str) -> None:
    reporter, executed = rig(central, tmp_path, store)
    now = datetime.now(UTC).replace(microsecond=0)
    expected = {"expired": "expired", "tampered": "bad_signature", "wrong_device": "wrong_device",
                "unknown_key": "unknown_key", "not_yet_valid": "not_yet_valid", "malformed": "malformed"}[case]
    if case == "expired":
        doc = signed(central, ident="cmd-bad", issued=now - timedelta(hours=2), lifetime_s=600)
    elif case == "tampered":
        doc = signed(central, ident="cmd-bad")
        doc["params"] = {"volume": 100}
    elif case == "wrong_device":
        doc = signed(central, ident="cmd-bad", device_id="99999-0009")
    elif case == "unknown_key":
        doc = signed(central, ident="cmd-bad", key=Ed25519PrivateKey.generate())
    elif case == "not_yet_valid":
        doc = signed(central, ident="cmd-bad", issued=now + timedelta(hours=1))
    else:
        # Signed by central's real key, but not a valid command shape (an unknown member).
        doc = {k: v for k, v in signed(central, ident="cmd-bad").items() if k != "signature"} | {"surprise": True}
        doc = protocol.sign_document(doc, central.catalog.private_key, domain=protocol.COMMAND_DOMAIN)
    monitor(central).queue_raw_command(central.device_id, doc, command_id="cmd-bad")
    reporter.heartbeat_once()
    reporter.heartbeat_once()
    assert executed.calls == []
    assert ("cmd-bad", "rejected", expected) in reported(central)
    assert monitor(central).commands(central.device_id)[0]["status"] == "rejected"
    events = [e for e in store.recent_events(20) if e["kind"] == "command.rejected"]
    assert events and events[0]["data"]["code"] == f"command_rejected.{expected}"


def test_untrusted_clock_judges_expiry_by_central_time(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    # The device believes it is 2020 (no RTC, no NTP): only central's server_time can say "valid now".
    reporter, executed = rig(central, tmp_path, store, now=lambda: datetime(2020, 1, 1, tzinfo=UTC),
                             clock_trusted=False)
    monitor(central).queue_command(central.device_id, "stop", {})
    reporter.heartbeat_once()
    assert [c[0] for c in executed.calls] == ["stop"]


def test_failed_action_is_reported_failed(central: CentralHandle, tmp_path: Path, store: Store) -> None:
    reporter, executed = rig(central, tmp_path, store)
    executed.fail_with = ValidationError("Chưa cấu hình đồng bộ.", "Sync is off.", code="invalid_input.sync_off")
    cmd = monitor(central).queue_command(central.device_id, "sync_now", {})
    reporter.heartbeat_once()
    reporter.heartbeat_once()
    assert reported(central) == [(cmd["id"], "failed", "invalid_input.sync_off")]
    assert monitor(central).commands(central.device_id)[0]["status"] == "failed"


@pytest.mark.parametrize("commands", [{"id": "x"}, "stop", 42, ["not a command"] * 51],
                         ids=["object", "string", "number", "oversized"])
def test_malformed_or_oversized_command_lists_run_nothing(tmp_path: Path, store: Store, central: CentralHandle,
                                                          commands: Any) -> None:
    executed = Executed()
    remote = RemoteCommands(store, "12345-0001", central.catalog.public_key, executed, now=lambda: datetime.now(UTC))
    outcomes = remote.handle(commands, server_time=datetime.now(UTC), clock_trusted=True)
    assert [o.status for o in outcomes] == ["ignored"] and executed.calls == []
    assert remote.pending_results() == []
    assert store.recent_events(1)[0]["kind"] == "command.bad_list"
    # A good command afterwards still works: nothing got stuck.
    good = signed(central, ident="cmd-after")
    assert [o.status for o in remote.handle([good], server_time=None, clock_trusted=True)] == ["done"]


def test_crash_during_execution_never_runs_the_command_again(tmp_path: Path, store: Store,
                                                            central: CentralHandle) -> None:
    doc = signed(central, ident="cmd-crash")

    def dies(action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        raise KeyboardInterrupt  # stands for the process dying mid-action (no result written)

    remote = RemoteCommands(store, "12345-0001", central.catalog.public_key, dies, now=lambda: datetime.now(UTC))
    with pytest.raises(KeyboardInterrupt):
        remote.handle([doc], server_time=None, clock_trusted=True)
    assert remote.seen("cmd-crash")["result"] == "running"
    executed = Executed()
    restarted = RemoteCommands(store, "12345-0001", central.catalog.public_key, executed,
                               now=lambda: datetime.now(UTC))
    assert remote.seen("cmd-crash")["result"] == "failed"
    assert [o.status for o in restarted.handle([doc], server_time=None, clock_trusted=True)] == ["rejected"]
    assert executed.calls == []
    assert [(r["id"], r["status"], r["error"]) for r in restarted.pending_results()] == [
        ("cmd-crash", "failed", "command.interrupted")]


def test_cli_queues_signed_commands(central: CentralHandle, tmp_path: Path, store: Store,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = central_main(["command", central.device_id, "play", "--param", "item_id=bt-1", "--param",
                         "zones=thon-1,thon-2", "--expires-in", "120", *central.cli_args()])
    assert code == 0
    command_id = capsys.readouterr().out.split("\t")[0]
    reporter, executed = rig(central, tmp_path, store)
    reporter.heartbeat_once()
    assert executed.calls == [("play", {"item_id": "bt-1", "zones": ["thon-1", "thon-2"]}, f"central:{command_id}")]
    assert central_main(["command", "99999-0001", "stop", *central.cli_args()]) == 2
    assert central_main(["command", central.device_id, "set_volume", "--param", "volume=101",
                         *central.cli_args()]) == 2
    assert "volume" in capsys.readouterr().err
    assert monitoring_cli.parse_params(["volume=70", "item_id=a-1"]) == {"volume": 70, "item_id": "a-1"}
