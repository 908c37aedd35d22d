"""Who may reach central's web side: the guard in front of every route, and the login locks API.

Deny by default: every route except the device protocol (``/v1/…``, per-device bearer
tokens), the login form and the stylesheet needs a person's session (``central.editorial``'s
accounts) or, for the JSON API and the monitoring pages only, an automation token
(``Authorization: Bearer``, ``central.admin``). Editorial pages are for people only: writing
and approving need someone to answer for it. A state-changing request made with the session
cookie must carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``); a
bearer request needs none (browsers never attach it on their own). Commands to devices,
lifting login locks, bulk device registration, intake's sources, any change through ``/api/``
and the ``/admin/`` pages need the admin role (a person's or a token's); the fleet, alerts and
proof-of-play reports are open to any logged-in person and to ``monitor`` tokens.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, redirect, request, url_for

import protocol
from central.editorial.accounts import SESSION_COOKIE, csrf_matches
from central.http import (
    ApiError,
    accounts,
    admin_auth,
    bearer_token,
    json_response,
    login_throttle,
    read_json,
)
from central.login_throttle import LoginThrottled

# Endpoints reachable without a person or token: the device protocol (each checks the device's
# own bearer token, /v1/info is public by design), the login form, the language switch and the
# stylesheet. tests/central/test_monitoring.py walks the url_map to check everything else is refused.
PUBLIC_ENDPOINTS = frozenset({
    "device_api.info", "device_api.feed", "device_api.media", "device_api.heartbeat", "device_api.logs",
    "people.login", "people.login_post", "people.switch_language", "operator.old_login", "static",
    "intake_web.cap_post",  # a CAP sender's own bearer token (central/intake_web.py)
})
PEOPLE_ONLY_BLUEPRINTS = frozenset({"editorial", "people"})
ADMIN_ENDPOINTS = frozenset({"monitoring.api_command", "monitoring.page_command", "operator.login_locks",
                             "operator.unlock_login",
                             "fleet_web.page_import", "fleet_web.page_import_post",  # bulk registration
                             "intake_web.sources"})  # intake's sources, like its /admin/sources page
TOKEN_ACCOUNT = "api-token"  # the throttle's account for guesses through the Authorization header
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = {
    # Scripts and styles only from files of this origin (the alerts page's poller), never inline.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
                               "script-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

operator = Blueprint("operator", __name__)


def install_operator_guard(app: Flask) -> None:
    """Deny by default: every request to a non-public endpoint must come from a person or a token."""
    app.before_request(_require_operator)
    app.after_request(_security_headers)


def _refuse() -> Response:
    if request.path.startswith("/api/") or bearer_token() is not None or request.method not in _SAFE_METHODS:
        raise ApiError(401, "unauthorized", "authentication required (log in, or an API token)",
                       {"WWW-Authenticate": 'Bearer realm="commune-central-operator"'})
    return redirect(url_for("people.login"), code=303)


def needs_admin(endpoint: str) -> bool:
    """Commands, login locks, bulk registration, intake's sources, every change made through
    ``/api/`` and every ``/admin/`` page need
    the admin role; the rest is open to any person, and to ``monitor`` tokens for reading."""
    return (endpoint in ADMIN_ENDPOINTS or request.path.startswith("/admin/")
            or (request.path.startswith("/api/") and request.method not in _SAFE_METHODS))


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def _require_operator() -> Response | None:
    g.csrf = g.person = g.token = None
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route (404/405): nothing to show
    sid = request.cookies.get(SESSION_COOKIE)
    if endpoint in PUBLIC_ENDPOINTS:
        found = accounts().session(sid) if sid else None
        if found is not None:  # the language switch and the header show who is logged in
            g.person, g.csrf = found
        return None
    presented = bearer_token()
    if presented is not None:
        # A bearer request is never authenticated by a cookie as well: a wrong token is refused.
        # Guessing through the header is throttled like guessing through the form.
        if request.blueprint in PEOPLE_ONLY_BLUEPRINTS:
            raise _forbidden("these pages are for people (log in); API tokens reach /api and monitoring only")
        throttle, address = login_throttle(), request.remote_addr or ""
        try:
            throttle.check(TOKEN_ACCOUNT, address)
        except LoginThrottled as exc:
            raise ApiError(429, exc.code, exc.en, {"Retry-After": str(exc.retry_after_s)}) from None
        token = admin_auth().check_token(presented)
        if token is None:
            throttle.failed(TOKEN_ACCOUNT, address)
            return _refuse()
        throttle.succeeded(TOKEN_ACCOUNT, address)
        if needs_admin(endpoint) and "admin" not in token.roles:
            raise _forbidden("this token may read monitoring only (it lacks the admin role)")
        g.token = token
        return None
    found = accounts().session(sid)
    if found is None:
        return _refuse()
    person, csrf = found
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
        if not csrf_matches(sent, csrf):
            raise ApiError(403, "csrf", "missing or wrong CSRF token")
    if needs_admin(endpoint) and not person.has("admin"):
        raise _forbidden("this needs the admin role")
    g.person, g.csrf = person, csrf
    return None


def actor() -> str:
    """Who is acting, for records: the person's user name, or ``token:<name>``."""
    if g.get("person") is not None:
        return str(g.person.username)
    if g.get("token") is not None:
        return f"token:{g.token.name}"
    return "central"


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/v1/"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:  # HTTPS, directly or through a trusted TLS proxy (central.proxies)
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


@operator.get("/monitor/login")
def old_login() -> Response:
    """The monitoring pages' old address for logging in: people log in at /login now."""
    return redirect(url_for("people.login"), code=301)  # type: ignore[return-value]


@operator.get("/api/monitor/login-locks")
def login_locks() -> Response:
    """The (account, address) pairs locked out now (admins only)."""
    return json_response({"locks": [{"account": lock.account, "address": lock.address, "failures": lock.failures,
                                     "until": protocol.format_utc(lock.until)}
                                    for lock in login_throttle().locks()]})


@operator.post("/api/monitor/login-locks/unlock")
def unlock_login() -> Response:
    body = read_json(4096)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("account", "address")):
        raise ApiError(400, "bad_request", "expected {\"account\": ..., \"address\": ...}")
    return json_response({"lifted": login_throttle().lift(body["account"][:100], body["address"][:100])})
