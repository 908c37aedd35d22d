"""Central's fleet monitoring for operators: pages and JSON API over ``central.monitoring.Monitor``.

The pages and the JSON API show the same data. Who may see them is decided before any of
these views runs (``central.operator_web``: a logged-in person, or an API token); device reports arrive through
``central.device_api``.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

import protocol
from central.catalog import Catalog
from central.http import ApiError, catalog, json_response, monitor, read_json
from central.monitoring import problem_label
from central.operator_web import SECURITY_HEADERS, actor
from protocol.errors import CommuneRadioError

DISPLAY_TZ = "Asia/Ho_Chi_Minh"
COMMAND_TYPES_FORM = ("play", "stop", "set_volume", "sync_now", "reload")

monitoring = Blueprint("monitoring", __name__)


def local_time(value: str | None) -> str:
    """A UTC protocol time shown in Vietnam's time (the fleet is read by people there)."""
    if not value:
        return "—"
    try:
        moment = protocol.parse_utc(value)
    except ValueError:
        return value
    return moment.astimezone(zoneinfo.ZoneInfo(DISPLAY_TZ)).strftime("%Y-%m-%d %H:%M:%S")


def problem_labels(codes: Any) -> str:
    """Problem codes as the pages show them: "Vietnamese / English", comma separated."""
    shown = []
    for code in codes or ():
        vi, en = problem_label(str(code), "vi"), problem_label(str(code), "en")
        shown.append(vi if vi == en else f"{vi} / {en}")
    return ", ".join(shown)


@monitoring.get("/api/monitor/devices/<device_id>")
def api_device(device_id: str) -> Response:
    if catalog().get_device(device_id) is None:
        raise ApiError(404, "not_found", "no such device")
    return json_response(monitor().device_detail(device_id))


@monitoring.get("/api/monitor/items/<item_id>")
def api_item(item_id: str) -> Response:
    return json_response({"item_id": item_id, "title": _title(catalog(), item_id),
                          "plays": monitor().item_plays(item_id)})


@monitoring.get("/monitor/devices/<device_id>")
def page_device(device_id: str) -> str:
    cat = catalog()
    if cat.get_device(device_id) is None:
        abort(404)
    message = request.args.get("message", "")[:300]
    return render_template("monitor_device.html", d=monitor().device_detail(device_id), csrf=g.csrf,
                           types=COMMAND_TYPES_FORM, message=message, now=protocol.format_utc(cat.clock()))


@monitoring.get("/monitor/items/<item_id>")
def page_item(item_id: str) -> Response:
    response = Response(render_template("monitor_item.html", item_id=item_id, title=_title(catalog(), item_id),
                                        plays=monitor().item_plays(item_id), speech=_speech(catalog(), item_id)))
    # The page's player may load the item's speech from here; nothing else changes.
    response.headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"] + "; media-src 'self'"
    return response


@monitoring.get("/monitor/items/<item_id>/speech")
def item_speech(item_id: str) -> Response:
    """Central's rendered speech of the item: exactly the file stations play (served inert)."""
    doc = _speech(catalog(), item_id)
    found = catalog().media_info(doc["media"]["sha256"]) if doc else None
    if found is None:
        abort(404)
    path, size, _ = found
    response = Response(path.read_bytes(), mimetype="audio/wav")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; " + SECURITY_HEADERS["Content-Security-Policy"]
    return response


@monitoring.post("/api/monitor/devices/<device_id>/commands")
def api_command(device_id: str) -> Response:
    if catalog().get_device(device_id) is None:
        raise ApiError(404, "not_found", "no such device")
    body = read_json(4096)
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) \
            or not isinstance(body.get("params", {}), dict):
        raise ApiError(400, "bad_request", 'expected {"type": …, "params": {…}, "expires_in_s": …}')
    expires = body.get("expires_in_s", 600)
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise ApiError(400, "bad_request", "expires_in_s must be an integer")
    try:
        signed = monitor().queue_command(device_id, body["type"], body.get("params", {}), expires_in_s=expires,
                                         by=actor())
    except CommuneRadioError as exc:
        raise ApiError(400, "bad_request", exc.en) from None
    return json_response(signed, 201)


# The operator check (admin token or session + CSRF) runs in central.operator_web before this.
@monitoring.post("/monitor/devices/<device_id>/commands")
def page_command(device_id: str) -> Any:
    if catalog().get_device(device_id) is None:
        abort(404)
    try:
        params = form_params(request.form.get("type", ""), request.form)
        expires = int(request.form.get("expires_in", "600") or 600)
        signed = monitor().queue_command(device_id, request.form.get("type", ""), params, expires_in_s=expires,
                                         by=actor())
        message = f"queued {signed['id']}"
    except (ValueError, CommuneRadioError) as exc:
        message = f"refused: {getattr(exc, 'en', str(exc))}"
    return redirect(url_for("monitoring.page_device", device_id=device_id, message=message), code=303)


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


def _speech(catalog: Catalog, item_id: str) -> dict[str, Any] | None:
    try:
        return catalog.speech.get(item_id)
    except CommuneRadioError:
        return None


def _title(catalog: Catalog, item_id: str) -> str | None:
    try:
        doc = catalog.get_published(item_id)
    except CommuneRadioError:  # a local item of a device, or one central no longer has
        return None
    return doc.get("title") if isinstance(doc, dict) else None
