"""Settings (admins only): TTS voice and rate, intervals, default broadcast windows, users,
API tokens and the audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.panel import audit as audit_log
from appliance.panel.forms import VOICES, field_of, parse_choice, parse_int, parse_windows_text
from appliance.panel.web import admin_required, audit, daemon_actor, err_text, flash_t, lang, panel, user
from appliance.state import settings as settings_overrides
from protocol.errors import CommuneRadioError

bp = Blueprint("settings", __name__)


@bp.route("/settings")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("settings.html", config=panel().effective_config(), errors={}, voices=VOICES)


@bp.route("/settings", methods=["POST"])
@admin_required
def save() -> ResponseReturnValue:
    state = panel()
    form = request.form
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    checks = {
        "tts.voice": lambda: parse_choice(form.get("voice"), "voice", VOICES),
        "tts.rate": lambda: parse_int(form.get("rate"), "rate", 80, 300),
        "sync.interval_s": lambda: parse_int(form.get("sync_interval"), "interval", 10, 86400),
        "report.heartbeat_interval_s": lambda: parse_int(form.get("heartbeat_interval"), "interval", 5, 3600),
        "schedule.default_windows": lambda: parse_windows_text(form.get("windows")),
    }
    for key, check in checks.items():
        try:
            changes[key] = check()
        except CommuneRadioError as exc:
            errors[field_of(exc) or key] = exc.message(lang())
    if not errors and not changes["schedule.default_windows"]:
        errors["windows"] = err_text(CommuneRadioError("Cần ít nhất một khung giờ phát mặc định.",
                                                       "At least one default broadcast window is needed."))
    current = user()
    assert current is not None
    if not errors:
        try:
            settings_overrides.save(state.store, state.config, changes, actor=current.username,
                                    audit=lambda tx: audit("settings.change", "", conn=tx, details=changes))
        except CommuneRadioError as exc:
            errors["settings"] = err_text(exc)
    if errors:
        return render_template("settings.html", config=state.effective_config(), errors=errors, voices=VOICES,
                               form=form), 400
    try:
        state.daemon.call("reload", daemon_actor())
    except CommuneRadioError:
        flash_t("Settings saved; the daemon is not answering and will use them at its next start.", "info")
    else:
        flash_t("Settings saved; the daemon was asked to reload.", "ok")
    return redirect(url_for("settings.index"))


# ---------------------------------------------------------------------------- users


@bp.route("/settings/users")
@admin_required
def users() -> ResponseReturnValue:
    state = panel()
    return render_template("users.html", users=state.accounts.list_users(), tokens=state.accounts.list_tokens(),
                           new_token=None, form={}, locks=state.accounts.throttle.locks())


@bp.route("/settings/users", methods=["POST"])
@admin_required
def create_user() -> ResponseReturnValue:
    state = panel()
    form = request.form
    try:
        created = state.accounts.create_user(form.get("username", "")[:64], form.get("password", ""),
                                             form.get("role", ""), form.get("language", "vi"))
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return render_template("users.html", users=state.accounts.list_users(),
                               tokens=state.accounts.list_tokens(), new_token=None, form=form,
                               locks=state.accounts.throttle.locks()), 400
    audit("user.create", created.username, details={"role": created.role})
    flash_t("User created.", "ok")
    return redirect(url_for("settings.users"))


def _user_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        abort(404)
    return int(raw)


@bp.route("/settings/users/<raw_id>", methods=["POST"])
@admin_required
def update_user(raw_id: str) -> ResponseReturnValue:
    state = panel()
    user_id = _user_id(raw_id)
    form = request.form
    target = state.accounts.get(user_id)
    if target is None:
        abort(404)
    action = form.get("action", "")
    try:
        if action == "role":
            updated = state.accounts.update_user(user_id, role=form.get("role", ""))
        elif action == "disable":
            updated = state.accounts.update_user(user_id, disabled=True)
        elif action == "enable":
            updated = state.accounts.update_user(user_id, disabled=False)
        elif action == "password":
            if not form.get("password"):
                flash_t("Nothing was changed.", "info")
                return redirect(url_for("settings.users"))
            updated = state.accounts.update_user(user_id, password=form.get("password", ""))
        else:
            abort(400)
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return redirect(url_for("settings.users"))
    audit(f"user.{action}", updated.username, details={"role": updated.role, "disabled": updated.disabled})
    flash_t("User updated.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/settings/users/<raw_id>/delete", methods=["POST"])
@admin_required
def delete_user(raw_id: str) -> ResponseReturnValue:
    state = panel()
    user_id = _user_id(raw_id)
    current = user()
    try:
        if current is not None and current.id == user_id:
            raise CommuneRadioError("Không thể tự xoá tài khoản của mình.", "You cannot delete your own account.")
        removed = state.accounts.delete_user(user_id)
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return redirect(url_for("settings.users"))
    audit("user.delete", removed.username)
    flash_t("User deleted.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/settings/tokens", methods=["POST"])
@admin_required
def create_token() -> ResponseReturnValue:
    state = panel()
    raw = request.form.get("user_id", "")
    user_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1
    try:
        token = state.accounts.create_token(user_id, request.form.get("label", ""))
    except CommuneRadioError as exc:
        flash(err_text(exc), "error")
        return redirect(url_for("settings.users"))
    owner = state.accounts.get(user_id)
    audit("token.create", owner.username if owner else user_id, details={"label": request.form.get("label", "")})
    return render_template("users.html", users=state.accounts.list_users(), tokens=state.accounts.list_tokens(),
                           new_token=token, form={}, locks=state.accounts.throttle.locks())


@bp.route("/settings/tokens/<raw_id>/revoke", methods=["POST"])
@admin_required
def revoke_token(raw_id: str) -> ResponseReturnValue:
    if not panel().accounts.revoke_token(_user_id(raw_id)):
        abort(404)
    audit("token.revoke", raw_id)
    flash_t("Token revoked.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/settings/login-locks/unlock", methods=["POST"])
@admin_required
def unlock_login() -> ResponseReturnValue:
    username = request.form.get("username", "")[:64]
    address = request.form.get("address", "")[:64]
    if not panel().accounts.throttle.lift(username, address):
        abort(404)
    audit("auth.unlock", username, details={"address": address})
    flash_t("Unlocked.", "ok")
    return redirect(url_for("settings.users"))


@bp.route("/settings/audit", endpoint="audit")
@admin_required
def audit_view() -> ResponseReturnValue:
    prefix = request.args.get("action", "")[:40] or None
    entries = audit_log.recent(panel().store, limit=300, action_prefix=prefix)
    return render_template("audit.html", entries=entries, prefix=prefix or "")

