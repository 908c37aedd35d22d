"""HTTP client for central: the only code on the appliance that talks to the network.

It assumes central and the path in between may misbehave: every request has connect and
read timeouts; transient failures (connection errors, timeouts, truncated bodies, 429, 5xx)
are retried with exponential backoff and full jitter, honouring ``Retry-After``; redirects
are followed by hand and only within central's origin; JSON bodies are size-bounded and
media bodies may never be longer than the signed size. Every failure becomes a
``CentralError`` with a Vietnamese and an English reason. Every response's ``X-Server-Time``
is recorded for the clock-trust code (``last_server_time``, ``server_offset_s``).

Why one module of this length: JSON requests and media downloads share one set of rules
(timeouts, retries, origin, size bounds, server time); keeping them together keeps every
network path of the station under those same rules.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from appliance.errors import disk_error
from appliance.version import __version__
from protocol.errors import CentralError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_REDIRECTS = 3
# Enough for a 1,000-item page of bulletins; anything bigger is central misbehaving.
DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

ProgressCallback = Callable[[int, int], None]  # (bytes on disk, total bytes)


@dataclass(frozen=True)
class FeedPage:
    """One answer of the feed endpoint: ``not_modified`` (304) or the decoded JSON ``data``."""

    not_modified: bool
    data: dict[str, Any] | None
    etag: str | None


@dataclass(frozen=True)
class DownloadStats:
    bytes_fetched: int      # body bytes received over the network in this call
    resumed_from: int       # bytes already on disk when the call started
    requests: int


class _Transient(Exception):
    """A failure worth retrying (carries the bilingual error to raise once retries run out)."""

    def __init__(self, error: CentralError, retry_after: float | None = None) -> None:
        super().__init__(error.en)
        self.error = error
        self.retry_after = retry_after


JSON_DEADLINE_MIN_S = 60.0  # whole-answer limit for JSON (feeds, acks), whatever the read timeout


def _error(code: str, vi: str, en: str) -> CentralError:
    return CentralError(vi, en, code=code)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def parse_server_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


class CentralClient:
    """A small, careful client of central's protocol v1 over one ``requests.Session``."""

    def __init__(self, base_url: str, token: str, *, connect_timeout_s: float = 10.0,
                 read_timeout_s: float = 30.0, max_retries: int = 4, backoff_base_s: float = 1.0,
                 backoff_max_s: float = 60.0, max_retry_after_s: float = 300.0,
                 max_json_bytes: int = DEFAULT_MAX_JSON_BYTES, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _error("central_config", f"Địa chỉ trung tâm không hợp lệ: {base_url!r}.",
                         f"Invalid central URL: {base_url!r}.")
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = _origin_of(parts.scheme, parts.hostname, parts.port)
        self.token = token
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self.max_json_bytes = max_json_bytes
        self._sleep = sleep
        self.session = session or requests.Session()
        # No proxies or ~/.netrc from the environment: netrc would replace our bearer token.
        self.session.trust_env = False
        self.session.headers.update({"User-Agent": f"commune-radio/{__version__}"})
        self.requests_made = 0
        self.last_server_time: datetime | None = None
        self.server_offset_s: float | None = None
        self.last_server_time_at: float | None = None  # time.monotonic() when it was received
        # Set by the daemon to feed every server time to the clock-trust code.
        self.on_server_time: Callable[[datetime], None] | None = None

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> CentralClient:
        kwargs: dict[str, Any] = {
            "connect_timeout_s": config.central.connect_timeout_s,
            "read_timeout_s": config.central.read_timeout_s,
            "max_retries": config.central.max_retries,
        }
        kwargs.update(overrides)
        return cls(config.central.url, config.central.token, **kwargs)

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ URLs

    def resolve(self, url: str) -> str:
        """An absolute URL for ``url`` (a path on central or a full URL), only on central's origin."""
        if not isinstance(url, str) or not url or len(url) > 2048 or any(c in url for c in "\r\n\0\\"):
            raise _error("central_bad_url", f"Địa chỉ không hợp lệ: {str(url)[:80]!r}.",
                         f"Invalid URL: {str(url)[:80]!r}.")
        absolute = urljoin(self.base_url, url)
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https"):
            raise _error("central_foreign_url",
                         f"Từ chối địa chỉ {absolute[:80]!r}: chỉ cho phép http(s) tới máy chủ trung tâm.",
                         f"Refused URL {absolute[:80]!r}: only http(s) on the central server is allowed.")
        try:
            origin = _origin_of(parts.scheme, parts.hostname or "", parts.port)
        except ValueError:
            origin = ("", "", 0)
        if origin != self._origin or parts.username or parts.password:
            raise _error("central_foreign_url",
                         f"Từ chối địa chỉ {absolute[:80]!r}: không thuộc máy chủ trung tâm.",
                         f"Refused URL {absolute[:80]!r}: it is not on the central server's origin.")
        return absolute

    # ------------------------------------------------------------------ API

    def get_feed(self, device_id: str, cursor: str | None, etag: str | None,
                 limit: int | None = None, include: str | None = None) -> FeedPage:
        """``GET /v1/devices/{id}/feed``: one page (of at most ``limit`` items), or ``not_modified``
        when the ETag still holds. ``include`` asks for more beside the items (``speech,voice_packs``)."""
        path = f"v1/devices/{quote(device_id, safe='')}/feed"
        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        params = (({"cursor": cursor} if cursor else {}) | ({"limit": str(limit)} if limit else {})
                  | ({"include": include} if include else {}))
        params = params or None

        def attempt() -> FeedPage:
            response = self._send("GET", self.resolve(path), headers=headers, params=params)
            with response:
                if response.status_code == 304:
                    return FeedPage(True, None, etag)
                self._expect(response, (200,))
                data = self._read_json(response)
                return FeedPage(False, data, response.headers.get("ETag"))

        return self._with_retries(attempt)

    def get_json(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        def attempt() -> Any:
            response = self._send("GET", self.resolve(path), headers={"Accept": "application/json"},
                                  params=params)
            with response:
                self._expect(response, (200,))
                return self._read_json(response)
        return self._with_retries(attempt)

    def post_json(self, path: str, body: Any, *, expect: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
        """POST a JSON body; the decoded answer (None for an empty one). Retried: make it idempotent."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

        def attempt() -> Any:
            response = self._send("POST", self.resolve(path), data=payload,
                                  headers={"Accept": "application/json", "Content-Type": "application/json"})
            with response:
                self._expect(response, expect)
                if response.status_code == 204 or response.headers.get("Content-Length") == "0":
                    return None
                return self._read_json(response)
        return self._with_retries(attempt)

    def download(self, url: str, dest: Path, expected_bytes: int, *,
                 progress: ProgressCallback | None = None) -> DownloadStats:
        """Fetch ``url`` into ``dest`` until it holds ``expected_bytes``, resuming with Range.

        Bytes already in ``dest`` are kept (a previous run was interrupted); a connection cut
        keeps what arrived and resumes. Attempts that make progress do not use up retries.
        Verifying the content is the caller's job (the media store's commit).
        """
        target = self.resolve(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        resumed_from = _size(dest)
        if resumed_from > expected_bytes:
            dest.unlink()
            resumed_from = 0
        fetched = [0]  # body bytes received, kept across failed rounds
        requests_made = 0
        failures = 0
        rounds = 0
        while True:
            have = _size(dest)
            if have == expected_bytes:
                if progress:
                    progress(have, expected_bytes)
                return DownloadStats(fetched[0], resumed_from, requests_made)
            rounds += 1
            if rounds > 1000:
                raise _error("central_download_stalled", "Tải tệp không tiến triển, sẽ thử lại sau.",
                             "The download makes no progress; will try again later.")
            before = have
            try:
                requests_made += 1
                self._download_round(target, dest, have, expected_bytes, progress, fetched)
            except _Transient as exc:
                if _size(dest) > before:
                    continue  # the link dropped after making progress: resume at once
                failures += 1
                if failures > self.max_retries:
                    raise exc.error from None
                self._pause(failures, exc)
            else:
                if _size(dest) < expected_bytes:
                    # The body ended early without an error (no Content-Length): resume.
                    failures = 0 if _size(dest) > before else failures + 1
                    if failures > self.max_retries:
                        raise _error("central_truncated", "Máy chủ trả về tệp bị thiếu, sẽ thử lại sau.",
                                     "Central returned a truncated file; will try again later.")

    def _download_round(self, target: str, dest: Path, have: int, expected: int,
                        progress: ProgressCallback | None, fetched: list[int]) -> None:
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        response = self._send("GET", target, headers=headers)
        with response:
            if response.status_code == 416 and have:
                dest.unlink()  # our partial is not a prefix of this file: start again
                raise _Transient(_error("central_range", "Máy chủ từ chối tải tiếp, tải lại từ đầu.",
                                        "Central refused to resume; restarting the download."), 0.0)
            self._expect(response, (200, 206))
            mode = "ab"
            if response.status_code == 206:
                match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != have:
                    dest.unlink()
                    raise _Transient(_error("central_range", "Máy chủ trả về đoạn tệp sai, tải lại từ đầu.",
                                            "Central answered the wrong byte range; restarting."), 0.0)
                total = match.group(3)
                if total != "*" and int(total) != expected:
                    self._wrong_size(dest, int(total), expected)
            else:
                mode, have = "wb", 0  # the server ignored Range: the body is the whole file
            remaining = expected - have
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) != remaining and (
                    int(length) > remaining or response.status_code == 200):
                # A whole-file answer of another length is another file than the one signed.
                self._wrong_size(dest, have + int(length), expected)
            encoding = response.headers.get("Content-Encoding", "identity").lower()
            if encoding not in ("", "identity"):
                raise _error("central_bad_encoding",
                             f"Máy chủ gửi tệp đã nén ({encoding[:20]}) dù thiết bị không yêu cầu.",
                             f"Central sent the media with content encoding {encoding[:20]!r} we did not ask for.")
            received = 0
            # The network and the card fail apart: a full card is a StorageError (CardFull),
            # never reported as central being unreachable.
            try:
                handle = open(dest, mode)  # noqa: SIM115 - closed below, where a full card shows too
            except OSError as exc:
                raise disk_error(exc, "media") from None
            try:
                chunks = _raw_chunks(response)
                while True:
                    try:
                        chunk = next(chunks, b"")
                    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                        raise _Transient(_network_error(exc, "tải tệp", "downloading media")) from None
                    if not chunk:
                        break
                    if received + len(chunk) > remaining:
                        handle.close()
                        self._wrong_size(dest, None, expected)
                    try:
                        handle.write(chunk)
                    except OSError as exc:
                        raise disk_error(exc, "media") from None
                    received += len(chunk)
                    fetched[0] += len(chunk)
                    if progress:
                        progress(have + received, expected)
            finally:
                try:
                    handle.close()
                except OSError as exc:
                    raise disk_error(exc, "media") from None

    @staticmethod
    def _wrong_size(dest: Path, announced: int | None, expected: int) -> NoReturn:
        """The file central serves is not the size it signed: discard what arrived. Permanent for
        this item version (the caller rejects it rather than fetching it again)."""
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        if announced is not None and announced < expected:
            raise _error("central_size_mismatch",
                         f"Máy chủ gửi tệp ngắn hơn kích thước đã ký ({announced} < {expected} byte); "
                         "bỏ phần đã tải.",
                         f"Central serves a file shorter than the signed size ({announced} < {expected} bytes); "
                         "discarded it.")
        got = f"{announced} byte" if announced is not None else "nhiều hơn"
        got_en = f"{announced} bytes" if announced is not None else "more"
        raise _error("central_body_too_long",
                     f"Máy chủ gửi tệp dài hơn kích thước đã ký ({got} > {expected} byte); bỏ phần đã tải.",
                     f"Central sent a body longer than the signed size ({got_en} > {expected} bytes); "
                     "discarded it.")

    # ------------------------------------------------------------------ plumbing

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        for number in range(self.max_retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if number == self.max_retries:
                    # Callers that schedule their own retries (the reporter) honour this.
                    exc.error.retry_after = exc.retry_after  # type: ignore[attr-defined]
                    raise exc.error from None
                self._pause(number + 1, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, failures: int, exc: _Transient) -> None:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** max(0, failures - 1)))
        delay = random.uniform(0, ceiling)  # full jitter: devices that failed together spread out
        if exc.retry_after is not None:
            if exc.retry_after > self.max_retry_after_s:
                error = exc.error
                error.retry_after = exc.retry_after  # type: ignore[attr-defined]
                raise error from None
            delay = max(delay, exc.retry_after)
        self._sleep(delay)

    def _send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
              params: dict[str, str] | None = None, data: bytes | None = None) -> requests.Response:
        """One request (following same-origin redirects); transient failures raise _Transient."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for _ in range(MAX_REDIRECTS + 1):
            started = time.time()
            try:
                self.requests_made += 1
                response = self.session.request(method, url, headers=headers, params=params, data=data,
                                                timeout=self.timeout, allow_redirects=False, stream=True)
            except requests.RequestException as exc:
                raise _Transient(_network_error(exc, "kết nối", "connecting to central")) from None
            self._note_server_time(response, started)
            if response.is_redirect or response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location", "")
                response.close()
                url = self.resolve(urljoin(url, location))
                params = None  # the Location carries its own query
                continue
            if response.status_code in RETRYABLE_STATUS:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                status = response.status_code
                response.close()
                raise _Transient(_error(
                    "central_unavailable" if status != 429 else "central_busy",
                    f"Máy chủ trung tâm tạm thời lỗi (HTTP {status}); sẽ thử lại sau.",
                    f"Central is temporarily failing (HTTP {status}); will try again later."), wait)
            return response
        raise _error("central_redirect_loop", "Máy chủ chuyển hướng quá nhiều lần.",
                     "Central redirected too many times.")

    def _expect(self, response: requests.Response, ok: tuple[int, ...]) -> None:
        status = response.status_code
        if status in ok:
            return
        if status in (401, 403):
            raise _error("central_auth",
                         f"Trung tâm từ chối thiết bị (HTTP {status}): kiểm tra mã thiết bị và token.",
                         f"Central refused this device (HTTP {status}): check the device id and token.")
        if status == 400 and self._error_code(response) == "bad_cursor":
            raise _error("central_bad_cursor", "Trung tâm không nhận vị trí đồng bộ đã lưu; sẽ đồng bộ lại từ đầu.",
                         "Central does not know the stored feed cursor; syncing again from the start.")
        raise _error("central_http_error", f"Trung tâm trả lời HTTP {status} không mong đợi.",
                     f"Central answered with unexpected HTTP {status}.")

    @staticmethod
    def _error_code(response: requests.Response) -> str | None:
        """The machine code of a protocol error body, if it has a small, well-formed one."""
        try:
            body = response.raw.read(4096, decode_content=True)
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError, OSError, urllib3.exceptions.HTTPError):
            return None
        return code if isinstance(code, str) else None

    def _read_json(self, response: requests.Response) -> Any:
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.max_json_bytes:
            raise _error("central_too_large",
                         f"Câu trả lời của trung tâm quá lớn ({length} byte).",
                         f"Central's answer is too large ({length} bytes).")
        body = bytearray()
        # The read timeout is per read: a trickling answer would hold the sync forever without this.
        deadline = time.monotonic() + max(JSON_DEADLINE_MIN_S, 4 * self.timeout[1])
        try:
            for chunk in _arriving_chunks(response):
                body += chunk
                if len(body) > self.max_json_bytes:
                    raise _error("central_too_large", "Câu trả lời của trung tâm quá lớn.",
                                 "Central's answer is too large.")
                if time.monotonic() > deadline:
                    raise _Transient(_error("central_timeout", "Trung tâm trả lời quá chậm, sẽ thử lại sau.",
                                            "Central's answer is arriving too slowly; will retry later."))
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _Transient(_network_error(exc, "đọc câu trả lời", "reading central's answer")) from None
        if length and length.isdigit() and len(body) != int(length):
            raise _Transient(_error("central_truncated", "Câu trả lời của trung tâm bị cắt cụt.",
                                    "Central's answer was truncated."))
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _error("central_bad_json", "Trung tâm trả về dữ liệu không phải JSON hợp lệ.",
                         "Central returned data that is not valid JSON.") from None

    def _note_server_time(self, response: requests.Response, started: float) -> None:
        moment = parse_server_time(response.headers.get("X-Server-Time"))
        if moment is None:
            return
        midpoint = (started + time.time()) / 2
        self.last_server_time = moment
        self.last_server_time_at = time.monotonic()
        self.server_offset_s = moment.timestamp() - midpoint
        if self.on_server_time is not None:
            self.on_server_time(moment)


def _arriving_chunks(response: requests.Response) -> Iterator[bytes]:
    """The decoded body in pieces as they arrive (``read1``), so a deadline is checked between
    pieces; ``iter_content`` waits for a whole chunk. urllib3 1.x lacks read1: fall back."""
    if not hasattr(response.raw, "read1"):
        yield from response.iter_content(_CHUNK)
        return
    while True:
        chunk = response.raw.read1(_CHUNK, decode_content=True)
        if not chunk:
            return
        yield chunk


def _raw_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. Unlike ``iter_content``, a cut connection loses no received byte:
    urllib3's decoding reader drops the partial chunk it was filling when it raises."""
    while True:
        chunk = response.raw.read(_CHUNK, decode_content=False)
        if not chunk:
            return
        yield chunk


def _origin_of(scheme: str, host: str, port: int | None) -> tuple[str, str, int]:
    default = 443 if scheme == "https" else 80
    return (scheme.lower(), host.lower(), port or default)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _network_error(exc: Exception, doing_vi: str, doing_en: str) -> CentralError:
    if isinstance(exc, requests.Timeout):
        return _error("central_timeout", f"Hết thời gian chờ trung tâm khi {doing_vi}; sẽ thử lại sau.",
                      f"Timed out while {doing_en}; will try again later.")
    detail = type(exc).__name__
    return _error("central_unreachable",
                  f"Không liên lạc được với trung tâm khi {doing_vi} ({detail}); sẽ thử lại sau.",
                  f"Network failure while {doing_en} ({detail}); will try again later.")
