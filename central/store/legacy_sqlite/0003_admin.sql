-- Reference central, schema 3: operator (admin) sessions for the monitoring pages.
-- The admin token itself is kept as a sha256 hash in meta('admin_token_sha256').
CREATE TABLE admin_sessions (
    id_sha256   TEXT PRIMARY KEY,   -- sha256 hex of the session cookie value (never the value)
    csrf        TEXT NOT NULL,      -- per-session anti-CSRF token for forms
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
