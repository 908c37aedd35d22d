"""Central's editorial pages in a real browser (Debian's Chromium, headless, Playwright), with a
real station daemon syncing from this central over loopback (libVLC capture output, espeak-ng,
gpiozero MockFactory pins).

An admin adds an editor and an approver of Tuyên Quang province in the browser; the editor
writes a text item, hears the speech preview (normalized text beside it), tries to reach a ward
of Hà Nội (refused: out of scope), schedules it once at the next minute but one and submits it;
the editor cannot approve it (four eyes: they also hold the approver role); the approver finds it
in the queue and approves it (signed); the station of Xã Thượng Lâm (02269) syncs it and plays
it on time, and the captured WAV is real speech. Screenshots of every editorial page at
360x740 and 1366x768 go to test-artifacts/screenshots/editorial/.
"""

from __future__ import annotations

import array
import math
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import protocol
from appliance.daemon import Daemon
from appliance.state.store import Store
from central.app import create_app
from central.config import CentralConfig
from central.loopback import serve_in_thread
from tests.support.daemon_rig import Recorder, make_config, mock_factory
from tests.support.paths import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots" / "editorial"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 768}}
ADMIN_PASSWORD = "mật khẩu quản trị 2026"
EDITOR_PASSWORD = "bien tap vien tuyen quang"
APPROVER_PASSWORD = "nguoi duyet tuyen quang"
DEVICE_ID = "02269-0001"          # Xã Thượng Lâm, Tuyên Quang
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _rms(path: Path) -> tuple[float, int]:
    with wave.open(str(path), "rb") as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
        rms = int(math.sqrt(sum(x * x for x in samples) / len(samples))) if samples else 0
        return wav.getnframes() / wav.getframerate(), rms


def shot(page: Any, name: str) -> None:
    """The page at a phone's size and a laptop's, full length."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(SIZES["phone"])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    data = tmp_path / "central"
    app = create_app(data, config=CentralConfig(data_dir=data))
    server = serve_in_thread(app)
    catalog = server.catalog
    token = catalog.add_device(DEVICE_ID, ["thon-1"])
    app.extensions["central.accounts"].add_person("quantri", ADMIN_PASSWORD, roles=["admin"], by="cli:test")
    config = make_config(tmp_path / "station", device={"id": DEVICE_ID, "data_dir": str(tmp_path / "station")},
                         central={"url": server.url, "token": token, "public_key": catalog.public_key_b64},
                         sync={"interval_s": 10},
                         zones=[{"name": "thon-1", "relay_pin": 17, "warmup_ms": 300, "cooldown_ms": 200}])
    flag = tmp_path / "synchronized"
    flag.write_text("")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=Store.open(config.db_path), listener=recorder,
                    sync=True, timesync_flag=flag)
    daemon.start()
    try:
        yield {"url": server.url, "catalog": catalog, "daemon": daemon, "recorder": recorder, "app": app}
    finally:
        daemon.stop("test over")
        server.stop()
        catalog.close()


def _login(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")


def test_editor_writes_approver_approves_station_plays_it_on_time(stack: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, catalog, recorder = stack["url"], stack["catalog"], stack["recorder"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            contexts = {name: browser.new_context(viewport=SIZES["phone"], locale="vi-VN")
                        for name in ("admin", "editor", "approver")}
            admin, editor, approver = (contexts[n].new_page() for n in ("admin", "editor", "approver"))
            for page in (admin, editor, approver):
                page.set_default_timeout(30_000)

            # The admin: a wrong password is refused in Vietnamese; then people are added.
            _login(admin, url, "quantri", "sai mật khẩu rồi")
            expect(admin.locator("#login-error")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
            shot(admin, "01-login")
            _login(admin, url, "quantri", ADMIN_PASSWORD)
            admin.goto(url + "/people")
            for username, password, roles in (("bientap", EDITOR_PASSWORD, ("editor", "approver")),
                                              ("pheduyet", APPROVER_PASSWORD, ("approver",))):
                admin.fill("#username", username)
                admin.fill("#display_name", {"bientap": "Nguyễn Thị Biên", "pheduyet": "Trần Văn Duyệt"}[username])
                admin.fill("#password", password)
                for role in roles:
                    admin.check(f"#role-{role}")
                admin.select_option("#scope_kind", "province")
                admin.fill("#scope_codes", "08")
                admin.click("#add")
                expect(admin.locator("#people")).to_contain_text(username)
            expect(admin.locator("#people")).to_contain_text("Tuyên Quang")
            shot(admin, "02-people")

            # The editor writes an item; the preview shows what the voice reads and plays it.
            _login(editor, url, "bientap", EDITOR_PASSWORD)
            expect(editor).to_have_url(url + "/items")
            editor.click("#new-text")
            expect(editor.locator("#provinces")).to_contain_text("Tuyên Quang")
            expect(editor.locator("#provinces")).not_to_contain_text("Hà Nội")  # only the editor's scope is offered
            text = "Kính mời bà con xã Thượng Lâm dự họp lúc 7h30 ngày 26/12/2026 tại UBND xã."
            editor.fill("#title", "Họp dân cuối năm")
            editor.fill("#text", text)
            editor.click("#preview")
            spoken = editor.locator("#spoken")
            expect(spoken).to_be_visible()
            assert "7h30" not in spoken.inner_text() and "bảy giờ ba mươi" in spoken.inner_text()
            wav = editor.request.get(url + editor.locator("#preview-audio").get_attribute("src"))
            assert wav.status == 200 and wav.body()[:4] == b"RIFF" and len(wav.body()) > 20_000
            shot(editor, "03-item-form-preview")

            # A ward of Hà Nội is outside Tuyên Quang: refused with a reason, nothing saved.
            editor.fill("#communes", "00070")
            editor.click("#save")
            expect(editor.locator("#form-error")).to_contain_text("phạm vi")
            assert catalog.list_items() == []
            shot(editor, "04-item-form-out-of-scope")

            # Once, at the next minute but one (Vietnam time), to Tuyên Quang; save and submit.
            start = (datetime.now(UTC) + timedelta(seconds=150)).replace(second=0, microsecond=0)
            local = start.astimezone(VN)
            editor.fill("#communes", "")
            editor.check("#provinces input[value='08']")
            editor.check("#mode-once")
            editor.fill("#day", local.date().isoformat())
            editor.fill("#at", local.strftime("%H:%M"))
            editor.fill("#duration_min", "2")
            editor.click("#save-submit")
            expect(editor.locator("#schedule")).to_contain_text(f"Một lần lúc {local.strftime('%H:%M')}")
            expect(editor.locator(".st-submitted")).to_be_visible()
            item_id = editor.url.rsplit("/", 1)[1]
            shot(editor, "05-item-submitted")

            # Four eyes: the editor also holds the approver role, but wrote this item.
            editor.click("#approve")
            expect(editor.locator("#error")).to_contain_text("bốn mắt")
            assert catalog.get_published(item_id) is None
            editor.goto(url + "/items")
            expect(editor.locator("#items")).to_contain_text("Họp dân cuối năm")
            shot(editor, "06-items")

            # The approver: the queue with counts, the full content and changes, approve (signs).
            _login(approver, url, "pheduyet", APPROVER_PASSWORD)
            expect(approver).to_have_url(url + "/review")
            expect(approver.locator("#count-all")).to_have_text("1")
            shot(approver, "07-review-queue")
            approver.click(f"#queue a[href='/items/{item_id}']")
            expect(approver.locator("#content")).to_contain_text(text)
            expect(approver.locator("#changes")).to_contain_text("Chưa từng được duyệt")
            shot(approver, "08-item-to-approve")
            approver.click("#approve")
            expect(approver.locator("#notice")).to_contain_text("Đã duyệt và ký")
            expect(approver.locator("#history")).to_contain_text("pheduyet")
            shot(approver, "09-item-approved")
            signed = catalog.get_published(item_id)
            assert signed["approved_by"] == "Trần Văn Duyệt"
            assert protocol.validate_item(signed, catalog.public_key, device_id=DEVICE_ID).schedule is not None

            # Admin pages: tokens and the audit log of all this.
            admin.goto(url + "/tokens")
            shot(admin, "10-tokens")
            admin.goto(url + "/audit")
            expect(admin.locator("#audit")).to_contain_text("item.approved")
            expect(admin.locator("#audit")).to_contain_text("login.failed")
            shot(admin, "11-audit")
            approver.goto(f"{url}/lang/en?next=/items/{item_id}")
            expect(approver.locator("#history")).to_contain_text("Approved and signed")
            shot(approver, "12-item-english")

            # The station syncs the signed item and plays it at the scheduled minute.
            began = recorder.wait_for(lambda e: e["type"] == "play_start" and e["item_id"] == item_id, 240)
            assert protocol.parse_utc(began["scheduled_at"]) == start
            ended = recorder.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == item_id, 120)
            assert ended["outcome"] == "completed"
            actual = protocol.parse_utc(ended["actual_start"])
            assert abs((actual - start).total_seconds()) < 15, (actual, start)
            seconds, rms = _rms(Path(ended["capture"]))
            assert seconds > 3.0 and rms > 300
        finally:
            browser.close()
