"""systemd notify protocol: the stdlib notifier, and the real daemon under a notify-socket harness.

The daemon runs as a subprocess with ``NOTIFY_SOCKET`` pointing at a datagram socket the test
owns and ``WATCHDOG_USEC`` set, as under systemd. READY arrives with Vietnamese STATUS text
intact; WATCHDOG keeps coming while healthy and stops once the player thread is wedged (the
test-only fault hook ``COMMUNE_RADIO_DEBUG_WEDGE=player``, honoured only with
``COMMUNE_RADIO_DEBUG=1``); relays are off after SIGTERM and after ``commune-radio stop``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from appliance.daemon.liveness import Beat, wedged
from appliance.system.sdnotify import Notifier, watchdog_interval_s
from tests.support.daemon_proc import DaemonProcess, NotifySocket

EMERGENCY_TEXT = ("Thông báo khẩn: nước lũ đang lên nhanh, bà con vùng trũng hãy di chuyển người và tài sản "
                  "lên nơi cao ngay. Ủy ban nhân dân xã đề nghị các hộ gia đình thực hiện nghiêm túc.")


def watchdog_times(notify: NotifySocket, after: float = 0.0) -> list[float]:
    return [t for t, field in notify.fields() if field == "WATCHDOG=1" and t >= after]


# ------------------------------------------------------------------ notifier


def test_notifier_sends_utf8_status_and_fields(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        assert notifier.enabled
        assert notifier.ready("Sẵn sàng phát bản tin\nthứ hai")
        assert sock.recv(4096).decode("utf-8") == "READY=1\nSTATUS=Sẵn sàng phát bản tin thứ hai"
        assert notifier.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        assert notifier.stopping("Đang dừng")
        assert sock.recv(4096).decode("utf-8") == "STOPPING=1\nSTATUS=Đang dừng"
        with pytest.raises(ValueError):
            notifier.send("READY=1\nWATCHDOG=1")
    finally:
        sock.close()


def test_notifier_abstract_socket_and_absent_socket(tmp_path: Path) -> None:
    name = f"commune-radio-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).status("Đồng hồ chưa tin cậy")
        assert sock.recv(4096).decode("utf-8") == "STATUS=Đồng hồ chưa tin cậy"
    finally:
        sock.close()
    assert not Notifier({}).enabled and not Notifier({}).ready()
    # A socket that went away is not an error the daemon should die of.
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).watchdog()


def test_watchdog_interval_is_half_the_period_for_our_pid_only() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None


def test_wedged_is_busy_and_silent_only() -> None:
    limits = {"scheduler": 15.0, "player": 15.0}
    beats = {"scheduler": Beat(100.0, True), "player": Beat(10.0, False)}
    assert wedged(beats, 110.0, limits) == []            # idle player cannot be wedged
    beats["player"] = Beat(90.0, True)
    assert wedged(beats, 110.0, limits) == ["player"]
    assert wedged({}, 0.0, limits, required=("scheduler",)) == ["scheduler"]


# ------------------------------------------------------------------ the daemon under the harness


@pytest.fixture()
def daemon_factory(tmp_path: Path):
    made: list[DaemonProcess] = []

    def start(**kwargs) -> DaemonProcess:
        proc = DaemonProcess(tmp_path / f"d{len(made)}", **kwargs)
        made.append(proc)
        return proc

    yield start
    for proc in made:
        proc.close()


@pytest.mark.timeout(240)
def test_watchdog_fed_while_healthy_stops_when_player_wedged_relays_off_on_sigterm(daemon_factory) -> None:
    d = daemon_factory(watchdog_usec=1_000_000,
                       extra_env={"COMMUNE_RADIO_DEBUG": "1", "COMMUNE_RADIO_DEBUG_WEDGE": "player"})
    assert d.notify is not None
    ready_t = d.notify.wait_for(lambda f: f == "READY=1", timeout=90)
    assert any(f == "STATUS=Sẵn sàng / ready" for _, f in d.notify.fields())
    # Healthy: WATCHDOG=1 about every 0.5 s (half of WATCHDOG_USEC); allow a loaded machine.
    time.sleep(4)
    beats = watchdog_times(d.notify, after=ready_t)
    assert len(beats) >= 3, beats

    # An emergency puts the on-air thread into the player, where the fault hook wedges it.
    result = d.cli("emergency", EMERGENCY_TEXT)
    assert result.returncode == 0, result.stderr
    d.wait_event(lambda e: e.get("type") == "warmup", timeout=90)
    assert d.relay_states() and all(d.relay_states().values())
    wedge_status = d.notify.wait_for(lambda f: f.startswith("STATUS=Luồng bị treo") and "player" in f, timeout=90)
    # From then on no WATCHDOG=1 at all, while the process is alive (systemd would now kill it).
    time.sleep(4)
    assert d.proc.poll() is None
    assert watchdog_times(d.notify, after=wedge_status + 0.6) == []

    assert d.terminate() == 0, d.stderr[-2000:]
    assert set(d.relay_states()) == {"a", "b"} and not any(d.relay_states().values())
    assert any(f == "STOPPING=1" for _, f in d.notify.fields())


@pytest.mark.timeout(240)
def test_stop_command_switches_relays_off_and_watchdog_keeps_coming(daemon_factory) -> None:
    d = daemon_factory(watchdog_usec=2_000_000)
    assert d.notify is not None
    d.notify.wait_for(lambda f: f == "READY=1", timeout=90)
    result = d.cli("emergency", EMERGENCY_TEXT)
    assert result.returncode == 0, result.stderr
    d.wait_event(lambda e: e.get("type") == "play_start", timeout=120)
    assert all(d.relay_states().values())
    playing_t = time.monotonic()

    result = d.cli("stop")
    assert result.returncode == 0, result.stderr
    d.wait_event(lambda e: e.get("type") == "play_end", timeout=60)
    deadline = time.monotonic() + 30
    while any(d.relay_states().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(d.relay_states()) == {"a", "b"} and not any(d.relay_states().values())
    # Healthy throughout the broadcast and after the stop: still fed.
    time.sleep(3)
    assert len(watchdog_times(d.notify, after=playing_t)) >= 2
    assert d.proc.poll() is None

    assert d.terminate() == 0, d.stderr[-2000:]
    assert not any(d.relay_states().values())


@pytest.mark.timeout(120)
def test_fault_hook_needs_the_debug_flag(daemon_factory) -> None:
    """Without COMMUNE_RADIO_DEBUG=1 the wedge variable does nothing: the emergency plays through."""
    d = daemon_factory(watchdog_usec=None, extra_env={"COMMUNE_RADIO_DEBUG_WEDGE": "player"})
    assert d.notify is not None
    d.notify.wait_for(lambda f: f == "READY=1", timeout=90)
    assert d.cli("emergency", "Thử loa.").returncode == 0
    end = d.wait_event(lambda e: e.get("type") == "play_end", timeout=120)
    assert end["outcome"] == "completed"
    assert not any(f.startswith("WATCHDOG") for _, f in d.notify.fields())  # no WATCHDOG_USEC: never fed
    assert d.terminate() == 0
