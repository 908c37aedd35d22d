"""What every speech engine provides, and small helpers engines share.

An engine object describes itself in the caller (``name``, ``voice``, ``version()``, ``check()``,
``params()``, ``worker_spec()``) and does its work in the child process that ``audio.tts_worker``
runs (``open()`` -> voice info, ``synthesize(text, out_path)``: one chunk into one WAV file).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any, Protocol


class Engine(Protocol):
    name: str
    voice: str

    def check(self) -> None: ...

    def version(self) -> str: ...

    def params(self) -> dict[str, Any]: ...

    def worker_spec(self) -> tuple[str, dict[str, Any]]: ...

    def open(self) -> dict[str, Any]: ...

    def synthesize(self, text: str, out_path: Path) -> None: ...


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=8)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def worker_path(engine: object) -> str:
    return f"{type(engine).__module__}:{type(engine).__qualname__}"


