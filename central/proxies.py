"""Which reverse proxy central believes about the original request (``serve --trusted-proxy``).

Behind a TLS terminator central sees plain HTTP; ``X-Forwarded-Proto`` from a configured proxy
(one hop) makes ``request.is_secure`` true, so the operator session cookie is Secure and HSTS is
sent; ``X-Forwarded-For`` gives the real client address (the login throttle counts by it).
From any other peer those headers are removed. The station's panel has the same rule
(``appliance.panel.proxies``; the products share no code).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from protocol.errors import ValidationError

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_PROXY_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                  "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_X_FORWARDED_BY")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """IP addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``); ValidationError otherwise."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValidationError(f"Địa chỉ proxy tin cậy không hợp lệ: {value!r} (cần địa chỉ IP hoặc dải mạng).",
                                  f"Invalid trusted proxy {value!r} (expected an IP address or network).") from None
    return tuple(networks)


class TrustedProxies:
    """WSGI middleware: proxy headers applied from ``networks`` (one hop), stripped otherwise."""

    def __init__(self, app: WSGIApp, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)
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
