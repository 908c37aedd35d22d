"""People at central: accounts with roles and scopes, argon2id passwords, server-side sessions,
and the audit log.

There is no default account and no default password: the first admin is made with
``commune-central user add NAME --role admin`` (the password is asked for, or read from
stdin), and admins make the others in the browser. Sessions are random ids, new at every
login, only their sha256 kept (``admin_sessions``) with their person and CSRF token; the
cookie is HttpOnly and SameSite=Strict. Failed logins are throttled per (account, address)
with a global limit (``central.login_throttle``); a failed login for an unknown name still
costs one hash, so timing does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.editorial import scope as scopes
from central.editorial.units import units
from central.login_throttle import LoginThrottle
from central.store import Store
from central.store.people import DuplicatePerson, PersonRow
from protocol.errors import ValidationError

SESSION_COOKIE = "central_session"
SESSION_TTL = timedelta(hours=12)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
LANGUAGES = ("vi", "en")

_argon2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # argon2id, OWASP minimum
# One worker thread: concurrent guesses queue instead of multiplying CPU and memory.
_kdf = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-argon2")
_DUMMY_HASH = _argon2.hash("not a password: equalises the timing of unknown names")


def _hash(password: str) -> str:
    return _kdf.submit(_argon2.hash, password).result()


def _verify(digest: str, password: str) -> bool:
    def run() -> bool:
        try:
            return bool(_argon2.verify(digest, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _kdf.submit(run).result()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    scope: dict[str, Any]
    language: str
    disabled: bool

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def actor(self) -> str:
        return self.username


def _person(row: PersonRow) -> Person:
    return Person(id=row.id, username=row.username, display_name=row.display_name, roles=row.roles,
                  scope=row.scope, language=row.language, disabled=row.disabled)


class LoginFailed(ValidationError):
    code = "login_failed"

    def __init__(self) -> None:
        super().__init__("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password.")


def validate_username(value: str) -> str:
    name = unicodedata.normalize("NFKC", value or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise ValidationError("Tên đăng nhập dài 2–32 ký tự: chữ thường không dấu, số, '.', '_' hoặc '-'.",
                              "The user name must be 2-32 characters: lower-case letters, digits, '.', '_' or '-'.")
    return name


def validate_password(value: str) -> str:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
                              f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(value) > MAX_PASSWORD_LENGTH or "\x00" in value:
        raise ValidationError("Mật khẩu quá dài hoặc có ký tự không hợp lệ.",
                              "The password is too long or has an invalid character.")
    return value


def check_scope(kind: str, codes: Sequence[str]) -> dict[str, Any]:
    u = units()
    return scopes.check_scope(kind, codes, is_province=lambda c: c in u.by_province,
                              is_commune=lambda c: c in u.by_commune)


class Accounts:
    """People, their sessions and the audit log, over central's store."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime], throttle: LoginThrottle) -> None:
        self.store, self.clock, self.throttle = store, clock, throttle

    # ------------------------------------------------------------------ people

    def has_people(self) -> bool:
        with self.store.read() as tx:
            return tx.people.count() > 0

    def add_person(self, username: str, password: str, *, roles: Sequence[str], scope_kind: str = "country",
                   scope_codes: Sequence[str] = (), display_name: str = "", language: str = "vi",
                   by: str, address: str = "") -> Person:
        name = validate_username(username)
        validate_password(password)
        chosen = scopes.check_roles(roles)
        scope = check_scope(scope_kind, scope_codes)
        shown = (display_name or name).strip()[:100]
        language = language if language in LANGUAGES else "vi"
        digest = _hash(password)
        now = self.clock()
        try:
            with self.store.write() as tx:
                person_id = tx.people.add(name, display_name=shown, password_hash=digest, roles=chosen, scope=scope,
                                          language=language, now=now)
                tx.people.audit(actor=by, action="person.add", target=name, address=address,
                                detail={"roles": chosen, "scope": scope}, now=now)
                row = tx.people.get(person_id)
        except DuplicatePerson:
            raise ValidationError(f"Đã có người dùng {name}.", f"User {name} already exists.") from None
        assert row is not None
        return _person(row)

    def get(self, person_id: int) -> Person | None:
        with self.store.read() as tx:
            row = tx.people.get(person_id)
        return _person(row) if row is not None else None

    def by_username(self, username: str) -> Person | None:
        with self.store.read() as tx:
            row = tx.people.by_username(username)
        return _person(row) if row is not None else None

    def list_people(self) -> list[Person]:
        with self.store.read() as tx:
            return [_person(r) for r in tx.people.list()]

    def set_access(self, person_id: int, *, roles: Sequence[str], scope_kind: str, scope_codes: Sequence[str],
                   disabled: bool, by: Person, address: str = "") -> None:
        chosen = scopes.check_roles(roles)
        scope = check_scope(scope_kind, scope_codes)
        if person_id == by.id and (disabled or "admin" not in chosen):
            raise ValidationError("Bạn không thể tự khoá hoặc tự bỏ quyền quản trị của mình.",
                                  "You cannot disable yourself or drop your own admin role.")
        now = self.clock()
        with self.store.write() as tx:
            if not tx.people.set_access(person_id, roles=chosen, scope=scope, disabled=disabled):
                raise ValidationError("Không có người dùng này.", "No such user.")
            tx.sessions.close_person(person_id)  # new rights take effect at the next login
            tx.people.audit(actor=by.actor, action="person.access", target=str(person_id), address=address,
                            detail={"roles": chosen, "scope": scope, "disabled": disabled}, now=now)

    def set_password(self, person_id: int, password: str, *, by: str, address: str = "") -> None:
        validate_password(password)
        digest = _hash(password)
        now = self.clock()
        with self.store.write() as tx:
            tx.people.set_password(person_id, digest, now=now)
            tx.sessions.close_person(person_id)
            tx.people.audit(actor=by, action="person.password", target=str(person_id), address=address, now=now)

    def set_language(self, person: Person, language: str) -> None:
        if language in LANGUAGES:
            with self.store.write() as tx:
                tx.people.set_language(person.id, language)

    # ------------------------------------------------------------------ sessions

    def login(self, username: str, password: str, *, address: str) -> tuple[str, Person]:
        """A new session id for a right name and password; raises LoginThrottled or LoginFailed."""
        name = unicodedata.normalize("NFKC", username or "").strip().lower()[:64]
        self.throttle.check(name, address)
        with self.store.read() as tx:
            row = tx.people.by_username(name)
        good = _verify(row.password_hash if row is not None else _DUMMY_HASH, (password or "")[:MAX_PASSWORD_LENGTH])
        now = self.clock()
        if row is None or not good or row.disabled:
            self.throttle.failed(name, address)
            with self.store.write() as tx:
                tx.people.audit(actor=name or "?", action="login.failed", address=address, now=now)
            raise LoginFailed()
        self.throttle.succeeded(name, address)
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.store.write() as tx:
            tx.sessions.prune(now=now)
            tx.sessions.open(_sha256(sid), csrf=csrf, now=now, expires_at=now + SESSION_TTL, person_id=row.id)
            tx.people.audit(actor=row.username, action="login", address=address, now=now)
        return sid, _person(row)

    def session(self, sid: str | None) -> tuple[Person, str] | None:
        """(person, CSRF token) of a live session of an enabled person, or None."""
        if not sid or len(sid) > 128:
            return None
        with self.store.read() as tx:
            found = tx.sessions.live_person(_sha256(sid), now=self.clock())
            row = tx.people.get(found[1]) if found is not None else None
        if found is None or row is None or row.disabled:
            return None
        return _person(row), found[0]

    def logout(self, sid: str | None, *, actor: str = "", address: str = "") -> None:
        if not sid:
            return
        now = self.clock()
        with self.store.write() as tx:
            tx.sessions.close(_sha256(sid))
            if actor:
                tx.people.audit(actor=actor, action="logout", address=address, now=now)

    # ------------------------------------------------------------------ audit

    def audit(self, actor: str, action: str, *, target: str = "", address: str = "",
              detail: dict[str, Any] | None = None) -> None:
        with self.store.write() as tx:
            tx.people.audit(actor=actor, action=action, target=target, address=address, detail=detail,
                            now=self.clock())

    def audit_recent(self, limit: int = 200) -> list[Any]:
        with self.store.read() as tx:
            return tx.people.audit_recent(limit)


def csrf_matches(presented: str | None, expected: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
