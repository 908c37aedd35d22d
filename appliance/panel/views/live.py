"""Live voice ("Nói trực tiếp"): speak to the loudspeakers from this browser's microphone or the
station's, or record a message to broadcast later.

The browser (static/live.js, an AudioWorklet) sends ~50 ms of 16 kHz mono s16le PCM per HTTP
POST to ``/live/chunk``; the panel passes each chunk to the daemon over the control channel
(``live_chunk``), which owns the session. Only the operator who started a browser session can
send its audio. The page works in a secure context only (HTTPS, or localhost): browsers give
the microphone to nothing else, so this page alone allows it in its Permissions-Policy.
Recordings are served as inert audio (``media_response``) to the play log and the preview.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.panel import local_items
from appliance.panel.forms import clean_text, parse_zones
from appliance.panel.media_response import send_audio
from appliance.panel.uploads import store_upload
from appliance.panel.web import audit, daemon_actor, flash_t, lang, panel, user
from protocol.errors import CommuneRadioError, ValidationError

bp = Blueprint("live", __name__)
SESSION_RE = re.compile(r"^live-[0-9a-f]{16}$")
MAX_CHUNK_BYTES = 32_000
LIVE_PERMISSIONS = "camera=(), microphone=(self), geolocation=()"


def _error(exc: CommuneRadioError, status: int = 400) -> ResponseReturnValue:
    return jsonify({"ok": False, "error": exc.as_dict(), "message": exc.message(lang())}), status


def _session_id(value: Any) -> str:
    if not isinstance(value, str) or not SESSION_RE.match(value):
        raise ValidationError("Mã phiên không hợp lệ.", "Invalid session id.", code="invalid_input.session")
    return value


@bp.route("/live")
def index() -> ResponseReturnValue:
    state = panel()
    status = _status() or {}
    https_port = state.config.panel.https_port
    host = (request.host or "").rsplit(":", 1)[0]
    secure_url = f"https://{host}:{https_port}{url_for('live.index')}" if https_port else ""
    recordings = state.store.query(
        "SELECT * FROM live_sessions WHERE mode = 'record' AND recording IS NOT NULL AND item_id IS NULL"
        " ORDER BY requested_at DESC LIMIT 10")
    from appliance.panel.tls import fingerprint, tls_files

    files = tls_files(state.config.data_path)
    ca_fingerprint = fingerprint(files) if files.ca.is_file() else ""
    response = render_template("live.html", live=status, secure_url=secure_url, recordings=recordings,
                               zones=state.config.zones, ca_fingerprint=ca_fingerprint)
    headers = {"Permissions-Policy": LIVE_PERMISSIONS}
    return response, 200, headers


def _status() -> dict[str, Any] | None:
    try:
        return panel().daemon.call("live_status", daemon_actor())
    except CommuneRadioError:
        return None


@bp.route("/live/status")
def status() -> ResponseReturnValue:
    found = _status()
    if found is None:
        return jsonify({"ok": False, "message": "Không liên lạc được với dịch vụ phát." if lang() == "vi"
                        else "Cannot reach the broadcast daemon."}), 503
    return jsonify({"ok": True, **found})


@bp.route("/live/start", methods=["POST"])
def start() -> ResponseReturnValue:
    state = panel()
    body = request.get_json(silent=True) or {}
    try:
        zones = parse_zones(body.get("zones") or ["*"], state.config.zone_names())
        params = {"source": body.get("source", "browser"), "mode": body.get("mode", "broadcast"),
                  "zones": None if zones == ["*"] else zones, "urgent": bool(body.get("urgent", False))}
        result = state.daemon.call("live_start", daemon_actor(), **params)
    except CommuneRadioError as exc:
        audit("live.start", body.get("source", ""), outcome="refused", details={"error": exc.code})
        return _error(exc, 409 if exc.code.startswith("live.") else 400)
    audit("live.start", result.get("session_id", ""), details=params)
    message = result.get("message") or {}
    return jsonify({"ok": True, "session_id": result["session_id"], "message": message.get(lang(), "")})


@bp.route("/live/chunk", methods=["POST"])
def chunk() -> ResponseReturnValue:
    state = panel()
    try:
        session_id = _session_id(request.args.get("session"))
        data = request.get_data(cache=False)
        if not data or len(data) > MAX_CHUNK_BYTES or len(data) % 2:
            raise ValidationError("Khối âm thanh không hợp lệ.", "Invalid audio chunk.", code="invalid_input.chunk")
        result = state.daemon.call("live_chunk", daemon_actor(), session_id=session_id,
                                   data=base64.b64encode(data).decode("ascii"))
    except CommuneRadioError as exc:
        return _error(exc, 409 if exc.code.startswith("live.") else 400)
    return jsonify({"ok": True, "phase": result.get("phase")})


@bp.route("/live/stop", methods=["POST"])
def stop() -> ResponseReturnValue:
    state = panel()
    body = request.get_json(silent=True) or request.form
    try:
        session_id = _session_id(body.get("session_id")) if body.get("session_id") else None
        result = state.daemon.call("live_stop", daemon_actor(), session_id=session_id)
    except CommuneRadioError as exc:
        return _error(exc)
    audit("live.stop", session_id or "")
    message = result.get("message") or {}
    return jsonify({"ok": True, "message": message.get(lang(), "")})


@bp.route("/live/recording/<session_id>.ogg")
def recording(session_id: str) -> ResponseReturnValue:
    state = panel()
    if not SESSION_RE.match(session_id):
        abort(404)
    row = state.store.query_one("SELECT recording FROM live_sessions WHERE id = ?", (session_id,))
    if row is None or not row["recording"]:
        abort(404)
    path = state.config.data_path / "live" / row["recording"]
    if not path.is_file():
        abort(404)
    return send_audio(path, "audio/ogg", session_id)


@bp.route("/live/announce", methods=["POST"])
def announce() -> ResponseReturnValue:
    """A recorded message becomes a local audio announcement (then scheduled or played as any)."""
    state = panel()
    form = request.form
    try:
        session_id = _session_id(form.get("session_id"))
        title = clean_text(form.get("title"), "title", max_len=200)
        zones = parse_zones(form.getlist("zones") or ["*"], state.config.zone_names())
        row = state.store.query_one("SELECT * FROM live_sessions WHERE id = ? AND mode = 'record'", (session_id,))
        if row is None or not row["recording"]:
            raise ValidationError("Không có bản ghi âm này.", "No such recording.", code="invalid_input.recording")
        path = state.config.data_path / "live" / row["recording"]
        with open(path, "rb") as handle:
            stored = store_upload(handle, f"{session_id}.ogg", media=state.media, temp_dir=state.work_dir / "uploads",
                                  max_bytes=state.config.panel.max_upload_bytes,
                                  max_duration_s=state.config.schedule.max_duration_minutes * 60)
    except (CommuneRadioError, OSError) as exc:
        text = exc.message(lang()) if isinstance(exc, CommuneRadioError) else str(exc)
        flash_t("Could not make the announcement: %(error)s", "error", error=text)
        return redirect(url_for("live.index"))
    current = user()
    assert current is not None
    announcement = local_items.Announcement(title=title, kind="audio", zones=tuple(zones),
                                            media_sha256=stored.sha256, media_bytes=stored.bytes,
                                            media_mime=stored.mime, duration_s=stored.duration_s)
    item_id = local_items.create(state.store, announcement, created_by=current.username,
                                 audit=lambda tx, iid: audit("live.announce", iid, conn=tx,
                                                             details={"session_id": session_id}))
    with state.store.transaction(durable=True) as tx:
        tx.execute("UPDATE live_sessions SET item_id = ? WHERE id = ?", (item_id, session_id))
    flash_t("Announcement saved.", "ok")
    return redirect(url_for("announcements.index", saved=item_id))


@bp.route("/live/station-ca.pem")
def station_ca() -> ResponseReturnValue:
    """The station's certificate authority, for an officer to install once on a phone."""
    from flask import send_file

    from appliance.panel.tls import tls_files

    files = tls_files(panel().config.data_path)
    if not files.ca.is_file():
        abort(404)
    response = send_file(files.ca, mimetype="application/x-x509-ca-cert", as_attachment=True,
                         download_name="commune-radio-station-ca.crt", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
