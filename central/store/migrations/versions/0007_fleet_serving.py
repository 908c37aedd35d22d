"""Serving a national fleet from one central (issue 13, "Done when"): indexes only.

- ``commands_pending`` (status, expires_at): every process reads the devices with a waiting
  command every few seconds (``central.device_cache``), so a heartbeat needs no query of its own.
- ``device_presence_last_seen_id`` (last_seen_at NULLS FIRST, device_id) replaces
  ``device_presence_last_seen``: the fleet page sorted by last seen (never-seen devices first
  going up, last going down) walks it either way and stops after a page, instead of sorting
  the fleet (PostgreSQL: 200 ms at 100,000 devices with a software-version filter). Same width
  as the index it replaces, so a heartbeat writes no more.

Frozen: change the schema in a new revision.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("commands_pending", "commands", ["status", "expires_at"])
    op.drop_index("device_presence_last_seen", table_name="device_presence")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX device_presence_last_seen_id ON device_presence (last_seen_at NULLS FIRST, device_id)")
    else:  # SQLite sorts NULLs first already
        op.create_index("device_presence_last_seen_id", "device_presence", ["last_seen_at", "device_id"])


def downgrade() -> None:  # pragma: no cover - central never downgrades (docs/central-deployment.md)
    raise NotImplementedError("restore a backup to go back")
