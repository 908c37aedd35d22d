"""Central's content-addressed media files and HTTP Range arithmetic.

Files live at ``<root>/ab/abcdef…`` named by their sha256, written atomically, so a file
under its final name is always complete and its name is its checksum.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from protocol.durable import TEMP_PREFIX, atomic_writer, fsync_dir

CHUNK = 64 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header is well-formed but selects no byte of the file (HTTP 416)."""


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA_RE.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return bool(_SHA_RE.match(sha256)) and self.path_for(sha256).is_file()

    def put_stream(self, source: BinaryIO) -> tuple[str, int]:
        """Copy ``source`` in; returns (sha256, bytes). Identical content is stored once."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        # Unique staging name: concurrent uploads must not replace each other's file.
        staging = self.root / f"{TEMP_PREFIX}upload-{secrets.token_hex(8)}"
        with atomic_writer(staging) as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        final = self.path_for(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(final)
        fsync_dir(final.parent)
        return sha, size

    def put_file(self, path: Path) -> tuple[str, int]:
        with open(path, "rb") as handle:
            return self.put_stream(handle)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive (first, last) byte span a single-range header selects.

    None means "serve the whole file": no header, or one we ignore as RFC 9110 allows
    (another unit, several ranges, bad syntax). Raises ``RangeNotSatisfiable`` for 416.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(header)
    return first, min(last, size - 1)
