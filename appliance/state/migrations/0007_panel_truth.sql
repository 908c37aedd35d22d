-- 0007: the station does and shows the truth (issue 11): proof of play keeps what was said,
-- local announcements are deleted softly (undo for 24 h), emergency templates and repeats.

-- Proof of play keeps the title, the spoken text of an emergency text or a `say` (at most
-- protocol.PLAY_TEXT_MAX_BYTES, cut by the station), and the reason in Vietnamese; `actor`
-- exists since 0002. All are sent to central (protocol §10, optional members of `play` data).
ALTER TABLE play_log ADD COLUMN title TEXT;
ALTER TABLE play_log ADD COLUMN text TEXT;
ALTER TABLE play_log ADD COLUMN reason_vi TEXT;

DROP TRIGGER IF EXISTS outbox_play_finished;
DROP TRIGGER IF EXISTS outbox_play_inserted_final;

CREATE TRIGGER outbox_play_finished AFTER UPDATE OF outcome ON play_log
WHEN OLD.outcome = 'playing' AND NEW.outcome != 'playing'
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('p.' || NEW.id, 'play', COALESCE(NEW.actual_end, NEW.updated_at),
        json_object(
            'item_id', NEW.item_id, 'version', NEW.item_version, 'zones', json(NEW.zones),
            'started_at', NEW.actual_start, 'ended_at', NEW.actual_end,
            'scheduled_at', NEW.scheduled_start,
            'outcome', CASE NEW.outcome
                WHEN 'completed' THEN 'completed' WHEN 'cut' THEN 'cut' WHEN 'interrupted' THEN 'stopped'
                WHEN 'skipped' THEN 'skipped'
                ELSE CASE WHEN NEW.reason LIKE 'stalled%' THEN 'stalled'
                          WHEN NEW.reason LIKE 'overrun%' THEN 'overrun' ELSE 'error' END END,
            'played_s', NEW.played_s,
            'trigger', CASE NEW.trigger WHEN 'operator' THEN 'manual' WHEN 'central' THEN 'command'
                ELSE NEW.trigger END,
            'reason', substr(NEW.reason, 1, 200),
            'title', substr(NULLIF(NEW.title, ''), 1, 200), 'text', NEW.text,
            'actor', substr(NULLIF(NEW.actor, ''), 1, 100), 'reason_vi', substr(NULLIF(NEW.reason_vi, ''), 1, 500)),
        NEW.updated_at);
END;

CREATE TRIGGER outbox_play_inserted_final AFTER INSERT ON play_log
WHEN NEW.outcome != 'playing'
BEGIN
    INSERT OR IGNORE INTO outbox (id, type, at, payload, created_at)
    VALUES ('p.' || NEW.id, 'play', COALESCE(NEW.actual_end, NEW.scheduled_start, NEW.updated_at),
        json_object(
            'item_id', NEW.item_id, 'version', NEW.item_version, 'zones', json(NEW.zones),
            'started_at', NEW.actual_start, 'ended_at', NEW.actual_end,
            'scheduled_at', NEW.scheduled_start,
            'outcome', CASE NEW.outcome
                WHEN 'completed' THEN 'completed' WHEN 'cut' THEN 'cut' WHEN 'interrupted' THEN 'stopped'
                WHEN 'skipped' THEN 'skipped'
                ELSE CASE WHEN NEW.reason LIKE 'stalled%' THEN 'stalled'
                          WHEN NEW.reason LIKE 'overrun%' THEN 'overrun' ELSE 'error' END END,
            'played_s', NEW.played_s,
            'trigger', CASE NEW.trigger WHEN 'operator' THEN 'manual' WHEN 'central' THEN 'command'
                ELSE NEW.trigger END,
            'reason', substr(NEW.reason, 1, 200),
            'title', substr(NULLIF(NEW.title, ''), 1, 200), 'text', NEW.text,
            'actor', substr(NULLIF(NEW.actor, ''), 1, 100), 'reason_vi', substr(NULLIF(NEW.reason_vi, ''), 1, 500)),
        NEW.updated_at);
END;

-- A local announcement deleted in the panel is withdrawn at once (revoked, never plays) and
-- hidden; its slots go with it (deleted_with names it) and come back with an undo within 24 h.
ALTER TABLE items ADD COLUMN deleted_at TEXT;
ALTER TABLE items ADD COLUMN deleted_by TEXT;
ALTER TABLE items ADD COLUMN state_before_delete TEXT;
ALTER TABLE slots ADD COLUMN deleted_with TEXT;

-- Emergency texts to start from on a storm night; the operator edits them in the panel.
CREATE TABLE emergency_templates (
    key        TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    text       TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
INSERT INTO emergency_templates (key, title, text, position, updated_at) VALUES
 ('bao', 'Bão', 'Thông báo khẩn: bão đang tiến vào địa bàn xã. Đề nghị bà con chằng chống nhà cửa, không ra khỏi nhà khi có gió mạnh, tàu thuyền vào nơi tránh trú an toàn. Theo dõi loa truyền thanh để nhận thông tin mới nhất.', 1, '2026-01-01T00:00:00Z'),
 ('lu', 'Lũ', 'Thông báo khẩn: nước lũ đang lên nhanh. Bà con ở vùng thấp trũng, ven sông suối khẩn trương di chuyển người, tài sản đến nơi cao ráo; không qua lại ngầm, tràn, khu vực nước chảy xiết.', 2, '2026-01-01T00:00:00Z'),
 ('sat-lo', 'Sạt lở đất', 'Thông báo khẩn: có nguy cơ sạt lở đất, lũ quét. Bà con sống gần sườn đồi, taluy khẩn trương sơ tán đến điểm an toàn theo hướng dẫn của chính quyền xã; không quay lại khi chưa có thông báo.', 3, '2026-01-01T00:00:00Z'),
 ('chay-rung', 'Cháy rừng', 'Thông báo khẩn: cảnh báo cháy rừng cấp cực kỳ nguy hiểm. Nghiêm cấm đốt nương, đốt rác, dùng lửa trong rừng. Ai phát hiện cháy rừng báo ngay cho Ủy ban nhân dân xã hoặc lực lượng kiểm lâm.', 4, '2026-01-01T00:00:00Z'),
 ('dich-benh', 'Dịch bệnh', 'Thông báo khẩn: trên địa bàn xã có ca bệnh truyền nhiễm. Đề nghị bà con đeo khẩu trang nơi đông người, rửa tay thường xuyên, khi có triệu chứng sốt, ho đến ngay trạm y tế xã để được khám.', 5, '2026-01-01T00:00:00Z'),
 ('mat-dien', 'Mất điện', 'Thông báo: điện lưới sẽ bị cắt trên địa bàn xã. Bà con chủ động chuẩn bị đèn chiếu sáng, nước sinh hoạt; tắt các thiết bị điện để tránh hư hỏng khi có điện trở lại.', 6, '2026-01-01T00:00:00Z');

-- An emergency repeated every N minutes, M times or until stopped: the daemon airs each
-- repeat when it is due (kept here so a restart carries on) and an operator's stop ends it.
CREATE TABLE emergency_repeats (
    id           TEXT PRIMARY KEY,
    text         TEXT NOT NULL,
    zones        TEXT,                      -- JSON list, or NULL for all zones
    every_s      INTEGER NOT NULL CHECK (every_s >= 60),
    times        INTEGER,                   -- airings in all (the first included); NULL: until stopped
    aired        INTEGER NOT NULL DEFAULT 1,
    next_at      TEXT NOT NULL,             -- UTC ISO 'Z'
    resume       INTEGER,                   -- interrupted bulletin: 1 resume, 0 drop, NULL station default
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    ended_at     TEXT,
    ended_by     TEXT
);
