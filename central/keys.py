"""Central's Ed25519 signing key: generated once per data directory, kept 0600."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from protocol.durable import create_once_bytes
from protocol.errors import StorageError

KEY_FILE = "signing_key.b64"


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """Load the signing key, creating it (0600, atomically) on first use.

    Two processes starting on a new data directory at once must end up with the same key (a
    key nobody else holds would sign items no device trusts): the file is created only if
    absent, and whoever lost the race loads the winner's key.
    """
    path = key_path(data_dir)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        create_once_bytes(path, base64.b64encode(raw) + b"\n", mode=0o600)
    return load_key(data_dir)


def load_key(data_dir: Path) -> Ed25519PrivateKey:
    path = key_path(data_dir)
    try:
        if os.stat(path).st_mode & 0o077:
            raise StorageError(f"Khóa ký {path} không được để người khác đọc (cần quyền 0600).",
                               f"The signing key {path} is readable by others (needs mode 0600).")
        raw = base64.b64decode(path.read_bytes().strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (OSError, ValueError) as exc:
        raise StorageError(f"Không đọc được khóa ký {path}: {exc}",
                           f"Cannot read the signing key {path}: {exc}") from None
