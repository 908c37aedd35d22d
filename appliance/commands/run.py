"""``commune-radio run``: the daemon in the foreground (systemd runs it as ``Type=notify``).

SIGTERM and SIGINT switch every relay off first, then stop the daemon cleanly. Off a
Raspberry Pi the relays are gpiozero mock pins and, without a sound card, audio goes to
WAV files in the capture folder. ``--events`` prints relay switches and plays as they
happen (one JSON object per line), for the demo and for tests.

``COMMUNE_RADIO_TIMESYNC_FLAG`` points clock trust at another "synchronized" flag file than
``/run/systemd/timesync/synchronized`` (containers, tests).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from appliance.commands import load_config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", action="store_true",
                        help="in sự kiện (rơ-le, phát) dạng JSON / print relay and play events as JSON lines")
    parser.add_argument("--no-sync", action="store_true", help="không đồng bộ với trung tâm / do not sync with central")


def _sd_notify(message: str) -> None:
    """A few lines of stdlib instead of sdnotify (which drops non-ASCII STATUS text)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        pass


def run(args: argparse.Namespace) -> int:
    from appliance.daemon import Daemon

    config = load_config(args)
    flag = os.environ.get("COMMUNE_RADIO_TIMESYNC_FLAG")
    lock = threading.Lock()

    def print_event(event: dict[str, Any]) -> None:
        with lock:
            sys.stdout.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()

    daemon = Daemon(config, listener=print_event if args.events else None, sync=not args.no_sync,
                    timesync_flag=Path(flag) if flag else None)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        # Relays off first, from the signal handler itself: nothing may delay it.
        daemon.emergency_off(f"signal {signal.Signals(signum).name}")
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        daemon.start()
        _sd_notify("READY=1\nSTATUS=ready")
        watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        beat = watchdog_usec / 2e6 if watchdog_usec else 5.0
        while not stop.wait(beat):
            # The watchdog is fed only while the scheduler and every worker thread are alive.
            if watchdog_usec and daemon.healthy():
                _sd_notify("WATCHDOG=1")
    except BaseException:
        daemon.emergency_off("daemon crashed")
        raise
    finally:
        _sd_notify("STOPPING=1")
        daemon.stop("signal " + received[0] if received else "daemon stopping")
    return 0
