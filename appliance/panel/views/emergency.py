"""Emergency broadcast (one clearly marked action, with confirmation) and stop."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.errors import ControlError
from appliance.panel.forms import MAX_TEXT, clean_text, field_of, invalid, parse_zones
from appliance.panel.web import PanelState, audit, daemon_actor, err_text, flash_t, lang, local_target, panel
from protocol.errors import CommuneRadioError

bp = Blueprint("emergency", __name__)
# How long the result page waits for the first audio before showing "requested" only.
AUDIO_WAIT_S = 8.0


def _render(state: PanelState, status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("form", {})
    context.setdefault("errors", {})
    ready = [i for i in state.store.list_items(states=("ready",)) if not i.get("revoked")]
    return render_template("emergency.html", ready_items=ready, **context), status


@bp.route("/emergency")
def index() -> ResponseReturnValue:
    return _render(panel())


def wait_for_audio(state: PanelState, request_id: str | None, item_id: str, timeout_s: float) -> str | None:
    """When the daemon reports audio for this emergency, return its start (UTC ISO), else None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = state.daemon.status()
        on_air = (status or {}).get("on_air") or {}
        if on_air.get("item_id") == item_id and on_air.get("audio_at"):
            return str(on_air["audio_at"])
        row = state.store.query_one(
            "SELECT actual_start, outcome FROM play_log WHERE item_id = ? AND trigger = 'emergency'"
            " ORDER BY created_at DESC LIMIT 1", (item_id,))
        if row is not None and row["outcome"] != "playing":
            return str(row["actual_start"]) if row["actual_start"] else None
        time.sleep(0.2)
    return None


@bp.route("/emergency", methods=["POST"])
def broadcast() -> ResponseReturnValue:
    state = panel()
    form = request.form
    errors: dict[str, str] = {}
    text = ""
    item_id = (form.get("item_id") or "").strip()
    zones: list[str] = ["*"]
    try:
        zones = parse_zones(form.getlist("zones"), state.config.zone_names())
    except CommuneRadioError as exc:
        errors["zones"] = exc.message(lang())
    try:
        text = clean_text(form.get("text"), "text", max_len=MAX_TEXT, required=False, multiline=True)
    except CommuneRadioError as exc:
        errors[field_of(exc) or "text"] = exc.message(lang())
    if bool(text) == bool(item_id) and "text" not in errors:
        errors["text"] = invalid("text", "hãy nhập nội dung HOẶC chọn một bản tin (đúng một trong hai).",
                                 "enter a text OR choose an item (exactly one).").message(lang())
    if item_id and (len(item_id) > 200 or state.store.get_item(item_id) is None):
        errors["item_id"] = invalid("item_id", "không có bản tin này.", "no such item.").message(lang())
    if form.get("confirm") != "yes":
        errors["confirm"] = invalid("confirm", "hãy đánh dấu ô xác nhận.", "tick the confirmation box.").message(
            lang())
    if errors:
        return _render(state, 400, form=form, errors=errors)
    params: dict[str, Any] = {"zones": None if zones == ["*"] else zones}
    params.update({"text": text} if text else {"item_id": item_id})
    details = {"zones": zones, "text": text[:200]} if text else {"zones": zones, "item_id": item_id}
    try:
        result = state.daemon.call("emergency", daemon_actor(), **params)
    except ControlError as exc:
        audit("emergency.broadcast", item_id or "text", outcome="refused", details=details | {"error": exc.code})
        return _render(state, 503, form=form, errors={"daemon": err_text(exc)})
    target = str(result.get("item_id") or item_id)
    audit("emergency.broadcast", target, details=details | {"request_id": result.get("request_id")})
    audio_at = wait_for_audio(state, result.get("request_id"), target, AUDIO_WAIT_S)
    return _render(state, 200, started={"item_id": target, "audio_at": audio_at,
                                        "message": result.get(lang()) or result.get("message")})


@bp.route("/stop", methods=["POST"])
def stop() -> ResponseReturnValue:
    state = panel()
    try:
        state.daemon.call("stop", daemon_actor())
    except ControlError as exc:
        audit("playback.stop", "", outcome="refused", details={"error": exc.code})
        flash(err_text(exc), "error")
    else:
        audit("playback.stop", "")
        flash_t("Playback stopped.", "ok")
    return redirect(local_target(request.form.get("next", ""), url_for("dashboard.index")))
