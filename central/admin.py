"""Operator authentication for the reference central's monitoring pages, JSON API and commands.

One admin token per central data directory: created by ``commune-central init`` (or
``commune-central admin-token`` to replace it), shown once, stored only as a sha256 hash in
``meta``. It is accepted as ``Authorization: Bearer <token>`` by ``/api/monitor/…`` (and the
pages), and through the login form at ``/monitor/login``, which opens a server-side session
(random id, new at every login, only its hash stored, cookie HttpOnly + SameSite=Strict) with
its own anti-CSRF token for the page forms. Replacing the token closes every session.
Without an admin token, every operator route is refused (fail closed).

Device protocol endpoints (``/v1/…``) keep their per-device bearer tokens and never accept
the admin token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from central.store import Store

TOKEN_KEY = "admin_token_sha256"
TOKEN_PREFIX = "cca_"  # makes a leaked admin token recognisable (and distinct from device tokens)
SESSION_COOKIE = "central_session"
SESSION_TTL = timedelta(hours=12)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class AdminAuth:
    """Admin token and operator sessions over central's store (opened and migrated by the catalog)."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def close(self) -> None:
        """Nothing to release: the store belongs to whoever opened it."""

    def __enter__(self) -> AdminAuth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ token

    def has_token(self) -> bool:
        return self._stored_hash() is not None

    def _stored_hash(self) -> str | None:
        with self.store.read() as tx:
            return tx.meta.get(TOKEN_KEY)

    def create_token(self) -> str:
        """A new admin token (returned once; only its hash is kept). Replaces the old one and
        closes every operator session."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as tx:
            tx.meta.set(TOKEN_KEY, _sha256(token))
            tx.sessions.close_all()
        return token

    def check_token(self, token: str | None) -> bool:
        """Constant-time check of a presented admin token (False when none is configured)."""
        stored = self._stored_hash()
        if not token or stored is None or len(token) > 512:
            return False
        return hmac.compare_digest(_sha256(token), stored)

    # ------------------------------------------------------------------ sessions

    def open_session(self) -> tuple[str, str]:
        """A fresh session (never one the browser proposed): returns (cookie value, csrf token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.write() as tx:
            tx.sessions.prune(now=now)
            tx.sessions.open(_sha256(sid), csrf=csrf, now=now, expires_at=now + SESSION_TTL)
        return sid, csrf

    def session_csrf(self, sid: str | None) -> str | None:
        """The CSRF token of a live session, or None (unknown, expired or no cookie)."""
        if not sid or len(sid) > 128:
            return None
        with self.store.read() as tx:
            return tx.sessions.live(_sha256(sid), now=self.clock())

    def close_session(self, sid: str | None) -> None:
        if not sid:
            return
        with self.store.write() as tx:
            tx.sessions.close(_sha256(sid))


def csrf_matches(presented: str | None, expected: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
