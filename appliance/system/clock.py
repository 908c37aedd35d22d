"""Time for the daemon: an injectable clock, clock-trust evaluation and clock-jump detection.

A Raspberry Pi has no real-time clock: until NTP syncs it may think it is months ago (or a
stale fake-hwclock value). Scheduled playback is held until the clock is trusted; play-now
and emergency still work. Trust comes from systemd-timesyncd (``/run/systemd/timesync/
synchronized``), a sane RTC, or central's server time agreeing within a tolerance. The last
trusted time is stored so that a clock booting behind it is recognised as wrong.

``evaluate_trust`` is a pure function over ``TrustSignals``; ``ClockTrust`` gathers the
signals (files, central's time) and persists the last trusted time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from appliance.state.store import Store

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
RTC_DEVICE = Path("/dev/rtc0")
RTC_EPOCH_FILE = Path("/sys/class/rtc/rtc0/since_epoch")
# No build of this software ever ran before this instant: an earlier clock is certainly wrong.
SANE_FLOOR = datetime(2025, 1, 1, tzinfo=UTC)
# Small backwards corrections (NTP slew, reboot rounding) are not a "clock behind" signal.
BACKWARD_SLACK = timedelta(minutes=2)
# Persisting the last trusted time more often than this only wears the SD card.
PERSIST_EVERY_S = 600.0
JUMP_THRESHOLD_S = 2.0

_KEY_AT = "clock.last_trusted_at"
_KEY_SOURCE = "clock.last_trusted_source"


class Clock(Protocol):
    """What the daemon needs from time. ``now`` is aware UTC."""

    def now(self) -> datetime: ...

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock tests move by hand: ``advance`` moves both wall and monotonic time, ``jump`` only the wall."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._wall = start.timestamp()
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._wall += seconds

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._wall = moment.timestamp()


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_z(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- trust (pure)


@dataclasses.dataclass(frozen=True)
class TrustSignals:
    now: datetime
    timesync_synchronized: bool = False
    rtc_time: datetime | None = None
    central_offset_s: float | None = None   # central's time minus ours, extrapolated to ``now``
    last_trusted: datetime | None = None


@dataclasses.dataclass(frozen=True)
class TrustVerdict:
    trusted: bool
    source: str          # 'timesync' | 'central' | 'rtc' | 'none'
    reason_vi: str
    reason_en: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def evaluate_trust(signals: TrustSignals, *, tolerance_s: float) -> TrustVerdict:
    """Is the system clock trustworthy enough to run the broadcast calendar?"""
    if signals.timesync_synchronized:
        return TrustVerdict(True, "timesync", "Đồng hồ đã đồng bộ NTP.", "Clock synchronized by NTP.")
    offset = signals.central_offset_s
    if offset is not None:
        if abs(offset) <= tolerance_s:
            return TrustVerdict(True, "central", f"Đồng hồ khớp giờ máy chủ trung tâm (lệch {offset:+.1f} s).",
                                f"Clock agrees with central's time (offset {offset:+.1f} s).")
        return TrustVerdict(False, "none", f"Đồng hồ lệch giờ máy chủ trung tâm {offset:+.0f} s.",
                            f"Clock differs from central's time by {offset:+.0f} s.")
    if signals.now < SANE_FLOOR:
        return TrustVerdict(False, "none", "Đồng hồ chỉ thời điểm trước khi phần mềm ra đời.",
                            "Clock shows a time before this software existed.")
    if signals.last_trusted is not None and signals.now < signals.last_trusted - BACKWARD_SLACK:
        return TrustVerdict(False, "none", "Đồng hồ đang chậm hơn lần cuối được tin cậy (có thể vừa khởi động không có RTC).",
                            "Clock is behind the last trusted time (probably booted without an RTC).")
    rtc = signals.rtc_time
    if rtc is not None and rtc >= SANE_FLOOR and abs((rtc - signals.now).total_seconds()) <= max(tolerance_s, 5.0):
        return TrustVerdict(True, "rtc", "Đồng hồ theo RTC phần cứng.", "Clock backed by a hardware RTC.")
    return TrustVerdict(False, "none", "Chưa có nguồn giờ tin cậy (NTP, RTC hoặc máy chủ trung tâm); tạm giữ lịch phát.",
                        "No trusted time source yet (NTP, RTC or central); scheduled playback is held.")


# --------------------------------------------------------------------------- trust (shell)


class ClockTrust:
    """Gathers trust signals, remembers central's time, persists the last trusted time."""

    def __init__(self, store: Store, *, clock: Clock, tolerance_s: float,
                 timesync_flag: Path = TIMESYNC_FLAG, rtc_device: Path = RTC_DEVICE,
                 rtc_epoch_file: Path = RTC_EPOCH_FILE) -> None:
        self._store = store
        self._clock = clock
        self._tolerance_s = tolerance_s
        self._timesync_flag = timesync_flag
        self._rtc_device = rtc_device
        self._rtc_epoch_file = rtc_epoch_file
        self._lock = threading.Lock()
        self._central: tuple[float, float] | None = None   # (central epoch s, our monotonic then)
        self._last_persist_mono: float | None = None
        self._last_trusted = self._load_last_trusted()
        self._verdict = TrustVerdict(False, "none", "Chưa kiểm tra đồng hồ.", "Clock not checked yet.")

    def _load_last_trusted(self) -> datetime | None:
        row = self._store.query_one("SELECT value FROM daemon_state WHERE key = ?", (_KEY_AT,))
        if row is None:
            return None
        try:
            return parse_iso_z(row[0])
        except ValueError:
            return None

    def note_central_time(self, server_time: datetime) -> None:
        """Central's clock as seen in a response (e.g. its Date header), received just now."""
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=UTC)
        with self._lock:
            self._central = (server_time.timestamp(), self._clock.monotonic())

    def _central_offset(self) -> float | None:
        with self._lock:
            if self._central is None:
                return None
            central_epoch, mono = self._central
        # Extrapolate central's time with our monotonic clock: a later wall-clock jump shows up.
        central_now = central_epoch + (self._clock.monotonic() - mono)
        return central_now - self._clock.time()

    def _read_rtc(self) -> datetime | None:
        if not self._rtc_device.exists():
            return None
        try:
            seconds = int(self._rtc_epoch_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return datetime.fromtimestamp(seconds, UTC)

    def signals(self) -> TrustSignals:
        return TrustSignals(
            now=self._clock.now(),
            timesync_synchronized=self._timesync_flag.exists(),
            rtc_time=self._read_rtc(),
            central_offset_s=self._central_offset(),
            last_trusted=self._last_trusted,
        )

    def check(self) -> TrustVerdict:
        verdict = evaluate_trust(self.signals(), tolerance_s=self._tolerance_s)
        changed = verdict.trusted != self._verdict.trusted or verdict.source != self._verdict.source
        self._verdict = verdict
        if verdict.trusted:
            self._persist(force=changed)
        if changed:
            with contextlib.suppress(Exception):
                self._store.log_event("clock.trust", verdict.reason_en,
                                      {"trusted": verdict.trusted, "source": verdict.source,
                                       "vi": verdict.reason_vi, "now": iso_z(self._clock.now())},
                                      level="info" if verdict.trusted else "warning")
        return verdict

    def _persist(self, *, force: bool) -> None:
        mono = self._clock.monotonic()
        if not force and self._last_persist_mono is not None and mono - self._last_persist_mono < PERSIST_EVERY_S:
            return
        now = self._clock.now()
        with self._store.transaction(durable=True) as tx:
            for key, value in ((_KEY_AT, iso_z(now)), (_KEY_SOURCE, self._verdict.source)):
                tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES (?, ?, ?)"
                           " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                           (key, value, iso_z(now)))
        self._last_trusted = now
        self._last_persist_mono = mono

    @property
    def verdict(self) -> TrustVerdict:
        return self._verdict

    @property
    def trusted(self) -> bool:
        return self._verdict.trusted

    def status(self) -> dict[str, Any]:
        offset = self._central_offset()
        return {
            "trusted": self._verdict.trusted,
            "source": self._verdict.source,
            "reason": {"vi": self._verdict.reason_vi, "en": self._verdict.reason_en},
            "now": iso_z(self._clock.now()),
            "last_trusted_at": iso_z(self._last_trusted) if self._last_trusted else None,
            "central_offset_s": None if offset is None else round(offset, 3),
        }


# --------------------------------------------------------------------------- jumps


class JumpDetector:
    """Notices wall-clock steps (NTP correction, manual set) by comparing wall and monotonic time."""

    def __init__(self, clock: Clock, *, threshold_s: float = JUMP_THRESHOLD_S) -> None:
        self._clock = clock
        self._threshold_s = threshold_s
        self._base = clock.time() - clock.monotonic()

    def check(self) -> float:
        """The wall-clock step since the last check (0.0 when none above the threshold)."""
        base = self._clock.time() - self._clock.monotonic()
        step = base - self._base
        if abs(step) >= self._threshold_s:
            self._base = base
            return step
        return 0.0


class OffsetClock(SystemClock):
    """Real time shifted by an adjustable offset: a wall clock that can be wrong or jump while
    monotonic time runs normally (tests of trust and jumps against a real-time daemon)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self._offset_s = offset_s
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> float:
        with self._lock:
            return self._offset_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def time(self) -> float:
        return time.time() + self.offset_s

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._offset_s += seconds
