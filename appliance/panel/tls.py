"""HTTPS for the panel: a certificate the station makes for itself, and the server that uses it.

Browsers give the microphone ("Nói trực tiếp") only to a secure page, and a phone reaches the
panel by the station's LAN address, so the panel serves HTTPS beside plain HTTP. No public
authority can sign for a LAN address: the station makes its own small certificate authority
(``ca.pem``, kept for years) and a server certificate signed by it for its host name, ``.local``
name, ``localhost`` and IP addresses (``cert.pem`` + ``key.pem``). An officer installs
``ca.pem`` once on the phone (docs/deployment.md: the panel offers it at ``/tls/ca.pem`` with its
fingerprint); ``commune-radio panel-cert`` makes a new server certificate when the station's
address changes, keeping the CA so phones need nothing new.

Waitress speaks no TLS; the HTTPS side is werkzeug's threaded server (Flask's own dependency)
with an ``ssl`` context: enough for a handful of operators on a LAN. Its answers carry no HSTS
and its session cookie is not ``Secure``: plain HTTP keeps working beside it on the same host
(a TLS proxy in front, docs/deployment.md, is the way to HTTPS only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.durable import atomic_write_bytes

CA_DAYS = 20 * 365
SERVER_DAYS = 825          # the longest validity Apple and Chrome accept for a server certificate


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key(self) -> Path:
        return self.directory / "key.pem"

    def ready(self) -> bool:
        return self.cert.is_file() and self.key.is_file()


def tls_files(data_dir: Path) -> TlsFiles:
    return TlsFiles(Path(data_dir) / "panel-tls")


def local_names() -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) this station answers to."""
    host = socket.gethostname()
    names = sorted({host, f"{host}.local", "localhost"})
    addresses = {"127.0.0.1", "::1"}
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(host, None):
            addresses.add(str(info[4][0]))
    return names, sorted(a for a in addresses if not a.startswith("fe80"))


def make_certificate(files: TlsFiles, *, names: list[str], addresses: list[str], commune: str = "") -> str:
    """Create the CA (if absent) and a new server certificate; returns the CA's SHA-256 fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    files.directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    if files.ca.is_file() and files.ca_key.is_file():
        ca_cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"commune-radio station CA {commune}".strip())])
        ca_cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + dt.timedelta(days=CA_DAYS))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=True, crl_sign=True, encipher_only=False,
                                                decipher_only=False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        atomic_write_bytes(files.ca_key, ca_key.private_bytes(pem, private, serialization.NoEncryption()), mode=0o600)
        atomic_write_bytes(files.ca, ca_cert.public_bytes(pem), mode=0o644)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[Any] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "commune-radio")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    atomic_write_bytes(files.key, key.private_bytes(pem, private, serialization.NoEncryption()), mode=0o600)
    atomic_write_bytes(files.cert, cert.public_bytes(pem) + ca_cert.public_bytes(pem), mode=0o644)
    return fingerprint(files)


def fingerprint(files: TlsFiles) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    return ":".join(f"{b:02X}" for b in ca.fingerprint(hashes.SHA256()))


@dataclass
class HttpsServer:
    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_https(app: Any, files: TlsFiles, *, host: str, port: int) -> HttpsServer:
    """Serve ``app`` over HTTPS in a thread (werkzeug's threaded server with an ssl context)."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no line per request in the journal
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.cert), str(files.key))
    def own_tls(environ: dict[str, Any], start_response: Any) -> Any:
        environ["commune_radio.own_tls"] = True     # appliance.panel.app: no HSTS, no Secure cookie
        return app(environ, start_response)

    server = make_server(host, port, own_tls, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, name="panel-https", daemon=True)
    thread.start()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return HttpsServer(f"https://{shown}:{server.server_port}/", server, thread)
