"""Set-up shared by the reporting tests: a device store + Reporter talking to the real central
fixture (tests/conftest.py) over loopback, play-log seeding, and a misbehaving central."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import protocol
from appliance.broadcast.playlog import PlayLog, PlayStart
from appliance.report.remote_commands import RemoteCommands
from appliance.report.reporter import Reporter
from appliance.state import config as config_module
from appliance.state.config import Config
from appliance.state.store import Store, to_utc_iso
from appliance.sync.client import CentralClient


def device_config(data_dir: Path, url: str, token: str, public_key: str, device_id: str = "12345-0001",
                  **report: Any) -> Config:
    return config_module.from_mapping({
        "device": {"id": device_id, "data_dir": str(data_dir)},
        "central": {"url": url, "token": token, "public_key": public_key, "read_timeout_s": 5.0,
                    "connect_timeout_s": 2.0},
        "report": report,
        "zones": [{"name": "thon-1", "relay_pin": 17}, {"name": "thon-2", "relay_pin": 27}],
    }, "<test>", env={})


class FakeMono:
    """A monotonic clock the test moves (scheduling decisions without real waiting)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Executed:
    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    fail_with: Exception | None = None

    def __call__(self, action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        self.calls.append((action, params, actor))
        if self.fail_with is not None:
            raise self.fail_with
        return {"ok": True}


def make_reporter(config: Config, store: Store, *, executor: Executed | None = None,
                  now: Callable[[], datetime] | None = None, clock_trusted: bool | None = True,
                  mono: FakeMono | None = None, read_timeout_s: float = 5.0) -> Reporter:
    client = CentralClient(config.central.url, config.central.token, max_retries=0, read_timeout_s=read_timeout_s,
                           connect_timeout_s=2.0, max_json_bytes=1024 * 1024)
    now = now or (lambda: datetime.now(UTC))
    commands = None
    if executor is not None:
        commands = RemoteCommands(store, config.device.id, protocol.public_key_from_b64(config.central.public_key),
                                  executor, now=now)
    def trusted_clock() -> dict[str, Any]:
        return {"trusted": clock_trusted, "source": "timesync" if clock_trusted else "none"}

    clock_status = trusted_clock if clock_trusted is not None else None
    kwargs: dict[str, Any] = {"monotonic": mono} if mono is not None else {}
    return Reporter(config, store, client, commands=commands, clock_status=clock_status, now=now,
                    boot_id="boot-test", **kwargs)


def seed_plays(store: Store, count: int, *, start: datetime | None = None, spacing_s: float = 3600.0,
               item_id: str = "it-daily") -> list[str]:
    """``count`` completed plays through the real PlayLog, timestamps ``spacing_s`` apart."""
    start = start or datetime(2025, 6, 1, tzinfo=UTC)
    moment = [start]
    playlog = PlayLog(store, now=lambda: to_utc_iso(moment[0]))
    ids = []
    for i in range(count):
        moment[0] = start + timedelta(seconds=i * spacing_s)
        play_id = playlog.begin(PlayStart(item_id, 1, ["thon-1"], "schedule",
                                          occurrence_key=f"{item_id}@{to_utc_iso(moment[0])}"))
        moment[0] += timedelta(seconds=60)
        playlog.finish(play_id, "completed", played_s=60.0)
        ids.append("p." + play_id)
    return ids


class BadCentral:
    """A central that misbehaves on purpose (real HTTP on loopback): ``answer`` builds each reply."""

    def __init__(self, answer: Callable[[Request], Response]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, Any]] = []

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            body = request.get_data()
            try:
                decoded = json.loads(body) if body else None
            except ValueError:
                decoded = None
            self.requests.append((request.path, decoded))
            return self.answer(request)(environ, start_response)

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
