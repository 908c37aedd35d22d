"""Canonical encoding (RFC 8785) and Ed25519 signatures with domain separation.

A signature covers ``DOMAIN + rfc8785(document without "signature")``. The domain prefix keeps
an item signature from ever being accepted as a command signature and the reverse.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.errors import ValidationError
from protocol.rejections import reject
from protocol.spec import KEY_ID_RE, SIGNATURE_ALG

PublicKeys = Ed25519PublicKey | Iterable[Ed25519PublicKey] | Mapping[str, Ed25519PublicKey]



def canonical_bytes(doc: Any) -> bytes:
    """RFC 8785 canonical JSON of ``doc``; raises ``ValueError`` for non-I-JSON values."""
    try:
        return rfc8785.dumps(doc)
    except RecursionError as exc:
        raise ValueError("document nested too deeply") from exc
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"not a JSON value: {exc}") from exc


def without_signature(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "signature"}


def signing_payload(doc: Mapping[str, Any], domain: bytes) -> bytes:
    """The exact bytes a signature covers: domain prefix + canonical document minus ``signature``."""
    return domain + canonical_bytes(without_signature(doc))


def content_digest(doc: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical document without its signature (same content => same digest)."""
    return hashlib.sha256(canonical_bytes(without_signature(doc))).hexdigest()


# --------------------------------------------------------------------------- keys


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex chars of sha256(raw 32-byte public key)."""
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_key_to_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_bytes(public_key)).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Parse central's public key as configured (standard base64 of the 32 raw bytes)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Thiếu khóa công khai của trung tâm.", "Central's public key is missing.")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Khóa công khai không phải base64 hợp lệ.",
                              "The public key is not valid base64.") from exc
    if len(raw) != 32:
        raise ValidationError(f"Khóa công khai phải dài 32 byte (nhận {len(raw)}).",
                              f"The public key must be 32 bytes (got {len(raw)}).")
    return Ed25519PublicKey.from_public_bytes(raw)


def keyring(public_keys: PublicKeys) -> dict[str, Ed25519PublicKey]:
    """Trusted keys by key id, from one key, a list or a mapping."""
    if isinstance(public_keys, Ed25519PublicKey):
        return {key_id(public_keys): public_keys}
    if isinstance(public_keys, Mapping):
        return {key_id(k): k for k in public_keys.values()}
    return {key_id(k): k for k in public_keys}


# --------------------------------------------------------------------------- signing


def sign_document(doc: Mapping[str, Any], private_key: Ed25519PrivateKey, *, domain: bytes) -> dict[str, Any]:
    """Return a copy of ``doc`` with a fresh ``signature`` (any old one is replaced). No shape checks."""
    body = copy.deepcopy(without_signature(doc))
    value = private_key.sign(domain + canonical_bytes(body))
    body["signature"] = {
        "alg": SIGNATURE_ALG,
        "key_id": key_id(private_key.public_key()),
        "value": base64.b64encode(value).decode("ascii"),
    }
    return body



def verify_signature(doc: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey], domain: bytes,
            ident: str | None) -> str:
    """Check the signature block and verify it; returns the key id. Raises RejectedItem."""
    sig = doc.get("signature")
    if sig is None:
        raise reject("missing_signature", "trường 'signature' vắng mặt", "no 'signature' field", ident)
    if not isinstance(sig, dict) or set(sig) != {"alg", "key_id", "value"}:
        raise reject("malformed", "khối chữ ký phải có đúng alg, key_id, value",
                     "the signature block must have exactly alg, key_id, value", ident)
    if sig["alg"] != SIGNATURE_ALG:
        raise reject("bad_signature", "thuật toán chữ ký không được hỗ trợ",
                     f"unsupported signature algorithm {str(sig['alg'])[:20]!r}", ident)
    kid = sig["key_id"]
    if not isinstance(kid, str) or not KEY_ID_RE.match(kid):
        raise reject("malformed", "key_id phải là 16 ký tự hex", "key_id must be 16 hex characters", ident)
    if kid not in keys:
        raise reject("unknown_key", f"khóa {kid} không được tin cậy", f"key {kid} is not trusted", ident)
    value = sig["value"]
    try:
        raw_sig = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw_sig = b""
    if len(raw_sig) != 64:
        raise reject("bad_signature", "giá trị chữ ký không phải 64 byte base64",
                     "the signature value is not 64 base64-encoded bytes", ident)
    try:
        payload = signing_payload(doc, domain)
    except ValueError as exc:
        raise reject("malformed", "không mã hóa chuẩn được (JSON không hợp lệ)",
                     f"cannot be canonicalized: {exc}", ident) from exc
    try:
        keys[kid].verify(raw_sig, payload)
    except InvalidSignature:
        raise reject("bad_signature", "chữ ký không khớp nội dung",
                     "the signature does not match the content", ident) from None
    return kid

