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
