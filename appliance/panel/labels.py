"""What an operator reads instead of codes (pure): audit actions, daemon event kinds, relay
reasons, in Vietnamese (English through the switch). A code with no entry is shown as it is."""

from __future__ import annotations

from appliance.broadcast.reasons import vietnamese

AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "announcement.create": ("Tạo thông báo", "Announcement created"),
    "announcement.upload": ("Tải lên tệp âm thanh", "Audio clip uploaded"),
    "announcement.delete": ("Xoá thông báo (cùng lịch phát)", "Announcement deleted (with its slots)"),
    "announcement.restore": ("Hoàn tác xoá thông báo", "Announcement restored"),
    "announcement.revoke": ("Thu hồi thông báo", "Announcement withdrawn"),
    "auth.login": ("Đăng nhập", "Login"),
    "auth.logout": ("Đăng xuất", "Logout"),
    "auth.unlock": ("Mở khoá tài khoản", "Account unlocked"),
    "auth.api_token": ("Dùng mã API", "API token use"),
    "emergency.broadcast": ("Phát khẩn cấp", "Emergency broadcast"),
    "emergency.template": ("Sửa mẫu khẩn cấp", "Emergency template edited"),
    "item.play": ("Phát ngay", "Play now"),
    "playback.stop": ("Dừng phát", "Playback stopped"),
    "playlog.export": ("Xuất nhật ký phát (CSV)", "Play log exported (CSV)"),
    "report.export": ("Xuất báo cáo (.xlsx)", "Report exported (.xlsx)"),
    "relay.test": ("Thử rơ-le", "Relay test"),
    "settings.change": ("Đổi cài đặt", "Settings changed"),
    "setup.admin_created": ("Tạo tài khoản quản trị đầu tiên", "First administrator created"),
    "slot.create": ("Thêm lịch phát", "Slot created"),
    "slot.update": ("Sửa lịch phát", "Slot changed"),
    "slot.delete": ("Xoá lịch phát", "Slot deleted"),
    "token.create": ("Tạo mã API", "API token created"),
    "token.revoke": ("Thu hồi mã API", "API token revoked"),
    "user.create": ("Tạo người dùng", "User created"),
    "user.delete": ("Xoá người dùng", "User deleted"),
    "user.role": ("Đổi vai trò", "Role changed"),
    "user.disable": ("Khoá người dùng", "User disabled"),
    "user.enable": ("Mở lại người dùng", "User enabled"),
    "user.password": ("Đổi mật khẩu", "Password changed"),
    "volume.set": ("Đặt âm lượng", "Volume set"),
    "zone.windows": ("Đổi khung giờ phát của vùng", "Zone broadcast windows changed"),
}

EVENT_KINDS: dict[str, tuple[str, str]] = {
    "scheduler.error": ("Lỗi bộ lập lịch", "Scheduler error"),
    "play.error": ("Lỗi khi phát", "Playback error"),
    "play.refused": ("Không phát lại lượt đã ghi", "Logged occurrence not played again"),
    "sync.crash": ("Lỗi đồng bộ", "Sync error"),
    "sync.disabled": ("Chưa bật đồng bộ", "Sync is off"),
    "clock.jump": ("Đồng hồ nhảy giờ", "Clock jumped"),
    "player.hung": ("Trình phát bị treo", "Player hung"),
    "store.damaged": ("Cơ sở dữ liệu bị hỏng", "Database damaged"),
    "stream.stalled": ("Luồng tiếp sóng bị tắc", "Live relay stalled"),
    "emergency.lost": ("Lệnh khẩn cấp bị mất", "Emergency lost"),
    "emergency.replayed": ("Phát lại lệnh khẩn cấp", "Emergency replayed"),
    "housekeeping.error": ("Lỗi dọn dẹp", "Housekeeping error"),
    "relay.watchdog": ("Rơ-le bị ngắt bảo vệ", "Relay watchdog trip"),
    "item.tampered": ("Bản tin bị sửa trái phép", "Item altered"),
}

_RELAY = (
    ("warm-up: ", "Khởi động loa: "),
    ("start-up: all relays off", "Khởi động trạm: tắt mọi rơ-le"),
    ("playback ended", "Phát xong"),
    ("relay test by ", "Thử rơ-le bởi "),
    ("relay test over", "Hết thời gian thử rơ-le"),
    ("relay source silent: ", "Nguồn tiếp sóng im lặng: "),
    ("daemon stopping", "Trạm dừng dịch vụ phát"),
)


def audit_action(code: str, lang: str = "vi") -> str:
    pair = AUDIT_ACTIONS.get(code)
    return code if pair is None else pair[1] if lang == "en" else pair[0]


def event_kind(code: str, lang: str = "vi") -> str:
    pair = EVENT_KINDS.get(code)
    return code if pair is None else pair[1] if lang == "en" else pair[0]


def relay_reason(reason: str | None, lang: str = "vi") -> str:
    """'warm-up: Tin sáng' -> 'Khởi động loa: Tin sáng'; planner reasons through reasons.vietnamese."""
    text = reason or ""
    if lang == "en":
        return text
    for english, vi in _RELAY:
        if text.startswith(english):
            return vi + text[len(english):]
    return vietnamese(text)
