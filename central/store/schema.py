"""Central's tables as the repositories query them: the schema at the newest migration.

The migrations in ``central/store/migrations/versions`` create and change the real tables
(tests/central/test_store_migrations.py checks that a fresh database matches this file); this
module is what the code reads. A new table is declared here, created by a new migration, and
read and written by one repository module (docs/architecture.md, "Adding a table").

Times are ``UtcDateTime`` (aware UTC datetimes); JSON documents are text, kept exactly as
signed or received.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, Table, Text, UniqueConstraint

from central.store.types import UtcDateTime

metadata = MetaData()
# 64-bit counters on PostgreSQL; SQLite needs "INTEGER PRIMARY KEY" for its rowid alias.
RowId = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# The feed's publication counter, one row. Publishing takes its row lock until commit, so feed
# positions become visible in order and a device never steps over a number committed later.
feed_counter = Table(
    "feed_counter", metadata,
    Column("id", Integer, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("id", Text, primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),   # sha256 hex of the bearer token
    Column("zones", Text, nullable=False),                    # JSON list of zone names
    Column("commune", Text, nullable=False),                  # the 5-digit commune code of the id
    Column("created_at", UtcDateTime, nullable=False),
    # fleet monitoring (0006): the province, given at registration ("" when not given)
    Column("province", Text, nullable=False, server_default=""),
)
Index("devices_commune", devices.c.commune, devices.c.id)
Index("devices_province", devices.c.province, devices.c.commune, devices.c.id)  # fleet monitoring (0006)

# A device's last known state: one row per registered device, updated in place when what the
# device reports changes (and once per sample period); nothing here is an aggregate computed on
# read. The last heartbeat's time is in ``device_presence``.
device_state = Table(
    "device_state", metadata,
    Column("device_id", Text, primary_key=True),
    Column("interval_s", Integer),
    Column("boot_id", Text),
    Column("software_version", Text),
    Column("problems", Text, nullable=False, server_default=""),   # space-separated labels
    Column("heartbeat", Text),                    # JSON of the last heartbeat stored (see below)
    Column("last_sample_at", UtcDateTime),        # when heartbeat_samples last took one
    Column("last_play_at", UtcDateTime),
    Column("last_play", Text),                    # JSON of the last play entry's row
    Column("plays_logged", BigInteger, nullable=False, server_default="0"),
    # fleet monitoring (0006): the last uploaded play that failed or was skipped (alerts view)
    Column("last_failed_play_at", UtcDateTime),
)
# fleet monitoring (0006): the fleet page's filters and sorts
Index("device_state_software", device_state.c.software_version)
Index("device_state_failed_play", device_state.c.last_failed_play_at)

# fleet monitoring (0006): when each device was last heard from, the one thing every heartbeat
# changes: a narrow row (about 60 bytes; SQLite keeps it clustered by device, WITHOUT ROWID), so
# one page holds ~70 devices and a group commit of heartbeats rewrites few pages. "Offline" is
# the indexed ``offline_at`` (last heartbeat + 1.5 announced intervals).
device_presence = Table(
    "device_presence", metadata,
    Column("device_id", Text, primary_key=True),
    Column("last_seen_at", UtcDateTime),          # central's clock at the last heartbeat
    Column("offline_at", UtcDateTime),
    sqlite_with_rowid=False,
)
Index("device_presence_offline_at", device_presence.c.offline_at)
# The fleet page sorted by last seen (never-seen first going up, last going down) and the
# last-seen filters: one index walked either way (0007; it replaces device_presence_last_seen).
# On PostgreSQL it is (last_seen_at NULLS FIRST, device_id), SQLite's own order of NULLs.
Index("device_presence_last_seen_id", device_presence.c.last_seen_at, device_presence.c.device_id)

# Sampled heartbeat history: at most one heartbeat per device per sample period, kept for the
# retention period (central.config.Retention).
heartbeat_samples = Table(
    "heartbeat_samples", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("device_id", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),
)
Index("heartbeat_samples_device", heartbeat_samples.c.device_id, heartbeat_samples.c.received_at)
Index("heartbeat_samples_received", heartbeat_samples.c.received_at)

# Uploaded outbox entries (play, rejected, relay), once per (device, entry id, at). On
# PostgreSQL the table is partitioned by month of ``at`` (a DEFAULT partition catches clocks far
# off); old months are dropped whole at the end of the retention period.
device_logs = Table(
    "device_logs", metadata,
    Column("seq", RowId, primary_key=True, autoincrement=True),  # arrival order
    Column("device_id", Text, nullable=False),
    Column("entry_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("item_id", Text),
    Column("outcome", Text),
    Column("data", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("device_id", "entry_id", "at", name="device_logs_entry"),
)
Index("device_logs_device", device_logs.c.device_id, device_logs.c.type, device_logs.c.seq)
Index("device_logs_item", device_logs.c.item_id, device_logs.c.type, device_logs.c.at)

media = Table(
    "media", metadata,
    Column("sha256", Text, primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("mime", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

items = Table(
    "items", metadata,
    Column("id", Text, primary_key=True),
    Column("state", Text, nullable=False),          # draft | approved | revoked
    Column("version", Integer, nullable=False, server_default="0"),
    Column("draft", Text, nullable=False),          # JSON: content fields awaiting approval
    Column("target_zones", Text, nullable=False),   # JSON list, fixed once published
    Column("target_devices", Text, nullable=False),
    Column("published", Text),                      # JSON of the signed document devices receive
    Column("seq", BigInteger),                      # feed position of ``published``
    Column("valid_until", UtcDateTime),             # of the published document
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("target_communes", Text),                # JSON list of commune codes, NULL: everywhere (0003)
)
Index("items_seq", items.c.seq, unique=True)

# Who a publication is for, by audience key (central.audience): a device's feed reads only the
# keys it belongs to, so an unchanged poll costs the same whatever other communes publish.
feed_audience = Table(
    "feed_audience", metadata,
    Column("audience", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("item_id", Text, nullable=False),
)
Index("feed_audience_item", feed_audience.c.item_id)

commands = Table(
    "commands", metadata,
    Column("id", Text, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("document", Text, nullable=False),       # the signed command as sent
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("status", Text, nullable=False),         # pending | done | failed | rejected
    Column("error", Text),
    Column("result_at", UtcDateTime),
    Column("deliveries", Integer, nullable=False, server_default="0"),
)
Index("commands_device", commands.c.device_id, commands.c.status)
Index("commands_issued", commands.c.issued_at)
Index("commands_pending", commands.c.status, commands.c.expires_at)  # central.device_cache's refresh (0007)

# Every result a device reported (also for ids central does not know: a replay or a forgery).
command_reports = Table(
    "command_reports", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("device_id", Text, nullable=False),
    Column("command_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("error", Text, nullable=False, server_default=""),
    Column("at", Text, nullable=False),             # as the device reported it
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("device_id", "command_id", "status", "error", "at", name="command_reports_once"),
)
Index("command_reports_device", command_reports.c.device_id, command_reports.c.id)
Index("command_reports_received", command_reports.c.received_at)

admin_sessions = Table(
    "admin_sessions", metadata,
    Column("id_sha256", Text, primary_key=True),    # sha256 hex of the cookie value (never the value)
    Column("csrf", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("person_id", BigInteger),                # people.id (0003); sessions are people's
)
Index("admin_sessions_expires", admin_sessions.c.expires_at)

# ---------------------------------------------------------------- intake (issue 12; owner: intake)
# Sources central retrieves from (RSS/Atom feeds, CAP alerts) with their per-source status, and
# one entry per article or alert taken: the provenance of the draft it became (central/intake/).
# Read and written only by central/store/intake.py.
intake_sources = Table(
    "intake_sources", metadata,
    Column("id", Text, primary_key=True),            # operator-chosen name: [a-z0-9][a-z0-9_-]*
    Column("kind", Text, nullable=False),            # feed | cap
    Column("url", Text),                             # polled URL (a CAP source may only be posted to)
    Column("config", Text, nullable=False),          # JSON: allowed hosts, targets, interval, CAP rules
    Column("enabled", Boolean, nullable=False),
    Column("token_sha256", Text, unique=True),       # CAP sources: the poster's bearer token, hashed
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_sha256", Text),                     # of the last feed body parsed (unchanged 200s)
    Column("next_poll_at", UtcDateTime),
    Column("last_poll_at", UtcDateTime),
    Column("last_status", Integer),                  # HTTP status of the last poll
    Column("last_success_at", UtcDateTime),
    Column("last_error_at", UtcDateTime),
    Column("last_error", Text),                      # JSON {code, vi, en}, cleared by a success
    Column("items_taken", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
)

intake_entries = Table(
    "intake_entries", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("source_id", Text, nullable=False),
    Column("guid", Text, nullable=False),            # feed entry id, else link, else content hash
    Column("link", Text),
    Column("content_sha256", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("published_at", UtcDateTime),             # the original publication time, as the source said
    Column("taken_at", UtcDateTime, nullable=False),
    Column("item_id", Text),                         # the draft it became (None: a Test alert, a Cancel)
    Column("outcome", Text, nullable=False),         # draft | approved | test | cancel | ...
    Column("extraction", Text, nullable=False),      # page | summary | cap
    Column("note", Text, nullable=False, server_default=""),
    Column("cap_key", Text),                         # CAP "sender,identifier" (references point at it)
    UniqueConstraint("source_id", "guid", name="intake_entries_guid"),
)
Index("intake_entries_link", intake_entries.c.source_id, intake_entries.c.link)
Index("intake_entries_hash", intake_entries.c.source_id, intake_entries.c.content_sha256)
Index("intake_entries_item", intake_entries.c.item_id)
Index("intake_entries_cap", intake_entries.c.cap_key)

# ---- speech (issue 17): central's rendered speech of text items, and voice packs it offers.
# One speech document per item, for the item's current version (protocol §4.3); replaced when
# the item is approved again, deleted when an editor removes it.
item_speech = Table(
    "item_speech", metadata,
    Column("item_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),       # JSON of the signed speech document
    Column("media_sha256", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Voice packs offered to every device (protocol §4.4); a withdrawn offer is deleted.
voice_pack_offers = Table(
    "voice_pack_offers", metadata,
    Column("pack_id", Text, primary_key=True),
    Column("document", Text, nullable=False),       # JSON of the signed offer
    Column("media_sha256", Text, nullable=False),
    Column("offered_at", UtcDateTime, nullable=False),
)
# ---------------------------------------------------------------- editorial (issue 12): people and items' history
# Revision 0003 also adds ``items.target_communes`` and ``admin_sessions.person_id`` (above).

people = Table(
    "people", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),        # argon2id
    Column("roles", Text, nullable=False),                # JSON list: editor, approver, admin
    Column("scope", Text, nullable=False),                # JSON: {"kind": country|province|communes, "codes": [...]}
    Column("language", Text, nullable=False, server_default="vi"),
    Column("disabled", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
)

# Tokens for automation (scripts, monitoring): named, scoped by role, revocable; only hashes kept.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("token_sha256", Text, nullable=False, unique=True),
    Column("roles", Text, nullable=False),                # JSON list: monitor, admin
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
)

# Who did what, when, from where: logins, people and token changes, every editorial action.
audit_log = Table(
    "audit_log", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("address", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),   # JSON
)
Index("audit_log_at", audit_log.c.at)

# The editorial side of an item: who wrote it, where it stands in review, the areas chosen.
# Items made by intake or the CLI have no row here until an editor touches them.
editorial_items = Table(
    "editorial_items", metadata,
    Column("item_id", Text, primary_key=True),
    Column("author", Text, nullable=False),
    Column("status", Text, nullable=False),               # writing | submitted | rejected | approved | revoked
    Column("areas", Text, nullable=False),                # JSON: {"provinces": [...], "communes": [...]}
    Column("comment", Text, nullable=False, server_default=""),   # the last rejection's reason
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("editorial_items_status", editorial_items.c.status)

# Every step of every item, with the content as it stood then (a version each edit).
item_history = Table(
    "item_history", metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("item_id", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),   # created edited submitted approved emergency_approved rejected revoked
    Column("content", Text),                  # JSON of the draft and targets after the step
    Column("comment", Text, nullable=False, server_default=""),
)
Index("item_history_item", item_history.c.item_id, item_history.c.id)
