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
