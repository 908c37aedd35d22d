"""Dashboard: on air now, what is next today, relays, clock trust, sync, disk, warnings, chart."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from appliance.panel import chart, history, i18n
from appliance.panel.web import PanelState, lang, panel, t
from appliance.panel.weekview import annotate, expand

bp = Blueprint("dashboard", __name__)


def relay_states(state: PanelState, status: dict[str, Any] | None) -> dict[str, bool | None]:
    """Per zone: on/off from the daemon, else the last relay change it logged, else unknown."""
    amps = (status or {}).get("relays")
    out: dict[str, bool | None] = {}
    for zone in state.config.zones:
        value = amps.get(zone.name) if isinstance(amps, dict) else None
        if isinstance(value, dict):
            out[zone.name] = bool(value.get("on"))
        elif isinstance(value, bool):
            out[zone.name] = value
        else:
            row = state.store.query_one("SELECT state FROM relay_log WHERE zone = ? ORDER BY id DESC LIMIT 1",
                                        (zone.name,)) if status is None else None
            out[zone.name] = bool(row["state"]) if row else None
    return out


def clock_trusted(state: PanelState, status: dict[str, Any] | None) -> bool | None:
    clock = (status or {}).get("clock")
    if isinstance(clock, dict) and "trusted" in clock:
        return bool(clock["trusted"])
    return None


def on_air(status: dict[str, Any] | None) -> dict[str, Any] | None:
    for key in ("now_playing", "playing", "on_air"):
        value = (status or {}).get(key)
        if isinstance(value, dict) and value:
            return value
    return None


def today_plan(state: PanelState, now: datetime, fingerprint: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    """The rest of today: what will really play (up to 10) and what will not, with the planner's
    reason (outside a window, expired, not ready, no zone of this station, …)."""
    local_now = now.astimezone(state.zone)
    end = datetime.combine(local_now.date() + timedelta(days=1), time(0, 0), tzinfo=state.zone)
    effective = state.effective_config()

    def build() -> list[Any]:
        items, slots = state.snapshot.plan_inputs(state.config, fingerprint)
        return annotate(expand(slots, items, local_now.replace(second=0, microsecond=0, minute=0).astimezone(UTC),
                               end.astimezone(UTC), state.config.device.timezone), items, effective)

    # Expanded once per hour and data/settings version; the past of the hour is filtered per request.
    hour = local_now.replace(minute=0, second=0, microsecond=0)
    today = state.snapshot.fragment(("upcoming", state.snapshot.plan_key(fingerprint), hour), build)
    later = [o for o in today if o.start >= now]
    return [o for o in later if o.not_playing is None][:10], [o for o in later if o.not_playing is not None][:10]



def chart_svg(state: PanelState, now: datetime, fingerprint: tuple[Any, ...]) -> Markup:
    today = now.astimezone(state.zone).date()

    def build() -> str:
        days = history.last_days(today)
        rows = history.recent_for_chart(state.store, days, state.zone)
        minutes = history.minutes_by_day_zone(rows, state.zone, days, state.config.zone_names())
        labels = [f"{i18n.WEEKDAYS_SHORT[lang()][d.weekday()]} {d:%d/%m}" for d in days]
        return chart.minutes_chart(days, [(z.name, z.label or z.name) for z in state.config.zones], minutes,
                                   day_labels=labels, title=t("Broadcast minutes, last 7 days"), unit=t("minutes"))

    svg = state.snapshot.fragment(("chart", fingerprint[4:6], today, lang()), build)
    return Markup(svg)  # built from escaped parts by chart.minutes_chart


def on_air_times(playing: dict[str, Any] | None, now: datetime) -> dict[str, int | None]:
    """Elapsed and remaining seconds of what is on air (remaining: None when not known, e.g. a live relay
    without an end)."""
    if not playing:
        return {"elapsed_s": None, "remaining_s": None}
    began = i18n.parse_utc(playing.get("audio_at") or playing.get("started_at"))
    elapsed = max(0, int((now - began).total_seconds())) if began else None
    ends = i18n.parse_utc(playing.get("end_by"))
    if ends is None and began is not None and playing.get("duration_s"):
        ends = began + timedelta(seconds=float(playing["duration_s"]))
    remaining = max(0, int((ends - now).total_seconds())) if ends else None
    return {"elapsed_s": elapsed, "remaining_s": remaining}


def live_context(state: PanelState, now: datetime, fingerprint: tuple[Any, ...]) -> dict[str, Any]:
    """What the live part of the dashboard shows (the page and its 2-second refresh share it)."""
    status = state.daemon.status()
    upcoming, not_playing = today_plan(state, now, fingerprint)
    playing = on_air(status)
    return {"status": status, "on_air": playing, "times": on_air_times(playing, now), "upcoming": upcoming,
            "not_playing": not_playing, "relays": relay_states(state, status),
            "current_problems": (status or {}).get("problems") or [], "now": now}


@bp.route("/dashboard/live")
def live() -> ResponseReturnValue:
    """The live part of the dashboard as an HTML fragment, fetched every 2 s by panel.js."""
    state = panel()
    now = datetime.now(UTC)
    return render_template("_live.html", **live_context(state, now, state.snapshot.fingerprint()))


@bp.route("/")
def index() -> ResponseReturnValue:
    state = panel()
    now = datetime.now(UTC)
    fingerprint = state.snapshot.fingerprint()
    live_part = live_context(state, now, fingerprint)
    status = live_part["status"]
    usage = shutil.disk_usage(state.config.data_path)
    sync = state.store.sync_state()
    problems = state.store.recent_events(5, level="error") + state.store.recent_events(5, level="warning")
    problems.sort(key=lambda e: e["id"], reverse=True)
    return render_template(
        "dashboard.html",
        **live_part,
        clock_trusted=clock_trusted(state, status),
        sync=sync,
        disk_free_gb=f"{usage.free / 1e9:.1f}",
        disk_total_gb=f"{usage.total / 1e9:.1f}",
        problems=problems[:6],
        chart=chart_svg(state, now, fingerprint),
    )
