-- 0005: what the station needs to survive faults (issue 16).

-- Retention: the event log is bounded. Every 256th insert deletes what lies more than
-- max_rows ids behind it (ids only grow), so the table stays near max_rows rows without a
-- COUNT(*) or a scan, whatever floods it.
CREATE TABLE retention (
    name     TEXT PRIMARY KEY,
    max_rows INTEGER NOT NULL CHECK (max_rows >= 100)
);
INSERT INTO retention (name, max_rows) VALUES ('events', 20000), ('rejections', 10000), ('relay_log', 50000);

CREATE TRIGGER events_retention AFTER INSERT ON events
WHEN NEW.id % 256 = 0
BEGIN
    DELETE FROM events WHERE id <= NEW.id - (SELECT max_rows FROM retention WHERE name = 'events');
END;

CREATE TRIGGER rejections_retention AFTER INSERT ON rejections
WHEN NEW.id % 256 = 0
BEGIN
    DELETE FROM rejections WHERE id <= NEW.id - (SELECT max_rows FROM retention WHERE name = 'rejections');
END;

CREATE TRIGGER relay_log_retention AFTER INSERT ON relay_log
WHEN NEW.id % 256 = 0
BEGIN
    DELETE FROM relay_log WHERE id <= NEW.id - (SELECT max_rows FROM retention WHERE name = 'relay_log');
END;

-- Prepared clips, so readiness survives a restart: an item is ready at once when the clip made
-- from its current content (content: digest of text or media, voice, loudness, chime) is on disk.
CREATE TABLE prepared_audio (
    item_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    content     TEXT NOT NULL,
    sha256      TEXT NOT NULL,                -- <data_dir>/prepared/<sha256>.wav
    duration_s  REAL NOT NULL,
    prepared_at TEXT NOT NULL,
    PRIMARY KEY (item_id, version)
);

-- A play stopped at its slot's length or at the end of its broadcast window is 'cut' (it
-- played, shorter than its clip). SQLite cannot change a CHECK: the table is rebuilt, its
-- indexes and the outbox triggers of 0003 (now mapping cut → cut) with it.
CREATE TABLE play_log_new (
    id              TEXT PRIMARY KEY,
    item_id         TEXT NOT NULL,
    item_version    INTEGER,
    occurrence_key  TEXT,
    attempt         INTEGER NOT NULL DEFAULT 1,
    slot_id         TEXT,
    zones           TEXT NOT NULL DEFAULT '[]',
    scheduled_start TEXT,
    actual_start    TEXT,
    actual_end      TEXT,
    outcome         TEXT NOT NULL
                    CHECK (outcome IN ('playing', 'completed', 'cut', 'interrupted', 'failed', 'skipped')),
    reason          TEXT NOT NULL DEFAULT '',
    trigger         TEXT NOT NULL CHECK (trigger IN ('schedule', 'operator', 'emergency', 'central')),
    actor           TEXT NOT NULL DEFAULT '',
    played_s        REAL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
INSERT INTO play_log_new (id, item_id, item_version, occurrence_key, attempt, slot_id, zones, scheduled_start,
                          actual_start, actual_end, outcome, reason, trigger, actor, played_s, created_at, updated_at)
    SELECT id, item_id, item_version, occurrence_key, attempt, slot_id, zones, scheduled_start,
           actual_start, actual_end, outcome, reason, trigger, actor, played_s, created_at, updated_at
    FROM play_log;
DROP TABLE play_log;
ALTER TABLE play_log_new RENAME TO play_log;
CREATE UNIQUE INDEX play_log_occurrence ON play_log(occurrence_key, attempt)
    WHERE occurrence_key IS NOT NULL;
CREATE INDEX play_log_outcome ON play_log(outcome);
CREATE INDEX play_log_updated ON play_log(updated_at);

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
                WHEN 'completed' THEN 'completed' WHEN 'cut' THEN 'cut' WHEN 'interrupted' THEN 'stopped'
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
                WHEN 'completed' THEN 'completed' WHEN 'cut' THEN 'cut' WHEN 'interrupted' THEN 'stopped'
                WHEN 'skipped' THEN 'skipped'
                ELSE CASE WHEN NEW.reason LIKE 'stalled%' THEN 'stalled'
                          WHEN NEW.reason LIKE 'overrun%' THEN 'overrun' ELSE 'error' END END,
            'played_s', NEW.played_s,
            'trigger', CASE NEW.trigger WHEN 'operator' THEN 'manual' WHEN 'central' THEN 'command'
                ELSE NEW.trigger END,
            'reason', substr(NEW.reason, 1, 200)),
        NEW.updated_at);
END;

-- Emergency requests, recorded durably the moment they are accepted and deleted once their
-- play-log row exists: a crash in between no longer loses one (it is replayed at start-up
-- within a few minutes, or reported lost).
CREATE TABLE emergency_requests (
    request_id   TEXT PRIMARY KEY,
    item_id      TEXT NOT NULL,
    text         TEXT,                      -- an emergency text (no stored item)
    zones        TEXT,                      -- JSON list, or NULL for the item's zones
    actor        TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
