"""Central's logins are throttled like the panel's (issue 14 item 7, people since issue 12): per
(account, address) locks after 5 failures, a global rate limit, token guessing through
``Authorization: Bearer`` counted too; the admin sees and lifts locks. Real central on loopback (HTTP) for the basics,
the app's test client where many client addresses are needed."""

from __future__ import annotations

from typing import Any

import requests

from central import login_throttle
from tests.conftest import PERSON_PASSWORD, CentralHandle

GOOD = {"username": "quantri", "password": PERSON_PASSWORD}
WRONG = {"username": "quantri", "password": "sai mật khẩu rồi"}


def _form_login(central: CentralHandle, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{central.url}/login", data=form, allow_redirects=False, timeout=30)


def test_the_login_form_locks_an_address_after_five_wrong_passwords(central: CentralHandle) -> None:
    central.add_person("quantri")
    for _ in range(5):
        assert _form_login(central, WRONG).status_code == 401
    locked = _form_login(central, GOOD)
    assert locked.status_code == 429
    assert "thử lại sau" in locked.text
    english = requests.post(f"{central.url}/login", data=GOOD, allow_redirects=False, timeout=30,
                            cookies={"lang": "en"})
    assert english.status_code == 429 and "Try again in" in english.text
    assert "Set-Cookie" not in locked.headers
    central.clock.advance(16 * 60)  # the lock ends by itself
    assert _form_login(central, GOOD).status_code == 303


def test_bearer_token_guessing_is_counted_too(central: CentralHandle) -> None:
    for i in range(5):
        answer = requests.get(f"{central.url}/api/monitor/devices", timeout=30,
                              headers={"Authorization": f"Bearer cca_guess{i}"})
        assert answer.status_code == 401
    locked = requests.get(f"{central.url}/api/monitor/devices", headers=central.admin_headers(), timeout=30)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "login_locked"
    assert int(locked.headers["Retry-After"]) > 0


def _client(central: CentralHandle, address: str) -> Any:
    client = central.server.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_lock_holds_only_for_the_guessers_address_and_a_global_limit_holds_for_all(
        central: CentralHandle) -> None:
    central.add_person("quantri")
    for _ in range(5):
        _client(central, "203.0.113.66").post("/login", data=WRONG)
    assert _client(central, "203.0.113.66").post("/login", data=GOOD
                                                 ).status_code == 429
    known = _client(central, "198.51.100.7")
    assert known.post("/login", data=GOOD).status_code == 303
    for i in range(login_throttle.POLICY.global_max_failures):
        _client(central, f"192.0.2.{i + 1}").post("/login", data=WRONG)
    assert _client(central, "192.0.2.250").post("/login", data=GOOD
                                                ).status_code == 429
    assert _client(central, "198.51.100.7").post("/login", data=GOOD
                                                 ).status_code == 303  # a known place still gets in


def test_the_admin_sees_and_lifts_locks(central: CentralHandle) -> None:
    central.add_person("quantri")
    for _ in range(5):
        _client(central, "203.0.113.66").post("/login", data=WRONG)
    admin = _client(central, "198.51.100.7")
    headers = central.admin_headers()
    locks = admin.get("/api/monitor/login-locks", headers=headers).get_json()["locks"]
    assert [(lock["account"], lock["address"], lock["failures"]) for lock in locks] == [
        ("quantri", "203.0.113.66", 5)]
    lifted = admin.post("/api/monitor/login-locks/unlock", json={"account": "quantri", "address": "203.0.113.66"},
                        headers=headers)
    assert lifted.status_code == 200 and lifted.get_json()["lifted"] is True
    assert admin.get("/api/monitor/login-locks", headers=headers).get_json()["locks"] == []
    assert _client(central, "203.0.113.66").post("/login", data=GOOD
                                                 ).status_code == 303
    # Anonymous callers can do neither.
    assert _client(central, "203.0.113.66").get("/api/monitor/login-locks").status_code == 401


def test_the_throttle_rules_are_pure_and_bounded() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    policy = login_throttle.POLICY
    five = [now - timedelta(minutes=m) for m in range(5)]
    assert login_throttle.pair_locked_for(five, now, policy) == policy.lockout
    assert login_throttle.pair_locked_for(five[:4], now, policy) is None
    spread = [now - timedelta(minutes=20 * i) for i in range(5)]
    assert login_throttle.pair_locked_for(spread, now, policy) is None  # slow guessing is not a burst
    clock = [now]
    throttle = login_throttle.LoginThrottle(lambda: clock[0])
    for i in range(50_000):  # a flood of distinct addresses keeps memory bounded
        throttle.failed("admin", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        if i % 1000 == 0:
            clock[0] += timedelta(minutes=1)
    assert throttle.tracked_pairs() <= login_throttle.MAX_TRACKED
