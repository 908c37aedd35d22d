-- 0003: reporting (outbox of proof-of-play, rejections and relay events; remote commands).
--
-- Entries are queued by TRIGGERS on play_log, rejections and relay_log, so an entry is
-- written in the very transaction that makes its source row final, whichever process or
-- PlayLog instance writes it (daemon, CLI sync, panel): it can be neither lost nor queued
-- twice (the entry id is derived from the source row and is UNIQUE).

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- upload order
    id         TEXT NOT NULL UNIQUE,              -- stable entry id sent to central (protocol §10)
    type       TEXT NOT NULL CHECK (type IN ('play', 'rejected', 'relay')),
    at         TEXT NOT NULL,                     -- UTC ISO 'Z': when it happened
    payload    TEXT NOT NULL,                     -- JSON object: the entry's "data"
    created_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
-- The bound drops the oldest non-play entry first: find it without a scan.
CREATE INDEX outbox_nonplay ON outbox(seq) WHERE type != 'play';

-- depth is kept by triggers (COUNT(*) on every insert would be O(n) on a Pi).
CREATE TABLE outbox_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    depth       INTEGER NOT NULL DEFAULT 0,
    max_entries INTEGER NOT NULL DEFAULT 100000 CHECK (max_entries >= 1)
);
INSERT INTO outbox_state (id, depth, max_entries) VALUES (1, 0, 100000);

CREATE TABLE outbox_dropped (
    type    TEXT PRIMARY KEY,
    count   INTEGER NOT NULL DEFAULT 0,
    last_at TEXT NOT NULL
);

CREATE TRIGGER outbox_depth_down AFTER DELETE ON outbox
BEGIN
    UPDATE outbox_state SET depth = depth - 1 WHERE id = 1;
END;

CREATE TRIGGER outbox_depth_up AFTER INSERT ON outbox
BEGIN
    UPDATE outbox_state SET depth = depth + 1 WHERE id = 1;
    INSERT INTO outbox_dropped (type, count, last_at)
        SELECT type, 1, NEW.created_at FROM outbox
        WHERE (SELECT depth > max_entries FROM outbox_state WHERE id = 1)
          AND seq = COALESCE((SELECT seq FROM outbox WHERE type != 'play' ORDER BY seq LIMIT 1),
                             (SELECT MIN(seq) FROM outbox))
        ON CONFLICT(type) DO UPDATE SET count = count + 1, last_at = excluded.last_at;
    DELETE FROM outbox
        WHERE (SELECT depth > max_entries FROM outbox_state WHERE id = 1)
          AND seq = COALESCE((SELECT seq FROM outbox WHERE type != 'play' ORDER BY seq LIMIT 1),
                             (SELECT MIN(seq) FROM outbox));
END;

-- Proof of play: a play_log row leaving 'playing', or inserted final (skipped occurrences).
-- Mapping to protocol values: outcome interrupted→stopped, failed→error|stalled|overrun
-- (from the reason's prefix), skipped→skipped; trigger operator→manual, central→command.
CREATE TRIGGER outbox_play_finished AFTER UPDATE OF outcome ON play_log
WHEN OLD.outcome = 'playing' AND NEW.outcome != 'playing'
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('p.' || NEW.id, 'play', COALESCE(NEW.actual_end, NEW.updated_at),
        json_object(
            'item_id', NEW.item_id, 'version', NEW.item_version, 'zones', json(NEW.zones),
            'started_at', NEW.actual_start, 'ended_at', NEW.actual_end,
            'scheduled_at', NEW.scheduled_start,
            'outcome', CASE NEW.outcome
                WHEN 'completed' THEN 'completed' WHEN 'interrupted' THEN 'stopped'
                WHEN 'skipped' THEN 'skipped'
                ELSE CASE WHEN NEW.reason LIKE 'stalled%' THEN 'stalled'
                          WHEN NEW.reason LIKE 'overrun%' THEN 'overrun' ELSE 'error' END END,
            'played_s', NEW.played_s,
            'trigger', CASE NEW.trigger WHEN 'operator' THEN 'manual' WHEN 'central' THEN 'command'
                ELSE NEW.trigger END,
            'reason', substr(NEW.reason, 1, 200)),
        NEW.updated_at);
END;

CREATE TRIGGER outbox_play_inserted_final AFTER INSERT ON play_log
WHEN NEW.outcome != 'playing'
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('p.' || NEW.id, 'play', COALESCE(NEW.actual_end, NEW.scheduled_start, NEW.updated_at),
        json_object(
            'item_id', NEW.item_id, 'version', NEW.item_version, 'zones', json(NEW.zones),
            'started_at', NEW.actual_start, 'ended_at', NEW.actual_end,
            'scheduled_at', NEW.scheduled_start,
            'outcome', CASE NEW.outcome
                WHEN 'completed' THEN 'completed' WHEN 'interrupted' THEN 'stopped'
                WHEN 'skipped' THEN 'skipped'
                ELSE CASE WHEN NEW.reason LIKE 'stalled%' THEN 'stalled'
                          WHEN NEW.reason LIKE 'overrun%' THEN 'overrun' ELSE 'error' END END,
            'played_s', NEW.played_s,
            'trigger', CASE NEW.trigger WHEN 'operator' THEN 'manual' WHEN 'central' THEN 'command'
                ELSE NEW.trigger END,
            'reason', substr(NEW.reason, 1, 200)),
        NEW.updated_at);
END;

CREATE TRIGGER outbox_rejected AFTER INSERT ON rejections
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('r.' || NEW.id, 'rejected', NEW.at,
        json_object('item_id', substr(NEW.item_id, 1, 200), 'version', NEW.version,
                    'reason', NEW.reason, 'detail', substr(NEW.en, 1, 300)),
        NEW.at);
END;

CREATE TRIGGER outbox_relay AFTER INSERT ON relay_log
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('z.' || NEW.id, 'relay', NEW.at,
        json_object('zone', NEW.zone, 'state', CASE NEW.state WHEN 1 THEN 'on' ELSE 'off' END,
                    'cause', substr(NEW.reason, 1, 200)),
        NEW.at);
END;

-- Remote commands executed or refused (at most once per id; kept at least until expiry).
CREATE TABLE commands_seen (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    digest      TEXT NOT NULL,          -- content digest of the signed command
    received_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('running', 'done', 'failed')),
    error       TEXT,                   -- error code when failed
    finished_at TEXT
);
CREATE INDEX commands_seen_expiry ON commands_seen(expires_at);

-- Results waiting to travel in a heartbeat; deleted once a heartbeat carrying them is answered 200.
CREATE TABLE command_results (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('done', 'failed', 'rejected')),
    error      TEXT,
    at         TEXT NOT NULL
);
