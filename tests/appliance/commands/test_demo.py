"""`commune-radio demo` end to end, as a user runs it (subprocess, loopback only)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.support.pace import lead_s

pytestmark = pytest.mark.slow


def test_demo_syncs_bulletins_and_broadcasts_into_capture(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", PYTHONUNBUFFERED="1")
    env.pop("COMMUNE_RADIO_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "demo", "--data", str(base), "--duration", str(round(lead_s(34)))],
        capture_output=True, text=True, timeout=lead_s(180), env=env, cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "5 bản tin đã duyệt và ký" in out
    assert "Lấy tin tự động / intake: 3 bài" in out and "shortened by the editor, approved" in out
    assert "daemon sẵn sàng / ready" in out
    assert "relay trung-tam: BẬT / ON" in out
    assert "đang phát / playing: Tin cảnh báo mưa lớn" in out
    assert "/setup" in out  # the panel's one-time admin set-up step is printed

    db = sqlite3.connect(base / "appliance" / "state.sqlite3")
    states = dict(db.execute("SELECT id, state FROM items").fetchall())
    assert len(states) == 6 and set(states.values()) == {"ready"}  # 5 seeded + the approved feed article
    plays = db.execute("SELECT item_id, outcome, trigger FROM play_log").fetchall()
    assert ("demo-thoitiet-001", "interrupted", "schedule") in plays or \
        ("demo-thoitiet-001", "completed", "schedule") in plays
    last_state = dict(db.execute("SELECT zone, state FROM relay_log ORDER BY id").fetchall())
    assert last_state == {"trung-tam": 0, "thon-dong": 0}  # every relay off when the demo stops
    assert db.execute("SELECT COUNT(*) FROM relay_log WHERE state = 1").fetchone()[0] >= 1

    captures = sorted((base / "capture").glob("*.wav"))
    assert captures, "the demo must leave the broadcast audio in its capture folder"
    with wave.open(str(captures[0])) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds > 3
