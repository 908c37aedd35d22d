"""The JSON API (docs/panel-api.md) with an API token: announcements, normalize, slot CRUD,
play log, and daemon actions answered 503 with both languages when the daemon is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from appliance.panel.accounts import Accounts
from tests.appliance.panel.test_panel_support import ADMIN, Rig, audit_actions, csrf_of, json_body, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def _token(rig: Rig) -> dict[str, str]:
    accounts = Accounts(rig.store)
    admin = next(u for u in accounts.list_users() if u.username == ADMIN[0])
    return {"Authorization": f"Bearer {accounts.create_token(admin.id, 'tests')}"}


def test_announcement_and_slot_crud_through_the_api(rig: Rig) -> None:
    client: FlaskClient = rig.client()
    auth = _token(rig)
    created = client.post("/api/v1/announcements", headers=auth, json={
        "title": "Lịch tiêm phòng", "text": "Tiêm phòng cho gia súc lúc 7h30 sáng mai.", "zones": ["thon-dong"],
        "voice": "vi-vn-x-south", "rate": 140})
    assert created.status_code == 201
    item_id = json_body(created)["result"]["item_id"]
    item = rig.store.get_item(item_id)
    assert item["zones"] == ["thon-dong"] and item["document"]["tts"] == {"voice": "vi-vn-x-south", "rate": 140}
    spoken = client.post("/api/v1/normalize", headers=auth, json={"text": "lúc 7h30"})
    assert spoken.status_code == 200 and "7h30" not in json_body(spoken)["result"]["spoken"]

    slot = client.post("/api/v1/slots", headers=auth, json={"item_id": item_id, "kind": "once",
                                                            "starts": ["2030-05-01T06:30"]})
    assert slot.status_code == 201, slot.get_data(as_text=True)
    slot_id = json_body(slot)["result"]["id"]
    assert json_body(slot)["result"]["starts"] == ["2030-04-30T23:30:00Z"]  # device-local 06:30 in UTC
    moved = client.put(f"/api/v1/slots/{slot_id}", headers=auth, json={"item_id": item_id, "kind": "rrule",
                                                                       "dtstart": "2030-05-01T17:00:00",
                                                                       "rrule": "FREQ=DAILY;BYHOUR=17;BYMINUTE=0"})
    assert moved.status_code == 200 and json_body(moved)["result"]["kind"] == "rrule"
    too_often = client.put(f"/api/v1/slots/{slot_id}", headers=auth, json={
        "item_id": item_id, "kind": "rrule", "dtstart": "2030-05-01T17:00:00", "rrule": "FREQ=MINUTELY"})
    assert too_often.status_code == 400 and json_body(too_often)["error"]["code"].startswith("schedule_invalid")
    assert [s["id"] for s in json_body(client.get("/api/v1/slots", headers=auth))["result"]] == [slot_id]
    assert client.delete(f"/api/v1/slots/{slot_id}", headers=auth).status_code == 200
    assert client.delete(f"/api/v1/slots/{slot_id}", headers=auth).status_code == 400
    assert json_body(client.get("/api/v1/slots", headers=auth))["result"] == []
    assert {"announcement.create", "slot.create", "slot.update", "slot.delete"} <= set(audit_actions(rig.store))


def test_daemon_actions_report_the_daemon_down_in_both_languages(rig: Rig) -> None:
    client = rig.client()
    auth = _token(rig)
    refused = client.post("/api/v1/emergency", headers=auth, json={"text": "Khẩn cấp"})
    assert refused.status_code == 400 and json_body(refused)["error"]["code"] == "invalid_input.confirm"
    down = client.post("/api/v1/emergency", headers=auth, json={"confirm": True, "text": "Khẩn cấp"})
    assert down.status_code == 503
    error = json_body(down)["error"]
    assert error["code"] == "control.not_running" and error["vi"] != error["en"]
    assert client.post("/api/v1/volume", headers=auth, json={"volume": 101}).status_code == 400
    assert client.post("/api/v1/relay_test", headers=auth, json={"zone": "nowhere"}).status_code == 400
    assert rig.store.query_one("SELECT outcome FROM panel_audit_log WHERE action = 'emergency.broadcast'")[0] == \
        "refused"
    playlog = client.get("/api/v1/playlog?from=2030-13-01", headers=auth)
    assert playlog.status_code == 400


def test_session_writes_need_the_csrf_header(rig: Rig) -> None:
    client = rig.login()
    body = {"title": "T", "text": "Nội dung"}
    assert client.post("/api/v1/announcements", json=body).status_code == 400
    token = csrf_of(client, "/")
    assert client.post("/api/v1/announcements", json=body, headers={"X-CSRFToken": token}).status_code == 201
