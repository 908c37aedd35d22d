"""Serving a national fleet from one central (issue 13, "Done when"): indexes only.

- ``commands_pending`` (status, expires_at): every process reads the devices with a waiting
  command every few seconds (``central.device_cache``), so a heartbeat needs no query of its own.

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


def downgrade() -> None:  # pragma: no cover - central never downgrades (docs/central-deployment.md)
    raise NotImplementedError("restore a backup to go back")
