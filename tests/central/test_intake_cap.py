"""CAP 1.2 alerts (issue 12 item 5): posted to /v1/intake/cap or polled from a CAP feed.

Signed with a key made for the test (central/intake/fixtures.py); verified by central against
the source's pinned certificate. Tests with the ``central`` fixture run on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

import protocol
from central.intake import cap
from central.intake.errors import IntakeError
from central.intake.fixture_server import FixtureServer, Route
from central.intake.fixtures import (
    CAP_SENDER,
    SigningIdentity,
    cap_alert,
    cap_index,
    sign_cap,
    signing_identity,
    tamper,
)
from central.intake.provenance import provenance_of
from central.intake.service import Intake
from tests.conftest import CentralHandle

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return signing_identity()


@pytest.fixture(scope="module")
def stranger() -> SigningIdentity:
    return signing_identity("someone else")


def intake(central: CentralHandle) -> Intake:
    return central.server.app.extensions["central.intake"]


def now(central: CentralHandle) -> datetime:
    return central.clock().replace(microsecond=0)


def alert(central: CentralHandle, identifier: str, **options: Any) -> bytes:
    sent = now(central)
    options.setdefault("expires", sent + timedelta(hours=6))
    return cap_alert(identifier, sent=sent, **options)


def push_source(central: CentralHandle, identity: SigningIdentity, *, auto: bool = False, **options: Any) -> str:
    token = intake(central).sources.add("nchmf", "cap", None, push=True, certificates=[identity.cert_pem],
                                        auto_senders=[CAP_SENDER] if auto else [], **options)
    assert token is not None
    return token


def post(central: CentralHandle, token: str, body: bytes) -> requests.Response:
    return requests.post(f"{central.url}/v1/intake/cap", data=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"})


def items(central: CentralHandle) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in central.catalog.list_items()}


def device_feed(central: CentralHandle) -> list[protocol.Item]:
    return [central.verify(doc) for doc in central.feed().json()["items"]]


# ---------------------------------------------------------------- pure rules

def test_parsing_and_decisions_follow_cap_1_2() -> None:
    xml = cap_alert("X1", sent=NOW, expires=NOW + timedelta(hours=2), communes=("12345", "67890"))
    parsed = cap.parse_alert(xml)
    assert (parsed.identifier, parsed.sender, parsed.status, parsed.msg_type) == ("X1", CAP_SENDER, "Actual", "Alert")
    decision = cap.decide(parsed, now=NOW, signature_verified=True, auto_senders=(CAP_SENDER,))
    assert decision.action == "approve" and decision.priority == "emergency"
    assert decision.valid_until == NOW + timedelta(hours=2) and decision.communes == ("12345", "67890")
    assert "Khu vực: Xã Thử Nghiệm, tỉnh Mẫu." in decision.text and decision.title.startswith("Cảnh báo lũ quét")
    assert cap.decide(parsed, now=NOW, signature_verified=False, auto_senders=(CAP_SENDER,)).action == "draft"
    assert cap.decide(parsed, now=NOW, signature_verified=True).action == "draft"
    for severity, urgency, priority in [("Extreme", "Immediate", "emergency"), ("Severe", "Expected", "emergency"),
                                        ("Severe", "Future", "priority"), ("Moderate", "Immediate", "priority"),
                                        ("Minor", "Immediate", "normal"), ("Unknown", "Unknown", "normal")]:
        other = cap.parse_alert(cap_alert("X2", sent=NOW, severity=severity, urgency=urgency))
        assert cap.priority_of(other.infos[0]) == priority, (severity, urgency)
        decided = cap.decide(other, now=NOW, signature_verified=True, auto_senders=(CAP_SENDER,))
        assert decided.action == ("approve" if (severity, urgency) == ("Extreme", "Immediate") else "draft")
    for status in ("Test", "Exercise", "System", "Draft"):
        test = cap.parse_alert(cap_alert("T", sent=NOW, status=status))
        assert cap.decide(test, now=NOW, signature_verified=True, auto_senders=(CAP_SENDER,)).action == "ignore"
    expired = cap.parse_alert(cap_alert("E", sent=NOW - timedelta(hours=3), expires=NOW - timedelta(minutes=1)))
    assert cap.decide(expired, now=NOW, signature_verified=True, auto_senders=(CAP_SENDER,)).reason == "expired"
    no_expiry = cap.parse_alert(cap_alert("N", sent=NOW))
    assert cap.decide(no_expiry, now=NOW, signature_verified=True).valid_until == NOW + cap.DEFAULT_VALIDITY
    cancel = cap.parse_alert(cap_alert("C", sent=NOW, msg_type="Cancel", references=((CAP_SENDER, "X1", NOW),)))
    decided = cap.decide(cancel, now=NOW, signature_verified=True)
    assert (decided.action, decided.supersedes) == ("cancel", (f"{CAP_SENDER},X1",))


@pytest.mark.parametrize("xml", [
    b"<alert/>",
    b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x "y">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
    cap_alert("U", sent=NOW, msg_type="Update"),  # an Update must name what it updates
    cap_alert("S", sent=NOW, status="Maybe"),
    cap_alert("S", sent=NOW)[:200],
    cap_alert("S", sent=NOW).replace(b"+00:00</sent>", b"</sent>"),
], ids=["not-cap", "dtd", "update-without-references", "unknown-status", "truncated", "no-time-zone"])
def test_malformed_cap_is_refused(xml: bytes) -> None:
    with pytest.raises(IntakeError) as refused:
        cap.parse_alert(xml)
    assert refused.value.code == "intake.cap_invalid" and refused.value.vi.startswith("Bản tin CAP không hợp lệ")


# ---------------------------------------------------------------- posted alerts

def test_a_valid_signed_alert_becomes_an_emergency_draft_for_its_communes(
        central: CentralHandle, identity: SigningIdentity) -> None:
    central.add_device("67890-0001", ("thon-1",))
    token = push_source(central, identity)
    sent = now(central)
    answer = post(central, token, sign_cap(cap_alert("NCHMF-1", sent=sent, expires=sent + timedelta(hours=6)), identity))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "draft" and body["item_id"]
    row = items(central)[body["item_id"]]
    assert (row["state"], row["priority"], row["devices"]) == ("draft", "emergency", ["12345-0001"])
    assert device_feed(central) == []  # a draft never airs
    found = provenance_of(central.catalog.store, body["item_id"])
    assert found is not None and found.extraction == "cap" and found.cap_key == f"{CAP_SENDER},NCHMF-1"
    assert found.published_at == sent and found.source_kind == "cap"  # CAP <sent>
    # The same message again is a duplicate, not a second draft.
    again = post(central, token, sign_cap(cap_alert("NCHMF-1", sent=sent, expires=sent + timedelta(hours=6)),
                                          identity)).json()
    assert again["outcome"] == "duplicate" and len(items(central)) == 1
    status = intake(central).sources.get("nchmf")
    assert status.items_taken == 1 and status.last_error is None
    # Replayed through another CAP source that pins the same certificate: still the same alert.
    other = intake(central).sources.add("relay", "cap", None, push=True, certificates=[identity.cert_pem])
    assert other is not None
    replay = post(central, other, sign_cap(cap_alert("NCHMF-1", sent=sent, expires=sent + timedelta(hours=6)),
                                           identity)).json()
    assert replay["outcome"] == "duplicate" and len(items(central)) == 1


TUYEN_QUANG, TQ_COMMUNES, HA_NOI_COMMUNE = "08", ("02512", "02524"), "00004"  # central.editorial.units


def test_a_province_geocode_reaches_every_commune_of_the_province(central: CentralHandle,
                                                                  identity: SigningIdentity) -> None:
    parsed = cap.parse_alert(cap_alert("P0", sent=NOW, communes=(), provinces=(TUYEN_QUANG,)))
    decision = cap.decide(parsed, now=NOW, signature_verified=True)
    assert (decision.provinces, decision.communes) == ((TUYEN_QUANG,), ())
    tokens = {d: central.add_device(d) for d in (f"{TQ_COMMUNES[0]}-0001", f"{TQ_COMMUNES[1]}-0001",
                                                 f"{HA_NOI_COMMUNE}-0001")}
    token = push_source(central, identity, auto=True)
    body = post(central, token, sign_cap(alert(central, "NCHMF-P1", communes=(), provinces=(TUYEN_QUANG,)),
                                         identity)).json()
    assert body["outcome"] == "approved", body
    assert items(central)[body["item_id"]]["devices"] == [f"{c}-0001" for c in TQ_COMMUNES]

    def feed_ids(device_id: str) -> list[str]:
        answer = requests.get(f"{central.url}/v1/devices/{device_id}/feed", headers=central.headers(tokens[device_id]),
                              timeout=30)
        return [doc["id"] for doc in answer.json()["items"]]

    assert feed_ids(f"{TQ_COMMUNES[1]}-0001") == [body["item_id"]]
    assert feed_ids(f"{HA_NOI_COMMUNE}-0001") == []  # another province
    # A province code that does not exist: a draft for the source's zones, never aired at once.
    unknown = post(central, token, sign_cap(alert(central, "NCHMF-P2", communes=(), provinces=("99",)),
                                            identity)).json()
    assert unknown["outcome"] == "draft" and "99" in unknown["note"]
    assert items(central)[unknown["item_id"]]["devices"] == ["*"]


def test_a_province_with_more_devices_than_a_list_holds_is_limited_to_its_communes(
        central: CentralHandle, identity: SigningIdentity) -> None:
    many = [(f"{TQ_COMMUNES[n % 2]}-{n:04d}", ["thon-1"], "Tuyên Quang") for n in range(protocol.MAX_LIST_ENTRIES + 4)]
    central.catalog.add_devices(many)
    token = push_source(central, identity)
    body = post(central, token, sign_cap(alert(central, "NCHMF-P3", communes=(), provinces=(TUYEN_QUANG,)),
                                         identity)).json()
    row = items(central)[body["item_id"]]
    assert body["outcome"] == "draft" and (row["devices"], row["zones"]) == (["*"], ["*"])
    assert row["communes"] is not None and set(TQ_COMMUNES) <= set(row["communes"])
    assert HA_NOI_COMMUNE not in row["communes"] and len(row["communes"]) == 124


def test_an_allowed_sender_at_extreme_immediate_airs_at_once(central: CentralHandle, identity: SigningIdentity) -> None:
    token = push_source(central, identity, auto=True)
    body = post(central, token, sign_cap(alert(central, "NCHMF-2"), identity)).json()
    assert body["outcome"] == "approved"
    (item,) = device_feed(central)
    assert item.id == body["item_id"] and item.priority == "emergency" and not item.revoked
    assert item.approved_by.startswith("CAP tự động / automatic")
    assert item.schedule is not None and item.schedule["type"] == "once"
    start = protocol.parse_utc(item.schedule["starts"][0])
    assert abs((start - central.clock()).total_seconds()) < 60
    assert item.valid_until is not None
    until = protocol.parse_utc(item.valid_until) - timedelta(hours=6)
    assert abs((until - central.clock()).total_seconds()) < 60  # CAP expires → valid_until
    # Severe (not Extreme) from the same sender waits for an approver.
    severe = post(central, token, sign_cap(alert(central, "NCHMF-3", severity="Severe"), identity)).json()
    assert severe["outcome"] == "draft" and len(device_feed(central)) == 1


@pytest.mark.parametrize("case", ["tampered", "unsigned", "other-key", "test", "exercise", "expired"])
def test_tampered_unsigned_test_and_expired_alerts_never_air(
        central: CentralHandle, identity: SigningIdentity, stranger: SigningIdentity, case: str) -> None:
    token = push_source(central, identity, auto=True)
    good = alert(central, f"NCHMF-{case}")
    body = {
        "tampered": tamper(sign_cap(good, identity)),
        "unsigned": good,
        "other-key": sign_cap(good, stranger),
        "test": sign_cap(alert(central, "T1", status="Test"), identity),
        "exercise": sign_cap(alert(central, "T2", status="Exercise"), identity),
        "expired": sign_cap(cap_alert("OLD", sent=now(central) - timedelta(hours=5),
                                      expires=now(central) - timedelta(minutes=5)), identity),
    }[case]
    answer = post(central, token, body)
    if case in ("tampered", "unsigned", "other-key"):
        assert answer.status_code == 422
        code = answer.json()["error"]["code"]
        assert code == ("intake.cap_unsigned" if case == "unsigned" else "intake.cap_signature")
        status = intake(central).sources.get("nchmf")
        assert status.last_error is not None and status.last_error["code"] == code
        assert "từ chối" in status.last_error["vi"]
    else:
        assert answer.status_code == 200 and answer.json()["outcome"] == case.replace("exercise", "test")
        assert answer.json()["item_id"] is None
    assert items(central) == {} and device_feed(central) == []


def test_cancel_revokes_the_item_made_from_the_referenced_alert(central: CentralHandle,
                                                               identity: SigningIdentity) -> None:
    token = push_source(central, identity, auto=True)
    sent = now(central)
    first = post(central, token, sign_cap(alert(central, "NCHMF-10"), identity)).json()
    draft = post(central, token, sign_cap(alert(central, "NCHMF-11", severity="Severe"), identity)).json()
    assert (first["outcome"], draft["outcome"]) == ("approved", "draft")
    (cursor_item,) = device_feed(central)
    cursor = central.feed().json()["cursor"]
    # A forged cancel (not signed by the pinned key) changes nothing.
    forged = cap_alert("C0", sent=sent, msg_type="Cancel", references=((CAP_SENDER, "NCHMF-10", sent),))
    assert post(central, token, forged).status_code == 422
    assert items(central)[first["item_id"]]["state"] == "approved"
    cancel = cap_alert("C1", sent=sent, msg_type="Cancel",
                       references=((CAP_SENDER, "NCHMF-10", sent), (CAP_SENDER, "NCHMF-11", sent)))
    body = post(central, token, sign_cap(cancel, identity)).json()
    assert body["outcome"] == "cancel" and sorted(body["revoked"]) == sorted([first["item_id"], draft["item_id"]])
    assert {items(central)[i]["state"] for i in body["revoked"]} == {"revoked"}
    (withdrawn,) = [central.verify(d) for d in central.feed(cursor).json()["items"]]
    assert withdrawn.id == cursor_item.id and withdrawn.revoked


def test_an_update_replaces_the_alert_it_references(central: CentralHandle, identity: SigningIdentity) -> None:
    token = push_source(central, identity, auto=True)
    sent = now(central)
    first = post(central, token, sign_cap(alert(central, "NCHMF-20"), identity)).json()
    update = alert(central, "NCHMF-21", msg_type="Update", references=((CAP_SENDER, "NCHMF-20", sent),),
                   headline="Cập nhật: lũ quét lan rộng")
    body = post(central, token, sign_cap(update, identity)).json()
    assert body["outcome"] == "approved" and body["revoked"] == [first["item_id"]]
    live = {i.id: i for i in device_feed(central) if not i.revoked}
    assert list(live) == [body["item_id"]] and live[body["item_id"]].title == "Cập nhật: lũ quét lan rộng"


def test_the_cap_endpoint_takes_only_a_cap_source_token(central: CentralHandle, identity: SigningIdentity) -> None:
    token = push_source(central, identity)
    signed = sign_cap(alert(central, "NCHMF-30"), identity)
    for wrong in ("", "cci_wrong", central.admin_token, central.token):
        assert post(central, wrong, signed).status_code == 401
    intake(central).sources.set_enabled("nchmf", False)
    assert post(central, token, signed).status_code == 401
    intake(central).sources.set_enabled("nchmf", True)
    assert post(central, token, b"x" * (cap.MAX_CAP_BYTES + 1)).status_code == 413
    assert items(central) == {}
    new = intake(central).sources.rotate_token("nchmf")
    assert post(central, token, signed).status_code == 401 and post(central, new, signed).status_code == 200


def test_automatic_approval_needs_required_signatures_and_a_pinned_certificate(central: CentralHandle) -> None:
    from protocol.errors import ValidationError

    with pytest.raises(ValidationError, match="Tự động duyệt chỉ dành cho nguồn CAP"):
        intake(central).sources.add("x", "cap", None, push=True, require_signature=False, auto_senders=[CAP_SENDER])
    with pytest.raises(ValidationError, match="cần ít nhất một chứng thư"):
        intake(central).sources.add("y", "cap", None, push=True)


# ---------------------------------------------------------------- polled alerts

@pytest.fixture
def cap_server() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server


def test_a_polled_cap_feed_takes_each_message_once(central: CentralHandle, identity: SigningIdentity,
                                                   cap_server: FixtureServer) -> None:
    paths = ["/cap/a.xml", "/cap/b.xml", "/cap/test.xml", "/cap/tampered.xml"]
    cap_server.route(paths[0], Route(sign_cap(alert(central, "P-A"), identity), content_type="application/xml"))
    cap_server.route(paths[1], Route(sign_cap(alert(central, "P-B", severity="Moderate"), identity),
                                     content_type="application/xml"))
    cap_server.route(paths[2], Route(sign_cap(alert(central, "P-T", status="Test"), identity),
                                     content_type="application/xml"))
    cap_server.route(paths[3], Route(tamper(sign_cap(alert(central, "P-X"), identity)), content_type="application/xml"))
    url = cap_server.route("/cap/index.atom", Route(cap_index(cap_server.url, paths), content_type="application/atom+xml"))
    service = intake(central)
    service.sources.add("nchmf-feed", "cap", url, certificates=[identity.cert_pem], auto_senders=[CAP_SENDER])
    result = service.poll("nchmf-feed")
    assert (result.new, result.requests) == (3, 5) and len(result.refused) == 1  # a, b, test; tampered refused
    assert "Chữ ký số" in result.refused[0]
    rows = items(central)
    assert sorted((r["state"], r["priority"]) for r in rows.values()) == [("approved", "emergency"),
                                                                           ("draft", "priority")]
    status = service.sources.get("nchmf-feed")
    assert status.last_error is not None and status.last_error["code"] == "intake.entries_refused"
    # The forgery stays refused; the unchanged feed is one request answered 304.
    again = service.poll("nchmf-feed")
    assert (again.status, again.requests, again.new) == (304, 1, 0) and len(items(central)) == 2


def test_a_cap_message_that_failed_to_arrive_is_fetched_again(central: CentralHandle, identity: SigningIdentity,
                                                              cap_server: FixtureServer) -> None:
    url = cap_server.route("/cap/index.atom", Route(cap_index(cap_server.url, ["/cap/late.xml"]),
                                                    content_type="application/atom+xml"))
    service = intake(central)
    service.sources.add("nchmf-feed", "cap", url, certificates=[identity.cert_pem])
    first = service.poll("nchmf-feed")  # the message is not there yet (404)
    assert first.new == 0 and first.retry and "HTTP 404" in first.refused[0]
    cap_server.route("/cap/late.xml", Route(sign_cap(alert(central, "LATE"), identity), content_type="application/xml"))
    second = service.poll("nchmf-feed")
    assert (second.status, second.new) == (200, 1)  # the index was read again, not answered 304
    assert service.sources.get("nchmf-feed").last_error is None
    assert service.poll("nchmf-feed").status == 304
