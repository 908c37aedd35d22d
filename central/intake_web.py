"""Intake's HTTP face: source status for admins, and CAP messages posted by their senders.

- ``GET /api/intake/sources``: every source with its status (operators only, like every
  ``/api/`` route: central.operator_web's guard).
- ``POST /api/intake/sources/<id>/poll``: poll one source now; the poll's result.
- ``GET /api/intake/items/<item_id>/provenance``: where a draft came from (``provenance``: null
  for an item intake did not make).
- ``POST /v1/intake/cap``: a CAP 1.2 message (XML body, at most 256 KB) from a CAP source,
  authenticated by that source's own bearer token (``commune-central source add … --push``),
  never by an operator's. 200 with the outcome; 422 with the reason when it is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, request

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
    return json_response({"sources": [s.as_json() for s in _intake().sources.list()]})


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
