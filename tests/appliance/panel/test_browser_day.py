"""Issue 11, done when: a commune officer's working day in a real browser (Debian's Chromium via
Playwright) at a phone's 360x740 and an office PC's 1366x768, against the panel served by
waitress and the real daemon in-process (libVLC capture output, espeak-ng, mock pins).

Set up, log in, type an announcement with dates and numbers, preview it, schedule it weekly (shown
in plain Vietnamese), change a zone's window (the week view then says the slot will not play),
watch the dashboard update by itself while the announcement plays, start an emergency from a
template with a repeat, stop it with the big stop button, export the month's report (.xlsx opened
with openpyxl holds the plays; the printable page too). On every page at 360 px nothing needs
sideways scrolling. Screenshots of each page at both sizes: test-artifacts/day-<width>/.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.state.store import Store
from tests.support.daemon_rig import Recorder, make_config, mock_factory
from tests.support.paths import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--lang=vi-VN"]
PASSWORD = "đài xã Hoà Bình năm 2026"
TEXT = "Ngày 15/12/2026 lúc 7h30, xã tiêm phòng cho 1.250 con gia súc, phí 25.000 đồng một con."


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress

    config = make_config(tmp_path / "d", schedule={"default_windows": ["00:00-00:00"], "min_interval_minutes": 30},
                         zones=[{"name": "trung-tam", "label": "Trung tâm xã", "relay_pin": 17, "warmup_ms": 300,
                                 "cooldown_ms": 200},
                                {"name": "thon-dong", "label": "Thôn Đông", "relay_pin": 27, "warmup_ms": 300,
                                 "cooldown_ms": 200}])
    flag = tmp_path / "synchronized"
    flag.write_text("")
    store = Store.open(config.db_path)
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    app = create_app(config, store=Store.open(config.db_path))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=6)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.effective_port}", "daemon": daemon, "recorder": recorder,
           "config": config}
    server.close()
    daemon.stop("test over")


class Walk:
    """Visits pages, takes a screenshot of each, and checks nothing needs sideways scrolling."""

    def __init__(self, page: Any, url: str, width: int) -> None:
        self.page, self.url, self.width, self.count = page, url, width, 0
        self.folder = REPO / "test-artifacts" / f"day-{width}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def check(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
        if self.width <= 400:
            fits = self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert fits, f"{name} needs sideways scrolling at {self.width} px: " + str(self.page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"))

    def go(self, path: str, name: str) -> None:
        self.page.goto(self.url + path)
        self.check(name)


@pytest.mark.parametrize("viewport", [(360, 740), (1366, 768)], ids=["phone-360", "office-1366"])
def test_an_officers_day(stack: dict[str, Any], viewport: tuple[int, int]) -> None:
    from openpyxl import load_workbook
    from playwright.sync_api import expect, sync_playwright

    url, recorder, config, daemon = stack["url"], stack["recorder"], stack["config"], stack["daemon"]
    local = ZoneInfo(config.device.timezone)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
        page = context.new_page()
        page.set_default_timeout(40_000)
        page.on("dialog", lambda dialog: dialog.accept())
        walk = Walk(page, url, viewport[0])
        try:
            # Set up and log in.
            page.goto(url + "/")
            expect(page).to_have_url(url + "/setup")
            walk.check("setup")
            page.fill("input[name=username]", "canbo")
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=password2]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/login")
            walk.check("login")
            page.fill("input[name=username]", "canbo")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/")
            walk.check("dashboard")
            if viewport[0] <= 600:   # the compact menu does not take the first screen
                expect(page.locator("nav.nav")).to_be_hidden()
                page.click("#menu-button")
                expect(page.locator("nav.nav")).to_be_visible()
                walk.check("menu-open")
                page.click("#menu-button")

            # Type an announcement with dates and numbers, read its spoken form, hear it, save it.
            walk.go("/announcements", "announcements")
            page.fill("textarea[name=text]", TEXT)
            page.click("button[value=normalize]")
            spoken = page.locator("#spoken").inner_text()
            assert "7h30" not in spoken and "1.250" not in spoken and "mười lăm" in spoken
            page.click("#preview-button")
            expect(page.locator("#preview-audio")).to_be_visible()
            wav = page.request.get(url + page.locator("#preview-audio").get_attribute("src"))
            assert wav.status == 200 and wav.body()[:4] == b"RIFF"
            walk.check("announcement-preview")
            page.fill("input[name=title]", "Tiêm phòng gia súc")
            page.click("#save-button")
            row = page.locator("tr.just-saved")
            expect(row).to_contain_text("Tiêm phòng gia súc")
            item_id = row.get_attribute("id").removeprefix("local-")
            walk.check("announcement-saved")

            # Schedule it weekly, Monday and Thursday at 06:30 in Thôn Đông, until the end of the year.
            page.goto(url + f"/schedule/new?item_id={item_id}")
            start = (datetime.now(local) + timedelta(days=1)).replace(hour=6, minute=30, second=0, microsecond=0)
            page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
            page.uncheck("input[name=zones][value='*']")
            page.check("input[name=zones][value='thon-dong']")
            page.check("input[name=repeat][value=weekly]")
            page.check("input[name=weekdays][value=MO]")
            page.check("input[name=weekdays][value=TH]")
            page.fill("input[name=until]", f"{start.year}-12-31")
            walk.check("slot-form")
            page.click("#save-slot")
            expect(page.locator(".flash.ok")).to_contain_text("Đã lưu lịch phát")
            expect(page.locator("#local-slots")).to_contain_text(
                f"Thứ Hai và Thứ Năm hằng tuần lúc 06:30, từ {start:%d/%m/%Y}, đến hết 31/12/{start.year}")
            assert "FREQ=" not in page.content()
            walk.check("schedule-week")

            # Change Thôn Đông's window: the week view now says the slot will not play, and why.
            walk.go("/zones", "zones")
            page.fill("#zone-thon-dong input[name=windows]", "17:00-18:00")
            page.click("#zone-thon-dong button:has-text('Lưu')")
            expect(page.locator("#zone-thon-dong")).to_contain_text("17:00-18:00")
            walk.check("zones-window-changed")
            monday = start.date() + timedelta(days=(7 - start.weekday()) % 7)
            page.goto(url + f"/schedule?week={monday.isoformat()}")
            blocked = page.locator(f".slot[data-item='{item_id}'][data-not-playing='outside_window']").first
            expect(blocked).to_contain_text("Sẽ không phát")
            walk.check("schedule-not-playing")
            assert daemon.config.zones[1].windows == ["17:00-18:00"]   # the running daemon has it already

            # The dashboard updates by itself while the announcement plays (started from another tab).
            page.goto(url + "/")
            page.evaluate("window.__noReload = 'still here'")
            other = context.new_page()
            other.on("dialog", lambda dialog: dialog.accept())
            other.goto(url + "/items?source=local")
            other.locator(f"#item-{item_id} button", has_text="Phát ngay").click()
            on_air = page.locator("#on-air")
            expect(on_air).to_contain_text("Tiêm phòng gia súc", timeout=60_000)
            expect(page.locator("#stop-now")).to_be_visible()
            expect(on_air).to_contain_text("Đã phát")
            expect(on_air).to_contain_text("Còn lại: 0:")     # minutes:seconds left of a short bulletin
            walk.check("dashboard-on-air")
            recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == item_id, 90)
            expect(on_air).to_contain_text("Không phát gì", timeout=15_000)
            expect(page.locator("#stop-now")).to_have_count(0)
            assert page.evaluate("window.__noReload") == "still here"    # no reload: the live part refreshed
            other.close()

            # A storm night: the emergency from the template, heard first, repeated until stopped.
            walk.go("/emergency", "emergency")
            page.click("#templates a[data-template=bao]")
            expect(page.locator("textarea[name=text]")).to_contain_text("chằng chống nhà cửa")
            page.click("#emergency-preview")
            expect(page.locator("#preview-audio")).to_be_visible()
            page.check("input[name=repeat][value=until_stopped]")
            page.fill("input[name=every_min]", "20")
            page.check("input[name=interrupted][value=drop]")
            walk.check("emergency-template")
            page.click("#emergency-button")
            review = page.locator("#emergency-review")
            expect(review).to_contain_text("mỗi 20 phút, đến khi dừng")
            expect(review).to_contain_text("Bản tin bị ngắt sẽ không được phát lại.")
            walk.check("emergency-review")
            page.click("#confirm-emergency")
            started = page.locator("#emergency-started")
            expect(started).to_contain_text("Phát lại mỗi 20 phút cho đến khi bạn dừng.")
            emergency_id = started.get_attribute("data-item")
            expect(page.locator("#repeats-active")).to_be_visible()
            walk.check("emergency-started")
            recorder.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == emergency_id, 60)

            # Stop it from the dashboard's big stop button.
            page.goto(url + "/")
            expect(page.locator("#stop-now")).to_be_visible()
            walk.check("dashboard-emergency")
            page.click("#stop-now")
            expect(page.locator(".flash.ok")).to_contain_text("Đã dừng phát")
            end = recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == emergency_id, 30)
            assert end["outcome"] == "interrupted"
            assert daemon.status()["repeats"] == []
            walk.check("dashboard-stopped")

            # The month's report: printable page and .xlsx, both holding the plays.
            walk.go("/reports", "report")
            report_log = page.locator("#report-log")
            expect(report_log).to_contain_text("Tiêm phòng gia súc")
            expect(page.locator("#report-emergencies")).to_contain_text("chằng chống nhà cửa")
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 794, "height": 1123})     # an A4 page at 96 dpi
            page.screenshot(path=str(walk.folder / "report-print-a4.png"), full_page=True)
            page.emulate_media(media="screen")
            page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
            with page.expect_download() as download:
                page.click("#report-xlsx")
            book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
            plays = list(book["Nhật ký phát"].iter_rows(min_row=2, values_only=True))
            titles = [r[1] for r in plays]
            assert "Tiêm phòng gia súc" in titles and len(plays) >= 2
            assert [r for r in book["Khẩn cấp"].iter_rows(min_row=2, values_only=True) if "chằng chống" in str(r[2])]

            # The other pages of the day, all readable at this size.
            for path, name in (("/playlog", "playlog"), ("/items?source=local", "items"), ("/settings", "settings"),
                               ("/settings/users", "users"), ("/settings/audit", "audit"),
                               ("/emergency/templates", "emergency-templates"),
                               (f"/announcements/{item_id}/delete", "announcement-delete")):
                walk.go(path, name)
            expect(page.locator("#slots-to-delete li")).to_have_count(1)
        finally:
            browser.close()
