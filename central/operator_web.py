"""Operator authentication on central's web side: the guard in front of every page, login, logout.

Every route of the app except the device protocol endpoints (``/v1/…``, per-device bearer
tokens) and the login form needs the admin token, as ``Authorization: Bearer`` or through the
session cookie the login form sets (deny by default, so a route added later is covered too).
A state-changing request made with the session cookie must carry the session's CSRF token
(form field ``csrf`` or header ``X-CSRF-Token``); a bearer request needs none (browsers never
attach it on their own). ``central.admin`` holds the token and the sessions.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for

import protocol
from central.admin import SESSION_COOKIE, SESSION_TTL, csrf_matches
from central.http import ApiError, admin_auth, bearer_token, json_response, login_throttle, read_json
from central.login_throttle import LoginThrottled

# Endpoints reachable without the admin token: the device protocol (each checks the device's
# own bearer token, /v1/info is public by design) and the login form. Everything else is
# refused to anonymous callers (tests/central/test_monitoring.py walks the url_map to check it).
PUBLIC_ENDPOINTS = frozenset({
    "device_api.info", "device_api.feed", "device_api.media", "device_api.heartbeat", "device_api.logs",
    "operator.login", "operator.login_post",
    "intake_web.cap_post",  # a CAP sender's own bearer token (central/intake_web.py)
})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ACCOUNT = "admin"  # the one admin token; real accounts will name themselves here
SECURITY_HEADERS = {
    # Scripts only from files of this origin (the alerts page's poller), never inline.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

operator = Blueprint("operator", __name__)


def install_operator_guard(app: Flask) -> None:
    """Deny by default: every request to a non-public endpoint must come from an operator."""
    app.before_request(_require_operator)
    app.after_request(_security_headers)


def _refuse() -> Response:
    if request.path.startswith("/api/") or bearer_token() is not None or request.method not in _SAFE_METHODS:
        raise ApiError(401, "unauthorized", "operator authentication required (admin token)",
                       {"WWW-Authenticate": 'Bearer realm="commune-central-operator"'})
    return redirect(url_for("operator.login"), code=303)


def _require_operator() -> Response | None:
    g.csrf = None
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # no route (404/405, nothing to show) or a public/device endpoint
    admin = admin_auth()
    presented = bearer_token()
    if presented is not None:
        # A bearer request is never authenticated by a cookie as well: a wrong token is refused.
        # Guessing through the header is throttled like guessing through the form.
        throttle, address = login_throttle(), request.remote_addr or ""
        try:
            throttle.check(ADMIN_ACCOUNT, address)
        except LoginThrottled as exc:
            raise ApiError(429, exc.code, exc.en, {"Retry-After": str(exc.retry_after_s)}) from None
        if admin.check_token(presented):
            throttle.succeeded(ADMIN_ACCOUNT, address)
            return None
        throttle.failed(ADMIN_ACCOUNT, address)
        return _refuse()
    csrf = admin.session_csrf(request.cookies.get(SESSION_COOKIE)) if admin.has_token() else None
    if csrf is None:
        return _refuse()
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
        if not csrf_matches(sent, csrf):
            raise ApiError(403, "csrf", "missing or wrong CSRF token")
    g.csrf = csrf
    return None


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/v1/"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:  # HTTPS, directly or through a trusted TLS proxy (central.proxies)
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


@operator.get("/monitor/login")
def login() -> str:
    return render_template("monitor_login.html", failed=False)


@operator.post("/monitor/login")
def login_post() -> Any:
    admin = admin_auth()
    throttle, address = login_throttle(), request.remote_addr or ""
    try:
        throttle.check(ADMIN_ACCOUNT, address)
    except LoginThrottled as exc:
        return (render_template("monitor_login.html", failed=False, throttled=exc), 429,
                {"Retry-After": str(exc.retry_after_s)})
    if not admin.check_token(request.form.get("token", "").strip()):
        throttle.failed(ADMIN_ACCOUNT, address)
        return render_template("monitor_login.html", failed=True), 401
    throttle.succeeded(ADMIN_ACCOUNT, address)
    admin.close_session(request.cookies.get(SESSION_COOKIE))  # never keep an id the browser brought
    sid, _ = admin.open_session()
    response = redirect(url_for("fleet_web.page_fleet"), code=303)
    response.set_cookie(SESSION_COOKIE, sid, max_age=int(SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="Strict", secure=request.is_secure)
    return response


@operator.get("/api/monitor/login-locks")
def login_locks() -> Response:
    """The (account, address) pairs locked out now (operators only, like every /api route)."""
    return json_response({"locks": [{"account": lock.account, "address": lock.address, "failures": lock.failures,
                                     "until": protocol.format_utc(lock.until)}
                                    for lock in login_throttle().locks()]})


@operator.post("/api/monitor/login-locks/unlock")
def unlock_login() -> Response:
    body = read_json(4096)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("account", "address")):
        raise ApiError(400, "bad_request", "expected {\"account\": ..., \"address\": ...}")
    return json_response({"lifted": login_throttle().lift(body["account"][:100], body["address"][:100])})


@operator.post("/monitor/logout")
def logout() -> Any:
    admin_auth().close_session(request.cookies.get(SESSION_COOKIE))
    response = redirect(url_for("operator.login"), code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
