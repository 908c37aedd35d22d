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
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from appliance.commands import load_config

RESTART_EXIT_CODE = 75   # EX_TEMPFAIL: systemd's Restart= brings the daemon back


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", action="store_true",
                        help="in sự kiện (rơ-le, phát) dạng JSON / print relay and play events as JSON lines")
    parser.add_argument("--no-sync", action="store_true", help="không đồng bộ với trung tâm / do not sync with central")


def run(args: argparse.Namespace) -> int:
    from appliance.daemon import Daemon
    from appliance.system.sdnotify import Notifier, watchdog_interval_s

    config = load_config(args)
    # The journal gets warnings and errors, each with where it came from.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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

    exit_code = 0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    notifier = Notifier()
    try:
        daemon.start()
        notifier.ready("Sẵn sàng / ready")
        interval = watchdog_interval_s()
        beat = interval if interval else 5.0
        was_healthy = True
        while not stop.wait(beat):
            if daemon.restart_requested.is_set():
                exit_code = RESTART_EXIT_CODE
                break
            # The watchdog is fed only while the scheduler and player threads are alive: a wedged
            # thread lets systemd kill and restart us (and ExecStopPost switches the relays off).
            healthy = daemon.healthy()
            if interval and healthy:
                notifier.watchdog()
            if healthy != was_healthy:
                notifier.status("Sẵn sàng / ready" if healthy else
                                "Luồng bị treo / wedged: " + ", ".join(daemon.wedged_threads() or ["?"]))
                was_healthy = healthy
    except BaseException:
        daemon.emergency_off("daemon crashed")
        raise
    finally:
        notifier.stopping("Đang dừng / stopping")
        daemon.stop("signal " + received[0] if received else
                    "restarting to replace a damaged database" if exit_code else "daemon stopping")
    return exit_code
