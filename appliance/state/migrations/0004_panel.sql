-- 0004: operator web panel (accounts, sessions, API tokens, login throttling, audit, settings).
CREATE TABLE panel_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,          -- argon2id (argon2-cffi encoded form)
    role          TEXT NOT NULL CHECK (role IN ('operator', 'admin')),
    language      TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Server-side sessions: the cookie carries a random token, the table only its sha256,
-- so logout, disabling a user or changing a password really ends a session.
CREATE TABLE panel_sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES panel_users(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX panel_sessions_user ON panel_sessions(user_id);

-- Per-user API tokens for the JSON API (only the sha256 is kept).
CREATE TABLE panel_api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_sha256 TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES panel_users(id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);

CREATE TABLE panel_login_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    username    TEXT NOT NULL COLLATE NOCASE,
    remote_addr TEXT NOT NULL,
    at          TEXT NOT NULL,            -- UTC ISO 8601 'Z'
    success     INTEGER NOT NULL
);
CREATE INDEX panel_login_attempts_user ON panel_login_attempts(username, at);
CREATE INDEX panel_login_attempts_addr ON panel_login_attempts(remote_addr, at);

CREATE TABLE panel_audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,            -- UTC ISO 8601 'Z'
    actor       TEXT NOT NULL,            -- user name, or 'api:<label>' / '-' for anonymous
    action      TEXT NOT NULL,            -- stable code, e.g. 'announcement.create'
    target      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT 'ok',
    details     TEXT NOT NULL DEFAULT '{}',
    remote_addr TEXT NOT NULL DEFAULT ''
);
CREATE INDEX panel_audit_at ON panel_audit_log(at);

-- Operator-edited settings that override config/appliance.toml (dotted key -> JSON value).
CREATE TABLE panel_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
