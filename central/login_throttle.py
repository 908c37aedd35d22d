"""Throttling of operator logins on central: pure rules, and a small in-memory record of attempts.

Made to be carried over when central's single admin token becomes real accounts: attempts are
keyed by (account, address) (today the account is always ``admin``), so whoever guesses locks
only their own address, never the account for its owner; a global rate limit caps failures
from all addresses together, and an (account, address) pair that logged in recently is exempt
from it. The rules are pure functions over failure times (``pair_locked_for``,
``global_busy_for``); ``LoginThrottle`` keeps the times in memory, bounded (MAX_TRACKED pairs,
old ones dropped first): a restart forgets them, which only ever shortens a lock. A storage
layer that needs locks shared between several central processes can keep the same rules over a
table instead.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.errors import ValidationError

MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Policy:
    pair_max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    global_max_failures: int = 30
    global_window: timedelta = timedelta(minutes=1)
    known_for: timedelta = timedelta(days=30)


POLICY = Policy()


def pair_locked_for(failures: list[datetime], now: datetime, policy: Policy = POLICY) -> timedelta | None:
    """Locked while ``pair_max_failures`` failures fall within ``window``, for ``lockout`` after
    the latest of them; the time left, or None."""
    recent = sorted(f for f in failures if now - f <= policy.window + policy.lockout)
    n = policy.pair_max_failures
    if len(recent) < n:
        return None
    for i in range(len(recent) - n, -1, -1):
        if recent[i + n - 1] - recent[i] <= policy.window:
            until = recent[-1] + policy.lockout
            return until - now if until > now else None
    return None


def global_busy_for(failures: list[datetime], now: datetime, policy: Policy = POLICY) -> timedelta | None:
    """Refused while ``global_max_failures`` failures from anywhere fall in the last ``global_window``."""
    recent = sorted(f for f in failures if timedelta(0) <= now - f < policy.global_window)
    if len(recent) < policy.global_max_failures:
        return None
    return recent[-policy.global_max_failures] + policy.global_window - now


class LoginThrottled(ValidationError):
    code = "login_locked"

    def __init__(self, remaining: timedelta, *, busy: bool) -> None:
        self.retry_after_s = max(1, int(remaining.total_seconds()) + 1)
        minutes = max(1, self.retry_after_s // 60 + (1 if self.retry_after_s % 60 else 0))
        if busy:
            super().__init__(f"Có quá nhiều lần đăng nhập sai vào máy chủ. Hãy thử lại sau {minutes} phút.",
                             f"Too many failed logins on this server. Try again in {minutes} minutes.")
        else:
            super().__init__(f"Đăng nhập sai quá nhiều lần từ địa chỉ này. Hãy thử lại sau {minutes} phút.",
                             f"Too many failed attempts from this address. Try again in {minutes} minutes.")
        self.busy = busy


@dataclass(frozen=True)
class Lock:
    account: str
    address: str
    failures: int
    until: datetime


class LoginThrottle:
    """Thread-safe, bounded record of attempts; ``clock`` is central's (tests move it)."""

    def __init__(self, clock: Callable[[], datetime], policy: Policy = POLICY) -> None:
        self.clock = clock
        self.policy = policy
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._recent: deque[datetime] = deque(maxlen=policy.global_max_failures)
        self._known: dict[tuple[str, str], datetime] = {}

    def check(self, account: str, address: str) -> None:
        """Raise LoginThrottled if this pair is locked, or the server is over its rate limit."""
        now = self.clock()
        with self._lock:
            failures = list(self._failures.get((account, address), ()))
            recent = list(self._recent)
            known_at = self._known.get((account, address))
        remaining = pair_locked_for(failures, now, self.policy)
        if remaining is not None:
            raise LoginThrottled(remaining, busy=False)
        remaining = global_busy_for(recent, now, self.policy)
        if remaining is not None and (known_at is None or now - known_at > self.policy.known_for):
            raise LoginThrottled(remaining, busy=True)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            key = (account, address)
            if key not in self._failures and len(self._failures) >= MAX_TRACKED:
                self._forget_stale(now)
            self._failures.setdefault(key, deque(maxlen=2 * self.policy.pair_max_failures)).append(now)
            self._recent.append(now)

    def succeeded(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.pop((account, address), None)
            if (account, address) not in self._known and len(self._known) >= MAX_TRACKED:
                self._known.pop(min(self._known, key=self._known.__getitem__))
            self._known[(account, address)] = now

    def locks(self) -> list[Lock]:
        now = self.clock()
        with self._lock:
            pairs = [(key, list(times)) for key, times in self._failures.items()]
        found = []
        for (account, address), times in pairs:
            remaining = pair_locked_for(times, now, self.policy)
            if remaining is not None:
                found.append(Lock(account, address, len(times), now + remaining))
        return sorted(found, key=lambda lock: lock.until)

    def lift(self, account: str, address: str) -> bool:
        with self._lock:
            return self._failures.pop((account, address), None) is not None

    def tracked_pairs(self) -> int:
        with self._lock:
            return len(self._failures)

    def _forget_stale(self, now: datetime) -> None:
        """Drop pairs whose failures no longer count; if all still count, the oldest half."""
        horizon = self.policy.window + self.policy.lockout
        stale = [k for k, times in self._failures.items() if not times or now - times[-1] > horizon]
        for key in stale:
            del self._failures[key]
        if len(self._failures) >= MAX_TRACKED:
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 2]:
                del self._failures[key]
