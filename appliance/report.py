"""The Reporter: heartbeats and outbox uploads to central (protocol §10), in one thread.

One loop serves both duties, each on its own deadline, so a backlog never starves heartbeats:
after every logs request the heartbeat deadline is checked again. Heartbeats go every
``report.heartbeat_interval_s`` minus a per-device jitter (devices that booted together
spread out), each at most 2 KB. The outbox is sent oldest first in batches; when more is
waiting than one normal batch holds (after an outage) the backlog mode sends large batches
back to back. Failures back off exponentially with full jitter and never sooner than
``Retry-After``. Only ids that were sent and then acknowledged (or refused) leave the outbox.

Pure parts: ``heartbeat_period``, ``backoff_delay``, ``build_heartbeat``, ``fit_heartbeat``,
``parse_logs_answer``. ``system_facts`` reads /proc; ``Reporter`` is the shell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import protocol
from appliance.central_client import CentralClient
from appliance.commands_remote import RemoteCommands
from appliance.config import Config
from appliance.outbox import Entry, Outbox, entry_document, take_batch
from appliance.store import Store
from appliance.version import __version__
from protocol.errors import CentralError, CommuneRadioError

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 900.0
MAX_RETRY_AFTER_S = 3600.0
IDLE_UPLOAD_CHECK_S = 15.0     # the daemon also wakes the reporter when a play ends
MAX_RESULTS_PER_HEARTBEAT = 10
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")

LiveFacts = Callable[[], dict[str, Any]]


# --------------------------------------------------------------------------- pure core


def device_jitter_fraction(device_id: str) -> float:
    """A stable per-device fraction in [0, 1): the same device always gets the same phase."""
    digest = hashlib.sha256(device_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def heartbeat_period(interval_s: float, device_id: str, rng: random.Random) -> float:
    """Seconds to the next heartbeat: up to 10 % early per device, plus ±2 % noise.

    Always shorter than ``interval_s`` × 1.05, so central's 1.5-interval offline rule holds.
    """
    return interval_s * (1.0 - 0.10 * device_jitter_fraction(device_id)) * rng.uniform(0.98, 1.02)


def backoff_delay(failures: int, rng: random.Random, *, retry_after: float | None = None,
                  base_s: float = BACKOFF_BASE_S, max_s: float = BACKOFF_MAX_S) -> float:
    """Exponential backoff with full jitter, never below ``Retry-After`` (capped at an hour)."""
    ceiling = min(max_s, base_s * 2 ** max(0, failures - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def error_code(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    cleaned = "".join(c if c.isalnum() or c in "_.:-" else "_" for c in text.lower())[:64]
    return cleaned if _CODE_RE.match(cleaned) else None


def build_heartbeat(*, device_id: str, sent_at: str, boot_id: str, uptime_s: int, clock: Mapping[str, Any],
                    timezone: str, system: Mapping[str, Any], live: Mapping[str, Any], last_sync: Mapping[str, Any],
                    outbox_depth: int, rejected_count: int, last_errors: Sequence[str],
                    command_results: Sequence[Mapping[str, Any]], interval_s: int,
                    software_version: str = __version__) -> dict[str, Any]:
    """The heartbeat document (protocol §10) from plain facts."""
    playing = live.get("playing")
    return {
        "device_id": device_id,
        "sent_at": sent_at,
        "software_version": software_version[:32],
        "boot_id": boot_id[:64],
        "uptime_s": max(0, int(uptime_s)),
        "clock": {"trusted": bool(clock.get("trusted")), "offset_s": clock.get("offset_s"),
                  "source": clock.get("source") if clock.get("source") in ("ntp", "rtc", "central") else "none"},
        "timezone": timezone,
        "disk": {"free_bytes": int(system.get("disk_free", 0)), "total_bytes": int(system.get("disk_total", 0))},
        "cpu": {"temp_c": system.get("temp_c"), "load_1m": float(system.get("load_1m", 0.0))},
        "memory": {"available_bytes": int(system.get("mem_available", 0)),
                   "total_bytes": int(system.get("mem_total", 0))},
        "playing": ({"item_id": str(playing["item_id"])[:200], "zones": list(playing.get("zones") or [])}
                    if isinstance(playing, Mapping) and playing.get("item_id") else None),
        "relays": {str(k): bool(v) for k, v in (live.get("relays") or {}).items()},
        "volume": max(0, min(100, int(live.get("volume", 0)))),
        "last_sync": dict(last_sync),
        "outbox_depth": max(0, int(outbox_depth)),
        "rejected_count": max(0, int(rejected_count)),
        "last_errors": [c for c in (error_code(e) for e in last_errors) if c][-10:],
        "command_results": [{k: r[k] for k in ("id", "status", "error", "at")} for r in command_results],
        "heartbeat_interval_s": int(interval_s),
        "amp_faults": sorted(str(z) for z in live.get("amp_faults") or ()),
    }


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fit_heartbeat(doc: dict[str, Any], max_bytes: int = protocol.HEARTBEAT_MAX_BYTES) -> tuple[bytes, dict[str, Any]]:
    """Encode within ``max_bytes``: drop last_errors (oldest first), then command results
    (newest kept), then the optional extras; returns the bytes and the document sent."""
    doc = dict(doc)
    doc["last_errors"] = list(doc.get("last_errors", []))
    doc["command_results"] = list(doc.get("command_results", []))
    data = encode(doc)
    while len(data) > max_bytes and doc["last_errors"]:
        doc["last_errors"].pop(0)
        data = encode(doc)
    while len(data) > max_bytes and doc["command_results"]:
        doc["command_results"].pop()   # the newest wait for the next heartbeat; the oldest go first
        data = encode(doc)
    for optional in ("amp_faults", "heartbeat_interval_s"):
        if len(data) > max_bytes and optional in doc:
            doc.pop(optional)
            data = encode(doc)
    if len(data) > max_bytes and doc.get("playing"):
        doc["playing"] = {"item_id": doc["playing"]["item_id"][:64], "zones": doc["playing"]["zones"][:4]}
        data = encode(doc)
    while len(data) > max_bytes and doc["relays"]:
        doc["relays"].pop(sorted(doc["relays"])[-1])
        data = encode(doc)
    return data, doc


@dataclass(frozen=True)
class LogsAnswer:
    acknowledged: list[str]
    refused: list[str]


def parse_logs_answer(body: Any) -> LogsAnswer:
    """Central's answer to a logs upload; raises ``CentralError`` when it is malformed."""
    def bad(what: str) -> CentralError:
        return CentralError(f"Trung tâm trả lời nhật ký sai định dạng: {what}",
                            f"Central's answer to the logs upload is malformed: {what}", code="central_malformed")

    if not isinstance(body, dict):
        raise bad("not a JSON object")
    acked, refused = body.get("acknowledged"), body.get("refused", [])
    if not isinstance(acked, list) or not all(isinstance(i, str) for i in acked):
        raise bad("acknowledged must be a list of ids")
    if not isinstance(refused, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str)
                                                for r in refused):
        raise bad("refused must be a list of {id, code}")
    return LogsAnswer(acked, [r["id"] for r in refused])


# --------------------------------------------------------------------------- system facts


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return None


def read_boot_id() -> str:
    return (_read("/proc/sys/kernel/random/boot_id") or "").strip() or "unknown-" + uuid.uuid4().hex[:8]


def system_facts(data_dir: Path) -> dict[str, Any]:
    """Disk, CPU and memory facts from the OS; each falls back quietly where not available."""
    facts: dict[str, Any] = {"disk_free": 0, "disk_total": 0, "temp_c": None, "load_1m": 0.0,
                             "mem_available": 0, "mem_total": 0, "uptime_s": 0}
    with contextlib.suppress(OSError):
        usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
        facts["disk_free"], facts["disk_total"] = usage.free, usage.total
    with contextlib.suppress(OSError, AttributeError):
        facts["load_1m"] = round(os.getloadavg()[0], 2)
    temp = _read("/sys/class/thermal/thermal_zone0/temp")
    if temp and temp.strip().lstrip("-").isdigit():
        facts["temp_c"] = round(int(temp.strip()) / 1000, 1)
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            if name == "MemTotal":
                facts["mem_total"] = int(parts[0]) * 1024
            elif name == "MemAvailable":
                facts["mem_available"] = int(parts[0]) * 1024
    uptime = _read("/proc/uptime")
    if uptime:
        with contextlib.suppress(ValueError, IndexError):
            facts["uptime_s"] = int(float(uptime.split()[0]))
    return facts


# --------------------------------------------------------------------------- shell


@dataclass
class HeartbeatResult:
    ok: bool
    bytes: int
    commands: int = 0
    error: CentralError | None = None


@dataclass
class UploadResult:
    sent: int = 0
    removed: int = 0
    refused: int = 0
    ignored: int = 0
    remaining: int = 0
    error: CommuneRadioError | None = None
    retry_after: float | None = None


@dataclass
class ReporterStats:
    heartbeats: int = 0
    heartbeat_failures: int = 0
    uploads: int = 0
    upload_failures: int = 0
    delivered: int = 0
    last_heartbeat_bytes: int = 0
    last_error: str | None = None
    backlog_batches: int = 0


class Reporter:
    """Heartbeats, outbox uploads and remote-command intake for one device."""

    def __init__(self, config: Config, store: Store, client: CentralClient, *,
                 live: LiveFacts | None = None, commands: RemoteCommands | None = None,
                 clock_status: Callable[[], dict[str, Any]] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 boot_id: str | None = None) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.outbox = Outbox(store)
        self.outbox.configure(config.report.outbox_max_entries)
        self.commands = commands
        self._live = live or (lambda: {})
        self._clock_status = clock_status
        self._now = now
        self._mono = monotonic
        self._rng = rng or random.Random()
        self._boot_id = boot_id or read_boot_id()
        self._started_mono = monotonic()
        self._device = config.device.id
        self._batch_cap = protocol_batch_cap(config)
        self._upload_failures = 0
        self._heartbeat_failures = 0
        self.next_heartbeat = self._started_mono + min(5.0, 1.0 + 4.0 * device_jitter_fraction(self._device))
        self.next_upload = self._started_mono
        self.stats = ReporterStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ paths

    def _path(self, leaf: str) -> str:
        return f"v1/devices/{quote(self._device, safe='')}/{leaf}"

    # ------------------------------------------------------------------ heartbeat

    def clock_facts(self) -> dict[str, Any]:
        offset = self.client.server_offset_s
        device_minus_central = None if offset is None else round(-offset, 3)
        if self._clock_status is not None:
            status = self._clock_status()
            source = {"timesync": "ntp", "rtc": "rtc", "central": "central"}.get(status.get("source", ""), "none")
            return {"trusted": bool(status.get("trusted")), "offset_s": device_minus_central, "source": source}
        trusted = device_minus_central is not None and abs(device_minus_central) <= self.config.central.clock_tolerance_s
        return {"trusted": trusted, "offset_s": device_minus_central, "source": "central" if trusted else "none"}

    def _last_sync(self) -> dict[str, Any]:
        state = self.store.sync_state()
        last = state.get("last_result") or {}
        error = state.get("last_error") or None
        at = last.get("finished_at") if isinstance(last, dict) else None
        if not at:
            return {"at": None, "result": "error" if error else "ok", "error": error_code((error or {}).get("code"))}
        try:
            at = protocol.format_utc(datetime.fromisoformat(at.replace("Z", "+00:00")))
        except ValueError:
            at = None
        result = "error" if error else ("not_modified" if isinstance(last, dict) and last.get("not_modified") else "ok")
        return {"at": at, "result": result, "error": error_code((error or {}).get("code")) if error else None}

    def _last_errors(self) -> list[str]:
        rows = self.store.query("SELECT kind, data FROM events WHERE level IN ('warning', 'error')"
                                " ORDER BY id DESC LIMIT 10")
        codes: list[str] = []
        for row in reversed(rows):
            try:
                data = json.loads(row["data"])
            except ValueError:
                data = {}
            code = data.get("code") if isinstance(data, dict) else None
            if not code and row["kind"] == "item_rejected" and isinstance(data, dict):
                code = f"item_rejected.{data.get('reason')}"
            code = error_code(code or row["kind"])
            if code:
                codes.append(code)
        return codes

    def _rejected_since_boot(self, uptime_s: int) -> int:
        since = self._now().timestamp() - uptime_s
        cutoff = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        row = self.store.query_one("SELECT COUNT(*) FROM rejections WHERE at >= ?", (cutoff,))
        return int(row[0]) if row is not None else 0

    def build(self) -> tuple[bytes, dict[str, Any], list[int]]:
        """The heartbeat to send now: (bytes, document, queue seqs of the command results in it)."""
        system = system_facts(self.config.data_path)
        uptime = int(system.get("uptime_s") or (self._mono() - self._started_mono))
        try:
            live = self._live() or {}
        except Exception as exc:  # a status failure must not stop heartbeats
            live = {}
            log.warning("live facts failed: %r", exc)
        results = self.commands.pending_results(MAX_RESULTS_PER_HEARTBEAT) if self.commands else []
        doc = build_heartbeat(
            device_id=self._device, sent_at=protocol.format_utc(self._now()), boot_id=self._boot_id,
            uptime_s=uptime, clock=self.clock_facts(), timezone=self.config.device.timezone, system=system,
            live=live | {"volume": live.get("volume", self.config.audio.volume),
                         "relays": live.get("relays", {z: False for z in self.config.zone_names()})},
            last_sync=self._last_sync(), outbox_depth=self.outbox.depth(),
            rejected_count=self._rejected_since_boot(uptime), last_errors=self._last_errors(),
            command_results=results, interval_s=self.config.report.heartbeat_interval_s)
        data, sent = fit_heartbeat(doc)
        sent_ids = {(r["id"], r["status"], r["at"]) for r in sent["command_results"]}
        seqs = [r["seq"] for r in results if (r["id"], r["status"], r["at"]) in sent_ids]
        return data, sent, seqs

    def heartbeat_once(self) -> HeartbeatResult:
        data, doc, seqs = self.build()
        try:
            answer = self.client.post_json(self._path("heartbeat"), doc, expect=(200, 400, 413))
        except CentralError as exc:
            self._note("heartbeat", exc)
            return HeartbeatResult(False, len(data), error=exc)
        if not isinstance(answer, dict) or "error" in answer:
            reason = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            exc = CentralError(f"Trung tâm từ chối nhịp tim: {str(reason)[:200]}",
                               f"Central refused the heartbeat: {str(reason)[:200]}", code="central_refused_heartbeat")
            self._note("heartbeat", exc)
            return HeartbeatResult(False, len(data), error=exc)
        try:
            server_time = protocol.parse_utc(answer.get("server_time"))
        except ValueError:
            exc = CentralError("Trung tâm trả lời nhịp tim sai định dạng (thiếu server_time).",
                               "Central's heartbeat answer is malformed (no valid server_time).",
                               code="central_malformed")
            self._note("heartbeat", exc)
            return HeartbeatResult(False, len(data), error=exc)
        # The heartbeat was stored: its command results are delivered.
        if self.commands is not None:
            self.commands.acknowledge(seqs)
        handled = 0
        if self.commands is not None:
            outcomes = self.commands.handle(answer.get("commands"), server_time=server_time,
                                            clock_trusted=bool(doc["clock"]["trusted"]))
            handled = len(outcomes)
            if doc["clock"]["trusted"]:
                with contextlib.suppress(Exception):
                    self.commands.prune()
        self.stats.heartbeats += 1
        self.stats.last_heartbeat_bytes = len(data)
        return HeartbeatResult(True, len(data), handled)

    # ------------------------------------------------------------------ uploads

    def upload_once(self) -> UploadResult:
        """Send one batch of the oldest entries; settle what central acknowledged."""
        depth = self.outbox.depth()
        if depth == 0:
            return UploadResult()
        backlog = depth > self.config.report.batch_size
        self.stats.backlog_batches += int(backlog)
        size = self.config.report.backlog_batch_size if backlog else self.config.report.batch_size
        batch = take_batch(self.outbox.peek(min(size, self._batch_cap)), max_entries=min(size, self._batch_cap))
        body = {"entries": [entry_document(e) for e in batch]}
        try:
            answer = self.client.post_json(self._path("logs"), body, expect=(200, 400, 413))
        except CentralError as exc:
            self.outbox.note_failure(batch, exc.code)
            self._note("upload", exc)
            return UploadResult(sent=len(batch), remaining=depth, error=exc,
                                retry_after=getattr(exc, "retry_after", None))
        if isinstance(answer, dict) and "error" in answer:
            return self._refused_request(batch, answer, depth)
        try:
            parsed = parse_logs_answer(answer)
        except CentralError as exc:
            self.outbox.note_failure(batch, exc.code)
            self._note("upload", exc)
            return UploadResult(sent=len(batch), remaining=depth, error=exc)
        removed, ignored = self.outbox.settle(batch, parsed.acknowledged, parsed.refused)
        if ignored:
            with contextlib.suppress(Exception):
                self.store.log_event("report.unknown_ack", f"central acknowledged {ignored} ids it was not sent;"
                                     " they were ignored", {"code": "central_unknown_ack", "ignored": ignored},
                                     level="warning")
        self._batch_cap = protocol_batch_cap(self.config)
        self.stats.uploads += 1
        self.stats.delivered += removed
        self._upload_failures = 0
        return UploadResult(sent=len(batch), removed=removed, refused=len(set(parsed.refused)), ignored=ignored,
                            remaining=self.outbox.depth())

    def _refused_request(self, batch: list[Entry], answer: dict[str, Any], depth: int) -> UploadResult:
        """400/413 for the whole request: halve the batch; a lone entry central cannot take is dropped."""
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        code = error_code(error.get("code")) or "bad_request"
        exc = CentralError(f"Trung tâm từ chối gói nhật ký ({code}): {str(error.get('message'))[:200]}",
                           f"Central refused the logs batch ({code}): {str(error.get('message'))[:200]}",
                           code=f"central_refused_logs.{code}")
        self._note("upload", exc)
        if len(batch) > 1:
            self._batch_cap = max(1, len(batch) // 2)
            return UploadResult(sent=len(batch), remaining=depth, error=exc, retry_after=0.0)
        self.outbox.settle(batch, [], [batch[0].id])
        with contextlib.suppress(Exception):
            self.store.log_event("report.entry_dropped", f"entry {batch[0].id} dropped: central refuses it ({code})",
                                 {"code": exc.code, "id": batch[0].id}, level="error")
        return UploadResult(sent=1, refused=1, remaining=self.outbox.depth(), error=exc, retry_after=0.0)

    def drain(self, max_requests: int = 1000) -> tuple[int, int]:
        """Upload until the outbox is empty or a request fails: (requests made, entries removed)."""
        requests_made = removed = 0
        while requests_made < max_requests and self.outbox.depth() > 0:
            result = self.upload_once()
            requests_made += 1
            removed += result.removed + result.refused
            if result.error is not None and result.retry_after != 0.0:
                break
        return requests_made, removed

    def _note(self, what: str, exc: CommuneRadioError) -> None:
        self.stats.last_error = f"{what}: {exc.code}"
        log.warning("%s failed: %s", what, exc.en)
        with contextlib.suppress(Exception):
            self.store.log_event(f"report.{what}_failed", exc.vi, {"code": exc.code, "en": exc.en}, level="warning")

    # ------------------------------------------------------------------ scheduling

    def step(self) -> float:
        """Do whatever is due (heartbeat first); returns seconds until something is due again."""
        now = self._mono()
        interval = float(self.config.report.heartbeat_interval_s)
        if now >= self.next_heartbeat:
            result = self.heartbeat_once()
            if result.ok:
                self._heartbeat_failures = 0
                self.next_heartbeat = self._mono() + heartbeat_period(interval, self._device, self._rng)
            else:
                self._heartbeat_failures += 1
                self.stats.heartbeat_failures += 1
                wait = heartbeat_period(interval, self._device, self._rng)
                retry_after = getattr(result.error, "retry_after", None)
                if retry_after:
                    wait = max(wait, min(float(retry_after), MAX_RETRY_AFTER_S))
                self.next_heartbeat = self._mono() + wait
        now = self._mono()
        if now >= self.next_upload and now < self.next_heartbeat:
            result = self.upload_once()
            if result.error is None or result.retry_after == 0.0:
                # Backlog: the next batch at once; otherwise look again soon (plays also wake us).
                self.next_upload = self._mono() + (0.0 if result.remaining else IDLE_UPLOAD_CHECK_S)
            else:
                self._upload_failures += 1
                self.stats.upload_failures += 1
                self.next_upload = self._mono() + backoff_delay(self._upload_failures, self._rng,
                                                                retry_after=result.retry_after)
        return max(0.0, min(self.next_heartbeat, self.next_upload) - self._mono())

    def wake(self) -> None:
        """Something was queued: look at the outbox now (unless backing off after failures)."""
        if self._upload_failures == 0:
            self.next_upload = min(self.next_upload, self._mono())
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception as exc:  # reporting must never take the daemon down
                log.exception("reporter step failed")
                with contextlib.suppress(Exception):
                    self.store.log_event("report.crash", repr(exc)[:500], {"code": "report.internal"}, level="error")
                wait = 5.0
            self._wake.wait(min(wait, 5.0))
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="reporter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(Exception):
            self.client.close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def protocol_batch_cap(config: Config) -> int:
    return max(config.report.batch_size, config.report.backlog_batch_size)


# --------------------------------------------------------------------------- daemon wiring


def daemon_live_facts(daemon: Any) -> dict[str, Any]:
    """What is playing, relays, volume and amplifier faults, from the daemon's status."""
    status = daemon.status()
    on_air = status.get("on_air")
    relays = status.get("relays") or {}
    return {
        "playing": {"item_id": on_air["item_id"], "zones": on_air.get("zones", [])} if on_air else None,
        "relays": {zone: bool(info.get("on")) for zone, info in relays.items()},
        "amp_faults": [zone for zone, info in relays.items() if info.get("fault") or info.get("watchdog_tripped")],
        "volume": status.get("volume", 0),
    }


def daemon_executor(daemon: Any) -> Callable[[str, dict[str, Any], str], dict[str, Any]]:
    """Run a command through the daemon's control actions (validated as the control socket does)."""
    from appliance.control import validate_request

    def execute(action: str, params: dict[str, Any], actor: str) -> dict[str, Any]:
        action, clean, actor = validate_request({"action": action, "params": params, "actor": actor},
                                                daemon.config.zone_names())
        with contextlib.suppress(Exception):
            daemon.store.log_event("control." + action, f"{actor} requested {action}",
                                   {"actor": actor, "params": clean})
        if action == "play":
            return daemon.play_now(clean["item_id"], zones=clean.get("zones"), actor=actor, trigger="central")
        return daemon.handle_request(action, clean, actor)

    return execute


def attach_reporter(daemon: Any) -> Reporter | None:
    """Build and start the daemon's reporter thread (None when central is not configured).

    Never raises: a reporting problem is logged and the daemon runs on without it.
    """
    config: Config = daemon.config
    if not (config.central.token and config.central.public_key):
        return None
    try:
        return _attach(daemon, config)
    except Exception as exc:
        log.exception("reporting disabled")
        details = exc.as_dict() if isinstance(exc, CommuneRadioError) else {"code": "report.internal"}
        with contextlib.suppress(Exception):
            daemon.store.log_event("report.disabled", getattr(exc, "en", repr(exc))[:500], details, level="error")
        return None


def _attach(daemon: Any, config: Config) -> Reporter:
    client = CentralClient.from_config(config, max_retries=0, max_json_bytes=1024 * 1024)
    trust = daemon.trust
    if trust is not None:
        client.on_server_time = trust.note_central_time
    commands = RemoteCommands(daemon.store, config.device.id, protocol.public_key_from_b64(config.central.public_key),
                              daemon_executor(daemon), now=daemon.clock.now)
    reporter = Reporter(config, daemon.store, client, live=lambda: daemon_live_facts(daemon), commands=commands,
                        clock_status=(trust.status if trust is not None else None), now=daemon.clock.now)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("type") in ("play_end", "skipped", "relay"):
            reporter.wake()

    daemon.add_listener(on_event)
    reporter.start()
    return reporter
