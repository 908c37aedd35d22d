"""HTTP face of central's monitoring: device endpoints (heartbeat, logs), fleet pages, JSON API.

``register_monitoring(app, catalog, authenticate)`` is called by ``central.server.create_app``.
Device endpoints follow protocol §10: bodies are size-checked before they are parsed, a
malformed or oversized body gets a 4xx with a reason and stores nothing. The pages and the
JSON API show the same data (``Monitor``).

Operator authentication (``central.admin``): every route of the app except the device
protocol endpoints (``/v1/…``, per-device bearer tokens) and the login form needs the admin
token, as ``Authorization: Bearer`` or through the session cookie the login form sets
(deny by default, so a route added later is covered too). A state-changing request made
with the session cookie must carry the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``); a bearer request needs none (browsers never attach it on their own).
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for

from appliance import protocol
from appliance.errors import CommuneRadioError
from central.admin import SESSION_COOKIE, SESSION_TTL, AdminAuth, csrf_matches
from central.catalog import DB_FILE, Catalog, Device
from central.monitoring import LOGS_MAX_BYTES, BadReport, Monitor, validate_heartbeat, validate_logs

DISPLAY_TZ = "Asia/Ho_Chi_Minh"
COMMAND_TYPES_FORM = ("play", "stop", "set_volume", "sync_now", "reload")
# Endpoints reachable without the admin token: the device protocol (each checks the device's
# own bearer token, /v1/info is public by design) and the login form. Everything else is
# refused to anonymous callers (tests/test_monitoring.py walks the url_map to check it).
PUBLIC_ENDPOINTS = frozenset({"info", "feed", "media", "heartbeat", "logs", "monitor_login", "monitor_login_post"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def monitor_of(app: Flask) -> Monitor:
    return app.extensions["central.monitor"]


def _json(body: Any, status: int = 200) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status=status, mimetype="application/json")


def _local(value: str | None) -> str:
    """A UTC protocol time shown in Vietnam's time (the fleet is read by people there)."""
    if not value:
        return "—"
    try:
        moment = protocol.parse_utc(value)
    except ValueError:
        return value
    return moment.astimezone(zoneinfo.ZoneInfo(DISPLAY_TZ)).strftime("%Y-%m-%d %H:%M:%S")


def register_monitoring(app: Flask, catalog: Catalog, authenticate: Callable[[], Device]) -> Monitor:
    from central.server import ApiError

    monitor = Monitor(catalog.data_dir / DB_FILE, clock=catalog.clock, private_key=catalog.private_key)
    app.extensions["central.monitor"] = monitor
    admin = AdminAuth(catalog.data_dir / DB_FILE, clock=catalog.clock)
    app.extensions["central.admin"] = admin
    app.jinja_env.filters["local_time"] = _local

    def bearer() -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def refuse() -> Response:
        if request.path.startswith("/api/") or bearer() is not None or request.method not in _SAFE_METHODS:
            raise ApiError(401, "unauthorized", "operator authentication required (admin token)",
                           {"WWW-Authenticate": 'Bearer realm="commune-central-operator"'})
        return redirect(url_for("monitor_login"), code=303)

    @app.before_request
    def require_operator() -> Response | None:
        g.csrf = None
        if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
            return None  # no route (404/405, nothing to show) or a public/device endpoint
        presented = bearer()
        if presented is not None:
            # A bearer request is never authenticated by a cookie as well: a wrong token is refused.
            return None if admin.check_token(presented) else refuse()
        csrf = admin.session_csrf(request.cookies.get(SESSION_COOKIE)) if admin.has_token() else None
        if csrf is None:
            return refuse()
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
            if not csrf_matches(sent, csrf):
                raise ApiError(403, "csrf", "missing or wrong CSRF token")
        g.csrf = csrf
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/v1/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def device_for(device_id: str) -> Device:
        device = authenticate()
        if device.id != device_id:
            raise ApiError(403, "forbidden", "this token belongs to another device")
        return device

    def read_json(limit: int) -> Any:
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

    @app.post("/v1/devices/<device_id>/heartbeat")
    def heartbeat(device_id: str) -> Response:
        device = device_for(device_id)
        body = read_json(protocol.HEARTBEAT_MAX_BYTES)
        try:
            hb = validate_heartbeat(body, device.id)
        except BadReport as exc:
            raise ApiError(400, exc.code, f"malformed heartbeat: {exc}") from None
        commands = monitor.record_heartbeat(device.id, hb)
        return _json({"server_time": protocol.format_utc(catalog.clock()), "commands": commands})

    @app.post("/v1/devices/<device_id>/logs")
    def logs(device_id: str) -> Response:
        device = device_for(device_id)
        body = read_json(LOGS_MAX_BYTES)
        try:
            entries = validate_logs(body)
        except BadReport as exc:
            raise ApiError(400, exc.code, f"malformed logs upload: {exc}") from None
        answer = monitor.record_logs(device.id, entries)
        return _json({"acknowledged": answer.acknowledged, "refused": answer.refused})

    # ------------------------------------------------------------------ JSON API

    @app.get("/api/monitor/devices")
    def api_devices() -> Response:
        return _json({"server_time": protocol.format_utc(catalog.clock()),
                      "devices": monitor.fleet(catalog.list_devices())})

    @app.get("/api/monitor/devices/<device_id>")
    def api_device(device_id: str) -> Response:
        if catalog.get_device(device_id) is None:
            raise ApiError(404, "not_found", "no such device")
        return _json(monitor.device_detail(device_id))

    @app.get("/api/monitor/items/<item_id>")
    def api_item(item_id: str) -> Response:
        return _json({"item_id": item_id, "title": _title(catalog, item_id), "plays": monitor.item_plays(item_id)})

    # ------------------------------------------------------------------ pages

    @app.get("/monitor")
    def page_fleet() -> str:
        return render_template("monitor_fleet.html", devices=monitor.fleet(catalog.list_devices()),
                               now=protocol.format_utc(catalog.clock()))

    @app.get("/monitor/login")
    def monitor_login() -> str:
        return render_template("monitor_login.html", failed=False)

    @app.post("/monitor/login")
    def monitor_login_post() -> Any:
        if not admin.check_token(request.form.get("token", "").strip()):
            return render_template("monitor_login.html", failed=True), 401
        admin.close_session(request.cookies.get(SESSION_COOKIE))  # never keep an id the browser brought
        sid, _ = admin.open_session()
        response = redirect(url_for("page_fleet"), code=303)
        response.set_cookie(SESSION_COOKIE, sid, max_age=int(SESSION_TTL.total_seconds()), path="/",
                            httponly=True, samesite="Strict", secure=request.is_secure)
        return response

    @app.post("/monitor/logout")
    def monitor_logout() -> Any:
        admin.close_session(request.cookies.get(SESSION_COOKIE))
        response = redirect(url_for("monitor_login"), code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/monitor/devices/<device_id>")
    def page_device(device_id: str) -> str:
        if catalog.get_device(device_id) is None:
            abort(404)
        message = request.args.get("message", "")[:300]
        return render_template("monitor_device.html", d=monitor.device_detail(device_id), csrf=g.csrf,
                               types=COMMAND_TYPES_FORM, message=message, now=protocol.format_utc(catalog.clock()))

    @app.get("/monitor/items/<item_id>")
    def page_item(item_id: str) -> str:
        return render_template("monitor_item.html", item_id=item_id, title=_title(catalog, item_id),
                               plays=monitor.item_plays(item_id))

    @app.post("/api/monitor/devices/<device_id>/commands")
    def api_command(device_id: str) -> Response:
        if catalog.get_device(device_id) is None:
            raise ApiError(404, "not_found", "no such device")
        body = read_json(4096)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str) \
                or not isinstance(body.get("params", {}), dict):
            raise ApiError(400, "bad_request", 'expected {"type": …, "params": {…}, "expires_in_s": …}')
        expires = body.get("expires_in_s", 600)
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise ApiError(400, "bad_request", "expires_in_s must be an integer")
        try:
            signed = monitor.queue_command(device_id, body["type"], body.get("params", {}), expires_in_s=expires,
                                           by="central-api")
        except CommuneRadioError as exc:
            raise ApiError(400, "bad_request", exc.en) from None
        return _json(signed, 201)

    # The operator check (admin token or session + CSRF) runs in require_operator before this.
    @app.post("/monitor/devices/<device_id>/commands")
    def page_command(device_id: str) -> Any:
        if catalog.get_device(device_id) is None:
            abort(404)
        try:
            params = form_params(request.form.get("type", ""), request.form)
            expires = int(request.form.get("expires_in", "600") or 600)
            signed = monitor.queue_command(device_id, request.form.get("type", ""), params, expires_in_s=expires,
                                           by="central-page")
            message = f"queued {signed['id']}"
        except (ValueError, CommuneRadioError) as exc:
            message = f"refused: {getattr(exc, 'en', str(exc))}"
        return redirect(url_for("page_device", device_id=device_id, message=message), code=303)

    return monitor


def form_params(command_type: str, form: Any) -> dict[str, Any]:
    """Command params from the page's form fields (the protocol checks them again when signing)."""
    if command_type == "play":
        params: dict[str, Any] = {"item_id": (form.get("item_id") or "").strip()}
        zones = [z.strip() for z in (form.get("zones") or "").split(",") if z.strip()]
        if zones:
            params["zones"] = zones
        return params
    if command_type == "set_volume":
        return {"volume": int(form.get("volume") or "-1")}
    return {}


def _title(catalog: Catalog, item_id: str) -> str | None:
    try:
        doc = catalog.get_published(item_id)
    except CommuneRadioError:  # a local item of a device, or one central no longer has
        return None
    return doc.get("title") if isinstance(doc, dict) else None
