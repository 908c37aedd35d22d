"""Which reverse proxy the panel believes about the original request (``panel.trusted_proxies``).

A TLS terminator in front of the panel (nginx, Caddy on the Pi) talks plain HTTP to it and says
in ``X-Forwarded-Proto`` that the browser used HTTPS: only then are cookies marked Secure and
HSTS sent. ``X-Forwarded-For`` names the real client, which the login throttle, the audit log
and the loopback-only ``/healthz`` rely on. Such headers are believed only from a configured
proxy address, one hop deep; from anyone else they are removed, so a LAN client cannot pretend
to be local or claim HTTPS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_PROXY_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                  "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_X_FORWARDED_BY")


class TrustedProxies:
    """WSGI middleware: proxy headers applied from ``networks`` (one hop), stripped otherwise."""

    def __init__(self, app: WSGIApp, networks: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
        self._plain = app
        self._behind_proxy = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[arg-type]

    def trusts(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.networks and self.trusts(environ.get("REMOTE_ADDR", "")):
            return self._behind_proxy(environ, start_response)  # type: ignore[arg-type]
        for name in _PROXY_HEADERS:
            environ.pop(name, None)
        return self._plain(environ, start_response)
