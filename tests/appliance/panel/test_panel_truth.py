"""Issue 11: what the panel says is what the station does (fixes 3-6 on the panel side)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from appliance.broadcast.playlog import PlayLog, PlayStart
from protocol.errors import CommuneRadioError
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


def _form(client: FlaskClient, path: str) -> str:
    from tests.appliance.panel.test_panel_support import csrf_of

    return csrf_of(client, path)


def test_slot_in_the_past_and_all_zones_plus_one_are_refused_with_clear_messages(rig: Rig) -> None:
    """Issue 11 fix 4: a past start was saved (and never played); '*' with a zone was read as all."""
    from tests.appliance.panel.test_panel_support import add_item, json_body

    add_item(rig.store, "c1", title="Tin sáng")
    client = rig.login()
    token = _form(client, "/schedule/new")
    past = client.post("/schedule/new", data={"csrf_token": token, "_new": "1", "item_id": "c1", "zones": "*",
                                              "start": "2020-01-07T06:30", "repeat": "once"})
    assert past.status_code == 400 and "giờ này đã qua" in past.get_data(as_text=True)
    both = client.post("/schedule/new", data={"csrf_token": token, "_new": "1", "item_id": "c1",
                                              "zones": ["*", "thon-dong"], "start": "2030-01-07T06:30",
                                              "repeat": "once"})
    assert both.status_code == 400 and "không chọn cả hai" in both.get_data(as_text=True)
    assert rig.count("slots") == 0
    headers = {"X-CSRFToken": token}
    api_past = client.post("/api/v1/slots", headers=headers, json={"item_id": "c1", "kind": "once",
                                                                   "starts": ["2020-05-01T06:30"]})
    assert api_past.status_code == 400 and json_body(api_past)["error"]["code"] == "invalid_input.start_past"
    api_both = client.post("/api/v1/slots", headers=headers, json={"item_id": "c1", "kind": "once",
                                                                   "zones": ["*", "thon-dong"],
                                                                   "starts": ["2030-05-01T06:30"]})
    assert api_both.status_code == 400 and rig.count("slots") == 0


def test_weekly_slot_is_shown_in_plain_vietnamese_with_its_end_day(rig: Rig) -> None:
    from tests.appliance.panel.test_panel_support import add_item

    add_item(rig.store, "c1", title="Tin sáng")
    client = rig.login()
    token = _form(client, "/schedule/new")
    saved = client.post("/schedule/new", data={"csrf_token": token, "_new": "1", "item_id": "c1", "zones": "*",
                                               "start": "2030-01-07T06:30", "repeat": "weekly",
                                               "weekdays": ["MO", "TH"], "until": "2030-12-31"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:1500]
    page = client.get("/schedule").get_data(as_text=True)
    assert "Thứ Hai và Thứ Năm hằng tuần lúc 06:30, từ 07/01/2030, đến hết 31/12/2030" in page
    assert "FREQ=" not in page
    slot = rig.store.query_one("SELECT id, valid_until FROM slots")
    assert slot["valid_until"] == "2030-12-31T17:00:00Z"      # the end of 31/12 in Asia/Ho_Chi_Minh
    edit = client.get(f"/schedule/{slot['id']}/edit").get_data(as_text=True)
    assert "FREQ=" not in edit and 'value="2030-12-31"' in edit


def test_recurrence_text_in_both_languages() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from appliance.panel.recurrence_text import describe_rule

    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    start = datetime(2026, 1, 5, 6, 30)
    until = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    rule = "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=6;BYMINUTE=30;BYSECOND=0"
    assert describe_rule(rule, start, valid_until=until, zone=hcm) == \
        "Thứ Hai và Thứ Năm hằng tuần lúc 06:30, từ 05/01/2026, đến hết 31/12/2026"
    assert describe_rule(rule, start, lang="en") == "Every Monday and Thursday at 06:30, from 05/01/2026"
    assert describe_rule("FREQ=DAILY;INTERVAL=2;COUNT=10", start) == "2 ngày một lần lúc 06:30, từ 05/01/2026, 10 lần"
    assert describe_rule("FREQ=MONTHLY;BYMONTHDAY=15", start) == "Ngày 15 hằng tháng lúc 06:30, từ 05/01/2026"
    odd = describe_rule("FREQ=MONTHLY;BYDAY=1MO;BYSETPOS=1", start)
    assert odd.startswith("Lặp lại theo lịch riêng") and "FREQ" not in odd


def _slot(rig: Rig, item_id: str, local: str) -> None:
    from appliance.broadcast.slots import SlotRepository

    SlotRepository(rig.store, rig.config).add({"item_id": item_id, "kind": "once", "starts": [local],
                                               "tzid": "Asia/Ho_Chi_Minh"}, actor="test")


def test_what_will_not_play_says_so_on_the_week_view_the_form_and_the_dashboard(rig: Rig) -> None:
    """Issue 11 fix 5: a slot outside its window or of an expired item was drawn as if it would play,
    and 'Sắp phát hôm nay' listed it. The verdict is the planner's (planner.forecast)."""
    from datetime import UTC, datetime

    from appliance.panel.views.dashboard import today_plan
    from appliance.panel.web import panel
    from appliance.state import settings as operator_settings
    from tests.appliance.panel.test_panel_support import add_item

    add_item(rig.store, "sang", title="Tin buổi sáng")
    add_item(rig.store, "khuya", title="Tin khuya")
    add_item(rig.store, "cu", title="Tin cũ")
    with rig.store.transaction() as tx:
        tx.execute("UPDATE items SET valid_until = '2030-01-01T00:00:00Z' WHERE id = 'cu'")
    operator_settings.save(rig.store, rig.config, {"schedule.default_windows": ["05:30-21:30"]}, actor="admin")
    _slot(rig, "sang", "2030-01-07T10:00")
    _slot(rig, "khuya", "2030-01-07T22:30")
    _slot(rig, "cu", "2030-01-07T11:00")
    client = rig.login()
    week = client.get("/schedule?week=2030-01-07").get_data(as_text=True)
    assert 'data-item="sang" data-slot' in week
    assert 'data-not-playing="outside_window"' in week and 'data-not-playing="expired"' in week
    assert "Sẽ không phát: Ngoài khung giờ phát" in week and "Sẽ không phát: Bản tin đã hết hiệu lực" in week

    with rig.app.test_request_context("/"):
        state = panel()
        now = datetime(2030, 1, 7, 0, 30, tzinfo=UTC)   # 07:30 in Hà Nội
        will, wont = today_plan(state, now, state.snapshot.fingerprint())
        assert [o.item_id for o in will] == ["sang"]
        assert {o.item_id: o.not_playing.code for o in wont} == {"cu": "expired", "khuya": "outside_window"}
        # The window widened in the panel: the dashboard's answer changes at once (no stale fragment).
        operator_settings.save(rig.store, rig.config, {"schedule.default_windows": ["05:00-23:00"]}, actor="admin")
        will, wont = today_plan(state, now, state.snapshot.fingerprint())
        assert [o.item_id for o in will] == ["sang", "khuya"] and [o.item_id for o in wont] == ["cu"]

    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from tests.appliance.panel.test_panel_support import csrf_of

    add_item(rig.store, "sap-het", title="Tin sắp hết hạn")
    soon = datetime.now(UTC) + timedelta(days=1)
    with rig.store.transaction() as tx:
        tx.execute("UPDATE items SET valid_until = ? WHERE id = 'sap-het'", (soon.strftime("%Y-%m-%dT%H:%M:%SZ"),))
    start = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=3)).replace(hour=8, minute=0)
    token = csrf_of(client, "/schedule/new")
    form = client.post("/schedule/new", data={"csrf_token": token, "_new": "1", "item_id": "sap-het", "zones": "*",
                                              "start": f"{start:%Y-%m-%dT%H:%M}", "repeat": "once"})
    text = form.get_data(as_text=True)
    assert "Sẽ không phát lúc" in text and "Bản tin đã hết hiệu lực" in text and rig.count("slots") == 3


def test_deleting_an_announcement_lists_its_slots_removes_them_and_can_be_undone(rig: Rig) -> None:
    """Issue 11 fix 6: the announcement went, its slots stayed (pointing at a revoked item)."""
    from datetime import UTC, datetime, timedelta

    from appliance.panel import local_items
    from tests.appliance.panel.test_panel_support import audit_actions, csrf_of

    item_id = local_items.create(rig.store, local_items.Announcement(title="Họp thôn", kind="text",
                                                                     text="Mời bà con đi họp."), created_by="admin")
    _slot(rig, item_id, "2030-01-07T10:00")
    _slot(rig, item_id, "2030-01-09T10:00")
    client = rig.login()
    page = client.get(f"/announcements/{item_id}/delete").get_data(as_text=True)
    assert "Các lịch phát sau bị xoá cùng" in page and page.count("<li>") == 2 and "Thứ Hai, 07/01/2030 10:00" in page
    token = csrf_of(client, f"/announcements/{item_id}/delete")
    done = client.post(f"/announcements/{item_id}/delete", data={"csrf_token": token})
    assert done.status_code == 302
    assert rig.store.query_one("SELECT COUNT(*) FROM slots WHERE deleted = 0")[0] == 0
    assert rig.store.get_item(item_id)["state"] == "revoked"
    listing = client.get("/announcements").get_data(as_text=True)
    assert f'id="local-{item_id}"' not in listing and f'id="deleted-{item_id}"' in listing
    week = client.get("/schedule?week=2030-01-07").get_data(as_text=True)
    assert f'data-item="{item_id}"' not in week
    undone = client.post(f"/announcements/{item_id}/undo", data={"csrf_token": token})
    assert undone.status_code == 302
    assert rig.store.query_one("SELECT COUNT(*) FROM slots WHERE deleted = 0")[0] == 2
    assert rig.store.get_item(item_id)["state"] == "ready"
    assert {"announcement.delete", "announcement.restore"} <= set(audit_actions(rig.store))
    # Past the 24 hours, no undo.
    local_items.delete(rig.store, item_id, actor="admin")
    later = datetime.now(UTC) + timedelta(hours=25)
    with pytest.raises(CommuneRadioError):
        local_items.undelete(rig.store, item_id, actor="admin", now=later)


def test_live_dashboard_fragment_shows_on_air_times_and_a_big_stop_button(rig: Rig) -> None:
    """Issue 11 build 1: the dashboard's live part, refreshed by panel.js from /dashboard/live."""
    from datetime import UTC, datetime, timedelta

    from appliance.panel.views.dashboard import on_air_times

    now = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    playing = {"item_id": "x", "audio_at": "2030-01-07T00:58:30Z", "duration_s": 300.0, "end_by": None}
    assert on_air_times(playing, now) == {"elapsed_s": 90, "remaining_s": 210}
    cut = dict(playing, end_by=(now + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert on_air_times(cut, now)["remaining_s"] == 20
    client = rig.login()
    page = client.get("/").get_data(as_text=True)
    assert 'id="live" data-live-url="/dashboard/live"' in page and "<script>" not in page
    fragment = client.get("/dashboard/live")
    assert fragment.status_code == 200 and 'id="on-air"' in fragment.get_data(as_text=True)
    assert "script-src 'self'" in fragment.headers["Content-Security-Policy"]
    assert client.get("/dashboard/live", headers={"Cookie": ""}).status_code in (200, 302)
    assert rig.client().get("/dashboard/live").status_code == 302      # login required


def test_common_passwords_are_refused_and_a_locked_account_shows_on_the_users_page(rig: Rig) -> None:
    """Issue 11 build 6: `1234567890` was accepted; a locked account showed only in a separate list."""
    from appliance.panel.accounts import Accounts
    from tests.appliance.panel.test_panel_support import csrf_of

    accounts = Accounts(rig.store)
    for weak in ("1234567890", "matkhau123456", "Mật khẩu 2026!", "qwertyuiop", "15081990ab", "password1234",
                 "nguyenvana2024"):
        with pytest.raises(CommuneRadioError) as info:
            accounts.create_user("nguyenvana", weak, "operator")
        assert info.value.code == "invalid_input.password_common", weak
    accounts.create_user("nguyenvana", "cây đa đầu làng 1975", "operator")
    client = rig.login()
    token = csrf_of(client, "/settings/users")
    refused = client.post("/settings/users", data={"csrf_token": token, "username": "lan", "password": "1234567890",
                                                   "role": "operator"})
    assert refused.status_code == 400 and "phổ biến" in refused.get_data(as_text=True)
    stranger = rig.client()
    for _ in range(6):
        stranger.post("/login", data={"csrf_token": csrf_of(stranger, "/login"), "username": "nguyenvana",
                                      "password": "sai mật khẩu rồi"})
    page = client.get("/settings/users").get_data(as_text=True)
    row = page[page.index('id="user-nguyenvana"'):]
    row = row[:row.index("</tr>")]
    assert "Bị khoá đến" in row and 'class="primary unlock"' in row
    unlocked = client.post("/settings/login-locks/unlock", data={"csrf_token": token, "username": "nguyenvana",
                                                                 "address": "127.0.0.1"})
    assert unlocked.status_code == 302
    row = client.get("/settings/users").get_data(as_text=True)
    assert "Bị khoá đến" not in row
