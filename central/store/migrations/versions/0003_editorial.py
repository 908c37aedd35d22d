"""People and the editorial workflow (issue 12).

- ``people``: accounts with roles (editor, approver, admin) and a scope (country, a province,
  a list of communes), argon2id password hashes.
- ``api_tokens``: named, role-scoped, revocable tokens for automation. The single admin token
  of earlier revisions (its hash in ``meta``) becomes the token named ``admin`` with the admin
  role, so scripts holding it keep working until an admin revokes it.
- ``audit_log``, ``editorial_items`` (author, review status, areas), ``item_history`` (every
  step of every item, with its content).
- ``items.target_communes``: the communes an item is for (NULL: everywhere).
- ``admin_sessions.person_id``: a session belongs to a person; the token sessions of earlier
  revisions are closed (their users log in again, with an account).

Frozen: change the schema in a new revision.

Revision ID: 0003
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from central.store.types import UtcDateTime

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("target_communes", sa.Text))
    op.execute("DELETE FROM admin_sessions")
    with op.batch_alter_table("admin_sessions") as batch:
        batch.add_column(sa.Column("person_id", sa.BigInteger))

    op.create_table(
        "people",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False, server_default="vi"),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("password_changed_at", UtcDateTime, nullable=False),
    )
    tokens = op.create_table(
        "api_tokens",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime),
        sa.Column("last_used_at", UtcDateTime),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False, server_default=""),
        sa.Column("address", sa.Text, nullable=False, server_default=""),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("audit_log_at", "audit_log", ["at"])
    op.create_table(
        "editorial_items",
        sa.Column("item_id", sa.Text, primary_key=True),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("areas", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("editorial_items_status", "editorial_items", ["status"])
    op.create_table(
        "item_history",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Text, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("content", sa.Text),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("item_history_item", "item_history", ["item_id", "id"])

    # The old shared admin token carries over as the automation token named "admin".
    old = op.get_bind().execute(sa.text("SELECT value FROM meta WHERE key = 'admin_token_sha256'")).scalar()
    if old:
        op.bulk_insert(tokens, [{"name": "admin", "token_sha256": old, "roles": '["admin"]',
                                 "created_by": "migration 0003", "created_at": datetime.now(UTC)}])
        op.execute("DELETE FROM meta WHERE key = 'admin_token_sha256'")


def downgrade() -> None:
    raise NotImplementedError("central's revisions go forward only")
