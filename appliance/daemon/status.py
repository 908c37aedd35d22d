"""The daemon's status report: what ``commune-radio status``, the panel and health checks read."""

from __future__ import annotations

import contextlib
import shutil
import time
from typing import TYPE_CHECKING, Any

from appliance.system import procstats
from appliance.system.clock import iso_z
from appliance.version import __version__
from audio.engines import describe_voice

if TYPE_CHECKING:
    from appliance.daemon.daemon import Daemon


def disk_facts(daemon: Daemon) -> dict[str, int]:
    """The card's free and total space, and the media held against its quota (health warns early)."""
    from appliance.state.mediastore import MediaStore

    config = daemon.config
    facts = {"free_bytes": 0, "total_bytes": 0, "media_bytes": 0, "media_quota_bytes": config.sync.storage_quota_bytes}
    with contextlib.suppress(OSError):
        usage = shutil.disk_usage(config.data_path)
        facts["free_bytes"], facts["total_bytes"] = usage.free, usage.total
    with contextlib.suppress(OSError):
        facts["media_bytes"] = MediaStore(config.media_dir).total_bytes()
    return facts


def status_report(daemon: Daemon) -> dict[str, Any]:
    assert daemon.amplifiers is not None and daemon.trust is not None and daemon.playlog is not None
    assert daemon.scheduler is not None and daemon.onair is not None and daemon.actions is not None
    store = daemon.store
    session = daemon.onair.session
    on_air = None
    if session is not None and session.live:
        on_air = {"item_id": session.occurrence.item_id, "title": session.label, "key": session.occurrence.key,
                  "zones": list(session.zones), "trigger": session.occurrence.trigger, "phase": session.phase,
                  "play_id": session.play_id, "started_at": iso_z(session.started_at),
                  "audio_at": iso_z(session.audio_at), "priority": session.occurrence.priority,
                  # What the panel needs for elapsed and remaining time (the estimate, or the cut).
                  "duration_s": round(session.occurrence.duration_s, 1) or None,
                  "end_by": iso_z(session.end_by) if session.end_by is not None else None}
    plan = daemon.scheduler.last_plan
    upcoming: list[dict[str, Any]] = []
    if plan is not None:
        for waiting in plan.waiting[:20]:
            occ = waiting.occurrence
            item = store.get_item(occ.item_id) or {}
            upcoming.append({"item_id": occ.item_id, "title": item.get("title", ""), "key": occ.key,
                             "start": iso_z(occ.scheduled_at), "zones": list(occ.zones),
                             "priority": occ.priority, "reason": {"vi": waiting.reason.vi,
                                                                  "en": waiting.reason.en}})
    sync = store.sync_state()
    errors = [{"at": e["at"], "kind": e["kind"], "message": e["message"]}
              for e in store.recent_events(10, level="error")]
    items = store.query("SELECT state, COUNT(*) FROM items GROUP BY state")
    started = daemon.started_monotonic
    return {
        "device_id": daemon.config.device.id,
        "version": __version__,
        "uptime_s": round(time.monotonic() - (started or time.monotonic()), 1),
        "ready_s": daemon.ready_after_s,
        "on_air": on_air,
        "next": upcoming,
        "held": ({"vi": plan.held.vi, "en": plan.held.en} if plan is not None and plan.held else None),
        "relays": daemon.amplifiers.status(),
        "clock": daemon.trust.status(),
        "last_sync": {k: sync.get(k) for k in ("last_attempt_at", "last_success_at", "last_error")},
        "sync_enabled": daemon.syncer is not None,
        "volume": daemon.actions.volume,
        "voice": describe_voice(daemon.config.tts, daemon.config.data_path / "voices"),
        "counts": {"items_" + r[0]: int(r[1]) for r in items} | {
            "plays_" + k: v for k, v in daemon.playlog.counts().items()} | {
            "rejections": sum(store.rejection_counts().values()), "errors": daemon.error_count()},
        "recent_errors": errors,
        "refused_slots": [{"slot_id": r.slot_id, "item_id": r.item_id, **r.error.as_dict()}
                          for r in (plan.refused if plan is not None else ())],
        "problems": [p.as_dict() for p in daemon.problems.active()],
        "settings": daemon.settings_sources,
        "disk": disk_facts(daemon),
        "power": daemon.power.status() if daemon.power is not None else None,
        "healthy": daemon.healthy(),
        "liveness": {"ages_s": daemon.heartbeats.ages(), "wedged": daemon.wedged_threads()},
        "process": procstats.snapshot(),
    }
