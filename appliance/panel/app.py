"""The panel's app factory: security policy (sessions, CSRF, headers, errors) and blueprints.

Deny by default: every endpoint needs a logged-in user unless it is listed in
``PUBLIC_ENDPOINTS``; every state-changing request needs a CSRF token unless it carries an
API token (browsers never attach Authorization headers on their own, so CSRF cannot ride
on them).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from appliance.errors import ControlError
from appliance.panel import i18n
from appliance.panel.accounts import Accounts, User
from appliance.panel.daemon import ControlLike, DaemonLink, default_client
from appliance.panel.proxies import TrustedProxies
from appliance.panel.snapshot import Snapshot
from appliance.panel.speech import SpeechService
from appliance.panel.throttle import API_TOKEN_ACCOUNT, LoginLocked
from appliance.panel.web import PanelState, audit_refused_login, json_error, lang, remote_addr, t, wants_json
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from protocol.durable import create_once_bytes
from protocol.errors import CommuneRadioError, ValidationError

log = logging.getLogger("commune_radio.panel")

# health.*: /healthz and /metrics check loopback-or-authenticated themselves (views/health.py).
HEALTH_ENDPOINTS = {"health.healthz", "health.metrics"}
PUBLIC_ENDPOINTS = {"auth.login", "auth.setup", "auth.set_language", "static"} | HEALTH_ENDPOINTS
SETUP_ENDPOINTS = {"auth.setup", "static", "auth.set_language"} | HEALTH_ENDPOINTS
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_COOKIE = "cr_session"

OWN_TLS_KEY = "commune_radio.own_tls"   # set by appliance.panel.tls on its requests
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

HSTS = "max-age=31536000"

csrf = CSRFProtect()


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the panel is reached over HTTPS (behind a TLS proxy or not)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        # Not over the panel's own HTTPS port (tls.py): it serves beside plain HTTP on the same
        # host, and a Secure cookie would log that browser out of the HTTP port.
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (request.is_secure and not _own_tls())


def _secret_key(data_dir: Path) -> bytes:
    """A per-device random key, created once, readable only by the panel's user. Two panels
    starting at once agree on it (created only if absent), so neither's sessions break."""
    path = data_dir / "panel" / "secret_key"
    with contextlib.suppress(FileNotFoundError):
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        path.unlink()  # a short key is not one this code wrote: replace it
    create_once_bytes(path, secrets.token_bytes(48), mode=0o600)
    return path.read_bytes()


def create_app(config: Config, *, store: Store | None = None, control: ControlLike | None = None,
               preparer_factory: Any = None, testing: bool = False) -> Flask:
    """Build the panel. ``store`` defaults to the device database; ``control`` to the daemon's
    socket; ``preparer_factory(config, work_dir)`` to audio.prepare.Preparer (TTS previews)."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    data_dir = config.data_path
    store = store or Store.open(config.db_path)
    work_dir = data_dir / "panel"
    work_dir.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=_secret_key(data_dir),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.panel.session_lifetime_minutes),
        # The server-side session (panel_sessions.expires_at) ends at login + lifetime and is never
        # extended, so re-signing the cookie on every response bought nothing and cost ~0,3 ms a
        # request (bench/panel.py): the cookie is set when the session changes (login, language,
        # CSRF token) and expires with the server-side session.
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=config.panel.max_upload_bytes,
        # Form fields (not files) stay small: a bulletin text is a few KB.
        MAX_FORM_MEMORY_SIZE=1_000_000,
        MAX_FORM_PARTS=200,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _authenticate, after API-token auth
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead: a long form is not lost
        WTF_CSRF_SSL_STRICT=True,
        TESTING=testing,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.session_interface = _SessionInterface()
    if control is None:
        control = default_client(str(config.socket_path))
    if preparer_factory is None:
        preparer_factory = _default_preparer_factory
    state = PanelState(
        config=config,
        store=store,
        accounts=Accounts(store, session_lifetime=timedelta(minutes=config.panel.session_lifetime_minutes)),
        daemon=DaemonLink(control),
        zone=ZoneInfo(config.device.timezone),
        work_dir=work_dir,
        speech=SpeechService(config, work_dir, preparer_factory),
        media=MediaStore(config.media_dir),
        snapshot=Snapshot(store),
    )
    app.extensions["commune_radio_panel"] = state
    app.wsgi_app = TrustedProxies(app.wsgi_app, config.panel.trusted_proxies)  # type: ignore[method-assign]
    csrf.init_app(app)

    _register_blueprints(app)
    app.before_request(_authenticate)
    app.after_request(_security_headers)
    _register_error_handlers(app)
    _register_template_helpers(app, state)
    return app


def _default_preparer_factory(config: Config, work_dir: Path) -> Any:
    from audio.prepare import Preparer  # heavy (pydub, TTS): only when a preview is asked for

    return Preparer(config, work_dir)


def _register_blueprints(app: Flask) -> None:
    from appliance.panel.views import (
        announcements,
        api,
        auth,
        dashboard,
        emergency,
        health,
        items,
        live,
        playlog,
        reports,
        schedule,
        settings,
        zones,
    )

    for module in (auth, dashboard, items, announcements, schedule, emergency, live, zones, playlog, settings, api,
                   health):
        app.register_blueprint(module.bp)
    app.register_blueprint(reports.bp)


# ---------------------------------------------------------------------- request policy


def _authenticate() -> ResponseReturnValue | None:
    from appliance.panel.web import panel

    state = panel()
    g.user = None
    g.via_token = None
    user: User | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        g.lang = i18n.normalize_language(request.headers.get("X-Language") or state.config.language)
        now = datetime.now(UTC)
        address = remote_addr()
        try:  # token guessing is throttled like password guessing (throttle.py)
            state.accounts.throttle.check(API_TOKEN_ACCOUNT, address, now)
        except LoginLocked as exc:
            audit_refused_login("auth.api_token", "", "throttled" if exc.busy else "locked")
            return json_error(exc, 429)
        found = state.accounts.token_user(token)
        if found is None and state.config.panel.api_token and secrets.compare_digest(
                token.encode(), state.config.panel.api_token.encode()):
            found = (User(id=0, username="api", role="operator", language="vi", disabled=False), "config")
        if found is None:
            with state.store.transaction() as tx:
                state.accounts.throttle.record(tx, API_TOKEN_ACCOUNT, address, False, now)
            audit_refused_login("auth.api_token", "", "failed")
            return json_error(ValidationError("Mã API không hợp lệ.", "Invalid API token.",
                                              code="auth.invalid_token"), 401)
        user, g.via_token = found
    else:
        user = state.accounts.session_user(session.get("sid"))
        if user is None and "sid" in session:
            session.pop("sid", None)
    g.user = user
    g.lang = i18n.normalize_language(
        session.get("lang") or (user.language if user else None) or state.config.language)
    if g.via_token and request.headers.get("X-Language") in i18n.LANGUAGES:
        g.lang = request.headers["X-Language"]

    endpoint = request.endpoint or ""
    if user is None:
        if not state.accounts.has_users() and endpoint not in SETUP_ENDPOINTS:
            if wants_json():
                return json_error(ValidationError("Chưa cài đặt: hãy tạo tài khoản quản trị.",
                                                  "Not set up yet: create the administrator account.",
                                                  code="auth.setup_required"), 401)
            return redirect(url_for("auth.setup"))
        if endpoint not in PUBLIC_ENDPOINTS:
            if wants_json():
                return json_error(ValidationError("Cần đăng nhập.", "Login required.",
                                                  code="auth.login_required"), 401)
            return redirect(url_for("auth.login", next=_safe_next(request.full_path)))
    if request.method not in SAFE_METHODS and not g.via_token:
        csrf.protect()
    return None


def _safe_next(path: str) -> str:
    """Only local paths, so the login page cannot become an open redirect."""
    from appliance.panel.web import local_target

    return local_target(path.rstrip("?"), "/")


def _security_headers(response: Any) -> Any:
    # Media responses carry their own, stricter policy (sandbox; media_response.py).
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin: HTTPS form posts carry the Referer that CSRF's strict check needs; none leaves the panel.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # No page may use the microphone but the live-voice page, which sets its own (views/live.py).
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure and not _own_tls():  # HTTPS through a trusted TLS proxy (proxies.py)
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _own_tls() -> bool:
    """The panel's own HTTPS port (appliance.panel.tls), which keeps plain HTTP beside it: no HSTS."""
    return bool(request.environ.get(OWN_TLS_KEY))


# ---------------------------------------------------------------------- errors


def _error_response(status: int, message: str, code: str) -> ResponseReturnValue:
    if wants_json():
        from flask import jsonify

        return jsonify({"ok": False, "error": {"code": code, "vi": i18n.translate(message, "vi"),
                                              "en": message}}), status
    return render_template("error.html", status=status, message=t(message)), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_: CSRFError) -> ResponseReturnValue:
        return _error_response(400, "The form has expired or is invalid. Reload the page and try again.",
                               "csrf")

    @app.errorhandler(413)
    def _too_large(_: Exception) -> ResponseReturnValue:
        mb = max(1, app.config["MAX_CONTENT_LENGTH"] // 1_000_000)
        message = i18n.translate("The file is too large (at most %(mb)s MB).", "en", mb=mb)
        if wants_json():
            from flask import jsonify

            return jsonify({"ok": False, "error": {
                "code": "too_large", "en": message,
                "vi": i18n.translate("The file is too large (at most %(mb)s MB).", "vi", mb=mb)}}), 413
        return render_template("error.html", status=413, message=t(
            "The file is too large (at most %(mb)s MB).", mb=mb)), 413

    @app.errorhandler(ValidationError)
    def _invalid(error: ValidationError) -> ResponseReturnValue:
        if wants_json():
            return json_error(error, 400)
        return render_template("error.html", status=400, message=error.message(lang())), 400

    @app.errorhandler(ControlError)
    def _control(error: ControlError) -> ResponseReturnValue:
        if wants_json():
            return json_error(error, 503)
        return render_template("error.html", status=503, message=error.message(lang())), 503

    @app.errorhandler(CommuneRadioError)
    def _domain(error: CommuneRadioError) -> ResponseReturnValue:
        if wants_json():
            return json_error(error, 503)
        return render_template("error.html", status=503, message=error.message(lang())), 503

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 400
        messages = {403: "Your role does not allow this.", 404: "Page not found.", 405: "Method not allowed.",
                    401: "Please log in."}
        return _error_response(status, messages.get(status, "The request is invalid."), f"http_{status}")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        # The last line of defence, not the strategy: every path validates its input first.
        log.exception("panel: unexpected error on %s %s", request.method, request.path)
        with contextlib.suppress(Exception):
            from appliance.panel.web import panel

            panel().store.log_event("panel.error", f"{type(error).__name__}: {error}"[:500],
                                    {"path": request.path, "method": request.method}, level="error")
        return _error_response(500, "An unexpected error happened; nothing was changed. "
                               "The event has been logged.", "internal")


# ---------------------------------------------------------------------- templates


def _register_template_helpers(app: Flask, state: PanelState) -> None:
    from appliance.broadcast.reasons import actor_label
    from appliance.panel import labels, web

    def nav_html() -> Markup:
        """The brand and the menu, rendered once per language, role and mount point (about a third
        of a page's rendering time otherwise: a dozen url_for and translations)."""
        current = web.user()
        key = ("nav", web.lang(), current is not None, bool(current and current.is_admin), request.script_root)
        return state.snapshot.fragment(key, lambda: Markup(render_template("_nav.html")))

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "_": web.t,
            "nav_html": nav_html,
            "current_user": web.user(),
            "lang": web.lang(),
            "zones": state.config.zones,
            "zone_label": lambda name: _zone_label(state.config, name),
            "fmt_dt": lambda v, weekday=True: i18n.format_datetime(v, state.zone, web.lang(), weekday=weekday),
            "fmt_time": lambda v: i18n.format_time(v, state.zone),
            "fmt_date": lambda d, weekday=True: i18n.format_date(d, web.lang(), weekday=weekday),
            "device_id": state.config.device.id,
            "reason_label": web.reason_label,
            "reason_text": web.play_reason,
            "actor_label": lambda actor: actor_label(actor, web.lang()),
            "fmt_num": lambda v, digits=1: i18n.format_number(v, web.lang(), digits),
            "interrupted_text": _interrupted_text,
            "audit_action": lambda code: labels.audit_action(code, web.lang()),
            "event_kind": lambda code: labels.event_kind(code, web.lang()),
            "relay_reason": lambda reason: labels.relay_reason(reason, web.lang()),
        }


def _interrupted_text(resume: bool | None, default: bool) -> str:
    """What happens to the bulletin an emergency interrupts (the English id, translated in the page)."""
    chosen = default if resume is None else resume
    return ("The interrupted bulletin plays again from the start afterwards." if chosen
            else "The interrupted bulletin is not played again.")


def _zone_label(config: Config, name: str) -> str:
    if name == "*":
        from appliance.panel.web import t

        return t("All zones")
    for zone in config.zones:
        if zone.name == name:
            return zone.label or zone.name
    return name

