"""How much slower than real hardware the machine running the tests is.

A few end-to-end tests give the station a real-time lead (seconds until a slot starts, how long
the demo runs) sized for a Raspberry Pi or a CI machine. Under qemu-user emulation
(install/arm-check.sh) the same work takes 5-20 times longer, so the check sets
COMMUNE_RADIO_TEST_SLOWDOWN and those leads grow by that factor. The tolerances the tests assert
(a slot starts within 1 s of its time, the captured audio is there) never change.
"""

from __future__ import annotations

import os


def slowdown() -> float:
    """The factor from COMMUNE_RADIO_TEST_SLOWDOWN (at least 1; 1 when unset or not a number)."""
    try:
        return max(1.0, float(os.environ.get("COMMUNE_RADIO_TEST_SLOWDOWN", "1")))
    except ValueError:
        return 1.0


def lead_s(seconds: float) -> float:
    """A real-time lead of ``seconds`` on real hardware, stretched on a slower machine."""
    return seconds * slowdown()
