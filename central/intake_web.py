"""Intake's HTTP face: source status for admins, and CAP messages posted by their senders.

- ``GET /api/intake/sources``: every source with its status (operators only, like every
  ``/api/`` route: central.operator_web's guard).
- ``POST /api/intake/sources/<id>/poll``: poll one source now; the poll's result.
- ``GET /api/intake/items/<item_id>/provenance``: where a draft came from (``provenance``: null
  for an item intake did not make).
- ``GET /admin/sources`` (page, Vietnamese first): the sources, their status, a form to add a
  feed, and buttons to poll now, enable and disable (POST, with the session's CSRF token).
- ``POST /v1/intake/cap``: a CAP 1.2 message (XML body, at most 256 KB) from a CAP source,
  authenticated by that source's own bearer token (``commune-central source add … --push``),
  never by an operator's. 200 with the outcome; 422 with the reason when it is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

import protocol
from central.http import ApiError, bearer_token, json_response
from central.intake.cap import MAX_CAP_BYTES
from central.intake.errors import IntakeError
from central.intake.provenance import provenance_of
from protocol.errors import ValidationError

if TYPE_CHECKING:
    from central.intake.service import Intake

intake_web = Blueprint("intake_web", __name__)


def _intake() -> Intake:
    return current_app.extensions["central.intake"]


@intake_web.get("/api/intake/sources")
def sources() -> Response:
    return json_response({"sources": [s.as_json() for s in _intake().sources.list_sources()]})


@intake_web.post("/api/intake/sources/<source_id>/poll")
def poll(source_id: str) -> Response:
    try:
        result = _intake().poll(source_id)
    except ValidationError as exc:
        raise ApiError(404, "not_found", exc.en) from None
    return json_response(result.as_json())


@intake_web.get("/api/intake/items/<item_id>/provenance")
def provenance(item_id: str) -> Response:
    found = provenance_of(_intake().catalog.store, item_id)
    if found is None:  # not taken in by intake (written by a person, or no such item)
        return json_response({"item_id": item_id, "provenance": None})
    t = protocol.format_utc
    return json_response({"item_id": item_id, "provenance": {"item_id": found.item_id, "source": found.source_id, "source_kind": found.source_kind,
                          "source_url": found.source_url, "guid": found.guid, "link": found.link,
                          "title": found.title, "published_at": t(found.published_at) if found.published_at else None,
                          "taken_at": t(found.taken_at), "extraction": found.extraction, "outcome": found.outcome,
                          "note": found.note, "cap_key": found.cap_key}})


# ---------------------------------------------------------------- the admin page

def _vn_number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _page(message: ValidationError | None = None, status: int = 200, form: dict[str, str] | None = None) -> Any:
    rows = _intake().sources.list_sources()
    return render_template("intake_sources.html", sources=[s.as_json() for s in rows], error=message, form=form or {},
                           vn_number=_vn_number, now=protocol.format_utc(_intake().catalog.clock())), status


@intake_web.get("/admin/sources")
def page_sources() -> Any:
    return _page()


@intake_web.post("/admin/sources")
def page_add_source() -> Any:
    form = {k: request.form.get(k, "").strip()[:2000] for k in ("name", "url", "zones", "interval")}
    try:
        interval = int(form["interval"] or "900")
    except ValueError:
        return _page(ValidationError("Chu kỳ lấy tin phải là số giây.", "The poll interval must be a number of seconds."),
                     400, form)
    try:
        _intake().sources.add(form["name"], "feed", form["url"] or None, zones=form["zones"].split() or ["*"],
                              interval_s=interval)
    except ValidationError as exc:
        return _page(exc, 400, form)
    return redirect(url_for("intake_web.page_sources") + f"#source-{form['name']}", code=303)


@intake_web.post("/admin/sources/<source_id>/<action>")
def page_source_action(source_id: str, action: str) -> Any:
    service = _intake()
    try:
        if action == "poll":
            service.poll(source_id)
        elif action in ("enable", "disable"):
            service.sources.set_enabled(source_id, action == "enable")
        else:
            raise ApiError(404, "not_found", "no such action")
    except ValidationError as exc:
        return _page(exc, 404)
    return redirect(url_for("intake_web.page_sources") + f"#source-{source_id}", code=303)


@intake_web.post("/v1/intake/cap")
def cap_post() -> Response:
    source = _intake().sources.by_token(bearer_token())
    if source is None:
        raise ApiError(401, "unauthorized", "missing or invalid CAP source token",
                       {"WWW-Authenticate": 'Bearer realm="commune-central-cap"'})
    length = request.content_length
    if length is not None and length > MAX_CAP_BYTES:
        raise ApiError(413, "too_large", f"a CAP message is at most {MAX_CAP_BYTES} bytes")
    body = request.stream.read(MAX_CAP_BYTES + 1)
    if len(body) > MAX_CAP_BYTES:
        raise ApiError(413, "too_large", f"a CAP message is at most {MAX_CAP_BYTES} bytes")
    try:
        outcome = _intake().take_posted(source, body)
    except IntakeError as exc:
        response = json_response({"error": {"code": exc.code, "message": exc.en, "vi": exc.vi}}, 422)
        return response
    return json_response(outcome.as_json())
