"""Baseline: the schema central's hand-written SQLite migrations 0001-0003 had made.

An existing ``central.db`` (PRAGMA user_version 1-3, no alembic_version) is brought to this
revision by its own old scripts (central/store/legacy_sqlite) and stamped, never re-created;
a new database, on either engine, runs this file. Keep it frozen: change the schema in a new
revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.Text, primary_key=True),
                    sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "devices",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("zones", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("draft", sa.Text, nullable=False),
        sa.Column("target_zones", sa.Text, nullable=False),
        sa.Column("target_devices", sa.Text, nullable=False),
        sa.Column("published", sa.Text),
        sa.Column("seq", sa.BigInteger),
        sa.Column("valid_until", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("state IN ('draft', 'approved', 'revoked')", name="items_state"),
    )
    op.create_index("items_seq", "items", ["seq"], unique=True)
    op.create_table(
        "media",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("mime", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "device_state",
        sa.Column("device_id", sa.Text, primary_key=True),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("interval_s", sa.Integer, nullable=False),
        sa.Column("heartbeat", sa.Text, nullable=False),
    )
    op.create_table(
        "heartbeats",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("boot_id", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.UniqueConstraint("device_id", "boot_id", "sent_at"),
    )
    op.create_index("heartbeats_device", "heartbeats", ["device_id", "id"])
    op.create_table(
        "device_logs",
        sa.Column("seq", RowId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("entry_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("item_id", sa.Text),
        sa.Column("outcome", sa.Text),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("device_id", "entry_id"),
        sa.CheckConstraint("type IN ('play', 'rejected', 'relay')", name="device_logs_type"),
    )
    op.create_index("device_logs_device", "device_logs", ["device_id", "type", "seq"])
    op.create_index("device_logs_item", "device_logs", ["item_id", "type"])
    op.create_table(
        "commands",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("issued_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("result_at", UtcDateTime),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed', 'rejected')", name="commands_status"),
    )
    op.create_index("commands_device", "commands", ["device_id", "status"])
    op.create_table(
        "command_reports",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("command_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("device_id", "command_id", "status", "error", "at"),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("id_sha256", sa.Text, primary_key=True),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("central's migrations go forward only: restore a backup to go back")
