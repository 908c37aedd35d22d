"""Pure parts of the panel: translations, Vietnamese dates, throttling rule, chart, play-log
aggregation and CSV, schedule warnings, settings overrides, the English switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.panel import chart, history, i18n
from appliance.panel.throttle import FAILURE_WINDOW, LOCKOUT, lockout_remaining
from appliance.panel.weekview import Occurrence, warnings_for
from appliance.state import settings as settings_overrides
from protocol.errors import ValidationError
from tests.appliance.panel.test_panel_support import Rig, csrf_of, make_rig, panel_config
from tests.support.paths import REPO

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATES = REPO / "appliance" / "panel" / "templates"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def test_every_template_string_has_a_vietnamese_translation() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r'_\("((?:[^"\\]|\\.)+)"', path.read_text(encoding="utf-8")))
    assert len(used) > 100
    missing = sorted(s for s in used if s not in i18n.VI)
    assert not missing, missing


def test_dates_are_shown_in_the_device_zone_in_vietnamese_format() -> None:
    assert i18n.format_datetime("2026-11-25T23:30:00.000000Z", HCM, "vi") == "Thứ Năm, 26/11/2026 06:30"
    assert i18n.format_datetime("2026-11-25T23:30:00Z", HCM, "en") == "Thursday, 26/11/2026 06:30"
    assert i18n.format_datetime(None, HCM, "vi") == "—"
    assert i18n.format_date(date(2026, 11, 29), "vi") == "Chủ Nhật, 29/11/2026"
    assert i18n.translate("Too many failed attempts. Try again in %(minutes)s minutes.", "vi", minutes=15) == \
        "Đăng nhập sai quá nhiều lần. Hãy thử lại sau 15 phút."


def test_lockout_rule() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    four = [now - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert lockout_remaining(four, now, 5) is None
    five = four + [now]
    assert lockout_remaining(five, now, 5) == LOCKOUT
    assert lockout_remaining(five, now + LOCKOUT + timedelta(seconds=1), 5) is None
    spread = [now - FAILURE_WINDOW * 3 + timedelta(minutes=20 * i) for i in range(5)]
    assert lockout_remaining(spread, now, 5) is None  # slow guessing over hours is not a burst


def test_chart_escapes_labels_and_scales_bars() -> None:
    days = [date(2026, 11, 20) + timedelta(days=i) for i in range(7)]
    svg = chart.minutes_chart(days, [("a", "<b>Thôn</b>"), ("b", "B")], {(days[6], "a"): 42.0},
                              day_labels=[d.isoformat() for d in days], title="Số phút", unit="phút")
    assert svg.startswith("<svg") and "<b>" not in svg and "&lt;b&gt;Thôn&lt;/b&gt;" in svg
    heights = [float(h) for h in re.findall(r'height="([^"]+)" fill="#[0-9a-f]+"><title>', svg)]
    assert len(heights) == 14 and max(heights) > 0 and sorted(heights)[-2] == 0.0  # 7 days x 2 zones, one bar
    assert ">60<" in svg  # axis rounded up to a readable maximum


def test_minutes_per_day_and_zone_and_csv() -> None:
    rows = [
        {"actual_start": "2026-11-25T23:10:00.000000Z", "played_s": 120.0, "zones": ["a"]},   # 26/11 local
        {"actual_start": "2026-11-26T00:00:00.000000Z", "actual_end": "2026-11-26T00:03:00.000000Z",
         "played_s": None, "zones": ["*"]},
        {"actual_start": None, "played_s": 50, "zones": ["a"]},
    ]
    day = date(2026, 11, 26)
    totals = history.minutes_by_day_zone(rows, HCM, [day], ["a", "b"])
    assert totals == {(day, "a"): 5.0, (day, "b"): 3.0}
    csv_text = history.to_csv([{"id": "1", "title": "=HYPERLINK(\"x\")", "zones": ["a", "b"], "outcome": "completed"}])
    assert csv_text.splitlines()[0].startswith("id,item_id")
    assert "'=HYPERLINK" in csv_text and "a b" in csv_text


def test_play_log_csv_has_vietnamese_headers_local_times_and_vietnamese_reasons() -> None:
    """Issue 11 build 5: the CSV had English headers and UTC times."""
    import csv
    import io

    row = {"id": "1", "item_id": "emergency-x", "title": "Bão số 5", "text": "Bà con sơ tán ngay.",
           "zones": ["a"], "trigger": "emergency", "actor": "panel:lan", "outcome": "interrupted",
           "reason": "stopped by panel:lan", "reason_vi": "Dừng bởi bảng điều khiển (lan)",
           "actual_start": "2026-11-26T14:30:00.000000Z", "actual_end": "2026-11-26T14:31:00.000000Z",
           "played_s": 61.5}
    [header, cells] = list(csv.reader(io.StringIO(history.to_csv([row], zone=HCM, lang="vi"))))
    assert header[0] == "Mã lượt phát" and "Bắt đầu (giờ địa phương)" in header
    record = dict(zip(header, cells, strict=True))
    assert record["Bắt đầu (giờ địa phương)"] == "26/11/2026 21:30:00"     # UTC+7
    assert record["Lý do"] == "Dừng bởi bảng điều khiển (lan)"
    assert record["Người yêu cầu"] == "bảng điều khiển (lan)" and record["Nội dung đã đọc"] == "Bà con sơ tán ngay."
    assert record["Thời lượng (giây)"] == "61,5" and record["Kết quả"] != "interrupted"


def test_schedule_warnings_for_windows_and_overlaps(tmp_path: Path) -> None:
    config = panel_config(tmp_path, schedule={"default_windows": ["05:30-21:30"]})
    at = datetime(2026, 11, 26, 6, 30, tzinfo=HCM).astimezone(UTC)
    mine = [Occurrence(at, 300, "x", "X", "normal", ("*",), "s1", "local")]
    other = [Occurrence(at + timedelta(minutes=2), 60, "y", "Y", "normal", ("thon-dong",), "s2", "central")]
    found = warnings_for(mine, other, config)
    assert [(w.code, w.zone, w.other) for w in found] == [("overlap", "thon-dong", "Y")]
    night = [Occurrence(at.replace(hour=20), 300, "x", "X", "normal", ("trung-tam",), "s1", "local")]  # 03:30 local
    assert [w.code for w in warnings_for(night, [], config)] == ["outside_window"]
    urgent = [Occurrence(at.replace(hour=20), 300, "x", "X", "emergency", ("trung-tam",), "s1", "local")]
    assert warnings_for(urgent, [], config) == []


def test_settings_overrides_are_validated_like_the_file(rig: Rig) -> None:
    applied = settings_overrides.save(rig.store, rig.config, {"tts.rate": 120, "zones.thon-dong.windows": ["17:00-18:00"]},
                                      actor="admin")
    assert applied.tts.rate == 120 and applied.zones[1].windows == ["17:00-18:00"]
    assert settings_overrides.effective_config(rig.config, rig.store).tts.rate == 120
    with pytest.raises(ValidationError):
        settings_overrides.save(rig.store, rig.config, {"tts.rate": 5000}, actor="admin")
    with pytest.raises(ValidationError):
        settings_overrides.save(rig.store, rig.config, {"central.token": "steal"}, actor="admin")
    assert settings_overrides.effective_config(rig.config, rig.store).tts.rate == 120


def test_settings_page_saves_and_audits(rig: Rig) -> None:
    client = rig.login()
    token = csrf_of(client, "/settings")
    bad = client.post("/settings", data={"csrf_token": token, "voice": "vi", "rate": "9000", "sync_interval": "300",
                                         "heartbeat_interval": "60", "windows": "05:30-21:30"})
    assert bad.status_code == 400 and "80 đến 300" in bad.get_data(as_text=True)
    good = client.post("/settings", data={"csrf_token": token, "voice": "vi-vn-x-south", "rate": "130",
                                          "sync_interval": "600", "heartbeat_interval": "60",
                                          "windows": "05:00-07:00, 17:00-19:00"})
    assert good.status_code == 302
    effective = settings_overrides.effective_config(rig.config, rig.store)
    assert effective.tts.voice == "vi-vn-x-south" and effective.schedule.default_windows == ["05:00-07:00",
                                                                                              "17:00-19:00"]
    assert rig.store.query_one("SELECT actor FROM panel_audit_log WHERE action = 'settings.change'")["actor"] == "admin"


def test_english_is_available_and_remembered(rig: Rig) -> None:
    client = rig.login()
    token = csrf_of(client, "/")
    assert "Tổng quan" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/schedule"})
    page = client.get("/schedule").get_data(as_text=True)
    assert "Schedule" in page and "Monday" in page and 'lang="en"' in page
    again = rig.login()  # the user's choice is stored with the account
    assert 'lang="en"' in again.get("/").get_data(as_text=True)


def test_slot_form_round_trip_and_validation(rig: Rig) -> None:
    from tests.appliance.panel.test_panel_support import add_item

    add_item(rig.store, "c1", title="Tin sáng")
    client = rig.login()
    token = csrf_of(client, "/schedule/new")
    bad = client.post("/schedule/new", data={"csrf_token": token, "item_id": "c1", "zones": "*",
                                             "start": "not a time", "repeat": "weekly"})
    assert bad.status_code == 400 and "ngày giờ không hợp lệ" in bad.get_data(as_text=True)
    ok = client.post("/schedule/new", data={"csrf_token": token, "item_id": "c1", "zones": "*",
                                            "start": "2030-01-07T06:30", "repeat": "weekly",
                                            "weekdays": ["MO", "TH"], "until": "2030-03-01"})
    assert ok.status_code == 302, ok.get_data(as_text=True)[:2000]
    slot = rig.store.query_one("SELECT * FROM slots")
    assert slot["rrule"] == "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=6;BYMINUTE=30;BYSECOND=0"
    edit = client.get(f"/schedule/{slot['id']}/edit").get_data(as_text=True)
    assert 'value="MO" checked' in edit and 'value="2030-03-01"' in edit and 'value="2030-01-07T06:30"' in edit
    week = client.get("/schedule?week=2030-01-07").get_data(as_text=True)
    assert week.count('data-item="c1"') == 2
    too_often = client.post("/schedule/new", data={"csrf_token": token, "item_id": "c1", "zones": "*",
                                                   "start": "2030-01-07T06:30", "repeat": "custom",
                                                   "rrule": "FREQ=MINUTELY"})
    assert too_often.status_code == 400 and rig.count("slots") == 1


def test_a_local_slot_the_settings_now_refuse_says_so_and_leaves_the_grid(rig: Rig, tmp_path: Path) -> None:
    """Saved when every 10 minutes was allowed; the config now asks for 30: the daemon refuses the
    slot, so the schedule page must say why and the week grid must not draw it."""
    from appliance.broadcast.slots import SlotRepository
    from appliance.panel import create_app
    from tests.appliance.panel.test_panel_support import ADMIN, add_item, panel_config

    add_item(rig.store, "c1", title="Tin ngắn")
    loose = panel_config(rig.data_dir, schedule={"min_interval_minutes": 5, "default_windows": ["00:00-00:00"]})
    SlotRepository(rig.store, loose).add({"item_id": "c1", "kind": "rrule", "dtstart": "2030-01-07T06:00:00",
                                          "rrule": "FREQ=MINUTELY;INTERVAL=10;COUNT=3"}, actor="test")
    strict = panel_config(rig.data_dir, schedule={"min_interval_minutes": 30, "default_windows": ["00:00-00:00"]})
    client = create_app(strict, store=rig.store, testing=True).test_client()
    token = csrf_of(client, "/login")
    client.post("/login", data={"csrf_token": token, "username": ADMIN[0], "password": ADMIN[1]})
    page = client.get("/schedule?week=2030-01-07").get_data(as_text=True)
    row = page.split('id="local-slots"')[1].split("</section>")[0]
    assert "Lịch phát bị từ chối" in row and "30 phút" in row
    assert 'data-item="c1"' not in page.split('id="local-slots"')[0]
