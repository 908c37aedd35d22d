"""The fleet pages in Debian's Chromium: the operator logs in, filters the fleet, and the alerts
page updates itself (its script file polls the JSON API) when a device reports a problem, with
no Content-Security-Policy violation. Screenshots in test-artifacts/screenshots/central-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.appliance.panel.test_browser_panel import CHROMIUM, CHROMIUM_ARGS, shot
from tests.central.test_monitoring import heartbeat, post
from tests.conftest import PERSON_PASSWORD, CentralHandle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("central_engine", ["sqlite"], indirect=True)
def test_alerts_page_updates_itself(central: CentralHandle) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    from playwright.sync_api import expect, sync_playwright

    tokens = central.catalog.add_devices([(f"26881-{n:04d}", ["thon-1"], "Hà Nội" if n % 2 else "Lào Cai")
                                          for n in range(1, 7)])
    for device_id, token in tokens.items():
        post(central, "heartbeat", heartbeat(device_id=device_id, software_version="0.10.1"), token=token,
             device_id=device_id)
    central.add_person("giamsat", ("approver",))  # any person may watch the fleet
    violations: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page.set_default_timeout(30_000)
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text
                or msg.type == "error" else None)
        try:
            page.goto(central.url + "/monitor/login")  # the old address sends people to /login
            expect(page).to_have_url(central.url + "/login")
            page.fill("#username", "giamsat")
            page.fill("#password", PERSON_PASSWORD)
            page.click("#login")
            page.goto(central.url + "/monitor")
            expect(page.locator("#summary")).to_contain_text("7 thiết bị")
            page.select_option("select[name=status]", "online")
            page.fill("input[name=province]", "Lào Cai")
            page.click("#filters button[type=submit]")
            expect(page.locator("#fleet tbody tr")).to_have_count(3)
            shot(page, "central-fleet-filtered")

            page.goto(central.url + "/monitor/alerts?refresh_s=2")
            expect(page.locator("#alerts tbody tr.none")).to_have_count(1)
            first = page.locator("#as-of").inner_text()
            # A device reports low disk and another an older software: the page shows both by itself.
            post(central, "heartbeat", heartbeat(device_id="26881-0003", software_version="0.10.1",
                                                 disk={"free_bytes": 1000, "total_bytes": 31_000_000_000}),
                 token=tokens["26881-0003"], device_id="26881-0003")
            post(central, "heartbeat", heartbeat(device_id="26881-0004", software_version="0.9.0"),
                 token=tokens["26881-0004"], device_id="26881-0004")
            row = page.locator('#alerts tbody tr[data-device="26881-0003"]')
            expect(row).to_contain_text("disk_low", timeout=15_000)
            expect(page.locator('#alerts tbody tr[data-device="26881-0004"]')).to_contain_text("stale_software")
            assert page.url.endswith("/monitor/alerts?refresh_s=2")   # updated in place, not reloaded
            assert page.locator("#as-of").inner_text() >= first
            shot(page, "central-alerts-updated")
        finally:
            browser.close()
    assert violations == [], violations


