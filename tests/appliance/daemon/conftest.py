"""The ``rig`` fixture: a real Daemon in-process on a temporary data directory (see daemon_rig)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.daemon import Daemon
from appliance.state.store import Store
from tests.support.daemon_rig import Recorder, make_config, mock_factory


@pytest.fixture()
def rig(tmp_path: Path):
    made: list[Daemon] = []

    def start(*, trusted: bool = True, clock=None, store: Store | None = None, pin_factory=None, **overrides):
        config = make_config(tmp_path / "data", **overrides)
        flag = tmp_path / "synchronized"
        if trusted:
            flag.write_text("")
        elif flag.exists():
            flag.unlink()
        rec = Recorder()
        store = store or Store.open(config.db_path)
        daemon = Daemon(config, clock=clock, pin_factory=pin_factory or mock_factory(), store=store, listener=rec, sync=False,
                        timesync_flag=flag)
        made.append(daemon)
        return daemon, rec, store, config

    yield start
    for daemon in made:
        daemon.stop("test over")
