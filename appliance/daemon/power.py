"""The daemon's power watcher: the mains-sense input and the firmware's flags, read every
``power.poll_s``; each change recorded durably in the event log, shown as a problem while it
lasts, sent in heartbeats (through the status) and given to the planner (battery policy).

Events: ``power.mains_lost`` / ``power.mains_restored``, ``power.under_voltage`` /
``power.under_voltage_over``, ``power.throttled`` / ``power.throttled_over``, and
``power.under_voltage_since_boot`` once per boot when the firmware says it happened before the
daemon looked. The last mains state is kept in ``daemon_state`` so a restart on battery is not
a second "mains lost". A mains change counts once two readings in a row agree (a relay contact
chattering at a brown-out is not a string of events).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from appliance.daemon.problems import Problems
from appliance.state.config import PowerConfig
from appliance.state.store import Store
from appliance.system.clock import Clock, iso_z
from appliance.system.host import read_boot_id
from appliance.system.power import (
    FlagsSource,
    MainsSense,
    PowerState,
    decode_throttled,
    flags_source,
    problems_of,
)
from protocol.errors import CommuneRadioError

log = logging.getLogger(__name__)

MAINS_CONFIRM_READINGS = 2
_KEY_MAINS = "power.mains"
_KEY_MAINS_SINCE = "power.mains_since"
_KEY_BOOT_REPORTED = "power.since_boot_reported"
POWER_CODES = ("power.on_battery", "power.under_voltage", "power.throttled")


class PowerWatcher:
    def __init__(self, config: PowerConfig, *, store: Store, clock: Clock, problems: Problems,
                 emit: Callable[[dict[str, Any]], None], wake: Callable[[], None], pin_factory: Any = None,
                 flags: FlagsSource | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.problems = problems
        self._emit = emit
        self._wake = wake
        self._pin_factory = pin_factory
        self._flags = flags if flags is not None else flags_source(config.throttled_source)
        self._sense: MainsSense | None = None
        self._lock = threading.Lock()
        self._mains = "unknown"
        self._mains_since: str | None = None
        self._pending: tuple[str, int] | None = None   # a mains change not yet confirmed
        self._state = PowerState("unknown", None)
        self._error: CommuneRadioError | None = None
        self._boot_id = read_boot_id()
        stored = self._stored(_KEY_MAINS)
        self._stored_mains = stored if stored in ("present", "lost") else None
        self._stored_since = self._stored(_KEY_MAINS_SINCE)

    # ------------------------------------------------------------------ life cycle

    def open(self) -> None:
        """Open the mains-sense input (the daemon owns GPIO); a failure is a problem, not a crash."""
        if self.config.mains_pin < 0:
            return
        try:
            from gpiozero import DigitalInputDevice

            device = DigitalInputDevice(self.config.mains_pin, pull_up=MainsSense.pull_up_for(
                self.config.mains_present_level), pin_factory=self._pin_factory)
            self._sense = MainsSense(device, pin=self.config.mains_pin, present_level=self.config.mains_present_level)
        except Exception as exc:  # gpiozero's errors are many; all mean "no input"
            vi = f"Không mở được chân báo điện lưới GPIO{self.config.mains_pin}: {exc}."
            en = f"Cannot open the mains-sense input GPIO{self.config.mains_pin}: {exc}."
            self.problems.raise_("power.sense_unreadable", vi, en, at=iso_z(self.clock.now()))
            with contextlib.suppress(Exception):
                self.store.log_event("power.sense_unreadable", en, {"vi": vi, "pin": self.config.mains_pin},
                                     level="error")

    def close(self) -> None:
        if self._sense is not None:
            with contextlib.suppress(Exception):
                self._sense.close()
            self._sense = None

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.poll()
            except Exception as exc:  # the watcher must never take the daemon down
                log.exception("power poll failed")
                with contextlib.suppress(Exception):
                    self.store.log_event("power.error", repr(exc)[:500], level="error",
                                         repeat_key=type(exc).__name__)
            stopping.wait(self.config.poll_s)

    # ------------------------------------------------------------------ reading

    def poll(self) -> PowerState:
        """Read the input and the flags once; record and announce what changed."""
        now = iso_z(self.clock.now())
        mains = self._read_mains(now)
        flags = None
        if self._flags is not None:
            try:
                flags_raw = self._flags.read()
            except CommuneRadioError as exc:
                self._flag_problem(exc, now)
            else:
                flags = decode_throttled(flags_raw)
                if self.problems.clear("power.flags_unreadable"):
                    self._record("power.flags_readable", "info", "Đọc lại được cờ nguồn điện của Pi.",
                                 "The Pi's power flags can be read again.", {})
        with self._lock:
            previous = self._state
            confirmed = self._confirm_mains(mains, now)
            state = PowerState(confirmed, flags)
            self._state = state
        self._announce(previous, state, now)
        return state

    def _read_mains(self, now: str) -> str:
        if self._sense is None:
            return "unknown"
        try:
            present = self._sense.present()
        except CommuneRadioError as exc:
            if self.problems.raise_("power.sense_unreadable", exc.vi, exc.en, at=now):
                with contextlib.suppress(Exception):
                    self.store.log_event("power.sense_unreadable", exc.en, exc.as_dict(), level="error")
            return "unknown"
        self.problems.clear("power.sense_unreadable")
        return "present" if present else "lost"

    def _confirm_mains(self, reading: str, now: str) -> str:
        """The mains state after this reading (a change needs MAINS_CONFIRM_READINGS in a row)."""
        if reading == "unknown" or self._mains == "unknown":
            if reading != self._mains:
                # After a restart in the same state, it began when the store says, not now.
                same = reading == self._stored_mains and self._stored_since
                self._mains, self._mains_since, self._pending = reading, self._stored_since if same else now, None
            return self._mains
        if reading == self._mains:
            self._pending = None
            return self._mains
        seen = self._pending[1] + 1 if self._pending is not None and self._pending[0] == reading else 1
        if seen < MAINS_CONFIRM_READINGS:
            self._pending = (reading, seen)
            return self._mains
        self._mains, self._mains_since, self._pending = reading, now, None
        return self._mains

    def _flag_problem(self, exc: CommuneRadioError, now: str) -> None:
        if self.problems.raise_("power.flags_unreadable", exc.vi, exc.en, at=now):
            with contextlib.suppress(Exception):
                self.store.log_event("power.flags_unreadable", exc.en, exc.as_dict() | {
                    "source": getattr(self._flags, "name", "")}, level="warning")

    # ------------------------------------------------------------------ changes

    def _announce(self, previous: PowerState, state: PowerState, now: str) -> None:
        changed = False
        if state.mains != "unknown" and state.mains != self._stored_mains:
            changed = True
            if state.mains == "lost":
                self._record("power.mains_lost", "warning", "Mất điện lưới: trạm chuyển sang chạy ắc quy.",
                             "Mains lost: the station now runs on battery.",
                             {"policy": self.config.battery_policy}, mains=True)
            elif self._stored_mains == "lost":
                self._record("power.mains_restored", "info", "Có điện lưới trở lại: trạm thôi chạy ắc quy.",
                             "Mains restored: the station is off battery.",
                             {"on_battery_since": self._stored_since}, mains=True)
            else:   # the first reading ever, mains there: remembered, not an event
                self._save_mains(state.mains, self._mains_since or now)
        if state.flags is not None:
            flags = state.flags
            if flags.under_voltage != previous.under_voltage:
                changed = True
                if flags.under_voltage:
                    self._record("power.under_voltage", "warning", "Pi báo sụt áp nguồn cấp.",
                                 "The Pi reports under-voltage.", {"flags": flags.as_dict()["hex"]})
                else:
                    self._record("power.under_voltage_over", "info", "Hết sụt áp nguồn cấp.",
                                 "Under-voltage is over.", {"flags": flags.as_dict()["hex"]})
            if flags.slowed != previous.slowed:
                changed = True
                if flags.slowed:
                    self._record("power.throttled", "warning", "Pi bị giảm tốc độ (quá nhiệt hoặc nguồn yếu).",
                                 "The Pi is throttled (heat or a weak supply).", {"flags": flags.as_dict()["hex"]})
                else:
                    self._record("power.throttled_over", "info", "Pi hết bị giảm tốc độ.",
                                 "The Pi is no longer throttled.", {"flags": flags.as_dict()["hex"]})
            if flags.under_voltage_since_boot and not flags.under_voltage and previous.flags is None \
                    and self._stored(_KEY_BOOT_REPORTED) != self._boot_id:
                self._record("power.under_voltage_since_boot", "warning",
                             "Pi đã bị sụt áp nguồn cấp từ lúc khởi động (nay đã hết): kiểm tra bộ nguồn.",
                             "The Pi had under-voltage since boot (over now): check the power supply.",
                             {"flags": flags.as_dict()["hex"]}, boot=True)
        active = {code: (vi, en) for code, vi, en in problems_of(state)}
        for code in POWER_CODES:
            if code in active:
                self.problems.raise_(code, *active[code], at=self._mains_since if code == "power.on_battery"
                                     and self._mains_since else now)
            else:
                self.problems.clear(code)
        if changed:
            self._emit({"type": "power", **self.status()})
            if state.mains != previous.mains:
                self._wake()   # the battery policy applies from the next plan

    def _record(self, kind: str, level: str, vi: str, en: str, data: dict[str, Any], *, mains: bool = False,
                boot: bool = False) -> None:
        """The event, and what the watcher remembers with it, in one durable transaction."""
        payload = data | {"vi": vi, "mains": self._state.mains, "flags": (
            self._state.flags.as_dict()["hex"] if self._state.flags is not None else None)}
        try:
            with self.store.transaction(durable=True) as tx:
                self.store.log_event(kind, en, payload, level=level, conn=tx)
                if mains:
                    self._upsert(tx, _KEY_MAINS, self._state.mains)
                    self._upsert(tx, _KEY_MAINS_SINCE, self._mains_since or iso_z(self.clock.now()))
                if boot:
                    self._upsert(tx, _KEY_BOOT_REPORTED, self._boot_id)
        except CommuneRadioError as exc:   # a full card: the state is still shown and sent
            log.error("power event %s not recorded: %s", kind, exc.en)
            return
        if mains:
            self._stored_mains, self._stored_since = self._state.mains, self._mains_since

    def _save_mains(self, mains: str, since: str) -> None:
        with contextlib.suppress(CommuneRadioError), self.store.transaction() as tx:
            self._upsert(tx, _KEY_MAINS, mains)
            self._upsert(tx, _KEY_MAINS_SINCE, since)
        self._stored_mains, self._stored_since = mains, since

    def _upsert(self, tx: Any, key: str, value: str) -> None:
        tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES (?, ?, ?)"
                   " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                   (key, value, iso_z(self.clock.now())))

    def _stored(self, key: str) -> str | None:
        row = self.store.query_one("SELECT value FROM daemon_state WHERE key = ?", (key,))
        return str(row[0]) if row is not None else None

    # ------------------------------------------------------------------ what others read

    def on_battery(self) -> bool:
        with self._lock:
            return self._state.on_battery

    def status(self) -> dict[str, Any]:
        with self._lock:
            state, since = self._state, self._mains_since
        policy = self.config.battery_policy
        return {
            "mains": state.mains,
            "on_battery": state.on_battery,
            "since": since if state.mains != "unknown" else None,
            "mains_sense": self.config.mains_pin if self.config.mains_pin >= 0 else None,
            "flags_source": getattr(self._flags, "name", None),
            "flags": state.flags.as_dict() if state.flags is not None else None,
            "under_voltage": state.under_voltage,
            "throttled": state.slowed,
            "battery_policy": policy,
            "saving_battery": state.on_battery and policy != "keep_all",
        }
