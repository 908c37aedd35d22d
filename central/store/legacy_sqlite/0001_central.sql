-- Reference central, schema 1: devices, items (draft/approved/revoked), media, metadata.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,      -- sha256 hex of the bearer token
    zones        TEXT NOT NULL,             -- JSON list of zone names
    created_at   TEXT NOT NULL,
    last_seen_at TEXT
);
CREATE TABLE items (
    id             TEXT PRIMARY KEY,
    state          TEXT NOT NULL CHECK (state IN ('draft', 'approved', 'revoked')),
    version        INTEGER NOT NULL DEFAULT 0, -- version of the last published document (0 = never)
    draft          TEXT NOT NULL,              -- JSON: content fields awaiting approval
    target_zones   TEXT NOT NULL,              -- JSON list, fixed once published
    target_devices TEXT NOT NULL,              -- JSON list, fixed once published
    published      TEXT,                       -- JSON of the signed document devices receive
    seq            INTEGER,                    -- feed position of `published`
    valid_until    TEXT,                       -- of the published document (initial-sync filter)
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX items_seq ON items(seq);
CREATE TABLE media (
    sha256     TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    mime       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
