"""What the editorial pages share: the services, the person, language, local times, errors.

Every message exists in Vietnamese and English: templates call ``t("tiếng Việt", "English")``
and the language is the person's choice (a ``lang`` cookie, Vietnamese by default). Times are
stored in UTC and shown in Vietnam's time, Vietnamese style ("Thứ Tư, 03/12/2026 06:30").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Flask, abort, current_app, g, request

import protocol
from central.editorial.schedules import WEEKDAY_NAMES

if TYPE_CHECKING:
    from central.editorial.accounts import Accounts, Person
    from central.editorial.speech import Speech
    from central.editorial.workflow import Editorial

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LANG_COOKIE = "lang"


def accounts() -> Accounts:
    return current_app.extensions["central.accounts"]


def editorial() -> Editorial:
    return current_app.extensions["central.editorial"]


def speech() -> Speech:
    return current_app.extensions["central.speech"]


def person() -> Person:
    found = g.get("person")
    if found is None:
        abort(401)
    return found


def language() -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "vi"


def t(vi: str, en: str) -> str:
    return en if language() == "en" else vi


def address() -> str:
    return request.remote_addr or ""


def vn_time(value: Any) -> str:
    """A UTC time (datetime or protocol string) in Vietnam's time: 'Thứ Tư, 03/12/2026 06:30'."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = protocol.parse_utc(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    local = value.astimezone(ZONE)
    day = WEEKDAY_NAMES[language()][local.weekday()]
    return f"{day}, {local.strftime('%d/%m/%Y %H:%M')}"


def local_input(value: str | None) -> str:
    """A UTC protocol time as a datetime-local field's value in Vietnam's time."""
    if not value:
        return ""
    try:
        return protocol.parse_utc(value).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")
    except ValueError:
        return ""


def message(exc: Any) -> str:
    return exc.message(language()) if hasattr(exc, "message") and callable(exc.message) else str(exc)


def install(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, language=language)
    app.jinja_env.filters["vn_time"] = vn_time
    app.jinja_env.filters["local_input"] = local_input
