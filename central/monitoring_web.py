"""HTTP face of central's monitoring: device endpoints (heartbeat, logs), fleet pages, JSON API.

``register_monitoring(app, catalog, authenticate)`` is called by ``central.server.create_app``.
Device endpoints follow protocol §10: bodies are size-checked before they are parsed, a
malformed or oversized body gets a 4xx with a reason and stores nothing. The pages and the
JSON API show the same data (``Monitor``); the reference central has no operator login, so
it should stay on loopback or behind the deployment's own access control. The command form
carries a per-process token so another site cannot make a browser queue commands.
"""

from __future__ import annotations

import hmac
import json
import secrets
import zoneinfo
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, redirect, render_template, request, url_for

from appliance import protocol
from appliance.errors import CommuneRadioError
from central.catalog import DB_FILE, Catalog, Device
from central.monitoring import LOGS_MAX_BYTES, BadReport, Monitor, validate_heartbeat, validate_logs

DISPLAY_TZ = "Asia/Ho_Chi_Minh"
COMMAND_TYPES_FORM = ("play", "stop", "set_volume", "sync_now", "reload")


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
    form_token = secrets.token_urlsafe(24)
    app.jinja_env.filters["local_time"] = _local

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

    @app.get("/monitor/devices/<device_id>")
    def page_device(device_id: str) -> str:
        if catalog.get_device(device_id) is None:
            abort(404)
        message = request.args.get("message", "")[:300]
        return render_template("monitor_device.html", d=monitor.device_detail(device_id), token=form_token,
                               types=COMMAND_TYPES_FORM, message=message, now=protocol.format_utc(catalog.clock()))

    @app.get("/monitor/items/<item_id>")
    def page_item(item_id: str) -> str:
        return render_template("monitor_item.html", item_id=item_id, title=_title(catalog, item_id),
                               plays=monitor.item_plays(item_id))

    @app.post("/monitor/devices/<device_id>/commands")
    def page_command(device_id: str) -> Any:
        if not hmac.compare_digest(request.form.get("token", ""), form_token):
            abort(403)
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
