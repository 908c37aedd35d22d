"""The systemd units: `systemd-analyze verify` clean in a throwaway root, security exposure within
target, and the directives the appliance relies on (notify + watchdog, never give up restarting,
relays off after every stop, hardening, journal-only logging)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO

UNITS = REPO / "systemd"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value (systemd keys repeat)."""
    parsed: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in (UNITS / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            parsed[section] = {}
            continue
        key, _, value = line.partition("=")
        parsed[section].setdefault(key, []).append(value)
    return parsed


def run_verify(units_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(units_dir / "verify-units.sh")], capture_output=True, text=True, timeout=120)


def test_verify_and_security_exposure() -> None:
    result = run_verify(UNITS)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    levels = dict(re.findall(r"Overall exposure level for (\S+): ([0-9.]+)", result.stdout))
    assert set(levels) == {"commune-radio.service", "commune-radio-panel.service", "commune-central.service"}
    assert float(levels["commune-radio.service"]) <= 3.0
    assert float(levels["commune-radio-panel.service"]) <= 3.0
    assert float(levels["commune-central.service"]) <= 2.0


def test_verify_catches_a_weakened_central_unit(tmp_path: Path) -> None:
    work = tmp_path / "units"
    shutil.copytree(UNITS, work)
    path = work / "commune-central.service"
    text = path.read_text(encoding="utf-8").replace("User=commune-central", "User=root")
    for line in ("CapabilityBoundingSet=\n", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                 "SystemCallFilter=@system-service", "PrivateDevices=yes", "ProtectKernelTunables=yes",
                 "PrivateUsers=yes", "RestrictNamespaces=yes", "ProtectSystem=strict"):
        text = text.replace(line, "#" + line)
    path.write_text(text, encoding="utf-8")
    result = run_verify(work)
    assert result.returncode != 0
    assert "commune-central.service exposure" in result.stdout + result.stderr


def test_central_unit_directives() -> None:
    u = unit("commune-central.service")
    s = u["Service"]
    command = s["ExecStart"][0].split()
    assert command[:3] == ["/opt/commune-central/current/bin/commune-central", "serve", "--server"]
    assert command[3] == "gunicorn" and "--trusted-proxy" in command
    assert command[command.index("--host") + 1] == "127.0.0.1"      # only nginx reaches it
    assert s["Restart"] == ["always"] and u["Unit"]["StartLimitIntervalSec"] == ["0"]
    assert s["KillMode"] == ["mixed"]                                  # SIGTERM to the arbiter first
    assert s["User"] == ["commune-central"] and s["UMask"] == ["0077"]
    assert int(s["LimitNOFILE"][0]) >= 16384                           # thousands of keep-alive devices
    # The station's hardening, and more: no devices at all, no W+X memory, no other users.
    daemon = unit("commune-radio.service")["Service"]
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet",
                "DevicePolicy", "ProtectClock", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectKernelLogs", "ProtectControlGroups", "ProtectHostname", "ProtectProc",
                "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
                "LockPersonality", "RemoveIPC", "SystemCallArchitectures", "SystemCallFilter",
                "SystemCallErrorNumber"):
        assert s[key] == daemon[key], key
    assert s["ReadWritePaths"] == ["/var/lib/commune-central"]
    assert s["PrivateDevices"] == ["yes"] and "DeviceAllow" not in s
    assert s["MemoryDenyWriteExecute"] == ["yes"] and s["PrivateUsers"] == ["yes"]


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check can fail: a misspelt key and a weakened daemon are both reported."""
    for bad, expect in ((("WatchdogSec=30", "WatchdogSek=30"), "Unknown key"),
                        (("ProtectSystem=strict", "ProtectSystem=no\nUser=root\nCapabilityBoundingSet=~"),
                         "above 3.0")):
        work = tmp_path / expect.replace(" ", "_")
        shutil.copytree(UNITS, work)
        path = work / "commune-radio.service"
        text = path.read_text(encoding="utf-8")
        text = text.replace(*bad)
        if "User=root" in bad[1]:
            for line in ("User=commune-radio", "CapabilityBoundingSet=\n", "NoNewPrivileges=yes", "PrivateTmp=yes",
                         "ProtectHome=yes", "SystemCallFilter=@system-service", "RestrictAddressFamilies=AF_UNIX",
                         "DevicePolicy=closed", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
                         "RestrictNamespaces=yes", "ProtectClock=yes", "ProtectControlGroups=yes"):
                text = text.replace(line, "#" + line)
        path.write_text(text, encoding="utf-8")
        result = run_verify(work)
        assert result.returncode != 0
        assert expect in result.stdout + result.stderr


def test_daemon_unit_directives() -> None:
    u = unit("commune-radio.service")
    s = u["Service"]
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert int(s["WatchdogSec"][0]) >= 10
    assert s["Restart"] == ["always"]
    assert u["Unit"]["StartLimitIntervalSec"] == ["0"]            # never gives up for good
    assert s["ExecStart"] == ["/opt/commune-radio/current/bin/commune-radio run"]
    assert s["ExecStopPost"] == ["/opt/commune-radio/current/bin/commune-radio relays-off"]
    assert s["User"] == ["commune-radio"] and set(s["SupplementaryGroups"][0].split()) == {"gpio", "audio"}
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": "", "DevicePolicy": "closed",
                       "ReadWritePaths": "/var/lib/commune-radio", "StandardOutput": "journal"}.items():
        assert s[key] == [value], key
    assert "@system-service" in s["SystemCallFilter"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert {"char-gpiochip rw", "char-alsa rw"} <= set(s["DeviceAllow"])
    # Hides GPIO and sound / breaks gpiozero's /proc/cpuinfo read: must never creep in.
    assert "PrivateDevices" not in s and "ProcSubset" not in s
    assert u["Install"]["WantedBy"] == ["multi-user.target"]


def test_panel_unit_has_fewer_rights() -> None:
    daemon = unit("commune-radio.service")["Service"]
    panel = unit("commune-radio-panel.service")["Service"]
    assert panel["ExecStart"] == ["/opt/commune-radio/current/bin/commune-radio panel"]
    assert "SupplementaryGroups" not in panel            # no gpio, no audio
    assert panel["PrivateDevices"] == ["yes"] and "DeviceAllow" not in panel
    assert panel["Restart"] == ["always"]
    assert panel["ReadWritePaths"] == daemon["ReadWritePaths"]


def test_units_parse_as_ini() -> None:
    # Guards against stray characters that systemd would silently skip.
    for name in ("commune-radio.service", "commune-radio-panel.service", "commune-central.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(UNITS / name, encoding="utf-8")
        assert parser.sections() == ["Unit", "Service", "Install"]
