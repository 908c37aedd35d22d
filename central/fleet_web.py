"""The fleet pages and JSON API for thousands of devices: paged fleet, alerts, bulk registration.

``/monitor`` and ``/api/monitor/devices`` page, filter and sort the fleet (``central.fleet``);
``/monitor/alerts`` refreshes itself by polling ``/api/monitor/alerts`` from a script file of
its own (no inline script: the pages' Content-Security-Policy allows scripts from this origin
only); ``/monitor/devices/import`` registers the devices of a CSV file and hands back their
token files as a zip; ``/monitor/reports`` (printable) and ``/monitor/reports.xlsx`` are the
proof-of-play reports of a commune or a province (``central.play_reports``). Operators only (``central.operator_web`` checks before any of these runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, render_template, request, send_file

import protocol
from central import play_reports
from central.fleet import DEFAULT_OFFLINE_MINUTES, parse_query
from central.http import ApiError, catalog, fleet_views, json_response
from central.registration import MAX_BYTES, parse_csv, token_zip
from central.store.fleet import SORTS, STATUSES
from protocol.errors import CommuneRadioError

STATIC = Path(__file__).parent / "static"
FILTER_KEYS = ("province", "commune", "status", "software_version", "problem", "seen_before", "seen_after", "sort",
               "limit")

fleet_web = Blueprint("fleet_web", __name__)


def _offline_minutes() -> int:
    text = request.args.get("offline_minutes", "").strip()
    if not text:
        return DEFAULT_OFFLINE_MINUTES
    if not text.isdigit() or not 1 <= int(text) <= 525_600:
        raise ApiError(400, "bad_request", "offline_minutes must be an integer from 1 to 525600")
    return int(text)


@fleet_web.get("/api/monitor/devices")
def api_devices() -> Response:
    try:
        query = parse_query(request.args)
    except CommuneRadioError as exc:
        raise ApiError(400, "bad_request", exc.en) from None
    views = fleet_views()
    return json_response(views.page(query).as_json(views.clock()))


def _voices() -> dict[str, Any]:
    """Central's voice and the voice packs it offers, named on the fleet page (central.voice_offers)."""
    from central.voice_offers import VoiceOffers

    cat = catalog()
    return {"central_voice": cat.speech.renderer.voice()["name"] if cat.speech.enabled else None,
            "offers": VoiceOffers(cat).list()}


@fleet_web.get("/monitor")
def page_fleet() -> Any:
    views = fleet_views()
    filters = {k: request.args.get(k, "").strip() for k in FILTER_KEYS}
    try:
        query = parse_query(request.args)
    except CommuneRadioError as exc:
        return render_template("monitor_fleet.html", page=None, error=exc, filters=filters, statuses=STATUSES,
                               sorts=SORTS, now=protocol.format_utc(views.clock()), links={}, **_voices()), 400
    page = views.page(query)
    kept = {k: v for k, v in filters.items() if v}
    links = {"prev": f"/monitor?{urlencode(kept | {'page': page.page - 1})}" if page.page > 1 else None,
             "next": f"/monitor?{urlencode(kept | {'page': page.page + 1})}" if page.page < page.pages else None}
    return render_template("monitor_fleet.html", page=page, error=None, filters=filters, statuses=STATUSES,
                           sorts=SORTS, now=protocol.format_utc(views.clock()), links=links,
                           json_url="/api/monitor/devices" + (f"?{urlencode(kept)}" if kept else ""), **_voices())


@fleet_web.get("/api/monitor/alerts")
def api_alerts() -> Response:
    return json_response(fleet_views().alerts(offline_minutes=_offline_minutes()))


@fleet_web.get("/monitor/alerts")
def page_alerts() -> str:
    minutes = _offline_minutes()
    refresh = request.args.get("refresh_s", "30")
    refresh_s = int(refresh) if refresh.isdigit() and 2 <= int(refresh) <= 600 else 30
    return render_template("monitor_alerts.html", a=fleet_views().alerts(offline_minutes=minutes),
                           offline_minutes=minutes, refresh_s=refresh_s)


@fleet_web.get("/monitor/static/alerts.js")
def alerts_script() -> Response:
    response = send_file(STATIC / "alerts.js", mimetype="text/javascript", max_age=300)
    response.headers["Cache-Control"] = "max-age=300"
    return response


@fleet_web.get("/monitor/devices/import")
def page_import() -> str:
    return render_template("monitor_import.html", csrf=g.csrf, error=None)


@fleet_web.post("/monitor/devices/import")
def page_import_post() -> Any:
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ApiError(400, "bad_request", "no file")
        data = upload.stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ApiError(413, "too_large", f"the file is over {MAX_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", "the file is not UTF-8 text") from None
        rows = parse_csv(text)
        tokens = catalog().add_devices([(r.device_id, r.zones, r.province) for r in rows])
    except ApiError as exc:
        return render_template("monitor_import.html", csrf=g.csrf, error=exc.message), exc.status
    except CommuneRadioError as exc:
        return render_template("monitor_import.html", csrf=g.csrf, error=f"{exc.vi} / {exc.en}"), 400
    response = Response(token_zip(tokens), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="device-tokens-{len(tokens)}.zip"'
    return response


def _report() -> play_reports.PlayReport:
    views = fleet_views()
    local_today = views.clock().astimezone(play_reports.LOCAL).date()
    query = play_reports.parse_report_query(request.args, local_today)
    return play_reports.build(views.store, query, views.clock)


@fleet_web.get("/monitor/reports")
def page_report() -> Any:
    if not request.args:
        return render_template("monitor_report.html", report=None, error=None, args={})
    try:
        report = _report()
    except CommuneRadioError as exc:
        return render_template("monitor_report.html", report=None, error=exc, args=request.args), 400
    return render_template("monitor_report.html", report=report, error=None, args=request.args,
                           local=play_reports.local_text, number=play_reports.vi_number,
                           xlsx_url="/monitor/reports.xlsx?" + urlencode(dict(request.args)))


@fleet_web.get("/monitor/reports.xlsx")
def xlsx_report() -> Response:
    try:
        report = _report()
    except CommuneRadioError as exc:
        raise ApiError(400, "bad_request", exc.en) from None
    q = report.query
    name = f"bao-cao-phat-{q.commune or 'tinh'}-{q.first_day:%Y%m%d}-{q.last_day:%Y%m%d}.xlsx"
    response = Response(play_reports.xlsx(report),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
