"""The device side of protocol v1 (docs/protocol.md): info, feed, media, heartbeat, logs.

Every endpoint but ``/v1/info`` checks the device's own bearer token. Bodies are size-checked
before they are parsed; a malformed or oversized body gets a 4xx with a reason and stores
nothing. A feed poll writes nothing (its cost is a token lookup and an index read).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Response, request

import protocol
from central.catalog import BadCursor
from central.http import (
    ApiError,
    authenticated_device,
    catalog,
    device_for,
    error_response,
    json_response,
    monitor,
    read_json,
)
from central.media import CHUNK, RangeNotSatisfiable, parse_range
from central.speech import parse_includes
from protocol.errors import ValidationError
from protocol.reports import LOGS_MAX_BYTES, BadReport, validate_heartbeat, validate_logs

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

device_api = Blueprint("device_api", __name__)


@device_api.get("/v1/info")
def info() -> Response:
    # Informational only: a device must get the public key out of band, never from here.
    cat = catalog()
    return json_response({"protocol": protocol.PROTOCOL_VERSION, "server_time": protocol.format_utc(cat.clock()),
                          "key_id": cat.key_id, "public_key": cat.public_key_b64})


@device_api.get("/v1/devices/<device_id>/feed")
def feed(device_id: str) -> Response:
    device = device_for(device_id)
    limit_text = request.args.get("limit", str(protocol.FEED_PAGE_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= protocol.FEED_PAGE_LIMIT:
        raise ApiError(400, "bad_request", f"limit must be 1..{protocol.FEED_PAGE_LIMIT}")
    cat = catalog()
    try:
        includes = parse_includes(request.args.get("include"))
    except ValidationError as exc:
        raise ApiError(400, "bad_request", exc.en) from None
    try:
        answer = cat.feed(device, request.args.get("cursor"), limit=int(limit_text))
    except BadCursor:
        raise ApiError(400, "bad_cursor", "the cursor was not issued by this server") from None
    answer = cat.speech.extend_feed(answer, includes)  # speech, voice packs: only when asked (§9)
    if answer.etag in _etags(request.headers.get("If-None-Match", "")):
        response = Response(status=304)
        response.headers["ETag"] = answer.etag
        return response
    response = json_response(answer.body)
    response.headers["ETag"] = answer.etag
    return response


@device_api.get("/v1/media/<sha256>")
def media(sha256: str) -> Response:
    authenticated_device()
    found = catalog().media_info(sha256) if _SHA_RE.match(sha256) else None
    if found is None:
        raise ApiError(404, "not_found", "no such media")
    path, size, mime = found
    try:
        span = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable:
        response = error_response(416, "range_not_satisfiable", f"the file has {size} bytes")
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    first, last = span if span is not None else (0, size - 1)
    response = Response(_read_span(path, first, last), status=206 if span else 200, mimetype=mime,
                        direct_passthrough=True)
    response.headers["Content-Length"] = str(last - first + 1)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = f'"{sha256}"'
    if span is not None:
        response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


@device_api.post("/v1/devices/<device_id>/heartbeat")
def heartbeat(device_id: str) -> Response:
    device = device_for(device_id)
    body = read_json(protocol.HEARTBEAT_MAX_BYTES)
    try:
        hb = validate_heartbeat(body, device.id)
    except BadReport as exc:
        raise ApiError(400, exc.code, f"malformed heartbeat: {exc}") from None
    commands = monitor().record_heartbeat(device.id, hb)
    return json_response({"server_time": protocol.format_utc(catalog().clock()), "commands": commands})


@device_api.post("/v1/devices/<device_id>/logs")
def logs(device_id: str) -> Response:
    device = device_for(device_id)
    body = read_json(LOGS_MAX_BYTES)
    try:
        entries = validate_logs(body)
    except BadReport as exc:
        raise ApiError(400, exc.code, f"malformed logs upload: {exc}") from None
    answer = monitor().record_logs(device.id, entries)
    return json_response({"acknowledged": answer.acknowledged, "refused": answer.refused})


def _etags(header: str) -> set[str]:
    # Weak comparison (RFC 9110 If-None-Match): W/"x" matches "x".
    tags = set()
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part:
            tags.add(part)
    return tags


def _read_span(path: Path, first: int, last: int) -> Iterator[bytes]:
    remaining = last - first + 1
    with open(path, "rb") as handle:
        handle.seek(first)
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
