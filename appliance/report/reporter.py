"""The Reporter: heartbeats and outbox uploads to central (protocol §10), in one thread.

One loop serves both duties, each on its own deadline, so a backlog never starves heartbeats:
after every logs request the heartbeat deadline is checked again. Heartbeats go every
``report.heartbeat_interval_s`` minus a per-device jitter (devices that booted together
spread out), each at most 2 KB. The outbox is sent oldest first in batches; when more is
waiting than one normal batch holds (after an outage) the backlog mode sends large batches
back to back. Failures back off exponentially with full jitter and never sooner than
``Retry-After``. Only ids that were sent and then acknowledged (or refused) leave the outbox.

Pure parts live beside it: ``pacing`` (periods, backoff), ``heartbeat`` (the document, fitted into
2 KB), ``outbox`` (batches, central's answer). ``appliance.system.host`` reads /proc; this
module is the shell; ``attach`` wires it to the running daemon.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import protocol
from appliance.report.heartbeat import build_heartbeat, error_code, fit_heartbeat
from appliance.report.outbox import Entry, Outbox, entry_document, parse_logs_answer, take_batch
from appliance.report.pacing import MAX_RETRY_AFTER_S, backoff_delay, device_jitter_fraction, heartbeat_period
from appliance.report.remote_commands import RemoteCommands
from appliance.state.config import Config
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.system.host import read_boot_id, system_facts
from audio.engines import describe_voice
from protocol.errors import CentralError, CommuneRadioError

log = logging.getLogger(__name__)

IDLE_UPLOAD_CHECK_S = 15.0     # the daemon also wakes the reporter when a play ends
MAX_RESULTS_PER_HEARTBEAT = 10

LiveFacts = Callable[[], dict[str, Any]]


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
            command_results=results, interval_s=self.config.report.heartbeat_interval_s,
            voice=describe_voice(self.config.tts, self.config.data_path / "voices"))
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
        """One event per streak of the same failure (with its count), and a journal line when
        the streak reaches 1, 2, 4, 8, … repetitions: an outage of weeks stays a few lines."""
        self.stats.last_error = f"{what}: {exc.code}"
        repeated = 1
        with contextlib.suppress(Exception):
            repeated = self.store.log_event(f"report.{what}_failed", exc.vi, {"code": exc.code, "en": exc.en},
                                            level="warning", repeat_key=exc.code)
        if repeated & (repeated - 1) == 0:
            log.warning("%s failed (%d× in a row): %s", what, repeated, exc.en)

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

    def heartbeat_soon(self) -> None:
        """Central should know now (mains lost, back on mains): the next heartbeat goes at once,
        unless heartbeats are backing off after failures."""
        if self._heartbeat_failures == 0:
            self.next_heartbeat = min(self.next_heartbeat, self._mono())
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception as exc:  # reporting must never take the daemon down
                log.exception("reporter step failed")
                with contextlib.suppress(Exception):
                    self.store.log_event("report.crash", repr(exc)[:500], {"code": "report.internal"}, level="error",
                                         repeat_key=type(exc).__name__)
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
