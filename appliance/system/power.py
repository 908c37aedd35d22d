"""The power the station runs on: the Pi firmware's under-voltage and throttling flags, and the
mains-sense input, behind small interfaces.

``decode_throttled`` is pure: the bits of ``get_throttled`` (Raspberry Pi firmware) as named facts.
``FirmwareFlags`` reads them from the kernel's ``get_throttled`` file, from ``vcgencmd
get_throttled`` or from a file a test (or a UPS helper) writes. ``MainsSense`` turns a digital
input (gpiozero's ``DigitalInputDevice``, opened by the daemon, the only owner of GPIO) into
"mains present / lost". ``PowerState`` is one reading of both; ``problems`` names what is going
on now in the operator's two languages.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from appliance.errors import HardwareError

# The Pi kernel's firmware driver exposes the same word as `vcgencmd get_throttled`.
SYSFS_THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
VCGENCMD_TIMEOUT_S = 5.0

UNDER_VOLTAGE = 1 << 0
FREQ_CAPPED = 1 << 1
THROTTLED = 1 << 2
SOFT_TEMP_LIMIT = 1 << 3
SINCE_BOOT_SHIFT = 16
KNOWN_BITS = 0xF | (0xF << SINCE_BOOT_SHIFT)

_FLAGS_RE = re.compile(r"^\s*(?:throttled\s*=\s*)?(0x[0-9a-fA-F]{1,8}|[0-9a-fA-F]{1,8})\s*$")


@dataclasses.dataclass(frozen=True)
class ThrottledFlags:
    """The firmware's word: what holds now, and what happened since boot."""

    raw: int
    under_voltage: bool
    freq_capped: bool
    throttled: bool
    soft_temp_limit: bool
    under_voltage_since_boot: bool
    freq_capped_since_boot: bool
    throttled_since_boot: bool
    soft_temp_limit_since_boot: bool

    @property
    def slowed(self) -> bool:
        """The CPU is slowed now (throttled, frequency capped or at the soft temperature limit)."""
        return self.throttled or self.freq_capped or self.soft_temp_limit

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"hex": f"0x{self.raw:x}", "slowed": self.slowed}


def decode_throttled(raw: int) -> ThrottledFlags:
    """Name the bits of ``get_throttled`` (0-3: now; 16-19: since boot)."""
    if not 0 <= raw <= 0xFFFFFFFF:
        raise ValueError(f"get_throttled is a 32-bit word, not {raw}")
    since = raw >> SINCE_BOOT_SHIFT
    return ThrottledFlags(
        raw=raw, under_voltage=bool(raw & UNDER_VOLTAGE), freq_capped=bool(raw & FREQ_CAPPED),
        throttled=bool(raw & THROTTLED), soft_temp_limit=bool(raw & SOFT_TEMP_LIMIT),
        under_voltage_since_boot=bool(since & UNDER_VOLTAGE), freq_capped_since_boot=bool(since & FREQ_CAPPED),
        throttled_since_boot=bool(since & THROTTLED), soft_temp_limit_since_boot=bool(since & SOFT_TEMP_LIMIT))


def parse_throttled(text: str) -> int:
    """``throttled=0x50005`` (vcgencmd), ``50005`` (the kernel's file, hex) or ``0x50005``."""
    match = _FLAGS_RE.match(text)
    if match is None:
        raise HardwareError(f"Không đọc được cờ nguồn điện của Pi: '{text.strip()[:40]}'.",
                            f"Cannot read the Pi's power flags: '{text.strip()[:40]}'.", code="power.flags_unreadable")
    return int(match.group(1), 16)


class FlagsSource(Protocol):
    name: str

    def read(self) -> int: ...


class FileFlags:
    """A file holding the word: the kernel's ``get_throttled``, or one a test or UPS helper writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    def read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise HardwareError(f"Không đọc được cờ nguồn điện từ {self.path}: {exc.strerror}.",
                                f"Cannot read the power flags from {self.path}: {exc.strerror}.",
                                code="power.flags_unreadable") from None
        return parse_throttled(text)


class VcgencmdFlags:
    """``vcgencmd get_throttled`` (Raspberry Pi OS's firmware tool)."""

    name = "vcgencmd"

    def __init__(self, command: str = "vcgencmd") -> None:
        self.command = command

    def read(self) -> int:
        try:
            done = subprocess.run([self.command, "get_throttled"], capture_output=True, text=True,
                                  timeout=VCGENCMD_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HardwareError(f"Không chạy được vcgencmd: {exc}.", f"Cannot run vcgencmd: {exc}.",
                                code="power.flags_unreadable") from None
        if done.returncode != 0:
            raise HardwareError(f"vcgencmd báo lỗi: {done.stderr.strip()[:100]}",
                                f"vcgencmd failed: {done.stderr.strip()[:100]}", code="power.flags_unreadable")
        return parse_throttled(done.stdout)


def flags_source(setting: str, *, sysfs: Path = SYSFS_THROTTLED,
                 which: Callable[[str], str | None] = shutil.which) -> FlagsSource | None:
    """The source ``power.throttled_source`` names; None for "off", or for "auto" off a Pi."""
    if setting == "off":
        return None
    if setting == "vcgencmd":
        return VcgencmdFlags()
    if setting != "auto":
        return FileFlags(Path(setting))
    if os.access(sysfs, os.R_OK):
        return FileFlags(sysfs)
    command = which("vcgencmd")
    return VcgencmdFlags(command) if command else None


class InputLike(Protocol):
    """What ``MainsSense`` needs of a digital input (gpiozero's ``DigitalInputDevice``)."""

    @property
    def is_active(self) -> bool: ...

    def close(self) -> None: ...


class MainsSense:
    """Mains present or lost, from an input that is active while mains is there.

    The daemon opens the input with the pull that makes a broken wire read "lost": pulled up
    when mains pulls the pin low (``present_level`` "low", an opto-isolator or a relay contact
    to ground), pulled down when mains drives it high.
    """

    def __init__(self, device: InputLike, *, pin: int, present_level: str) -> None:
        self.device = device
        self.pin = pin
        self.present_level = present_level

    @staticmethod
    def pull_up_for(present_level: str) -> bool:
        return present_level == "low"

    def present(self) -> bool:
        try:
            return bool(self.device.is_active)
        except Exception as exc:  # gpiozero raises many kinds: all mean "cannot read"
            raise HardwareError(f"Không đọc được chân báo điện lưới GPIO{self.pin}: {exc}.",
                                f"Cannot read the mains-sense input GPIO{self.pin}: {exc}.",
                                code="power.sense_unreadable") from None

    def close(self) -> None:
        self.device.close()


@dataclasses.dataclass(frozen=True)
class PowerState:
    """One reading: mains ("present", "lost", or "unknown" without a sense input) and the flags."""

    mains: str
    flags: ThrottledFlags | None

    @property
    def on_battery(self) -> bool:
        return self.mains == "lost"

    @property
    def under_voltage(self) -> bool:
        return self.flags is not None and self.flags.under_voltage

    @property
    def slowed(self) -> bool:
        return self.flags is not None and self.flags.slowed


def problems_of(state: PowerState) -> list[tuple[str, str, str]]:
    """(code, vi, en) of what is going on now: on battery, under-voltage, CPU slowed."""
    found: list[tuple[str, str, str]] = []
    if state.on_battery:
        found.append(("power.on_battery",
                      "Mất điện lưới: trạm đang chạy bằng ắc quy dự phòng.",
                      "Mains lost: the station runs on its backup battery."))
    if state.under_voltage:
        found.append(("power.under_voltage",
                      "Điện áp cấp cho Pi quá thấp (sụt áp): kiểm tra bộ nguồn và dây cấp, thẻ nhớ có thể hỏng.",
                      "The Pi's supply voltage is too low (under-voltage): check the power supply and cable; "
                      "the SD card may be corrupted."))
    if state.slowed:
        found.append(("power.throttled",
                      "Pi đang bị giảm tốc độ (quá nhiệt hoặc nguồn yếu).",
                      "The Pi is slowed down (too hot or a weak supply)."))
    return found
