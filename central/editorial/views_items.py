"""The editor's and the approver's pages: items in one's scope, the item form (text, audio,
live relay) with a speech preview, an item's content, changes and history, and the queue."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for

import protocol
from central.editorial import diff as diffs
from central.editorial import scope as scopes
from central.editorial.schedules import WEEKDAY_CODES, WEEKDAY_NAMES, ScheduleForm, describe, from_schedule
from central.editorial.speech import speech_error
from central.editorial.units import units
from central.editorial.web import address, editorial, language, message, person, speech, vn_time
from central.editorial.workflow import ItemInput, ItemView
from central.http import catalog
from protocol.errors import CommuneRadioError

editorial_web = Blueprint("editorial", __name__)
STREAM_TYPES = ("audio/mpeg", "audio/aac", "audio/ogg", "application/vnd.apple.mpegurl", "audio/x-mpegurl")


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def _schedule_form(form: Any) -> ScheduleForm:
    return ScheduleForm(mode=form.get("mode", "none"), day=form.get("day", ""), at=form.get("at", ""),
                        until=form.get("until", ""), weekdays=tuple(form.getlist("weekdays")),
                        count=_int(form.get("count"), 1), gap_minutes=_int(form.get("gap"), 30),
                        duration_s=max(1, _int(form.get("duration_min"), 5)) * 60)


def _choices() -> dict[str, Any]:
    """What the form offers: only provinces and communes inside the person's scope."""
    who, u = person(), units()
    kind = who.scope.get("kind")
    codes = set(who.scope.get("codes", ()))
    if kind == "country":
        provinces, communes = list(u.provinces), []
    elif kind == "province":
        provinces = [p for p in u.provinces if p.code in codes]
        communes = [c for p in provinces for c in p.communes]
    else:
        provinces, communes = [], [u.by_commune[c] for c in sorted(codes) if c in u.by_commune]
    return {"provinces": provinces, "communes": communes, "whole_country": kind == "country",
            "weekday_codes": WEEKDAY_CODES, "weekday_names": WEEKDAY_NAMES[language()], "stream_types": STREAM_TYPES}


def _codes(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.strip() for c in text.replace(";", ",").replace(" ", ",").split(",") if c.strip()))


def _input(form: Any, kind: str, media: dict[str, Any] | None) -> ItemInput:
    zones = tuple(z for z in _codes(form.get("zones", "")) if z)
    communes = _codes(form.get("communes", "")) + tuple(form.getlist("commune"))
    return ItemInput(kind=kind, title=form.get("title", ""), text=form.get("text", ""), media=media,
                     priority=form.get("priority", "normal"), valid_from=form.get("valid_from", ""),
                     valid_until=form.get("valid_until", ""), schedule=_schedule_form(form),
                     zones=zones or ("*",),
                     areas=scopes.Areas(tuple(dict.fromkeys(form.getlist("provinces"))), tuple(dict.fromkeys(communes))))


def _media(form: Any, kind: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    if kind == "stream":
        return {"url": form.get("stream_url", "").strip(), "mime": form.get("stream_mime", "audio/mpeg")}
    if kind != "audio":
        return None
    upload = request.files.get("audio")
    if upload is not None and upload.filename:
        prepared = speech().prepare_upload(upload.read())
        return catalog().add_media(prepared, mime="audio/wav")
    if current is not None:
        return current
    raise CommuneRadioError("Hãy chọn tệp âm thanh để tải lên.", "Choose an audio file to upload.")


def _form_values(view: ItemView | None, form: Any | None = None) -> dict[str, Any]:
    """The form's fields: what was posted, else the item's draft, else defaults."""
    if form is not None:
        values = {k: form.get(k, "") for k in ("title", "text", "priority", "valid_from", "valid_until", "zones",
                                              "communes", "stream_url", "stream_mime", "mode", "day", "at", "until",
                                              "count", "gap", "duration_min")}
        values["weekdays"] = form.getlist("weekdays")
        values["provinces"] = form.getlist("provinces")
        return values
    if view is None:
        return {"priority": "normal", "mode": "none", "count": "3", "gap": "30", "duration_min": "5",
                "weekdays": [], "provinces": [], "zones": "", "communes": "", "stream_mime": "audio/mpeg"}
    draft = view.draft
    sched = from_schedule(draft.get("schedule"))
    media = draft.get("media") or {}
    return {"title": draft.get("title", ""), "text": draft.get("text", ""), "priority": draft.get("priority"),
            "valid_from": draft.get("valid_from"), "valid_until": draft.get("valid_until"),
            "zones": "" if view.row.zones == ["*"] else ", ".join(view.row.zones),
            "communes": ", ".join(view.areas.communes), "provinces": list(view.areas.provinces),
            "stream_url": media.get("url", "") if draft.get("kind") == "stream" else "",
            "stream_mime": media.get("mime", "audio/mpeg"), "mode": sched.mode, "day": sched.day, "at": sched.at,
            "until": sched.until, "weekdays": list(sched.weekdays), "count": str(sched.count),
            "gap": str(sched.gap_minutes), "duration_min": str(max(1, sched.duration_s // 60)), "utc_times": True}


def _render_form(kind: str, view: ItemView | None, *, form: Any | None = None, error: str | None = None,
                 preview: Any = None, status: int = 200) -> Any:
    return render_template("ed_item_form.html", kind=kind, view=view, v=_form_values(view, form), error=error,
                           preview=preview, **_choices()), status


@editorial_web.get("/")
def home() -> Any:
    who = person()
    return redirect(url_for("editorial.review" if who.has("approver") and not who.has("editor")
                            else "editorial.items"), code=303)


@editorial_web.get("/items")
def items() -> Any:
    views = editorial().items(person())
    counts: dict[str, int] = {}
    for v in views:
        counts[v.status] = counts.get(v.status, 0) + 1
    return render_template("ed_items.html", views=views, counts=counts, describe=describe)


@editorial_web.get("/items/new")
def new_item() -> Any:
    kind = request.args.get("kind", "text")
    if kind not in protocol.KINDS:
        abort(404)
    return _render_form(kind, None)


@editorial_web.post("/items/new")
def create_item() -> Any:
    kind = request.form.get("kind", "text")
    if kind not in protocol.KINDS:
        abort(400)
    if request.form.get("action") == "preview":
        return _preview(kind, None)
    try:
        item_id = editorial().create(person(), _input(request.form, kind, _media(request.form, kind, None)),
                                     address=address())
    except CommuneRadioError as exc:
        return _render_form(kind, None, form=request.form, error=message(exc), status=400)
    if request.form.get("action") == "submit":
        editorial().submit(person(), item_id, address=address())
    return redirect(url_for("editorial.item", item_id=item_id), code=303)


@editorial_web.get("/items/<item_id>/edit")
def edit_item(item_id: str) -> Any:
    view = _view(item_id)
    return _render_form(view.draft["kind"], view)


@editorial_web.post("/items/<item_id>/edit")
def save_item(item_id: str) -> Any:
    view = _view(item_id)
    kind = view.draft["kind"]
    if request.form.get("action") == "preview":
        return _preview(kind, view)
    try:
        editorial().edit(person(), item_id, _input(request.form, kind, _media(request.form, kind, view.draft.get("media"))),
                         address=address())
        if request.form.get("action") == "submit":
            editorial().submit(person(), item_id, address=address())
    except CommuneRadioError as exc:
        return _render_form(kind, view, form=request.form, error=message(exc), status=400)
    return redirect(url_for("editorial.item", item_id=item_id), code=303)


def _preview(kind: str, view: ItemView | None) -> Any:
    text = request.form.get("text", "")
    try:
        found = speech().preview(text)
    except Exception as exc:  # noqa: BLE001 - every speech failure is shown to the editor, nothing changes
        return _render_form(kind, view, form=request.form, error=message(speech_error(exc)), status=400)
    return _render_form(kind, view, form=request.form, preview=found)


@editorial_web.get("/preview/<sha256>.wav")
def preview_audio(sha256: str) -> Any:
    path = speech().path_for(sha256)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="audio/wav", conditional=True)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


FIELD_NAMES = {"kind": ("Loại", "Kind"), "title": ("Tiêu đề", "Title"), "text": ("Nội dung", "Text"),
               "media": ("Âm thanh", "Audio"), "priority": ("Mức ưu tiên", "Priority"),
               "valid_from": ("Hiệu lực từ", "Valid from"), "valid_until": ("Hết hiệu lực", "Valid until"),
               "schedule": ("Lịch phát", "Schedule"), "zones": ("Cụm loa", "Zones"), "areas": ("Nơi phát", "Where")}


def readable(snap: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item's content as the pages say it (local times, names, plain schedule): what the diff compares."""
    if snap is None:
        return None
    vi = language() == "vi"
    u = units()
    kinds = {"text": ("Văn bản", "Text"), "audio": ("Âm thanh", "Audio"), "stream": ("Tiếp sóng", "Live relay")}
    priorities = {"normal": ("Bình thường", "Normal"), "priority": ("Ưu tiên", "Priority"),
                  "emergency": ("Khẩn cấp", "Emergency")}
    media = snap.get("media") or {}
    areas = scopes.Areas.from_dict(snap.get("areas"))
    names = [u.by_province[p].name if p in u.by_province else p for p in areas.provinces]
    names += [f"{u.by_commune[c].name} ({c})" if c in u.by_commune else c for c in areas.communes]
    pick = 0 if vi else 1
    return {
        "kind": kinds.get(snap.get("kind", ""), (snap.get("kind"),) * 2)[pick], "title": snap.get("title") or "",
        "text": snap.get("text") or "",
        "media": (media.get("url") if snap.get("kind") == "stream" else
                  f"{media.get('sha256', '')[:12]}… ({media.get('bytes', 0):,} byte)".replace(",", ".")) if media else "",
        "priority": priorities.get(snap.get("priority", ""), (snap.get("priority"),) * 2)[pick],
        "valid_from": vn_time(snap.get("valid_from")), "valid_until": vn_time(snap.get("valid_until")),
        "schedule": describe(snap.get("schedule"), language()),
        "zones": ("mọi cụm" if vi else "every zone") if snap.get("zones") in (["*"], None) else ", ".join(snap["zones"]),
        "areas": ", ".join(names) or ("Cả nước" if vi else "Whole country"),
    }


@editorial_web.get("/items/<item_id>")
def item(item_id: str) -> Any:
    return _item_page(_view(item_id))


@editorial_web.post("/items/<item_id>/preview")
def item_preview(item_id: str) -> Any:
    """The approver hears the pending text as the stations will say it."""
    view = _view(item_id)
    try:
        found = speech().preview(view.draft.get("text") or "")
    except Exception as exc:  # noqa: BLE001 - every speech failure is shown, nothing changes
        return _item_page(view, error=message(speech_error(exc)))
    return _item_page(view, preview=found)


@editorial_web.get("/items/<item_id>/media")
def item_media(item_id: str) -> Any:
    """The pending audio of an item, served inert (for people in the item's scope only)."""
    media = _view(item_id).draft.get("media") or {}
    found = catalog().media_info(str(media.get("sha256", ""))) if media.get("sha256") else None
    if found is None:
        abort(404)
    path, _, mime = found
    response = send_file(path, mimetype=mime, conditional=True)
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def provenance(item_id: str) -> Any:
    """Where an intake draft came from (source, link, original publication time), when intake is
    installed (``central.intake.provenance``); None for an item a person wrote."""
    try:
        from central.intake.provenance import provenance_of
    except ImportError:
        return None
    return provenance_of(catalog().store, item_id)


def _item_page(view: ItemView, *, preview: Any = None, error: str = "") -> Any:
    changes = diffs.changes(readable(view.approved), readable(view.current) or {})
    versions = {step.id: readable(step.content) if step.content and "title" in step.content else None
                for step in view.history}
    return render_template("ed_item.html", view=view, describe=describe, units=units(), changes=changes,
                           field_names=FIELD_NAMES, preview=preview, versions=versions,
                           provenance=provenance(view.row.id),
                           notice=request.args.get("notice", "")[:300],
                           error=error or request.args.get("error", "")[:300], who=person())


def _act(item_id: str, run: Any, done_vi: str, done_en: str) -> Any:
    try:
        run()
    except CommuneRadioError as exc:
        return redirect(url_for("editorial.item", item_id=item_id, error=message(exc)), code=303)
    return redirect(url_for("editorial.item", item_id=item_id, notice=done_en if language() == "en" else done_vi),
                    code=303)


@editorial_web.post("/items/<item_id>/submit")
def submit_item(item_id: str) -> Any:
    return _act(item_id, lambda: editorial().submit(person(), item_id, address=address()), "Đã gửi duyệt.", "Submitted for approval.")


@editorial_web.post("/items/<item_id>/approve")
def approve_item(item_id: str) -> Any:
    confirmed = request.form.get("emergency_confirm") == "1"
    return _act(item_id, lambda: editorial().approve(person(), item_id, emergency_confirmed=confirmed,
                                                     address=address()),
                "Đã duyệt và ký: bản tin đã được gửi tới các đài.", "Approved and signed: the item is on its way to the stations.")


@editorial_web.post("/items/<item_id>/reject")
def reject_item(item_id: str) -> Any:
    return _act(item_id, lambda: editorial().reject(person(), item_id, request.form.get("comment", ""), address=address()),
                "Đã từ chối; người viết sẽ thấy lý do.", "Rejected; the writer sees why.")


@editorial_web.post("/items/<item_id>/revoke")
def revoke_item(item_id: str) -> Any:
    return _act(item_id, lambda: editorial().revoke(person(), item_id, request.form.get("comment", ""),
                                                    address=address()),
                "Đã thu hồi bản tin khỏi mọi đài.", "Revoked from every station.")


@editorial_web.get("/review")
def review() -> Any:
    waiting = editorial().queue(person())
    counts = {"all": len(waiting),
              "emergency": sum(1 for v in waiting if v.draft.get("priority") == "emergency"),
              "intake": sum(1 for v in waiting if v.editorial is None)}
    return render_template("ed_review.html", views=waiting, counts=counts, describe=describe)


def _view(item_id: str) -> ItemView:
    try:
        view = editorial().view(item_id)
    except CommuneRadioError:
        abort(404)
    if not scopes.covers(person().scope, view.areas, lambda c: units().commune(c).province):
        abort(404)  # not in this person's scope: as if it did not exist
    return view
