"""The dashboard's power card in a real browser (Debian's Chromium through Playwright) while the real
daemon in-process runs on battery (gpiozero mock pins: the mains-sense input reads "lost") with
the firmware flags file saying under-voltage: the card, the problems and the saving notice are
shown in Vietnamese. Screenshot: test-artifacts/screenshots/power-dashboard.png."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state.store import Store
from tests.appliance.panel.test_browser_panel import CHROMIUM, CHROMIUM_ARGS, shot
from tests.support.daemon_rig import Recorder, make_config
from tests.support.power_rig import MAINS_PIN, flags_file, mains_wired

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "mật khẩu quản trị 2026"


def test_dashboard_shows_the_station_on_battery(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress
    from playwright.sync_api import expect, sync_playwright

    flags = flags_file(tmp_path, 0x50005)
    config = make_config(tmp_path / "d", power={"mains_pin": MAINS_PIN, "throttled_source": str(flags),
                                                "poll_s": 0.2, "battery_policy": "emergency_and_priority"})
    timesync = tmp_path / "synchronized"
    timesync.write_text("")
    factory = MockFactory()
    mains_wired(factory, present=False)
    store = Store.open(config.db_path)
    daemon = Daemon(config, pin_factory=factory, store=store, listener=Recorder(), sync=False, timesync_flag=timesync)
    daemon.start()
    panel_store = Store.open(config.db_path)
    Accounts(panel_store).create_first_admin("admin", PASSWORD, PASSWORD)
    server = waitress.create_server(create_app(config, store=panel_store), host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page.goto(url + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/")
            card = page.locator("#power")
            expect(card).to_contain_text("Nguồn điện")
            expect(card.locator("[data-mains=lost]")).to_have_text("mất điện: đang chạy ắc quy")
            expect(card.locator("#saving-battery")).to_contain_text("chỉ phát bản tin khẩn cấp và ưu tiên")
            expect(card.locator("[data-voltage=low]")).to_have_text("sụt áp")
            expect(card.locator("[data-throttled=yes]")).to_be_visible()
            expect(page.locator("#current-problems")).to_contain_text("trạm đang chạy bằng ắc quy dự phòng")
            shot(page, "power-dashboard")
            browser.close()
    finally:
        server.close()
        daemon.stop("test over")
        panel_store.close()
        store.close()
