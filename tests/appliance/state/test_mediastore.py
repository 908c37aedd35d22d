"""Media store: content addressing, verified commits of partial downloads, quota and retention."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from appliance.state.mediastore import MediaMismatch, MediaStore
from protocol.errors import StorageError


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_bytes_is_content_addressed_and_stored_once(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = b"tieng loa xa " * 1000
    sha = store.put_bytes(data)
    assert sha == _sha(data)
    assert store.path_for(sha) == tmp_path / "media" / sha[:2] / sha
    assert store.path_for(sha).read_bytes() == data
    assert store.has(sha) and store.verify(sha)
    src = tmp_path / "copy.bin"
    src.write_bytes(data)
    assert store.put_file(src) == sha
    assert list(store.list()) == [sha]
    assert store.total_bytes() == len(data)
    # No temp files are left behind by either path.
    assert [p.name for p in (tmp_path / "media").rglob(".part-*")] == []


def test_path_for_refuses_anything_but_a_sha256(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    for bad in ["../../etc/passwd", "A" * 64, "ab", "0" * 63 + "/", "0" * 65, "0" * 64 + "\n"]:
        with pytest.raises(StorageError):
            store.path_for(bad)


def test_commit_partial_verifies_size_then_checksum(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = os.urandom(10_000)
    sha = _sha(data)
    part = store.open_partial(sha)
    part.write_bytes(data[:5000])
    with pytest.raises(MediaMismatch) as short:
        store.commit_partial(sha, len(data))
    assert short.value.reason == "size_mismatch"
    assert not part.exists() and not store.has(sha)

    tampered = bytearray(data)
    tampered[1234] ^= 0x01
    part.write_bytes(bytes(tampered))
    with pytest.raises(MediaMismatch) as flipped:
        store.commit_partial(sha, len(data))
    assert flipped.value.reason == "checksum_mismatch"
    assert not part.exists() and not store.has(sha)

    part.write_bytes(data)
    final = store.commit_partial(sha, len(data))
    assert final == store.path_for(sha) and final.read_bytes() == data
    assert not part.exists() and store.verify(sha)


def test_verify_detects_rot_and_delete_removes(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    sha = store.put_bytes(b"abc" * 100)
    path = store.path_for(sha)
    path.write_bytes(b"abd" * 100)  # a flipped byte on the card
    assert store.has(sha) and not store.verify(sha)
    store.delete(sha)
    assert not store.has(sha) and not store.verify(sha)
    store.delete(sha)  # deleting twice is harmless


def test_fits_counts_partials_and_stored_files(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    store.put_bytes(b"x" * 600)
    sha = _sha(b"y" * 500)
    store.open_partial(sha).write_bytes(b"y" * 200)
    assert store.total_bytes() == 800
    # The 200 bytes already fetched for this sha count once, not twice.
    assert store.fits(500, 1100, sha)
    assert not store.fits(500, 1099, sha)
    assert not store.fits(500, 1100)


def test_retain_keeps_what_is_in_use_and_drops_the_rest(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    keep = store.put_bytes(b"keep me" * 10)
    drop = store.put_bytes(b"drop me" * 10)
    resuming = _sha(b"resume")
    abandoned = _sha(b"abandoned")
    store.open_partial(resuming).write_bytes(b"res")
    store.open_partial(abandoned).write_bytes(b"aban")
    old_part = store.open_partial(_sha(b"old"))
    old_part.write_bytes(b"o")
    report = store.retain({keep, resuming})
    assert report.deleted == (drop,)
    assert report.freed_bytes == 70 + 4 + 1
    assert store.has(keep) and not store.has(drop)
    assert store.partial_bytes(resuming) == 3
    assert store.partial_bytes(abandoned) == 0
    # Even a kept sha's partial goes when it has not grown for a week.
    later = time.time() + 8 * 24 * 3600
    assert store.retain({keep, resuming}, now=later).partials_removed == 1
    assert store.partial_bytes(resuming) == 0 and store.has(keep)
