"""Issue 11: what the panel says is what the station does (fixes 3-6 on the panel side)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.broadcast.playlog import PlayLog, PlayStart
from tests.appliance.panel.test_panel_support import Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def test_play_log_page_shows_what_was_said_who_asked_and_the_vietnamese_reason(rig: Rig) -> None:
    playlog = PlayLog(rig.store)
    play_id = playlog.begin(PlayStart("emergency-1a2b", 1, ["trung-tam"], "emergency", actor="panel:lan",
                                      title="Bão số 5", text="Bão số 5 đổ bộ lúc 21 giờ, bà con sơ tán ngay."))
    playlog.finish(play_id, "interrupted", "stopped by panel:lan", played_s=12.0)
    page = rig.login().get("/playlog").get_data(as_text=True)
    assert "Bão số 5 đổ bộ lúc 21 giờ, bà con sơ tán ngay." in page
    assert "Dừng bởi bảng điều khiển (lan)" in page and "stopped by panel:lan" not in page
    assert "bảng điều khiển (lan)" in page and "Bão số 5" in page
