"""Amplifier relays through gpiozero's own MockFactory: switching, hold/cool-down, watchdog, faults."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.broadcast.amplifiers import Amplifiers, relay_history
from appliance.state.config import ZoneConfig
from appliance.state.store import Store
from appliance.system.clock import ManualClock

ZONES = [
    ZoneConfig(name="a", relay_pin=17, active_high=False, warmup_ms=1500, cooldown_ms=1000, max_on_minutes=2,
               fault_pin=5),
    ZoneConfig(name="b", relay_pin=27, active_high=True, warmup_ms=500, cooldown_ms=0, max_on_minutes=90),
]


@pytest.fixture()
def rig(tmp_path: Path):
    factory = MockFactory()
    clock = ManualClock(datetime(2025, 6, 1, 5, 0, tzinfo=UTC))
    events: list[dict] = []
    store = Store.open(tmp_path / "s.db")
    amps = Amplifiers(ZONES, store=store, clock=clock, pin_factory=factory, listener=events.append)
    yield amps, factory, clock, store, events
    amps.close()
    store.close()


def test_initially_off_and_pin_levels_respect_polarity(rig) -> None:
    amps, factory, *_ = rig
    assert amps.states() == {"a": False, "b": False}
    # Active-low relay: off means the pin is held high; active-high: low.
    assert factory.pin(17).state is True
    assert factory.pin(27).state is False


def test_acquire_release_with_cooldown_and_log(rig) -> None:
    amps, factory, clock, store, events = rig
    assert amps.warmup_s(["a", "b"]) == 1.5
    assert amps.acquire(["a", "b"], "play1", "warm-up") == ["a", "b"]
    assert factory.pin(17).state is False and factory.pin(27).state is True
    assert amps.warmup_s(["a", "b"]) == 0.0  # already on: no warm-up needed
    amps.release(["a", "b"], "play1", "done")
    # b has no cool-down: off at once; a waits 1 s.
    assert amps.states() == {"a": True, "b": False}
    clock.advance(0.5)
    assert amps.tick() is not None and amps.states()["a"] is True
    clock.advance(0.6)
    amps.tick()
    assert amps.states() == {"a": False, "b": False}
    history = relay_history(store)
    assert [(h["zone"], h["state"]) for h in reversed(history)] == [("a", True), ("b", True), ("b", False), ("a", False)]
    assert [e["on"] for e in events if e["type"] == "relay"] == [True, True, False, False]


def test_adjacent_item_keeps_zone_on(rig) -> None:
    amps, _, clock, store, _ = rig
    amps.acquire(["a"], "p1", "warm-up")
    amps.release(["a"], "p1", "done")
    clock.advance(0.5)
    assert amps.acquire(["a"], "p2", "warm-up") == []   # still on: no second switch, no warm-up
    clock.advance(5)
    amps.tick()
    assert amps.states()["a"] is True
    assert len(relay_history(store, zone="a")) == 1


def test_two_owners_hold_until_both_release(rig) -> None:
    amps, _, clock, _, _ = rig
    amps.acquire(["a"], "p1", "x")
    amps.acquire(["a"], "emergency", "x")
    amps.release(["a"], "p1", "x", immediate=True)
    assert amps.states()["a"] is True
    amps.release(["a"], "emergency", "x", immediate=True)
    assert amps.states()["a"] is False


def test_watchdog_switches_off_and_reports(rig) -> None:
    amps, _, clock, store, events = rig
    amps.acquire(["a"], "stuck", "x")
    clock.advance(119)
    amps.tick()
    assert amps.states()["a"] is True
    clock.advance(2)
    amps.tick()
    assert amps.states()["a"] is False
    assert amps.status()["a"]["watchdog_tripped"] is True
    assert any(e["type"] == "relay_watchdog" and e["zone"] == "a" for e in events)
    assert store.recent_events(level="error")[0]["kind"] == "relay.watchdog"


def test_fault_input_and_all_off(rig) -> None:
    amps, factory, *_ = rig
    assert amps.faults() == {"a": False, "b": None}
    factory.pin(5).drive_low()   # the amplifier pulls its fault line low
    assert amps.faults()["a"] is True
    amps.acquire(["a", "b"], "p", "x")
    amps.all_off("SIGTERM")
    assert amps.states() == {"a": False, "b": False}
    assert factory.pin(17).state is True


def test_unknown_zone_ignored_and_busy_pin_is_a_hardware_error(tmp_path: Path) -> None:
    from appliance.errors import HardwareError

    factory = MockFactory()
    first = Amplifiers(ZONES, pin_factory=factory)
    assert first.acquire(["nope"], "p", "x") == []
    with pytest.raises(HardwareError) as err:
        Amplifiers(ZONES, pin_factory=factory)
    assert err.value.en and err.value.vi
    first.close()


def test_a_watchdog_trip_stays_tripped_until_the_session_ends_or_an_operator_resets_it(rig) -> None:
    """Issue 16, fault 1: the planner re-acquired the on-air zone and acquiring cleared the trip."""
    amps, _, clock, store, events = rig
    amps.acquire(["a"], "play:relay@1", "warm-up")
    amps.acquire(["a"], "plan", "on air")
    clock.advance(121)
    amps.tick()
    assert amps.states()["a"] is False and amps.status()["a"]["watchdog_tripped"] is True
    # The planner keeps asking for the on-air zone: it stays off.
    assert amps.acquire(["a"], "plan", "on air") == []
    assert amps.acquire(["a"], "play:relay@1", "retry") == []
    clock.advance(30)
    amps.tick()
    assert amps.states()["a"] is False and amps.status()["a"]["watchdog_tripped"] is True
    # The session ends: the trip is over, the next broadcast may use the zone.
    amps.session_ended(["a"], "play:relay@1")
    assert amps.status()["a"]["watchdog_tripped"] is False
    assert amps.acquire(["a"], "play:next@2", "warm-up") == ["a"]
    clock.advance(121)
    amps.tick()
    assert amps.states()["a"] is False
    # An operator reset clears it too, and is logged.
    assert amps.reset_watchdog(["a"], actor="cli:root") == ["a"]
    assert amps.status()["a"]["watchdog_tripped"] is False
    assert store.recent_events(1)[0]["kind"] == "relay.watchdog_reset"
