"""Emergency broadcast for a storm night: start from an editable template, hear the speech
first, repeat every N minutes (M times or until stopped), choose what happens to the bulletin it
interrupts, confirm once on a review of exactly what will air; and stop."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.errors import ControlError
from appliance.panel.forms import MAX_TEXT, clean_text, field_of, invalid, parse_int, parse_zones
from appliance.panel.speech import speech_error
from appliance.panel.web import (
    PanelState,
    admin_required,
    audit,
    daemon_actor,
    err_text,
    flash_t,
    lang,
    local_target,
    panel,
    user,
)
from appliance.state.store import utc_now_iso
from protocol.errors import CommuneRadioError

bp = Blueprint("emergency", __name__)
# How long the result page waits for the first audio before showing "requested" only.
AUDIO_WAIT_S = 8.0


def templates(state: PanelState) -> list[dict[str, Any]]:
    """The emergency texts to start from (migration 0007; edited on /emergency/templates)."""
    try:
        return [dict(r) for r in state.store.query("SELECT * FROM emergency_templates ORDER BY position, key")]
    except Exception:  # noqa: BLE001 - a store before migration 0007 has none
        return []


def _render(state: PanelState, status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("form", {})
    context.setdefault("errors", {})
    ready = [i for i in state.store.list_items(states=("ready",)) if not i.get("revoked")]
    status_now = state.daemon.status() or {}
    return render_template("emergency.html", ready_items=ready, templates=templates(state),
                           repeats=status_now.get("repeats") or [],
                           resume_default=state.effective_config().schedule.resume_interrupted, **context), status


@bp.route("/emergency")
def index() -> ResponseReturnValue:
    state = panel()
    form: dict[str, str] = {}
    chosen = request.args.get("template", "")[:40]
    for template in templates(state):
        if template["key"] == chosen:
            form = {"text": template["text"], "template": chosen}
    return _render(state, form=form)


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


def _parse(state: PanelState, form: Any, errors: dict[str, str]) -> dict[str, Any]:
    """The emergency form: text or item, zones, repeat (every N minutes, M times or until stopped)
    and what happens to the interrupted bulletin."""
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
    out: dict[str, Any] = {"text": text, "item_id": item_id, "zones": zones, "every_min": 0, "times": 0}
    repeat = form.get("repeat", "no")
    if repeat in ("times", "until_stopped"):
        try:
            out["every_min"] = parse_int(form.get("every_min"), "every_min", 1, 1440)
            out["times"] = parse_int(form.get("times"), "times", 2, 100) if repeat == "times" else 0
        except CommuneRadioError as exc:
            errors[field_of(exc) or "repeat"] = exc.message(lang())
        if item_id and not text:
            errors["repeat"] = invalid("repeat", "chỉ văn bản khẩn cấp mới lặp lại được.",
                                       "only an emergency text can be repeated.").message(lang())
    out["repeat"] = repeat if repeat in ("times", "until_stopped") else "no"
    resume = form.get("interrupted", "")
    out["resume"] = {"resume": True, "drop": False}.get(resume)
    return out


@bp.route("/emergency/preview", methods=["POST"])
def preview() -> ResponseReturnValue:
    """Hear the emergency text before it goes on air (the station's voice and rate)."""
    state = panel()
    form = request.form
    errors: dict[str, str] = {}
    context: dict[str, Any] = {"form": form, "errors": errors}
    try:
        text = clean_text(form.get("text"), "text", max_len=MAX_TEXT, required=True, multiline=True)
        config = state.effective_config()
        context["spoken"] = state.speech.spoken_form(text)
        sha, seconds = state.speech.preview(text, config.tts.voice, config.tts.rate)
        context["preview_sha"], context["preview_seconds"] = sha, round(seconds, 1)
    except (CommuneRadioError, OSError, ValueError) as exc:
        errors["text"] = err_text(speech_error(exc)) if not isinstance(exc, CommuneRadioError) else err_text(exc)
    return _render(state, 400 if errors else 200, **context)


@bp.route("/emergency", methods=["POST"])
def broadcast() -> ResponseReturnValue:
    """Two steps, one clear confirmation: the form goes to a review of exactly what will air (text,
    zones, repeat, the interrupted bulletin); its one button airs it."""
    state = panel()
    form = request.form
    errors: dict[str, str] = {}
    parsed = _parse(state, form, errors)
    if errors:
        return _render(state, 400, form=form, errors=errors)
    if form.get("confirm") != "yes":
        return _render(state, 200, form=form, review=parsed)
    zones, text, item_id = parsed["zones"], parsed["text"], parsed["item_id"]
    params: dict[str, Any] = {"zones": None if zones == ["*"] else zones}
    params.update({"text": text} if text else {"item_id": item_id})
    if parsed["resume"] is not None:
        params["resume"] = parsed["resume"]
    if parsed["repeat"] != "no":
        params.update(repeat_every_s=parsed["every_min"] * 60, repeat_times=parsed["times"])
    details = {"zones": zones, "text": text[:200]} if text else {"zones": zones, "item_id": item_id}
    details |= {"repeat": parsed["repeat"], "every_min": parsed["every_min"], "times": parsed["times"],
                "resume": parsed["resume"]}
    try:
        result = state.daemon.call("emergency", daemon_actor(), **params)
    except ControlError as exc:
        audit("emergency.broadcast", item_id or "text", outcome="refused", details=details | {"error": exc.code})
        return _render(state, 503, form=form, errors={"daemon": err_text(exc)})
    target = str(result.get("item_id") or item_id)
    audit("emergency.broadcast", target, details=details | {"request_id": result.get("request_id")})
    audio_at = wait_for_audio(state, result.get("request_id"), target, AUDIO_WAIT_S)
    return _render(state, 200, started={"item_id": target, "audio_at": audio_at, "parsed": parsed,
                                        "message": result.get(lang()) or result.get("message")})


@bp.route("/emergency/templates", methods=["GET", "POST"])
@admin_required
def edit_templates() -> ResponseReturnValue:
    state = panel()
    if request.method == "POST":
        key = request.form.get("key", "")[:40]
        current = user()
        assert current is not None
        try:
            title = clean_text(request.form.get("title"), "title", max_len=100, required=True)
            text = clean_text(request.form.get("text"), "text", max_len=MAX_TEXT, required=True, multiline=True)
        except CommuneRadioError as exc:
            flash(err_text(exc), "error")
            return redirect(url_for("emergency.edit_templates"))
        with state.store.transaction(durable=True) as tx:
            changed = tx.execute("UPDATE emergency_templates SET title = ?, text = ?, updated_at = ?, updated_by = ?"
                                 " WHERE key = ?", (title, text, utc_now_iso(), current.username, key)).rowcount
            if changed:
                audit("emergency.template", key, conn=tx, details={"title": title})
        if not changed:
            abort(404)
        flash_t("Saved.", "ok")
        return redirect(url_for("emergency.edit_templates"))
    return render_template("emergency_templates.html", templates=templates(state))


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
