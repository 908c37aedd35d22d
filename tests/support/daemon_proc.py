"""The daemon as a real subprocess (``commune-radio run --events``) under a notify-socket harness.

The test owns a datagram socket and passes it as ``NOTIFY_SOCKET``, exactly as systemd does;
relay and play events are read from the daemon's ``--events`` JSON lines. Used by
tests/appliance/system/test_sdnotify.py and bench/footprint.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

CONFIG_TEMPLATE = """\
[device]
id = "00000-harness"
data_dir = "{data_dir}"

[audio]
output = "capture"
chime = false
{audio_extra}

[schedule]
default_windows = ["00:00-00:00"]

[[zones]]
name = "a"
relay_pin = 17
warmup_ms = 300
cooldown_ms = 200

[[zones]]
name = "b"
relay_pin = 27
active_high = true
warmup_ms = 300
cooldown_ms = 200
"""


def write_config(root: Path, extra: str = "", audio_extra: str = "") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    path = root / "appliance.toml"
    path.write_text(CONFIG_TEMPLATE.format(data_dir=root / "data", audio_extra=audio_extra) + extra,
                    encoding="utf-8")
    return path


class NotifySocket:
    """A datagram socket standing in for systemd's notify socket; records every message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append((time.monotonic(), data.decode("utf-8")))
                self._cond.notify_all()

    def fields(self) -> list[tuple[float, str]]:
        with self._cond:
            return [(t, line) for t, message in self.messages for line in message.split("\n")]

    def wait_for(self, match: Callable[[str], bool], timeout: float, after: float = 0.0) -> float:
        """Monotonic time of the first field after ``after`` that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, message in self.messages:
                    if t >= after and any(match(line) for line in message.split("\n")):
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching notify field within {timeout} s; got {self.messages[-10:]}")
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


class DaemonProcess:
    """``commune-radio run --events [--no-sync]`` with its stdout events collected."""

    def __init__(self, root: Path, *, watchdog_usec: int | None = 1_000_000,
                 extra_env: dict[str, str] | None = None, notify: bool = True, sync: bool = False,
                 config_extra: str = "", audio_extra: str = "", keep_config: bool = False) -> None:
        self.root = root
        self.config = root / "appliance.toml" if keep_config else write_config(root, config_extra, audio_extra)
        flag = root / "synchronized"
        flag.write_text("")
        self.notify = NotifySocket(root / "notify.sock") if notify else None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_", "COMMUNE_RADIO_"))}
        env.update({"COMMUNE_RADIO_CONFIG": str(self.config), "COMMUNE_RADIO_TIMESYNC_FLAG": str(flag),
                    "PYTHONUNBUFFERED": "1"})
        if self.notify is not None:
            env["NOTIFY_SOCKET"] = str(self.notify.path)
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        env.update(extra_env or {})
        self.env = env
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.started_at = time.monotonic()
        command = [sys.executable, "-m", "appliance.cli", "run", "--events", *([] if sync else ["--no-sync"])]
        self.proc = subprocess.Popen(command,
                                     cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                event["_t"] = time.monotonic()   # when the harness read it
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"event not seen; last events {self.events[-8:]}; stderr {self.stderr[-2000:]}")
                self._cond.wait(min(left, 0.5))

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("type") == kind]

    def relay_states(self) -> dict[str, bool]:
        """Last switched state of each zone, from the relay events."""
        with self._cond:
            return {e["zone"]: bool(e["on"]) for e in self.events if e.get("type") == "relay"}

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance.cli", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def terminate(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.notify is not None:
            self.notify.close()
