"""The data model for a national fleet (issue 13).

- ``devices`` loses ``last_seen_at`` (a feed poll no longer writes) and gains ``commune``.
- ``device_state`` becomes one row per registered device, updated in place: last heartbeat,
  an indexed ``offline_at``, software version, problems, the last play and a play count.
- ``heartbeats`` (every heartbeat, 1000 per device) becomes ``heartbeat_samples`` (one per
  sample period, kept for the retention period).
- ``device_logs`` is unique per (device, entry id, at), typed ``at``; on PostgreSQL it is
  partitioned by month of ``at``.
- ``feed_counter`` serialises publication numbers; ``feed_audience`` indexes publications by
  who they are for.

Existing rows are carried over. Frozen: change the schema in a new revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from central.store import partitions
from central.store.types import UtcDateTime, format_time

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OFFLINE_AFTER_INTERVALS = 1.5
LOG_COLUMNS = "seq, device_id, entry_id, type, at, item_id, outcome, data, received_at"


def _audience(zones: list[str], devices: list[str]) -> list[str]:
    # Frozen copy of central.audience.item_audience as it was at this revision.
    if devices != ["*"]:
        return sorted({f"device:{d}" for d in devices})
    if zones != ["*"]:
        return sorted({f"zone:{z}" for z in zones})
    return ["all"]


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value)
    try:
        return datetime.fromisoformat(text[:-1] if text.endswith("Z") else text).replace(tzinfo=UTC)
    except ValueError:
        return None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"

    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("commune", sa.Text, nullable=False, server_default=""))
        batch.drop_column("last_seen_at")
    op.execute("UPDATE devices SET commune = substr(id, 1, 5)")
    op.create_index("devices_commune", "devices", ["commune", "id"])

    _device_state(bind)
    _heartbeat_samples(bind)
    _device_logs(bind, postgres)
    _feed(bind)

    op.create_index("commands_issued", "commands", ["issued_at"])
    op.create_index("command_reports_device", "command_reports", ["device_id", "id"])
    op.create_index("command_reports_received", "command_reports", ["received_at"])
    op.create_index("admin_sessions_expires", "admin_sessions", ["expires_at"])


def _device_state(bind: sa.Connection) -> None:
    op.rename_table("device_state", "device_state_v1")
    state = op.create_table(
        "device_state",
        sa.Column("device_id", sa.Text, primary_key=True),
        sa.Column("last_seen_at", UtcDateTime),
        sa.Column("offline_at", UtcDateTime),
        sa.Column("interval_s", sa.Integer),
        sa.Column("boot_id", sa.Text),
        sa.Column("software_version", sa.Text),
        sa.Column("problems", sa.Text, nullable=False, server_default=""),
        sa.Column("heartbeat", sa.Text),
        sa.Column("last_sample_at", UtcDateTime),
        sa.Column("last_play_at", UtcDateTime),
        sa.Column("last_play", sa.Text),
        sa.Column("plays_logged", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("device_state_offline_at", "device_state", ["offline_at"])
    old = {r.device_id: r for r in bind.execute(sa.text(
        "SELECT device_id, last_seen_at, interval_s, heartbeat FROM device_state_v1"))}
    counts = {r.device_id: (r.n, r.seq) for r in bind.execute(sa.text(
        "SELECT device_id, COUNT(*) AS n, MAX(seq) AS seq FROM device_logs WHERE type = 'play'"
        " GROUP BY device_id"))}
    rows = []
    for (device_id,) in bind.execute(sa.text("SELECT id FROM devices")):
        row: dict[str, Any] = {"device_id": device_id, "last_seen_at": None, "offline_at": None,
                               "interval_s": None, "boot_id": None, "software_version": None, "problems": "",
                               "heartbeat": None, "last_sample_at": None, "last_play_at": None,
                               "last_play": None, "plays_logged": 0}
        if device_id in old:
            seen = _parse(old[device_id].last_seen_at)
            interval = int(old[device_id].interval_s)
            hb = json.loads(old[device_id].heartbeat)
            row.update(last_seen_at=seen, interval_s=interval, heartbeat=old[device_id].heartbeat,
                       boot_id=hb.get("boot_id"), software_version=hb.get("software_version"),
                       offline_at=seen + timedelta(seconds=OFFLINE_AFTER_INTERVALS * interval) if seen else None)
        if device_id in counts:
            n, seq = counts[device_id]
            last = bind.execute(sa.text("SELECT entry_id, at, item_id, outcome, data FROM device_logs"
                                        " WHERE seq = :seq"), {"seq": seq}).one()
            data = json.loads(last.data)
            row.update(plays_logged=int(n), last_play_at=_parse(last.at), last_play=json.dumps({
                "id": last.entry_id, "at": last.at, "item_id": last.item_id, "outcome": last.outcome,
                "zones": data.get("zones"), "started_at": data.get("started_at"),
                "ended_at": data.get("ended_at"), "played_s": data.get("played_s"),
                "trigger": data.get("trigger"), "version": data.get("version")}, ensure_ascii=False))
        rows.append(row)
    if rows:
        op.bulk_insert(state, rows)
    op.drop_table("device_state_v1")


def _heartbeat_samples(bind: sa.Connection) -> None:
    samples = op.create_table(
        "heartbeat_samples",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("heartbeat_samples_device", "heartbeat_samples", ["device_id", "received_at"])
    op.create_index("heartbeat_samples_received", "heartbeat_samples", ["received_at"])
    rows = [{"device_id": r.device_id, "received_at": _parse(r.received_at), "body": r.body}
            for r in bind.execute(sa.text("SELECT device_id, received_at, body FROM heartbeats ORDER BY id"))]
    if rows:
        op.bulk_insert(samples, rows)
    last = {r.device_id: _parse(r.at) for r in bind.execute(sa.text(
        "SELECT device_id, MAX(received_at) AS at FROM heartbeats GROUP BY device_id"))}
    for device_id, at in last.items():
        bind.execute(sa.text("UPDATE device_state SET last_sample_at = :at WHERE device_id = :d"),
                     {"at": at if bind.dialect.name == "postgresql" else format_time(at), "d": device_id})
    op.drop_table("heartbeats")


def _device_logs(bind: sa.Connection, postgres: bool) -> None:
    op.rename_table("device_logs", "device_logs_v1")
    if postgres:
        for statement in (
            "DROP INDEX device_logs_device", "DROP INDEX device_logs_item",
            "CREATE SEQUENCE device_logs_seq_id AS bigint",
            "CREATE TABLE device_logs (seq bigint NOT NULL DEFAULT nextval('device_logs_seq_id'),"
            " device_id text NOT NULL, entry_id text NOT NULL, type text NOT NULL"
            " CONSTRAINT device_logs_type CHECK (type IN ('play', 'rejected', 'relay')),"
            " at timestamptz NOT NULL, item_id text, outcome text, data text NOT NULL,"
            " received_at timestamptz NOT NULL,"
            " CONSTRAINT device_logs_entry UNIQUE (device_id, entry_id, at)) PARTITION BY RANGE (at)",
            "ALTER SEQUENCE device_logs_seq_id OWNED BY device_logs.seq",
            "CREATE INDEX device_logs_device ON device_logs (device_id, type, seq)",
            "CREATE INDEX device_logs_item ON device_logs (item_id, type, at)",
            f"CREATE TABLE {partitions.DEFAULT} PARTITION OF device_logs DEFAULT",
        ):
            op.execute(statement)
        partitions.ensure_months(bind, datetime.now(UTC))
        op.execute(f"INSERT INTO device_logs ({LOG_COLUMNS}) SELECT seq, device_id, entry_id, type,"
                   " CAST(at AS timestamptz), item_id, outcome, data, received_at FROM device_logs_v1")
        op.execute("SELECT setval('device_logs_seq_id', COALESCE((SELECT MAX(seq) FROM device_logs), 0) + 1, false)")
    else:
        op.execute("DROP INDEX device_logs_device")
        op.execute("DROP INDEX device_logs_item")
        op.create_table(
            "device_logs",
            sa.Column("seq", RowId, primary_key=True, autoincrement=True),
            sa.Column("device_id", sa.Text, nullable=False),
            sa.Column("entry_id", sa.Text, nullable=False),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("at", UtcDateTime, nullable=False),
            sa.Column("item_id", sa.Text),
            sa.Column("outcome", sa.Text),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("received_at", UtcDateTime, nullable=False),
            sa.UniqueConstraint("device_id", "entry_id", "at", name="device_logs_entry"),
            sa.CheckConstraint("type IN ('play', 'rejected', 'relay')", name="device_logs_type"),
            sqlite_autoincrement=True,
        )
        op.create_index("device_logs_device", "device_logs", ["device_id", "type", "seq"])
        op.create_index("device_logs_item", "device_logs", ["item_id", "type", "at"])
        # SQLite's text times were already the protocol's UTC text: copied as they are.
        op.execute(f"INSERT INTO device_logs ({LOG_COLUMNS}) SELECT {LOG_COLUMNS} FROM device_logs_v1")
    op.drop_table("device_logs_v1")


def _feed(bind: sa.Connection) -> None:
    counter = op.create_table("feed_counter", sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("last_seq", sa.BigInteger, nullable=False))
    top = bind.execute(sa.text("SELECT COALESCE(MAX(seq), 0) FROM items")).scalar_one()
    op.bulk_insert(counter, [{"id": 1, "last_seq": int(top)}])
    audience = op.create_table(
        "feed_audience",
        sa.Column("audience", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("item_id", sa.Text, nullable=False),
    )
    op.create_index("feed_audience_item", "feed_audience", ["item_id"])
    rows = []
    for r in bind.execute(sa.text("SELECT id, seq, target_zones, target_devices FROM items"
                                  " WHERE published IS NOT NULL")):
        for key in _audience(json.loads(r.target_zones), json.loads(r.target_devices)):
            rows.append({"audience": key, "seq": int(r.seq), "item_id": r.id})
    if rows:
        op.bulk_insert(audience, rows)


def downgrade() -> None:
    raise NotImplementedError("central's migrations go forward only: restore a backup to go back")
