"""Operator accounts: users and roles, argon2id passwords, sessions, API tokens (login
throttling: ``appliance.panel.throttle``).

Passwords are hashed with argon2id at OWASP's minimum profile (19 MiB, t=2): strong enough
for a LAN panel and affordable on a Raspberry Pi. A failed login for an unknown user still
costs one hash so that timing does not reveal which names exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError

try:
    from argon2.exceptions import InvalidHashError
except ImportError:  # argon2-cffi < 21.2 (Debian 12's python3-argon2, what armhf installs): the old name
    from argon2.exceptions import InvalidHash as InvalidHashError  # type: ignore[no-redef,attr-defined]

from appliance.panel.password_policy import weakness
from appliance.panel.throttle import LoginThrottle
from appliance.state.store import Store, utc_now_iso
from protocol.errors import ValidationError

ROLES = ("operator", "admin")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_argon2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Every hash runs on one worker thread: argon2's 19 MiB buffer then lives in one malloc arena
# instead of one per waitress thread (which cost ~80 MB of resident memory), and concurrent
# password guesses queue up instead of multiplying CPU and memory.
_kdf_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")


class _Hasher:
    def hash(self, password: str) -> str:
        return _kdf_worker.submit(_argon2.hash, password).result()

    def verify(self, digest: str, password: str) -> bool:
        return _kdf_worker.submit(_argon2.verify, digest, password).result()

    def check_needs_rehash(self, digest: str) -> bool:
        return _argon2.check_needs_rehash(digest)


_hasher = _Hasher()
_DUMMY_HASH = _argon2.hash("not a real password: equalises timing for unknown users")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    language: str
    disabled: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], username=row["username"], role=row["role"],
                language=row["language"], disabled=bool(row["disabled"]))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------ validation (pure)


def validate_username(value: str) -> str:
    name = unicodedata.normalize("NFKC", value or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise ValidationError(
            "Tên đăng nhập phải dài 2–32 ký tự, gồm chữ thường không dấu, số, '.', '_' hoặc '-'.",
            "The user name must be 2-32 characters: lower-case letters, digits, '.', '_' or '-'.",
            code="invalid_input.username")
    return name


def validate_password(value: str, repeat: str | None = None, *, username: str = "") -> str:
    """Long enough, not too long, and not easy to guess (appliance.panel.password_policy)."""
    if not isinstance(value, str) or len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            code="invalid_input.password")
    if len(value) > MAX_PASSWORD_LENGTH or "\x00" in value:
        raise ValidationError("Mật khẩu quá dài hoặc chứa ký tự không hợp lệ.",
                              "The password is too long or contains an invalid character.",
                              code="invalid_input.password")
    weak = weakness(value, username)
    if weak is not None:
        raise ValidationError(f"{weak[0]} Hãy chọn mật khẩu khó đoán hơn, ví dụ một câu ngắn dễ nhớ.",
                              f"{weak[1]} Choose a password that is harder to guess, a short sentence for example.",
                              code="invalid_input.password_common")
    if repeat is not None and value != repeat:
        raise ValidationError("Hai lần nhập mật khẩu không khớp.", "The two passwords do not match.",
                              code="invalid_input.password_repeat")
    return value


def validate_role(value: str) -> str:
    if value not in ROLES:
        raise ValidationError("Vai trò không hợp lệ.", "Invalid role.", code="invalid_input.role")
    return value


# ------------------------------------------------------------------ service


class Accounts:
    """Users, sessions and tokens in the panel tables of the store."""

    def __init__(self, store: Store, *, session_lifetime: timedelta = timedelta(hours=8)) -> None:
        self.store = store
        self.session_lifetime = session_lifetime
        self.throttle = LoginThrottle(store)

    # -------------------------------------------------------------- users

    def has_users(self) -> bool:
        return self.store.query_one("SELECT 1 FROM panel_users LIMIT 1") is not None

    def create_first_admin(self, username: str, password: str, repeat: str) -> User:
        """Only possible while no user exists (checked inside the write transaction)."""
        name = validate_username(username)
        validate_password(password, repeat, username=name)
        digest = _hasher.hash(password)
        now = utc_now_iso()
        with self.store.transaction(durable=True) as tx:
            if tx.execute("SELECT 1 FROM panel_users LIMIT 1").fetchone():
                raise ValidationError("Đã cài đặt xong từ trước.", "Setup is already done.",
                                      code="invalid_input.setup_done")
            cur = tx.execute(
                "INSERT INTO panel_users (username, password_hash, role, language, created_at, updated_at)"
                " VALUES (?, ?, 'admin', 'vi', ?, ?)", (name, digest, now, now))
            user_id = int(cur.lastrowid or 0)
        return self.get(user_id)  # type: ignore[return-value]

    def create_user(self, username: str, password: str, role: str, language: str = "vi") -> User:
        name = validate_username(username)
        validate_password(password, username=name)
        validate_role(role)
        language = language if language in ("vi", "en") else "vi"
        digest = _hasher.hash(password)
        now = utc_now_iso()
        try:
            with self.store.transaction(durable=True) as tx:
                cur = tx.execute(
                    "INSERT INTO panel_users (username, password_hash, role, language, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (name, digest, role, language, now, now))
                user_id = int(cur.lastrowid or 0)
        except sqlite3.IntegrityError:
            raise ValidationError(f"Tên đăng nhập '{name}' đã có người dùng.",
                                  f"The user name '{name}' is already taken.",
                                  code="invalid_input.username_taken") from None
        return self.get(user_id)  # type: ignore[return-value]

    def get(self, user_id: int) -> User | None:
        row = self.store.query_one("SELECT * FROM panel_users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        return [_user(r) for r in self.store.query("SELECT * FROM panel_users ORDER BY username")]

    def update_user(self, user_id: int, *, role: str | None = None, disabled: bool | None = None,
                    password: str | None = None, language: str | None = None) -> User:
        user = self.get(user_id)
        if user is None:
            raise ValidationError("Không tìm thấy người dùng.", "No such user.", code="invalid_input.user")
        sets: list[str] = []
        params: list[object] = []
        if role is not None:
            sets.append("role = ?")
            params.append(validate_role(role))
        if disabled is not None:
            sets.append("disabled = ?")
            params.append(1 if disabled else 0)
        if password:
            sets.append("password_hash = ?")
            params.append(_hasher.hash(validate_password(password, username=user.username)))
        if language in ("vi", "en"):
            sets.append("language = ?")
            params.append(language)
        if not sets:
            return user
        with self.store.transaction(durable=True) as tx:
            if (role == "operator" or disabled) and user.is_admin:
                self._keep_an_admin(tx, user_id)
            tx.execute(f"UPDATE panel_users SET {', '.join(sets)}, updated_at = ? WHERE id = ?",
                       (*params, utc_now_iso(), user_id))
            if password or disabled or role is not None:
                # A changed password, role or lock ends the user's other sessions.
                tx.execute("DELETE FROM panel_sessions WHERE user_id = ?", (user_id,))
        return self.get(user_id)  # type: ignore[return-value]

    def delete_user(self, user_id: int) -> User:
        user = self.get(user_id)
        if user is None:
            raise ValidationError("Không tìm thấy người dùng.", "No such user.", code="invalid_input.user")
        with self.store.transaction(durable=True) as tx:
            if user.is_admin:
                self._keep_an_admin(tx, user_id)
            tx.execute("DELETE FROM panel_users WHERE id = ?", (user_id,))
        return user

    @staticmethod
    def _keep_an_admin(tx: sqlite3.Connection, leaving_id: int) -> None:
        left = tx.execute("SELECT COUNT(*) FROM panel_users WHERE role = 'admin' AND disabled = 0 AND id != ?",
                          (leaving_id,)).fetchone()[0]
        if not left:
            raise ValidationError("Phải luôn còn ít nhất một quản trị viên đang hoạt động.",
                                  "At least one active administrator must remain.",
                                  code="invalid_input.last_admin")

    # -------------------------------------------------------------- login

    def authenticate(self, username: str, password: str, remote_addr: str,
                     now: datetime | None = None) -> User:
        """Check a login, recording the attempt; raises LoginLocked or ValidationError."""
        now = now or datetime.now(UTC)
        name = unicodedata.normalize("NFKC", username or "").strip().lower()[:64]
        password = password if isinstance(password, str) else ""
        self.throttle.check(name, remote_addr, now)
        row = self.store.query_one("SELECT * FROM panel_users WHERE username = ?", (name,)) if name else None
        ok = False
        try:
            ok = _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        ok = ok and row is not None and not row["disabled"]
        with self.store.transaction() as tx:
            self.throttle.record(tx, name, remote_addr, ok, now)
        if not ok:
            raise ValidationError("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password.",
                                  code="login_failed")
        assert row is not None
        if _hasher.check_needs_rehash(row["password_hash"]):
            with self.store.transaction() as tx:
                tx.execute("UPDATE panel_users SET password_hash = ? WHERE id = ?",
                           (_hasher.hash(password), row["id"]))
        return _user(row)

    # -------------------------------------------------------------- sessions

    def start_session(self, user: User, remote_addr: str) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM panel_sessions WHERE expires_at < ?", (_iso(now),))
            tx.execute("INSERT INTO panel_sessions (token_sha256, user_id, created_at, expires_at, remote_addr)"
                       " VALUES (?, ?, ?, ?, ?)",
                       (token_digest(token), user.id, _iso(now), _iso(now + self.session_lifetime), remote_addr))
        return token

    def session_user(self, token: str | None) -> User | None:
        if not token or not isinstance(token, str) or len(token) > 100:
            return None
        row = self.store.query_one(
            "SELECT u.* FROM panel_sessions s JOIN panel_users u ON u.id = s.user_id"
            " WHERE s.token_sha256 = ? AND s.expires_at > ? AND u.disabled = 0",
            (token_digest(token), utc_now_iso()))
        return _user(row) if row else None

    def end_session(self, token: str | None) -> None:
        if token and isinstance(token, str):
            with self.store.transaction() as tx:
                tx.execute("DELETE FROM panel_sessions WHERE token_sha256 = ?", (token_digest(token),))

    # -------------------------------------------------------------- API tokens

    def create_token(self, user_id: int, label: str) -> str:
        label = (label or "").strip()
        if not 1 <= len(label) <= 64 or any(unicodedata.category(c).startswith("C") for c in label):
            raise ValidationError("Nhãn phải dài 1–64 ký tự.", "The label must be 1-64 characters.",
                                  code="invalid_input.label")
        if self.get(user_id) is None:
            raise ValidationError("Không tìm thấy người dùng.", "No such user.", code="invalid_input.user")
        token = "crp_" + secrets.token_urlsafe(32)
        with self.store.transaction(durable=True) as tx:
            tx.execute("INSERT INTO panel_api_tokens (token_sha256, user_id, label, created_at) VALUES (?, ?, ?, ?)",
                       (token_digest(token), user_id, label, utc_now_iso()))
        return token

    def token_user(self, token: str) -> tuple[User, str] | None:
        if not token or len(token) > 200:
            return None
        row = self.store.query_one(
            "SELECT u.*, t.id AS token_id, t.label AS token_label FROM panel_api_tokens t"
            " JOIN panel_users u ON u.id = t.user_id WHERE t.token_sha256 = ? AND u.disabled = 0",
            (token_digest(token),))
        if row is None:
            return None
        with self.store.transaction() as tx:
            tx.execute("UPDATE panel_api_tokens SET last_used_at = ? WHERE id = ?", (utc_now_iso(), row["token_id"]))
        return _user(row), row["token_label"]

    def list_tokens(self) -> list[dict[str, object]]:
        rows = self.store.query(
            "SELECT t.id, t.label, t.created_at, t.last_used_at, u.username FROM panel_api_tokens t"
            " JOIN panel_users u ON u.id = t.user_id ORDER BY t.id")
        return [dict(r) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        with self.store.transaction(durable=True) as tx:
            return tx.execute("DELETE FROM panel_api_tokens WHERE id = ?", (token_id,)).rowcount > 0
