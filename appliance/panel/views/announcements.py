"""Announcements: write text -> see the spoken form -> listen to the TTS preview -> save;
or upload an audio clip -> listen. Saved as local items (source='local')."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from appliance.panel import local_items
from appliance.panel.forms import (
    MAX_TEXT,
    MAX_TITLE,
    PRIORITIES,
    VOICES,
    clean_text,
    field_of,
    invalid,
    parse_choice,
    parse_int,
    parse_local_datetime,
    parse_zones,
)
from appliance.panel.i18n import format_number
from appliance.panel.media_response import send_audio
from appliance.panel.speech import speech_error
from appliance.panel.uploads import store_upload, valid_sha
from appliance.panel.web import PanelState, audit, err_text, flash_t, panel, user
from protocol.errors import CommuneRadioError

bp = Blueprint("announcements", __name__)


def parse_common(state: PanelState, form: MultiDict[str, str], errors: dict[str, str],
                 lang: str) -> dict[str, Any]:
    """Fields shared by text and clip announcements; errors collected per field."""
    out: dict[str, Any] = {}
    checks = {
        "title": lambda: clean_text(form.get("title"), "title", max_len=MAX_TITLE),
        "priority": lambda: parse_choice(form.get("priority"), "priority", PRIORITIES, default="normal"),
        "zones": lambda: parse_zones(form.getlist("zones"), state.config.zone_names()),
        "valid_from": lambda: parse_local_datetime(form.get("valid_from"), "valid_from", state.zone, required=False),
        "valid_until": lambda: parse_local_datetime(form.get("valid_until"), "valid_until", state.zone,
                                                    required=False),
    }
    for name, check in checks.items():
        try:
            out[name] = check()
        except CommuneRadioError as exc:
            errors[field_of(exc) or name] = exc.message(lang)
    if out.get("valid_from") and out.get("valid_until") and out["valid_until"] <= out["valid_from"]:
        exc = invalid("valid_until", "phải sau thời điểm bắt đầu hiệu lực.", "must be after 'valid from'.")
        errors["valid_until"] = exc.message(lang)
    return out


def parse_speech(state: PanelState, form: MultiDict[str, str], errors: dict[str, str], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    checks = {
        "text": lambda: clean_text(form.get("text"), "text", max_len=MAX_TEXT, multiline=True),
        "voice": lambda: parse_choice(form.get("voice"), "voice", VOICES, default=state.config.tts.voice),
        "rate": lambda: parse_int(form.get("rate"), "rate", 80, 300, default=state.config.tts.rate),
    }
    for name, check in checks.items():
        try:
            out[name] = check()
        except CommuneRadioError as exc:
            errors[name] = exc.message(lang)
    return out


def _recent_local(state: PanelState) -> list[dict[str, Any]]:
    rows = state.store.query("SELECT id FROM items WHERE source = 'local' AND deleted_at IS NULL"
                             " ORDER BY received_at DESC LIMIT 20")
    return [i for i in (state.store.get_item(r["id"]) for r in rows) if i]


def _render(state: PanelState, status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("form", {})
    context.setdefault("errors", {})
    context.setdefault("upload_errors", {})
    return render_template("announcements.html", voices=VOICES, recent=_recent_local(state),
                           deleted=local_items.deleted_recently(state.store),
                           default_rate=state.config.tts.rate, default_voice=state.config.tts.voice,
                           **context), status


@bp.route("/announcements", methods=["GET"])
def index() -> ResponseReturnValue:
    return _render(panel())


@bp.route("/announcements", methods=["POST"])
def compose() -> ResponseReturnValue:
    """One form, three buttons: show the spoken form, listen to a preview, or save."""
    from appliance.panel.web import lang

    state = panel()
    form = request.form
    action = form.get("action", "normalize")
    if action not in ("normalize", "preview", "save"):
        action = "normalize"
    errors: dict[str, str] = {}
    speech = parse_speech(state, form, errors, lang())
    common = parse_common(state, form, errors, lang()) if action == "save" else {}
    context: dict[str, Any] = {"form": form, "errors": errors}
    if "text" in speech and not errors.get("text"):
        try:
            context["spoken"] = state.speech.spoken_form(speech["text"])
            if action == "preview" and not errors:
                sha, seconds = state.speech.preview(speech["text"], speech["voice"], speech["rate"])
                context["preview_sha"], context["preview_seconds"] = sha, round(seconds, 1)
        except (CommuneRadioError, OSError, ValueError) as exc:
            errors["text"] = err_text(speech_error(exc))
    if errors:
        return _render(state, 400, **context)
    if action != "save":
        return _render(state, 200, **context)
    current = user()
    assert current is not None
    announcement = local_items.Announcement(
        title=common["title"], kind="text", text=speech["text"], priority=common["priority"],
        zones=tuple(common["zones"]), valid_from=common["valid_from"], valid_until=common["valid_until"],
        voice=speech["voice"], rate=speech["rate"])
    item_id = local_items.create(
        state.store, announcement, created_by=current.username,
        audit=lambda tx, iid: audit("announcement.create", iid, conn=tx,
                                    details={"title": announcement.title, "kind": "text",
                                             "priority": announcement.priority}))
    flash_t("Announcement saved.", "ok")
    return redirect(url_for("announcements.index", saved=item_id))


@bp.route("/announcements/upload", methods=["POST"])
def upload() -> ResponseReturnValue:
    from appliance.panel.web import lang

    state = panel()
    errors: dict[str, str] = {}
    common = parse_common(state, request.form, errors, lang())
    clip_file = request.files.get("clip")
    stored = None
    if clip_file is None:
        errors["clip"] = invalid("clip", "hãy chọn một tệp.", "choose a file.").message(lang())
    elif not errors:
        try:
            stored = store_upload(clip_file.stream, clip_file.filename, media=state.media,
                                  temp_dir=state.work_dir / "uploads",
                                  max_bytes=state.config.panel.max_upload_bytes,
                                  max_duration_s=state.config.schedule.max_duration_minutes * 60)
        except CommuneRadioError as exc:
            errors["clip"] = exc.message(lang())
            audit("announcement.upload", clip_file.filename or "", outcome="refused", details={"error": exc.code})
    if errors or stored is None:
        return _render(state, 400, upload_form=request.form, upload_errors=errors)
    current = user()
    assert current is not None
    announcement = local_items.Announcement(
        title=common["title"], kind="audio", priority=common["priority"], zones=tuple(common["zones"]),
        valid_from=common["valid_from"], valid_until=common["valid_until"], media_sha256=stored.sha256,
        media_bytes=stored.bytes, media_mime=stored.mime, duration_s=stored.duration_s)
    item_id = local_items.create(
        state.store, announcement, created_by=current.username,
        audit=lambda tx, iid: audit("announcement.upload", iid, conn=tx,
                                    details={"title": announcement.title, "sha256": stored.sha256,
                                             "bytes": stored.bytes, "file": stored.display_name}))
    flash_t("Clip uploaded: %(seconds)s s.", "ok", seconds=format_number(stored.duration_s, lang()))
    return redirect(url_for("announcements.index", saved=item_id))


@bp.route("/announcements/preview/<sha>.wav")
def preview(sha: str) -> ResponseReturnValue:
    if not valid_sha(sha):
        abort(404)
    path = panel().speech.path_for(sha)
    if path is None:
        abort(404)
    return send_audio(path, "audio/wav", f"preview-{sha[:12]}")


@bp.route("/announcements/<item_id>/revoke", methods=["POST"])
def revoke(item_id: str) -> ResponseReturnValue:
    state = panel()
    current = user()
    assert current is not None
    if len(item_id) > 200:
        abort(404)
    done = local_items.revoke(state.store, item_id, actor=current.username,
                              audit=lambda tx, iid: audit("announcement.revoke", iid, conn=tx))
    if not done:
        abort(404)
    # The daemon re-reads the store on its own; telling it only makes it faster.
    with contextlib.suppress(CommuneRadioError):
        state.daemon.call("schedule_changed", f"panel:{current.username}")
    flash_t("Deleted.", "ok")
    return redirect(url_for("announcements.index"))


def _local(state: PanelState, item_id: str) -> dict[str, Any]:
    item = state.store.get_item(item_id[:200])
    if item is None or item.get("source") != "local":
        abort(404)
    return item


@bp.route("/announcements/<item_id>/delete", methods=["GET"])
def confirm_delete(item_id: str) -> ResponseReturnValue:
    """What deleting takes with it: the announcement's slots, listed, before one confirmation."""
    from appliance.broadcast.slots import SlotRepository
    from appliance.panel.views.schedule import describe_slot

    state = panel()
    item = _local(state, item_id)
    ids = set(local_items.live_slot_ids(state.store, item["id"]))
    slots = [s for s in SlotRepository(state.store, state.config).list() if s.id in ids]
    return render_template("announcement_delete.html", item=item, slots=slots, describe=describe_slot)


def _delete_or_restore(item_id: str, change: Callable[..., list[str]], action: str, done: str) -> ResponseReturnValue:
    """Soft-delete or restore an announcement with its slots, audited, then tell the daemon."""
    state = panel()
    current = user()
    assert current is not None
    item = _local(state, item_id)
    try:
        slots = change(state.store, item["id"], actor=current.username,
                       audit=lambda tx, ids: audit(action, item["id"], conn=tx, details={"slots": ids}))
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return redirect(url_for("announcements.index"))
    with contextlib.suppress(CommuneRadioError):
        state.daemon.call("schedule_changed", f"panel:{current.username}")
    flash_t(done, "ok", count=len(slots))
    return redirect(url_for("announcements.index"))


@bp.route("/announcements/<item_id>/delete", methods=["POST"])
def delete(item_id: str) -> ResponseReturnValue:
    return _delete_or_restore(item_id, local_items.delete, "announcement.delete",
                              "Deleted, with %(count)s slots. You can undo this for 24 hours.")


@bp.route("/announcements/<item_id>/undo", methods=["POST"])
def undo(item_id: str) -> ResponseReturnValue:
    return _delete_or_restore(item_id, local_items.undelete, "announcement.restore", "Restored, with %(count)s slots.")
