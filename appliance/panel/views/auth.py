"""First-run setup, login, logout and the language switch."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from appliance.panel import i18n
from appliance.panel.throttle import LoginLocked
from appliance.panel.web import (
    audit,
    audit_refused_login,
    err_text,
    flash_t,
    local_target,
    panel,
    remote_addr,
)
from protocol.errors import ValidationError

bp = Blueprint("auth", __name__)


@bp.route("/setup", methods=["GET", "POST"])
def setup() -> ResponseReturnValue:
    state = panel()
    if state.accounts.has_users():
        flash_t("Setup is already done.")
        return redirect(url_for("auth.login"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        try:
            user = state.accounts.create_first_admin(username, request.form.get("password", ""),
                                                     request.form.get("password2", ""))
        except ValidationError as exc:
            error = err_text(exc)
        else:
            g.user = user
            audit("setup.admin_created", user.username)
            g.user = None
            flash_t("Administrator created. Please log in.", "ok")
            return redirect(url_for("auth.login"))
    return render_template("setup.html", error=error, username=username), (400 if error else 200)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    state = panel()
    if g.user is not None:
        return redirect(url_for("dashboard.index"))
    error = None
    username = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        try:
            user = state.accounts.authenticate(username, request.form.get("password", ""), remote_addr())
        except LoginLocked as exc:
            error, status = err_text(exc), 429
            audit_refused_login("auth.login", username, "throttled" if exc.busy else "locked")
        except ValidationError as exc:
            error, status = err_text(exc), 401
            audit_refused_login("auth.login", username, "failed")
        else:
            session.clear()  # a fresh session (and CSRF token) at login: no session fixation
            session["sid"] = state.accounts.start_session(user, remote_addr())
            session["lang"] = user.language
            session.permanent = True
            g.user = user
            audit("auth.login", user.username)
            return redirect(local_target(request.args.get("next", ""), url_for("dashboard.index")))
    return render_template("login.html", error=error, username=username), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    audit("auth.logout", g.user.username if g.user else "")
    panel().accounts.end_session(session.get("sid"))
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash_t("You have been logged out.", "ok")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language() -> ResponseReturnValue:
    language = i18n.normalize_language(request.form.get("lang"))
    session["lang"] = language
    if g.user is not None:
        panel().accounts.update_user(g.user.id, language=language)
    return redirect(local_target(request.form.get("next", ""), url_for("dashboard.index")))
