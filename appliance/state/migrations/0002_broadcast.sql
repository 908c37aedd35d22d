-- 0002: broadcast (slots, play log, relay log, daemon state incl. last trusted clock time).

-- Local broadcast slots (operator-entered through the panel). Central items carry their own
-- schedule in items.schedule; the planner reads both.
CREATE TABLE slots (
    id          TEXT PRIMARY KEY,                 -- uuid4 hex
    item_id     TEXT NOT NULL,
    zones       TEXT NOT NULL DEFAULT '["*"]',    -- JSON list of zone names; ["*"] = all
    kind        TEXT NOT NULL CHECK (kind IN ('once', 'rrule')),
    starts      TEXT NOT NULL DEFAULT '[]',       -- kind=once: JSON list of UTC ISO 'Z' instants
    dtstart     TEXT,                             -- kind=rrule: local wall time 'YYYY-MM-DDTHH:MM:SS' in tzid
    rrule       TEXT,                             -- kind=rrule: RFC 5545 RRULE value (without 'RRULE:')
    exdates     TEXT NOT NULL DEFAULT '[]',       -- JSON list of local wall times excluded
    tzid        TEXT NOT NULL,
    duration_s  INTEGER,                          -- NULL: the item's own length
    valid_from  TEXT,                             -- UTC ISO 'Z' or NULL
    valid_until TEXT,                             -- UTC ISO 'Z' or NULL
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);
CREATE INDEX slots_item ON slots(item_id);

-- One row per play attempt. A 'playing' row is committed durably BEFORE audio starts, so a
-- crash mid-play is found at restart (marked interrupted) and the occurrence never replays.
CREATE TABLE play_log (
    id              TEXT PRIMARY KEY,             -- uuid4 hex, stable (sent to central)
    item_id         TEXT NOT NULL,
    item_version    INTEGER,
    occurrence_key  TEXT,                         -- schedule plays only; NULL for operator/emergency
    attempt         INTEGER NOT NULL DEFAULT 1,   -- 2+ only when resuming after an emergency
    slot_id         TEXT,
    zones           TEXT NOT NULL DEFAULT '[]',
    scheduled_start TEXT,
    actual_start    TEXT,
    actual_end      TEXT,
    outcome         TEXT NOT NULL
                    CHECK (outcome IN ('playing', 'completed', 'interrupted', 'failed', 'skipped')),
    reason          TEXT NOT NULL DEFAULT '',
    trigger         TEXT NOT NULL CHECK (trigger IN ('schedule', 'operator', 'emergency', 'central')),
    actor           TEXT NOT NULL DEFAULT '',
    played_s        REAL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- The database itself refuses a second play of the same occurrence attempt.
CREATE UNIQUE INDEX play_log_occurrence ON play_log(occurrence_key, attempt)
    WHERE occurrence_key IS NOT NULL;
CREATE INDEX play_log_outcome ON play_log(outcome);
CREATE INDEX play_log_updated ON play_log(updated_at);

CREATE TABLE relay_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    zone   TEXT NOT NULL,
    state  INTEGER NOT NULL CHECK (state IN (0, 1)),
    at     TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX relay_log_zone ON relay_log(zone, id);

-- Small durable key/value state of the daemon: 'clock.last_trusted_at', 'clock.last_trusted_source',
-- 'audio.volume'.
CREATE TABLE daemon_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
