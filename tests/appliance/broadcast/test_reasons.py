"""Play-log reasons in Vietnamese (appliance/broadcast/reasons.py): every known shape, nested
shapes, and never a loop (a reason equal to its own group, 'demo finished', once recursed forever
and cost the play-log row of the demo's first bulletin)."""

from __future__ import annotations

import pytest

from appliance.broadcast.reasons import actor_label, vietnamese


@pytest.mark.parametrize(("english", "expected"), [
    ("", ""),
    ("demo finished", "Trạm dừng dịch vụ phát"),
    ("daemon stopping", "Trạm dừng dịch vụ phát"),
    ("stopped by panel:lan", "Dừng bởi bảng điều khiển (lan)"),
    ("stopped by central:c-42", "Dừng bởi lệnh từ trung tâm (c-42)"),
    ("during warm-up: demo finished", "Trong lúc chờ khởi động loa: Trạm dừng dịch vụ phát"),
    ("daemon restarted during playback (crash or power cut)", "Trạm khởi động lại khi đang phát (sự cố hoặc mất điện)"),
    ("stalled: no audio for 10 s", "Âm thanh bị tắc (không có dữ liệu) no audio for 10 s"),
    ("attempt 2: error: cannot open; silent for 60 s: gave up",
     "lần thử 2: Lỗi khi phát cannot open; Im lặng 60 giây: ngừng thử lại"),
    ("Stopped at the end of zone a's broadcast window (21:30).", "Dừng khi hết khung giờ phát của vùng a (21:30)"),
    ("Stopped at the slot's length (300 s).", "Dừng ở độ dài của khung phát (300 giây)"),
    ("Emergency pre-empts the item on air (not resumed).", "Bản tin khẩn cấp ngắt bản tin đang phát (không phát lại)"),
    ("x on air", "x đang phát"),
    ("something new", "(tiếng Anh) something new"),
])
def test_known_shapes_read_in_vietnamese(english: str, expected: str) -> None:
    assert vietnamese(english) == expected


def test_deep_or_self_similar_reasons_end() -> None:
    nested = "during warm-up: " * 50 + "stopped by cli:root"
    assert vietnamese(nested).startswith("Trong lúc chờ khởi động loa")
    assert vietnamese("on air on air on air on air") .endswith("đang phát")


def test_actor_labels() -> None:
    assert actor_label("panel:lan") == "bảng điều khiển (lan)"
    assert actor_label("scheduler") == "lịch phát"
    assert actor_label("cli:root", "en") == "command line (root)"
    assert actor_label("") == "—" and actor_label("other:x") == "other:x"
