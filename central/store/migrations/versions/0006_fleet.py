"""Fleet monitoring for thousands of devices (issue 13, item 4).

- ``devices.province``: the province a device belongs to (given at registration, e.g. by the
  bulk CSV import), indexed with the commune for the fleet page's filters.
- ``device_state.last_failed_play_at``: when the device last reported a play that failed or was
  skipped (set by uploads, so the alerts view reads a column, never the play log).
- ``device_presence``: when each device was last heard from (``last_seen_at``, the indexed
  ``offline_at``) moves out of ``device_state`` into a narrow table of its own: it is the one
  thing every heartbeat changes, and a narrow row lets a group commit of heartbeats rewrite few
  pages (SQLite writes whole 4 KB pages; issue 13's ≤ 4 KB per heartbeat).
- indexes for the fleet page's filters and sorts: software version, last seen, failed plays.

Frozen: change the schema in a new revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central.store.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("province", sa.Text, nullable=False, server_default=""))
    op.create_index("devices_province", "devices", ["province", "commune", "id"])

    op.create_table(
        "device_presence",
        sa.Column("device_id", sa.Text, primary_key=True),
        sa.Column("last_seen_at", UtcDateTime),
        sa.Column("offline_at", UtcDateTime),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO device_presence (device_id, last_seen_at, offline_at) "
               "SELECT device_id, last_seen_at, offline_at FROM device_state")
    op.create_index("device_presence_offline_at", "device_presence", ["offline_at"])
    op.create_index("device_presence_last_seen", "device_presence", ["last_seen_at"])

    op.drop_index("device_state_offline_at", table_name="device_state")
    with op.batch_alter_table("device_state") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("offline_at")
        batch.add_column(sa.Column("last_failed_play_at", UtcDateTime))
    op.create_index("device_state_software", "device_state", ["software_version"])
    op.create_index("device_state_failed_play", "device_state", ["last_failed_play_at"])


def downgrade() -> None:  # pragma: no cover - central never downgrades (docs/central-deployment.md)
    raise NotImplementedError("restore a backup to go back")
