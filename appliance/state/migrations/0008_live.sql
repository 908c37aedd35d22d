-- 0008: live voice (issue 15). One row per live session: who spoke, from where (the station's
-- microphone or a panel user's browser), the zones, start, end and outcome, its recording.
-- The session's play-log row (trigger 'operator', item id 'live-<id>') is what central hears
-- of, through the outbox trigger like every other play; this table keeps the details.
CREATE TABLE live_sessions (
    id              TEXT PRIMARY KEY,            -- also the item id of its play-log row: 'live-<hex>'
    mode            TEXT NOT NULL CHECK (mode IN ('broadcast', 'record')),
    source          TEXT NOT NULL CHECK (source IN ('station', 'browser')),
    speaker         TEXT NOT NULL,               -- the actor: 'panel:<user>', 'cli:<user>', 'button:<pin>'
    zones           TEXT NOT NULL,               -- JSON list
    urgent          INTEGER NOT NULL DEFAULT 0,  -- 1: allowed outside broadcast windows (logged)
    requested_at    TEXT NOT NULL,
    started_at      TEXT,                        -- audio on air (or recording begun)
    ended_at        TEXT,
    outcome         TEXT NOT NULL DEFAULT 'live' CHECK (outcome IN ('live', 'completed', 'stopped', 'silence',
                        'source_lost', 'max_length', 'window_end', 'preempted', 'refused', 'failed',
                        'interrupted')),
    reason          TEXT NOT NULL DEFAULT '',
    play_id         TEXT,                        -- play_log.id of the broadcast
    recording       TEXT,                        -- file name under <data_dir>/live/
    recording_bytes INTEGER,
    seconds         REAL,
    item_id         TEXT                         -- local announcement made from a recording
);
CREATE INDEX live_sessions_requested ON live_sessions (requested_at);
