"""Issue 11 fix 2: `commune-radio demo --data DIR` deleted whatever DIR held (shutil.rmtree).
It now refuses a non-empty folder that is not a previous demo folder, and from a previous demo
folder removes only what the demo creates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.demo.folder import ENTRIES, MARKER, DemoFolderRefused, claim


def _demo(base: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock")
    env.pop("COMMUNE_RADIO_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "appliance.cli", "demo", "--data", str(base), "--duration", "1"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_a_folder_with_other_data_is_refused_and_left_untouched(tmp_path: Path) -> None:
    base = tmp_path / "ho-so-xa"
    (base / "bien-ban").mkdir(parents=True)
    (base / "bien-ban" / "2026.docx").write_bytes(b"quan trong")
    (base / "appliance.toml").write_text("# not the demo's\n", encoding="utf-8")
    proc = _demo(base, tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "không xoá" in proc.stderr and "will not delete" in proc.stderr
    assert (base / "bien-ban" / "2026.docx").read_bytes() == b"quan trong"
    assert (base / "appliance.toml").read_text(encoding="utf-8") == "# not the demo's\n"
    assert not (base / MARKER).exists()


def test_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(DemoFolderRefused) as info:
        claim(target)
    assert "không phải là thư mục" in info.value.vi
    assert target.read_text(encoding="utf-8") == "x"


def test_new_and_empty_folders_are_claimed_and_marked(tmp_path: Path) -> None:
    assert claim(tmp_path / "new") == []
    assert (tmp_path / "new" / MARKER).is_file()
    (tmp_path / "empty").mkdir()
    assert claim(tmp_path / "empty") == []
    assert (tmp_path / "empty" / MARKER).is_file()


def test_a_previous_demo_folder_loses_only_the_demos_own_entries(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    claim(base)
    for name in ENTRIES:
        if name.endswith(".toml"):
            (base / name).write_text("old", encoding="utf-8")
        else:
            (base / name / "deep").mkdir(parents=True)
            (base / name / "deep" / "old.bin").write_bytes(b"old")
    (base / "ghi-chu.txt").write_text("của cán bộ", encoding="utf-8")
    assert claim(base) == ["ghi-chu.txt"]
    assert sorted(p.name for p in base.iterdir()) == sorted([MARKER, "ghi-chu.txt"])
    assert (base / "ghi-chu.txt").read_text(encoding="utf-8") == "của cán bộ"
