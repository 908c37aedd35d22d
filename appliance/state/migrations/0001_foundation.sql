-- 0001: foundation (items, media, sync state, rejections, event log).
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,            -- UTC ISO 8601 'Z'
    level   TEXT NOT NULL DEFAULT 'info',
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_kind ON events(kind);

-- One row per item id: the highest accepted version. Timestamps are normalised to
-- appliance.store.utc_now_iso()'s format so they compare as strings; `document` keeps the
-- signed JSON exactly as received so the signature can be checked again at any time.
CREATE TABLE items (
    id            TEXT PRIMARY KEY,
    version       INTEGER NOT NULL CHECK (version >= 1),
    kind          TEXT NOT NULL CHECK (kind IN ('text', 'audio', 'stream')),
    title         TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT 'vi',
    priority      TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'priority', 'emergency')),
    valid_from    TEXT,
    valid_until   TEXT,
    zones         TEXT NOT NULL DEFAULT '["*"]',
    devices       TEXT NOT NULL DEFAULT '["*"]',
    schedule      TEXT,
    approved_by   TEXT,
    approved_at   TEXT,
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    media_url     TEXT,
    media_sha256  TEXT,
    media_bytes   INTEGER,
    media_mime    TEXT,
    state         TEXT NOT NULL CHECK (state IN ('waiting_media', 'ready', 'revoked', 'rejected')),
    reject_reason TEXT,
    source        TEXT NOT NULL DEFAULT 'central' CHECK (source IN ('central', 'local')),
    created_by    TEXT,
    document      TEXT NOT NULL DEFAULT '{}',
    digest        TEXT,             -- appliance.protocol.content_digest(document): replay detection
    key_id        TEXT,             -- central key that signed it
    received_at   TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    -- The core invariant of the store, enforced by SQLite itself: an audio item is never
    -- ready without a verified media reference.
    CHECK (state <> 'ready' OR kind <> 'audio' OR media_sha256 IS NOT NULL)
);
CREATE INDEX items_state ON items(state);
CREATE INDEX items_media ON items(media_sha256);

-- Media files verified and stored in the content-addressed media directory.
CREATE TABLE media (
    sha256    TEXT PRIMARY KEY,
    bytes     INTEGER NOT NULL CHECK (bytes >= 0),
    mime      TEXT,
    stored_at TEXT NOT NULL
);

-- A single row: where the feed left off and how the last sync went.
CREATE TABLE sync_state (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    cursor               TEXT,
    etag                 TEXT,
    last_attempt_at      TEXT,
    last_success_at      TEXT,
    last_result          TEXT,      -- JSON counts of the last sync (SyncResult)
    last_error           TEXT,      -- JSON {code, vi, en} of the last failure, NULL after a success
    last_server_time     TEXT,
    server_offset_s      REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sync_state (id) VALUES (1);

-- Everything central sent that must never play, with the reason (counted for reports).
CREATE TABLE rejections (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    item_id  TEXT,                  -- as received (may be garbage, truncated to 200 chars)
    version  INTEGER,
    reason   TEXT NOT NULL,         -- stable code: bad_signature, replay, malformed, checksum_mismatch, ...
    vi       TEXT NOT NULL,
    en       TEXT NOT NULL,
    document TEXT                   -- the offending JSON, truncated to 4 KB
);
CREATE INDEX rejections_reason ON rejections(reason);
CREATE INDEX rejections_item ON rejections(item_id);
