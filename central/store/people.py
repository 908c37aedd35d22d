"""People (accounts), automation tokens and the audit log (issue 12's editorial block).

Only hashes of secrets are stored: argon2id for passwords (made by the service), sha256 for
tokens. Rows come back as plain dataclasses; rules (roles, scopes, four eyes) live in
``central.editorial``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import IntegrityError

from central.store.engine import Database
from central.store.schema import api_tokens, audit_log, people


@dataclass(frozen=True)
class PersonRow:
    id: int
    username: str
    display_name: str
    password_hash: str
    roles: tuple[str, ...]
    scope: dict[str, Any]
    language: str
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    token_sha256: str
    roles: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    address: str
    detail: dict[str, Any]


class DuplicatePerson(Exception):
    """A person with this user name exists."""


def _person(row: Row) -> PersonRow:
    return PersonRow(id=int(row.id), username=row.username, display_name=row.display_name,
                     password_hash=row.password_hash, roles=tuple(json.loads(row.roles)),
                     scope=json.loads(row.scope), language=row.language, disabled=bool(row.disabled),
                     created_at=row.created_at)


def _token(row: Row) -> TokenRow:
    return TokenRow(id=int(row.id), name=row.name, token_sha256=row.token_sha256, roles=tuple(json.loads(row.roles)),
                    created_by=row.created_by, created_at=row.created_at, revoked_at=row.revoked_at,
                    last_used_at=row.last_used_at)


class PeopleRepository:
    def __init__(self, conn: Connection, database: Database) -> None:
        self._conn, self._db = conn, database

    # ------------------------------------------------------------------ people

    def add(self, username: str, *, display_name: str, password_hash: str, roles: list[str],
            scope: dict[str, Any], language: str, now: datetime) -> int:
        try:
            with self._conn.begin_nested():
                result = self._conn.execute(people.insert().values(
                    username=username, display_name=display_name, password_hash=password_hash,
                    roles=json.dumps(roles), scope=json.dumps(scope, ensure_ascii=False), language=language,
                    disabled=0, created_at=now, password_changed_at=now).returning(people.c.id))
                return int(result.scalar_one())
        except IntegrityError:
            raise DuplicatePerson(username) from None

    def get(self, person_id: int) -> PersonRow | None:
        row = self._conn.execute(select(people).where(people.c.id == person_id)).one_or_none()
        return _person(row) if row is not None else None

    def by_username(self, username: str) -> PersonRow | None:
        row = self._conn.execute(select(people).where(people.c.username == username)).one_or_none()
        return _person(row) if row is not None else None

    def list(self) -> list[PersonRow]:
        return [_person(r) for r in self._conn.execute(select(people).order_by(people.c.username))]

    def count(self) -> int:
        return len(self._conn.execute(select(people.c.id)).all())

    def set_password(self, person_id: int, password_hash: str, *, now: datetime) -> None:
        self._conn.execute(update(people).where(people.c.id == person_id)
                           .values(password_hash=password_hash, password_changed_at=now))

    def set_access(self, person_id: int, *, roles: list[str], scope: dict[str, Any], disabled: bool) -> bool:
        return self._conn.execute(update(people).where(people.c.id == person_id).values(
            roles=json.dumps(roles), scope=json.dumps(scope, ensure_ascii=False), disabled=int(disabled))).rowcount > 0

    def set_language(self, person_id: int, language: str) -> None:
        self._conn.execute(update(people).where(people.c.id == person_id).values(language=language))

    # ------------------------------------------------------------------ automation tokens

    def add_token(self, name: str, *, token_sha256: str, roles: list[str], created_by: str, now: datetime) -> int:
        result = self._conn.execute(api_tokens.insert().values(
            name=name, token_sha256=token_sha256, roles=json.dumps(roles), created_by=created_by,
            created_at=now).returning(api_tokens.c.id))
        return int(result.scalar_one())

    def token_by_hash(self, token_sha256: str) -> TokenRow | None:
        row = self._conn.execute(select(api_tokens).where(api_tokens.c.token_sha256 == token_sha256)).one_or_none()
        return _token(row) if row is not None else None

    def tokens(self) -> list[TokenRow]:
        return [_token(r) for r in self._conn.execute(select(api_tokens).order_by(api_tokens.c.id))]

    def revoke_token(self, token_id: int, *, now: datetime) -> bool:
        return self._conn.execute(update(api_tokens).where(api_tokens.c.id == token_id,
                                                           api_tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=now)).rowcount > 0

    def revoke_tokens_named(self, name: str, *, now: datetime) -> int:
        return self._conn.execute(update(api_tokens).where(api_tokens.c.name == name,
                                                           api_tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=now)).rowcount

    def token_used(self, token_id: int, *, now: datetime) -> None:
        self._conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))

    # ------------------------------------------------------------------ audit

    def audit(self, *, actor: str, action: str, target: str = "", address: str = "",
              detail: dict[str, Any] | None = None, now: datetime) -> None:
        self._conn.execute(audit_log.insert().values(at=now, actor=actor[:100], action=action, target=target[:200],
                                                     address=address[:100],
                                                     detail=json.dumps(detail or {}, ensure_ascii=False)))

    def audit_recent(self, limit: int = 200) -> list[AuditRow]:
        rows = self._conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
        return [AuditRow(id=int(r.id), at=r.at, actor=r.actor, action=r.action, target=r.target, address=r.address,
                         detail=json.loads(r.detail)) for r in rows]
