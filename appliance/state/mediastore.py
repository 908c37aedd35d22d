"""Content-addressed media files under ``<data_dir>/media/ab/abcdef…`` (sha256, lower-case hex).

A file only ever appears under its final name complete and verified: downloads grow a
``.part-<sha>`` file next to it (a fixed name, so an interrupted download resumes with
HTTP Range even after a crash), and ``commit_partial`` checks size and sha256, fsyncs, renames
and fsyncs the directory. Identical media is stored once because the name is the content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from protocol.durable import TEMP_PREFIX, fsync_dir
from protocol.errors import StorageError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
# A partial download nobody asked for in this long is abandoned by retention.
STALE_PARTIAL_S = 7 * 24 * 3600


class MediaMismatch(StorageError):
    """The bytes on disk are not what the signed item announced (size or sha256)."""

    code = "media_mismatch"

    def __init__(self, vi: str, en: str, *, reason: str) -> None:
        super().__init__(vi, en)
        self.reason = reason


@dataclass(frozen=True)
class RetentionReport:
    deleted: tuple[str, ...]
    freed_bytes: int
    partials_removed: int


def check_sha(sha: str) -> str:
    """The sha256 if it is 64 lower-case hex digits; anything else could escape the directory."""
    if not isinstance(sha, str) or not SHA256_RE.fullmatch(sha):  # fullmatch: '$' would allow a final '\n'
        shown = repr(sha)[:80]
        raise StorageError(f"Mã sha256 không hợp lệ: {shown}.", f"Invalid sha256: {shown}.")
    return sha


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class MediaStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ naming

    def path_for(self, sha: str) -> Path:
        check_sha(sha)
        return self.root / sha[:2] / sha

    def partial_path(self, sha: str) -> Path:
        check_sha(sha)
        return self.root / sha[:2] / f"{TEMP_PREFIX}{sha}"

    # ------------------------------------------------------------------ queries

    def has(self, sha: str) -> bool:
        return self.path_for(sha).is_file()

    def size_of(self, sha: str) -> int | None:
        try:
            return self.path_for(sha).stat().st_size
        except FileNotFoundError:
            return None

    def partial_bytes(self, sha: str) -> int:
        try:
            return self.partial_path(sha).stat().st_size
        except FileNotFoundError:
            return 0

    def verify(self, sha: str) -> bool:
        """Whether the stored file exists and still hashes to its name (catches SD-card rot)."""
        path = self.path_for(sha)
        try:
            return sha256_file(path) == sha
        except FileNotFoundError:
            return False

    def list(self) -> Iterator[str]:
        """sha256 of every complete file in the store."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if not sub.is_dir() or len(sub.name) != 2:
                continue
            for entry in sorted(sub.iterdir()):
                if SHA256_RE.match(entry.name) and entry.name[:2] == sub.name and entry.is_file():
                    yield entry.name

    def total_bytes(self) -> int:
        """Bytes on disk, partial downloads included (they occupy the card too)."""
        total = 0
        if not self.root.is_dir():
            return 0
        for sub in self.root.iterdir():
            if sub.is_dir():
                for entry in sub.iterdir():
                    with contextlib.suppress(FileNotFoundError):
                        total += entry.stat().st_size
        return total

    def fits(self, incoming_bytes: int, quota_bytes: int, sha: str | None = None, *,
             reserve_bytes: int = 0) -> bool:
        """Whether ``incoming_bytes`` more (minus what a partial of ``sha`` already holds) stay in the
        quota and leave ``reserve_bytes`` free on the card itself."""
        needed = incoming_bytes - (self.partial_bytes(sha) if sha else 0)
        return self.total_bytes() + needed <= quota_bytes and needed <= self.disk_free_bytes() - reserve_bytes

    def disk_free_bytes(self) -> int:
        """Free bytes on the file system that holds the media (the SD card)."""
        probe = self.root if self.root.is_dir() else self.root.parent
        try:
            return shutil.disk_usage(probe).free
        except OSError:
            return 0

    def drop_partials(self, keep: str | None = None) -> tuple[int, int]:
        """Delete every partial download but ``keep``'s; returns (files, bytes) freed.

        Partials are resumable but play nothing: when room is short they go before any
        complete file does.
        """
        files = freed = 0
        if not self.root.is_dir():
            return 0, 0
        for entry in self.root.glob(f"??/{TEMP_PREFIX}*"):
            if keep is not None and entry.name == f"{TEMP_PREFIX}{keep}":
                continue
            with contextlib.suppress(FileNotFoundError):
                size = entry.lstat().st_size if entry.is_symlink() else entry.stat().st_size
                entry.unlink()
                files += 1
                freed += size
        return files, freed

    # ------------------------------------------------------------------ writing

    def put_bytes(self, data: bytes) -> str:
        return self._put_chunks([bytes(data)])

    def put_file(self, src: str | os.PathLike[str]) -> str:
        def chunks() -> Iterator[bytes]:
            with open(src, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk
        try:
            return self._put_chunks(chunks())
        except FileNotFoundError:
            raise StorageError(f"Không tìm thấy tệp {src}.", f"File {src} not found.") from None

    def _put_chunks(self, chunks: Iterable[bytes]) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            sha = digest.hexdigest()
            if self.has(sha):
                tmp.unlink()
                return sha
            self._install(tmp, sha)
            return sha
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def open_partial(self, sha: str) -> Path:
        """The partial download file for ``sha`` (its directory created); append to resume."""
        path = self.partial_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def discard_partial(self, sha: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.partial_path(sha).unlink()  # a symlink itself, never its target

    def commit_partial(self, sha: str, expected_bytes: int) -> Path:
        """Verify the partial download (size, then sha256) and move it into place atomically.

        A mismatch deletes the partial (its bytes are worthless) and raises MediaMismatch.
        """
        part = self.partial_path(sha)
        try:
            size = part.stat().st_size
        except FileNotFoundError:
            raise MediaMismatch("Chưa có dữ liệu tải về.", "Nothing was downloaded.", reason="missing") from None
        if size != expected_bytes:
            self.discard_partial(sha)
            raise MediaMismatch(
                f"Tệp tải về có {size} byte, khác {expected_bytes} byte đã ký.",
                f"Downloaded file has {size} bytes, not the signed {expected_bytes}.",
                reason="size_mismatch")
        actual = sha256_file(part)
        if actual != sha:
            self.discard_partial(sha)
            raise MediaMismatch(
                f"Mã kiểm tra sha256 của tệp tải về ({actual[:12]}…) khác mã đã ký ({sha[:12]}…).",
                f"Downloaded file's sha256 ({actual[:12]}…) differs from the signed one ({sha[:12]}…).",
                reason="checksum_mismatch")
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
        return self._install(part, sha)

    def _install(self, tmp: Path, sha: str) -> Path:
        final = self.path_for(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        if tmp.parent != final.parent:
            fsync_dir(tmp.parent)
        return final

    # ------------------------------------------------------------------ deleting

    def delete(self, sha: str) -> None:
        path = self.path_for(sha)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)

    def retain(self, keep: set[str], *, now: float | None = None) -> RetentionReport:
        """Delete every complete file not in ``keep``, and abandoned partial downloads.

        The caller builds ``keep`` from what must survive: media of non-expired items, of
        future slots and of what is playing. Partials of kept media are left to resume.
        """
        now = time.time() if now is None else now
        deleted: list[str] = []
        freed = 0
        for sha in list(self.list()):
            if sha in keep:
                continue
            size = self.size_of(sha) or 0
            self.delete(sha)
            deleted.append(sha)
            freed += size
        partials = 0
        if self.root.is_dir():
            for entry in self.root.rglob(f"{TEMP_PREFIX}*"):
                name = entry.name[len(TEMP_PREFIX):]
                try:
                    age = now - entry.stat().st_mtime
                except FileNotFoundError:
                    continue
                if name in keep and age < STALE_PARTIAL_S:
                    continue
                # Temp files from put_file() in flight are young; leave them to their writer.
                if not SHA256_RE.match(name) and age < 3600:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    freed += entry.stat().st_size
                    entry.unlink()
                    partials += 1
        return RetentionReport(tuple(deleted), freed, partials)
