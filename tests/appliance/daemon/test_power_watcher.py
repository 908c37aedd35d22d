"""The daemon's power watcher on a real store, gpiozero mock pins and a fake firmware flags file:
each change is one durable event and a problem while it lasts; a chattering contact is not a
string of events; a restart on battery is not a second "mains lost"."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.daemon.power import PowerWatcher
from appliance.daemon.problems import Problems
from appliance.state.config import PowerConfig
from appliance.state.store import Store
from appliance.system.clock import SystemClock

PIN = 6


@dataclasses.dataclass
class Station:
    store: Store
    factory: MockFactory
    flags: Path
    problems: Problems
    emitted: list[dict[str, Any]]
    woken: list[int]
    watcher: PowerWatcher

    def mains(self, present: bool) -> None:
        pin = self.factory.pin(PIN)
        pin.drive_low() if present else pin.drive_high()   # opto to ground while mains is there

    def kinds(self) -> list[str]:
        return [e["kind"] for e in reversed(self.store.recent_events(100)) if e["kind"].startswith("power.")]


def make(tmp_path: Path, *, store: Store | None = None, factory: MockFactory | None = None,
         policy: str = "keep_all", mains_pin: int = PIN) -> Station:
    store = store or Store.open(tmp_path / "state.sqlite3")
    factory = factory or MockFactory()
    flags = tmp_path / "get_throttled"
    if not flags.exists():
        flags.write_text("throttled=0x0\n")
    problems = Problems()
    emitted: list[dict[str, Any]] = []
    woken: list[int] = []
    config = PowerConfig(mains_pin=mains_pin, throttled_source=str(flags), poll_s=0.2, battery_policy=policy)
    watcher = PowerWatcher(config, store=store, clock=SystemClock(), problems=problems, emit=emitted.append,
                           wake=lambda: woken.append(1), pin_factory=factory)
    watcher.open()
    return Station(store, factory, flags, problems, emitted, woken, watcher)


@pytest.fixture()
def station(tmp_path: Path):
    made = make(tmp_path)
    made.mains(True)
    yield made
    made.watcher.close()
    made.store.close()


def test_mains_lost_and_restored_are_events_problems_and_wake_the_planner(station: Station) -> None:
    station.watcher.poll()
    assert station.kinds() == [] and not station.watcher.on_battery()
    assert station.watcher.status()["mains"] == "present"
    station.mains(False)
    station.watcher.poll()
    assert not station.watcher.on_battery(), "one reading is not enough: a contact may chatter"
    station.watcher.poll()
    assert station.watcher.on_battery() and station.kinds() == ["power.mains_lost"]
    assert station.problems.codes() == ["power.on_battery"] and station.woken
    status = station.watcher.status()
    assert status["mains"] == "lost" and status["on_battery"] and status["since"] and not status["saving_battery"]
    assert station.emitted[-1]["type"] == "power" and station.emitted[-1]["mains"] == "lost"
    [event] = [e for e in station.store.recent_events(10) if e["kind"] == "power.mains_lost"]
    assert event["level"] == "warning" and "Mất điện lưới" in event["data"]["vi"]
    station.mains(True)
    station.watcher.poll()
    station.watcher.poll()
    assert not station.watcher.on_battery() and station.problems.codes() == []
    assert station.kinds() == ["power.mains_lost", "power.mains_restored"]
    restored = station.store.recent_events(1)[0]
    assert restored["data"]["on_battery_since"] == status["since"]


def test_a_chattering_contact_is_not_a_string_of_events(station: Station) -> None:
    station.watcher.poll()
    for _ in range(10):
        station.mains(False)
        station.watcher.poll()
        station.mains(True)
        station.watcher.poll()
    assert station.kinds() == [] and not station.watcher.on_battery()


def test_under_voltage_and_throttling_from_the_firmware_flags(station: Station) -> None:
    station.watcher.poll()
    station.flags.write_text("throttled=0x50005\n")
    station.watcher.poll()
    assert station.kinds() == ["power.under_voltage", "power.throttled"]
    assert set(station.problems.codes()) == {"power.under_voltage", "power.throttled"}
    status = station.watcher.status()
    assert status["under_voltage"] and status["throttled"] and status["flags"]["hex"] == "0x50005"
    station.watcher.poll()
    assert len(station.kinds()) == 2, "a state that lasts is not logged again"
    station.flags.write_text("throttled=0x50000\n")
    station.watcher.poll()
    assert station.kinds()[-2:] == ["power.under_voltage_over", "power.throttled_over"]
    assert station.problems.codes() == []


def test_an_unreadable_flags_source_is_a_problem_then_recovers(station: Station) -> None:
    station.flags.write_text("garbage")
    station.watcher.poll()
    station.watcher.poll()
    assert station.problems.codes() == ["power.flags_unreadable"]
    assert station.kinds() == ["power.flags_unreadable"]
    station.flags.write_text("0\n")
    station.watcher.poll()
    assert station.problems.codes() == [] and station.kinds()[-1] == "power.flags_readable"


def test_under_voltage_since_boot_is_reported_once_per_boot(tmp_path: Path) -> None:
    (tmp_path / "get_throttled").write_text("throttled=0x50000\n")
    first = make(tmp_path)
    first.mains(True)
    first.watcher.poll()
    first.watcher.poll()
    assert first.kinds() == ["power.under_voltage_since_boot"]
    first.watcher.close()
    again = make(tmp_path, store=first.store)    # the daemon restarted, same boot
    again.mains(True)
    again.watcher.poll()
    assert again.kinds() == ["power.under_voltage_since_boot"]
    again.watcher.close()
    first.store.close()


def test_a_restart_on_battery_is_not_a_second_mains_lost(tmp_path: Path) -> None:
    first = make(tmp_path)
    first.mains(False)
    first.watcher.poll()
    assert first.kinds() == ["power.mains_lost"]
    since = first.watcher.status()["since"]
    first.watcher.close()
    factory = MockFactory()
    again = make(tmp_path, store=first.store, factory=factory)
    again.mains(False)
    again.watcher.poll()
    assert again.kinds() == ["power.mains_lost"] and again.watcher.on_battery()
    assert again.watcher.status()["since"] == since, "on battery since the first loss, not the restart"
    assert again.problems.codes() == ["power.on_battery"]
    again.mains(True)
    again.watcher.poll()
    again.watcher.poll()
    assert again.kinds() == ["power.mains_lost", "power.mains_restored"]
    again.watcher.close()
    first.store.close()


def test_without_a_sense_input_mains_is_unknown_never_on_battery(tmp_path: Path) -> None:
    made = make(tmp_path, mains_pin=-1)
    made.watcher.poll()
    status = made.watcher.status()
    assert status["mains"] == "unknown" and status["since"] is None and status["mains_sense"] is None
    assert not made.watcher.on_battery() and made.kinds() == []
    made.store.close()


def test_a_pin_that_cannot_be_opened_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    factory = MockFactory()
    from gpiozero import DigitalInputDevice

    holder = DigitalInputDevice(PIN, pin_factory=factory)   # someone else holds the pin
    made = make(tmp_path, factory=factory)
    assert "power.sense_unreadable" in made.problems.codes()
    assert made.watcher.poll().mains == "unknown"
    holder.close()
    made.store.close()


def test_saving_battery_is_shown_with_the_policy(tmp_path: Path) -> None:
    made = make(tmp_path, policy="emergency_and_priority")
    made.mains(False)
    made.watcher.poll()
    status = made.watcher.status()
    assert status["saving_battery"] and status["battery_policy"] == "emergency_and_priority"
    [event] = [e for e in made.store.recent_events(5) if e["kind"] == "power.mains_lost"]
    assert event["data"]["policy"] == "emergency_and_priority"
    made.watcher.close()
    made.store.close()
