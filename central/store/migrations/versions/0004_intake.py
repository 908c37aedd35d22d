"""Automatic intake (issue 12): sources (RSS/Atom feeds, CAP alerts) and what was taken from them.

- ``intake_sources``: one row per configured source, with its conditional-GET validators and
  per-source status (last success, last error, items taken).
- ``intake_entries``: one row per article or alert taken, naming the draft item it became
  (its provenance: source, link, original publication time, guid).

New tables only; nothing to carry over. Frozen: change the schema in a new revision.

Chained after 0005 (speech, merged to main first), so the revisions stay one line:
0001 → 0002 → 0005 → 0004; a database already at 0005 gets these tables on its next start.

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central.store.types import UtcDateTime

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_sources",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("token_sha256", sa.Text, unique=True),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_sha256", sa.Text),
        sa.Column("next_poll_at", UtcDateTime),
        sa.Column("last_poll_at", UtcDateTime),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_success_at", UtcDateTime),
        sa.Column("last_error_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("items_taken", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "intake_entries",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("content_sha256", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("published_at", UtcDateTime),
        sa.Column("taken_at", UtcDateTime, nullable=False),
        sa.Column("item_id", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("extraction", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("cap_key", sa.Text),
        sa.UniqueConstraint("source_id", "guid", name="intake_entries_guid"),
    )
    op.create_index("intake_entries_link", "intake_entries", ["source_id", "link"])
    op.create_index("intake_entries_hash", "intake_entries", ["source_id", "content_sha256"])
    op.create_index("intake_entries_item", "intake_entries", ["item_id"])
    op.create_index("intake_entries_cap", "intake_entries", ["cap_key"])


def downgrade() -> None:
    raise NotImplementedError("central's migrations go forward only: restore a backup to go back")
