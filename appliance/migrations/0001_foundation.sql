-- 0001: foundation (items, media, sync state, event log).
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,            -- UTC ISO 8601 'Z'
    level   TEXT NOT NULL DEFAULT 'info',
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_kind ON events(kind);
