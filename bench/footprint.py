"""Benchmark: the daemon's footprint on a station (start-up, CPU, memory, SD-card writes).

Starts ``commune-radio run`` as a real subprocess under a notify-socket harness (as systemd
would: NOTIFY_SOCKET + WATCHDOG_USEC), with gpiozero mock pins and the capture output, and
measures from /proc/<pid>:

- ready_s: process start to READY=1;
- idle CPU (%) and resident memory (MB) over the idle window;
- bytes written to storage (/proc/<pid>/io write_bytes) over the idle window, extrapolated
  to an hour (target: at most 1 MB/hour); default window 10 minutes (``--minutes``);
- with ``--broadcast``: bytes written for one emergency text broadcast (TTS, preparation,
  play log), reported without the capture WAV (a Pi's ALSA output writes no file).

Run: .venv/bin/python bench/footprint.py [--minutes 10] [--broadcast]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.system import procstats  # noqa: E402
from tests.support.daemon_proc import DaemonProcess  # noqa: E402

TEXT = ("Thông báo của Ủy ban nhân dân xã: sáng mai lúc bảy giờ, tiêm chủng mở rộng cho trẻ em "
        "dưới năm tuổi tại trạm y tế xã. Đề nghị các gia đình đưa trẻ đến đúng giờ.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="idle window (default 10)")
    parser.add_argument("--broadcast", action="store_true", help="also measure one emergency broadcast")
    parser.add_argument("--no-central", action="store_true",
                        help="idle without sync (default: sync every 300 s with a reference central on loopback)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp, \
            tempfile.TemporaryDirectory(prefix="footprint-run-", dir="/dev/shm") as run_dir:
        central = None
        env = {"TMPDIR": run_dir}   # as the unit does: TMPDIR on the RuntimeDirectory (RAM)
        extra = ""
        if not args.no_central:
            from central.app import create_app
            from central.loopback import serve_in_thread

            central = serve_in_thread(create_app(Path(tmp) / "central"))
            env["COMMUNE_RADIO_DEVICE_TOKEN"] = central.catalog.add_device("00000-harness", ["a", "b"])
            env["COMMUNE_RADIO_CENTRAL_PUBLIC_KEY"] = central.catalog.public_key_b64
            extra = f'\n[central]\nurl = "{central.url}"\n'
        d = DaemonProcess(Path(tmp) / "station", watchdog_usec=30_000_000, extra_env=env, sync=central is not None,
                          config_extra=extra)
        try:
            assert d.notify is not None
            ready_t = d.notify.wait_for(lambda f: f == "READY=1", timeout=180)
            ready_s = ready_t - d.started_at
            pid = d.proc.pid
            time.sleep(5)  # let start-up writes (migrations, first checkpoint) settle out of the window
            io0, cpu0, t0 = procstats.io_counters(pid), procstats.cpu_seconds(pid), time.monotonic()
            window_s = args.minutes * 60
            rss_max = 0
            while time.monotonic() - t0 < window_s:
                time.sleep(min(10.0, window_s - (time.monotonic() - t0)) if window_s > 0 else 0)
                rss_max = max(rss_max, procstats.rss_bytes(pid) or 0)
                if d.proc.poll() is not None:
                    raise SystemExit("daemon exited during the idle window:\n" + d.stderr[-2000:])
            io1, cpu1, t1 = procstats.io_counters(pid), procstats.cpu_seconds(pid), time.monotonic()
            elapsed = t1 - t0
            written = io1["write_bytes"] - io0["write_bytes"]
            syscw = io1["syscw"] - io0["syscw"]
            per_hour_kb = written / elapsed * 3600 / 1024
            cpu_pct = (cpu1 - cpu0) / elapsed * 100
            rss_mb = rss_max / 1e6
            watchdogs = sum(1 for t, f in d.notify.fields() if f == "WATCHDOG=1" and t >= t0)

            broadcast_kb = None
            if args.broadcast:
                before = procstats.io_counters(pid)["write_bytes"]
                d.cli("emergency", TEXT)
                d.wait_event(lambda e: e.get("type") == "play_end", timeout=300)
                time.sleep(2)
                after = procstats.io_counters(pid)["write_bytes"]
                capture = sum(p.stat().st_size for p in (Path(tmp) / "station/data/capture").glob("*.wav"))
                broadcast_kb = (after - before - capture) / 1024
        finally:
            d.terminate()
            d.close()
            if central is not None:
                central.stop()
                central.catalog.close()

    rows = [
        ("start to READY=1", f"{ready_s:.2f} s", ""),
        ("idle window", f"{elapsed / 60:.1f} min",
         f"{watchdogs} WATCHDOG=1 sent; sync {'every 300 s' if not args.no_central else 'off'}"),
        ("idle CPU", f"{cpu_pct:.2f} %", "user+system, all threads"),
        ("resident memory (max)", f"{rss_mb:.1f} MB", ""),
        ("bytes written, idle", f"{written} B", f"{syscw} write() calls"),
        ("written per idle hour", f"{per_hour_kb:.1f} KB", "target <= 1024 KB"),
    ]
    if broadcast_kb is not None:
        rows.append(("written per broadcast", f"{broadcast_kb:.1f} KB", "excluding the capture WAV"))
    width = max(len(r[0]) for r in rows)
    print(f"daemon footprint (pid {pid}, {os.cpu_count()} CPUs)")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")
    extra = f" writes_per_broadcast_kb={broadcast_kb:.1f}" if broadcast_kb is not None else ""
    print(f"RESULT ready_s={ready_s:.2f} idle_cpu_pct={cpu_pct:.2f} rss_mb={rss_mb:.1f} "
          f"writes_per_idle_hour_kb={per_hour_kb:.1f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
