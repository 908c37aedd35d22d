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
from appliance.panel.weekview import expand

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


def upcoming_today(state: PanelState, now: datetime, fingerprint: tuple[Any, ...]) -> list[Any]:
    local_now = now.astimezone(state.zone)
    end = datetime.combine(local_now.date() + timedelta(days=1), time(0, 0), tzinfo=state.zone)

    def build() -> list[Any]:
        items, slots = state.snapshot.plan_inputs(state.config, fingerprint)
        return expand(slots, items, local_now.replace(second=0, microsecond=0, minute=0).astimezone(UTC),
                      end.astimezone(UTC), state.config.device.timezone)

    # Expanded once per hour and data version; the past of the hour is filtered per request.
    hour = local_now.replace(minute=0, second=0, microsecond=0)
    today = state.snapshot.fragment(("upcoming", fingerprint[:4], hour), build)
    return [o for o in today if o.start >= now][:10]


def chart_svg(state: PanelState, now: datetime, fingerprint: tuple[Any, ...]) -> Markup:
    today = now.astimezone(state.zone).date()

    def build() -> str:
        days = history.last_days(today)
        rows = history.recent_for_chart(state.store, days, state.zone)
        minutes = history.minutes_by_day_zone(rows, state.zone, days, state.config.zone_names())
        labels = [f"{i18n.WEEKDAYS_SHORT[lang()][d.weekday()]} {d:%d/%m}" for d in days]
        return chart.minutes_chart(days, [(z.name, z.label or z.name) for z in state.config.zones], minutes,
                                   day_labels=labels, title=t("Broadcast minutes, last 7 days"), unit=t("minutes"))

    svg = state.snapshot.fragment(("chart", fingerprint[4:], today, lang()), build)
    return Markup(svg)  # built from escaped parts by chart.minutes_chart


@bp.route("/")
def index() -> ResponseReturnValue:
    state = panel()
    now = datetime.now(UTC)
    status = state.daemon.status()
    fingerprint = state.snapshot.fingerprint()
    usage = shutil.disk_usage(state.config.data_path)
    sync = state.store.sync_state()
    problems = state.store.recent_events(5, level="error") + state.store.recent_events(5, level="warning")
    problems.sort(key=lambda e: e["id"], reverse=True)
    return render_template(
        "dashboard.html",
        status=status,
        on_air=on_air(status),
        upcoming=upcoming_today(state, now, fingerprint),
        relays=relay_states(state, status),
        clock_trusted=clock_trusted(state, status),
        sync=sync,
        disk_free_gb=f"{usage.free / 1e9:.1f}",
        disk_total_gb=f"{usage.total / 1e9:.1f}",
        problems=problems[:6],
        current_problems=(status or {}).get("problems") or [],
        chart=chart_svg(state, now, fingerprint),
        voice_packs=voice_packs(state),
        now=now,
    )


def voice_packs(state: PanelState) -> list[dict[str, Any]]:
    """Installed voice packs, and those central offered: installed, waiting, or refused and why."""
    from audio.voicepacks import installed_packs  # reads installed.json only; no engine is started

    offered = {r["pack_id"]: dict(r) for r in state.store.query("SELECT * FROM voice_pack_offers ORDER BY at")}
    packs = [{"id": p.pack_id, "name": p.name, "language": p.language, "state": "installed",
              "from_central": p.pack_id in offered, "detail": ""}
             for p in installed_packs(state.config.data_path / "voices")]
    held = {p["id"] for p in packs}
    packs += [{"id": o["pack_id"], "name": o["name"], "language": "", "state": o["state"], "from_central": True,
               "detail": o["detail"] or ""} for o in offered.values() if o["pack_id"] not in held]
    return packs
