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
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import protocol

TOKEN_KEY = "admin_token_sha256"
TOKEN_PREFIX = "cca_"  # makes a leaked admin token recognisable (and distinct from device tokens)
SESSION_COOKIE = "central_session"
SESSION_TTL = timedelta(hours=12)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class AdminAuth:
    """Admin token and operator sessions over ``central.db`` (the Catalog runs the migrations)."""

    def __init__(self, db_path: Path, *, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, timeout=15.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=15000")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> AdminAuth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ token

    def has_token(self) -> bool:
        return self._stored_hash() is not None

    def _stored_hash(self) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (TOKEN_KEY,)).fetchone()
        return str(row["value"]) if row is not None else None

    def create_token(self) -> str:
        """A new admin token (returned once; only its hash is kept). Replaces the old one and
        closes every operator session."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx() as tx:
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (TOKEN_KEY, _sha256(token)))
            tx.execute("DELETE FROM admin_sessions")
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
        with self._tx() as tx:
            tx.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (protocol.format_utc(now),))
            tx.execute("INSERT INTO admin_sessions (id_sha256, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)",
                       (_sha256(sid), csrf, protocol.format_utc(now), protocol.format_utc(now + SESSION_TTL)))
        return sid, csrf

    def session_csrf(self, sid: str | None) -> str | None:
        """The CSRF token of a live session, or None (unknown, expired or no cookie)."""
        if not sid or len(sid) > 128:
            return None
        with self._lock:
            row = self._conn.execute("SELECT csrf, expires_at FROM admin_sessions WHERE id_sha256 = ?",
                                     (_sha256(sid),)).fetchone()
        if row is None:
            return None
        try:
            if protocol.parse_utc(row["expires_at"]) <= self.clock():
                return None
        except ValueError:
            return None
        return str(row["csrf"])

    def close_session(self, sid: str | None) -> None:
        if not sid:
            return
        with self._tx() as tx:
            tx.execute("DELETE FROM admin_sessions WHERE id_sha256 = ?", (_sha256(sid),))


def csrf_matches(presented: str | None, expected: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
