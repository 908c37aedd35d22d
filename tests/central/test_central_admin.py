"""The reference central's admin side: catalogue validation, key storage, CLI, `serve`."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

import protocol
from central.catalog import Catalog
from central.cli import main
from central.config import CentralConfig
from central.keys import KEY_FILE
from protocol.errors import StorageError, ValidationError

SHA = "ab" * 32


@pytest.fixture
def catalog(central_config: CentralConfig) -> Catalog:
    with Catalog(central_config.data_dir, config=central_config) as opened:
        yield opened


def snapshot(catalog: Catalog) -> tuple[Any, ...]:
    return tuple(catalog.list_items()), tuple(catalog.list_devices())


def test_key_is_private_and_stable(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c") as first:
        public, epoch = first.public_key_b64, first.epoch
    key_file = tmp_path / "c" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    with Catalog(tmp_path / "c") as again:
        assert again.public_key_b64 == public and again.epoch == epoch
    key_file.chmod(0o644)
    with pytest.raises(StorageError) as info:
        Catalog(tmp_path / "c")
    assert "0600" in info.value.en


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda c: c.add_device("../../etc/passwd", ["thon-1"]), "device id"),
    (lambda c: c.add_device("12345-0001", []), "zones"),
    (lambda c: c.add_device("12345-0001", ["*"]), "zones"),
    (lambda c: c.add_device("12345-0001", "thon-1"), "list"),
    (lambda c: c.add_device("12345-0001", ["Thôn 1"]), "zones"),
    (lambda c: c.add_item(kind="video", title="x", text="y"), "kind"),
    (lambda c: c.add_item(kind="text", title="x" * 201, text="y"), "title"),
    (lambda c: c.add_item(kind="text", title="x", text=""), "text"),
    (lambda c: c.add_item(kind="text", title="x", text="y", item_id="../../etc/passwd"), "id"),
    (lambda c: c.add_item(kind="text", title="x", text="y", priority="urgent"), "priority"),
    (lambda c: c.add_item(kind="text", title="x", text="y", zones=["*", "thon-1"]), "zones"),
    (lambda c: c.add_item(kind="text", title="x", text="y", devices=["abc"]), "device id"),
    (lambda c: c.add_item(kind="text", title="x", text="y", valid_until="2001-01-01T00:00:00Z"), "valid_until"),
    (lambda c: c.add_item(kind="text", title="x", text="y",
                          schedule={"type": "rrule", "dtstart": "2025-06-01T06:30:00", "tzid": "Asia/Ho_Chi_Minh",
                                    "rrule": "FREQ=SECONDLY", "exdates": [], "duration_s": 60}), "rrule"),
    (lambda c: c.add_item(kind="audio", title="x",
                          media={"url": f"/v1/media/{SHA}", "sha256": SHA, "bytes": 5, "mime": "audio/wav"}),
     "uploaded"),
    (lambda c: c.add_item(kind="stream", title="x", media={"url": "file:///etc/passwd", "mime": "audio/mpeg"}),
     "media.url"),
    (lambda c: c.add_media(b"", mime="audio/wav"), "empty"),
    (lambda c: c.add_media(b"<html>", mime="text/html"), "audio"),
    (lambda c: c.add_media(b"<html>", mime="audio/x-html"), "audio"),
    # The media object of an item must be the uploaded one: its type, size and path.
    (lambda c: c.add_item(kind="audio", title="x", media={**c.add_media(b"RIFF....", mime="audio/wav"),
                                                           "mime": "text/html"}), "type"),
    (lambda c: c.add_item(kind="audio", title="x", media={**c.add_media(b"RIFF....", mime="audio/wav"),
                                                           "mime": "text/javascript"}), "type"),
    (lambda c: c.add_item(kind="audio", title="x", media={**c.add_media(b"RIFF....", mime="audio/wav"),
                                                           "mime": "audio/mpeg"}), "uploaded"),
    (lambda c: c.add_item(kind="audio", title="x", media={**c.add_media(b"RIFF....", mime="audio/wav"),
                                                           "bytes": 50_000_000}), "uploaded"),
    (lambda c: c.add_item(kind="audio", title="x", media={**c.add_media(b"RIFF....", mime="audio/wav"),
                                                           "url": "/v1/media/elsewhere"}), "uploaded"),
    (lambda c: c.add_item(kind="stream", title="x", media={"url": "http://radio.example/vov1",
                                                            "mime": "text/html"}), "type"),
    (lambda c: c.add_media(Path("/nonexistent/file.mp3")), "No such file"),
    (lambda c: c.approve_item("nope", by="A"), "No item"),
    (lambda c: c.revoke_item("nope"), "No item"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_malformed_admin_input_is_refused_and_changes_nothing(catalog: Catalog, call: Any, fragment: str) -> None:
    catalog.add_device("12345-0009", ["thon-9"])
    before = snapshot(catalog)
    # (Cases that upload a file first leave that file behind: media is not an item.)
    with pytest.raises(ValidationError) as info:
        call(catalog)
    assert fragment in info.value.en
    assert info.value.vi and info.value.vi != info.value.en
    assert snapshot(catalog) == before


def test_item_edits_are_validated(catalog: Catalog) -> None:
    item_id = catalog.add_item(kind="text", title="Tin", text="Nội dung")
    before = snapshot(catalog)
    media = catalog.add_media(b"RIFF....", mime="audio/wav")
    for changes in ({"title": ""}, {"colour": "red"}, {"schedule": {"type": "once", "starts": [], "duration_s": 5}},
                    {"kind": "audio", "media": {**media, "mime": "text/html"}},
                    {"kind": "audio", "media": {**media, "bytes": media["bytes"] + 1}}):
        with pytest.raises(ValidationError):
            catalog.update_item(item_id, **changes)
    for by in ("", "   ", "a\nb", "x" * 101):
        with pytest.raises(ValidationError):
            catalog.approve_item(item_id, by=by)
    assert snapshot(catalog) == before
    with pytest.raises(ValidationError, match="tồn tại"):
        catalog.add_item(kind="text", title="Tin", text="x", item_id=item_id)
    catalog.add_device("12345-0001", ["thon-1"])
    with pytest.raises(ValidationError):
        catalog.add_device("12345-0001", ["thon-1"])


def test_tokens_are_hashed_and_rotatable(catalog: Catalog) -> None:
    token = catalog.add_device("12345-0001", ["thon-1"])
    assert catalog.authenticate(token).id == "12345-0001"
    with catalog.store.read() as tx:
        stored = [str(value) for row in tx.conn.exec_driver_sql("SELECT * FROM devices") for value in row]
    assert stored and not any(token in value for value in stored)
    if not catalog.store.is_postgresql:
        assert token.encode() not in (catalog.data_dir / "central.db").read_bytes()
    new = catalog.rotate_token("12345-0001")
    assert catalog.authenticate(token) is None and catalog.authenticate(new).zones == ("thon-1",)
    assert catalog.authenticate("") is None and catalog.authenticate(None) is None


# ---------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def database_env(central_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``commune-central`` finds the test's database through its environment variable."""
    monkeypatch.setenv("COMMUNE_CENTRAL_DATABASE_URL", central_database_url)
    return central_database_url


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str], database_env: str) -> None:
    data = str(tmp_path / "c")
    code, out, _ = run(capsys, "init", "--data", data)
    public = out.split("public_key: ")[1].strip()
    assert code == 0 and protocol.public_key_from_b64(public)
    assert run(capsys, "public-key", "--data", data)[1].strip() == public
    code, out, _ = run(capsys, "device", "add", "26881-0001", "--zones", "thon-1", "thon-2", "--data", data)
    token = out.split(": ")[-1].strip()
    assert code == 0 and len(token) > 30
    audio = tmp_path / "tin.wav"
    audio.write_bytes(b"RIFF" + bytes(2000))
    code, out, _ = run(capsys, "item", "add", "--data", data, "--kind", "audio", "--title", "Tin âm thanh",
                       "--file", str(audio), "--at", "2025-06-01 06:30", "--at", "2025-06-01 17:00",
                       "--duration", "120", "--zones", "thon-1", "--valid-from", "2025-05-31T00:00:00Z",
                       "--valid-until", "2025-06-02 00:00")
    audio_id = out.strip()
    assert code == 0 and audio_id.startswith("it-")
    code, out, _ = run(capsys, "item", "add", "--data", data, "--kind", "text", "--title", "Lịch tiêm",
                       "--text", "Mời bà con", "--rrule", "FREQ=WEEKLY;BYDAY=MO", "--dtstart", "2025-06-02 07:00",
                       "--exdate", "2025-06-09 07:00", "--priority", "priority", "--id", "lich-tiem",
                       "--approve", "Ông A")
    assert code == 0 and out.strip() == "lich-tiem"
    code, out, _ = run(capsys, "item", "list", "--data", data)
    assert f"{audio_id}\tdraft\tv0" in out and "lich-tiem\tapproved\tv1" in out
    assert run(capsys, "item", "approve", audio_id, "--by", "Bà B", "--data", data)[0] == 0
    assert run(capsys, "item", "revoke", "lich-tiem", "--data", data)[1].strip() == "lich-tiem revoked (version 2)"

    with Catalog(Path(data), config=CentralConfig(data_dir=Path(data), database_url=database_env)) as catalog:
        key = protocol.public_key_from_b64(public)
        audio_item = protocol.validate_item(catalog.get_published(audio_id), key, device_id="26881-0001")
        # Local times in Asia/Ho_Chi_Minh (UTC+7) become UTC.
        assert audio_item.schedule == {"type": "once", "starts": ["2025-05-31T23:30:00Z", "2025-06-01T10:00:00Z"],
                                       "duration_s": 120}
        assert audio_item.valid_until == "2025-06-01T17:00:00Z" and audio_item.media.mime == "audio/x-wav"
        text_item = protocol.validate_item(catalog.get_published("lich-tiem"), key)
        assert text_item.revoked and text_item.priority == "priority"
        assert text_item.schedule["dtstart"] == "2025-06-02T07:00:00"
        assert text_item.schedule["exdates"] == ["2025-06-09T07:00:00"]
        assert catalog.authenticate(token).zones == ("thon-1", "thon-2")


@pytest.mark.parametrize("argv", [
    ["device", "add", "bad id", "--zones", "thon-1"],
    ["item", "add", "--kind", "text", "--title", "x", "--text", "y", "--at", "tomorrow"],
    ["item", "add", "--kind", "text", "--title", "x", "--text", "y", "--rrule", "FREQ=DAILY"],
    ["item", "add", "--kind", "text", "--title", "x", "--text", "y", "--at", "2025-06-01 06:00", "--rrule", "FREQ=DAILY"],
    ["item", "add", "--kind", "audio", "--title", "x"],
    ["item", "add", "--kind", "stream", "--title", "x"],
    ["item", "add", "--kind", "text", "--title", "x", "--text", "y", "--at", "2025-06-01 06:00", "--tz", "Nowhere/X"],
    ["item", "approve", "missing", "--by", "A"],
])
def test_cli_bad_input_exits_2_with_both_languages(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str], database_env: str) -> None:
    code, _, err = run(capsys, *argv, "--data", str(tmp_path / "c"))
    assert code == 2
    assert err.startswith("Lỗi: ") and "\nError: " in err
    with Catalog(tmp_path / "c", config=CentralConfig(data_dir=tmp_path / "c", database_url=database_env)) as catalog:
        assert catalog.list_items() == [] and catalog.list_devices() == []


@pytest.mark.parametrize("extra", [
    ["--kind", "audio", "--mime", "text/html"],
    ["--kind", "audio", "--mime", "text/javascript"],
    ["--kind", "audio", "--mime", "audio/x-anything"],
    ["--kind", "stream", "--url", "http://radio.example/vov1", "--mime", "text/html"],
])
def test_cli_refuses_media_types_a_device_would_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       extra: list[str]) -> None:
    page = tmp_path / "page.wav"
    page.write_bytes(b"<script>alert(1)</script>")
    argv = ["item", "add", "--title", "x", *extra]
    if "audio" in extra:
        argv += ["--file", str(page)]
    code, _, err = run(capsys, *argv, "--data", str(tmp_path / "c"))
    assert code == 2 and "type" in err
    with Catalog(tmp_path / "c") as catalog:
        assert catalog.list_items() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serve_answers_over_http(tmp_path: Path, database_env: str) -> None:
    data = tmp_path / "c"
    with Catalog(data, config=CentralConfig(data_dir=data, database_url=database_env)) as catalog:
        token = catalog.add_device("26881-0001", ["thon-1"])
        catalog.approve_item(catalog.add_item(kind="text", title="Tin", text="Nội dung"), by="A")
        public = catalog.public_key
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "central.cli", "serve", "--data", str(data), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "COMMUNE_CENTRAL_DATABASE_URL": database_env})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/v1/devices/26881-0001/feed",
                                        headers={"Authorization": f"Bearer {token}"}, timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "commune-central serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        (doc,) = response.json()["items"]
        assert protocol.validate_item(doc, public, device_id="26881-0001").title == "Tin"
        assert "X-Server-Time" in response.headers
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_OPEN_CATALOG_AT = """
import sys, time
from pathlib import Path
from central.catalog import Catalog
start = float(sys.argv[2])
while time.time() < start:
    pass
with Catalog(Path(sys.argv[1])) as catalog:
    print(catalog.epoch, catalog.public_key_b64)
"""


def test_processes_opening_a_fresh_data_dir_at_once_all_migrate_it_once(tmp_path: Path) -> None:
    """`commune-central serve` starting while an operator runs `commune-central item add`: one
    schema, one epoch, and one signing key (a second key would sign items no device trusts)."""
    from tests.support.paths import REPO

    for attempt in range(3):
        data = tmp_path / f"c{attempt}"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_CATALOG_AT, str(data), str(start)], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [proc.communicate(timeout=120) for proc in procs]
        for proc, (_, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err[-2000:]
        assert len({out.strip() for out, _ in results}) == 1  # one epoch and one key for everyone
        with Catalog(data) as catalog:
            assert results[0][0].split()[1] == catalog.public_key_b64


def _serve(data: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "central.cli", "serve", "--data", str(data), "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/v1/info", timeout=5)
            return proc, url
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "commune-central serve did not start"
            time.sleep(0.2)


@pytest.mark.parametrize(("extra", "secure"), [(["--trusted-proxy", "127.0.0.1"], True),
                                               (["--trusted-proxy", "10.0.0.0/8"], False), ([], False)],
                         ids=["trusted", "other-proxy", "none"])
def test_serve_behind_a_trusted_tls_proxy_sets_secure_cookies_and_hsts(tmp_path: Path, extra: list[str],
                                                                       secure: bool) -> None:
    from central.editorial.accounts import Accounts
    from central.login_throttle import LoginThrottle

    data = tmp_path / "c"
    with Catalog(data) as catalog:
        Accounts(catalog.store, clock=catalog.clock, throttle=LoginThrottle(catalog.clock)).add_person(
            "quantri", "mật khẩu quản trị 2026", roles=["admin"], by="test")
    proc, url = _serve(data, *extra)
    try:
        answer = requests.post(url + "/login", data={"username": "quantri", "password": "mật khẩu quản trị 2026"},
                               allow_redirects=False, timeout=10,
                               headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert answer.status_code == 303
        assert ("Secure" in answer.headers["Set-Cookie"]) is secure
        assert ("Strict-Transport-Security" in answer.headers) is secure
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_a_bad_trusted_proxy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve", "--data", str(tmp_path / "c"), "--trusted-proxy", "nonsense")
    assert code == 2 and "nonsense" in err
