"""Why a device refuses what central sent: the reason codes and their bilingual texts."""

from __future__ import annotations

from protocol.errors import RejectedItem

_REASON_TEXT: dict[str, tuple[str, str]] = {
    "malformed": ("Bản tin sai định dạng", "The item is malformed"),
    "missing_signature": ("Bản tin không có chữ ký", "The item carries no signature"),
    "bad_signature": ("Chữ ký không hợp lệ (nội dung đã bị sửa hoặc giả mạo)",
                      "The signature does not verify (content altered or forged)"),
    "unknown_key": ("Bản tin được ký bằng khóa không được tin cậy",
                    "The item is signed with a key this device does not trust"),
    "wrong_device": ("Bản tin không dành cho thiết bị này", "The item is not addressed to this device"),
    "replay": ("Phiên bản cũ hoặc bị phát lại", "An older or replayed version"),
    "expired": ("Lệnh đã hết hạn", "The command has expired"),
    "not_yet_valid": ("Lệnh có thời điểm phát hành ở tương lai", "The command is issued in the future"),
    "checksum_mismatch": ("Tệp âm thanh không khớp mã kiểm tra", "The media does not match its checksum"),
    "size_mismatch": ("Tệp âm thanh không đúng kích thước", "The media size does not match"),
    "bad_origin": ("Địa chỉ tệp nằm ngoài máy chủ trung tâm", "The media URL leaves the central origin"),
    "tampered": ("Bản tin trong bộ nhớ của trạm đã bị sửa, khác với bản trung tâm đã ký",
                 "The item held on the station was altered: it is not what central signed"),
    "wrong_zone": ("Không dành cho trạm này: trạm không có vùng loa nào của bản tin",
                   "Not for this station: it has none of the item's loudspeaker zones"),
    "bad_media_type": ("Kiểu tệp không phải âm thanh được phép", "The media type is not an allowed audio type"),
}
REJECT_REASONS = tuple(_REASON_TEXT)


def reason_text(reason: str) -> tuple[str, str]:
    """The (Vietnamese, English) head line of a rejection reason, for people (panel, CLI)."""
    return _REASON_TEXT.get(reason, ("Bản tin bị từ chối", "The item is rejected"))


def reject(reason: str, detail_vi: str, detail_en: str, item_id: str | None = None) -> RejectedItem:
    """Build the bilingual ``RejectedItem`` for ``reason`` (one of ``REJECT_REASONS``)."""
    head_vi, head_en = _REASON_TEXT.get(reason, ("Bản tin bị từ chối", "The item is rejected"))
    prefix_vi = f"{head_vi} ({item_id})" if item_id else head_vi
    prefix_en = f"{head_en} ({item_id})" if item_id else head_en
    return RejectedItem(f"{prefix_vi}: {detail_vi}", f"{prefix_en}: {detail_en}", reason=reason, item_id=item_id)

