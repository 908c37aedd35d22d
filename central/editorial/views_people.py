"""Pages for people: log in and out, the language switch, and the admin's pages (people,
automation tokens, the audit log)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, url_for

from central.editorial import scope as scopes
from central.editorial.accounts import SESSION_COOKIE, SESSION_TTL, LoginFailed
from central.editorial.units import units
from central.editorial.web import LANG_COOKIE, accounts, address, language, message, person
from central.http import admin_auth
from central.login_throttle import LoginThrottled
from protocol.errors import CommuneRadioError

people_web = Blueprint("people", __name__)


def _home() -> str:
    found = g.get("person")
    if found is not None and found.has("approver") and not found.has("editor"):
        return url_for("editorial.review")
    return url_for("editorial.items")


@people_web.get("/login")
def login() -> str:
    return render_template("ed_login.html", error=None, setup=not accounts().has_people())


@people_web.post("/login")
def login_post() -> Any:
    try:
        sid, who = accounts().login(request.form.get("username", ""), request.form.get("password", ""),
                                    address=address())
    except LoginThrottled as exc:
        return (render_template("ed_login.html", error=exc.message(language()), setup=False), 429,
                {"Retry-After": str(exc.retry_after_s)})
    except LoginFailed as exc:
        return render_template("ed_login.html", error=exc.message(language()), setup=False), 401
    accounts().logout(request.cookies.get(SESSION_COOKIE))  # never keep an id the browser brought
    g.person = who
    response = redirect(_home(), code=303)
    response.set_cookie(SESSION_COOKIE, sid, max_age=int(SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="Strict", secure=request.is_secure)
    response.set_cookie(LANG_COOKIE, who.language, max_age=365 * 86400, path="/", samesite="Strict",
                        secure=request.is_secure)
    return response


@people_web.post("/logout")
def logout() -> Any:
    who = g.get("person")
    accounts().logout(request.cookies.get(SESSION_COOKIE), actor=who.username if who else "", address=address())
    response = redirect(url_for("people.login"), code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@people_web.get("/lang/<code>")
def switch_language(code: str) -> Any:
    """Only a cookie changes (and the person's stored choice): safe to be a link."""
    code = "en" if code == "en" else "vi"
    back = request.args.get("next", "/")
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or not back.startswith("/") or back.startswith("//"):
        back = "/"
    who = g.get("person")
    if who is not None:
        accounts().set_language(who, code)
    response = redirect(back, code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, path="/", samesite="Strict", secure=request.is_secure)
    return response


# ---------------------------------------------------------------- admin pages


def _need_admin() -> Any:
    who = person()
    if not who.has("admin"):
        return render_template("ed_error.html", error=message(
            CommuneRadioError("Trang này dành cho quản trị viên.", "This page is for admins."))), 403
    return None


@people_web.get("/people")
def people_page() -> Any:
    refused = _need_admin()
    if refused:
        return refused
    return render_template("ed_people.html", people=accounts().list_people(), units=units(),
                           notice=request.args.get("notice", "")[:200], error=None, roles=scopes.ROLES)


@people_web.post("/people")
def people_add() -> Any:
    refused = _need_admin()
    if refused:
        return refused
    form = request.form
    try:
        added = accounts().add_person(
            form.get("username", ""), form.get("password", ""), roles=form.getlist("roles"),
            scope_kind=form.get("scope_kind", "country"), scope_codes=_codes(form.get("scope_codes", "")),
            display_name=form.get("display_name", ""), language=form.get("language", "vi"),
            by=person().username, address=address())
    except CommuneRadioError as exc:
        return render_template("ed_people.html", people=accounts().list_people(), units=units(), notice="",
                               error=message(exc), roles=scopes.ROLES), 400
    return redirect(url_for("people.people_page", notice=added.username), code=303)


@people_web.post("/people/<int:person_id>/access")
def people_access(person_id: int) -> Any:
    refused = _need_admin()
    if refused:
        return refused
    form = request.form
    try:
        accounts().set_access(person_id, roles=form.getlist("roles"), scope_kind=form.get("scope_kind", "country"),
                              scope_codes=_codes(form.get("scope_codes", "")), disabled=form.get("disabled") == "1",
                              by=person(), address=address())
        if form.get("password"):
            accounts().set_password(person_id, form.get("password", ""), by=person().username, address=address())
    except CommuneRadioError as exc:
        return render_template("ed_people.html", people=accounts().list_people(), units=units(), notice="",
                               error=message(exc), roles=scopes.ROLES), 400
    return redirect(url_for("people.people_page", notice=str(person_id)), code=303)


@people_web.get("/tokens")
def tokens_page() -> Any:
    refused = _need_admin()
    if refused:
        return refused
    return render_template("ed_tokens.html", tokens=admin_auth().tokens(), new_token=None, error=None)


@people_web.post("/tokens")
def tokens_add() -> Any:
    refused = _need_admin()
    if refused:
        return refused
    try:
        token = admin_auth().create_token(request.form.get("name", ""), request.form.getlist("roles"),
                                          by=person().username, replace=False)
    except CommuneRadioError as exc:
        return render_template("ed_tokens.html", tokens=admin_auth().tokens(), new_token=None,
                               error=message(exc)), 400
    return render_template("ed_tokens.html", tokens=admin_auth().tokens(), new_token=token, error=None)


@people_web.post("/tokens/<int:token_id>/revoke")
def tokens_revoke(token_id: int) -> Any:
    refused = _need_admin()
    if refused:
        return refused
    admin_auth().revoke(token_id, by=person().username)
    return redirect(url_for("people.tokens_page"), code=303)


@people_web.get("/audit")
def audit_page() -> Any:
    refused = _need_admin()
    if refused:
        return refused
    return render_template("ed_audit.html", rows=accounts().audit_recent(300))


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace(";", ",").replace(" ", ",").split(",") if c.strip()]
