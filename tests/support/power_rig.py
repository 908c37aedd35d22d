"""Power tests' hardware: a gpiozero mock pin that an outside circuit drives (the mains-sense
opto-isolator or relay contact), and the fake firmware flags file."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPin

MAINS_PIN = 22


class DrivenPin(MockPin):
    """A mock input pin wired to an outside circuit: once the circuit drives it, the weak internal
    pull set when the daemon opens the input does not override that level (as on a real board)."""

    def __init__(self, factory: MockFactory, info: object) -> None:
        super().__init__(factory, info)
        self.driven: bool | None = None

    def drive(self, high: bool) -> None:
        self.driven = high
        if high:
            self.drive_high()
        else:
            self.drive_low()

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.driven is not None:
            self.drive(self.driven)


def mains_wired(factory: MockFactory, *, present: bool, pin: int = MAINS_PIN) -> DrivenPin:
    """The sense input, with mains present (opto conducting: low) or lost (high)."""
    driven = factory.pin(pin, pin_class=DrivenPin)
    assert isinstance(driven, DrivenPin)
    driven.drive(not present)
    return driven


def flags_file(directory: Path, word: int = 0) -> Path:
    """The firmware's get_throttled word as `vcgencmd get_throttled` prints it."""
    path = directory / "get_throttled"
    set_flags(path, word)
    return path


def set_flags(path: Path, word: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"throttled=0x{word:x}\n")
    tmp.replace(path)
