"""Tiny stand-in ``commune-radio`` wheels built in the test (no network, no build backend).

A real wheel is a zip with a dist-info folder; pip installs it offline with ``--no-index``. The
stand-in's ``commune-radio`` command answers ``--version`` and ``health`` (exit code chosen by
the test), so install and update can be exercised end to end in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

MODULE = '''\
import sys

VERSION = {version!r}
HEALTH_EXIT = {health_exit!r}


def main():
    args = sys.argv[1:]
    if "--version" in args:
        print("commune-radio " + VERSION)
        return 0
    if args[:1] == ["health"]:
        if "--expect-version" in args and args[args.index("--expect-version") + 1] != VERSION:
            return 2
        return HEALTH_EXIT
    return 0
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_standin_wheel(out_dir: Path, version: str, *, health_exit: int = 0, importable: bool = True) -> Path:
    """A ``commune_radio-<version>`` wheel whose command's ``health`` exits ``health_exit``;
    ``importable=False`` makes the command crash on import (a broken build)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dist = f"commune_radio-{version}.dist-info"
    module = MODULE.format(version=version, health_exit=health_exit)
    if not importable:
        module = "raise ImportError('broken build')\n" + module
    files = {
        "commune_radio_standin.py": module.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: commune-radio\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": b"[console_scripts]\ncommune-radio = commune_radio_standin:main\n",
    }
    record = "\n".join(_record_line(n, d) for n, d in files.items()) + f"\n{dist}/RECORD,,\n"
    path = out_dir / f"commune_radio-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist}/RECORD", record)
    return path
