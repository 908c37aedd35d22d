"""Schedule: a week view of what will play in each zone; add, edit and delete local slots,
with warnings (overlaps, outside broadcast windows) shown before saving."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from appliance.broadcast import planner, recurrence
from appliance.broadcast.slots import Slot, SlotRepository, to_planner_slot
from appliance.panel import i18n, recurrence_text
from appliance.panel.forms import (
    field_of,
    invalid,
    parse_choice,
    parse_date,
    parse_int,
    parse_local_datetime,
    parse_zones,
    week_start,
)
from appliance.panel.snapshot import CSRF_MARK, with_csrf
from appliance.panel.web import PanelState, audit, daemon_actor, err_text, flash_t, lang, panel, t, user
from appliance.panel.weekview import (
    CHECK_AHEAD,
    Warning,
    annotate,
    expand,
    from_item,
    from_stored,
    week_days,
    week_range,
)
from protocol.errors import CommuneRadioError

bp = Blueprint("schedule", __name__)

REPEATS = ("once", "daily", "weekly", "custom")
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_SLOT_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def repo(state: PanelState) -> SlotRepository:
    return SlotRepository(state.store, state.effective_config())


def all_slots(state: PanelState, items: dict[str, dict[str, Any]],
              exclude: str | None = None) -> list[recurrence.Slot]:
    slots = [c for c in (from_stored(s) for s in repo(state).list() if s.id != exclude) if c is not None]
    slots += [s for s in (from_item(i) for i in items.values()) if s is not None]
    return slots


def items_by_id(state: PanelState) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in state.store.list_items()}


@bp.route("/schedule")
def index() -> ResponseReturnValue:
    state = panel()
    today = datetime.now(state.zone).date()
    try:
        first = week_start(parse_date(request.args.get("week"), "date") or today)
    except CommuneRadioError:
        first = week_start(today)
    start, end = week_range(first, state.zone)
    fingerprint = state.snapshot.fingerprint()
    key = state.snapshot.plan_key(fingerprint)
    items, slots = state.snapshot.plan_inputs(state.config, fingerprint)
    effective = state.effective_config()
    read: list[tuple[list[Slot], dict[str, str]]] = []

    def local() -> tuple[list[Slot], dict[str, str]]:
        """The stored slots and those the planner refuses: read only when a fragment is rebuilt."""
        if not read:
            local_slots = repo(state).list()
            read.append((local_slots, refused_local_slots(state, local_slots)))
        return read[0]

    def week_html() -> Markup:
        refused = local()[1]
        planned = [s for s in slots if s.slot_id not in refused]  # the daemon will not play the others
        occurrences = annotate(expand(planned, items, start, end, state.config.device.timezone), items, effective)
        # The grid holds no form or token, so one rendering serves every user until the data changes.
        return Markup(render_template("_week.html", days=week_days(first, state.zone, occurrences), today=today))

    def slots_html() -> str:
        # The delete forms' CSRF token is the session's: the memo holds a marker, filled below.
        local_slots, refused = local()
        return render_template("_slots.html", slots=local_slots, items=items, describe=describe_slot,
                               slot_refusals=refused, csrf_token=lambda: CSRF_MARK)

    grid = state.snapshot.fragment(("week", key, first, today, lang()), week_html)
    table = with_csrf(state.snapshot.fragment(("slots", key, today, lang()), slots_html))
    return render_template("schedule.html", week_html=grid, slots_html=table, first=first,
                           prev_week=first - timedelta(days=7), next_week=first + timedelta(days=7))


def refused_local_slots(state: PanelState, slots: list[Slot]) -> dict[str, str]:
    """Stored slots the daemon's planner refuses with today's settings (saved under others, or a
    malformed row), with the reason in the user's language: they never play, and must say so."""
    settings = planner.settings_from_config(state.effective_config())
    out: dict[str, str] = {}
    for slot in slots:
        try:
            planner.validate_slot(to_planner_slot(slot), settings)
        except CommuneRadioError as exc:
            out[slot.id] = exc.message(lang())
    return out


def describe_slot(slot: Slot) -> str:
    """'Thứ Năm, 26/11/2026 06:30' / 'Thứ Hai và Thứ Năm hằng tuần lúc 06:30, từ 07/01/2030, đến hết
    31/12/2030' in the user's language (appliance.panel.recurrence_text; never the raw RRULE)."""
    zone = panel().zone
    until = i18n.parse_utc(slot.valid_until)
    if slot.kind == "once":
        text = ", ".join(i18n.format_datetime(s, zone, lang()) for s in slot.starts[:5])
        end = recurrence_text.end_day_text(until, zone, lang())
        return f"{text}, {end}" if end else text
    start = None
    with contextlib.suppress(ValueError, TypeError):
        start = datetime.fromisoformat(slot.dtstart or "")
    return recurrence_text.describe_rule(slot.rrule or "", start, valid_until=until, zone=zone, lang=lang())


# ---------------------------------------------------------------------------- the slot form


def form_to_slot_data(state: PanelState, form: MultiDict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """Form fields -> the dict appliance.slots.parse_slot_input validates. Collects field errors."""
    language = lang()
    data: dict[str, Any] = {"tzid": state.config.device.timezone}
    items = {i["id"]: i for i in state.store.list_items(states=("ready",))}

    def check(name: str, fn: Any) -> Any:
        try:
            return fn()
        except CommuneRadioError as exc:
            errors[field_of(exc) or name] = exc.message(language)
            return None

    item_id = form.get("item_id", "")
    if item_id not in items or items[item_id].get("revoked"):
        errors["item_id"] = invalid("item_id", "hãy chọn một bản tin sẵn sàng.", "choose a ready item.").message(
            language)
    data["item_id"] = item_id
    data["zones"] = check("zones", lambda: parse_zones(form.getlist("zones"), state.config.zone_names()))
    start = check("start", lambda: parse_local_datetime(form.get("start"), "start", state.zone))
    repeat = check("repeat", lambda: parse_choice(form.get("repeat"), "repeat", REPEATS, default="once"))
    until = check("until", lambda: parse_date(form.get("until"), "until"))
    duration = check("duration_min", lambda: parse_int(form.get("duration_min"), "duration_min", 1,
                                                       state.config.schedule.max_duration_minutes, default=0))
    if duration:
        data["duration_s"] = duration * 60
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time(0, 0), tzinfo=state.zone)
        data["valid_until"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if start is not None and end <= start:
            errors["until"] = invalid("until", "phải sau ngày bắt đầu.", "must be after the start.").message(language)
    if start is None or repeat is None:
        return data
    if start < datetime.now(UTC) and (repeat == "once" or form.get("_new") == "1"):
        errors["start"] = invalid("start", "giờ này đã qua, hãy chọn một thời điểm trong tương lai.",
                                  "this time is in the past; choose a time in the future.").message(language)
        return data
    wall = start.strftime("%Y-%m-%dT%H:%M:%S")
    if repeat == "once":
        data.update(kind="once", starts=[wall])
        return data
    data.update(kind="rrule", dtstart=wall)
    if repeat == "daily":
        data["rrule"] = f"FREQ=DAILY;BYHOUR={start.hour};BYMINUTE={start.minute};BYSECOND=0"
    elif repeat == "weekly":
        days = [d for d in form.getlist("weekdays") if d in WEEKDAY_CODES]
        if not days:
            errors["weekdays"] = invalid("weekdays", "hãy chọn ít nhất một ngày.", "choose at least one day.").message(
                language)
            return data
        ordered = [d for d in WEEKDAY_CODES if d in days]
        data["rrule"] = (f"FREQ=WEEKLY;BYDAY={','.join(ordered)};BYHOUR={start.hour};BYMINUTE={start.minute};"
                         "BYSECOND=0")
    else:
        rule = (form.get("rrule") or "").strip()
        if not rule or len(rule) > 300 or not rule.isascii():
            errors["repeat"] = invalid("repeat", "hãy nhập quy tắc RRULE.", "enter an RRULE.").message(language)
        data["rrule"] = rule
    return data


def slot_to_form(state: PanelState, slot: Slot) -> MultiDict[str, str]:
    """A stored slot as the form's fields (for editing)."""
    pairs: list[tuple[str, str]] = [("item_id", slot.item_id)]
    pairs += [("zones", z) for z in slot.zones]
    if slot.kind == "once" and slot.starts:
        start = i18n.parse_utc(slot.starts[0])
        if start:
            pairs += [("start", start.astimezone(state.zone).strftime("%Y-%m-%dT%H:%M")), ("repeat", "once")]
    elif slot.dtstart:
        pairs.append(("start", slot.dtstart[:16]))
        rule = slot.rrule or ""
        weekly = re.match(r"^FREQ=WEEKLY;BYDAY=([A-Z,]+);BYHOUR=\d+;BYMINUTE=\d+;BYSECOND=0$", rule)
        if re.match(r"^FREQ=DAILY;BYHOUR=\d+;BYMINUTE=\d+;BYSECOND=0$", rule):
            pairs.append(("repeat", "daily"))
        elif weekly:
            pairs.append(("repeat", "weekly"))
            pairs += [("weekdays", d) for d in weekly.group(1).split(",")]
        else:
            pairs += [("repeat", "custom"), ("rrule", rule)]
    if slot.duration_s:
        pairs.append(("duration_min", str(max(1, slot.duration_s // 60))))
    if slot.valid_until:
        until = i18n.parse_utc(slot.valid_until)
        if until:
            pairs.append(("until", (until.astimezone(state.zone) - timedelta(seconds=1)).date().isoformat()))
    return MultiDict(pairs)


def warning_text(w: Warning) -> str:
    when = i18n.format_datetime(w.at, panel().zone, lang())
    zone = next((z.label or z.name for z in panel().config.zones if z.name == w.zone), w.zone)
    if w.code == "outside_window":
        return t("Outside broadcast window %(windows)s in zone %(zone)s at %(time)s.", windows=w.windows, zone=zone,
                 time=when)
    if w.code == "overlap":
        return t("Overlaps %(other)s in zone %(zone)s at %(time)s.", other=w.other, zone=zone, time=when)
    # Anything else the planner will refuse (expired item, not ready, no zone of this station, …).
    return t("Will not play at %(time)s: %(reason)s", time=when, reason=w.other if lang() == "vi" else w.windows)


def _render_form(state: PanelState, form: MultiDict[str, str], errors: dict[str, str], *, slot_id: str | None,
                 warnings: list[str] | None = None, status: int = 200, confirm: str = "") -> ResponseReturnValue:
    ready = state.store.list_items(states=("ready",))
    custom = ""
    if form.get("repeat") == "custom" and form.get("rrule"):
        start = None
        with contextlib.suppress(ValueError, TypeError):
            start = datetime.fromisoformat(form.get("start") or "")
        custom = recurrence_text.describe_rule(form.get("rrule", ""), start, lang=lang())
    return render_template("slot_form.html", form=form, errors=errors, warnings=warnings or [], slot_id=slot_id,
                           ready_items=ready, weekday_codes=WEEKDAY_CODES, custom_text=custom,
                           weekday_names=i18n.WEEKDAYS[lang()], confirm=confirm), status


def _save(state: PanelState, form: MultiDict[str, str], slot_id: str | None) -> ResponseReturnValue:
    from appliance.panel.weekview import warnings_for

    errors: dict[str, str] = {}
    data = form_to_slot_data(state, form, errors)
    repository = repo(state)
    if not errors:
        try:
            repository.validate(data)
        except CommuneRadioError as exc:
            errors[field_of(exc) or "repeat"] = err_text(exc)
    if errors:
        return _render_form(state, form, errors, slot_id=slot_id, status=400)
    items = items_by_id(state)
    now = datetime.now(UTC)
    fields = repository.validate(data)
    candidate = from_stored(Slot(id=slot_id or "new", **fields.__dict__))
    mine = expand([candidate] if candidate else [], items, now, now + CHECK_AHEAD, state.config.device.timezone)
    others = expand(all_slots(state, items, exclude=slot_id), items, now, now + CHECK_AHEAD + timedelta(hours=3),
                    state.config.device.timezone)
    found = warnings_for(mine, others, state.effective_config(), items)
    # "Save anyway" confirms these exact slot data: a changed form is checked again.
    token = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    if found and form.get("confirm") != token:
        return _render_form(state, form, {}, slot_id=slot_id, warnings=[warning_text(w) for w in found],
                            confirm=token)
    current = user()
    assert current is not None
    details = {"item_id": fields.item_id, "kind": fields.kind, "zones": fields.zones,
               "warnings": [w.code for w in found]}
    if slot_id is None:
        saved = repository.add(data, actor=current.username)
        audit("slot.create", saved.id, details=details)
    else:
        saved = repository.update(slot_id, data, actor=current.username)
        audit("slot.update", saved.id, details=details)
    _notify_daemon()
    flash_t("Slot saved.", "ok")
    first = mine[0].start.astimezone(state.zone).date() if mine else date.today()
    return redirect(url_for("schedule.index", week=week_start(first).isoformat(), saved=saved.id))


def _notify_daemon() -> None:
    # The daemon re-reads slots on its own; the nudge only makes a change take effect at once.
    with contextlib.suppress(CommuneRadioError):
        panel().daemon.call("schedule_changed", daemon_actor())


@bp.route("/schedule/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    state = panel()
    if request.method == "POST":
        return _save(state, request.form, None)
    item_id = request.args.get("item_id", "")[:200]
    return _render_form(state, MultiDict([("item_id", item_id), ("repeat", "once")]), {}, slot_id=None)


def _existing(slot_id: str) -> Slot:
    if not _SLOT_ID_RE.match(slot_id):
        abort(404)
    slot = repo(panel()).get(slot_id)
    if slot is None or slot.deleted:
        abort(404)
    return slot


@bp.route("/schedule/<slot_id>/edit", methods=["GET", "POST"])
def edit(slot_id: str) -> ResponseReturnValue:
    state = panel()
    slot = _existing(slot_id)
    if request.method == "POST":
        return _save(state, request.form, slot.id)
    return _render_form(state, slot_to_form(state, slot), {}, slot_id=slot.id)


@bp.route("/schedule/<slot_id>/delete", methods=["POST"])
def delete(slot_id: str) -> ResponseReturnValue:
    slot = _existing(slot_id)
    current = user()
    assert current is not None
    repo(panel()).delete(slot.id, actor=current.username)
    audit("slot.delete", slot.id, details={"item_id": slot.item_id})
    _notify_daemon()
    flash_t("Slot deleted.", "ok")
    return redirect(url_for("schedule.index"))
