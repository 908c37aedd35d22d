PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta VALUES('epoch','002b04c4');
INSERT INTO meta VALUES('admin_token_sha256','97c6c320e2229c0b8dd9c2dcca3fcde69609dc55d8911bdb90154d4a8f4bdd08');
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,      -- sha256 hex of the bearer token
    zones        TEXT NOT NULL,             -- JSON list of zone names
    created_at   TEXT NOT NULL,
    last_seen_at TEXT
);
INSERT INTO devices VALUES('12345-0001','275a7ef79efcbe1e2502f3e5b6dd219ee887ad055decf0b2d972e8ba1cdb4513','["thon-1", "thon-2"]','2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
INSERT INTO devices VALUES('12345-0002','8cbd1e4cb8704d8779a37aa3be8f8ac6418d4aa88412a0b663a329bf782f5532','["thon-3"]','2026-11-20T08:00:00Z',NULL);
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
INSERT INTO items VALUES('it-legacy-all','approved',1,'{"kind": "text", "title": "Thông báo tiêm chủng", "text": "Kính mời bà con.", "language": "vi", "media": null, "priority": "normal", "valid_from": "2026-11-20T00:00:00Z", "valid_until": null, "schedule": null}','["*"]','["*"]','{"id":"it-legacy-all","version":1,"kind":"text","title":"Thông báo tiêm chủng","text":"Kính mời bà con.","language":"vi","media":null,"priority":"normal","valid_from":"2026-11-20T00:00:00Z","valid_until":null,"schedule":null,"zones":["*"],"devices":["*"],"approved_by":"Chủ tịch UBND xã","approved_at":"2026-11-20T08:00:00Z","revoked":false,"signature":{"alg":"ed25519","key_id":"595f6b6a44141de4","value":"Eulm7+7hwKEWqmRYup/suPLhKKBXF5CM8RGicyzR//44OOtkSFj+A+OtIwgUfj7xZmnnWeBCB9Kid3dA8KmUBg=="}}',1,NULL,'2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
INSERT INTO items VALUES('it-legacy-thon3','approved',1,'{"kind": "text", "title": "Thôn 3", "text": "Họp thôn.", "language": "vi", "media": null, "priority": "normal", "valid_from": "2026-11-20T00:00:00Z", "valid_until": null, "schedule": null}','["thon-3"]','["*"]','{"id":"it-legacy-thon3","version":1,"kind":"text","title":"Thôn 3","text":"Họp thôn.","language":"vi","media":null,"priority":"normal","valid_from":"2026-11-20T00:00:00Z","valid_until":null,"schedule":null,"zones":["thon-3"],"devices":["*"],"approved_by":"Chủ tịch UBND xã","approved_at":"2026-11-20T08:00:00Z","revoked":false,"signature":{"alg":"ed25519","key_id":"595f6b6a44141de4","value":"gkbs7gtroeqNhs1VQ7eXs8Z/Ezj+kgQU6Q90zlK99k8GTVY4maM6w+DeA/SwfpPgW8LBC5lAKclEZ/LrpXTPBA=="}}',2,NULL,'2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
INSERT INTO items VALUES('it-legacy-revoked','revoked',2,'{"kind": "text", "title": "Sẽ thu hồi", "text": "Tin cũ.", "language": "vi", "media": null, "priority": "normal", "valid_from": "2026-11-20T00:00:00Z", "valid_until": null, "schedule": null}','["*"]','["*"]','{"id":"it-legacy-revoked","version":2,"kind":"text","title":"Sẽ thu hồi","text":"Tin cũ.","language":"vi","media":null,"priority":"normal","valid_from":"2026-11-20T00:00:00Z","valid_until":null,"schedule":null,"zones":["*"],"devices":["*"],"approved_by":"A","approved_at":"2026-11-20T08:00:00Z","revoked":true,"signature":{"alg":"ed25519","key_id":"595f6b6a44141de4","value":"ffB2dEp8OvxJyZkkV7aLnwuwkC0b7Q9VgL2mYLIDYA3Ag7xrXPaXhA+JmzrOyETs4KxdxaSwkUJ9SqoWbb3GBA=="}}',4,NULL,'2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
INSERT INTO items VALUES('it-legacy-draft','draft',0,'{"kind": "text", "title": "Nháp", "text": "Chưa duyệt", "language": "vi", "media": null, "priority": "normal", "valid_from": "2026-11-20T00:00:00Z", "valid_until": null, "schedule": null}','["*"]','["*"]',NULL,NULL,NULL,'2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
INSERT INTO items VALUES('it-legacy-audio','approved',1,'{"kind": "audio", "title": "Âm thanh", "text": "", "language": "vi", "media": {"url": "/v1/media/9fa48616c74a7eaaebeb6231646b03e3039da9280ab3b9352e555ac9273c4c4e", "sha256": "9fa48616c74a7eaaebeb6231646b03e3039da9280ab3b9352e555ac9273c4c4e", "bytes": 1004, "mime": "audio/wav"}, "priority": "normal", "valid_from": "2026-11-20T00:00:00Z", "valid_until": null, "schedule": null}','["*"]','["*"]','{"id":"it-legacy-audio","version":1,"kind":"audio","title":"Âm thanh","text":"","language":"vi","media":{"url":"/v1/media/9fa48616c74a7eaaebeb6231646b03e3039da9280ab3b9352e555ac9273c4c4e","sha256":"9fa48616c74a7eaaebeb6231646b03e3039da9280ab3b9352e555ac9273c4c4e","bytes":1004,"mime":"audio/wav"},"priority":"normal","valid_from":"2026-11-20T00:00:00Z","valid_until":null,"schedule":null,"zones":["*"],"devices":["*"],"approved_by":"B","approved_at":"2026-11-20T08:00:00Z","revoked":false,"signature":{"alg":"ed25519","key_id":"595f6b6a44141de4","value":"sN1fIG723RaQNpGTwdww78IjVP+EqDV4lSooD9/RbIOwph1jNlj+YBzQ0ZZ9u4rttBevCE2GFWbJSal0UGIbBA=="}}',5,NULL,'2026-11-20T08:00:00Z','2026-11-20T08:00:00Z');
CREATE TABLE media (
    sha256     TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    mime       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO media VALUES('9fa48616c74a7eaaebeb6231646b03e3039da9280ab3b9352e555ac9273c4c4e',1004,'audio/wav','2026-11-20T08:00:00Z');
CREATE TABLE device_state (
    device_id     TEXT PRIMARY KEY,
    last_seen_at  TEXT NOT NULL,     -- central's clock when the last heartbeat arrived
    interval_s    INTEGER NOT NULL,  -- heartbeat period the device announced (or the default)
    heartbeat     TEXT NOT NULL      -- JSON of the last heartbeat as received
);
INSERT INTO device_state VALUES('12345-0001','2026-11-20T08:05:00Z',60,'{"device_id":"12345-0001","sent_at":"2026-11-20T08:05:00Z","software_version":"0.1.0","boot_id":"0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11","uptime_s":86400,"clock":{"trusted":true,"offset_s":-0.4,"source":"ntp"},"timezone":"Asia/Ho_Chi_Minh","disk":{"free_bytes":12000000000,"total_bytes":31000000000},"cpu":{"temp_c":52.1,"load_1m":0.35},"memory":{"available_bytes":512000000,"total_bytes":1000000000},"playing":{"item_id":"bt-2025-0601","zones":["thon-1"]},"relays":{"thon-1":true,"thon-2":false},"volume":80,"last_sync":{"at":"2025-05-31T23:55:00Z","result":"ok","error":null},"outbox_depth":12,"rejected_count":0,"last_errors":["central_unreachable"],"command_results":[{"id":"cmd-ca5e0d32014c","status":"done","error":null,"at":"2026-11-20T08:04:30Z"}],"heartbeat_interval_s":60}');
CREATE TABLE heartbeats (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (device_id, boot_id, sent_at)
);
INSERT INTO heartbeats VALUES(1,'12345-0001','0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11','2026-11-20T08:00:00Z','2026-11-20T08:00:00Z','{"device_id":"12345-0001","sent_at":"2026-11-20T08:00:00Z","software_version":"0.1.0","boot_id":"0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11","uptime_s":86400,"clock":{"trusted":true,"offset_s":-0.4,"source":"ntp"},"timezone":"Asia/Ho_Chi_Minh","disk":{"free_bytes":12000000000,"total_bytes":31000000000},"cpu":{"temp_c":52.1,"load_1m":0.35},"memory":{"available_bytes":512000000,"total_bytes":1000000000},"playing":{"item_id":"bt-2025-0601","zones":["thon-1"]},"relays":{"thon-1":true,"thon-2":false},"volume":80,"last_sync":{"at":"2025-05-31T23:55:00Z","result":"ok","error":null},"outbox_depth":12,"rejected_count":0,"last_errors":["central_unreachable"],"command_results":[],"heartbeat_interval_s":60}');
INSERT INTO heartbeats VALUES(2,'12345-0001','0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11','2026-11-20T08:01:00Z','2026-11-20T08:01:00Z','{"device_id":"12345-0001","sent_at":"2026-11-20T08:01:00Z","software_version":"0.1.0","boot_id":"0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11","uptime_s":86400,"clock":{"trusted":true,"offset_s":-0.4,"source":"ntp"},"timezone":"Asia/Ho_Chi_Minh","disk":{"free_bytes":12000000000,"total_bytes":31000000000},"cpu":{"temp_c":52.1,"load_1m":0.35},"memory":{"available_bytes":512000000,"total_bytes":1000000000},"playing":{"item_id":"bt-2025-0601","zones":["thon-1"]},"relays":{"thon-1":true,"thon-2":false},"volume":80,"last_sync":{"at":"2025-05-31T23:55:00Z","result":"ok","error":null},"outbox_depth":12,"rejected_count":0,"last_errors":["central_unreachable"],"command_results":[],"heartbeat_interval_s":60}');
INSERT INTO heartbeats VALUES(3,'12345-0001','0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11','2026-11-20T08:02:00Z','2026-11-20T08:02:00Z','{"device_id":"12345-0001","sent_at":"2026-11-20T08:02:00Z","software_version":"0.1.0","boot_id":"0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11","uptime_s":86400,"clock":{"trusted":true,"offset_s":-0.4,"source":"ntp"},"timezone":"Asia/Ho_Chi_Minh","disk":{"free_bytes":12000000000,"total_bytes":31000000000},"cpu":{"temp_c":52.1,"load_1m":0.35},"memory":{"available_bytes":512000000,"total_bytes":1000000000},"playing":{"item_id":"bt-2025-0601","zones":["thon-1"]},"relays":{"thon-1":true,"thon-2":false},"volume":80,"last_sync":{"at":"2025-05-31T23:55:00Z","result":"ok","error":null},"outbox_depth":12,"rejected_count":0,"last_errors":["central_unreachable"],"command_results":[],"heartbeat_interval_s":60}');
INSERT INTO heartbeats VALUES(4,'12345-0001','0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11','2026-11-20T08:05:00Z','2026-11-20T08:05:00Z','{"device_id":"12345-0001","sent_at":"2026-11-20T08:05:00Z","software_version":"0.1.0","boot_id":"0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11","uptime_s":86400,"clock":{"trusted":true,"offset_s":-0.4,"source":"ntp"},"timezone":"Asia/Ho_Chi_Minh","disk":{"free_bytes":12000000000,"total_bytes":31000000000},"cpu":{"temp_c":52.1,"load_1m":0.35},"memory":{"available_bytes":512000000,"total_bytes":1000000000},"playing":{"item_id":"bt-2025-0601","zones":["thon-1"]},"relays":{"thon-1":true,"thon-2":false},"volume":80,"last_sync":{"at":"2025-05-31T23:55:00Z","result":"ok","error":null},"outbox_depth":12,"rejected_count":0,"last_errors":["central_unreachable"],"command_results":[{"id":"cmd-ca5e0d32014c","status":"done","error":null,"at":"2026-11-20T08:04:30Z"}],"heartbeat_interval_s":60}');
CREATE TABLE device_logs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('play', 'rejected', 'relay')),
    at          TEXT NOT NULL,
    item_id     TEXT,
    outcome     TEXT,
    data        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (device_id, entry_id)
);
INSERT INTO device_logs VALUES(1,'12345-0001','p.1','play','2026-11-20T06:35:01Z','it-legacy-all','completed','{"item_id":"it-legacy-all","version":1,"zones":["thon-1"],"started_at":"2026-11-20T06:30:00Z","ended_at":"2026-11-20T06:35:01Z","outcome":"completed","played_s":301.2,"trigger":"schedule"}','2026-11-20T08:02:00Z');
INSERT INTO device_logs VALUES(2,'12345-0001','p.2','play','2026-11-20T07:35:01Z','it-legacy-audio','completed','{"item_id":"it-legacy-audio","version":1,"zones":["thon-2"],"started_at":"2026-11-20T07:30:00Z","ended_at":"2026-11-20T07:35:01Z","outcome":"completed","played_s":300.0,"trigger":"schedule"}','2026-11-20T08:02:00Z');
INSERT INTO device_logs VALUES(3,'12345-0001','r.1','relay','2026-11-20T07:29:58Z',NULL,'on','{"zone":"thon-2","state":"on","reason":"broadcast"}','2026-11-20T08:02:00Z');
CREATE TABLE commands (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    document     TEXT NOT NULL,      -- the signed command as sent
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'rejected')),
    error        TEXT,
    result_at    TEXT,
    deliveries   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO commands VALUES('cmd-ca5e0d32014c','12345-0001','set_volume','{"id": "cmd-ca5e0d32014c", "device_id": "12345-0001", "type": "set_volume", "params": {"volume": 40}, "issued_at": "2026-11-20T08:02:00Z", "expires_at": "2026-11-20T08:12:00Z", "signature": {"alg": "ed25519", "key_id": "595f6b6a44141de4", "value": "vYcYaDOABrmIR0rDzTms/oOK+PPCgfiqBdnz3Flema1pLla9Z2kWc3S3Pf6iEREZfKzvvJce3xwDQu2WqvfdDw=="}}','2026-11-20T08:02:00Z','2026-11-20T08:12:00Z','cli','done',NULL,'2026-11-20T08:04:30Z',0);
CREATE TABLE command_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    command_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',   -- empty when none (UNIQUE treats NULLs as distinct)
    at          TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (device_id, command_id, status, error, at)
);
INSERT INTO command_reports VALUES(1,'12345-0001','cmd-ca5e0d32014c','done','','2026-11-20T08:04:30Z','2026-11-20T08:05:00Z');
CREATE TABLE admin_sessions (
    id_sha256   TEXT PRIMARY KEY,   -- sha256 hex of the session cookie value (never the value)
    csrf        TEXT NOT NULL,      -- per-session anti-CSRF token for forms
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('heartbeats',4);
INSERT INTO sqlite_sequence VALUES('device_logs',3);
INSERT INTO sqlite_sequence VALUES('command_reports',1);
CREATE UNIQUE INDEX items_seq ON items(seq);
CREATE INDEX heartbeats_device ON heartbeats(device_id, id);
CREATE INDEX device_logs_device ON device_logs(device_id, type, seq);
CREATE INDEX device_logs_item ON device_logs(item_id, type);
CREATE INDEX commands_device ON commands(device_id, status);
COMMIT;
PRAGMA user_version=3;
