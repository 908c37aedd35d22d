"""The station's branches of the exception hierarchy (base: ``protocol.errors``)."""

from __future__ import annotations

from protocol.errors import CommuneRadioError


class ScheduleError(CommuneRadioError):
    """A slot or recurrence is refused (too frequent, too long, malformed)."""

    code = "schedule_invalid"


class ClockUntrusted(CommuneRadioError):
    """Scheduled playback is held until the clock is trusted."""

    code = "clock_untrusted"


class HardwareError(CommuneRadioError):
    """GPIO relays or fault inputs could not be driven or read."""

    code = "hardware"


class ControlError(CommuneRadioError):
    """The daemon's control channel refused or could not carry a request."""

    code = "control"
