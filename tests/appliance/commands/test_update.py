"""`commune-radio update`: fresh venv, atomic switch, restart, health wait, automatic rollback.

Runs inside a throwaway root with tiny stand-in wheels (tests/support/standin_wheels.py) installed
offline by real pip into real venvs; the restart command is a shell line that records which
venv ``current`` points at, and the health check is the new version's own ``commune-radio
health`` (the stand-in's exit code decides). The on-air guard asks a real control socket.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.control import ControlServer
from appliance.update import Layout, UpdateError, build_venv, switch_current, update
from tests.support.daemon_proc import REPO
from tests.support.standin_wheels import build_standin_wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    build_standin_wheel(out, "1.0.0")
    build_standin_wheel(out, "1.1.0")
    build_standin_wheel(out, "1.2.0", health_exit=2)         # installs and runs, never healthy
    build_standin_wheel(out, "1.3.0", importable=False)      # crashes at once
    build_standin_wheel(out, "1.4.0")
    return out


class Station:
    def __init__(self, tmp: Path, wheels: Path) -> None:
        self.layout = Layout(root=tmp / "root")
        self.layout.base.mkdir(parents=True)
        self.wheels = wheels
        self.log = tmp / "restarts.log"
        self.pip_args = ["--no-index", "--find-links", str(wheels)]
        name, version = build_venv(self.layout, self.wheel("1.0.0"), python=sys.executable, pip_args=self.pip_args,
                                   log=lambda _: None)
        assert (name, version) == ("1.0.0", "1.0.0")
        switch_current(self.layout, "venvs/1.0.0")
        # What systemctl restart would do here: note which venv the service would start from.
        self.restart = f"sh -c {shlex.quote(f'readlink {self.layout.current} >> {self.log}')}"

    def wheel(self, version: str) -> str:
        return str(self.wheels / f"commune_radio-{version}-py3-none-any.whl")

    def restarts(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def update(self, version: str, **kwargs):
        kwargs.setdefault("health_timeout_s", 4.0)
        kwargs.setdefault("poll_s", 0.5)
        return update(self.wheel(version), layout=self.layout, restart=self.restart, pip_args=self.pip_args,
                      python=sys.executable, log=lambda _: None, **kwargs)

    def venvs(self) -> set[str]:
        return {p.name for p in self.layout.venvs.iterdir()}


@pytest.mark.timeout(600)
def test_good_update_is_kept_broken_one_rolled_back(tmp_path: Path, wheels: Path) -> None:
    st = Station(tmp_path, wheels)

    good = st.update("1.1.0")
    assert good.ok and good.outcome == "updated" and good.version == "1.1.0"
    assert os.readlink(st.layout.current) == "venvs/1.1.0"
    assert st.restarts() == ["venvs/1.1.0"]
    assert st.venvs() == {"1.0.0", "1.1.0"}
    ran = subprocess.run([str(st.layout.current / "bin/commune-radio"), "--version"], capture_output=True, text=True)
    assert ran.stdout.strip() == "commune-radio 1.1.0"

    broken = st.update("1.2.0")
    assert broken.outcome == "rolled_back" and not broken.ok
    assert "rolled back to venvs/1.1.0" in broken.en and "healthy again" in broken.en
    assert os.readlink(st.layout.current) == "venvs/1.1.0"
    assert st.restarts() == ["venvs/1.1.0", "venvs/1.2.0", "venvs/1.1.0"]
    assert st.venvs() == {"1.0.0", "1.1.0"}                       # the broken venv is gone
    assert not list(st.layout.base.glob(".current.tmp-*"))

    with pytest.raises(UpdateError) as crashed:
        st.update("1.3.0")
    assert crashed.value.code == "update.smoke"
    assert os.readlink(st.layout.current) == "venvs/1.1.0" and len(st.restarts()) == 3   # never switched
    assert st.venvs() == {"1.0.0", "1.1.0"}


@pytest.mark.timeout(600)
def test_never_restarts_mid_broadcast_unless_forced(tmp_path: Path, wheels: Path) -> None:
    st = Station(tmp_path, wheels)
    with pytest.raises(UpdateError) as refused:
        st.update("1.1.0", on_air=lambda: True)
    assert refused.value.code == "update.on_air" and "--force" in refused.value.en and refused.value.vi
    assert st.restarts() == [] and st.venvs() == {"1.0.0"}

    # A broadcast that starts while the venv is being built is caught by the second check.
    answers = iter([False, True])
    with pytest.raises(UpdateError):
        st.update("1.1.0", on_air=lambda: next(answers))
    assert st.restarts() == [] and st.venvs() == {"1.0.0"}

    forced = st.update("1.1.0", on_air=lambda: True, force=True)
    assert forced.ok and st.restarts() == ["venvs/1.1.0"]


@pytest.mark.timeout(600)
def test_cli_update_asks_the_daemon_and_prunes_old_venvs(tmp_path: Path, wheels: Path) -> None:
    st = Station(tmp_path, wheels)
    assert st.update("1.1.0").ok
    data = tmp_path / "data"
    config = tmp_path / "appliance.toml"
    config.write_text(f'[device]\ndata_dir = "{data}"\n', encoding="utf-8")
    on_air: dict[str, object] = {"on_air": {"item_id": "x", "title": "Bản tin sáng"}}
    server = ControlServer(data / "control.sock", lambda action, params, actor: on_air, zone_names=["trung-tam"])
    server.start()

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "appliance.cli", "--config", str(config), "--lang", "en", "update",
             st.wheel("1.4.0"), "--root", str(st.layout.root), "--restart-cmd", st.restart, "--timeout", "5",
             "--python", sys.executable, "--pip-args", shlex.join(st.pip_args), *extra],
            cwd=REPO, capture_output=True, text=True, timeout=300)

    try:
        busy = cli()
        assert busy.returncode != 0 and "on air" in busy.stderr, busy.stdout + busy.stderr
        on_air["on_air"] = None
        done = cli()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Updated to 1.4.0" in done.stdout
    finally:
        server.stop()
    assert os.readlink(st.layout.current) == "venvs/1.4.0"
    assert st.venvs() == {"1.1.0", "1.4.0"}                       # current + previous kept, 1.0.0 pruned
