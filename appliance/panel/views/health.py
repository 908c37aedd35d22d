"""``/healthz`` (JSON, 200 unless failing, then 503) and ``/metrics`` (Prometheus text).

Both evaluate appliance.health from the daemon's status. Without login they answer only
clients on the Pi itself (loopback: a local monitor, ``curl``); from the LAN they need a
session or an API token (``Authorization: Bearer ...``, which Prometheus can send), since
relay states and versions are nobody else's business.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue

from appliance import health
from appliance.panel.web import json_error, panel
from protocol.errors import ValidationError

bp = Blueprint("health", __name__)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _local_or_authenticated() -> bool:
    if g.get("user") is not None:
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _denied() -> ResponseReturnValue:
    return json_error(ValidationError("Cần đăng nhập hoặc mã API (hoặc hỏi từ chính thiết bị).",
                                      "Login or an API token required (or ask from the device itself).",
                                      code="auth.login_required"), 401)


def _evaluate() -> tuple[health.Health, dict | None]:
    state = panel()
    status = state.daemon.status(actor="panel:health")
    checked = health.evaluate_health(status, now=datetime.now(UTC), sync_interval_s=state.config.sync.interval_s,
                                     daemon_error="" if status is not None else "control socket")
    return checked, status


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    if not _local_or_authenticated():
        return _denied()
    checked, _ = _evaluate()
    response = jsonify(checked.as_dict())
    response.status_code = 503 if checked.status == "failing" else 200
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/metrics")
def metrics() -> ResponseReturnValue:
    if not _local_or_authenticated():
        return _denied()
    checked, status = _evaluate()
    text = health.render_metrics(status, checked, device_id=panel().config.device.id)
    return Response(text, mimetype=None, content_type=PROMETHEUS_TEXT, headers={"Cache-Control": "no-store"})
