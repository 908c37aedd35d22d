"""systemd's notify protocol in a few lines of stdlib (``sd_notify(3)``).

Why not the ``sdnotify`` package: it encodes with ASCII and silently drops a ``STATUS=``
line holding Vietnamese text. Here every message is UTF-8, as systemd expects.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op returning False.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def _address(env: Mapping[str, str]) -> str | None:
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return None
    if address.startswith("@"):  # abstract namespace socket
        return "\0" + address[1:]
    return address


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """Half the watchdog period systemd asked for (the recommended feeding interval), or None.

    ``WATCHDOG_PID`` names the process meant to feed it; a child that inherited the
    variables must not feed it in its parent's place.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "") or 0)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return usec / 2e6


class Notifier:
    """Sends notify messages to the socket named by ``NOTIFY_SOCKET`` (read once, at creation)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._address = _address(os.environ if env is None else env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """One datagram of ``KEY=value`` lines; True if it was handed to the socket."""
        if self._address is None or not fields:
            return False
        for field in fields:
            if "=" not in field or "\n" in field:
                raise ValueError(f"not a notify field: {field!r}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall("\n".join(fields).encode("utf-8"))
        except OSError:
            # systemd gone or the socket full: nothing useful to do, and the daemon must go on.
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([_status(status)] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(_status(text))

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([_status(status)] if status else []))


def _status(text: str) -> str:
    # One line only: a newline would start a new field.
    return "STATUS=" + " ".join(text.split())[:400]
