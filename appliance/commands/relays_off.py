"""``commune-radio relays-off``: switch every configured relay off directly, with no daemon.

systemd's ``ExecStopPost=`` runs this after the daemon stops (or crashes), so the horns are
never left on. It must work with a broken database and without the control socket: it
reads only the configuration and drives the pins through gpiozero.
"""

from __future__ import annotations

import argparse

from appliance.commands import load_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mock", action="store_true",
                        help="dùng chân GPIO giả (thử nghiệm) / use gpiozero's mock pins (testing)")


def run(args: argparse.Namespace) -> int:
    from gpiozero import OutputDevice

    from appliance.broadcast.amplifiers import default_pin_factory
    from appliance.errors import HardwareError

    config = load_config(args)
    if args.mock:
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    else:
        factory = default_pin_factory()
    failed: list[str] = []
    held: list[object] = []
    for zone in config.zones:
        try:
            # initial_value=False drives the pin to the relay's off level at once (active-low aware).
            device = OutputDevice(zone.relay_pin, active_high=zone.active_high, initial_value=False,
                                  pin_factory=factory)
            device.off()
        except Exception as exc:  # keep going: the other zones must still go off
            failed.append(f"{zone.name} (GPIO{zone.relay_pin}): {exc}")
            continue
        # Keep the device referenced until exit: a collected device is closed and its pin floats.
        held.append(device)
        off = "relay off" if args.lang == "en" else "đã tắt rơ-le"
        print(f"{zone.name}: {off} (GPIO{zone.relay_pin}, active_high={zone.active_high})")
    if failed:
        raise HardwareError("Không tắt được rơ-le: " + "; ".join(failed),
                            "Could not switch relays off: " + "; ".join(failed))
    return 0
