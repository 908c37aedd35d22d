"""The admin's intake page in a real browser (Debian's Chromium through Playwright, a phone-sized
screen): an admin logs in with their account, adds a feed, poll it, see what was taken and a hostile feed's error in
Vietnamese; the strict CSP holds (no inline script, nothing blocked that the page needs).
Screenshots go to test-artifacts/screenshots/intake-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central.intake.fixture_server import FixtureServer
from central.intake.fixtures import PortalUrls, install_portal
from tests.conftest import PERSON_PASSWORD, CentralHandle
from tests.support.paths import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def portal() -> Iterator[PortalUrls]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    with FixtureServer() as server:
        yield install_portal(server, articles=5, huge_bytes=4_000_000)


@pytest.mark.parametrize("central_engine", ["sqlite"])  # the page; the storage runs on both elsewhere
def test_an_admin_adds_and_polls_a_feed_in_the_browser(central: CentralHandle, portal: PortalUrls) -> None:
    from playwright.sync_api import expect, sync_playwright

    central.add_person("quantri", ("admin",))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")
        page.set_default_timeout(30_000)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        try:
            page.goto(central.url + "/admin/sources")
            expect(page).to_have_url(central.url + "/login")
            page.fill("#username", "quantri")
            page.fill("#password", PERSON_PASSWORD)
            page.click("#login")
            expect(page.locator("#login-error")).to_have_count(0)
            page.goto(central.url + "/admin/sources")
            expect(page.locator("h1")).to_contain_text("Nguồn tin tự động")
            expect(page.locator("#sources")).to_contain_text("Chưa có nguồn tin")

            page.fill("input[name=name]", "cong-thong-tin")
            page.fill("input[name=url]", portal.feed)
            page.click("#add-source button[type=submit]")
            row = page.locator("#source-cong-thong-tin")
            expect(row).to_contain_text("Đang bật")
            row.locator("button", has_text="Lấy ngay").click()
            row = page.locator("#source-cong-thong-tin")
            expect(row.locator("td.taken")).to_have_text("5")
            expect(row).to_contain_text("HTTP 200")

            # A name the rules refuse: the reason in Vietnamese, then English; nothing added.
            page.fill("input[name=name]", "Tên Có Dấu")
            page.fill("input[name=url]", portal.truncated)
            page.evaluate("document.querySelector('input[name=name]').removeAttribute('pattern')")
            page.click("#add-source button[type=submit]")
            expect(page.locator("#error")).to_contain_text("Tên nguồn không hợp lệ")
            page.fill("input[name=name]", "hong")
            page.click("#add-source button[type=submit]")
            page.locator("#source-hong button", has_text="Lấy ngay").click()
            expect(page.locator("#source-hong")).to_contain_text("Nguồn tin không phải XML hợp lệ")
            expect(page.locator("#source-hong")).to_contain_text("intake.malformed")
            page.locator("#source-hong button", has_text="Tắt").click()
            expect(page.locator("#source-hong")).to_contain_text("Đã tắt")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "intake-sources.png"), full_page=True)
        finally:
            browser.close()
    assert not [m for m in console if "Content Security Policy" in m]
    assert len([i for i in central.catalog.list_items() if i["state"] == "draft"]) == 5
