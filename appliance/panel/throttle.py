"""Login throttling: pure rules over plain data, and their adapter over the panel's tables.

Failures are counted per (account, address): whoever guesses locks only their own tries, not
the account for its owner and not everyone behind one NAT or proxy (a commune office). A
global rate limit caps failures across all addresses per minute, so guessing spread over many
addresses gets nowhere either; an (account, address) pair that logged in successfully
recently is exempt from it, so a known operator is not locked out during an attack. Attempts
refused by a lock or the limit are not stored (no password is checked; nothing grows), and
stored attempts are pruned once they no longer count. The admin sees the locks and lifts them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from appliance.state.store import Store
from protocol.errors import ValidationError

FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
PAIR_MAX_FAILURES = 5
GLOBAL_WINDOW = timedelta(minutes=1)
GLOBAL_MAX_FAILURES = 30
KNOWN_FOR = timedelta(days=30)
# How an API-token guesser is counted (user names cannot contain '@').
API_TOKEN_ACCOUNT = "@api-token"


# ------------------------------------------------------------------ pure rules


def lockout_remaining(failures: list[datetime], now: datetime, max_failures: int) -> timedelta | None:
    """Locked while ``max_failures`` failures fall inside the window, for LOCKOUT after the latest
    of them. Returns the time left, or None when not locked."""
    recent = sorted(f for f in failures if now - f <= FAILURE_WINDOW + LOCKOUT)
    if len(recent) < max_failures:
        return None
    # The lock starts at the failure that completed a burst of max_failures within the window.
    for i in range(len(recent) - max_failures, -1, -1):
        burst = recent[i:i + max_failures]
        if burst[-1] - burst[0] <= FAILURE_WINDOW:
            until = recent[-1] + LOCKOUT
            return until - now if until > now else None
    return None


def global_remaining(failures: list[datetime], now: datetime, max_failures: int = GLOBAL_MAX_FAILURES,
                     ) -> timedelta | None:
    """Refused while ``max_failures`` failures (from anywhere) fall in the last GLOBAL_WINDOW."""
    recent = sorted(f for f in failures if timedelta(0) <= now - f < GLOBAL_WINDOW)
    if len(recent) < max_failures:
        return None
    return recent[-max_failures] + GLOBAL_WINDOW - now


class LoginLocked(ValidationError):
    code = "login_locked"

    def __init__(self, remaining: timedelta, *, busy: bool = False) -> None:
        minutes = max(1, int(remaining.total_seconds() // 60) + 1)
        if busy:
            super().__init__(
                f"Có quá nhiều lần đăng nhập sai vào bảng điều khiển này. Hãy thử lại sau {minutes} phút.",
                f"Too many failed logins on this panel. Try again in {minutes} minutes.")
        else:
            super().__init__(f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {minutes} phút.",
                             f"Too many failed attempts. Try again in {minutes} minutes.")
        self.minutes = minutes
        self.busy = busy


@dataclass(frozen=True)
class Lock:
    username: str
    address: str
    failures: int
    until: datetime


# ------------------------------------------------------------------ store adapter


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class LoginThrottle:
    """The rules above over ``panel_login_attempts``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check(self, username: str, address: str, now: datetime) -> None:
        """Raise LoginLocked if this (account, address) is locked or the panel is over its limit."""
        pair = self._times("SELECT at FROM panel_login_attempts WHERE username = ? AND remote_addr = ?"
                           " AND success = 0 AND at >= ?", (username, address, _iso(now - FAILURE_WINDOW - LOCKOUT)))
        remaining = lockout_remaining(pair, now, PAIR_MAX_FAILURES)
        if remaining is not None:
            raise LoginLocked(remaining)
        recent = self._times("SELECT at FROM panel_login_attempts WHERE success = 0 AND at >= ?"
                             " ORDER BY at DESC LIMIT ?", (_iso(now - GLOBAL_WINDOW), GLOBAL_MAX_FAILURES))
        remaining = global_remaining(recent, now)
        if remaining is not None and not self._known(username, address, now):
            raise LoginLocked(remaining, busy=True)

    def record(self, tx: sqlite3.Connection, username: str, address: str, ok: bool, now: datetime) -> None:
        """Store one checked attempt (inside the caller's transaction) and drop what no longer counts."""
        if ok:
            # One success per pair is all the exemption needs; the pair's failures are forgiven.
            tx.execute("DELETE FROM panel_login_attempts WHERE username = ? AND remote_addr = ?",
                       (username, address))
        tx.execute("INSERT INTO panel_login_attempts (username, remote_addr, at, success) VALUES (?, ?, ?, ?)",
                   (username, address, _iso(now), 1 if ok else 0))
        tx.execute("DELETE FROM panel_login_attempts WHERE success = 0 AND at < ?",
                   (_iso(now - FAILURE_WINDOW - LOCKOUT),))
        tx.execute("DELETE FROM panel_login_attempts WHERE success = 1 AND at < ?", (_iso(now - KNOWN_FOR),))

    def locks(self, now: datetime | None = None) -> list[Lock]:
        """The (account, address) pairs locked now, longest-locked last."""
        now = now or datetime.now(UTC)
        rows = self.store.query(
            "SELECT username, remote_addr, at FROM panel_login_attempts WHERE success = 0 AND at >= ?"
            " ORDER BY username, remote_addr", (_iso(now - FAILURE_WINDOW - LOCKOUT),))
        pairs: dict[tuple[str, str], list[datetime]] = {}
        for row in rows:
            moment = _parse(row["at"])
            if moment is not None:
                pairs.setdefault((row["username"], row["remote_addr"]), []).append(moment)
        found = []
        for (username, address), failures in pairs.items():
            remaining = lockout_remaining(failures, now, PAIR_MAX_FAILURES)
            if remaining is not None:
                found.append(Lock(username, address, len(failures), now + remaining))
        return sorted(found, key=lambda lock: lock.until)

    def lift(self, username: str, address: str) -> bool:
        with self.store.transaction() as tx:
            return tx.execute("DELETE FROM panel_login_attempts WHERE username = ? AND remote_addr = ?"
                              " AND success = 0", (username, address)).rowcount > 0

    def _known(self, username: str, address: str, now: datetime) -> bool:
        return self.store.query_one(
            "SELECT 1 FROM panel_login_attempts WHERE username = ? AND remote_addr = ? AND success = 1"
            " AND at >= ?", (username, address, _iso(now - KNOWN_FOR))) is not None

    def _times(self, sql: str, params: tuple[object, ...]) -> list[datetime]:
        return [t for t in (_parse(r["at"]) for r in self.store.query(sql, params)) if t is not None]
