"""The ``commune-radio sync --once`` and ``items`` commands, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.appliance.sync.test_kill_sync import _write_config
from tests.support.paths import REPO

ROOT = REPO


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMUNE_RADIO_")}
    return subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_sync_once_then_items_table_and_json(central: Any, tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    _write_config(config, central, tmp_path / "device")
    text_id = central.text_item(title="Thông báo lịch tiêm chủng", valid_until="2999-01-01T00:00:00Z")
    audio_id, _ = central.audio_item(os.urandom(50_000), title="Bản tin khẩn", priority="emergency")
    bad_id = central.text_item(title="Bị sửa")
    central.catalog.flip_byte(bad_id, "title")

    done = _cli(config, "--lang", "en", "sync", "--once")
    assert done.returncode == 0, done.stderr
    assert "new: 2" in done.stdout and "rejected: 1" in done.stdout and "Sync complete." in done.stdout
    assert "item_rejected.bad_signature" in done.stdout

    again = _cli(config, "sync", "--once")
    assert again.returncode == 0 and "không thay đổi (304)" in again.stdout and "Đồng bộ xong." in again.stdout

    table = _cli(config, "--lang", "en", "items")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["id", "ver", "kind", "priority", "state"]
    # Emergency first; validity shown in the device zone (UTC+7).
    assert lines[2].startswith(audio_id) and "emergency" in lines[2] and "ready" in lines[2]
    assert text_id in lines[3] and "2999-01-01 07:00" in lines[3]
    assert bad_id not in table.stdout

    listed = json.loads(_cli(config, "items", "--json").stdout)
    assert {i["id"]: i["display_state"] for i in listed} == {text_id: "ready", audio_id: "ready"}


def test_sync_once_reports_an_unreachable_central(central: Any, tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    _write_config(config, central, tmp_path / "device")
    central.faults.add("/v1/devices/", status=503)
    done = _cli(config, "--lang", "en", "sync", "--once", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["error"]["code"] == "central_unavailable" and result["error"]["vi"]
