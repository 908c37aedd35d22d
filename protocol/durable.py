"""Crash-safe file writes: temp name in the same directory, fsync, rename, fsync the directory.

A power cut at any instant leaves either the old file or the complete new one under the
final name, never a half-written file. Temp files carry a ``.part-`` prefix so a start-up
sweep (``remove_stale_temps``) can delete leftovers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".part-"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Open a temp file next to ``path``; on clean exit it is fsynced and renamed into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | Iterable[bytes], *, mode: int = 0o644) -> None:
    with atomic_writer(path, mode=mode) as handle:
        if isinstance(data, bytes | bytearray | memoryview):
            handle.write(data)
        else:
            for chunk in data:
                handle.write(chunk)


def create_once_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> bool:
    """Write ``path`` crash-safely unless it exists; True if this call created it.

    Unlike ``atomic_write_bytes`` it never replaces a file: two processes creating the same file
    at once (two first starts) agree on one content, the first one linked into place.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, target)  # atomic, and fails if the name exists (rename would replace it)
        except FileExistsError:
            return False
        fsync_dir(target.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def remove_stale_temps(directory: Path, *, recursive: bool = True) -> int:
    """Delete temp files left by a crash; returns how many were removed."""
    removed = 0
    if not directory.is_dir():
        return 0
    found = directory.rglob(f"{TEMP_PREFIX}*") if recursive else directory.glob(f"{TEMP_PREFIX}*")
    for entry in found:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed += 1
    return removed
