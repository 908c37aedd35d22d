-- 0006: security review (issue 14).

-- Media types (protocol §4.1): items an older version accepted with a type outside the lists
-- never play and are never served to a browser. They become rejected, with a rejection row
-- (so central hears of it through the outbox trigger). The lists are protocol.AUDIO_MEDIA_TYPES
-- and protocol.STREAM_MEDIA_TYPES (tests/appliance/state/test_store.py checks they agree).
CREATE TEMP TABLE bad_media_type AS
    SELECT id FROM items
    WHERE state IN ('ready', 'waiting_media') AND (
        (kind = 'audio' AND COALESCE(media_mime, '') NOT IN (
            'audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/ogg',
            'audio/opus', 'audio/flac', 'audio/x-flac', 'audio/mp4', 'audio/aac', 'audio/webm'))
        OR (kind = 'stream' AND COALESCE(media_mime, '') NOT IN (
            'audio/mpeg', 'audio/aac', 'audio/aacp', 'audio/ogg', 'audio/opus', 'audio/flac', 'audio/webm',
            'audio/mp4', 'application/vnd.apple.mpegurl', 'audio/mpegurl', 'audio/x-mpegurl')));
INSERT INTO rejections (at, item_id, version, reason, vi, en)
    SELECT strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.' || substr(strftime('%f', 'now'), 4) || '000Z',
           id, version, 'bad_media_type',
           'Kiểu tệp không phải âm thanh được phép (' || id || '): ' || COALESCE(media_mime, '(không có)'),
           'The media type is not an allowed audio type (' || id || '): ' || COALESCE(media_mime, '(none)')
    FROM items WHERE id IN (SELECT id FROM bad_media_type);
UPDATE items SET state = 'rejected', reject_reason = 'bad_media_type',
    updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.' || substr(strftime('%f', 'now'), 4) || '000Z'
    WHERE id IN (SELECT id FROM bad_media_type);
DROP TABLE bad_media_type;

-- Schedules the station refuses (too frequent, too long, not understood; decided by the
-- daemon's planner with the station's settings): JSON {code, vi, en, at} on the item row, so
-- `items`, the panel and status show it, and a rejection row (reported) once per version.
ALTER TABLE items ADD COLUMN schedule_refusal TEXT;

-- Login throttling per (account, address) with a global rate limit (appliance/panel/throttle.py).
CREATE INDEX panel_login_attempts_pair ON panel_login_attempts(username, remote_addr, success, at);
CREATE INDEX panel_login_attempts_recent ON panel_login_attempts(success, at);
-- Repeated anonymous failures aggregate into one audit row (appliance/panel/audit.py).
CREATE INDEX panel_audit_anonymous ON panel_audit_log(action, target, outcome, remote_addr, at) WHERE actor = '-';
