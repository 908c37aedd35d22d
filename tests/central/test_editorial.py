"""The editorial workflow at central (issue 12): roles and scopes, four eyes, history, diffs,
province and commune targeting reaching devices through the real feed, plain-language
schedules, and the administrative units from the maintained data package."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

import protocol
from central.editorial import schedules
from central.editorial.schedules import ScheduleForm
from central.editorial.scope import Areas
from central.editorial.units import units
from central.editorial.workflow import ItemInput, NotAllowed
from protocol.errors import ValidationError
from tests.conftest import CentralHandle

TUYEN_QUANG, HA_NOI = "08", "01"
THUONG_LAM, HOAN_KIEM = "02269", "00070"   # a commune of Tuyên Quang, a ward of Hà Nội


def _ed(central: CentralHandle) -> Any:
    return central.server.app.extensions["central.editorial"]


IN_TUYEN_QUANG = Areas(provinces=(TUYEN_QUANG,))


def _text(title: str = "Lịch tiêm chủng", *, areas: Areas = IN_TUYEN_QUANG,
          priority: str = "normal", text: str = "Sáng mai tiêm chủng tại trạm y tế xã.") -> ItemInput:
    return ItemInput(kind="text", title=title, text=text, priority=priority, areas=areas,
                     schedule=ScheduleForm(mode="once", day="2026-12-24", at="06:30", duration_s=300))


def test_units_are_the_2025_ones_from_the_data_package() -> None:
    u = units()
    assert len(u.provinces) == 34 and len(u.by_commune) == 3321
    assert u.province(TUYEN_QUANG).name == "Tuyên Quang" and u.commune(THUONG_LAM).province == TUYEN_QUANG
    assert u.commune(HOAN_KIEM).name == "Phường Hoàn Kiếm"
    with pytest.raises(ValidationError):
        u.province("02")  # Hà Giang merged into Tuyên Quang in 2025


def test_an_editor_cannot_approve_their_own_item_and_another_approver_can(central: CentralHandle) -> None:
    both = central.add_person("vua-viet-vua-duyet", ("editor", "approver"), scope_kind="province", codes=[TUYEN_QUANG])
    approver = central.add_person("nguoi-duyet", ("approver",), scope_kind="province", codes=[TUYEN_QUANG])
    ed = _ed(central)
    item_id = ed.create(both, _text())
    ed.submit(both, item_id)
    with pytest.raises(NotAllowed, match="bốn mắt"):
        ed.approve(both, item_id)
    assert central.catalog.get_published(item_id) is None
    signed = ed.approve(approver, item_id)
    assert signed["approved_by"] == "nguoi-duyet" and signed["version"] == 1
    assert protocol.validate_item(signed, central.catalog.public_key, device_id="02269-0001").title == "Lịch tiêm chủng"
    actions = [(h.actor, h.action) for h in ed.view(item_id).history]
    assert actions == [("vua-viet-vua-duyet", "created"), ("vua-viet-vua-duyet", "submitted"),
                       ("nguoi-duyet", "approved")]


def test_an_approver_who_changed_an_item_cannot_approve_that_change(central: CentralHandle) -> None:
    writer = central.add_person("bientap", ("editor",))
    both = central.add_person("sua-roi-duyet", ("editor", "approver"))
    other = central.add_person("duyet", ("approver",))
    ed = _ed(central)
    item_id = ed.create(writer, _text())
    ed.submit(writer, item_id)
    ed.approve(both, item_id)   # did not write it: fine
    ed.edit(both, item_id, _text(text="Sáng mai tiêm chủng tại nhà văn hoá thôn."))
    ed.submit(both, item_id)
    with pytest.raises(NotAllowed):
        ed.approve(both, item_id)
    view = ed.view(item_id)
    [change] = [c for c in view.changes if c.field == "text"]
    assert ("-", "Sáng mai tiêm chủng tại trạm y tế xã.") in change.lines
    assert ("+", "Sáng mai tiêm chủng tại nhà văn hoá thôn.") in change.lines
    assert ed.approve(other, item_id)["version"] == 2


def test_an_emergency_may_be_approved_alone_only_with_the_explicit_confirmation(central: CentralHandle) -> None:
    both = central.add_person("truc-ban", ("editor", "approver"))
    ed = _ed(central)
    item_id = ed.create(both, _text("Bão số 3", priority="emergency"))
    ed.submit(both, item_id)
    with pytest.raises(NotAllowed, match="xác nhận khẩn cấp"):
        ed.approve(both, item_id)
    ed.approve(both, item_id, emergency_confirmed=True)
    assert ed.view(item_id).history[-1].action == "emergency_approved"
    assert "item.emergency_approved" in [r.action for r in central.server.app.extensions["central.accounts"].audit_recent()]


def test_a_province_editor_cannot_target_another_province_or_the_whole_country(central: CentralHandle) -> None:
    editor = central.add_person("bientap-tq", ("editor",), scope_kind="province", codes=[TUYEN_QUANG])
    ed = _ed(central)
    for areas in (Areas(provinces=(HA_NOI,)), Areas(communes=(HOAN_KIEM,)), Areas(),
                  Areas(provinces=(TUYEN_QUANG, HA_NOI))):
        with pytest.raises(ValidationError, match="phạm vi"):
            ed.create(editor, _text(areas=areas))
    assert central.catalog.list_items() == []
    item_id = ed.create(editor, _text(areas=Areas(communes=(THUONG_LAM,))))
    with pytest.raises(ValidationError, match="phạm vi"):
        ed.edit(editor, item_id, _text(areas=Areas(provinces=(HA_NOI,))))
    assert central.catalog.get_item(item_id).communes == [THUONG_LAM]


def test_a_commune_editor_sees_only_their_communes_items(central: CentralHandle) -> None:
    national = central.add_person("trung-uong", ("editor", "approver"))
    commune = central.add_person("xa-thuong-lam", ("editor",), scope_kind="communes", codes=[THUONG_LAM])
    ed = _ed(central)
    hanoi = ed.create(national, _text("Hà Nội", areas=Areas(provinces=(HA_NOI,))))
    mine = ed.create(national, _text("Thượng Lâm", areas=Areas(communes=(THUONG_LAM,))))
    assert [v.row.id for v in ed.items(commune)] == [mine]
    assert {v.row.id for v in ed.items(national)} == {hanoi, mine}


def test_a_province_target_reaches_every_device_of_its_communes_and_no_other(central: CentralHandle) -> None:
    editor = central.add_person("bientap", ("editor",), scope_kind="province", codes=[TUYEN_QUANG])
    approver = central.add_person("duyet", ("approver",))
    in_province = {"02269-0001": central.add_device("02269-0001"), "02266-0007": central.add_device("02266-0007")}
    elsewhere = central.add_device("00070-0001")
    ed = _ed(central)
    item_id = ed.create(editor, _text())
    ed.submit(editor, item_id)
    ed.approve(approver, item_id)

    def feed(device_id: str, token: str) -> list[str]:
        answer = requests.get(f"{central.url}/v1/devices/{device_id}/feed", headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        return [i["id"] for i in answer.json()["items"]]

    for device_id, token in in_province.items():
        assert feed(device_id, token) == [item_id]
    assert feed("00070-0001", elsewhere) == []
    assert feed(central.device_id, central.token) == []   # 12345 is no commune of Tuyên Quang


def test_intake_drafts_wait_in_the_queue_and_rejection_needs_a_reason(central: CentralHandle) -> None:
    approver = central.add_person("duyet", ("approver",))
    editor = central.add_person("bientap", ("editor",))
    ed = _ed(central)
    intake = central.catalog.add_item(kind="text", title="Tin từ Cổng TTĐT Chính phủ", text="Nội dung bài báo.")
    written = ed.create(editor, _text())
    assert [v.row.id for v in ed.queue(approver)] == [intake]  # a draft not yet submitted is the writer's
    ed.submit(editor, written)
    urgent = ed.create(editor, _text("Khẩn", priority="emergency"))
    ed.submit(editor, urgent)
    assert [v.row.id for v in ed.queue(approver)][0] == urgent  # emergencies first
    with pytest.raises(ValidationError, match="lý do"):
        ed.reject(approver, written, "  ")
    ed.reject(approver, written, "Viết ngắn hơn, nêu rõ giờ.")
    view = ed.view(written)
    assert view.status == "rejected" and view.editorial.comment == "Viết ngắn hơn, nêu rõ giờ."
    assert written not in [v.row.id for v in ed.queue(approver)]
    ed.approve(approver, intake)
    assert central.catalog.get_published(intake)["approved_by"] == "duyet"
    ed.revoke(approver, intake, "Tin đã cũ")
    assert central.catalog.get_published(intake)["revoked"] is True
    assert [h.action for h in ed.view(intake).history] == ["approved", "revoked"]


def test_the_review_pages_over_http(central: CentralHandle) -> None:
    central.add_person("bientap", ("editor",), scope_kind="province", codes=[TUYEN_QUANG])
    central.add_person("duyet", ("approver",), scope_kind="province", codes=[TUYEN_QUANG])
    editor = central.login("bientap")
    form = editor.get(f"{central.url}/items/new?kind=text", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    assert 'value="01"' not in form and 'value="08"' in form  # only the editor's own province is offered
    base = {"csrf": csrf, "kind": "text", "title": "Thông báo", "text": "Họp thôn lúc 19 giờ.", "mode": "weekdays",
            "weekdays": ["MO", "TH"], "day": "2026-12-07", "at": "19:00", "duration_min": "10", "priority": "normal"}
    refused = editor.post(f"{central.url}/items/new", data=base | {"provinces": HA_NOI, "action": "submit"}, timeout=30,
                          allow_redirects=False)
    assert refused.status_code == 400 and "phạm vi" in refused.text and central.catalog.list_items() == []
    made = editor.post(f"{central.url}/items/new", data=base | {"provinces": TUYEN_QUANG, "action": "submit"},
                       timeout=30, allow_redirects=False)
    assert made.status_code == 303
    item_url = central.url + made.headers["Location"]
    page = editor.get(item_url, timeout=30).text
    assert "Thứ Hai, Thứ Năm lúc 19:00" in page and 'id="approve"' not in page
    forged = editor.post(item_url + "/approve", data={"csrf": csrf}, timeout=30)
    assert "vai trò người duyệt" in forged.text
    approver = central.login("duyet")
    queue = approver.get(f"{central.url}/review", timeout=30).text
    assert 'id="count-all">1<' in queue and "Thông báo" in queue
    heard = approver.post(item_url + "/preview", data={"csrf": approver.csrf}, timeout=120).text
    spoken = re.search(r'id="spoken">([^<]+)<', heard).group(1)
    assert "mười chín giờ" in spoken and 'id="preview-audio"' in heard
    answer = approver.post(item_url + "/approve", data={"csrf": approver.csrf}, timeout=30)
    assert "Đã duyệt và ký" in answer.text
    [row] = central.catalog.list_items()
    assert row["state"] == "approved" and row["communes"] and all(c in {x.code for x in units().province(
        TUYEN_QUANG).communes} for c in row["communes"])
    path = made.headers["Location"]
    english = approver.get(f"{central.url}/lang/en", params={"next": path}, timeout=30).text  # the switch
    assert approver.get(f"{central.url}/lang/en", params={"next": "https://evil.example/"}, timeout=30,
                        allow_redirects=False).headers["Location"] == "/"
    assert "Approved and signed" in english and "Monday, Thursday at 19:00" in english
    assert "This version&#39;s content" in english or "This version's content" in english


@pytest.mark.parametrize(("form", "expected"), [
    (ScheduleForm(mode="once", day="2026-12-24", at="06:30", duration_s=300),
     {"type": "once", "starts": ["2026-12-23T23:30:00Z"], "duration_s": 300}),
    (ScheduleForm(mode="repeat", day="2026-12-24", at="06:30", count=3, gap_minutes=15, duration_s=120),
     {"type": "once", "starts": ["2026-12-23T23:30:00Z", "2026-12-23T23:45:00Z", "2026-12-24T00:00:00Z"],
      "duration_s": 120}),
    (ScheduleForm(mode="daily", day="2026-12-24", at="17:00", until="2026-12-31", duration_s=600),
     {"type": "rrule", "dtstart": "2026-12-24T17:00:00", "tzid": "Asia/Ho_Chi_Minh", "rrule": "FREQ=DAILY;UNTIL=20261231",
      "exdates": [], "duration_s": 600}),
    (ScheduleForm(mode="weekdays", day="2026-12-24", at="06:00", weekdays=("SA", "MO"), duration_s=300),
     {"type": "rrule", "dtstart": "2026-12-24T06:00:00", "tzid": "Asia/Ho_Chi_Minh", "rrule": "FREQ=WEEKLY;BYDAY=MO,SA",
      "exdates": [], "duration_s": 300}),
])
def test_plain_schedules_become_protocol_schedules_and_back(form: ScheduleForm, expected: dict[str, Any]) -> None:
    made = schedules.to_schedule(form)
    assert made == expected
    probe = {"id": "x", "version": 1, "kind": "text", "title": "t", "text": "t", "language": "vi", "media": None,
             "priority": "normal", "valid_from": "2026-12-01T00:00:00Z", "valid_until": None, "schedule": made,
             "zones": ["*"], "devices": ["*"], "approved_by": "a", "approved_at": "2026-12-01T00:00:00Z",
             "revoked": False}
    protocol.check_item_shape(probe)  # what a station accepts
    back = schedules.from_schedule(made)
    assert schedules.to_schedule(back) == made
    assert schedules.describe(made, "vi") and "—" not in schedules.describe(made, "vi")


@pytest.mark.parametrize("form", [
    ScheduleForm(mode="once", day="24/12/2026", at="06:30"), ScheduleForm(mode="once", day="2026-12-24", at="25:00"),
    ScheduleForm(mode="repeat", day="2026-12-24", at="06:30", count=11),
    ScheduleForm(mode="weekdays", day="2026-12-24", at="06:30", weekdays=()),
    ScheduleForm(mode="daily", day="2026-12-24", at="06:30", until="2026-12-01"),
    ScheduleForm(mode="sometimes")])
def test_bad_schedules_are_refused_in_vietnamese(form: ScheduleForm) -> None:
    with pytest.raises(ValidationError) as refused:
        schedules.to_schedule(form)
    assert refused.value.vi and refused.value.en


def test_schedule_words() -> None:
    made = schedules.to_schedule(ScheduleForm(mode="repeat", day="2026-12-24", at="06:30", count=3, gap_minutes=15,
                                              duration_s=300))
    assert schedules.describe(made) == "3 lần, cách nhau 15 phút, từ 06:30 ngày 24/12/2026, dài 5 phút"
    assert schedules.describe(None, "en").startswith("No schedule")
    assert datetime(2026, 12, 23, 23, 30, tzinfo=UTC) == protocol.parse_utc(made["starts"][0])


def _tone_wav(seconds: float = 2.0, amplitude: int = 3000) -> bytes:
    import io
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(22050)
        wav.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * i / 22050)))
                                 for i in range(int(seconds * 22050))))
    return out.getvalue()


def test_audio_upload_is_checked_and_loudness_prepared_and_a_live_relay_item_is_made(central: CentralHandle) -> None:
    from audio.loudness import measure_file

    central.add_person("bientap", ("editor",))
    editor = central.login("bientap")
    base = {"csrf": editor.csrf, "title": "Bài hát", "mode": "none", "priority": "normal", "action": "save"}
    refused = editor.post(f"{central.url}/items/new", data=base | {"kind": "audio"}, timeout=60,
                          files={"audio": ("tin.mp3", b"this is not audio at all" * 100, "audio/mpeg")})
    assert refused.status_code == 400 and 'id="form-error"' in refused.text
    assert central.catalog.list_items() == []
    quiet = _tone_wav(amplitude=800)
    made = editor.post(f"{central.url}/items/new", data=base | {"kind": "audio"}, timeout=60,
                       files={"audio": ("tin.wav", quiet, "audio/wav")}, allow_redirects=False)
    assert made.status_code == 303, made.text
    [row] = central.catalog.list_items()
    media = central.catalog.get_item(row["id"]).draft["media"]
    path, size, mime = central.catalog.media_info(media["sha256"])
    assert mime == "audio/wav" and size == media["bytes"] and path.read_bytes() != quiet
    assert abs(measure_file(path).integrated_lufs - (-16.0)) < 1.5  # brought to the stations' target loudness
    heard = editor.get(f"{central.url}/items/{row['id']}/media", timeout=30)
    assert heard.status_code == 200 and heard.content == path.read_bytes()
    assert heard.headers["Content-Type"] == "audio/wav" and heard.headers["Content-Security-Policy"] == "sandbox"
    central.add_person("xa-khac", ("approver",), scope_kind="communes", codes=[THUONG_LAM])
    outsider = central.login("xa-khac")  # a whole-country item is outside a commune's scope: not even seen
    assert outsider.get(f"{central.url}/items/{row['id']}/media", timeout=30).status_code == 404
    assert outsider.get(f"{central.url}/items/{row['id']}", timeout=30).status_code == 404
    stream = editor.post(f"{central.url}/items/new", timeout=30, allow_redirects=False,
                         data=base | {"kind": "stream", "title": "Tiếp sóng VOV1", "stream_url": "https://stream.example.vn/vov1",
                                      "stream_mime": "audio/mpeg", "mode": "daily", "day": "2026-12-24", "at": "06:00",
                                      "duration_min": "30"})
    assert stream.status_code == 303
    relay = central.catalog.get_item(stream.headers["Location"].rsplit("/", 1)[1])
    assert relay.draft["kind"] == "stream" and relay.draft["media"]["url"] == "https://stream.example.vn/vov1"
    assert relay.draft["schedule"]["rrule"] == "FREQ=DAILY"


def test_forms_need_the_sessions_csrf_and_admin_pages_the_admin_role(central: CentralHandle) -> None:
    central.add_person("bientap", ("editor",))
    editor = central.login("bientap")
    form = {"kind": "text", "title": "Không có CSRF", "text": "x", "mode": "none", "priority": "normal"}
    assert editor.post(f"{central.url}/items/new", data=form, timeout=30).status_code == 403
    assert editor.post(f"{central.url}/items/new", data=form | {"csrf": editor.csrf[:-2] + "xx"},
                       timeout=30).status_code == 403
    assert central.catalog.list_items() == []
    for path in ("/people", "/tokens", "/audit"):
        assert editor.get(central.url + path, timeout=30).status_code == 403, path
    added = editor.post(f"{central.url}/people", timeout=30, data={
        "csrf": editor.csrf, "username": "ke-gian", "password": "x" * 12, "roles": "admin"})
    assert added.status_code == 403
    assert central.server.app.extensions["central.accounts"].by_username("ke-gian") is None
