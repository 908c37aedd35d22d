"""Login throttling and the audit log against a hostile LAN (items 8 and 9 of issue 14).

Locks are per (account, address): a guesser locks only their own tries, not the account for
its owner, nor everyone behind one NAT or proxy. A global rate limit stops guessing spread over
many addresses, without locking out a person who logged in from that address before. The admin
sees the locks and lifts them. Repeated anonymous failures are one audit row with a count; the
audit log is bounded and pruned, keeping what people did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appliance.panel import audit as audit_log
from appliance.panel import throttle
from appliance.state.store import to_utc_iso
from tests.appliance.panel.test_panel_support import ADMIN, OPERATOR, Rig, csrf_of, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def _client(rig: Rig, address: str) -> Any:
    client = rig.app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(rig: Rig, address: str, username: str, password: str) -> int:
    client = _client(rig, address)
    token = csrf_of(client, "/login")
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password}).status_code


def test_a_guesser_locks_only_their_own_address_not_the_account(rig: Rig) -> None:
    for _ in range(5):
        assert _login(rig, "192.168.1.66", "admin", "wrong password") == 401
    assert _login(rig, "192.168.1.66", "admin", ADMIN[1]) == 429  # the guesser is locked...
    assert _login(rig, "192.168.1.10", "admin", ADMIN[1]) == 302  # ...the admin at her desk is not


def test_many_failures_behind_one_address_do_not_lock_other_accounts_there(rig: Rig) -> None:
    """A commune office behind one NAT: someone mistyping names 20 times must not lock the others."""
    for name in ("admin", "thu-ky", "chu-tich", "can-bo"):
        for _ in range(5):
            assert _login(rig, "10.1.1.1", name, "wrong password") == 401
    assert _login(rig, "10.1.1.1", OPERATOR[0], OPERATOR[1]) == 302


def test_a_global_rate_limit_stops_guessing_spread_over_many_addresses(rig: Rig) -> None:
    assert _login(rig, "10.0.0.1", OPERATOR[0], OPERATOR[1]) == 302  # a known (account, address)
    for i in range(throttle.GLOBAL_MAX_FAILURES):
        assert _login(rig, f"172.16.0.{i + 1}", f"khach-{i}", "wrong password") == 401
    # The next stranger is refused without a password check, even with the right password...
    assert _login(rig, "172.16.1.1", "admin", ADMIN[1]) == 429
    # ...but someone who logged in from this address before still gets in.
    assert _login(rig, "10.0.0.1", OPERATOR[0], OPERATOR[1]) == 302
    # Throttle state stays small (refused attempts are not stored).
    assert rig.count("panel_login_attempts") <= throttle.GLOBAL_MAX_FAILURES + 2


def test_the_admin_sees_and_lifts_locks(rig: Rig) -> None:
    for _ in range(5):
        _login(rig, "192.168.1.66", "admin", "wrong password")
    assert _login(rig, "192.168.1.66", "admin", ADMIN[1]) == 429
    admin = _client(rig, "192.168.1.10")
    token = csrf_of(admin, "/login")
    admin.post("/login", data={"csrf_token": token, "username": ADMIN[0], "password": ADMIN[1]})
    page = admin.get("/settings/users").get_data(as_text=True)
    locks = page.split('id="login-locks"')[1].split("</section>")[0]
    assert "admin" in locks and "192.168.1.66" in locks
    token = csrf_of(admin, "/settings/users")
    done = admin.post("/settings/login-locks/unlock", data={"csrf_token": token, "username": "admin",
                                                            "address": "192.168.1.66"})
    assert done.status_code == 302
    assert "192.168.1.66" not in admin.get("/settings/users").get_data(as_text=True).split(
        'id="login-locks"')[1].split("</section>")[0]
    assert _login(rig, "192.168.1.66", "admin", ADMIN[1]) == 302
    unlocks = rig.store.query("SELECT actor, target, details FROM panel_audit_log WHERE action = 'auth.unlock'")
    assert [(r["actor"], r["target"]) for r in unlocks] == [("admin", "admin")]
    assert json.loads(unlocks[0]["details"])["address"] == "192.168.1.66"


def test_an_operator_cannot_lift_locks(rig: Rig) -> None:
    client = rig.login(OPERATOR)
    token = csrf_of(client, "/")
    answer = client.post("/settings/login-locks/unlock", data={"csrf_token": token, "username": "admin",
                                                               "address": "1.2.3.4"})
    assert answer.status_code == 403


def test_repeated_anonymous_failures_are_one_audit_row_with_a_count(rig: Rig) -> None:
    for _ in range(12):
        _login(rig, "192.168.1.66", "admin", "wrong password")
    rows = rig.store.query("SELECT outcome, details FROM panel_audit_log WHERE action = 'auth.login' ORDER BY id")
    assert [(r["outcome"], json.loads(r["details"])["count"]) for r in rows] == [("failed", 5), ("locked", 7)]
    shown = rig.login().get("/settings/audit").get_data(as_text=True)
    assert "192.168.1.66" in shown and "×" in shown  # the count is visible to the inspector


def test_the_audit_log_is_bounded_and_pruned_keeping_what_people_did(rig: Rig, monkeypatch: Any) -> None:
    monkeypatch.setattr(audit_log, "MAX_ANONYMOUS_ROWS", 40)
    store = rig.store
    now = datetime.now(UTC)

    def ago(days: int) -> str:
        return to_utc_iso(now - timedelta(days=days))

    with store.transaction() as tx:  # what an inspector needs, and what nobody needs any more
        for at, actor, action in ((ago(4 * 365), "admin", "user.create"),
                                  (ago(365), "admin", "emergency.broadcast"),
                                  (ago(100), "-", "auth.login")):
            tx.execute("INSERT INTO panel_audit_log (at, actor, action, target, outcome, details, remote_addr)"
                       " VALUES (?, ?, ?, 'x', 'ok', '{}', '1.1.1.1')", (at, actor, action))
    # A flood of distinct names from distinct addresses (each its own aggregate row).
    for i in range(120):
        audit_log.record_anonymous_failure(store, "auth.login", f"khach-{i}", outcome="failed",
                                           remote_addr=f"172.16.{i // 250}.{i % 250}")
    actors = [r["actor"] for r in store.query("SELECT actor FROM panel_audit_log")]
    assert actors.count("-") <= 40
    kept = {r["action"] for r in store.query("SELECT action FROM panel_audit_log WHERE actor != '-'")}
    assert kept == {"emergency.broadcast"}  # older than the retention of people's actions: gone
    assert not store.query("SELECT 1 FROM panel_audit_log WHERE actor = '-' AND at < ?", (ago(90),))


def test_api_token_guessing_is_throttled_per_address_too(rig: Rig) -> None:
    from appliance.panel.accounts import Accounts

    good = Accounts(rig.store).create_token(1, "scraper")
    guesser = _client(rig, "192.168.1.66")
    for i in range(5):
        answer = guesser.get("/api/status", headers={"Authorization": f"Bearer crp_guess{i}"})
        assert answer.status_code == 401
    locked = guesser.get("/api/status", headers={"Authorization": f"Bearer {good}"})
    assert locked.status_code == 429 and locked.get_json()["error"]["code"] == "login_locked"
    elsewhere = _client(rig, "192.168.1.10").get("/api/status", headers={"Authorization": f"Bearer {good}"})
    assert elsewhere.status_code != 429
    rows = rig.store.query("SELECT outcome, details FROM panel_audit_log WHERE action = 'auth.api_token'")
    assert [(r["outcome"], json.loads(r["details"])["count"]) for r in rows] == [("failed", 5), ("locked", 1)]
