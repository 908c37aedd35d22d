"""The station's branches of the exception hierarchy (base: ``protocol.errors``)."""

from __future__ import annotations

import errno

from protocol.errors import CommuneRadioError, StorageError


class ScheduleError(CommuneRadioError):
    """A slot or recurrence is refused (too frequent, too long, malformed)."""

    code = "schedule_invalid"


class ClockUntrusted(CommuneRadioError):
    """Scheduled playback is held until the clock is trusted."""

    code = "clock_untrusted"


class HardwareError(CommuneRadioError):
    """GPIO relays or fault inputs could not be driven or read."""

    code = "hardware"


class CardFull(StorageError):
    """The SD card (or the media quota) has no room: a local fault, never a network one."""

    code = "storage_full"


def disk_error(exc: OSError, what: str) -> StorageError:
    """An OS error writing ``what`` as the operator should read it (full, read-only, failing card)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CardFull(f"Thẻ nhớ đã đầy (hết chỗ trống) khi ghi {what}. Hãy xoá bớt hoặc thay thẻ lớn hơn.",
                        f"No space left on the SD card while writing {what}. Free some space or use a larger card.")
    if exc.errno == errno.EROFS:
        return StorageError(f"Thẻ nhớ chỉ cho đọc (hệ thống đã khoá vì lỗi thẻ) khi ghi {what}. Hãy thay thẻ nhớ.",
                            f"The SD card is read-only (the system locked it after card errors) while writing "
                            f"{what}. Replace the card.", code="storage_read_only")
    return StorageError(f"Không ghi được {what} lên thẻ nhớ ({exc.strerror}). Hãy kiểm tra thẻ nhớ.",
                        f"Cannot write {what} to the SD card ({exc.strerror}). Check the card.", code="storage_write")


class ControlError(CommuneRadioError):
    """The daemon's control channel refused or could not carry a request."""

    code = "control"
