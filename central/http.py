"""What every part of central's HTTP face shares: the API error, JSON answers, bodies and tokens.

Blueprints raise ``ApiError``; the app factory (``central.app``) turns it into the protocol's
error body ``{"error": {"code", "message"}}``. Services live in ``app.extensions`` and are
reached through the accessors below, so no blueprint imports another or the factory.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, request

if TYPE_CHECKING:
    from central.admin import AdminAuth
    from central.catalog import Catalog, Device
    from central.editorial.accounts import Accounts
    from central.fleet import FleetViews
    from central.login_throttle import LoginThrottle
    from central.monitor import Monitor

_BEARER_RE = re.compile(r"^Bearer ([A-Za-z0-9._~+/=-]{1,200})$")


class ApiError(Exception):
    """An HTTP error answer with a stable code (protocol §3) and optional headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def json_response(body: Any, status: int = 200) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def catalog() -> Catalog:
    return current_app.extensions["central.catalog"]


def monitor() -> Monitor:
    return current_app.extensions["central.monitor"]


def fleet_views() -> FleetViews:
    return current_app.extensions["central.fleet"]


def admin_auth() -> AdminAuth:
    return current_app.extensions["central.admin"]


def accounts() -> Accounts:
    return current_app.extensions["central.accounts"]


def login_throttle() -> LoginThrottle:
    return current_app.extensions["central.login_throttle"]


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticated_device() -> Device:
    """The device whose token came with the request; 401 otherwise."""
    match = _BEARER_RE.match(request.headers.get("Authorization", ""))
    device = catalog().authenticate(match.group(1)) if match else None
    if device is None:
        raise ApiError(401, "unauthorized", "missing or invalid device token",
                       {"WWW-Authenticate": 'Bearer realm="commune-radio"'})
    return device


def device_for(device_id: str) -> Device:
    """The authenticated device, which must be the one named in the URL; 403 otherwise."""
    device = authenticated_device()
    if device.id != device_id:
        raise ApiError(403, "forbidden", "this token belongs to another device")
    return device


def read_json(limit: int) -> Any:
    """The request body as JSON, refused (413) before parsing when it is over ``limit`` bytes."""
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, "too_large", f"body of {length} bytes is over the limit of {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "too_large", f"body is over the limit of {limit} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the body is not valid UTF-8 JSON") from None
