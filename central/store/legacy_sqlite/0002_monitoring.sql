-- Reference central, schema 2: monitoring (heartbeats, uploaded device logs, remote commands).

-- Latest state per device (one row, replaced by each new heartbeat).
CREATE TABLE device_state (
    device_id     TEXT PRIMARY KEY,
    last_seen_at  TEXT NOT NULL,     -- central's clock when the last heartbeat arrived
    interval_s    INTEGER NOT NULL,  -- heartbeat period the device announced (or the default)
    heartbeat     TEXT NOT NULL      -- JSON of the last heartbeat as received
);

-- Heartbeat history; a re-sent heartbeat (same device, boot, sent_at) is stored once.
CREATE TABLE heartbeats (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (device_id, boot_id, sent_at)
);
CREATE INDEX heartbeats_device ON heartbeats(device_id, id);

-- Uploaded outbox entries, once per (device, entry id); seq keeps arrival order.
CREATE TABLE device_logs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('play', 'rejected', 'relay')),
    at          TEXT NOT NULL,
    item_id     TEXT,
    outcome     TEXT,
    data        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (device_id, entry_id)
);
CREATE INDEX device_logs_device ON device_logs(device_id, type, seq);
CREATE INDEX device_logs_item ON device_logs(item_id, type);

-- Commands queued for devices (signed at queueing time).
CREATE TABLE commands (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    document     TEXT NOT NULL,      -- the signed command as sent
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'rejected')),
    error        TEXT,
    result_at    TEXT,
    deliveries   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX commands_device ON commands(device_id, status);

-- Every result a device reported (also for ids central does not know, e.g. a replay or a forgery).
CREATE TABLE command_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    command_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',   -- empty when none (UNIQUE treats NULLs as distinct)
    at          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (device_id, command_id, status, error, at)
);
