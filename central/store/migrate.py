"""Bring a database to the newest schema, in one transaction, whichever engine it is on.

The migrations are Alembic revisions in ``central/store/migrations/versions``. A SQLite
``central.db`` made before them (PRAGMA user_version 1-3 from the hand-written scripts now in
``central/store/legacy_sqlite``) first gets its missing old scripts, is stamped at the baseline
revision 0001, and then upgrades like any other database: its items, devices, tokens,
heartbeats and logs stay; the signing key is a file beside it and is never touched.

Several processes may start at once (workers of one server): on PostgreSQL an advisory lock,
on SQLite ``BEGIN IMMEDIATE``, lets one migrate while the others wait and then find nothing
to do.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from central.store.engine import Database
from protocol.errors import StorageError

HERE = Path(__file__).resolve().parent
LEGACY_DIR = HERE / "legacy_sqlite"
BASELINE = "0001"
_LOCK_ID = 0x636F6D6D  # "comm": pg_advisory_xact_lock key of central's migrations


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def upgrade(database: Database) -> str:
    """Migrate to the newest revision; returns it. Raises StorageError (nothing changed)."""
    head = head_revision()
    try:
        with database.read() as conn:
            if current_revision(conn) == head:
                return head  # the common case: no write transaction, no lock
        with database.write() as conn:
            if database.is_postgresql:
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            current = current_revision(conn)
            if current == head:
                return head
            if current is None and not database.is_postgresql and _legacy_version(conn) > 0:
                _adopt_legacy(conn)
            command.upgrade(_config(conn), "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"Nâng cấp cơ sở dữ liệu trung tâm thất bại: {exc}",
                           f"Central database migration failed (nothing was changed): {exc}") from None
    return head


def _legacy_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def _adopt_legacy(conn: Connection) -> None:
    """Run the old scripts a legacy database lacks, then stamp it at the baseline."""
    current = _legacy_version(conn)
    scripts = sorted(LEGACY_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    if current > len(scripts):
        raise StorageError(
            f"Cơ sở dữ liệu trung tâm có phiên bản {current}, mới hơn phần mềm này.",
            f"The central database has legacy version {current}, newer than this software knows.")
    for path in scripts:
        if int(path.name[:4]) <= current:
            continue
        for statement in _statements(path.read_text(encoding="utf-8")):
            conn.exec_driver_sql(statement)
    conn.exec_driver_sql(f"PRAGMA user_version={len(scripts)}")
    command.stamp(_config(conn), BASELINE)


def _statements(script: str) -> list[str]:
    """The statements of a legacy script (no semicolons inside them, comments dropped)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
