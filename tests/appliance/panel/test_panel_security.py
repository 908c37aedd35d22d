"""Panel security: CSRF on every state-changing route, login on every page, roles, escaping,
lockout, uploads (traversal, size, type), headers, sessions and API tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.appliance.panel.test_panel_support import (
    ADMIN,
    OPERATOR,
    Rig,
    add_item,
    audit_actions,
    csrf_of,
    json_body,
    make_rig,
    wav_bytes,
)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.store.close()


# health.*: anonymous only from loopback, else 401 (tested in tests/test_health.py).
PUBLIC = {"auth.login", "auth.setup", "auth.set_language", "static", "health.healthz", "health.metrics"}
SAMPLE_ARGS = {"slot_id": "a" * 32, "raw_id": "1", "item_id": "x", "zone": "trung-tam", "sha": "a" * 64,
               "filename": "panel.css"}


def routes(app: Flask, methods: set[str]) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule accepting one of ``methods``: new routes are covered automatically."""
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & methods):
            url = rule.build({a: SAMPLE_ARGS.get(a, "x") for a in rule.arguments})[1]
            out.append((rule.endpoint, method, url))
    return out


def test_every_state_changing_route_refuses_missing_or_wrong_csrf(rig: Rig) -> None:
    client = rig.login()
    found = routes(rig.app, {"POST", "PUT", "DELETE", "PATCH"})
    assert len(found) >= 20, found  # the enumeration really sees the app's routes
    before = (rig.count("items"), rig.count("panel_users"), rig.count("slots"), rig.count("panel_settings"))
    for endpoint, method, url in found:
        for headers, data in (({}, {}), ({"X-CSRFToken": "forged"}, {"csrf_token": "forged"})):
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 400, (endpoint, method, url, response.status_code)
            text = response.get_data(as_text=True)
            assert "csrf" in text or "Biểu mẫu đã hết hạn" in text, (endpoint, text[:300])
    after = (rig.count("items"), rig.count("panel_users"), rig.count("slots"), rig.count("panel_settings"))
    assert after == before


def test_every_page_refuses_anonymous_users(rig: Rig) -> None:
    client = rig.client()
    found = [r for r in routes(rig.app, {"GET", "POST", "PUT", "DELETE"}) if r[0] not in PUBLIC]
    assert len(found) >= 30
    for endpoint, method, url in found:
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (endpoint, url, response.status_code)
            assert json_body(response)["error"]["code"] == "auth.login_required"
        elif method == "GET":
            assert response.status_code == 302, (endpoint, url, response.status_code)
            assert response.headers["Location"].startswith("/login"), (endpoint, response.headers["Location"])
        else:  # anonymous POST: refused before any handler runs (login redirect, or CSRF first)
            assert response.status_code in (302, 400), (endpoint, url, response.status_code)
    assert rig.count("panel_audit_log") == 0


def test_setup_redirects_everything_until_an_admin_exists_and_only_once(tmp_path: Path) -> None:
    fresh = make_rig(tmp_path, users=False)
    client = fresh.client()
    assert client.get("/").headers["Location"] == "/setup"
    assert client.get("/login").headers["Location"] == "/setup"
    token = csrf_of(client, "/setup")
    short = client.post("/setup", data={"csrf_token": token, "username": "admin", "password": "short",
                                        "password2": "short"})
    assert short.status_code == 400 and "ít nhất 10 ký tự" in short.get_data(as_text=True)
    assert fresh.count("panel_users") == 0
    ok = client.post("/setup", data={"csrf_token": token, "username": "Admin", "password": ADMIN[1],
                                     "password2": ADMIN[1]})
    assert ok.status_code == 302 and ok.headers["Location"] == "/login"
    again = client.post("/setup", data={"csrf_token": token, "username": "evil", "password": "x" * 12,
                                        "password2": "x" * 12})
    assert again.status_code == 302 and fresh.count("panel_users") == 1
    assert fresh.login()  # the user name was normalised to lower case
    assert audit_actions(fresh.store)[0] == "setup.admin_created"


def test_operator_cannot_manage_users_or_settings(rig: Rig) -> None:
    client = rig.login(OPERATOR)
    token = csrf_of(client, "/")
    admin_only = [r for r in routes(rig.app, {"GET", "POST"})
                  if getattr(rig.app.view_functions[r[0]], "admin_only", False)]
    assert {e for e, _, _ in admin_only} >= {"settings.index", "settings.save", "settings.users",
                                             "settings.create_user", "settings.audit", "zones.windows"}
    for endpoint, method, url in admin_only:
        response = client.open(url, method=method, data={"csrf_token": token, "username": "mallory",
                                                         "password": "p" * 12, "role": "admin"})
        assert response.status_code == 403, (endpoint, url, response.status_code)
    assert rig.count("panel_users") == 2 and rig.count("panel_settings") == 0
    # ...and the menu does not offer them.
    assert "/settings" not in client.get("/").get_data(as_text=True)
    assert client.get("/schedule").status_code == 200


def test_script_payloads_are_rendered_inert(rig: Rig) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    add_item(rig.store, "c1", title=payload, text=payload)
    client = rig.login()
    token = csrf_of(client, "/announcements")
    saved = client.post("/announcements", data={"csrf_token": token, "action": "save", "title": payload,
                                                 "text": "Thông báo " + payload, "zones": "*"})
    assert saved.status_code == 302
    for path in ("/items", "/items?source=all", "/announcements", "/schedule/new", "/emergency"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    csp = client.get("/items").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_lockout_after_repeated_failed_logins(rig: Rig) -> None:
    client = rig.client()
    token = csrf_of(client, "/login")
    for _ in range(5):
        bad = client.post("/login", data={"csrf_token": token, "username": "admin", "password": "wrong password"})
        assert bad.status_code == 401 and "Sai tên đăng nhập" in bad.get_data(as_text=True)
    locked = client.post("/login", data={"csrf_token": token, "username": "admin", "password": ADMIN[1]})
    assert locked.status_code == 429
    assert "thử lại sau" in locked.get_data(as_text=True)
    assert "sid" not in (client.get_cookie("cr_session").value if client.get_cookie("cr_session") else "")
    # Other accounts are not locked by someone guessing the admin's password.
    assert rig.login(OPERATOR)
    actions = rig.store.query("SELECT outcome, details FROM panel_audit_log WHERE action = 'auth.login'"
                              " AND actor = '-' ORDER BY id")
    assert [(r["outcome"], json.loads(r["details"])["count"]) for r in actions] == [("failed", 5), ("locked", 1)]


def test_upload_refuses_path_traversal_names(rig: Rig) -> None:
    client = rig.login()
    token = csrf_of(client, "/announcements")
    for name in ("../../etc/passwd.wav", "..\\boot.wav", "/abs/path.wav", "a/b.wav"):
        response = client.post("/announcements/upload", content_type="multipart/form-data", data={
            "csrf_token": token, "title": "Clip", "zones": "*", "clip": (__import__("io").BytesIO(wav_bytes()), name)})
        assert response.status_code == 400, name
        assert "tên tệp không hợp lệ" in response.get_data(as_text=True)
    assert rig.count("items") == 0
    media = rig.config.media_dir
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
    assert not (rig.data_dir.parent / "etc").exists()


def test_upload_refuses_non_audio_and_stores_real_audio_by_hash(rig: Rig) -> None:
    import io

    client = rig.login()
    token = csrf_of(client, "/announcements")
    for blob, name in ((b"<html>not audio</html>" * 100, "clip.mp3"), (b"\x00" * 5000, "clip.wav")):
        response = client.post("/announcements/upload", content_type="multipart/form-data", data={
            "csrf_token": token, "title": "Clip", "zones": "*", "clip": (io.BytesIO(blob), name)})
        assert response.status_code == 400
        assert "không phải tệp âm thanh" in response.get_data(as_text=True)
    assert rig.count("items") == 0
    good = client.post("/announcements/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "Nhạc hiệu", "zones": "*", "clip": (io.BytesIO(wav_bytes(1.5)), "nhạc.wav")})
    assert good.status_code == 302
    item = rig.store.query_one("SELECT * FROM items WHERE source = 'local'")
    assert item["kind"] == "audio" and item["created_by"] == "admin" and item["state"] == "ready"
    stored = rig.config.media_dir / item["media_sha256"][:2] / item["media_sha256"]
    assert stored.is_file() and stored.read_bytes() == wav_bytes(1.5)
    listen = client.get(f"/items/{item['id']}/audio")
    assert listen.status_code == 200 and listen.data[:4] == b"RIFF"


def test_oversized_upload_gets_413(tmp_path: Path) -> None:
    import io

    small = make_rig(tmp_path, panel={"max_upload_bytes": 100_000})
    client = small.login()
    token = csrf_of(client, "/announcements")
    response = client.post("/announcements/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "Big", "zones": "*", "clip": (io.BytesIO(wav_bytes(5.0)), "big.wav")})
    assert response.status_code == 413
    assert "Tệp quá lớn" in response.get_data(as_text=True)
    assert small.count("items") == 0


def test_security_headers_and_cookie_flags(rig: Rig) -> None:
    client = rig.client()
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    # same-origin: no Referer leaves the panel, and HTTPS posts carry the one CSRF's strict check needs.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = rig.client().get("/login", base_url="https://localhost")
    assert "Secure" in secure.headers.get("Set-Cookie", "")
    # No inline script or style anywhere in a page (the CSP would block them anyway).
    html = rig.login().get("/").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and " onclick=" not in html


def test_logout_ends_the_session_server_side(rig: Rig) -> None:
    client = rig.login()
    stolen = client.get_cookie("cr_session").value
    token = csrf_of(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = rig.client()
    replay.set_cookie("cr_session", stolen)
    response = replay.get("/items")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_open_redirect_after_login_is_refused(rig: Rig) -> None:
    client = rig.client()
    token = csrf_of(client, "/login")
    response = client.post("/login?next=//evil.example/x", data={"csrf_token": token, "username": ADMIN[0],
                                                                 "password": ADMIN[1]})
    assert response.headers["Location"] == "/"


# Browsers drop tab/CR/LF inside a URL and read a backslash as a slash: each of these would be //evil.
SNEAKY_TARGETS = ["/\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example", "/\\evil.example",
                  "/\t\\evil.example", "//evil.example", "https://evil.example/", "/\x00/evil.example"]


@pytest.mark.parametrize("target", SNEAKY_TARGETS)
def test_no_open_redirect_through_control_characters_or_backslashes(rig: Rig, target: str) -> None:
    from urllib.parse import quote

    client = rig.client()
    token = csrf_of(client, "/login")
    response = client.post("/login?next=" + quote(target, safe="/"),
                           data={"csrf_token": token, "username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    token = csrf_of(client, "/")
    for url in ("/language", "/stop"):
        response = client.post(url, data={"csrf_token": token, "lang": "vi", "next": target})
        assert response.status_code == 302, url
        assert response.headers["Location"] == "/", (url, response.headers["Location"])
    assert rig.client().get("/?x=" + quote(target)).headers["Location"].startswith("/login")


def test_api_tokens_authenticate_without_csrf_and_bad_tokens_are_refused(rig: Rig) -> None:
    from appliance.panel.accounts import Accounts

    accounts = Accounts(rig.store)
    operator = next(u for u in accounts.list_users() if u.username == OPERATOR[0])
    token = accounts.create_token(operator.id, "script")
    client = rig.client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/items", headers=auth).status_code == 200
    created = client.post("/api/v1/announcements", headers=auth,
                          json={"title": "Họp", "text": "Mời bà con họp lúc 7h30."})
    assert created.status_code == 201
    item = rig.store.get_item(json_body(created)["result"]["item_id"])
    assert item is not None and item["created_by"] == OPERATOR[0] and item["source"] == "local"
    bad = client.get("/api/v1/items", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and json_body(bad)["error"]["code"] == "auth.invalid_token"
    invalid = client.post("/api/v1/announcements", headers=auth, json={"title": "", "text": "x"})
    assert invalid.status_code == 400 and json_body(invalid)["error"]["vi"]
    assert "announcement.create" in audit_actions(rig.store)


@pytest.mark.parametrize("path", ["/static/../app.py", "/announcements/preview/..%2f..%2fsecret_key.wav",
                                  "/items/..%2F..%2Fetc/audio"])
def test_no_path_escapes_through_urls(rig: Rig, path: str) -> None:
    response = rig.login().get(path)
    assert response.status_code == 404


def _stored(rig: Rig, data: bytes) -> str:
    from appliance.state.mediastore import MediaStore

    return MediaStore(rig.config.media_dir).put_bytes(data)


def _audio_row(store: Any, item_id: str, sha: str, mime: str, *, state: str = "ready") -> None:
    now = "2025-06-01T00:00:00.000000Z"
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO items (id, version, kind, title, zones, state, source, media_url, media_sha256,"
            " media_bytes, media_mime, received_at, updated_at)"
            " VALUES (?, 1, 'audio', 'Bản tin', '[\"*\"]', ?, 'central', ?, ?, 10, ?, ?, ?)",
            (item_id, state, f"/v1/media/{sha}", sha, mime, now, now))


@pytest.mark.parametrize("mime", ["text/html", "text/javascript", "image/svg+xml", "application/xhtml+xml",
                                  "audio/x-evil", None])
def test_stored_media_is_never_served_with_a_non_audio_type(rig: Rig, mime: str | None) -> None:
    """Whatever an item row says (left on disk by an older version, or a hostile central), the
    panel's origin never serves stored bytes as a document or a script."""
    page = b"<html><script>fetch('/users')</script></html>"
    sha = _stored(rig, page)
    _audio_row(rig.store, "hostile", sha, mime)  # type: ignore[arg-type]
    client = rig.login()
    response = client.get("/items/hostile/audio")
    assert response.status_code in (404, 415), (response.status_code, response.content_type)
    assert page not in response.get_data()


def test_media_responses_are_inert_audio(rig: Rig) -> None:
    body = wav_bytes(0.5)
    sha = _stored(rig, body)
    _audio_row(rig.store, "ban-tin", sha, "audio/wav")
    # The same bytes under a second row that claims a script type: refused, the other still served.
    _audio_row(rig.store, "doi-lot", sha, "text/javascript", state="rejected")
    client = rig.login()
    assert client.get("/items/doi-lot/audio").status_code in (404, 415)
    response = client.get("/items/ban-tin/audio")
    assert response.status_code == 200 and response.get_data() == body
    assert response.mimetype == "audio/wav"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response.headers["Content-Security-Policy"].split(";")[0]


def _lying_wav(*, data_size: int | None = None, riff_size: int | None = None) -> bytes:
    import struct

    blob = bytearray(wav_bytes(1.0))
    at = blob.find(b"data")
    if data_size is not None:
        blob[at + 4:at + 8] = struct.pack("<I", data_size)
    if riff_size is not None:
        blob[4:8] = struct.pack("<I", riff_size)
    return bytes(blob)


def _flac_claiming_more_samples() -> bytes:
    """A real FLAC whose STREAMINFO claims ten times the samples it holds."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "a.wav", Path(tmp) / "a.flac"
        source.write_bytes(wav_bytes(1.0))
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), str(target)], check=True)
        blob = bytearray(target.read_bytes())
    info = 8  # "fLaC", then the STREAMINFO block header (4 bytes); total samples: low 36 bits at 13..17
    packed = int.from_bytes(blob[info + 10:info + 18], "big")
    samples = packed & ((1 << 36) - 1)
    packed = (packed & ~((1 << 36) - 1)) | (samples * 10)
    blob[info + 10:info + 18] = packed.to_bytes(8, "big")
    return bytes(blob)


@pytest.mark.parametrize("make", [
    lambda: _lying_wav(data_size=0xFFFFFFF0, riff_size=0xFFFFFFF8),  # "4 GB of data", 1 s held
    lambda: _lying_wav(data_size=0xFFFFFFF0),
    lambda: _lying_wav(riff_size=10_000_000),
    lambda: _lying_wav(data_size=160_000),  # ten seconds claimed
    _flac_claiming_more_samples,
], ids=["wav-4gb", "wav-data-size", "wav-riff-size", "wav-10s", "flac-streaminfo"])
def test_upload_refuses_a_container_that_disagrees_with_its_content(rig: Rig, make: Any) -> None:
    import io

    client = rig.login()
    token = csrf_of(client, "/announcements")
    response = client.post("/announcements/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "Clip", "zones": "*", "clip": (io.BytesIO(make()), "clip.wav")})
    assert response.status_code == 400, response.status_code
    text = response.get_data(as_text=True)
    assert "tiêu đề tệp không khớp nội dung" in text
    assert rig.count("items") == 0
    media = rig.config.media_dir
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
