"""No script runs from a hostile item's media URL: a real central on loopback signs items whose
media claims ``text/html`` and ``text/javascript`` (as an old or careless central would), the
station syncs them, and Debian's Chromium, logged in to the panel (waitress on loopback), opens
every media URL of those items. A script that ran would log ``PWNED`` to the console and try to
create an administrator through the operator's session.

The bytes are also reachable under harmless-looking cover items (declared ``audio/wav``, the
same sha256) and under rows an older version could have left on the card claiming those script
types, so the panel's own serving rule is exercised, not only the station's refusal.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import protocol
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from tests.appliance.panel.test_browser_panel import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "mật khẩu quản trị 2026"
SCRIPT = (b"console.log('PWNED-js'); document.title = 'PWNED';"
          b"fetch('/settings/users', {method: 'POST', body: 'username=evil&password=xxxxxxxxxxxx&role=admin'});")
PAGE = (b"<!doctype html><html><head><title>x</title></head><body>"
        b"<script>console.log('PWNED-inline')</script>"
        b"<script src='/items/hostile-js/audio'></script>"
        b"<script src='/items/legacy-js/audio'></script>"
        b"<script src='/items/cover-js/audio'></script></body></html>")


def _publish_as_is(central: Any, item_id: str, template: dict[str, Any], mime: str) -> None:
    """Sign an item without central's checks (what an older or careless central would send)."""
    central.catalog.add_item(kind="text", title="chỗ giữ", text="x", item_id=item_id)
    body = {k: v for k, v in template.items() if k != "signature"}
    body |= {"id": item_id, "version": 1, "media": template["media"] | {"mime": mime}}
    central.catalog.publish_raw(item_id, protocol.sign_document(body, central.catalog.private_key,
                                                                domain=protocol.ITEM_DOMAIN))


@pytest.fixture
def panel_url(central: Any, tmp_path: Path) -> Iterator[tuple[str, Store]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress

    page_id, _ = central.audio_item(PAGE, title="Bản tin (trang)", item_id="cover-page")
    js_id, _ = central.audio_item(SCRIPT, title="Bản tin (mã)", item_id="cover-js")
    _publish_as_is(central, "hostile-page", central.catalog.get_published(page_id), "text/html")
    _publish_as_is(central, "hostile-js", central.catalog.get_published(js_id), "text/javascript")

    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "zones": [{"name": "thon-1", "relay_pin": 17}, {"name": "thon-2", "relay_pin": 27}],
    }, "<test>", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    Syncer(config, store, MediaStore(config.media_dir), client).sync_once()
    client.close()
    # Rows an older version may have left on the card, claiming script types for files it holds.
    for item_id, cover, mime in (("legacy-page", "cover-page", "text/html"),
                                 ("legacy-js", "cover-js", "text/javascript")):
        with store.transaction() as tx:
            tx.execute("INSERT INTO items (id, version, kind, title, state, source, media_url, media_sha256,"
                       " media_bytes, media_mime, received_at, updated_at) SELECT ?, 1, 'audio', title, 'ready',"
                       " 'central', media_url, media_sha256, media_bytes, ?, received_at, updated_at"
                       " FROM items WHERE id = ?", (item_id, mime, cover))
    Accounts(store).create_first_admin("admin", PASSWORD, PASSWORD)
    app = create_app(config, store=Store.open(config.db_path))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", store
    finally:
        server.close()
        store.close()


def test_no_script_runs_from_a_hostile_items_media_url(panel_url: tuple[str, Store]) -> None:
    from playwright.sync_api import Error, sync_playwright

    url, store = panel_url
    users_before = store.query_one("SELECT COUNT(*) FROM panel_users")[0]
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=False)
        page = context.new_page()
        page.set_default_timeout(30_000)
        context.on("console", lambda message: console.append(message.text))
        page.on("dialog", lambda dialog: (console.append("PWNED-dialog"), dialog.dismiss()))
        try:
            page.goto(url + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            titles = []
            for item_id in ("hostile-page", "hostile-js", "legacy-page", "legacy-js", "cover-page", "cover-js"):
                # A download (Content-Disposition: attachment) aborts the navigation: fine.
                with contextlib.suppress(Error):
                    page.goto(f"{url}/items/{item_id}/audio", wait_until="load")
                page.wait_for_timeout(300)
                titles.append(page.title())
            # The items page with its <audio> players loads too, and nothing runs from it either.
            page.goto(url + "/items")
            page.wait_for_timeout(300)
            titles.append(page.title())
        finally:
            browser.close()
    assert not [m for m in console if "PWNED" in m], console
    assert "PWNED" not in titles
    assert store.query_one("SELECT COUNT(*) FROM panel_users")[0] == users_before
