"""Zones and volume: relay state and test per zone, output volume, broadcast windows."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.errors import ControlError
from appliance.panel.forms import parse_int, parse_windows_text
from appliance.panel.views.dashboard import relay_states
from appliance.panel.web import admin_required, audit, daemon_actor, err_text, flash_t, panel, user
from appliance.panel.weekview import zone_windows
from appliance.state import settings as settings_overrides
from protocol.errors import CommuneRadioError

bp = Blueprint("zones", __name__)


def _zone(name: str) -> str:
    if name not in panel().config.zone_names():
        abort(404)
    return name


def current_volume(status: dict[str, Any] | None) -> int:
    state = panel()
    if status and isinstance(status.get("volume"), int):
        return int(status["volume"])
    row = state.store.query_one("SELECT value FROM daemon_state WHERE key = 'audio.volume'")
    with contextlib.suppress(TypeError, ValueError):
        return int(row["value"]) if row else state.config.audio.volume
    return state.config.audio.volume


@bp.route("/zones")
def index() -> ResponseReturnValue:
    state = panel()
    status = state.daemon.status()
    effective = state.effective_config()
    windows = {z.name: zone_windows(effective, z.name) for z in state.config.zones}
    custom = {z.name: bool(z.windows) for z in effective.zones}
    switching = [dict(r) for r in state.store.query(
        "SELECT zone, state, at, reason FROM relay_log ORDER BY id DESC LIMIT 12")]
    return render_template("zones.html", status=status, relays=relay_states(state, status),
                           volume=current_volume(status), windows=windows, custom=custom, switching=switching)


@bp.route("/zones/volume", methods=["POST"])
def volume() -> ResponseReturnValue:
    state = panel()
    try:
        value = parse_int(request.form.get("volume"), "volume", 0, 100)
        state.daemon.call("set_volume", daemon_actor(), volume=value)
    except ControlError as exc:
        audit("volume.set", "", outcome="refused", details={"error": exc.code})
        flash(err_text(exc), "error")
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
    else:
        audit("volume.set", value, details={"volume": value})
        flash_t("Volume set to %(volume)s.", "ok", volume=value)
    return redirect(url_for("zones.index"))


@bp.route("/zones/<zone>/test", methods=["POST"])
def relay_test(zone: str) -> ResponseReturnValue:
    state = panel()
    name = _zone(zone)
    try:
        seconds = parse_int(request.form.get("seconds"), "seconds", 1, 60, default=3)
        state.daemon.call("relay_test", daemon_actor(), zone=name, seconds=seconds)
    except ControlError as exc:
        audit("relay.test", name, outcome="refused", details={"error": exc.code})
        flash(err_text(exc), "error")
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
    else:
        audit("relay.test", name, details={"seconds": seconds})
        flash_t("Relay test started for zone %(zone)s.", "ok", zone=name)
    return redirect(url_for("zones.index"))


@bp.route("/zones/<zone>/windows", methods=["POST"])
@admin_required
def windows(zone: str) -> ResponseReturnValue:
    state = panel()
    name = _zone(zone)
    current = user()
    assert current is not None
    try:
        values = parse_windows_text(request.form.get("windows"))
        settings_overrides.save(state.store, state.config, {f"zones.{name}.windows": values}, actor=current.username,
                                audit=lambda tx: audit("zone.windows", name, conn=tx, details={"windows": values}))
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return redirect(url_for("zones.index"))
    _reload()
    flash_t("Saved.", "ok")
    return redirect(url_for("zones.index"))


def _reload() -> None:
    try:
        panel().daemon.call("reload", daemon_actor())
    except CommuneRadioError:
        flash_t("Settings saved; the daemon is not answering and will use them at its next start.", "info")
