"""Health of a station: one evaluation shared by ``commune-radio status``/``health``, the panel's
``/healthz`` and the Prometheus ``/metrics`` text.

``evaluate_health`` and ``render_metrics`` are pure functions of the daemon's status answer
(``None`` when the daemon does not answer) and a few facts; ``gather`` is the small shell that
asks the daemon. Checks:

- ``daemon_alive`` (critical): the daemon answers on its control socket;
- ``daemon_threads`` (critical): its scheduler and player threads beat (the watchdog's view);
- ``relays_sane`` (critical): no relay is on with nothing owning it (nothing on air, no warm-up,
  no cool-down, no test);
- ``version`` (critical, only when a version is expected: after an update);
- ``clock_trusted`` (warning): scheduled broadcasts are held while the clock is untrusted;
- ``sync_recent`` (warning): the last successful sync is at most ``max(3 × interval, 15 min)`` old;
- ``amplifiers`` (warning): no fault input active, no max-on watchdog trip;
- ``disk_space`` (warning): the card keeps ``DISK_LOW_BYTES`` and ``DISK_LOW_RATIO`` free and
  the media stay under ``MEDIA_QUOTA_WARN`` of their quota, so the operator hears of it before
  downloads start failing;
- ``problems`` (warning): nothing the daemon reports as going on now (a silent relay source,
  a database recovered from damage, …: ``appliance.daemon.problems``), power aside;
- ``power`` (warning): mains present (when a mains-sense input is wired), no under-voltage and
  no throttling now (``appliance.daemon.power``).

Overall: ``failing`` if a critical check fails, else ``degraded`` if a warning does, else ``ok``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from appliance.system.clock import iso_z, parse_iso_z

Overall = Literal["ok", "degraded", "failing"]
EXIT_CODES: dict[str, int] = {"ok": 0, "degraded": 1, "failing": 2}
MIN_SYNC_AGE_S = 15 * 60
DISK_LOW_BYTES = 500_000_000    # the same thresholds as central's "disk_low"
DISK_LOW_RATIO = 0.05
MEDIA_QUOTA_WARN = 0.9


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    critical: bool
    vi: str
    en: str


@dataclasses.dataclass(frozen=True)
class Health:
    status: Overall
    checks: tuple[Check, ...]
    at: str
    version: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at, "version": self.version,
                "checks": [dataclasses.asdict(c) for c in self.checks]}


def _sync_check(status: Mapping[str, Any], now: datetime, sync_interval_s: int) -> Check:
    if not status.get("sync_enabled"):
        return Check("sync_recent", False, False, "Chưa cấu hình đồng bộ với trung tâm (mã thiết bị, khoá).",
                     "Sync with central is not configured (device token, central key).")
    last = (status.get("last_sync") or {}).get("last_success_at")
    limit = max(3 * sync_interval_s, MIN_SYNC_AGE_S)
    if not last:
        return Check("sync_recent", False, False, "Chưa đồng bộ thành công lần nào.", "No successful sync yet.")
    try:
        age = (now - parse_iso_z(last)).total_seconds()
    except ValueError:
        return Check("sync_recent", False, False, f"Thời điểm đồng bộ không đọc được: {last}.",
                     f"Unreadable last sync time: {last}.")
    minutes = int(age // 60)
    if age > limit:
        error = (status.get("last_sync") or {}).get("last_error") or ""
        return Check("sync_recent", False, False,
                     f"Lần đồng bộ thành công gần nhất cách đây {minutes} phút. {error}".strip(),
                     f"Last successful sync was {minutes} min ago. {error}".strip())
    return Check("sync_recent", True, False, f"Đồng bộ {minutes} phút trước.", f"Synced {minutes} min ago.")


def _disk_check(disk: Mapping[str, Any]) -> Check:
    free, total = int(disk.get("free_bytes") or 0), int(disk.get("total_bytes") or 0)
    media, quota = int(disk.get("media_bytes") or 0), int(disk.get("media_quota_bytes") or 0)
    free_mb, pct = free // 1_000_000, (100 * free / total if total else 0.0)
    if total and (free < DISK_LOW_BYTES or free / total < DISK_LOW_RATIO):
        return Check("disk_space", False, False,
                     f"Thẻ nhớ sắp đầy: chỉ còn {free_mb} MB ({pct:.0f} %). Hãy xoá bớt tệp hoặc thay thẻ lớn hơn.",
                     f"The SD card is nearly full: {free_mb} MB free ({pct:.0f} %). Free some space or use a "
                     "larger card.")
    if quota and media >= MEDIA_QUOTA_WARN * quota:
        used = round(100 * media / quota)
        return Check("disk_space", False, False,
                     f"Tệp âm thanh đã dùng {used} % hạn mức ({media // 1_000_000} / {quota // 1_000_000} MB): "
                     "bản tin mới có thể không tải được.",
                     f"Media use {used} % of their quota ({media // 1_000_000} / {quota // 1_000_000} MB): "
                     "new items may not download.")
    return Check("disk_space", True, False, f"Thẻ nhớ còn {free_mb} MB trống.", f"{free_mb} MB free on the SD card.")


def _problems_check(status: Mapping[str, Any]) -> Check:
    problems = [p for p in status.get("problems") or () if isinstance(p, Mapping)
                and not str(p.get("code", "")).startswith("power.")]   # the power check says those
    if not problems:
        return Check("problems", True, False, "Không có sự cố nào đang xảy ra.", "No problem going on.")
    return Check("problems", False, False, " ".join(str(p.get("vi") or p.get("code")) for p in problems),
                 " ".join(str(p.get("en") or p.get("code")) for p in problems))


def _power_check(power: Mapping[str, Any]) -> Check:
    vi: list[str] = []
    en: list[str] = []
    if power.get("mains") == "lost":
        since = power.get("since") or "?"
        vi.append(f"Mất điện lưới từ {since}: trạm đang chạy ắc quy"
                  + (" (chỉ phát bản tin khẩn cấp và ưu tiên)." if power.get("saving_battery") else "."))
        en.append(f"Mains lost since {since}: the station runs on battery"
                  + (" (only emergency and priority items play)." if power.get("saving_battery") else "."))
    if power.get("under_voltage"):
        vi.append("Pi báo sụt áp nguồn cấp.")
        en.append("The Pi reports under-voltage.")
    if power.get("throttled"):
        vi.append("Pi đang bị giảm tốc độ.")
        en.append("The Pi is throttled.")
    if vi:
        return Check("power", False, False, " ".join(vi), " ".join(en))
    mains = {"present": ("có điện lưới", "mains present")}.get(str(power.get("mains")),
                                                               ("không có đầu vào báo điện lưới", "no mains sense"))
    return Check("power", True, False, f"Nguồn điện bình thường ({mains[0]}).", f"Power is fine ({mains[1]}).")


def _relay_checks(status: Mapping[str, Any]) -> tuple[Check, Check]:
    relays: Mapping[str, Any] = status.get("relays") or {}
    stray, faults, trips = [], [], []
    for zone, relay in relays.items():
        if relay.get("on") and not relay.get("owners") and not relay.get("cooling_down"):
            stray.append(zone)
        if relay.get("fault"):
            faults.append(zone)
        if relay.get("watchdog_tripped"):
            trips.append(zone)
    if stray:
        zones = ", ".join(stray)
        sane = Check("relays_sane", False, True, f"Rơ-le đang bật không có lý do: {zones}.",
                     f"Relay on with nothing owning it: {zones}.")
    else:
        on = [z for z, r in relays.items() if r.get("on")]
        sane = Check("relays_sane", True, True, f"Rơ-le bình thường ({len(on)} đang bật).",
                     f"Relays sane ({len(on)} on).")
    if faults or trips:
        amp = Check("amplifiers", False, False,
                    f"Báo lỗi ampli: {', '.join(faults) or '-'}; ngắt do bật quá lâu: {', '.join(trips) or '-'}.",
                    f"Amplifier fault: {', '.join(faults) or '-'}; max-on trips: {', '.join(trips) or '-'}.")
    else:
        amp = Check("amplifiers", True, False, "Ampli không báo lỗi.", "No amplifier fault.")
    return sane, amp


def evaluate_health(status: Mapping[str, Any] | None, *, now: datetime, sync_interval_s: int,
                    daemon_error: str = "", daemon_error_vi: str = "",
                    expect_version: str | None = None) -> Health:
    """The station's health from the daemon's ``status`` answer (None: it did not answer)."""
    checks: list[Check] = []
    if status is None:
        checks.append(Check("daemon_alive", False, True,
                            f"Dịch vụ phát không trả lời. {daemon_error_vi or daemon_error}".strip(),
                            f"The broadcast daemon does not answer. {daemon_error}".strip()))
        if expect_version is not None:
            checks.append(Check("version", False, True, f"Chưa chạy phiên bản {expect_version}.",
                                f"Version {expect_version} is not running."))
        return Health("failing", tuple(checks), iso_z(now))
    checks.append(Check("daemon_alive", True, True, "Dịch vụ phát đang chạy.", "The broadcast daemon answers."))
    liveness = status.get("liveness") or {}
    wedged = ", ".join(liveness.get("wedged") or [])
    if status.get("healthy"):
        checks.append(Check("daemon_threads", True, True, "Luồng lịch phát và luồng phát hoạt động.",
                            "Scheduler and player threads are alive."))
    else:
        checks.append(Check("daemon_threads", False, True, f"Luồng bị treo hoặc đã dừng: {wedged or '?'}.",
                            f"A thread is wedged or dead: {wedged or '?'}."))
    if expect_version is not None:
        running = status.get("version")
        checks.append(Check("version", running == expect_version, True,
                            f"Phiên bản đang chạy: {running} (cần {expect_version}).",
                            f"Running version {running} (expected {expect_version})."))
    checks.extend(_relay_checks(status))
    clock = status.get("clock") or {}
    reason = clock.get("reason") or {}
    checks.append(Check("clock_trusted", bool(clock.get("trusted")), False,
                        reason.get("vi") or "Đồng hồ chưa tin cậy: lịch phát bị tạm giữ.",
                        reason.get("en") or "Clock not trusted: scheduled broadcasts are held."))
    checks.append(_sync_check(status, now, sync_interval_s))
    checks.append(_problems_check(status))
    if isinstance(status.get("power"), Mapping):
        checks.append(_power_check(status["power"]))
    if status.get("disk"):
        checks.append(_disk_check(status["disk"]))
    if any(not c.ok and c.critical for c in checks):
        overall: Overall = "failing"
    elif any(not c.ok for c in checks):
        overall = "degraded"
    else:
        overall = "ok"
    return Health(overall, tuple(checks), iso_z(now), status.get("version"))


# ---------------------------------------------------------------------- Prometheus text format


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items())) + "}"


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str,
               samples: list[tuple[Mapping[str, str], float | int | bool]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")


def render_metrics(status: Mapping[str, Any] | None, health: Health, *, device_id: str) -> str:
    """Prometheus text exposition (version 0.0.4) of the station's main gauges and counters."""
    out = _Text()
    out.metric("commune_radio_up", "gauge", "1 if the broadcast daemon answers its control socket.",
               [({}, status is not None)])
    out.metric("commune_radio_health_status", "gauge", "Overall health: 0 ok, 1 degraded, 2 failing.",
               [({}, health.exit_code)])
    out.metric("commune_radio_health_check", "gauge", "1 if the named health check passes.",
               [({"check": c.name, "critical": str(c.critical).lower()}, c.ok) for c in health.checks])
    if status is None:
        return "\n".join(out.lines) + "\n"
    out.metric("commune_radio_info", "gauge", "Build and device information.",
               [({"version": str(status.get("version")), "device_id": device_id}, 1)])
    out.metric("commune_radio_uptime_seconds", "gauge", "Seconds since the daemon started.",
               [({}, float(status.get("uptime_s") or 0))])
    if status.get("ready_s") is not None:
        out.metric("commune_radio_ready_seconds", "gauge", "Daemon start-to-ready time.",
                   [({}, float(status["ready_s"]))])
    clock = status.get("clock") or {}
    out.metric("commune_radio_clock_trusted", "gauge", "1 if the wall clock is trusted.",
               [({}, bool(clock.get("trusted")))])
    if clock.get("central_offset_s") is not None:
        out.metric("commune_radio_clock_central_offset_seconds", "gauge", "Central's clock minus ours.",
                   [({}, float(clock["central_offset_s"]))])
    last = (status.get("last_sync") or {}).get("last_success_at")
    if last:
        out.metric("commune_radio_last_sync_success_timestamp_seconds", "gauge",
                   "Unix time of the last successful sync with central.", [({}, parse_iso_z(last).timestamp())])
    out.metric("commune_radio_on_air", "gauge", "1 while something is on air (warm-up or audio).",
               [({}, status.get("on_air") is not None)])
    out.metric("commune_radio_volume", "gauge", "Output volume 0-100.", [({}, int(status.get("volume") or 0))])
    relays: Mapping[str, Any] = status.get("relays") or {}
    out.metric("commune_radio_relay_on", "gauge", "1 if the zone's amplifier relay is on.",
               [({"zone": z}, bool(r.get("on"))) for z, r in relays.items()])
    out.metric("commune_radio_relay_fault", "gauge", "1 if the zone's fault input is active (absent: no input).",
               [({"zone": z}, bool(r.get("fault"))) for z, r in relays.items() if r.get("fault") is not None])
    counts: Mapping[str, int] = status.get("counts") or {}
    out.metric("commune_radio_plays_total", "counter", "Play-log rows by outcome.",
               [({"outcome": k[len("plays_"):]}, int(v)) for k, v in sorted(counts.items()) if k.startswith("plays_")])
    out.metric("commune_radio_items", "gauge", "Items held, by state.",
               [({"state": k[len("items_"):]}, int(v)) for k, v in sorted(counts.items()) if k.startswith("items_")])
    out.metric("commune_radio_rejections_total", "counter", "Items rejected (bad signature, replay, ...).",
               [({}, int(counts.get("rejections", 0)))])
    out.metric("commune_radio_errors_total", "counter", "Scheduler and session errors since the daemon started.",
               [({}, int(counts.get("errors", 0)))])
    power = status.get("power") if isinstance(status.get("power"), Mapping) else {}
    if power.get("mains") in ("present", "lost"):
        out.metric("commune_radio_mains_present", "gauge", "1 on mains, 0 on battery (absent: no mains-sense input).",
                   [({}, power["mains"] == "present")])
    if isinstance(power.get("flags"), Mapping):
        out.metric("commune_radio_power_under_voltage", "gauge", "1 while the Pi reports under-voltage.",
                   [({}, bool(power.get("under_voltage")))])
        out.metric("commune_radio_power_throttled", "gauge", "1 while the Pi is throttled or frequency capped.",
                   [({}, bool(power.get("throttled")))])
        out.metric("commune_radio_power_flags", "gauge", "The firmware's get_throttled word.",
                   [({}, int(power["flags"].get("raw") or 0))])
    disk = status.get("disk") or {}
    if disk.get("total_bytes"):
        out.metric("commune_radio_disk_free_bytes", "gauge", "Free bytes on the SD card.",
                   [({}, int(disk["free_bytes"]))])
        out.metric("commune_radio_media_bytes", "gauge", "Media held on the card (partial downloads included).",
                   [({"quota": str(disk.get("media_quota_bytes") or 0)}, int(disk.get("media_bytes") or 0))])
    process = status.get("process") or {}
    if process.get("write_bytes") is not None:
        out.metric("commune_radio_daemon_write_bytes_total", "counter",
                   "Bytes the daemon sent to storage (SD-card wear).", [({}, int(process["write_bytes"]))])
    if process.get("rss_bytes") is not None:
        out.metric("commune_radio_daemon_resident_bytes", "gauge", "Daemon resident memory.",
                   [({}, int(process["rss_bytes"]))])
    if process.get("cpu_seconds") is not None:
        out.metric("commune_radio_daemon_cpu_seconds_total", "counter", "Daemon CPU time.",
                   [({}, float(process["cpu_seconds"]))])
    return "\n".join(out.lines) + "\n"


# ---------------------------------------------------------------------- shell


def gather(config: Any, *, client: Any = None, now: datetime | None = None, expect_version: str | None = None,
           timeout_s: float = 5.0) -> tuple[Health, dict[str, Any] | None]:
    """Ask the daemon for its status and evaluate it. Never raises for a daemon that is down."""
    from datetime import UTC

    from appliance.control import ControlClient
    from protocol.errors import CommuneRadioError

    client = client or ControlClient(config.socket_path, timeout=timeout_s)
    status: dict[str, Any] | None
    error = error_vi = ""
    try:
        status = client.request("status", actor="cli:health")
    except CommuneRadioError as exc:
        status, error, error_vi = None, exc.en, exc.vi
    except (OSError, ValueError) as exc:
        status, error = None, str(exc)
    health = evaluate_health(status, now=now or datetime.now(UTC), sync_interval_s=config.sync.interval_s,
                             daemon_error=error, daemon_error_vi=error_vi, expect_version=expect_version)
    return health, status


def format_health(health: Health, *, en: bool = False) -> str:
    label = {"ok": ("OK", "TỐT"), "degraded": ("DEGRADED", "CÓ CẢNH BÁO"), "failing": ("FAILING", "HỎNG")}
    head = label[health.status][0 if en else 1]
    lines = [f"{'Health' if en else 'Sức khoẻ'}: {head}"]
    for c in health.checks:
        mark = "ok" if c.ok else ("FAIL" if c.critical else "warn")
        lines.append(f"  [{mark:<4}] {c.name:<15} {c.en if en else c.vi}")
    return "\n".join(lines)
