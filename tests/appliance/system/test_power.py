"""The power facts the station reads: the firmware's get_throttled word decoded, its sources (the
kernel's file, vcgencmd, a file a test writes), and the mains-sense input on gpiozero mock pins."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory

from appliance.errors import HardwareError
from appliance.system.power import (
    FileFlags,
    MainsSense,
    PowerState,
    VcgencmdFlags,
    decode_throttled,
    flags_source,
    parse_throttled,
    problems_of,
)


def test_the_bits_of_get_throttled_are_named() -> None:
    flags = decode_throttled(0x50005)   # the classic weak-supply reading: under-voltage + throttled, now and since boot
    assert flags.under_voltage and flags.throttled and not flags.freq_capped and not flags.soft_temp_limit
    assert flags.under_voltage_since_boot and flags.throttled_since_boot
    assert not flags.freq_capped_since_boot and not flags.soft_temp_limit_since_boot
    assert flags.slowed and flags.as_dict()["hex"] == "0x50005"
    earlier = decode_throttled(0x10000)   # under-voltage happened, over now
    assert not earlier.under_voltage and earlier.under_voltage_since_boot and not earlier.slowed
    assert decode_throttled(0x2).freq_capped and decode_throttled(0x2).slowed
    assert decode_throttled(0x8).soft_temp_limit and decode_throttled(0x8).slowed
    assert decode_throttled(0x80000).soft_temp_limit_since_boot and decode_throttled(0x20000).freq_capped_since_boot
    clean = decode_throttled(0)
    assert not any(v for k, v in clean.as_dict().items() if k not in ("raw", "hex"))
    with pytest.raises(ValueError):
        decode_throttled(1 << 32)


@pytest.mark.parametrize(("text", "raw"), [("throttled=0x50005\n", 0x50005), ("50005\n", 0x50005),
                                           ("0x0", 0), ("throttled=0x0", 0), ("  e0008 ", 0xE0008)])
def test_every_way_the_word_is_written_is_read(text: str, raw: int) -> None:
    assert parse_throttled(text) == raw


@pytest.mark.parametrize("text", ["", "throttled=", "hello", "0x123456789", "throttled=0xZZ", "-1"])
def test_garbage_is_a_clear_error(text: str) -> None:
    with pytest.raises(HardwareError) as err:
        parse_throttled(text)
    assert err.value.code == "power.flags_unreadable" and "cờ nguồn điện" in err.value.vi


def test_a_flags_file_is_read_each_time(tmp_path: Path) -> None:
    path = tmp_path / "get_throttled"
    path.write_text("throttled=0x0\n")
    source = FileFlags(path)
    assert source.read() == 0
    path.write_text("throttled=0x50005\n")
    assert source.read() == 0x50005
    path.unlink()
    with pytest.raises(HardwareError) as err:
        source.read()
    assert str(path) in err.value.en


def _fake_vcgencmd(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "vcgencmd"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_vcgencmd_is_asked_for_get_throttled(tmp_path: Path) -> None:
    script = _fake_vcgencmd(tmp_path, '[ "$1" = get_throttled ] && echo "throttled=0x50000" && exit 0\nexit 3\n')
    assert VcgencmdFlags(str(script)).read() == 0x50000
    failing = _fake_vcgencmd(tmp_path, 'echo "VCHI initialization failed" >&2\nexit 255\n')
    with pytest.raises(HardwareError) as err:
        VcgencmdFlags(str(failing)).read()
    assert "VCHI" in err.value.en
    with pytest.raises(HardwareError):
        VcgencmdFlags(str(tmp_path / "missing")).read()


def test_the_source_is_chosen_from_the_setting(tmp_path: Path) -> None:
    assert flags_source("off") is None
    assert isinstance(flags_source("vcgencmd"), VcgencmdFlags)
    named = flags_source(str(tmp_path / "flags"))
    assert isinstance(named, FileFlags) and named.path == tmp_path / "flags"
    sysfs = tmp_path / "get_throttled"
    sysfs.write_text("0\n")
    auto = flags_source("auto", sysfs=sysfs, which=lambda _: None)
    assert isinstance(auto, FileFlags) and auto.path == sysfs
    script = _fake_vcgencmd(tmp_path, "echo throttled=0x0\n")
    found = flags_source("auto", sysfs=tmp_path / "absent", which=lambda _: str(script))
    assert isinstance(found, VcgencmdFlags) and found.read() == 0
    assert flags_source("auto", sysfs=tmp_path / "absent", which=lambda _: None) is None   # off a Pi: no flags


@pytest.mark.parametrize("level", ["low", "high"])
def test_mains_sense_on_mock_pins_and_a_broken_wire_reads_lost(level: str) -> None:
    factory = MockFactory()
    device = DigitalInputDevice(5, pull_up=MainsSense.pull_up_for(level), pin_factory=factory)
    sense = MainsSense(device, pin=5, present_level=level)
    pin = factory.pin(5)
    # Nothing drives the input (a broken wire, an unplugged opto): the pull makes it read "lost".
    assert sense.present() is False
    if level == "low":
        pin.drive_low()    # the opto-isolator conducts while mains is there
    else:
        pin.drive_high()
    assert sense.present() is True
    if level == "low":
        pin.drive_high()
    else:
        pin.drive_low()
    assert sense.present() is False
    sense.close()


def test_an_input_that_cannot_be_read_is_a_hardware_error() -> None:
    class Broken:
        @property
        def is_active(self) -> bool:
            raise OSError("gpiochip gone")

        def close(self) -> None:
            pass

    with pytest.raises(HardwareError) as err:
        MainsSense(Broken(), pin=5, present_level="low").present()
    assert err.value.code == "power.sense_unreadable" and "GPIO5" in err.value.vi


def test_problems_name_what_is_going_on_in_both_languages() -> None:
    assert problems_of(PowerState("present", decode_throttled(0x10000))) == []
    codes = problems_of(PowerState("lost", decode_throttled(0x50005)))
    assert [c for c, _, _ in codes] == ["power.on_battery", "power.under_voltage", "power.throttled"]
    assert "ắc quy" in codes[0][1] and "battery" in codes[0][2]
    assert problems_of(PowerState("unknown", None)) == []

