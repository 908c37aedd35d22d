"""Panel language: a small dict catalog (English message id -> Vietnamese) and local time formats.

Why not Flask-Babel: it needs compiled .mo catalogs, a build step on every change; the
panel has a few hundred strings and two languages, so a dict is lighter and testable
(a test checks every ``_()`` string in the templates has a Vietnamese entry).
Times are stored in UTC and shown in the device zone, Vietnamese style:
"Thứ Năm, 26/11/2026 06:30".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

WEEKDAYS = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
WEEKDAYS_SHORT = {
    "vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

VI: dict[str, str] = {
    # navigation and layout
    "Commune radio": "Đài truyền thanh xã",
    "Dashboard": "Tổng quan",
    "Items": "Bản tin",
    "Announcements": "Thông báo",
    "Schedule": "Lịch phát",
    "Emergency": "Khẩn cấp",
    "Zones & volume": "Cụm loa & âm lượng",
    "Play log": "Nhật ký phát",
    "Settings": "Cài đặt",
    "Users": "Người dùng",
    "Audit log": "Nhật ký thao tác",
    "Log out": "Đăng xuất",
    "Log in": "Đăng nhập",
    "Language": "Ngôn ngữ",
    "Menu": "Danh mục",
    "Signed in as %(user)s (%(role)s)": "Đang đăng nhập: %(user)s (%(role)s)",
    "operator": "vận hành viên",
    "admin": "quản trị viên",
    # setup / login
    "First-run setup": "Cài đặt lần đầu",
    "Create the administrator account. There is no default password: choose one now.":
        "Tạo tài khoản quản trị. Không có mật khẩu mặc định: hãy đặt mật khẩu ngay bây giờ.",
    "User name": "Tên đăng nhập",
    "Password": "Mật khẩu",
    "Repeat the password": "Nhập lại mật khẩu",
    "Create administrator": "Tạo tài khoản quản trị",
    "Setup is already done.": "Đã cài đặt xong từ trước.",
    "Administrator created. Please log in.": "Đã tạo tài khoản quản trị. Hãy đăng nhập.",
    "Wrong user name or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "Too many failed attempts. Try again in %(minutes)s minutes.":
        "Đăng nhập sai quá nhiều lần. Hãy thử lại sau %(minutes)s phút.",
    "You have been logged out.": "Bạn đã đăng xuất.",
    "Please log in.": "Vui lòng đăng nhập.",
    "Your role does not allow this.": "Vai trò của bạn không được phép làm việc này.",
    # generic
    "Save": "Lưu",
    "Cancel": "Huỷ",
    "Delete": "Xoá",
    "Edit": "Sửa",
    "Add": "Thêm",
    "Back": "Quay lại",
    "Listen": "Nghe",
    "Filter": "Lọc",
    "Yes": "Có",
    "No": "Không",
    "None": "Không có",
    "All zones": "Tất cả cụm loa",
    "Zones": "Cụm loa",
    "Zone": "Cụm loa",
    "Title": "Tiêu đề",
    "Text": "Nội dung",
    "State": "Trạng thái",
    "Priority": "Mức ưu tiên",
    "Validity": "Hiệu lực",
    "Valid from": "Hiệu lực từ",
    "Valid until": "Hiệu lực đến",
    "Source": "Nguồn",
    "Created by": "Người tạo",
    "When": "Thời điểm",
    "Who": "Người thực hiện",
    "Action": "Thao tác",
    "Target": "Đối tượng",
    "Outcome": "Kết quả",
    "Details": "Chi tiết",
    "Saved.": "Đã lưu.",
    "Deleted.": "Đã xoá.",
    "Nothing was changed.": "Không có gì thay đổi.",
    "Please correct the errors below.": "Vui lòng sửa các lỗi bên dưới.",
    "Are you sure?": "Bạn có chắc chắn không?",
    "Page not found.": "Không tìm thấy trang.",
    "The request is invalid.": "Yêu cầu không hợp lệ.",
    "The form has expired or is invalid. Reload the page and try again.":
        "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.",
    "The file is too large (at most %(mb)s MB).": "Tệp quá lớn (tối đa %(mb)s MB).",
    "Method not allowed.": "Phương thức không được phép.",
    "An unexpected error happened; nothing was changed. The event has been logged.":
        "Đã xảy ra lỗi không mong muốn; không có gì thay đổi. Sự cố đã được ghi lại.",
    "Error": "Lỗi",
    "Warning": "Cảnh báo",
    "Warnings": "Cảnh báo",
    # priorities and states
    "normal": "thường",
    "priority": "ưu tiên",
    "emergency": "khẩn cấp",
    "ready": "sẵn sàng",
    "waiting_media": "đang chờ tải âm thanh",
    "rejected": "bị từ chối",
    "revoked": "đã thu hồi",
    "expired": "hết hạn",
    "central": "trung tâm",
    "local": "tại xã",
    "text": "văn bản",
    "audio": "âm thanh",
    "stream": "tiếp sóng",
    "completed": "hoàn thành",
    "cut": "bị cắt (hết thời lượng hoặc khung giờ)",
    "interrupted": "bị ngắt",
    "failed": "lỗi",
    "skipped": "bỏ qua",
    "started": "đang phát",
    "playing": "đang phát",
    "schedule": "theo lịch",
    "stopped": "đã dừng",
    "ok": "thành công",
    "refused": "bị từ chối",
    # dashboard
    "On air now": "Đang phát",
    "Nothing is playing.": "Không phát gì.",
    "Next today": "Sắp phát hôm nay",
    "Nothing more today.": "Hôm nay không còn gì.",
    "Relays": "Rơ-le",
    "on": "bật",
    "off": "tắt",
    "unknown": "không rõ",
    "Clock": "Đồng hồ",
    "trusted": "đáng tin cậy",
    "not trusted: scheduled playback is held": "chưa tin cậy: tạm giữ lịch phát",
    "Last sync": "Lần đồng bộ cuối",
    "never": "chưa bao giờ",
    "Connectivity": "Kết nối",
    "Disk": "Bộ nhớ",
    "%(free)s GB free of %(total)s GB": "còn trống %(free)s GB / %(total)s GB",
    "Daemon": "Dịch vụ phát",
    "running": "đang chạy",
    "The broadcast daemon is not answering: playback actions are unavailable.":
        "Dịch vụ phát không trả lời: tạm thời không thể phát.",
    "Broadcast minutes, last 7 days": "Số phút phát, 7 ngày qua",
    "minutes": "phút",
    "Recent problems": "Sự cố gần đây",
    "Problems now": "Sự cố đang xảy ra",
    "Now": "Bây giờ",
    # dashboard: power
    "Power": "Nguồn điện",
    "Mains": "Điện lưới",
    "present": "có điện",
    "lost: running on battery": "mất điện: đang chạy ắc quy",
    "no mains-sense input": "không có đầu vào báo điện lưới",
    "since %(when)s": "từ %(when)s",
    "Saving the battery: only emergency and priority items play.":
        "Đang tiết kiệm ắc quy: chỉ phát bản tin khẩn cấp và ưu tiên.",
    "On battery": "Khi chạy ắc quy",
    "play everything": "phát tất cả",
    "only emergency and priority items": "chỉ phát bản tin khẩn cấp và ưu tiên",
    "Supply voltage": "Điện áp nguồn",
    "good": "bình thường",
    "under-voltage": "sụt áp",
    "under-voltage happened since boot": "đã bị sụt áp từ lúc khởi động",
    "CPU speed": "Tốc độ CPU",
    "slowed (heat or weak supply)": "bị giảm (quá nhiệt hoặc nguồn yếu)",
    # items
    "Items from central": "Bản tin từ trung tâm",
    "No items yet.": "Chưa có bản tin nào.",
    "Reason": "Lý do",
    "Play now": "Phát ngay",
    "Play request sent.": "Đã gửi lệnh phát.",
    "Schedule refused": "Lịch phát bị từ chối",
    "Kind": "Loại",
    # announcements
    "New announcement": "Thông báo mới",
    "Write the text, check the spoken form, listen, then save.":
        "Viết nội dung, kiểm tra cách đọc, nghe thử rồi lưu.",
    "Voice": "Giọng đọc",
    "Northern": "Miền Bắc",
    "Central": "Miền Trung",
    "Southern": "Miền Nam",
    "Speed (words per minute)": "Tốc độ (từ mỗi phút)",
    "Show spoken form": "Xem cách đọc",
    "Listen to preview": "Nghe thử",
    "Save announcement": "Lưu thông báo",
    "Spoken form": "Cách đọc",
    "Preview": "Nghe thử",
    "Upload an audio clip": "Tải lên tệp âm thanh",
    "Audio file (MP3, WAV, OGG, M4A)": "Tệp âm thanh (MP3, WAV, OGG, M4A)",
    "Upload": "Tải lên",
    "Clip uploaded: %(seconds)s s.": "Đã tải lên: %(seconds)s giây.",
    "Announcement saved.": "Đã lưu thông báo.",
    "Local announcements": "Thông báo của xã",
    "Duration": "Thời lượng",
    "Schedule it": "Lên lịch",
    # schedule
    "Week of %(date)s": "Tuần từ %(date)s",
    "Previous week": "Tuần trước",
    "Next week": "Tuần sau",
    "This week": "Tuần này",
    "Local slots": "Lịch phát của xã",
    "New slot": "Thêm lịch phát",
    "Edit slot": "Sửa lịch phát",
    "Item": "Bản tin",
    "Start (device time)": "Bắt đầu (giờ địa phương)",
    "Repeat": "Lặp lại",
    "Once": "Một lần",
    "Every day": "Hằng ngày",
    "Every week on": "Hằng tuần vào",
    "Until (optional)": "Đến ngày (không bắt buộc)",
    "Duration limit (minutes)": "Thời lượng tối đa (phút)",
    "Save anyway": "Vẫn lưu",
    "Check the warnings below, then save anyway or change the slot.":
        "Hãy xem các cảnh báo bên dưới, rồi vẫn lưu hoặc sửa lịch.",
    "Slot saved.": "Đã lưu lịch phát.",
    "Slot deleted.": "Đã xoá lịch phát.",
    "No slots.": "Chưa có lịch phát.",
    "Nothing planned.": "Không có lịch.",
    "Outside broadcast window %(windows)s in zone %(zone)s at %(time)s.":
        "Ngoài khung giờ phát %(windows)s của cụm %(zone)s lúc %(time)s.",
    "Overlaps %(other)s in zone %(zone)s at %(time)s.":
        "Trùng giờ với %(other)s ở cụm %(zone)s lúc %(time)s.",
    "Recurrence": "Lặp lại",
    # emergency
    "Emergency broadcast": "Phát khẩn cấp",
    "An emergency broadcast interrupts everything and plays at once, even outside broadcast windows.":
        "Phát khẩn cấp ngắt mọi chương trình và phát ngay, kể cả ngoài khung giờ phát.",
    "Text to read": "Nội dung cần đọc",
    "or an existing item": "hoặc một bản tin có sẵn",
    "I confirm this emergency broadcast": "Tôi xác nhận phát khẩn cấp",
    "Broadcast now": "Phát ngay",
    "Stop playback": "Dừng phát",
    "Emergency broadcast started at %(time)s.": "Đã bắt đầu phát khẩn cấp lúc %(time)s.",
    "Emergency broadcast requested.": "Đã gửi lệnh phát khẩn cấp.",
    "Playback stopped.": "Đã dừng phát.",
    "Audio started": "Bắt đầu phát lúc",
    # zones
    "Volume": "Âm lượng",
    "Set volume": "Đặt âm lượng",
    "Volume set to %(volume)s.": "Đã đặt âm lượng %(volume)s.",
    "Relay test": "Thử rơ-le",
    "Test for %(seconds)s s": "Thử %(seconds)s giây",
    "Seconds": "Số giây",
    "Relay test started for zone %(zone)s.": "Đã bắt đầu thử rơ-le cụm %(zone)s.",
    "Broadcast windows": "Khung giờ phát",
    "Windows, e.g. 05:30-07:00, 17:00-18:30": "Khung giờ, ví dụ 05:30-07:00, 17:00-18:30",
    "default": "mặc định",
    # play log
    "From": "Từ ngày",
    "To": "Đến ngày",
    "Any": "Tất cả",
    "Export CSV": "Xuất CSV",
    "Scheduled": "Giờ lịch",
    "Started": "Bắt đầu",
    "Ended": "Kết thúc",
    "Trigger": "Nguồn kích hoạt",
    "No plays match.": "Không có lượt phát nào phù hợp.",
    # settings / users
    "Speech": "Giọng đọc",
    "Intervals": "Chu kỳ",
    "Sync interval (seconds)": "Chu kỳ đồng bộ (giây)",
    "Heartbeat interval (seconds)": "Chu kỳ báo trạng thái (giây)",
    "Default broadcast windows": "Khung giờ phát mặc định",
    "Settings saved; the daemon was asked to reload.": "Đã lưu cài đặt; đã yêu cầu dịch vụ phát nạp lại.",
    "Settings saved; the daemon is not answering and will use them at its next start.":
        "Đã lưu cài đặt; dịch vụ phát không trả lời, sẽ dùng cài đặt mới khi khởi động lại.",
    "Role": "Vai trò",
    "Disabled": "Đã khoá",
    "Active": "Đang dùng",
    "New user": "Người dùng mới",
    "Create user": "Tạo người dùng",
    "User created.": "Đã tạo người dùng.",
    "User updated.": "Đã cập nhật người dùng.",
    "User deleted.": "Đã xoá người dùng.",
    "New password (leave empty to keep)": "Mật khẩu mới (để trống nếu giữ nguyên)",
    "Disable": "Khoá",
    "Enable": "Mở khoá",
    "API tokens": "Mã truy cập API",
    "Label": "Nhãn",
    "Create token": "Tạo mã",
    "New API token (shown once, copy it now): %(token)s":
        "Mã API mới (chỉ hiện một lần, hãy sao chép ngay): %(token)s",
    "Token revoked.": "Đã thu hồi mã.",
    "Login locks": "Khoá đăng nhập",
    "After 5 failed logins an account is locked for 15 minutes, only from that address.":
        "Sau 5 lần đăng nhập sai, tài khoản bị khoá 15 phút, chỉ với địa chỉ đó.",
    "Address": "Địa chỉ",
    "Failures": "Số lần sai",
    "Locked until": "Khoá đến",
    "Unlock": "Mở khoá",
    "Unlocked.": "Đã mở khoá.",
    "No account is locked.": "Không có tài khoản nào bị khoá.",
    "last": "lần cuối",
    "throttled": "bị hạn chế",
    "locked": "bị khoá",
    "Revoke": "Thu hồi",
    "Last used": "Dùng lần cuối",
    "What was said": "Nội dung đã đọc",
    "Keep as it is": "Giữ nguyên",
    "Will not play": "Sẽ không phát",
    "Delete announcement": "Xoá thông báo",
    "These slots are deleted with it:": "Các lịch phát sau bị xoá cùng:",
    "It has no slots.": "Thông báo này không có lịch phát.",
    "It stops playing at once. You can undo this for 24 hours from the announcements page.":
        "Thông báo ngừng phát ngay. Có thể hoàn tác trong 24 giờ ở trang Thông báo.",
    "Delete the announcement and %(count)s slots": "Xoá thông báo và %(count)s lịch phát",
    "Deleted, with %(count)s slots. You can undo this for 24 hours.":
        "Đã xoá, cùng %(count)s lịch phát. Có thể hoàn tác trong 24 giờ.",
    "Restored, with %(count)s slots.": "Đã khôi phục, cùng %(count)s lịch phát.",
    "Deleted in the last 24 hours": "Đã xoá trong 24 giờ qua",
    "%(count)s slots": "%(count)s lịch phát",
    "Undo": "Hoàn tác",
    "Elapsed": "Đã phát",
    "Locked until %(time)s": "Bị khoá đến %(time)s",
    "Remaining": "Còn lại",
    "Updated": "Cập nhật lúc",
    "refreshes by itself": "tự cập nhật",
    "Will not play today": "Hôm nay sẽ không phát",
    "Will not play at %(time)s: %(reason)s": "Sẽ không phát lúc %(time)s: %(reason)s",
    "The slot plays until the end of that day.": "Lịch phát đến hết ngày đó.",
}

# Error messages raised by validation carry both languages themselves (appliance.errors).


def normalize_language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(message: str, language: str, **params: object) -> str:
    """Translate ``message`` (the English id) into ``language`` and fill ``%(name)s`` params."""
    text = VI.get(message, message) if language == "vi" else message
    if params:
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            return text
    return text


def parse_utc(value: str | None) -> datetime | None:
    """Parse a stored UTC ISO timestamp ('...Z'); None for empty or unparseable values."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def format_datetime(value: str | datetime | None, zone: ZoneInfo, language: str, *,
                    weekday: bool = True) -> str:
    """'Thứ Năm, 26/11/2026 06:30' in the device zone (English: 'Thursday, 26/11/2026 06:30')."""
    moment = parse_utc(value) if isinstance(value, str) or value is None else value
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    text = f"{local:%d/%m/%Y %H:%M}"
    if weekday:
        text = f"{WEEKDAYS[normalize_language(language)][local.weekday()]}, {text}"
    return text


def format_time(value: str | datetime | None, zone: ZoneInfo) -> str:
    moment = parse_utc(value) if isinstance(value, str) or value is None else value
    if moment is None:
        return "—"
    return f"{moment.astimezone(zone):%H:%M}"


def format_date(day: date, language: str, *, weekday: bool = True) -> str:
    text = f"{day:%d/%m/%Y}"
    if weekday:
        text = f"{WEEKDAYS[normalize_language(language)][day.weekday()]}, {text}"
    return text


def format_number(value: float | int | None, language: str, digits: int = 1) -> str:
    """1234.5 -> '1.234,5' in Vietnamese (decimal comma, dot for thousands); '1,234.5' in English."""
    if value is None:
        return "—"
    text = f"{float(value):,.{digits}f}"
    if normalize_language(language) == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
