"""Reporting attached to the running daemon: live facts from its status, commands through its actions."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import protocol
from appliance.report.remote_commands import RemoteCommands
from appliance.report.reporter import Reporter
from appliance.state.config import Config
from appliance.sync.client import CentralClient
from protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)


def daemon_live_facts(daemon: Any) -> dict[str, Any]:
    """What is playing, relays, volume and amplifier faults, from the daemon's status."""
    status = daemon.status()
    on_air = status.get("on_air")
    relays = status.get("relays") or {}
    return {
        "playing": {"item_id": on_air["item_id"], "zones": on_air.get("zones", [])} if on_air else None,
        "relays": {zone: bool(info.get("on")) for zone, info in relays.items()},
        "amp_faults": [zone for zone, info in relays.items() if info.get("fault") or info.get("watchdog_tripped")],
        "problems": [p["code"] for p in status.get("problems") or []],
        "volume": status.get("volume", 0),
        "power": status.get("power"),
    }


def daemon_executor(daemon: Any) -> Callable[[str, dict[str, Any], str], dict[str, Any]]:
    """Run a command through the daemon's control actions (validated as the control socket does)."""
    from appliance.control import validate_request

    def execute(action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        action, clean, actor = validate_request({"action": action, "params": params, "actor": actor},
                                                daemon.config.zone_names())
        with contextlib.suppress(Exception):
            daemon.store.log_event("control." + action, f"{actor} requested {action}",
                                   {"actor": actor, "params": clean})
        if action == "play":
            return daemon.play_now(clean["item_id"], zones=clean.get("zones"), actor=actor, trigger="central")
        return daemon.handle_request(action, clean, actor)

    return execute


def attach_reporter(daemon: Any) -> Reporter | None:
    """Build and start the daemon's reporter thread (None when central is not configured).

    Never raises: a reporting problem is logged and the daemon runs on without it.
    """
    config: Config = daemon.config
    if not (config.central.token and config.central.public_key):
        return None
    try:
        return _attach(daemon, config)
    except Exception as exc:
        log.exception("reporting disabled")
        details = exc.as_dict() if isinstance(exc, CommuneRadioError) else {"code": "report.internal"}
        with contextlib.suppress(Exception):
            daemon.store.log_event("report.disabled", getattr(exc, "en", repr(exc))[:500], details, level="error")
        return None


def _attach(daemon: Any, config: Config) -> Reporter:
    client = CentralClient.from_config(config, max_retries=0, max_json_bytes=1024 * 1024)
    trust = daemon.trust
    if trust is not None:
        client.on_server_time = trust.note_central_time
    commands = RemoteCommands(daemon.store, config.device.id, protocol.public_key_from_b64(config.central.public_key),
                              daemon_executor(daemon), now=daemon.clock.now)
    reporter = Reporter(config, daemon.store, client, live=lambda: daemon_live_facts(daemon), commands=commands,
                        clock_status=(trust.status if trust is not None else None), now=daemon.clock.now)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("type") in ("play_end", "skipped", "relay"):
            reporter.wake()
        elif event.get("type") == "power":
            reporter.heartbeat_soon()

    daemon.add_listener(on_event)
    reporter.start()
    return reporter
