"""The panel in a real browser: Debian's Chromium, headless, driven by Playwright, against the
panel served by waitress on loopback and the real daemon in-process (libVLC capture output,
espeak-ng, gpiozero MockFactory pins).

One operator's session, start to end: first-run admin set-up, a failed then a good login,
compose an announcement (spoken form, TTS preview fetched as a WAV), save it, schedule it and
find it in the week view, an emergency broadcast that reaches the capture output with the
relay on, the play log row, logout. Screenshots of the main pages go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import array
import math
import threading
import wave
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

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PASSWORD = "mật khẩu quản trị 2026"


def _rms(path: Path) -> tuple[float, int]:
    with wave.open(str(path), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
        rms = int(math.sqrt(sum(x * x for x in samples) / len(samples))) if samples else 0
        return wav.getnframes() / wav.getframerate(), rms


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress

    config = make_config(tmp_path / "d", schedule={"default_windows": ["05:30-21:30"], "min_interval_minutes": 30})
    flag = tmp_path / "synchronized"
    flag.write_text("")
    store = Store.open(config.db_path)
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    app = create_app(config, store=Store.open(config.db_path))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.effective_port}", "daemon": daemon, "recorder": recorder,
           "config": config, "store": store}
    server.close()
    daemon.stop("test over")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_operator_session_end_to_end(stack: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, recorder, config, store = stack["url"], stack["recorder"], stack["config"], stack["store"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")  # a phone screen
        page.set_default_timeout(30_000)
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            # First run: everything leads to the set-up page; no default password exists.
            page.goto(url + "/")
            expect(page).to_have_url(url + "/setup")
            expect(page.locator("h1")).to_have_text("Cài đặt lần đầu")
            shot(page, "01-setup")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.fill("input[name=password2]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/login")

            # Login: a wrong password is refused in Vietnamese, the right one opens the dashboard.
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "sai mật khẩu")
            page.click("button[type=submit]")
            expect(page.locator("#login-error")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
            shot(page, "02-login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/")
            expect(page.locator("#relays")).to_contain_text("tắt")
            expect(page.locator("#health")).to_contain_text("đang chạy")  # the daemon answers on its socket
            expect(page.locator("#daemon-down")).to_have_count(0)
            expect(page.locator("#chart svg")).to_be_visible()
            shot(page, "03-dashboard")

            # Compose: spoken form, then a TTS preview the browser can play, then save.
            page.goto(url + "/announcements")
            text = "Kính mời bà con dự họp lúc 7h30 ngày 26/11/2026 tại UBND xã."
            page.fill("textarea[name=text]", text)
            page.click("button[value=normalize]")
            spoken = page.locator("#spoken")
            expect(spoken).to_be_visible()
            assert spoken.inner_text().strip() != text and "7h30" not in spoken.inner_text()
            page.click("#preview-button")
            audio = page.locator("#preview-audio")
            expect(audio).to_be_visible()
            wav = page.request.get(url + audio.get_attribute("src"))
            assert wav.status == 200 and wav.body()[:4] == b"RIFF" and len(wav.body()) > 10_000
            duration = page.evaluate("""async () => { const a = document.querySelector('#preview-audio');
                if (a.readyState < 1) await new Promise(r => a.addEventListener('loadedmetadata', r, {once: true}));
                return a.duration; }""")
            assert duration > 1.0
            page.fill("input[name=title]", "Họp dân tháng 11")
            page.click("#save-button")
            expect(page.locator(".flash.ok")).to_contain_text("Đã lưu thông báo")
            row = page.locator("tr.just-saved")
            expect(row).to_contain_text("Họp dân tháng 11")
            item_id = row.get_attribute("id").removeprefix("local-")
            shot(page, "04-announcements")

            # Schedule it the day after tomorrow at 06:30 and find it in that week's view.
            row.locator("a", has_text="Lên lịch").click()
            when = (datetime.now(ZoneInfo(config.device.timezone)) + timedelta(days=2)).replace(hour=6, minute=30)
            page.fill("input[name=start]", when.strftime("%Y-%m-%dT%H:%M"))
            shot(page, "05-slot-form")
            page.click("#save-slot")
            expect(page.locator(".flash.ok")).to_contain_text("Đã lưu lịch phát")
            day = page.locator(f".day[data-date='{when.date().isoformat()}']")
            expect(day.locator(f".slot[data-item='{item_id}']")).to_contain_text("06:30")
            shot(page, "06-week")

            # An occurrence outside the broadcast window is warned about before saving.
            page.goto(url + f"/schedule/new?item_id={item_id}")
            page.fill("input[name=start]", when.replace(hour=3, minute=0).strftime("%Y-%m-%dT%H:%M"))
            page.click("#save-slot")
            expect(page.locator("#slot-warnings")).to_contain_text("Ngoài khung giờ phát")
            shot(page, "07-slot-warning")

            # Emergency: confirmation required, then audio reaches the capture with the relay on.
            page.goto(url + "/emergency")
            page.fill("textarea[name=text]", "Khẩn cấp: nước sông đang lên, bà con di chuyển lên chỗ cao.")
            page.click("#emergency-button")
            expect(page.locator(".field-error[data-field=confirm]")).to_be_visible()
            page.fill("textarea[name=text]", "Khẩn cấp: nước sông đang lên, bà con di chuyển lên chỗ cao.")
            page.check("input[name=confirm]")
            page.click("#emergency-button")
            started = page.locator("#emergency-started")
            expect(started).to_contain_text("Đã bắt đầu phát khẩn cấp lúc")
            emergency_id = started.get_attribute("data-item")
            shot(page, "08-emergency")
            start = recorder.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == emergency_id, 60)
            relay_on = [e for e in recorder.of("relay") if e["on"] and e["t"] <= start["t"]]
            assert {e["zone"] for e in relay_on} == set(config.zone_names())
            end = recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == emergency_id, 90)
            assert end["outcome"] == "completed"
            seconds, rms = _rms(Path(end["capture"]))
            assert seconds > 2.0 and rms > 100

            # The play log shows it, with who triggered it.
            page.goto(url + "/playlog?outcome=completed")
            log_row = page.locator(f"#playlog tr[data-item='{emergency_id}']")
            expect(log_row).to_have_attribute("data-trigger", "emergency")
            expect(log_row).to_contain_text("bảng điều khiển (admin)")
            shot(page, "09-playlog")
            csv = page.request.get(url + "/playlog.csv")
            assert csv.status == 200 and emergency_id in csv.text()

            for path, name in (("/items?source=local", "10-items"), ("/zones", "11-zones"),
                               ("/settings", "12-settings"), ("/settings/audit", "13-audit")):
                page.goto(url + path)
                shot(page, name)
            audit = page.locator("#audit").inner_text()
            assert "emergency.broadcast" in audit and "slot.create" in audit and "announcement.create" in audit

            # A desktop-sized dashboard too, then log out.
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(url + "/")
            shot(page, "14-dashboard-desktop")
            page.click("#logout")
            expect(page).to_have_url(url + "/login")
            page.goto(url + "/schedule")
            expect(page).to_have_url(url + "/login?next=/schedule")
        finally:
            browser.close()
    assert store.query_one("SELECT COUNT(*) FROM panel_users")[0] == 1
