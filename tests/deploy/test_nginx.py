"""deploy/nginx/commune-central.conf in front of a real `commune-central serve` (gunicorn):
`nginx -t` accepts it, devices reach the protocol over TLS on kept-alive connections, plain
HTTP is redirected, media ranges pass through, and central believes nginx's forwarded scheme
(Secure cookie, HSTS) because the unit names 127.0.0.1 as its trusted proxy."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from central.catalog import Catalog
from central.editorial.accounts import Accounts
from central.login_throttle import LoginThrottle
from tests.support.paths import REPO

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "mật khẩu thử nghiệm 2026"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed (./dev test installs it)")
HOST = "central.example.vn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _site(tmp: Path, *, https: int, http: int, upstream: int) -> Path:
    """The repository's site file with this test's ports, certificate and upstream."""
    cert, key = _certificate(tmp)
    site = (REPO / "deploy" / "nginx" / "commune-central.conf").read_text(encoding="utf-8")
    for old, new in (("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
                     ("listen [::]:443 ssl http2;", ""), ("listen 80;", f"listen 127.0.0.1:{http};"),
                     ("listen [::]:80;", ""), ("server 127.0.0.1:8700;", f"server 127.0.0.1:{upstream};"),
                     (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert)),
                     (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key))):
        assert old in site, old
        site = site.replace(old, new)
    (tmp / "site.conf").write_text(site, encoding="utf-8")
    main = tmp / "nginx.conf"
    main.write_text(f"""pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
""", encoding="utf-8")
    return main


def test_nginx_in_front_of_gunicorn(tmp_path: Path) -> None:
    data = tmp_path / "central"
    with Catalog(data) as catalog:
        token = catalog.add_device("26881-0001", ["thon-1"])
        media = catalog.add_media(bytes(range(256)) * 400, mime="audio/mpeg")
        Accounts(catalog.store, clock=catalog.clock, throttle=LoginThrottle(catalog.clock)).add_person(
            "quantri", PASSWORD, roles=["admin"], by="test")
    upstream, https, http = _free_port(), _free_port(), _free_port()
    central = subprocess.Popen([sys.executable, "-m", "central.cli", "serve", "--server", "gunicorn", "--workers", "2",
                                "--data", str(data), "--port", str(upstream), "--trusted-proxy", "127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    conf = _site(tmp_path, https=https, http=http, upstream=upstream)
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    session = requests.Session()
    session.verify = str(tmp_path / "fullchain.pem")
    base = f"https://{HOST}:{https}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", upstream), timeout=1), \
                        socket.create_connection(("127.0.0.1", https), timeout=1):
                    break
            except OSError:
                assert central.poll() is None and nginx.poll() is None
                assert time.monotonic() < deadline, "central or nginx did not start"
                time.sleep(0.2)
        answers = []
        for _ in range(5):  # a device's requests on one session (connection kept alive by nginx)
            answers.append(_get(session, base, "/v1/devices/26881-0001/feed", https,
                                headers={"Authorization": f"Bearer {token}"}))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        ranged = _get(session, base, f"/v1/media/{media['sha256']}", https,
                      headers={"Authorization": f"Bearer {token}", "Range": "bytes=100-199"})
        assert ranged.status_code == 206 and ranged.content == (bytes(range(256)) * 400)[100:200]
        login = _post(session, base, "/login", https, data={"username": "quantri", "password": PASSWORD})
        assert login.status_code == 303 and "Secure" in login.headers["Set-Cookie"]
        assert "Strict-Transport-Security" in login.headers
        plain = requests.get(f"http://127.0.0.1:{http}/v1/info", headers={"Host": HOST}, allow_redirects=False,
                             timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://{HOST}/v1/info"
    finally:
        nginx.send_signal(signal.SIGQUIT)
        central.send_signal(signal.SIGTERM)
        nginx.wait(timeout=30)
        central.wait(timeout=60)


def _get(session: requests.Session, base: str, path: str, port: int, **kwargs: object) -> requests.Response:
    return _send(session, "GET", base, path, port, **kwargs)


def _post(session: requests.Session, base: str, path: str, port: int, **kwargs: object) -> requests.Response:
    return _send(session, "POST", base, path, port, allow_redirects=False, **kwargs)


def _send(session: requests.Session, method: str, base: str, path: str, port: int,
          **kwargs: object) -> requests.Response:
    """A request to https://central.example.vn:PORT that connects to 127.0.0.1 (TLS still checks the name)."""
    import urllib3.util.connection as connection

    original = connection.create_connection

    def to_loopback(address: tuple[str, int], *args: object, **kw: object) -> socket.socket:
        host, p = address
        return original(("127.0.0.1" if host == HOST else host, p), *args, **kw)  # type: ignore[arg-type]

    connection.create_connection = to_loopback  # type: ignore[assignment]
    try:
        return session.request(method, base + path, timeout=30, verify=session.verify, **kwargs)  # type: ignore[arg-type]
    finally:
        connection.create_connection = original  # type: ignore[assignment]
