"""The panel in Chromium shows whose voice airs a central item, and its player plays central's rendering.

A real central on loopback renders the item (espeak-ng, Southern accent); the station syncs over
HTTP; the panel is served by waitress; Debian's Chromium through Playwright. Screenshot:
test-artifacts/screenshots/central-speech-items.png.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state import config as config_module
from appliance.state.mediastore import MediaStore
from appliance.state.store import Store
from appliance.sync.client import CentralClient
from appliance.sync.syncer import Syncer
from central.config import CentralConfig, SpeechConfig
from tests.appliance.panel.test_browser_panel import CHROMIUM, CHROMIUM_ARGS, PASSWORD, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def central_config(tmp_path: Path, central_database_url: str) -> CentralConfig:
    return CentralConfig(data_dir=tmp_path / "central", database_url=central_database_url,
                         speech=SpeechConfig(engine="espeak", voice="vi-vn-x-south"))


@pytest.fixture
def central_engine() -> str:
    return "sqlite"


def test_item_card_names_centrals_voice_and_plays_it(central: Any, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress
    from playwright.sync_api import expect, sync_playwright

    item_id = central.text_item(title="Họp thôn", text="Kính mời bà con thôn 1 đến nhà văn hóa lúc 19 giờ.",
                                zones=["thon-1"])
    central.text_item(title="Lịch tiêm", text="Tiêm chủng sáng thứ hai.", zones=["thon-1"], item_id="no-speech")
    central.catalog.speech.remove("no-speech")
    config = config_module.from_mapping({
        "device": {"id": central.device_id, "data_dir": str(tmp_path / "device")},
        "central": {"url": central.url, "token": central.token, "public_key": central.public_key_b64},
        "zones": [{"name": "thon-1", "relay_pin": 17}],
    }, "<test>", env={})
    store = Store.open(config.db_path)
    client = CentralClient.from_config(config)
    assert Syncer(config, store, MediaStore(config.media_dir), client).sync_once().ok
    client.close()
    Accounts(store).create_first_admin("admin", PASSWORD, PASSWORD)
    server = waitress.create_server(create_app(config, store=Store.open(config.db_path)), host="127.0.0.1", port=0,
                                    threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")
            page.set_default_timeout(30_000)
            try:
                page.goto(url + "/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.goto(url + "/items")
                card = page.locator(f"#item-{item_id}")
                expect(card.locator(".voice-on-air")).to_have_text(
                    "Giọng đọc khi phát: giọng trung tâm đã dựng sẵn (espeak-ng Vietnamese (Southern))")
                expect(page.locator("#item-no-speech .voice-on-air")).to_contain_text("giọng của trạm")
                src = card.locator("audio").get_attribute("src")
                heard = page.request.get(url + src).body()
                assert hashlib.sha256(heard).hexdigest() == central.catalog.speech.get(item_id)["media"]["sha256"]
                duration = page.evaluate(f"""async () => {{ const a = document.querySelector('#item-{item_id} audio');
                    a.preload = 'metadata'; a.load();
                    if (a.readyState < 1) await new Promise(r => a.addEventListener('loadedmetadata', r, {{once: true}}));
                    return a.duration; }}""")
                assert duration > 2.0
                shot(page, "central-speech-items")
                # Central's own page for the item: the editor hears the very file the station airs.
                editor = browser.new_page(viewport={"width": 1000, "height": 600},
                                          extra_http_headers=central.admin_headers())
                editor.goto(f"{central.url}/monitor/items/{item_id}")
                expect(editor.locator("#speech")).to_contain_text("espeak-ng Vietnamese (Southern)")
                duration = editor.evaluate("""async () => { const a = document.querySelector('#speech audio');
                    a.preload = 'metadata'; a.load();
                    if (a.readyState < 1) await new Promise(r => a.addEventListener('loadedmetadata', r, {once: true}));
                    return a.duration; }""")
                assert duration > 2.0  # the page's policy lets its player load the speech
                shot(editor, "central-speech-monitor-item")
            finally:
                browser.close()
    finally:
        server.close()
