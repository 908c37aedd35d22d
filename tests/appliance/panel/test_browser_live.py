"""Live voice from a browser (issue 15): Debian's Chromium with a fake microphone playing a WAV
the test makes (a tone sequence), the panel served by waitress on loopback, the real daemon
in-process (libVLC capture output, gpiozero MockFactory pins, the real store and recorder).

The operator logs in, opens "Nói trực tiếp", goes live: the station's captured output must
contain the microphone's signal (cross-correlation), the relays are on during and off after, the
recording and the play-log row exist and the play log plays the recording. Closing the tab (and,
separately, killing the browser) stops the session within 3 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.daemon import Daemon
from appliance.panel import create_app
from appliance.panel.accounts import Accounts
from appliance.state.store import Store
from tests.appliance.panel.test_browser_panel import CHROMIUM, CHROMIUM_ARGS, shot
from tests.support import live_signal
from tests.support.daemon_rig import Recorder, make_config, mock_factory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

PASSWORD = "mật khẩu quản trị 2026"
SIGNAL_S = 6.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    import waitress

    config = make_config(tmp_path / "d", live={"chime": False})
    flag = tmp_path / "synchronized"
    flag.write_text("")
    store = Store.open(config.db_path)
    Accounts(store).create_user("chutich", PASSWORD, "operator")
    recorder = Recorder()
    daemon = Daemon(config, pin_factory=mock_factory(), store=store, listener=recorder, sync=False,
                    timesync_flag=flag)
    daemon.start()
    app = create_app(config, store=Store.open(config.db_path))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=6)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    microphone = live_signal.write_wav(tmp_path / "microphone.wav", live_signal.tone_sequence(SIGNAL_S, rate=48_000),
                                       rate=48_000)
    yield {"url": f"http://127.0.0.1:{server.effective_port}", "daemon": daemon, "recorder": recorder,
           "config": config, "store": store, "microphone": microphone}
    server.close()
    daemon.stop("test over")


def relays_on(daemon: Daemon) -> set[str]:
    assert daemon.amplifiers is not None
    return set(daemon.amplifiers.on_since())


def wait_relays_off(daemon: Daemon, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while relays_on(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relays_on(daemon) == set()


def test_operator_speaks_live_from_the_browser(stack: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, daemon, rec, config, store = (stack[k] for k in ("url", "daemon", "recorder", "config", "store"))
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={stack['microphone']}", "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(viewport={"width": 412, "height": 915}, locale="vi-VN")
        context.grant_permissions(["microphone"], origin=url)
        page = context.new_page()
        page.set_default_timeout(30_000)
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        try:
            page.goto(url + "/login")
            page.fill("input[name=username]", "chutich")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url + "/")
            page.click("#menu-button")                                 # the phone menu (issue 11)
            page.click("nav >> text=Nói trực tiếp")
            expect(page.locator("h1")).to_contain_text("Nói trực tiếp")
            expect(page.locator("#live-insecure")).to_be_hidden()     # localhost is a secure context
            shot(page, "live-01-page")
            assert relays_on(daemon) == set()

            page.click("#live-toggle")
            on_air = rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
            session_id = on_air["session_id"]
            expect(page.locator("#live-state")).to_contain_text("ĐANG PHÁT", timeout=10_000)
            assert relays_on(daemon) == {"a", "b"}
            page.wait_for_timeout(5_000)
            expect(page.locator("#live-elapsed")).not_to_have_text("0:00")
            width = page.eval_on_selector("#live-meter", "e => e.style.width")
            assert width and float(width.rstrip("%")) > 10, width     # the level meter moves
            shot(page, "live-02-on-air")
            assert relays_on(daemon) == {"a", "b"}
            page.click("#live-toggle")
            end = rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == session_id, timeout=20)
            rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == session_id, timeout=20)
            wait_relays_off(daemon)
            shot(page, "live-03-stopped")

            # What reached the loudspeakers is the microphone's signal, not just some sound.
            rate, captured = live_signal.read_wav(Path(end["capture"]))
            score, _ = live_signal.find(live_signal.resample(captured, rate), live_signal.tone_sequence(SIGNAL_S))
            print(f"cross-correlation with the microphone's signal: {score:.3f}")
            assert score > 0.9, score
            row = store.query_one("SELECT * FROM live_sessions WHERE id = ?", (session_id,))
            assert row["source"] == "browser" and row["speaker"] == "panel:chutich" and row["outcome"] == "stopped"
            recording = config.data_path / "live" / row["recording"]
            assert recording.stat().st_size > 2000 and recording.read_bytes()[:4] == b"OggS"
            play = store.query_one("SELECT * FROM play_log WHERE id = ?", (row["play_id"],))
            assert play["outcome"] == "completed" and play["actor"] == "panel:chutich"

            # The play log plays the recording.
            page.goto(url + "/playlog")
            player = page.locator(f"tr.live-recording-row[data-item='{session_id}'] audio")
            expect(player).to_have_count(1)
            src = player.get_attribute("src")
            answer = page.request.get(url + src)
            assert answer.status == 200 and answer.body()[:4] == b"OggS"
            shot(page, "live-04-playlog")

            # Closing the tab stops the session within 3 s.
            page.goto(url + "/live")
            page.click("#live-toggle")
            second = rec.wait_for(lambda e: e["type"] == "live_on_air" and e["session_id"] != session_id, timeout=20)
            page.wait_for_timeout(1_500)
            closed = time.monotonic()
            page.close()
            rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == second["session_id"], timeout=10)
            assert time.monotonic() - closed < 3.0
            wait_relays_off(daemon)

            # A browser that dies (no goodbye at all): the source is lost, stopped within 3 s.
            page = context.new_page()
            page.goto(url + "/live")
            page.click("#live-toggle")
            third = rec.wait_for(lambda e: e["type"] == "live_on_air" and e["session_id"] not in
                                 (session_id, second["session_id"]), timeout=20)
            page.wait_for_timeout(1_500)
            killed = time.monotonic()
            browser.close()
            rec.wait_for(lambda e: e["type"] == "play_end" and e["item_id"] == third["session_id"], timeout=10)
            assert time.monotonic() - killed < 3.5
            wait_relays_off(daemon)
        finally:
            with __import__("contextlib").suppress(Exception):
                browser.close()
        assert not [m for m in console if "error" in m.lower()], console


def test_a_phone_on_the_lan_uses_the_panel_over_https(stack: dict[str, Any], tmp_path: Path) -> None:
    """Over the panel's own HTTPS port (a LAN address is no secure context over HTTP): login passes
    CSRF's strict referrer check, the page is a secure context, and the microphone goes on air."""
    from playwright.sync_api import expect, sync_playwright

    from appliance.panel.tls import make_certificate, serve_https, tls_files

    daemon, rec, config = stack["daemon"], stack["recorder"], stack["config"]
    files = tls_files(config.data_path)
    make_certificate(files, names=["localhost"], addresses=["127.0.0.1"])
    https = serve_https(create_app(config, store=Store.open(config.db_path)), files, host="127.0.0.1", port=0)
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={stack['microphone']}"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
            # The officer trusted the station's certificate once; headless Chromium has no CA store
            # to install it into, so certificate errors are accepted here instead.
            context = browser.new_context(ignore_https_errors=True, locale="vi-VN")
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(https.url + "login")
            page.fill("input[name=username]", "chutich")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(https.url)
            page.goto(https.url + "live")
            assert page.evaluate("window.isSecureContext") is True
            expect(page.locator("#live-insecure")).to_be_hidden()
            page.click("#live-toggle")
            on_air = rec.wait_for(lambda e: e["type"] == "live_on_air", timeout=20)
            expect(page.locator("#live-state")).to_contain_text("ĐANG PHÁT", timeout=10_000)
            shot(page, "live-05-https")
            page.click("#live-toggle")
            rec.wait_for(lambda e: e["type"] == "live_end" and e["session_id"] == on_air["session_id"], timeout=20)
            wait_relays_off(daemon)
            browser.close()
    finally:
        https.stop()
