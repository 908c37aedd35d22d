"""Health evaluation (pure), the Prometheus text, the `health`/`status` commands and the panel's
/healthz and /metrics — against a real in-process daemon (mock pins, capture output) over its
real control socket."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appliance import health
from appliance.control import ControlClient
from appliance.daemon import Daemon
from appliance.panel.app import create_app
from appliance.state.store import Store
from appliance.system.clock import iso_z
from tests.support.daemon_proc import REPO
from tests.support.daemon_rig import make_config, mock_factory

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
SAMPLE_RE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


@pytest.fixture()
def live(tmp_path: Path):
    """A real daemon (clock trusted, sync off) and its real status answer."""
    config = make_config(tmp_path / "data")
    flag = tmp_path / "synchronized"
    flag.write_text("")
    daemon = Daemon(config, pin_factory=mock_factory(), sync=False, timesync_flag=flag)
    daemon.start()
    try:
        yield daemon, config
    finally:
        daemon.stop("test over")


def healthy_status(status: dict[str, Any]) -> dict[str, Any]:
    """The real status, as if sync were configured and had just succeeded."""
    status = copy.deepcopy(status)
    status["sync_enabled"] = True
    status["last_sync"] = {"last_success_at": iso_z(NOW - timedelta(minutes=2)), "last_error": None}
    status["disk"] = {"free_bytes": 20 * 10**9, "total_bytes": 32 * 10**9, "media_bytes": 10**9,
                      "media_quota_bytes": 4 * 10**9}
    return status


def test_evaluation_of_a_real_daemon_status(live) -> None:
    daemon, config = live
    status = ControlClient(config.socket_path).request("status")
    assert status["healthy"] and status["process"]["rss_bytes"] > 0

    ok = health.evaluate_health(healthy_status(status), now=NOW, sync_interval_s=300)
    assert ok.status == "ok" and ok.exit_code == 0 and all(c.ok for c in ok.checks), ok
    assert {c.name for c in ok.checks} == {"daemon_alive", "daemon_threads", "relays_sane", "amplifiers",
                                           "clock_trusted", "sync_recent", "problems", "disk_space", "power"}

    # As it really is: sync not configured -> a warning, not a failure.
    real, _ = health.gather(config)
    assert real.status == "degraded" and not real.check("sync_recent").ok

    stale = healthy_status(status)
    stale["last_sync"] = {"last_success_at": iso_z(NOW - timedelta(hours=2)), "last_error": "HTTP 503"}
    result = health.evaluate_health(stale, now=NOW, sync_interval_s=300)
    assert result.status == "degraded" and "120 min" in result.check("sync_recent").en
    assert "HTTP 503" in result.check("sync_recent").en

    untrusted = healthy_status(status)
    untrusted["clock"] = dict(untrusted["clock"], trusted=False, reason={"vi": "Đồng hồ chưa đồng bộ.", "en": "x"})
    result = health.evaluate_health(untrusted, now=NOW, sync_interval_s=300)
    assert result.status == "degraded" and result.check("clock_trusted").vi == "Đồng hồ chưa đồng bộ."

    wedged = healthy_status(status)
    wedged["healthy"] = False
    wedged["liveness"] = {"wedged": ["player"]}
    result = health.evaluate_health(wedged, now=NOW, sync_interval_s=300)
    assert result.status == "failing" and "player" in result.check("daemon_threads").en

    stray = healthy_status(status)
    zone = next(iter(stray["relays"]))
    stray["relays"][zone].update(on=True, owners=[], cooling_down=False)
    result = health.evaluate_health(stray, now=NOW, sync_interval_s=300)
    assert result.status == "failing" and zone in result.check("relays_sane").en
    stray["relays"][zone]["owners"] = ["play:x@request:1"]     # on air: sane
    assert health.evaluate_health(stray, now=NOW, sync_interval_s=300).status == "ok"

    fault = healthy_status(status)
    fault["relays"][zone].update(fault=True)
    assert health.evaluate_health(fault, now=NOW, sync_interval_s=300).status == "degraded"

    # Warned before the card is full (issue 16, fault 5), and before the media quota is reached.
    assert status["disk"]["total_bytes"] > 0 and status["disk"]["media_quota_bytes"] == config.sync.storage_quota_bytes
    low = healthy_status(status)
    low["disk"].update(free_bytes=300 * 10**6)
    result = health.evaluate_health(low, now=NOW, sync_interval_s=300)
    assert result.status == "degraded" and "300 MB" in result.check("disk_space").en
    assert "thẻ nhớ" in result.check("disk_space").vi.lower()
    quota = healthy_status(status)
    quota["disk"].update(media_bytes=int(3.8 * 10**9))
    result = health.evaluate_health(quota, now=NOW, sync_interval_s=300)
    assert result.status == "degraded" and "95 %" in result.check("disk_space").en

    version = health.evaluate_health(healthy_status(status), now=NOW, sync_interval_s=300, expect_version="99.0")
    assert version.status == "failing" and not version.check("version").ok


def test_power_check_and_metrics(live) -> None:
    from appliance.system.power import decode_throttled

    daemon, config = live
    status = healthy_status(ControlClient(config.socket_path).request("status"))
    assert status["power"]["mains"] == "unknown", "the live daemon has no mains-sense input"
    fine = health.evaluate_health(status, now=NOW, sync_interval_s=300)
    assert fine.check("power").ok and "no mains sense" in fine.check("power").en
    status["power"] = status["power"] | {"mains": "lost", "on_battery": True, "since": "2025-06-01T05:00:00Z",
                                         "saving_battery": True, "under_voltage": True,
                                         "flags": decode_throttled(0x50001).as_dict()}
    status["problems"] = [{"code": "power.on_battery", "vi": "Mất điện lưới", "en": "Mains lost", "since": "x"}]
    result = health.evaluate_health(status, now=NOW, sync_interval_s=300)
    power = result.check("power")
    assert result.status == "degraded" and not power.ok and not power.critical
    assert "Mất điện lưới" in power.vi and "chỉ phát bản tin khẩn cấp" in power.vi and "under-voltage" in power.en
    assert result.check("problems").ok, "the power check speaks for the power problems"
    text = health.render_metrics(status, result, device_id="d")
    assert "commune_radio_mains_present 0" in text and "commune_radio_power_under_voltage 1" in text
    assert f"commune_radio_power_flags {0x50001}" in text and "commune_radio_power_throttled 0" in text


def test_daemon_down_is_failing() -> None:
    result = health.evaluate_health(None, now=NOW, sync_interval_s=300, daemon_error="no socket")
    assert result.status == "failing" and result.exit_code == 2
    assert "no socket" in result.check("daemon_alive").en and result.check("daemon_alive").vi


def test_metrics_text_format(live) -> None:
    daemon, config = live
    checked, status = health.gather(config)
    text = health.render_metrics(status, checked, device_id='0000"1\\x')
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    for line in samples:
        assert SAMPLE_RE.match(line), line
    typed = re.findall(r"^# TYPE (\S+) (gauge|counter)$", text, re.M)
    assert len(typed) == len({name for name, _ in typed}) >= 15
    assert "commune_radio_up 1" in samples
    assert 'commune_radio_relay_on{zone="a"} 0' in samples
    assert any(s.startswith("commune_radio_daemon_write_bytes_total ") for s in samples)
    assert 'device_id="0000\\"1\\\\x"' in text                     # label escaping
    down = health.render_metrics(None, health.evaluate_health(None, now=NOW, sync_interval_s=300), device_id="d")
    assert "commune_radio_up 0" in down and "commune_radio_health_status 2" in down


def test_panel_healthz_and_metrics(live) -> None:
    daemon, config = live
    import dataclasses

    config = dataclasses.replace(config, panel=dataclasses.replace(config.panel, api_token="t" * 32))
    store = Store.open(config.db_path)
    try:
        app = create_app(config, store=store, testing=True)
        local = app.test_client()
        response = local.get("/healthz")                     # before any account exists, from loopback
        assert response.status_code == 200
        assert response.get_json()["status"] == "degraded"   # sync not configured
        metrics = local.get("/metrics")
        assert metrics.status_code == 200 and metrics.content_type.startswith("text/plain; version=0.0.4")
        assert "commune_radio_up 1" in metrics.get_data(as_text=True)

        remote = app.test_client()
        lan = {"REMOTE_ADDR": "192.168.1.50"}
        for path in ("/healthz", "/metrics"):
            refused = remote.get(path, environ_base=lan)
            assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "auth.login_required"
            allowed = remote.get(path, environ_base=lan, headers={"Authorization": "Bearer " + "t" * 32})
            assert allowed.status_code == 200, path

        daemon.stop("test: daemon down")
        app2 = create_app(config, store=store, testing=True)
        down = app2.test_client().get("/healthz")
        assert down.status_code == 503 and down.get_json()["status"] == "failing"
    finally:
        store.close()


def test_health_command_exit_codes(tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config), *args],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    down = cli("health")
    assert down.returncode == 2 and "HỎNG" in down.stdout and "daemon_alive" in down.stdout
    assert cli("health", "--critical-only").returncode == 2
    status = cli("--lang", "en", "status")
    assert status.returncode == 2 and "FAILING" in status.stdout and "does not answer" in status.stdout
    metrics = cli("health", "--metrics")
    assert "commune_radio_up 0" in metrics.stdout
