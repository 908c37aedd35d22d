"""install/install.sh and uninstall.sh inside a throwaway root (nothing outside it is touched).

Users and groups go through useradd/groupadd ``--prefix``, units are enabled with
``systemctl --root``, apt is skipped, and the venv gets a tiny stand-in wheel (offline).
Checks users, group membership, paths, owners and modes, the config copied once and never
overwritten, the atomic ``current`` link, and that a second run changes nothing at all.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from appliance.version import __version__
from tests.support.paths import REPO
from tests.support.standin_wheels import build_standin_wheel

APP = "commune-radio"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the installer needs root (chown, useradd --prefix)"),
    pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("systemctl") is None,
                       reason="needs useradd and systemctl"),
]


def make_root(base: Path) -> Path:
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\naudio:x:29:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\naudio:*::\n")
    for path in ("shadow", "gshadow"):
        (root / "etc" / path).chmod(0o640)
    return root


def run_install(root: Path, wheel_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    wheel = wheel_dir / f"commune_radio-{__version__}-py3-none-any.whl"
    env = dict(os.environ, PYTHON=shutil.which("python3") or "python3")
    return subprocess.run([str(REPO / "install/install.sh"), "--root", str(root), "--skip-apt",
                           "--package", str(wheel), "--pip-args", f"--no-index --find-links {wheel_dir}", *extra],
                          capture_output=True, text=True, timeout=300, env=env)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under the root with type, mode, owner, size, mtime and link target."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            found[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, target)
    return found


def entry(root: Path, table: str, name: str) -> list[str]:
    for line in (root / "etc" / table).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"{name} not in {table}")


def owner_mode(path: Path) -> tuple[int, int, str]:
    st = path.lstat()
    return st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    build_standin_wheel(out, __version__)
    return out


@pytest.mark.timeout(600)
def test_install_in_throwaway_root_is_complete_and_idempotent(tmp_path: Path, wheel_dir: Path) -> None:
    root = make_root(tmp_path)
    host_passwd = Path("/etc/passwd").read_bytes()
    first = run_install(root, wheel_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Next steps" in first.stdout and "secrets.env" in first.stdout and ":8080/" in first.stdout
    assert "gpio=17=op,dh" in first.stdout and "gpio=27=op,dh" in first.stdout   # boot-time safe pin states
    assert Path("/etc/passwd").read_bytes() == host_passwd                      # host untouched

    # User and groups.
    user = entry(root, "passwd", APP)
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000 and user[5] == f"/var/lib/{APP}" and user[6] == "/usr/sbin/nologin"
    assert int(entry(root, "group", APP)[2]) == gid
    for group in ("gpio", "audio"):
        assert APP in entry(root, "group", group)[3].split(",")

    # Paths, owners, modes.
    assert owner_mode(root / f"etc/{APP}") == (0, gid, "0o750")
    assert owner_mode(root / f"etc/{APP}/appliance.toml") == (0, gid, "0o640")
    assert owner_mode(root / f"etc/{APP}/secrets.env") == (0, gid, "0o640")
    assert (root / f"etc/{APP}/appliance.toml").read_bytes() == (REPO / "config/appliance.toml").read_bytes()
    # The commune's abbreviation file is a valid, empty extension of the shipped dictionary.
    from audio.normalize import load_abbreviations

    extension = root / f"etc/{APP}/abbreviations.toml"
    assert owner_mode(extension) == (0, gid, "0o644")
    assert load_abbreviations(extension) == load_abbreviations()
    assert owner_mode(root / f"var/lib/{APP}") == (uid, gid, "0o750")
    assert owner_mode(root / f"opt/{APP}") == (0, 0, "0o755")
    venv = root / f"opt/{APP}/venvs/{__version__}"
    assert os.readlink(root / f"opt/{APP}/current") == f"venvs/{__version__}"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    script = venv / "bin" / APP
    assert script.read_text().splitlines()[0] == f"#!/opt/{APP}/venvs/{__version__}/bin/python"
    assert os.readlink(root / f"usr/local/bin/{APP}") == f"/opt/{APP}/current/bin/{APP}"
    version = subprocess.run([str(venv / "bin/python"), str(script), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"commune-radio {__version__}"

    # Units installed and enabled (systemctl --root), journald bounded.
    units = root / "etc/systemd/system"
    for name in ("commune-radio.service", "commune-radio-panel.service"):
        assert (units / name).read_bytes() == (REPO / "systemd" / name).read_bytes()
        assert owner_mode(units / name) == (0, 0, "0o644")
        assert (units / "multi-user.target.wants" / name).is_symlink()
    assert "SystemMaxUse=" in (root / f"etc/systemd/journald.conf.d/{APP}.conf").read_text()
    assert not list(root.rglob("*.tmp-install"))

    # Second run: nothing changes (not a byte, not a timestamp).
    before = snapshot(root)
    second = run_install(root, wheel_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout
    assert snapshot(root) == before


@pytest.mark.timeout(600)
def test_operator_config_is_never_overwritten_and_drift_is_repaired(tmp_path: Path, wheel_dir: Path) -> None:
    root = make_root(tmp_path)
    # gpio already exists (as on Raspberry Pi OS) and the user already exists without the groups.
    with (root / "etc/group").open("a") as f:
        f.write("gpio:x:993:\n")
    with (root / "etc/gshadow").open("a") as f:
        f.write("gpio:!::\n")
    assert run_install(root, wheel_dir, "--skip-systemctl").returncode == 0
    config = root / f"etc/{APP}/appliance.toml"
    config.write_text('language = "en"\n')               # the operator's own edits
    (root / f"var/lib/{APP}").chmod(0o777)               # permissions drifted
    (root / f"opt/{APP}/current").unlink()                # link lost
    again = run_install(root, wheel_dir, "--skip-systemctl")
    assert again.returncode == 0, again.stderr
    assert config.read_text() == 'language = "en"\n'
    assert owner_mode(root / f"var/lib/{APP}")[2] == "0o750"
    assert os.readlink(root / f"opt/{APP}/current") == f"venvs/{__version__}"
    assert entry(root, "group", "gpio")[2] == "993"
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()   # --skip-systemctl


@pytest.mark.timeout(600)
def test_uninstall_keeps_data_unless_purged(tmp_path: Path, wheel_dir: Path) -> None:
    root = make_root(tmp_path)
    assert run_install(root, wheel_dir).returncode == 0
    (root / f"var/lib/{APP}/state.sqlite3").write_bytes(b"play log")
    result = subprocess.run([str(REPO / "install/uninstall.sh"), "--root", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (root / f"opt/{APP}").exists() and not (root / f"usr/local/bin/{APP}").exists()
    assert not (root / "etc/systemd/system/commune-radio.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/commune-radio.service").exists()
    assert (root / f"var/lib/{APP}/state.sqlite3").read_bytes() == b"play log"
    assert (root / f"etc/{APP}/appliance.toml").exists()
    result = subprocess.run([str(REPO / "install/uninstall.sh"), "--root", str(root), "--purge"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (root / f"var/lib/{APP}").exists() and not (root / f"etc/{APP}").exists()
    assert APP not in (root / "etc/passwd").read_text()
    for line in (root / "etc/group").read_text().splitlines():
        name, _, _, members = line.split(":")
        assert name != APP and APP not in members.split(",")
