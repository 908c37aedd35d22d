"""Request-side helpers shared by the panel's blueprints: the panel state, the current user,
translation in the user's language, role checks, audit and JSON answers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, jsonify, request
from flask.typing import ResponseReturnValue

import protocol
from appliance.panel import audit as audit_log
from appliance.panel.accounts import Accounts, User
from appliance.panel.daemon import DaemonLink
from appliance.panel.i18n import translate
from appliance.panel.snapshot import Snapshot
from appliance.panel.speech import SpeechService
from appliance.state import settings as settings_overrides
from appliance.state.config import Config
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from protocol.errors import CommuneRadioError

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


@dataclass
class PanelState:
    """Everything a request needs, built once by the app factory."""

    config: Config
    store: Store
    accounts: Accounts
    daemon: DaemonLink
    zone: ZoneInfo
    work_dir: Path
    speech: SpeechService
    media: MediaStore
    snapshot: Snapshot
    extras: dict[str, Any] = field(default_factory=dict)

    def effective_config(self) -> Config:
        """The config file plus the admin's panel overrides (windows, voice, intervals); rebuilt
        only when the stored overrides change (their version is one small read)."""
        version = settings_overrides.version(self.store)
        cached = self.extras.get("effective_config")
        if cached is not None and cached[0] == version:
            return cached[1]  # type: ignore[no-any-return]
        config = settings_overrides.effective_config(self.config, self.store)
        self.extras["effective_config"] = (version, config)
        return config


def panel() -> PanelState:
    return current_app.extensions["commune_radio_panel"]  # type: ignore[no-any-return]


def user() -> User | None:
    return g.get("user")


def lang() -> str:
    return g.get("lang", "vi")


def t(message: str, **params: object) -> str:
    return translate(message, lang(), **params)


def err_text(error: CommuneRadioError) -> str:
    return error.message(lang())


def reason_label(code: str | None) -> str:
    """Why central's item was refused, in the user's language (protocol rejection reasons)."""
    vi, en = protocol.reason_text(str(code or ""))
    return vi if lang() == "vi" else en


def play_reason(text: str | None) -> str:
    """A play-log reason (stored in English) in the user's language where its wording is fixed."""
    from appliance.broadcast.planner import ON_BATTERY_REASON

    if text == ON_BATTERY_REASON.en:
        return ON_BATTERY_REASON.vi if lang() == "vi" else ON_BATTERY_REASON.en
    return text or ""


def flash_t(message: str, category: str = "info", **params: object) -> None:
    flash(t(message, **params), category)


def actor() -> str:
    """How the daemon and the audit log name whoever is acting."""
    current = user()
    if current is None:
        return "-"
    via = g.get("via_token")
    return f"{current.username} (api:{via})" if via else current.username


def daemon_actor() -> str:
    current = user()
    return f"panel:{current.username}" if current else "panel:-"


def local_target(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this panel, else ``default``: the redirect after login, the
    language switch and stop never lead off-site. Browsers drop tab/CR/LF inside URLs and read
    ``\\`` as ``/``, so ``/\t/evil.example`` or ``/\\evil.example`` would mean ``//evil.example``:
    control characters and backslashes are refused outright, as is a leading ``//``."""
    if not target or not target.startswith("/") or target.startswith("//") or len(target) > 500:
        return default
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    return target


def remote_addr() -> str:
    return (request.remote_addr or "")[:64]


def audit(action: str, target: object = "", *, outcome: str = "ok", details: dict[str, Any] | None = None,
          conn: Any = None) -> None:
    audit_log.record(panel().store, actor(), action, str(target), outcome=outcome, details=details,
                     remote_addr=remote_addr(), conn=conn)


def audit_refused_login(action: str, target: object, outcome: str) -> None:
    """A failed or refused attempt by someone not logged in (aggregated: see audit.py)."""
    audit_log.record_anonymous_failure(panel().store, action, str(target), outcome=outcome,
                                       remote_addr=remote_addr())


def admin_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        current = user()
        if current is None or not current.is_admin:
            abort(403)
        return view(*args, **kwargs)

    wrapper.admin_only = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_ok(result: Any = None, status: int = 200) -> ResponseReturnValue:
    return jsonify({"ok": True, "result": result if result is not None else {}}), status


def json_error(error: CommuneRadioError, status: int = 400) -> ResponseReturnValue:
    return jsonify({"ok": False, "error": error.as_dict()}), status
