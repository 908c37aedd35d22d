"""Intake sources as the admin configures them, and their per-source status.

A source is a feed (RSS/Atom, polled) or a CAP source (a feed of CAP messages, polled, and/or
messages posted to ``POST /v1/intake/cap`` with the source's own bearer token). Its
configuration names the hosts that may be fetched (by default the URL's host), the targets
of its drafts, the poll interval and bounds, and for CAP: whether signatures are required,
the pinned certificates, and the senders allowed automatic approval at Extreme/Immediate
(which needs required signatures and a pinned certificate).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import protocol
from central.store import Store
from central.store.intake import DuplicateSource, EntryRow, SourceRow
from protocol.errors import ValidationError

SOURCE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
HOST_RE = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$|^\[[0-9a-f:]+\]$")
TOKEN_PREFIX = "cci_"
KINDS = ("feed", "cap")


@dataclass(frozen=True)
class SourceConfig:
    allowed_hosts: tuple[str, ...]
    zones: tuple[str, ...] = ("*",)
    interval_s: int = 900
    fetch_pages: bool = True             # feeds: the article page's text (else the summary only)
    max_feed_bytes: int = 5_000_000
    max_page_bytes: int = 2_000_000
    timeout_s: float = 30.0              # the whole of one request, however slowly it arrives
    max_new_per_poll: int = 1000
    require_signature: bool = True       # CAP
    certificates: tuple[str, ...] = ()   # CAP: pinned PEM certificates
    auto_senders: tuple[str, ...] = ()   # CAP: senders whose Extreme/Immediate alerts air at once

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceConfig:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)


@dataclass(frozen=True)
class SourceStatus:
    id: str
    kind: str
    url: str | None
    enabled: bool
    config: SourceConfig
    push: bool                            # has a token for POST /v1/intake/cap
    last_poll_at: datetime | None
    last_status: int | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: dict[str, str] | None
    items_taken: int
    next_poll_at: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def t(moment: datetime | None) -> str | None:
            return protocol.format_utc(moment) if moment is not None else None

        config = self.config.to_json()
        config["certificates"] = len(self.config.certificates)  # a count; the PEM is no status
        return {"id": self.id, "kind": self.kind, "url": self.url, "enabled": self.enabled, "push": self.push,
                "config": config, "last_poll_at": t(self.last_poll_at), "last_status": self.last_status,
                "last_success_at": t(self.last_success_at), "last_error_at": t(self.last_error_at),
                "last_error": self.last_error, "items_taken": self.items_taken, "next_poll_at": t(self.next_poll_at)}


def status_of(row: SourceRow) -> SourceStatus:
    return SourceStatus(id=row.id, kind=row.kind, url=row.url, enabled=row.enabled,
                        config=SourceConfig.from_json(row.config), push=row.token_sha256 is not None,
                        last_poll_at=row.last_poll_at, last_status=row.last_status,
                        last_success_at=row.last_success_at, last_error_at=row.last_error_at,
                        last_error=row.last_error, items_taken=row.items_taken, next_poll_at=row.next_poll_at)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _invalid(vi: str, en: str) -> ValidationError:
    return ValidationError(vi, en)


def _no_source(source_id: str) -> ValidationError:
    return _invalid(f"Không có nguồn tin {source_id[:40]}.", f"No source {source_id[:40]}.")


def check_certificate(pem: str) -> str:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise _invalid("Chứng thư không phải PEM X.509 hợp lệ.", "The certificate is not a valid PEM X.509 certificate.") from None
    return pem.strip() + "\n"


def build_config(kind: str, url: str | None, *, allowed_hosts: Sequence[str] = (), zones: Sequence[str] = ("*",),
                 interval_s: int = 900, fetch_pages: bool = True, require_signature: bool = True,
                 certificates: Sequence[str] = (), auto_senders: Sequence[str] = (),
                 timeout_s: float = 30.0) -> SourceConfig:
    if kind not in KINDS:
        raise _invalid(f"Loại nguồn phải là feed hoặc cap, không phải {kind[:20]!r}.",
                       f"The source kind must be feed or cap, not {kind[:20]!r}.")
    hosts = [h.lower().rstrip(".") for h in allowed_hosts]
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or len(url) > 2000:
            raise _invalid(f"Địa chỉ nguồn không hợp lệ: {url[:80]!r} (cần http:// hoặc https://).",
                           f"Invalid source URL {url[:80]!r} (http:// or https:// expected).")
        if not hosts:
            hosts = [parts.hostname.lower()]
    elif kind == "feed":
        raise _invalid("Nguồn RSS/Atom cần địa chỉ.", "A feed source needs a URL.")
    if not all(HOST_RE.match(h) or _is_ip(h) for h in hosts):
        raise _invalid(f"Tên máy chủ không hợp lệ: {hosts!r}.", f"Invalid host name(s) {hosts!r}.")
    if not 60 <= interval_s <= 86_400:
        raise _invalid("Chu kỳ lấy tin phải từ 60 đến 86.400 giây.", "The poll interval must be 60 to 86,400 seconds.")
    if not 1 <= timeout_s <= 300:
        raise _invalid("Thời gian chờ phải từ 1 đến 300 giây.", "The timeout must be 1 to 300 seconds.")
    zone_list = list(zones)
    if zone_list != ["*"] and (not zone_list or not all(isinstance(z, str) and protocol.ZONE_RE.match(z)
                                                        for z in zone_list)):
        raise _invalid(f"Vùng không hợp lệ: {zone_list!r}.", f"Invalid zones {zone_list!r}.")
    pems = tuple(check_certificate(p) for p in certificates)
    senders = tuple(s.strip() for s in auto_senders if s.strip())
    if senders and (kind != "cap" or not require_signature or not pems):
        raise _invalid("Tự động duyệt chỉ dành cho nguồn CAP bắt buộc chữ ký số và có chứng thư được ghim.",
                       "Automatic approval is only for a CAP source that requires signatures and pins a certificate.")
    if kind == "cap" and require_signature and not pems:
        raise _invalid("Nguồn CAP bắt buộc chữ ký cần ít nhất một chứng thư (--certificate), "
                       "hoặc chọn --no-require-signature.",
                       "A CAP source that requires signatures needs a pinned certificate (--certificate), "
                       "or choose --no-require-signature.")
    return SourceConfig(allowed_hosts=tuple(dict.fromkeys(hosts)), zones=tuple(zone_list), interval_s=interval_s,
                        fetch_pages=fetch_pages, require_signature=require_signature, certificates=pems,
                        auto_senders=senders, timeout_s=timeout_s)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Sources:
    """The admin's side: add, list, enable, disable and remove sources; CAP push tokens."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    def add(self, source_id: str, kind: str, url: str | None, *, push: bool = False, enabled: bool = True,
            **options: Any) -> str | None:
        """Configure a source; returns the CAP push token (shown once) when ``push``."""
        if not isinstance(source_id, str) or not SOURCE_ID_RE.match(source_id):
            raise _invalid(f"Tên nguồn không hợp lệ: {str(source_id)[:40]!r} (chữ thường, số, '-', '_').",
                           f"Invalid source name {str(source_id)[:40]!r} (lower-case letters, digits, '-', '_').")
        config = build_config(kind, url, **options)
        if push and kind != "cap":
            raise _invalid("Chỉ nguồn CAP nhận bản tin gửi đến.", "Only a CAP source takes posted messages.")
        if url is None and not push:
            raise _invalid("Nguồn cần địa chỉ để lấy tin, hoặc --push để nhận bản tin gửi đến.",
                           "A source needs a URL to poll, or --push to take posted messages.")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32) if push else None
        try:
            with self.store.write() as tx:
                tx.intake.add_source(source_id, kind=kind, url=url, config=config.to_json(), enabled=enabled,
                                     token_sha256=token_sha256(token) if token else None, now=self.clock())
        except DuplicateSource:
            raise _invalid(f"Nguồn {source_id} đã tồn tại.", f"Source {source_id} already exists.") from None
        return token

    def list_sources(self) -> list[SourceStatus]:
        with self.store.read() as tx:
            return [status_of(r) for r in tx.intake.sources()]

    def get(self, source_id: str) -> SourceStatus:
        with self.store.read() as tx:
            row = tx.intake.source(source_id)
        if row is None:
            raise _no_source(source_id)
        return status_of(row)

    def entries(self, source_id: str, *, limit: int = 20) -> list[EntryRow]:
        """What this source gave most recently (newest first): the provenance of its drafts."""
        self.get(source_id)
        with self.store.read() as tx:
            return tx.intake.entries(source_id, limit=limit)

    def set_enabled(self, source_id: str, enabled: bool) -> None:
        with self.store.write() as tx:
            if not tx.intake.set_enabled(source_id, enabled, now=self.clock()):
                raise _no_source(source_id)

    def remove(self, source_id: str) -> None:
        with self.store.write() as tx:
            if not tx.intake.remove_source(source_id):
                raise _no_source(source_id)

    def rotate_token(self, source_id: str) -> str:
        if self.get(source_id).kind != "cap":
            raise _invalid("Chỉ nguồn CAP nhận bản tin gửi đến.", "Only a CAP source takes posted messages.")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as tx:
            tx.intake.set_token(source_id, token_sha256(token))
        return token

    def by_token(self, token: str | None) -> SourceStatus | None:
        """The enabled CAP source whose push token this is, or None."""
        if not token or len(token) > 200 or not token.startswith(TOKEN_PREFIX):
            return None
        with self.store.read() as tx:
            row = tx.intake.source_by_token(token_sha256(token))
        return status_of(row) if row is not None and row.enabled and row.kind == "cap" else None
