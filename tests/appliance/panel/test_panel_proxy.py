"""The panel behind a TLS reverse proxy (waitress on loopback, real HTTP): only a configured
proxy is believed about the scheme and the client's address; then cookies are Secure and HSTS
is sent. Headers from anyone else are dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from appliance.panel.serve import serve_in_thread
from appliance.state import config as config_module
from protocol.errors import ConfigError
from tests.appliance.panel.test_panel_support import panel_config

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.168.1.50"}


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    running = []

    def run(**panel: Any) -> str:
        server = serve_in_thread(panel_config(tmp_path / f"d{len(running)}", panel=panel))
        running.append(server)
        return server.url.rstrip("/")

    yield run
    for server in running:
        server.stop()


def test_a_trusted_proxy_makes_cookies_secure_and_sends_hsts(start: Any) -> None:
    url = start(trusted_proxies=["127.0.0.1"])
    answer = requests.get(url + "/setup", headers=FORWARDED, timeout=30)
    assert answer.status_code == 200
    assert "Secure" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    # Plain HTTP through the same proxy: no Secure cookie (the browser would drop it), no HSTS.
    plain = requests.get(url + "/setup", headers={"X-Forwarded-Proto": "http"}, timeout=30)
    assert "Secure" not in plain.headers["Set-Cookie"] and "Strict-Transport-Security" not in plain.headers


def test_proxy_headers_from_an_untrusted_peer_are_ignored(start: Any) -> None:
    for url in (start(), start(trusted_proxies=["10.9.8.7", "192.168.77.0/24"])):
        answer = requests.get(url + "/setup", headers=FORWARDED, timeout=30)
        assert "Secure" not in answer.headers["Set-Cookie"]
        assert "Strict-Transport-Security" not in answer.headers


def test_the_client_address_behind_a_trusted_proxy_is_the_forwarded_one(start: Any) -> None:
    """/healthz answers anonymous requests only from the Pi itself: through a proxy on the Pi,
    a LAN client's request must not pass for a local one."""
    url = start(trusted_proxies=["127.0.0.1"])
    assert requests.get(url + "/healthz", timeout=30).status_code in (200, 503)
    assert requests.get(url + "/healthz", headers=FORWARDED, timeout=30).status_code == 401


@pytest.mark.parametrize("value", [["not-an-address"], ["10.0.0.0/33"], "127.0.0.1", [""]])
def test_trusted_proxies_are_validated_like_the_other_keys(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        config_module.from_mapping({"panel": {"trusted_proxies": value}}, "a.toml", env={})
    assert "panel.trusted_proxies" in info.value.en and "panel.trusted_proxies" in info.value.vi


def test_forms_work_over_https_through_the_proxy(start: Any) -> None:
    """CSRF's strict HTTPS referrer check sees the browser's origin, not the proxy's plain HTTP."""
    import re

    url = start(trusted_proxies=["127.0.0.1"])
    headers = FORWARDED | {"Host": "loa.xa.vn", "X-Forwarded-Host": "loa.xa.vn"}
    page = requests.get(url + "/setup", headers=headers, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    # The browser holds the Secure cookie for https://loa.xa.vn; this test speaks to the panel
    # behind the proxy in plain HTTP, so it carries the cookie itself.
    cookie = page.headers["Set-Cookie"].split(";")[0]
    done = requests.post(url + "/setup", timeout=30,
                         headers=headers | {"Referer": "https://loa.xa.vn/setup", "Cookie": cookie},
                        allow_redirects=False, data={"csrf_token": token, "username": "admin",
                                                     "password": "mật khẩu rất dài 1", "password2": "mật khẩu rất dài 1"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
