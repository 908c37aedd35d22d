"""Items from central (and local announcements): state, priority, validity, text, listen, play now."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.errors import ControlError
from appliance.panel.forms import parse_zones
from appliance.panel.media_response import send_audio
from appliance.panel.speech import speech_error
from appliance.panel.web import audit, daemon_actor, err_text, flash_t, panel
from appliance.state.store import item_is_expired, utc_now_iso
from appliance.sync.speech import SpeechUnusable, speech_row, verified_speech
from protocol.errors import CommuneRadioError

bp = Blueprint("items", __name__)
MAX_ID = 200


def display_state(item: dict[str, Any], now: str) -> str:
    if item.get("revoked") or item.get("state") == "revoked":
        return "revoked"
    if item.get("state") == "rejected":
        return "rejected"
    if item_is_expired(item, now):
        return "expired"
    return str(item.get("state"))


def voice_on_air(item: dict[str, Any]) -> dict[str, str] | None:
    """Whose voice reads a text item: central's rendering when the station holds it ready, else the station's."""
    if item.get("kind") != "text":
        return None
    state = panel()
    row = speech_row(state.store, item["id"], int(item["version"])) if item.get("source") == "central" else None
    if row is not None and row["state"] == "ready":
        return {"source": "central", "name": str(row["voice_name"])}
    from audio.engines import describe_voice  # no engine is started: the configured voice's name

    return {"source": "station", "name": describe_voice(state.config.tts, state.config.data_path / "voices")["name"]}


def central_speech_path(item: dict[str, Any]) -> Any | None:
    """The file of central's verified speech for ``item`` (what airs), or None."""
    if item.get("source") != "central" or item.get("kind") != "text" or not item.get("document"):
        return None
    import protocol

    state = panel()
    try:
        keys = [protocol.public_key_from_b64(state.config.central.public_key)]
        return verified_speech(state.store, state.media, keys, item).path
    except (SpeechUnusable, CommuneRadioError):
        return None


def find_item(item_id: str) -> dict[str, Any]:
    if not item_id or len(item_id) > MAX_ID:
        abort(404)
    item = panel().store.get_item(item_id)
    if item is None:
        abort(404)
    return item


@bp.route("/items")
def index() -> ResponseReturnValue:
    state = panel()
    now = utc_now_iso()
    source = request.args.get("source", "central")
    source = source if source in ("central", "local", "all") else "central"
    rows = [i for i in state.store.list_items() if source == "all" or i.get("source") == source]
    for item in rows:
        item["display_state"] = display_state(item, now)
        item["voice_on_air"] = voice_on_air(item)
    return render_template("items.html", items=rows, source=source)


@bp.route("/items/<item_id>/audio")
def audio(item_id: str) -> ResponseReturnValue:
    """What the item sounds like: its media file, or the TTS of its text."""
    state = panel()
    item = find_item(item_id)
    if item.get("media_sha256"):
        sha = str(item["media_sha256"])
        # Only what may play is listened to: a rejected row may share its file with a good one.
        if item.get("kind") != "audio" or item.get("state") != "ready" or not state.media.has(sha):
            abort(404)
        return send_audio(state.media.path_for(sha), item.get("media_mime"), item["id"])
    if item.get("kind") != "text" or not str(item.get("text", "")).strip():
        abort(404)
    rendered = central_speech_path(item)
    if rendered is not None:  # central's voice is what airs: that is what the operator hears
        return send_audio(rendered, "audio/wav", item["id"])
    tts = (item.get("document") or {}).get("tts") if isinstance(item.get("document"), dict) else None
    voice = (tts or {}).get("voice", state.config.tts.voice)
    rate = (tts or {}).get("rate", state.config.tts.rate)
    try:
        sha, _ = state.speech.preview(str(item["text"]), str(voice), int(rate))
    except (CommuneRadioError, OSError, ValueError) as exc:
        raise speech_error(exc) from None
    path = state.speech.path_for(sha)
    if path is None:
        abort(404)
    return send_audio(path, "audio/wav", item["id"])


@bp.route("/items/<item_id>/play", methods=["POST"])
def play(item_id: str) -> ResponseReturnValue:
    state = panel()
    item = find_item(item_id)
    try:
        zones = parse_zones(request.form.getlist("zones"), state.config.zone_names(), required=False)
        state.daemon.call("play", daemon_actor(), item_id=item["id"], zones=None if zones == ["*"] else zones)
    except ControlError as exc:
        audit("item.play", item["id"], outcome="refused", details={"error": exc.code})
        flash(err_text(exc), "error")
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
    else:
        audit("item.play", item["id"], details={"zones": zones})
        flash_t("Play request sent.", "ok")
    return redirect(url_for("items.index", source=item.get("source", "central")))
