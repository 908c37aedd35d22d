"""Amplifier relays per zone, driven through gpiozero.

Each zone has one relay output (``relay_pin``, active-high or active-low) and optionally a
fault / mains-sense input (``fault_pin``, pulled up; the amplifier pulls it low on a fault).
Plays *acquire* the zones they need and *release* them afterwards; the relay goes off only
when the last owner has released it and its cool-down has passed. So an item that follows
within the cool-down keeps the zone on (no relay chatter between adjacent items).

A watchdog switches off any zone on longer than ``max_on_minutes`` and reports it. A tripped
zone stays off, whoever asks for it, until the session that held it ends (``session_ended``),
every owner that held it has let go, or an operator resets it (``reset_watchdog``). Every
change is written to ``relay_log`` and passed to the listener. ``all_off`` is the safe
state for every exit path (SIGTERM, SIGINT, crash paths the daemon can catch).

Off a Raspberry Pi, gpiozero's MockFactory stands in for the GPIO chip; ``states()`` still
shows what the relays would be doing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appliance.errors import HardwareError
from appliance.state.config import ZoneConfig
from appliance.state.store import Store
from appliance.system.clock import Clock, SystemClock, iso_z

Listener = Callable[[dict[str, Any]], None]


def on_raspberry_pi() -> bool:
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="replace").lower()
    except OSError:
        return False


def default_pin_factory() -> Any:
    """None on a Pi or when GPIOZERO_PIN_FACTORY is set (gpiozero decides); MockFactory elsewhere."""
    if os.environ.get("GPIOZERO_PIN_FACTORY") or on_raspberry_pi():
        return None
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


@dataclasses.dataclass
class _Zone:
    config: ZoneConfig
    relay: Any
    fault: Any | None
    owners: set[str] = dataclasses.field(default_factory=set)
    on_since_mono: float | None = None
    off_at_mono: float | None = None      # pending cool-down switch-off
    tripped: bool = False                 # the watchdog switched it off
    trip_owners: set[str] = dataclasses.field(default_factory=set)  # who held it then


class Amplifiers:
    def __init__(self, zones: Sequence[ZoneConfig], *, store: Store | None = None, clock: Clock | None = None,
                 pin_factory: Any = None, listener: Listener | None = None) -> None:
        from gpiozero import DigitalInputDevice, OutputDevice
        from gpiozero.exc import GPIOZeroError

        self._store = store
        self._clock = clock or SystemClock()
        self._listener = listener
        self._lock = threading.RLock()
        self._zones: dict[str, _Zone] = {}
        try:
            for zc in zones:
                relay = OutputDevice(zc.relay_pin, active_high=zc.active_high, initial_value=False,
                                     pin_factory=pin_factory)
                fault = (DigitalInputDevice(zc.fault_pin, pull_up=True, pin_factory=pin_factory)
                         if zc.fault_pin >= 0 else None)
                self._zones[zc.name] = _Zone(zc, relay, fault)
        except (GPIOZeroError, OSError, RuntimeError) as exc:
            self.close()
            raise HardwareError(
                f"Không điều khiển được chân GPIO của rơ-le: {exc}. Kiểm tra quyền nhóm 'gpio' và cấu hình chân.",
                f"Cannot drive the relay GPIO pins: {exc}. Check the 'gpio' group and the pin settings.",
            ) from None

    # ------------------------------------------------------------------ queries

    @property
    def zone_names(self) -> list[str]:
        return list(self._zones)

    def warmup_s(self, zones: Sequence[str]) -> float:
        """Longest warm-up among ``zones`` that are currently off (on zones need none)."""
        with self._lock:
            waits = [self._zones[z].config.warmup_ms / 1000 for z in zones
                     if z in self._zones and not self._zones[z].relay.value]
        return max(waits, default=0.0)

    def max_warmup_s(self, zones: Sequence[str]) -> float:
        return max((self._zones[z].config.warmup_ms / 1000 for z in zones if z in self._zones), default=0.0)

    def states(self) -> dict[str, bool]:
        with self._lock:
            return {name: bool(z.relay.value) for name, z in self._zones.items()}

    def faults(self) -> dict[str, bool | None]:
        """Per zone: True = fault line active, False = fine, None = no fault input configured."""
        with self._lock:
            return {name: (bool(z.fault.value) if z.fault is not None else None) for name, z in self._zones.items()}

    def status(self) -> dict[str, Any]:
        now = self._clock.monotonic()
        with self._lock:
            return {
                name: {
                    "on": bool(z.relay.value),
                    "label": z.config.label,
                    "owners": sorted(z.owners),
                    "on_for_s": round(now - z.on_since_mono, 1) if z.on_since_mono is not None else None,
                    "cooling_down": z.off_at_mono is not None,
                    "fault": bool(z.fault.value) if z.fault is not None else None,
                    "watchdog_tripped": z.tripped,
                }
                for name, z in self._zones.items()
            }

    # ------------------------------------------------------------------ changes

    def acquire(self, zones: Sequence[str], owner: str, reason: str) -> list[str]:
        """Hold ``zones`` on for ``owner``; returns the zones that were switched on just now."""
        switched: list[str] = []
        with self._lock:
            for name in zones:
                zone = self._zones.get(name)
                if zone is None:
                    continue
                if zone.tripped:
                    continue  # stays off until the session ends or an operator resets it
                zone.owners.add(owner)
                zone.off_at_mono = None
                if not zone.relay.value:
                    self._set(zone, True, reason)
                    switched.append(name)
        return switched

    def release(self, zones: Sequence[str], owner: str, reason: str, *, immediate: bool = False) -> None:
        """Drop ``owner``'s hold; a zone with no owners left goes off after its cool-down."""
        with self._lock:
            now = self._clock.monotonic()
            for name in zones:
                zone = self._zones.get(name)
                if zone is None:
                    continue
                zone.owners.discard(owner)
                if zone.tripped:
                    zone.trip_owners.discard(owner)
                    if not zone.trip_owners:
                        self._clear_trip(zone, f"watchdog trip over: {reason}")
                    continue
                if zone.owners or not zone.relay.value:
                    continue
                if immediate or zone.config.cooldown_ms == 0:
                    self._set(zone, False, reason)
                else:
                    zone.off_at_mono = now + zone.config.cooldown_ms / 1000
        self.tick()

    def tick(self) -> float | None:
        """Apply due cool-downs and the max-on watchdog; returns the next monotonic deadline, if any."""
        tripped: list[str] = []
        deadlines: list[float] = []
        with self._lock:
            now = self._clock.monotonic()
            for name, zone in self._zones.items():
                if zone.off_at_mono is not None:
                    if now >= zone.off_at_mono:
                        self._set(zone, False, "cool-down ended")
                    else:
                        deadlines.append(zone.off_at_mono)
                if zone.relay.value and zone.on_since_mono is not None:
                    limit = zone.on_since_mono + zone.config.max_on_minutes * 60
                    if now >= limit:
                        zone.trip_owners = set(zone.owners)
                        zone.owners.clear()
                        zone.tripped = True
                        self._set(zone, False, f"watchdog: on longer than {zone.config.max_on_minutes} min")
                        tripped.append(name)
                    else:
                        deadlines.append(limit)
        for name in tripped:
            self._report_trip(name)
        return min(deadlines, default=None)

    def session_ended(self, zones: Sequence[str], owner: str, reason: str = "playback ended") -> None:
        """A session is over: drop its hold at once and end any watchdog trip of its zones."""
        with self._lock:
            for name in zones:
                zone = self._zones.get(name)
                if zone is not None and zone.tripped:
                    self._clear_trip(zone, f"watchdog trip over: {reason}")
        self.release(zones, owner, reason, immediate=True)

    def reset_watchdog(self, zones: Sequence[str], *, actor: str) -> list[str]:
        """An operator clears the watchdog trip of ``zones``; returns the zones that were tripped."""
        cleared: list[str] = []
        with self._lock:
            for name in zones:
                zone = self._zones.get(name)
                if zone is not None and zone.tripped:
                    self._clear_trip(zone, f"watchdog reset by {actor}")
                    cleared.append(name)
        if cleared and self._store is not None:
            with contextlib.suppress(Exception):
                self._store.log_event("relay.watchdog_reset", f"watchdog trip of {', '.join(cleared)} reset by {actor}",
                                      {"zones": cleared, "actor": actor,
                                       "vi": f"{actor} đã đặt lại ngắt bảo vệ của vùng {', '.join(cleared)}."})
        return cleared

    def tripped(self) -> list[str]:
        with self._lock:
            return [name for name, z in self._zones.items() if z.tripped]

    def _clear_trip(self, zone: _Zone, reason: str) -> None:
        zone.tripped = False
        zone.trip_owners.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener({"type": "relay_watchdog_cleared", "zone": zone.config.name, "reason": reason})

    def on_since(self) -> dict[str, float]:
        """Zones that are on, with the monotonic time they switched on."""
        with self._lock:
            return {name: z.on_since_mono for name, z in self._zones.items()
                    if z.relay.value and z.on_since_mono is not None}

    def all_off(self, reason: str, *, log_unchanged: bool = False) -> None:
        """Every relay off now, owners dropped (safe state). ``log_unchanged`` logs zones already off too."""
        with self._lock:
            for zone in self._zones.values():
                zone.owners.clear()
                zone.trip_owners.clear()
                zone.off_at_mono = None
                if zone.relay.value or log_unchanged:
                    self._set(zone, False, reason)
                else:
                    # Drive the pin to its off level anyway: cheap, and certain.
                    with contextlib.suppress(Exception):
                        zone.relay.off()

    def close(self) -> None:
        with self._lock:
            for zone in self._zones.values():
                with contextlib.suppress(Exception):
                    zone.relay.off()
                for device in (zone.relay, zone.fault):
                    if device is not None:
                        with contextlib.suppress(Exception):
                            device.close()

    # ------------------------------------------------------------------ internals

    def _set(self, zone: _Zone, on: bool, reason: str) -> None:
        # The pin first, the log after: the log must never delay or prevent switching.
        if on:
            zone.relay.on()
            zone.on_since_mono = self._clock.monotonic()
        else:
            zone.relay.off()
            zone.on_since_mono = None
            zone.off_at_mono = None
        at = iso_z(self._clock.now())
        if self._store is not None:
            try:
                with self._store.transaction() as tx:
                    tx.execute("INSERT INTO relay_log (zone, state, at, reason) VALUES (?, ?, ?, ?)",
                               (zone.config.name, int(on), at, reason[:200]))
            except Exception:  # a full disk must not keep a relay on
                pass
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener({"type": "relay", "zone": zone.config.name, "on": on, "reason": reason, "at": at})

    def _report_trip(self, name: str) -> None:
        minutes = self._zones[name].config.max_on_minutes
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.log_event("relay.watchdog",
                                      f"zone {name} was on longer than {minutes} min and was switched off",
                                      {"zone": name, "code": "hardware.relay_watchdog",
                                       "vi": f"Vùng {name} bật quá {minutes} phút, đã tự tắt."},
                                      level="error")
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener({"type": "relay_watchdog", "zone": name, "max_on_minutes": minutes})


def relay_history(store: Store, *, limit: int = 100, zone: str | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT id, zone, state, at, reason FROM relay_log", ()
    if zone is not None:
        sql, params = sql + " WHERE zone = ?", (zone,)
    rows = store.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    return [dict(r) | {"state": bool(r["state"])} for r in rows]
