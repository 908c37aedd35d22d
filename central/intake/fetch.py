"""The only network code of intake: GET a URL of a configured host, bounded in size and time.

- Only ``http``/``https`` URLs whose host is one of the source's allowed hosts (``*.example.vn``
  allows subdomains) are fetched; credentials in URLs are refused.
- Redirects are followed by hand, at most ``max_redirects``, and only to allowed hosts.
- ``Content-Length`` over the bound is refused before reading; the body is read in chunks
  and abandoned past ``max_bytes`` (counted after decompression) or past the total deadline
  (a server trickling bytes cannot hold a poll for longer than ``total_timeout_s``).
- Conditional GET: the caller passes the validators it kept (ETag, Last-Modified); a 304
  comes back as ``Fetched(status=304, body=b"")``.

Every failure is an ``IntakeError`` with a reason (``host_not_allowed``, ``redirect_host``,
``too_large``, ``timeout``, ``unreachable``, ``http_status``, ``too_many_redirects``, ``bad_url``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from central.intake.errors import IntakeError, intake_error

USER_AGENT = "commune-central-intake/1 (+https://github.com/commune-radio)"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Limits:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_bytes: int = 5_000_000
    max_redirects: int = 3


@dataclass(frozen=True)
class Fetched:
    status: int                  # 200, or 304 (not modified: empty body)
    url: str                     # after redirects
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    requests: int                # HTTP requests made (a redirect is one more)


def host_allowed(url: str, allowed_hosts: Sequence[str]) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    for allowed in allowed_hosts:
        allowed = allowed.lower().rstrip(".")
        if allowed.startswith("*.") and (host == allowed[2:] or host.endswith(allowed[1:])):
            return True
        if host == allowed:
            return True
    return False


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


class Fetcher:
    """GETs for one poller (one connection pool). Thread-compatible, not thread-safe."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy or netrc from the environment: only what is configured
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, *, allowed_hosts: Sequence[str], limits: Limits = Limits(),
            etag: str | None = None, last_modified: str | None = None,
            accept: str = "*/*") -> Fetched:
        deadline = time.monotonic() + limits.total_timeout_s
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if not host_allowed(url, allowed_hosts):
            raise intake_error("host_not_allowed", f"Máy chủ của địa chỉ {_short(url)} không nằm trong danh sách được phép.",
                               f"The host of {_short(url)} is not one of the source's allowed hosts.")
        count = 0
        current = url
        while True:
            count += 1
            response = self._send(current, headers, limits, deadline)
            try:
                if response.status_code in _REDIRECTS and response.headers.get("Location"):
                    target = urljoin(current, response.headers["Location"])
                    if count > limits.max_redirects:
                        raise intake_error("too_many_redirects", f"Quá nhiều lần chuyển hướng từ {_short(url)}.",
                                           f"Too many redirects from {_short(url)}.")
                    if not host_allowed(target, allowed_hosts):
                        raise intake_error(
                            "redirect_host", f"{_short(current)} chuyển hướng sang máy chủ không được phép: {_short(target)}.",
                            f"{_short(current)} redirects to a host that is not allowed: {_short(target)}.")
                    current = target
                    continue
                if response.status_code == 304:
                    return Fetched(304, current, b"", response.headers.get("Content-Type"),
                                   response.headers.get("ETag") or etag,
                                   response.headers.get("Last-Modified") or last_modified, count)
                if response.status_code != 200:
                    raise intake_error("http_status", f"{_short(current)} trả lời HTTP {response.status_code}.",
                                       f"{_short(current)} answered HTTP {response.status_code}.")
                body = self._read(response, current, limits, deadline)
                return Fetched(200, current, body, response.headers.get("Content-Type"),
                               response.headers.get("ETag"), response.headers.get("Last-Modified"), count)
            finally:
                response.close()

    def _send(self, url: str, headers: dict[str, str], limits: Limits, deadline: float) -> requests.Response:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timeout(url, limits)
        try:
            return self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(min(limits.connect_timeout_s, left), min(limits.read_timeout_s, left)))
        except requests.Timeout:
            raise self._timeout(url, limits) from None
        except (requests.RequestException, Urllib3Error, ValueError) as exc:
            raise intake_error("unreachable", f"Không kết nối được {_short(url)} ({type(exc).__name__}).",
                               f"Could not reach {_short(url)} ({type(exc).__name__}).") from None

    @staticmethod
    def _timeout(url: str, limits: Limits) -> IntakeError:
        return intake_error("timeout", f"{_short(url)} trả lời quá chậm (giới hạn {limits.total_timeout_s:g} giây).",
                            f"{_short(url)} answered too slowly (limit {limits.total_timeout_s:g} s).")

    def _read(self, response: requests.Response, url: str, limits: Limits, deadline: float) -> bytes:
        too_large = intake_error(
            "too_large", f"{_short(url)} lớn quá giới hạn {limits.max_bytes:,} byte.".replace(",", "."),
            f"{_short(url)} is larger than the limit of {limits.max_bytes:,} bytes.")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limits.max_bytes:  # compressed or not, it is more
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(65536, decode_content=True):  # what has arrived, at once
                size += len(chunk)
                if size > limits.max_bytes:
                    raise too_large
                if time.monotonic() > deadline:
                    raise self._timeout(url, limits)
                chunks.append(chunk)
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            if "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower():
                raise self._timeout(url, limits) from None
            raise intake_error("unreachable", f"Đọc {_short(url)} bị ngắt ({type(exc).__name__}).",
                               f"Reading {_short(url)} was cut off ({type(exc).__name__}).") from None
        return b"".join(chunks)
