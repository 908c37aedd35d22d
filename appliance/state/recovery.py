"""A damaged database at start-up: kept aside, replaced by a fresh store, said clearly.

SD cards corrupt. ``open_checked`` runs SQLite's ``quick_check`` before the daemon uses its
database; on damage ("database disk image is malformed", "file is not a database", or a
failed check) the damaged file (with its WAL and shared-memory files) is renamed
``<name>.damaged-<UTC time>`` for inspection, a fresh store is created, and what could still be
counted in the damaged copy is listed as lost. The fresh store carries the account of it (a
durable ``daemon_state`` row and an error event), which the daemon shows in ``status``,
``health``, the panel and its heartbeats, and its first sync takes every signed item from central
again (the feed cursor starts empty). Nothing here ever lets a ``sqlite3`` traceback reach an
operator.

Only the daemon recovers (it owns the station); the panel and CLI get a clear ``StorageError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.state.store import DatabaseDamaged, Store, is_damage, utc_now_iso
from protocol.durable import fsync_dir
from protocol.errors import StorageError

RECOVERED_KEY = "store.recovered"
SHOW_FOR_S = 7 * 86400.0   # how long status, health and heartbeats keep saying it
# What a fresh store no longer has: (table, SQL, Vietnamese, English).
_INVENTORY = (
    ("central_items", "SELECT COUNT(*) FROM items WHERE source = 'central'", "bản tin của trung tâm (sẽ tải lại)",
     "central items (being synced again)"),
    ("local_items", "SELECT COUNT(*) FROM items WHERE source = 'local'", "thông báo tại xã", "local announcements"),
    ("slots", "SELECT COUNT(*) FROM slots WHERE deleted = 0", "lịch phát tại xã", "local schedules"),
    ("unreported", "SELECT COUNT(*) FROM outbox", "bản ghi chưa gửi về trung tâm", "records not yet sent to central"),
    ("play_log", "SELECT COUNT(*) FROM play_log", "dòng nhật ký phát", "play-log rows"),
    ("panel_users", "SELECT COUNT(*) FROM panel_users", "tài khoản bảng điều khiển", "panel accounts"),
    ("panel_settings", "SELECT COUNT(*) FROM panel_settings", "cài đặt trên bảng điều khiển", "panel settings"),
)


@dataclasses.dataclass(frozen=True)
class Recovery:
    at: str
    damaged_path: str
    problem: str
    lost: dict[str, int | None]

    @property
    def vi(self) -> str:
        lost = ", ".join(f"{n} {vi}" for key, _, vi, _ in _INVENTORY if (n := self.lost.get(key)))
        return (f"Cơ sở dữ liệu của trạm bị hỏng ({self.problem}) và đã được làm mới lúc {self.at}. "
                f"Bản hỏng được giữ lại tại {self.damaged_path} để kiểm tra. "
                f"Đã mất: {lost or 'không đọc được bản hỏng để đếm'}. Bản tin của trung tâm đang được tải lại; "
                "hãy tạo lại tài khoản quản trị (trang thiết lập của bảng điều khiển), thông báo, lịch phát và "
                "cài đặt tại xã.")

    @property
    def en(self) -> str:
        lost = ", ".join(f"{n} {en}" for key, _, _, en in _INVENTORY if (n := self.lost.get(key)))
        return (f"The station's database was damaged ({self.problem}) and was replaced by a fresh one at {self.at}. "
                f"The damaged file is kept at {self.damaged_path} for inspection. "
                f"Lost: {lost or 'the damaged copy could not be read to count it'}. Central's items are being "
                "synced again; create the administrator account again (the panel's setup page), and the local "
                "announcements, schedules and settings.")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"vi": self.vi, "en": self.en, "code": RECOVERED_KEY}


def check_database(path: Path) -> str | None:
    """None when ``path`` is absent or passes ``quick_check``; else what is wrong (short)."""
    if not path.exists():
        return None
    conn = None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15.0)
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise StorageError(f"Không đọc được cơ sở dữ liệu {path}: {exc}. Kiểm tra thẻ nhớ và quyền ghi.",
                               f"Cannot read the database {path}: {exc}. Check the SD card and permissions.") from None
        return str(exc)[:200]
    finally:
        if conn is not None:
            conn.close()
    return None if rows == ["ok"] else "; ".join(rows)[:200]


def _inventory(path: Path) -> dict[str, int | None]:
    lost: dict[str, int | None] = {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return {key: None for key, *_ in _INVENTORY}
    try:
        for key, sql, _, _ in _INVENTORY:
            try:
                lost[key] = int(conn.execute(sql).fetchone()[0])
            except (sqlite3.Error, TypeError):
                lost[key] = None
    finally:
        conn.close()
    return lost


def _set_aside(path: Path, stamp: str) -> Path:
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{aside}{suffix}"))
    fsync_dir(path.parent)
    return aside


def open_checked(path: str | os.PathLike[str]) -> tuple[Store, Recovery | None]:
    """The daemon's store: checked first, and fresh (with the account of it) when it was damaged."""
    path = Path(path)
    problem = check_database(path)
    if problem is None:
        try:
            return Store.open(path), None
        except DatabaseDamaged as exc:   # damage the quick check could not see (a migration hit it)
            problem = exc.en[:200]
    now = datetime.now(UTC)
    lost = _inventory(path)
    aside = _set_aside(path, now.strftime("%Y%m%dT%H%M%SZ"))
    recovery = Recovery(at=utc_now_iso(), damaged_path=str(aside), problem=problem, lost=lost)
    store = Store.open(path)
    with store.transaction(durable=True) as tx:
        tx.execute("INSERT INTO daemon_state (key, value, updated_at) VALUES (?, ?, ?)"
                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                   (RECOVERED_KEY, json.dumps(recovery.as_dict(), ensure_ascii=False), recovery.at))
        store.log_event(RECOVERED_KEY, recovery.vi, recovery.as_dict(), level="error", conn=tx)
    return store, recovery


def last_recovery(store: Store, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The recovery still worth showing (within ``SHOW_FOR_S``), from the durable record."""
    row = store.query_one("SELECT value FROM daemon_state WHERE key = ?", (RECOVERED_KEY,))
    if row is None:
        return None
    with contextlib.suppress(ValueError, TypeError, KeyError):
        record = json.loads(row[0])
        at = datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00"))
        if ((now or datetime.now(UTC)) - at).total_seconds() <= SHOW_FOR_S:
            return dict(record)
    return None
