"""The memoised parts of the busiest pages (appliance/panel/snapshot.py) are never stale and
never share one session's CSRF token with another: the week view's slot table is rendered
once per data version and language, with a marker the request's own token replaces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.broadcast.slots import SlotRepository
from appliance.panel.snapshot import CSRF_MARK
from appliance.state.store import utc_now_iso
from tests.appliance.panel.test_panel_support import Rig, add_item, csrf_of, make_rig

WEEK = "/schedule?week=2030-01-07"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


def slot_table(page: str) -> str:
    return page.split('id="local-slots"')[1].split("</section>")[0]


def add_slot(rig: Rig, item_id: str, byday: str) -> str:
    return SlotRepository(rig.store, rig.config).add(
        {"item_id": item_id, "kind": "rrule", "dtstart": "2030-01-07T06:00:00",
         "rrule": f"FREQ=WEEKLY;BYDAY={byday};BYHOUR=6;BYMINUTE=0"}, actor="test").id


def test_the_slot_table_shows_every_change_at_once(rig: Rig) -> None:
    add_item(rig.store, "c1", title="Tin sáng")
    add_item(rig.store, "c2", title="Tin chiều")
    first = add_slot(rig, "c1", "MO")
    client = rig.login()
    table = slot_table(client.get(WEEK).get_data(as_text=True))
    assert "Tin sáng" in table and "Thứ Hai" in table and "Tin chiều" not in table

    # A slot added outside the panel (as the CLI or sync would) shows on the next request.
    second = add_slot(rig, "c2", "TH")
    table = slot_table(client.get(WEEK).get_data(as_text=True))
    assert f'id="slot-{first}"' in table and f'id="slot-{second}"' in table and "Tin chiều" in table

    # An item renamed by central (only items.updated_at changes) shows under its new title.
    with rig.store.transaction() as tx:
        tx.execute("UPDATE items SET title = 'Tin sáng mới', updated_at = ? WHERE id = 'c1'", (utc_now_iso(),))
    assert "Tin sáng mới" in slot_table(client.get(WEEK).get_data(as_text=True))

    # Deleted through the panel with the token the memoised form carries: gone at once.
    page = client.get(WEEK).get_data(as_text=True)
    form = page.split(f'action="/schedule/{first}/delete"')[1].split("</form>")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    deleted = client.post(f"/schedule/{first}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302, deleted.get_data(as_text=True)[:500]
    table = slot_table(client.get(WEEK).get_data(as_text=True))
    assert f'id="slot-{first}"' not in table and f'id="slot-{second}"' in table

    # Another language is another rendering, not the Vietnamese one reused.
    client.post("/language", data={"csrf_token": csrf_of(client, "/"), "lang": "en", "next": "/schedule"})
    table = slot_table(client.get(WEEK).get_data(as_text=True))
    assert "Thursday" in table and "Thứ Năm" not in table


def test_each_session_gets_its_own_csrf_token_in_the_memoised_forms(rig: Rig) -> None:
    add_item(rig.store, "c1", title="Tin sáng")
    slot_id = add_slot(rig, "c1", "MO")
    tokens = []
    for client in (rig.login(), rig.login()):
        page = client.get(WEEK).get_data(as_text=True)
        assert CSRF_MARK not in page
        form = page.split(f'action="/schedule/{slot_id}/delete"')[1].split("</form>")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        logout = page.split('action="/logout"')[1].split("</form>")[0]
        assert f'value="{token}"' in logout  # the same token the page's own (unmemoised) forms carry
        tokens.append((client, token))
    (first, first_token), (second, second_token) = tokens
    # One session's token is refused in the other: the memo did not hand the first one's around.
    refused = second.post(f"/schedule/{slot_id}/delete", data={"csrf_token": first_token})
    assert refused.status_code == 400 and rig.count("slots WHERE deleted = 0") == 1
    accepted = second.post(f"/schedule/{slot_id}/delete", data={"csrf_token": second_token})
    assert accepted.status_code == 302 and rig.count("slots WHERE deleted = 0") == 0


def test_the_session_cookie_is_set_at_login_not_on_every_page(rig: Rig) -> None:
    """The server-side session ends at login + lifetime; re-signing the cookie on each response
    (Flask's default) only cost time. Pages still need the session, and logging out ends it."""
    client = rig.login()
    client.get("/")  # the session's CSRF token is made here (login started a fresh session): a new cookie
    page = client.get("/schedule")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    token = csrf_of(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/schedule").status_code == 302  # back to the login page


def test_the_memoised_menu_follows_the_role_and_the_language(rig: Rig) -> None:
    from tests.appliance.panel.test_panel_support import OPERATOR

    admin = rig.login()
    assert 'href="/settings"' in admin.get("/").get_data(as_text=True)
    operator = rig.login(OPERATOR)
    page = operator.get("/").get_data(as_text=True)
    assert 'href="/schedule"' in page and 'href="/settings"' not in page and "Lịch phát" in page
    operator.post("/language", data={"csrf_token": csrf_of(operator, "/"), "lang": "en", "next": "/"})
    nav = operator.get("/").get_data(as_text=True).split('<nav class="nav"')[1].split("</nav>")[0]
    assert "Schedule" in nav and "Lịch phát" not in nav and 'href="/settings"' not in nav
    nav = admin.get("/").get_data(as_text=True).split('<nav class="nav"')[1].split("</nav>")[0]
    assert "Lịch phát" in nav and 'href="/settings"' in nav  # the admin's Vietnamese menu is untouched
