"""Automation tokens for central's JSON API and monitoring: named, role-scoped, revocable.

People log in with accounts (``central.editorial.accounts``); scripts and monitoring systems
use tokens: ``commune-central token add NAME --role monitor|admin`` prints one once (only its
sha256 is kept in ``api_tokens``), ``token list`` and ``token revoke ID`` manage them. A token
is accepted as ``Authorization: Bearer <token>`` on ``/api/…`` and the monitoring pages, never
on the editorial pages (writing and approving items is for people) and never by the device
protocol (``/v1/…`` has per-device tokens). Roles: ``monitor`` reads the fleet, ``admin`` also
queues commands and lifts login locks. The single admin token of earlier versions was carried
over as the token named ``admin`` (revision 0003).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from central.store import Store
from central.store.people import TokenRow
from protocol.errors import ValidationError

TOKEN_PREFIX = "cca_"  # makes a leaked token recognisable (and distinct from device tokens)
TOKEN_ROLES = ("monitor", "admin")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class AdminAuth:
    """Automation tokens over central's store (opened and migrated by the catalog)."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def close(self) -> None:
        """Nothing to release: the store belongs to whoever opened it."""

    def __enter__(self) -> AdminAuth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_token(self) -> bool:
        return any(t.revoked_at is None for t in self.tokens())

    def create_token(self, name: str = "admin", roles: Sequence[str] = ("admin",), *, by: str = "cli",
                     replace: bool = True) -> str:
        """A new token (returned once; only its hash is kept). With ``replace``, earlier live
        tokens of the same name are revoked."""
        name = (name or "").strip()
        if not 1 <= len(name) <= 64 or any(ord(ch) < 32 for ch in name):
            raise ValidationError("Tên mã truy cập dài 1–64 ký tự.", "A token name has 1-64 characters.")
        chosen = [r for r in TOKEN_ROLES if r in set(roles)]
        if not chosen or len(chosen) != len(set(roles)):
            raise ValidationError("Vai trò của mã: monitor hoặc admin.", "Token roles: monitor or admin.")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.write() as tx:
            if replace:
                tx.people.revoke_tokens_named(name, now=now)
            tx.people.add_token(name, token_sha256=_sha256(token), roles=chosen, created_by=by, now=now)
            tx.people.audit(actor=by, action="token.add", target=name, detail={"roles": chosen}, now=now)
        return token

    def check_token(self, token: str | None) -> TokenRow | None:
        """The live token row for a presented token, or None (unknown, revoked, malformed)."""
        if not token or len(token) > 512:
            return None
        wanted = _sha256(token)
        with self.store.read() as tx:
            row = tx.people.token_by_hash(wanted)
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, wanted):
            return None
        return row

    def tokens(self) -> list[TokenRow]:
        with self.store.read() as tx:
            return tx.people.tokens()

    def revoke(self, token_id: int, *, by: str) -> bool:
        now = self.clock()
        with self.store.write() as tx:
            done = tx.people.revoke_token(token_id, now=now)
            if done:
                tx.people.audit(actor=by, action="token.revoke", target=str(token_id), now=now)
        return done
