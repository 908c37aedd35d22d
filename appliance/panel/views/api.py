"""The JSON API: the panel's actions for scripts and other tools (docs/panel-api.md).

Authenticated by the session (then a CSRF token header is required for writes) or by an
API token (``Authorization: Bearer ...``). Answers: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"code", "vi", "en"}}``; bad input is a 400, never a 500.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from appliance.broadcast.slots import refuse_past
from appliance.panel import history, local_items
from appliance.panel.forms import (
    MAX_TEXT,
    MAX_TITLE,
    PRIORITIES,
    VOICES,
    clean_text,
    parse_choice,
    parse_date,
    parse_zones,
)
from appliance.panel.views.items import display_state
from appliance.panel.views.schedule import repo
from appliance.panel.web import audit, daemon_actor, json_error, json_ok, panel, user
from appliance.state.store import utc_now_iso
from protocol.errors import CommuneRadioError, ValidationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Nội dung yêu cầu phải là một đối tượng JSON.", "The request body must be a JSON object.",
                              code="invalid_input.json")
    return data


def _zones(data: dict[str, Any]) -> list[str] | None:
    raw = data.get("zones")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValidationError("'zones' phải là danh sách.", "'zones' must be a list.", code="invalid_input.zones")
    zones = parse_zones(raw, panel().config.zone_names())
    return None if zones == ["*"] else zones


@bp.errorhandler(CommuneRadioError)
def _domain_error(error: CommuneRadioError) -> ResponseReturnValue:
    status = 400 if isinstance(error, ValidationError) or error.code.startswith("schedule") else 503
    return json_error(error, status)


@bp.route("/status")
def status() -> ResponseReturnValue:
    state = panel()
    return json_ok({"daemon": state.daemon.status(), "sync": state.store.sync_state()})


@bp.route("/items")
def items() -> ResponseReturnValue:
    now = utc_now_iso()
    out = []
    for item in panel().store.list_items():
        item.pop("document", None)
        item["display_state"] = display_state(item, now)
        out.append(item)
    return json_ok(out)


@bp.route("/announcements", methods=["POST"])
def create_announcement() -> ResponseReturnValue:
    state = panel()
    data = body()
    current = user()
    assert current is not None
    rate = data.get("rate", state.config.tts.rate)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 80 <= rate <= 300:
        raise ValidationError("Tốc độ phải từ 80 đến 300.", "rate must be 80 to 300.", code="invalid_input.rate")
    announcement = local_items.Announcement(
        title=clean_text(data.get("title"), "title", max_len=MAX_TITLE),
        kind="text",
        text=clean_text(data.get("text"), "text", max_len=MAX_TEXT, multiline=True),
        priority=parse_choice(data.get("priority"), "priority", PRIORITIES, default="normal"),
        zones=tuple(_zones(data) or ["*"]),
        voice=parse_choice(data.get("voice"), "voice", VOICES, default=state.config.tts.voice),
        rate=rate)
    item_id = local_items.create(state.store, announcement, created_by=current.username,
                                 audit=lambda tx, iid: audit("announcement.create", iid, conn=tx,
                                                             details={"title": announcement.title, "via": "api"}))
    return json_ok({"item_id": item_id}, 201)


@bp.route("/normalize", methods=["POST"])
def normalize() -> ResponseReturnValue:
    text = clean_text(body().get("text"), "text", max_len=MAX_TEXT, multiline=True)
    return json_ok({"spoken": panel().speech.spoken_form(text)})


@bp.route("/slots")
def slots() -> ResponseReturnValue:
    return json_ok([s.as_dict() for s in repo(panel()).list()])


def _slot_data() -> dict[str, Any]:
    data = body()
    data.setdefault("tzid", panel().config.device.timezone)
    item = panel().store.get_item(str(data.get("item_id", ""))[:200])
    if item is None or item.get("state") != "ready" or item.get("revoked"):
        raise ValidationError("Bản tin không tồn tại hoặc chưa sẵn sàng.", "The item does not exist or is not ready.",
                              code="invalid_input.item_id")
    return data


def _changed() -> None:
    with contextlib.suppress(CommuneRadioError):
        panel().daemon.call("schedule_changed", daemon_actor())


@bp.route("/slots", methods=["POST"])
def create_slot() -> ResponseReturnValue:
    current = user()
    assert current is not None
    repository = repo(panel())
    data = _slot_data()
    refuse_past(repository.validate(data), datetime.now(UTC))
    saved = repository.add(data, actor=current.username)
    audit("slot.create", saved.id, details={"item_id": saved.item_id, "via": "api"})
    _changed()
    return json_ok(saved.as_dict(), 201)


def _live_slot(slot_id: str) -> None:
    slot = repo(panel()).get(slot_id[:64])
    if slot is None or slot.deleted:
        raise ValidationError("Không có lịch phát này.", "No such slot.", code="invalid_input.no_slot")


@bp.route("/slots/<slot_id>", methods=["PUT"])
def update_slot(slot_id: str) -> ResponseReturnValue:
    current = user()
    assert current is not None
    _live_slot(slot_id)
    saved = repo(panel()).update(slot_id, _slot_data(), actor=current.username)
    audit("slot.update", saved.id, details={"item_id": saved.item_id, "via": "api"})
    _changed()
    return json_ok(saved.as_dict())


@bp.route("/slots/<slot_id>", methods=["DELETE"])
def delete_slot(slot_id: str) -> ResponseReturnValue:
    current = user()
    assert current is not None
    _live_slot(slot_id)
    repo(panel()).delete(slot_id, actor=current.username)
    audit("slot.delete", slot_id, details={"via": "api"})
    _changed()
    return json_ok({"deleted": slot_id})


def _daemon_action(action: str, audit_action: str, target: str, **params: Any) -> ResponseReturnValue:
    try:
        result = panel().daemon.call(action, daemon_actor(), **params)
    except CommuneRadioError as exc:
        audit(audit_action, target, outcome="refused", details={"error": exc.code, "via": "api"})
        raise
    audit(audit_action, target, details={**{k: v for k, v in params.items() if k != "text"}, "via": "api"})
    return json_ok(result)


@bp.route("/play", methods=["POST"])
def play() -> ResponseReturnValue:
    data = body()
    item_id = data.get("item_id")
    if not isinstance(item_id, str) or not item_id or len(item_id) > 200:
        raise ValidationError("Thiếu item_id.", "item_id is missing.", code="invalid_input.item_id")
    return _daemon_action("play", "item.play", item_id, item_id=item_id, zones=_zones(data))


@bp.route("/emergency", methods=["POST"])
def emergency() -> ResponseReturnValue:
    data = body()
    if data.get("confirm") is not True:
        raise ValidationError("Khẩn cấp cần \"confirm\": true.", "An emergency needs \"confirm\": true.",
                              code="invalid_input.confirm")
    text = data.get("text")
    item_id = data.get("item_id")
    if (text is None) == (item_id is None):
        raise ValidationError("Cần đúng một trong 'text' hoặc 'item_id'.", "Exactly one of 'text' or 'item_id'.",
                              code="invalid_input.text")
    params: dict[str, Any] = {"zones": _zones(data)}
    if text is not None:
        params["text"] = clean_text(text, "text", max_len=MAX_TEXT, multiline=True)
    else:
        if not isinstance(item_id, str) or not item_id or len(item_id) > 200:
            raise ValidationError("item_id không hợp lệ.", "Invalid item_id.", code="invalid_input.item_id")
        params["item_id"] = item_id
    return _daemon_action("emergency", "emergency.broadcast", str(item_id or "text"), **params)


@bp.route("/stop", methods=["POST"])
def stop() -> ResponseReturnValue:
    return _daemon_action("stop", "playback.stop", "")


@bp.route("/volume", methods=["POST"])
def volume() -> ResponseReturnValue:
    value = body().get("volume")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError("Âm lượng phải là số nguyên 0–100.", "volume must be an integer 0-100.",
                              code="invalid_input.volume")
    return _daemon_action("set_volume", "volume.set", str(value), volume=value)


@bp.route("/relay_test", methods=["POST"])
def relay_test() -> ResponseReturnValue:
    data = body()
    zone = data.get("zone")
    seconds = data.get("seconds", 3)
    if not isinstance(zone, str) or zone not in panel().config.zone_names():
        raise ValidationError("Cụm loa không tồn tại.", "Unknown zone.", code="invalid_input.zone")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 60:
        raise ValidationError("Số giây phải từ 1 đến 60.", "seconds must be 1 to 60.", code="invalid_input.seconds")
    return _daemon_action("relay_test", "relay.test", zone, zone=zone, seconds=seconds)


@bp.route("/playlog")
def playlog() -> ResponseReturnValue:
    state = panel()
    args = request.args
    flt = history.PlayFilter(
        date_from=parse_date(args.get("from"), "date"), date_to=parse_date(args.get("to"), "date"),
        zone=parse_choice(args.get("zone"), "zone", state.config.zone_names(), default="") or None,
        outcome=parse_choice(args.get("outcome"), "outcome", history.OUTCOMES, default="") or None)
    return json_ok(history.plays(state.store, flt, state.zone))
