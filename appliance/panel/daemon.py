"""The panel's link to the daemon: every play, stop, emergency, volume and relay action goes
through the control channel (the panel never touches GPIO or audio itself).

``status()`` is cached for a second so that many browsers refreshing the dashboard cost the
daemon one request, and a daemon that is down costs one failed connect, not one per page.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from appliance.errors import ControlError


class ControlLike(Protocol):
    def request(self, action: str, *, actor: str, **params: Any) -> dict[str, Any]: ...


class DaemonLink:
    def __init__(self, client: ControlLike, *, status_ttl_s: float = 1.0) -> None:
        self.client = client
        self.status_ttl_s = status_ttl_s
        self._lock = threading.Lock()
        self._status: tuple[float, dict[str, Any] | None] = (0.0, None)

    def call(self, action: str, actor: str, **params: Any) -> dict[str, Any]:
        """Ask the daemon to act; raises ControlError (Vietnamese + English) when it refuses or is down."""
        try:
            result = self.client.request(action, actor=actor, **params)
        except ControlError:
            raise
        except (OSError, ValueError) as exc:
            raise ControlError(f"Không liên lạc được với dịch vụ phát: {exc}.",
                               f"Cannot reach the broadcast daemon: {exc}.", code="control.unreachable") from None
        with self._lock:
            self._status = (0.0, None)  # an action changes the status: refetch next time
        return result if isinstance(result, dict) else {"result": result}

    def status(self, actor: str = "panel:status") -> dict[str, Any] | None:
        """The daemon's status, or None when it does not answer."""
        now = time.monotonic()
        with self._lock:
            fetched_at, cached = self._status
            if fetched_at and now - fetched_at < self.status_ttl_s:
                return cached
        try:
            result: dict[str, Any] | None = self.client.request("status", actor=actor)
        except (ControlError, OSError, ValueError):
            result = None
        with self._lock:
            self._status = (time.monotonic(), result)
        return result


def default_client(socket_path: str) -> ControlLike:
    from appliance.control import ControlClient  # the daemon engineer's client (lazy: optional at import)

    return ControlClient(socket_path)  # type: ignore[no-any-return]
