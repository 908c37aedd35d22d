"""Why a play ended as it did, and who asked for it, in Vietnamese (pure).

The planner's reasons carry both languages already (``plan_types.Reason``); the reasons the
player, the on-air session and the daemon write are English sentences built in a few known
shapes. ``vietnamese(reason)`` turns those shapes into Vietnamese for the play log (kept in
``play_log.reason_vi``, shown by the panel, sent to central); an unknown sentence is kept as
it is, marked as English, never hidden. ``actor_label`` names who triggered an action.
"""

from __future__ import annotations

import re

# (pattern, Vietnamese template): the first match wins; {0}, {1} are the groups, themselves
# translated again (reasons nest: "during warm-up: stopped by panel:admin").
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.IGNORECASE | re.DOTALL), vi) for p, vi in (
    (r"^stopped by (.+)$", "Dừng bởi {actor0}"),
    (r"^daemon restarted during playback.*$", "Trạm khởi động lại khi đang phát (sự cố hoặc mất điện)"),
    (r"^during warm-up: (.*)$", "Trong lúc chờ khởi động loa: {0}"),
    (r"^stalled: ?(.*)$", "Âm thanh bị tắc (không có dữ liệu) {0}"),
    (r"^overrun: ?(.*)$", "Phát quá thời lượng dự kiến {0}"),
    (r"^error: ?(.*)$", "Lỗi khi phát {0}"),
    (r"^player hung.*$", "Trình phát âm thanh bị treo, không trả lời"),
    (r"^stream ended early$", "Luồng tiếp sóng kết thúc sớm"),
    (r"^stream slot without a duration$", "Khung tiếp sóng không có thời lượng"),
    (r"^silent for (\d+) s: gave up$", "Im lặng {0} giây: ngừng thử lại"),
    (r"^attempt (\d+): (.*)$", "lần thử {0}: {1}"),
    (r"^alert sound played while speech was retried$", "Đã phát tín hiệu báo động trong khi thử đọc lại văn bản"),
    (r"^(?:daemon stopping|demo finished)$", "Trạm dừng dịch vụ phát"),
    (r"^pre-empted by (.+)$", "Bị ngắt bởi {0}"),
    (r"^Emergency pre-empts the item on air \(resumed afterwards\)\.?$",
     "Bản tin khẩn cấp ngắt bản tin đang phát (sẽ phát lại sau)"),
    (r"^Emergency pre-empts the item on air \(not resumed\)\.?$",
     "Bản tin khẩn cấp ngắt bản tin đang phát (không phát lại)"),
    (r"^The item on air was revoked: stopped at once\.?$", "Bản tin đang phát đã bị thu hồi: dừng ngay"),
    (r"^Stopped when the item expired \((\d\d:\d\d)\)\.?$", "Dừng khi bản tin hết hiệu lực ({0})"),
    (r"^Stopped at the slot's length \(([\d.]+) s\)\.?$", "Dừng ở độ dài của khung phát ({0} giây)"),
    (r"^Stopped at the end of zone (\S+)'s broadcast window \((\d\d:\d\d)\)\.?$",
     "Dừng khi hết khung giờ phát của vùng {0} ({1})"),
    (r"^(.*) on air\.?$", "{0} đang phát"),
))

_ACTOR_KINDS = {"panel": "bảng điều khiển", "cli": "dòng lệnh", "central": "lệnh từ trung tâm",
                "scheduler": "lịch phát", "settings": "cài đặt"}
_ACTOR_KINDS_EN = {"panel": "panel", "cli": "command line", "central": "central command",
                   "scheduler": "schedule", "settings": "settings"}


def actor_label(actor: str | None, lang: str = "vi") -> str:
    """``panel:lan`` -> "bảng điều khiển (lan)"; ``scheduler`` -> "lịch phát"."""
    if not actor:
        return "—"
    kind, _, who = actor.partition(":")
    names = _ACTOR_KINDS_EN if lang == "en" else _ACTOR_KINDS
    label = names.get(kind)
    if label is None:
        return actor
    return f"{label} ({who})" if who else label


def _one(part: str, *, top: bool = True) -> str:
    """One reason; an unknown sentence is marked as English at the top level, while an unknown
    inner part (a zone name, a time, the player's own error text) is kept as it is."""
    text = part.strip()
    if not text:
        return ""
    for pattern, template in _SHAPES:
        match = pattern.match(text)
        if match is None:
            continue
        groups = [_one(g, top=False) if g else "" for g in match.groups()]
        values = {f"actor{i}": actor_label(g) for i, g in enumerate(match.groups()) if g}
        return template.format(*groups, **values).strip()
    return f"(tiếng Anh) {text}" if top else text


def vietnamese(reason: str | None) -> str:
    """The Vietnamese form of a play-log reason ('' for none). Parts joined by '; ' are
    translated one by one."""
    if not reason:
        return ""
    return "; ".join(p for p in (_one(part) for part in reason.split("; ")) if p)
