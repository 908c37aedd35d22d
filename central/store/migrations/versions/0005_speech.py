"""Central's rendered speech and its voice-pack offers (issue 17, protocol §4.3 and §4.4).

- ``item_speech``: the signed speech document of an item's current version;
- ``voice_pack_offers``: voice packs offered to every device.

Frozen: change the schema in a new revision.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central.store.types import UtcDateTime

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_speech",
        sa.Column("item_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("media_sha256", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "voice_pack_offers",
        sa.Column("pack_id", sa.Text, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("media_sha256", sa.Text, nullable=False),
        sa.Column("offered_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voice_pack_offers")
    op.drop_table("item_speech")
