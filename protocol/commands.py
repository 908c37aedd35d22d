"""Remote commands: signed by central, carried in heartbeat answers, run at most once (protocol §9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.fields import FieldChecker, ident_of, safe_copy
from protocol.rejections import reject
from protocol.signing import PublicKeys, keyring, sign_document, verify_signature, without_signature
from protocol.spec import (
    COMMAND_DOMAIN,
    COMMAND_FIELDS,
    COMMAND_FUTURE_SKEW_S,
    COMMAND_TYPES,
    DEVICE_ID_RE,
    ID_RE,
    MAX_COMMAND_LIFETIME_S,
    ZONE_RE,
)
from protocol.times import parse_utc


@dataclass(frozen=True)
class Command:
    id: str
    device_id: str
    type: str
    params: dict[str, Any]
    issued_at: str
    expires_at: str
    key_id: str
    document: dict[str, Any]



def _check_params(c: FieldChecker, kind: str, params: Any) -> dict[str, Any]:
    if kind == "play":
        c.exact_keys(params, "params", frozenset({"item_id"}), frozenset({"zones"}))
        c.string(params["item_id"], "params.item_id", max_len=64, pattern=ID_RE)
        if "zones" in params:
            c.name_list(params["zones"], "params.zones", ZONE_RE)
    elif kind == "set_volume":
        c.exact_keys(params, "params", frozenset({"volume"}))
        c.integer(params["volume"], "params.volume", minimum=0, maximum=100)
    else:
        c.exact_keys(params, "params", frozenset())
    return params


def check_command_shape(doc: Any, *, key: str | None = None) -> Command:
    """Validate a command's fields (not its signature, expiry or addressee). Raises ``malformed``."""
    c = FieldChecker(ident_of(doc))
    if not isinstance(doc, dict):
        raise c.fail("command", "phải là đối tượng JSON", "must be a JSON object")
    c.exact_keys(doc, "command", COMMAND_FIELDS - {"signature"}, frozenset({"signature"}))
    ident = c.string(doc["id"], "id", max_len=64, pattern=ID_RE)
    device = c.string(doc["device_id"], "device_id", max_len=22, pattern=DEVICE_ID_RE)
    kind = doc["type"]
    if kind not in COMMAND_TYPES:
        raise c.fail("type", "loại lệnh không hợp lệ", f"must be one of {', '.join(COMMAND_TYPES)}")
    params = _check_params(c, kind, doc["params"])
    issued = c.utc(doc["issued_at"], "issued_at")
    expires = c.utc(doc["expires_at"], "expires_at")
    if not issued < expires <= issued + timedelta(seconds=MAX_COMMAND_LIFETIME_S):
        raise c.fail("expires_at", "phải sau issued_at tối đa 24 giờ",
                     "must be after issued_at, by at most 24 hours")
    return Command(id=ident, device_id=device, type=kind, params=params, issued_at=doc["issued_at"],
                   expires_at=doc["expires_at"], key_id=key or "", document=doc)


def validate_command(doc: Any, device_id: str, now: datetime,
                     public_keys: PublicKeys) -> Command:
    """Verify a heartbeat command: signature, shape, addressee, and validity at ``now`` (aware)."""
    ident = ident_of(doc)
    if not isinstance(doc, dict):
        raise reject("malformed", "lệnh không phải đối tượng JSON", "the command is not a JSON object", ident)
    doc = safe_copy(doc, ident)
    kid = verify_signature(doc, keyring(public_keys), COMMAND_DOMAIN, ident)
    command = check_command_shape(doc, key=kid)
    if command.device_id != device_id:
        raise reject("wrong_device", f"lệnh dành cho {command.device_id}",
                     f"the command is for {command.device_id}", ident)
    if now >= parse_utc(command.expires_at):
        raise reject("expired", f"hết hạn lúc {command.expires_at}", f"expired at {command.expires_at}", ident)
    if parse_utc(command.issued_at) > now + timedelta(seconds=COMMAND_FUTURE_SKEW_S):
        raise reject("not_yet_valid", f"phát hành lúc {command.issued_at}", f"issued at {command.issued_at}", ident)
    return command



def sign_command(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Validate the command's shape, then sign it."""
    check_command_shape(without_signature(doc))
    return sign_document(doc, private_key, domain=COMMAND_DOMAIN)

