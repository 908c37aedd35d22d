"""Safe updates: a new version goes into a fresh virtual environment, ``current`` is switched
with an atomic symlink rename, the services restart, and if the daemon is not healthy within a
time limit the previous environment is switched back and restarted (automatic rollback).

Layout (made by install/install.sh)::

    <root>/opt/commune-radio/venvs/<version>/   one venv per installed version
    <root>/opt/commune-radio/current -> venvs/<version>

Never restarts during a broadcast unless forced: ``on_air()`` is asked before building and
again just before switching. Restart and health are commands (injectable), so the whole
procedure runs without systemd in tests; the defaults are ``systemctl restart ...`` and the new
version's own ``commune-radio health --critical-only --expect-version <version>`` (warnings
such as an untrusted clock or an offline central do not roll back an update).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from protocol.durable import fsync_dir
from protocol.errors import CommuneRadioError

DEFAULT_PREFIX = Path("/opt/commune-radio")
DEFAULT_RESTART = ("systemctl", "restart", "commune-radio.service", "commune-radio-panel.service")
DEFAULT_HEALTH = "{current}/bin/commune-radio health --critical-only --quiet --expect-version {version}"
PIP_TIMEOUT_S = 1800.0
RESTART_TIMEOUT_S = 180.0


class UpdateError(CommuneRadioError):
    code = "update.failed"


@dataclasses.dataclass(frozen=True)
class Layout:
    root: Path = Path("/")
    prefix: Path = DEFAULT_PREFIX

    @property
    def base(self) -> Path:
        return self.root / self.prefix.relative_to("/")

    @property
    def venvs(self) -> Path:
        return self.base / "venvs"

    @property
    def current(self) -> Path:
        return self.base / "current"

    def current_target(self) -> str | None:
        try:
            return os.readlink(self.current)
        except OSError:
            return None


@dataclasses.dataclass(frozen=True)
class UpdateResult:
    outcome: str                 # 'updated' | 'rolled_back'
    version: str
    venv: str
    previous: str
    vi: str
    en: str
    health_output: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "updated"


Log = Callable[[str], None]


def switch_current(layout: Layout, target: str) -> None:
    """Point ``current`` at ``target`` (relative, e.g. 'venvs/1.2.0') atomically: a new symlink
    under a temp name, renamed over the old one; the rename is the only visible change."""
    tmp = layout.base / f".current.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, layout.current)
    fsync_dir(layout.base)


@contextlib.contextmanager
def _lock(layout: Layout) -> Iterator[None]:
    with open(layout.base / ".update.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError("Một lần cập nhật khác đang chạy.", "Another update is running.",
                              code="update.busy") from None
        yield


def _run(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError as exc:
        return subprocess.CompletedProcess(list(cmd), 127, "", str(exc))
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"timed out after {timeout:.0f} s")


def base_python(layout: Layout) -> str:
    """The interpreter the current venv was made from (``home`` in its pyvenv.cfg)."""
    with contextlib.suppress(OSError):
        for line in (layout.current / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                for name in ("python3", "python"):
                    candidate = Path(value.strip()) / name
                    if candidate.exists():
                        return str(candidate)
    return shutil.which("python3") or "python3"


def venv_version(venv: Path) -> str | None:
    """The commune-radio version installed in a venv (None if it has none)."""
    # -I: neither the working directory nor PYTHON* variables may lend us another install's metadata.
    probe = _run([str(venv / "bin/python"), "-I", "-c",
                  "from importlib.metadata import version; print(version('commune-radio'))"], timeout=60)
    version = probe.stdout.strip()
    return version if probe.returncode == 0 and version and "/" not in version else None


def build_venv(layout: Layout, package: str, *, python: str, pip_args: Sequence[str] = (),
               log: Log = print) -> tuple[str, str]:
    """Install ``package`` into a fresh venv; returns (directory name under venvs/, version)."""
    layout.venvs.mkdir(parents=True, exist_ok=True)
    staging = layout.venvs / f".staging-{os.getpid()}-{int(time.time())}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        log(f"venv: {staging.name} ({python})")
        made = _run([python, "-m", "venv", "--system-site-packages", str(staging)], timeout=300)
        if made.returncode != 0:
            raise UpdateError(f"Không tạo được môi trường ảo: {made.stderr.strip()[-500:]}",
                              f"Cannot create the virtual environment: {made.stderr.strip()[-500:]}",
                              code="update.venv")
        log(f"pip install {package}")
        pip = _run([str(staging / "bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *pip_args, package], timeout=PIP_TIMEOUT_S)
        if pip.returncode != 0:
            raise UpdateError(f"Cài gói thất bại: {pip.stderr.strip()[-800:]}",
                              f"Installing the package failed: {pip.stderr.strip()[-800:]}", code="update.pip")
        version = venv_version(staging)
        if version is None:
            raise UpdateError("Gói đã cài không phải commune-radio.", "The installed package is not commune-radio.",
                              code="update.not_commune_radio")
        name = version
        n = 1
        while (layout.venvs / name).exists():
            n += 1
            name = f"{version}-{n}"
        final = layout.venvs / name
        _relocate(staging, final)
        staging.rename(final)
        fsync_dir(layout.venvs)
        # The cheapest proof the new version runs at all, before anything is switched.
        smoke = _run([str(final / "bin/commune-radio"), "--version"], timeout=120)
        if smoke.returncode != 0:
            shutil.rmtree(final, ignore_errors=True)
            detail = (smoke.stderr or smoke.stdout).strip()[-800:]
            raise UpdateError(f"Phiên bản mới không chạy được (--version): {detail}",
                              f"The new version does not run (--version): {detail}", code="update.smoke")
        return name, version
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _relocate(staging: Path, final: Path) -> None:
    """A venv writes its own path into its scripts: point them at the final directory."""
    old, new = str(staging), str(final)
    for path in [*(staging / "bin").iterdir(), staging / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old.encode() in data:
            mode = path.stat().st_mode
            path.write_bytes(data.replace(old.encode(), new.encode()))
            path.chmod(mode)


def _wait_healthy(health_cmd: Sequence[str], *, timeout_s: float, poll_s: float, log: Log) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        result = _run(health_cmd, timeout=max(5.0, min(60.0, timeout_s)))
        last = (result.stdout + result.stderr).strip()[-800:]
        if result.returncode == 0:
            return True, last
        if time.monotonic() + poll_s > deadline:
            log(f"health: exit {result.returncode} {last}")
            return False, last
        time.sleep(poll_s)


def _format(cmd: str | Sequence[str], **values: str) -> list[str]:
    import shlex

    parts = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    return [p.format(**values) for p in parts]


def update(package: str, *, layout: Layout = Layout(), restart: str | Sequence[str] = DEFAULT_RESTART,
           health: str | Sequence[str] = DEFAULT_HEALTH, health_timeout_s: float = 120.0, poll_s: float = 2.0,
           force: bool = False, on_air: Callable[[], bool] = lambda: False, pip_args: Sequence[str] = (),
           python: str | None = None, keep: int = 2, log: Log = print) -> UpdateResult:
    """Install, switch, restart, check; roll back on failure. Raises UpdateError when nothing was
    switched (refused mid-broadcast, build failed); returns ``rolled_back`` when it switched back."""
    previous = layout.current_target()
    if previous is None or not (layout.base / previous).is_dir():
        raise UpdateError(f"Chưa cài đặt: không có {layout.current}. Hãy chạy install/install.sh.",
                          f"Not installed: no {layout.current}. Run install/install.sh first.",
                          code="update.not_installed")

    def refuse_if_on_air() -> None:
        if not force and on_air():
            raise UpdateError("Đang phát: không khởi động lại giữa chừng. Thử lại sau, hoặc dùng --force.",
                              "A broadcast is on air: not restarting in the middle of it. Retry later, or --force.",
                              code="update.on_air")

    with _lock(layout):
        refuse_if_on_air()
        name, version = build_venv(layout, package, python=python or base_python(layout), pip_args=pip_args,
                                   log=log)
        target = f"venvs/{name}"
        try:
            refuse_if_on_air()
        except UpdateError:
            shutil.rmtree(layout.venvs / name, ignore_errors=True)
            raise
        values = {"current": str(layout.current), "version": version, "root": str(layout.root)}
        log(f"switch: current -> {target} (was {previous})")
        switch_current(layout, target)
        restarted = _run(_format(restart, **values), timeout=RESTART_TIMEOUT_S)
        healthy, output = False, f"restart failed: {restarted.stderr.strip()[-500:]}"
        if restarted.returncode == 0:
            healthy, output = _wait_healthy(_format(health, **values), timeout_s=health_timeout_s, poll_s=poll_s,
                                            log=log)
        if healthy:
            _prune(layout, keep={name, previous.split("/")[-1]}, limit=keep, log=log)
            log(f"updated to {version}")
            return UpdateResult("updated", version, target, previous, f"Đã cập nhật lên {version}.",
                                f"Updated to {version}.", output)

        log(f"rollback: current -> {previous}")
        switch_current(layout, previous)
        old = values | {"version": venv_version(layout.base / previous) or ""}
        back = _run(_format(restart, **old), timeout=RESTART_TIMEOUT_S)
        back_ok = back.returncode == 0 and _wait_healthy(_format(health, **old), timeout_s=health_timeout_s,
                                                         poll_s=poll_s, log=log)[0]
        shutil.rmtree(layout.venvs / name, ignore_errors=True)
        tail_vi = "Bản cũ đã chạy lại bình thường." if back_ok else "CẢNH BÁO: bản cũ cũng chưa khoẻ, hãy kiểm tra."
        tail_en = "The previous version is healthy again." if back_ok else "WARNING: the previous version is not healthy either."
        return UpdateResult(
            "rolled_back", version, target, previous,
            f"Phiên bản {version} không khoẻ trong {health_timeout_s:.0f} giây: đã quay lại {previous}. {tail_vi}",
            f"Version {version} was not healthy within {health_timeout_s:.0f} s: rolled back to {previous}. {tail_en}",
            output)


def _prune(layout: Layout, *, keep: set[str], limit: int, log: Log) -> None:
    """Keep the current and previous venvs (SD space); remove older ones."""
    others = sorted((p for p in layout.venvs.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and p.name not in keep), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in others[max(0, limit - len(keep)):]:
        log(f"removing old venv {path.name}")
        shutil.rmtree(path, ignore_errors=True)
