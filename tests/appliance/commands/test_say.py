"""`commune-radio say` respects the one owner of the hardware: with a daemon running it asks the
daemon (relays switched, play logged); without one it plays directly into the configured output."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.daemon import Daemon
from appliance.demo import write_config_toml
from appliance.state.store import Store
from tests.support.daemon_rig import Recorder, mock_factory

TEXT = "Loa phát thanh xã thử tiếng, một, hai, ba."


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "appliance.toml"
    write_config_toml({
        "device": {"data_dir": str(tmp_path / "data")},
        "audio": {"output": "capture", "chime": False},
        "schedule": {"default_windows": ["00:00-00:00"]},
        "zones": [{"name": "a", "relay_pin": 17, "warmup_ms": 200, "cooldown_ms": 100}],
    }, path)
    return path


def test_say_goes_through_the_running_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from appliance.state import config as config_module

    path = _config_file(tmp_path)
    config = config_module.load(path, env={})
    flag = tmp_path / "synchronized"
    flag.write_text("")
    rec = Recorder()
    store = Store.open(config.db_path)
    daemon = Daemon(config, store=store, pin_factory=mock_factory(), listener=rec, sync=False, timesync_flag=flag)
    daemon.start()
    try:
        assert main(["--config", str(path), "say", TEXT, "--zone", "a"]) == 0
        assert "Đã yêu cầu đọc văn bản" in capsys.readouterr().out
        end = rec.wait_for(lambda e: e["type"] == "play_end", timeout=60)
        assert end["outcome"] == "completed"
        assert rec.wait_for(lambda e: e["type"] == "relay" and e["zone"] == "a" and e["on"])
        row = store.query_one("SELECT trigger, actor FROM play_log WHERE id = ?", (end["play_id"],))
        assert row["trigger"] == "operator" and row["actor"].startswith("cli:")
    finally:
        daemon.stop()
        store.close()


def test_say_without_daemon_plays_into_the_capture_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config_file(tmp_path)
    assert main(["--config", str(path), "say", TEXT]) == 0
    captures = list((tmp_path / "data" / "capture").glob("*.wav"))
    assert len(captures) == 1
    with wave.open(str(captures[0])) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0


def test_say_out_writes_a_wav_and_refuses_empty_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config_file(tmp_path)
    out = tmp_path / "x.wav"
    assert main(["--config", str(path), "say", TEXT, "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert main(["--config", str(path), "say", "   "]) == 2
    assert "Lỗi" in capsys.readouterr().err
