"""Central monitoring over real HTTP: offline after 1.5 intervals (fake central clock), status
problems, malformed/oversized heartbeats and logs refused with a reason and nothing stored,
idempotent logs, pages and the JSON API showing the same data, the command form."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

import protocol
from central.monitoring import DeviceStatus, device_status
from tests.conftest import PERSON_PASSWORD, CentralHandle


def heartbeat(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "device_id": "12345-0001", "sent_at": "2025-06-01T00:00:00Z", "software_version": "0.1.0",
        "boot_id": "0b9f6a3e-6a1c-4c39-9a4e-2a3b7f0d5e11", "uptime_s": 86400,
        "clock": {"trusted": True, "offset_s": -0.4, "source": "ntp"}, "timezone": "Asia/Ho_Chi_Minh",
        "disk": {"free_bytes": 12_000_000_000, "total_bytes": 31_000_000_000},
        "cpu": {"temp_c": 52.1, "load_1m": 0.35}, "memory": {"available_bytes": 512_000_000, "total_bytes": 10**9},
        "playing": {"item_id": "bt-2025-0601", "zones": ["thon-1"]}, "relays": {"thon-1": True, "thon-2": False},
        "volume": 80, "last_sync": {"at": "2025-05-31T23:55:00Z", "result": "ok", "error": None},
        "outbox_depth": 12, "rejected_count": 0, "last_errors": ["central_unreachable"], "command_results": [],
        "heartbeat_interval_s": 60,
    }
    doc.update(changes)
    return doc


def play(entry_id: str, item_id: str = "bt-1", at: str = "2025-06-01T06:35:01Z") -> dict[str, Any]:
    return {"id": entry_id, "type": "play", "at": at,
            "data": {"item_id": item_id, "version": 1, "zones": ["thon-1"], "started_at": "2025-06-01T06:30:00Z",
                     "ended_at": at, "outcome": "completed", "played_s": 301.2, "trigger": "schedule"}}


def post(central: CentralHandle, leaf: str, body: Any, *, token: str | None = None, raw: bytes | None = None,
         device_id: str = "12345-0001") -> requests.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(f"{central.url}/v1/devices/{device_id}/{leaf}", data=data, timeout=30,
                         headers=central.headers(token) | {"Content-Type": "application/json"})


def monitor(central: CentralHandle) -> Any:
    return central.server.app.extensions["central.monitor"]


def test_offline_after_one_and_a_half_intervals_on_central_clock(central: CentralHandle) -> None:
    assert post(central, "heartbeat", heartbeat()).status_code == 200
    assert monitor(central).status_of("12345-0001").state == "online"
    central.clock.advance(89)                     # 1.48 intervals of 60 s
    assert monitor(central).status_of("12345-0001").state == "online"
    central.clock.advance(2)                      # 1.52 intervals
    assert monitor(central).status_of("12345-0001").state == "offline"
    fleet = requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(), timeout=30).json()["devices"]
    assert fleet[0]["status"] == "offline"
    page = requests.get(f"{central.url}/monitor", headers=central.admin_headers(), timeout=30).text
    assert 'data-status="offline"' in page
    assert post(central, "heartbeat", heartbeat(sent_at="2025-06-01T00:01:31Z")).status_code == 200
    assert monitor(central).status_of("12345-0001").state == "online"


def test_offline_rule_uses_the_announced_interval(central: CentralHandle) -> None:
    post(central, "heartbeat", heartbeat(heartbeat_interval_s=300))
    central.clock.advance(440)
    assert monitor(central).status_of("12345-0001").state == "online"
    central.clock.advance(20)
    assert monitor(central).status_of("12345-0001").state == "offline"


def test_status_problems() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    seen = "2025-06-01T00:00:00Z"
    ok = device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=heartbeat())
    assert ok == DeviceStatus("online", (), seen, 0.0) and ok.label == "online"
    assert device_status(now=now, last_seen_at=None, interval_s=None, heartbeat=None).label == "never_seen"
    untrusted = heartbeat(clock={"trusted": False, "offset_s": None, "source": "none"})
    assert device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=untrusted).label == "clock_untrusted"
    low = heartbeat(disk={"free_bytes": 100_000_000, "total_bytes": 31_000_000_000})
    assert device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=low).label == "disk_low"
    fault = heartbeat(amp_faults=["thon-1"], disk=low["disk"])
    status = device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=fault)
    assert status.label == "amplifier_fault" and status.problems == ("disk_low", "amplifier_fault")


def test_power_problems_from_the_heartbeat_rank_and_read_in_vietnamese() -> None:
    from central.monitoring import heartbeat_problems, problem_label
    from central.monitoring_web import problem_labels

    now = datetime(2025, 6, 1, tzinfo=UTC)
    seen = "2025-06-01T00:00:00Z"
    power = {"mains": "lost", "since": seen, "under_voltage": True, "throttled": True, "flags": 0x50005}
    hb = heartbeat(power=power, problems=["power.on_battery", "power.under_voltage", "stream.stalled"])
    status = device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=hb)
    assert status.problems == ("on_battery", "under_voltage", "throttled", "stream.stalled"), "no duplicates"
    assert status.label == "on_battery", "on battery outranks a low disk and an untrusted clock"
    low_disk = heartbeat(power=power | {"mains": "present"}, disk={"free_bytes": 1, "total_bytes": 10**9})
    assert device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=low_disk).label == "under_voltage"
    slowed = heartbeat(power=power | {"mains": "present", "under_voltage": False})
    assert device_status(now=now, last_seen_at=seen, interval_s=60, heartbeat=slowed).label == "throttled"
    fine = heartbeat(power={"mains": "present", "since": None, "under_voltage": False, "throttled": False,
                            "flags": 0x50000})
    assert heartbeat_problems(fine) == () and heartbeat_problems(heartbeat(power={"mains": "unknown"})) == ()
    assert heartbeat_problems(heartbeat(problems=["power.on_battery"])) == ("on_battery",)
    assert problem_label("on_battery") == "Mất điện lưới, đang chạy ắc quy"
    assert problem_label("on_battery", "en") == "on battery (mains lost)"
    assert problem_label("stream.stalled") == "stream.stalled"
    assert problem_labels(["under_voltage", "x.y"]) == "Sụt áp nguồn cấp / under-voltage, x.y"


BAD_HEARTBEATS = {
    "not-json": (b"{nope", 400),
    "array": (b"[]", 400),
    "missing-clock": (json.dumps({k: v for k, v in heartbeat().items() if k != "clock"}).encode(), 400),
    "volume-200": (json.dumps(heartbeat(volume=200)).encode(), 400),
    "bool-uptime": (json.dumps(heartbeat(uptime_s=True)).encode(), 400),
    "sent-at-offset": (json.dumps(heartbeat(sent_at="2025-06-01T07:00:00+07:00")).encode(), 400),
    "other-device": (json.dumps(heartbeat(device_id="12345-0002")).encode(), 400),
    "11-errors": (json.dumps(heartbeat(last_errors=["x"] * 11)).encode(), 400),
    "bad-result": (json.dumps(heartbeat(command_results=[{"id": "../x", "status": "done", "error": None,
                                                          "at": "2025-06-01T00:00:00Z"}])).encode(), 400),
    "control-chars": (json.dumps(heartbeat(software_version="1.0\x00")).encode(), 400),
    "oversized": (json.dumps(heartbeat(pad="x" * 2100)).encode(), 413),
}


@pytest.mark.parametrize("case", sorted(BAD_HEARTBEATS))
def test_malformed_or_oversized_heartbeat_gets_4xx_with_reason_and_stores_nothing(central: CentralHandle,
                                                                                   case: str) -> None:
    raw, status = BAD_HEARTBEATS[case]
    response = post(central, "heartbeat", None, raw=raw)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] in ("bad_request", "too_large", "wrong_device") and len(error["message"]) > 10
    assert monitor(central).device_state("12345-0001") == (None, None, None)


def test_heartbeat_auth(central: CentralHandle) -> None:
    other = central.add_device("12345-0002")
    assert post(central, "heartbeat", heartbeat(), token="wrong").status_code == 401
    assert post(central, "heartbeat", heartbeat(), token=other).status_code == 403
    assert monitor(central).device_state("12345-0001")[0] is None


def test_logs_are_stored_once_and_malformed_entries_refused(central: CentralHandle) -> None:
    bad_outcome = play("p.3")
    bad_outcome["data"]["outcome"] = "exploded"
    body = {"entries": [play("p.1"), play("p.2", item_id="bt-2"), bad_outcome, {"id": 7}, play("p.1")]}
    answer = post(central, "logs", body).json()
    assert answer["acknowledged"] == ["p.1", "p.2", "p.1"]
    assert [r["id"] for r in answer["refused"]] == ["p.3"] and "outcome" in answer["refused"][0]["message"]
    again = post(central, "logs", {"entries": [play("p.1"), play("p.2", item_id="bt-2")]}).json()
    assert again["acknowledged"] == ["p.1", "p.2"]
    assert [e["id"] for e in monitor(central).log_entries("12345-0001")] == ["p.1", "p.2"]


@pytest.mark.parametrize(("body", "status"), [
    ({"entries": []}, 400),
    ({"entries": "p.1"}, 400),
    ({"entries": [play("p.1")], "extra": 1}, 400),
    ({"entries": [play(f"p.{i}") for i in range(2001)]}, 400),
    ({"entries": [play("p.1") | {"data": {**play("p.1")["data"], "reason": "x" * 2_000_000}}]}, 413),
], ids=["empty", "not-a-list", "extra-member", "2001-entries", "over-1MiB"])
def test_malformed_or_oversized_logs_get_4xx_and_store_nothing(central: CentralHandle, body: Any,
                                                               status: int) -> None:
    response = post(central, "logs", body)
    assert response.status_code == status and response.json()["error"]["message"]
    assert monitor(central).log_entries("12345-0001") == []


def test_pages_and_api_show_fleet_device_history_and_item(central: CentralHandle) -> None:
    central.add_device("67890-0007")
    post(central, "heartbeat", heartbeat())
    post(central, "logs", {"entries": [play("p.1", at="2025-06-01T06:35:01Z"),
                                       play("p.2", item_id="bt-<script>", at="2025-06-02T06:35:01Z")]})
    fleet = requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(),
                         timeout=30).json()["devices"]
    by_id = {d["device_id"]: d for d in fleet}
    assert by_id["12345-0001"]["status"] == "online" and by_id["12345-0001"]["plays_logged"] == 2
    assert by_id["12345-0001"]["playing"] == {"item_id": "bt-2025-0601", "zones": ["thon-1"]}
    assert by_id["67890-0007"]["status"] == "never_seen"
    admin = central.admin_headers()
    page = requests.get(f"{central.url}/monitor", headers=admin, timeout=30).text
    assert "12345-0001" in page and "67890-0007" in page and 'data-status="online"' in page
    assert "<script>" not in page, "device-supplied text is escaped"
    detail = requests.get(f"{central.url}/monitor/devices/12345-0001", headers=admin, timeout=30).text
    assert detail.count("/monitor/items/bt-1") >= 1 and "completed" in detail
    api = requests.get(f"{central.url}/api/monitor/devices/12345-0001", headers=admin, timeout=30).json()
    assert [p["id"] for p in api["plays"]] == ["p.2", "p.1"]
    item = requests.get(f"{central.url}/monitor/items/bt-1", headers=admin, timeout=30).text
    assert "12345" in item and "2025-06-01 13:30:00" in item  # 06:30Z shown in Vietnam time
    item_api = requests.get(f"{central.url}/api/monitor/items/bt-1", headers=admin, timeout=30).json()
    assert item_api["plays"][0]["commune"] == "12345"
    assert requests.get(f"{central.url}/monitor/devices/99999-0001", headers=admin, timeout=30).status_code == 404


def login(central: CentralHandle, roles: tuple[str, ...] = ("admin",)) -> requests.Session:
    """A browser-like session of a person logged in through the form (cookie, no Authorization header)."""
    name = "nguoi-" + "-".join(roles)
    if central.server.app.extensions["central.accounts"].by_username(name) is None:
        central.add_person(name, roles)
    return central.login(name)


def test_command_form_queues_a_signed_command_only_with_login_and_csrf(central: CentralHandle) -> None:
    url = f"{central.url}/monitor/devices/12345-0001/commands"
    anonymous = requests.post(url, data={"type": "stop"}, timeout=30, allow_redirects=False)
    assert anonymous.status_code in (401, 403)
    editor = login(central, ("editor",))  # sees the fleet, may not command it
    assert editor.get(f"{central.url}/monitor/devices/12345-0001", timeout=30).status_code == 200
    assert editor.post(url, data={"csrf": editor.csrf, "type": "stop"}, timeout=30,
                       allow_redirects=False).status_code == 403
    browser = login(central)
    page = browser.get(f"{central.url}/monitor/devices/12345-0001", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    no_csrf = browser.post(url, data={"type": "stop"}, timeout=30, allow_redirects=False)
    wrong_csrf = browser.post(url, data={"csrf": csrf[:-1] + "x", "type": "stop"}, timeout=30,
                              allow_redirects=False)
    assert no_csrf.status_code == 403 and wrong_csrf.status_code == 403
    # A CSRF token without the session cookie (another browser, a forged page) is no use either.
    stolen = requests.post(url, data={"csrf": csrf, "type": "stop"}, timeout=30, allow_redirects=False)
    assert stolen.status_code in (401, 403)
    assert monitor(central).commands("12345-0001") == []
    ok = browser.post(url, data={"csrf": csrf, "type": "set_volume", "volume": "35", "expires_in": "300"},
                      timeout=30)
    assert ok.status_code == 200 and "queued cmd-" in ok.text
    refused = browser.post(url, data={"csrf": csrf, "type": "set_volume", "volume": "900"}, timeout=30)
    assert "refused" in refused.text
    [cmd] = monitor(central).commands("12345-0001")
    assert cmd["params"] == {"volume": 35} and cmd["status"] == "pending"
    answer = post(central, "heartbeat", heartbeat()).json()
    [doc] = answer["commands"]
    assert central.catalog.public_key and doc["signature"]["key_id"] == central.catalog.key_id
    assert protocol.validate_command(copy.deepcopy(doc), "12345-0001", datetime.now(UTC) + central.clock.offset,
                                     central.catalog.public_key).params == {"volume": 35}


def test_real_heartbeat_and_entries_match_the_openapi_schemas(central: CentralHandle, tmp_path) -> None:
    from appliance.state.store import Store
    from tests.central.test_central import _openapi_validator
    from tests.support.report_rig import device_config, make_reporter, seed_plays

    hb_schema, _ = _openapi_validator("Heartbeat")
    entry_schema, _ = _openapi_validator("OutboxEntry")
    with Store.open(tmp_path / "device" / "state.sqlite3") as store:
        seed_plays(store, 2)
        store.record_rejection(reason="bad_signature", vi="x", en="x", item_id="bt-9", version=1)
        reporter = make_reporter(device_config(tmp_path / "device", central.url, central.token,
                                               central.public_key_b64), store)
        _, doc, _ = reporter.build()
        assert list(hb_schema.iter_errors(doc)) == []
        from appliance.report.heartbeat import power_member
        from appliance.system.power import decode_throttled

        for power in ({"mains": "lost", "since": "2025-06-01T05:12:40.000000Z", "under_voltage": True,
                       "throttled": True, "flags": decode_throttled(0x50005).as_dict()}, {"mains": "unknown"}):
            with_power = doc | {"power": power_member(power)}
            assert list(hb_schema.iter_errors(with_power)) == []
            assert list(hb_schema.iter_errors(with_power | {"power": {"mains": "lost"}})) != []
        from appliance.report.outbox import Outbox, entry_document
        for entry in Outbox(store).peek(10):
            assert list(entry_schema.iter_errors(entry_document(entry))) == []
        reporter.heartbeat_once()
        reporter.upload_once()


def test_demo_lines_show_the_device_online_with_its_play(central: CentralHandle) -> None:
    from central.monitoring_cli import demo_lines

    post(central, "heartbeat", heartbeat())
    post(central, "logs", {"entries": [play("p.1")]})
    lines = demo_lines(central.url, "12345-0001", admin_token=central.admin_token)
    assert lines[0].endswith("/monitor")
    assert "12345-0001: online" in lines[1] and "bt-1 completed" in lines[1]


# ---------------------------------------------------------------- operator authentication

PUBLIC_RULES = {"/v1/info", "/monitor/login", "/login", "/lang/bt-1", "/static/bt-1"}
PEOPLE_ONLY = ("/items", "/review", "/people", "/tokens", "/audit", "/preview", "/lang", "/logout")


def _sample_url(rule: Any) -> str:
    values = {arg: "12345-0001" if "device" in arg else ("a" * 64 if arg == "sha256" else
                                                          ("1" if arg.endswith("_id") and arg != "item_id" else "bt-1"))
              for arg in rule.arguments}
    path = rule.rule
    for arg, value in values.items():
        path = re.sub(r"<(?:[a-z]+:)?" + arg + ">", value, path)
    return path


def _operator_rules(central: CentralHandle) -> list[tuple[str, str]]:
    routes = []
    for rule in central.server.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, _sample_url(rule)))
    return routes


def _leaks(response: requests.Response) -> bool:
    text = response.text
    return "12345-0001" in text and response.status_code < 300 or "cmd-" in text


def test_every_route_refuses_anonymous_and_wrong_token_callers(central: CentralHandle) -> None:
    post(central, "heartbeat", heartbeat())
    post(central, "logs", {"entries": [play("p.1")]})
    central.text_item(item_id="bt-1", approve=False)
    routes = _operator_rules(central)
    assert ("GET", "/api/monitor/devices") in routes and ("POST", "/monitor/devices/12345-0001/commands") in routes
    assert ("POST", "/items/bt-1/approve") in routes and ("GET", "/review") in routes
    # A known place (it logged in before) is exempt from the global rate limit of failures.
    assert requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(),
                        timeout=30).status_code == 200
    checked = 0
    for method, path in routes:
        if path in PUBLIC_RULES:
            continue
        for headers in ({}, {"Authorization": "Bearer wrong-token"},
                        {"Authorization": f"Bearer {central.admin_token}x"},
                        {"Authorization": f"Bearer {central.token}"} if not path.startswith("/v1/") else {},
                        {"Authorization": f"Bearer {central.admin_token}"}
                        if path.startswith(PEOPLE_ONLY) or path == "/" else {},
                        {"Cookie": "central_session=forged-session-id"}):
            answer = requests.request(method, central.url + path, headers=headers, timeout=30,
                                      allow_redirects=False, data={"type": "stop", "csrf": "x"})
            # The wrong tokens would soon be throttled (429); forgiven here so every route is
            # seen refusing them itself (throttling: tests/central/test_central_login_throttle.py).
            central.server.app.extensions["central.login_throttle"].lift("api-token", "127.0.0.1")
            where = f"{method} {path} {headers}"
            if answer.status_code == 303:  # pages send a browser to the login form
                assert answer.headers["Location"].endswith("/login"), where
            else:
                assert answer.status_code in (401, 403), where
            assert not _leaks(answer), where
            checked += 1
    assert checked >= 80
    assert monitor(central).commands("12345-0001") == []
    assert central.catalog.list_items()[0]["state"] == "draft"


def test_the_device_token_is_not_an_operator_token(central: CentralHandle) -> None:
    for path in ("/api/monitor/devices", "/monitor"):
        answer = requests.get(central.url + path, headers=central.headers(), timeout=30, allow_redirects=False)
        assert answer.status_code == 401


def test_the_admin_token_is_not_a_device_token(central: CentralHandle) -> None:
    answer = requests.get(f"{central.url}/v1/devices/12345-0001/feed", headers=central.admin_headers(), timeout=30)
    assert answer.status_code == 401


# Routes that answer 400 (with a reason) to a request without these.
REQUIRED_QUERY = {"/monitor/reports.xlsx": "?province=H%C3%A0+N%E1%BB%99i"}


def test_right_token_or_person_accepted_on_every_operator_get_route(central: CentralHandle) -> None:
    post(central, "heartbeat", heartbeat())
    central.text_item(item_id="bt-1", approve=False)
    person = login(central, ("editor", "approver", "admin"))
    for method, path in _operator_rules(central):
        if method != "GET" or path.startswith(("/v1/", "/static/")) or path in PUBLIC_RULES:
            continue
        if path.startswith(PEOPLE_ONLY) or path == "/":
            answer = person.get(central.url + path + REQUIRED_QUERY.get(path, ""), timeout=30, allow_redirects=False)
            expected = 404 if path.startswith("/preview") or path.endswith("/media") else (303 if path == "/" else 200)
            assert answer.status_code == expected, path
        else:
            answer = requests.get(central.url + path + REQUIRED_QUERY.get(path, ""), headers=central.admin_headers(), timeout=30,
                                  allow_redirects=False)
            # An item's rendered speech exists only when central renders speech (tests/central/test_speech.py).
            assert answer.status_code == (404 if path.endswith("/speech") else 200), path
            assert person.get(central.url + path + REQUIRED_QUERY.get(path, ""), timeout=30, allow_redirects=False).status_code == answer.status_code, path
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
        assert not _inline_script_or_style(answer.text), path


def _inline_script_or_style(html: str) -> bool:
    """An inline script or style the strict CSP would block: only empty ``<script src="/…">``
    tags of this origin, no ``<style>`` element and no ``style=`` attribute."""
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I)
    if html.lower().count("<script") != len(scripts):
        return True
    if any(not re.search(r'\ssrc="/[^/]', attrs) or body.strip() for attrs, body in scripts):
        return True
    return "<style" in html.lower() or re.search(r"\sstyle\s*=", html, re.I) is not None


def test_the_inline_check_can_fail() -> None:
    assert not _inline_script_or_style('<p>x</p><script src="/monitor/static/alerts.js" defer></script>')
    for bad in ("<script>alert(1)</script>", '<script src="https://cdn.example/x.js"></script>',
                '<script src="/a.js">alert(1)</script>', "<style>p{}</style>", '<p style="color:red">x</p>'):
        assert _inline_script_or_style(bad), bad


def test_a_monitor_token_reads_but_cannot_command(central: CentralHandle) -> None:
    token = central.server.app.extensions["central.admin"].create_token("grafana", ("monitor",))
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{central.url}/api/monitor/devices", headers=headers, timeout=30).status_code == 200
    url = f"{central.url}/api/monitor/devices/12345-0001/commands"
    assert requests.post(url, json={"type": "stop"}, headers=headers, timeout=30).status_code == 403
    [row] = [t for t in central.server.app.extensions["central.admin"].tokens() if t.name == "grafana"]
    central.server.app.extensions["central.admin"].revoke(row.id, by="test")
    assert requests.get(f"{central.url}/api/monitor/devices", headers=headers, timeout=30).status_code == 401
    assert monitor(central).commands("12345-0001") == []


def test_json_api_queues_a_command_with_the_bearer_token(central: CentralHandle) -> None:
    url = f"{central.url}/api/monitor/devices/12345-0001/commands"
    body = {"type": "set_volume", "params": {"volume": 20}, "expires_in_s": 120}
    assert requests.post(url, json=body, timeout=30).status_code == 401
    assert requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    answer = requests.post(url, json=body, headers=central.admin_headers(), timeout=30)
    assert answer.status_code == 201 and answer.json()["params"] == {"volume": 20}
    bad = requests.post(url, json=body | {"params": {"volume": 900}}, headers=central.admin_headers(), timeout=30)
    assert bad.status_code == 400
    [cmd] = monitor(central).commands("12345-0001")
    assert cmd["params"] == {"volume": 20} and cmd["created_by"] == "token:admin"


def test_login_sets_a_fresh_strict_session_and_logout_ends_it(central: CentralHandle) -> None:
    central.add_person("quantri")
    wrong = requests.post(f"{central.url}/login", data={"username": "quantri", "password": "sai mật khẩu rồi"},
                          timeout=30, allow_redirects=False)
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers and "Sai tên" in wrong.text
    unknown = requests.post(f"{central.url}/login", data={"username": "khong-co", "password": "x" * 12},
                            timeout=30, allow_redirects=False)
    assert unknown.status_code == 401 and unknown.text.replace("khong-co", "") == wrong.text.replace("quantri", "")
    browser = requests.Session()
    answer = browser.post(f"{central.url}/login", data={"username": "quantri", "password": PERSON_PASSWORD},
                          timeout=30, allow_redirects=False, headers={"Cookie": "central_session=attacker-chosen-id"})
    cookie = answer.headers["Set-Cookie"]  # session fixation: the id the browser brought is not kept
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sid = browser.cookies.get("central_session")
    assert sid and sid != "attacker-chosen-id" and len(sid) >= 40
    assert requests.get(f"{central.url}/monitor", cookies={"central_session": "attacker-chosen-id"}, timeout=30,
                        allow_redirects=False).status_code == 303
    assert browser.get(f"{central.url}/api/monitor/devices", timeout=30).status_code == 200
    page = browser.get(f"{central.url}/monitor", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert browser.post(f"{central.url}/logout", timeout=30, allow_redirects=False).status_code == 403
    out = browser.post(f"{central.url}/logout", data={"csrf": csrf}, timeout=30, allow_redirects=False)
    assert out.status_code == 303
    assert requests.get(f"{central.url}/monitor", cookies={"central_session": sid}, timeout=30,
                        allow_redirects=False).status_code == 303
    actions = [r.action for r in central.server.app.extensions["central.accounts"].audit_recent()]
    assert actions[:4] == ["logout", "login", "login.failed", "login.failed"]


def test_disabling_a_person_ends_their_sessions(central: CentralHandle) -> None:
    accounts = central.server.app.extensions["central.accounts"]
    admin = accounts.by_username("quantri") or central.add_person("quantri")
    editor = central.add_person("bientap", ("editor",))
    browser = central.login("bientap")
    assert browser.get(f"{central.url}/monitor", timeout=30, allow_redirects=False).status_code == 200
    accounts.set_access(editor.id, roles=["editor"], scope_kind="country", scope_codes=[], disabled=True, by=admin)
    assert browser.get(f"{central.url}/monitor", timeout=30, allow_redirects=False).status_code == 303
    again = requests.post(f"{central.url}/login", data={"username": "bientap", "password": PERSON_PASSWORD},
                          timeout=30, allow_redirects=False)
    assert again.status_code == 401


def test_without_people_or_tokens_everything_operator_is_refused(tmp_path: Any) -> None:
    from central.app import create_app
    from central.loopback import serve_in_thread

    app = create_app(tmp_path / "c")
    with serve_in_thread(app) as server:
        assert requests.get(f"{server.url}/api/monitor/devices", timeout=30).status_code == 401
        answer = requests.post(f"{server.url}/login", data={"username": "admin", "password": "admin"}, timeout=30,
                               allow_redirects=False)
        assert answer.status_code == 401
        page = requests.get(f"{server.url}/login", timeout=30).text
        assert "commune-central user add" in page  # no default password: how to make the first admin
    server.catalog.close()


def test_first_admin_from_the_cli_with_no_default_password(tmp_path: Any, capsys: Any, monkeypatch: Any) -> None:
    import io
    import sqlite3

    from central.cli import main

    data = str(tmp_path / "c")
    assert main(["init", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "user add" in out and "token" not in out.lower().split("user add")[0]
    monkeypatch.setattr("sys.stdin", io.StringIO("ngắn\n"))
    assert main(["user", "add", "quantri", "--role", "admin", "--password-stdin", "--data", data]) == 2
    assert "10" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PERSON_PASSWORD + "\n"))
    assert main(["user", "add", "quantri", "--role", "admin", "--password-stdin", "--data", data]) == 0
    capsys.readouterr()
    assert main(["token", "add", "scripts", "--role", "monitor", "--data", data]) == 0
    token = re.search(r"API token \(shown once[^:]*: (\S+)", capsys.readouterr().out).group(1)
    db = sqlite3.connect(tmp_path / "c" / "central.db")
    stored = [str(v) for row in db.execute("SELECT * FROM api_tokens") for v in row]
    hashes = [row[0] for row in db.execute("SELECT password_hash FROM people")]
    db.close()
    assert token not in stored and any(len(v) == 64 for v in stored)
    assert hashes[0].startswith("$argon2id$") and PERSON_PASSWORD not in hashes[0]
    assert main(["token", "revoke", "1", "--data", data]) == 0
    assert main(["token", "revoke", "1", "--data", data]) == 2
