-- 0009: speech rendered by central (issue 17, protocol §4.3) and voice packs it offers (§4.4).

-- Central's speech of a text item's version, as the signed speech document received with it.
-- 'waiting_media' until its audio's size and sha256 verify; 'rejected' when it failed
-- verification at air time (the item then airs with the station's own voice).
CREATE TABLE item_speech (
    item_id      TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    item_digest  TEXT NOT NULL,
    document     TEXT NOT NULL,
    media_url    TEXT NOT NULL,
    media_sha256 TEXT NOT NULL,
    media_bytes  INTEGER NOT NULL,
    voice_name   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('waiting_media', 'ready', 'rejected')),
    reason       TEXT,
    received_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Voice packs central offered (the verified offer document) and what was done with each file:
-- pending until it is downloaded and installed, or refused and why (never downloaded again).
CREATE TABLE voice_pack_offers (
    pack_id      TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    document     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'installed', 'refused')),
    detail       TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (pack_id, sha256)
);
