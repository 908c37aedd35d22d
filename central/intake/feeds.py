"""RSS/Atom bytes → feed entries with plain-text titles and summaries (feedparser).

feedparser reads every RSS and Atom version and tolerates much; intake does not take a
feed it had to guess at: XML that is not well formed (truncated, broken), a document that
is no feed at all, or bytes that are not in the encoding the feed declares are refused with
a clear reason, and nothing is taken from them (a half-read feed would lose or garble
articles without anyone noticing). Titles and summaries are reduced to plain text
(``central.intake.plaintext``); each entry gets a content hash for de-duplication.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from central.intake.errors import intake_error
from central.intake.plaintext import to_plain

MAX_TITLE_CHARS = 200
MAX_SUMMARY_CHARS = 20_000
MAX_GUID_CHARS = 1000


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    link: str | None
    title: str
    summary: str
    published_at: datetime | None
    content_sha256: str


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[FeedEntry, ...]


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def _time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _link(entry: Any) -> str | None:
    link = entry.get("link")
    if isinstance(link, str) and link.startswith(("http://", "https://")) and len(link) <= 2000:
        return link
    return None


def _summary(entry: Any) -> str:
    content = entry.get("content")
    if content:
        longest = max((c.get("value") or "" for c in content), key=len)
        if longest:
            return to_plain(longest, keep_lines=True, max_chars=MAX_SUMMARY_CHARS)
    return to_plain(entry.get("summary") or entry.get("description") or "", keep_lines=True,
                    max_chars=MAX_SUMMARY_CHARS)


def parse_feed(body: bytes, *, content_type: str | None = None, base_url: str | None = None,
               max_entries: int = 1000) -> ParsedFeed:
    """The entries of an RSS or Atom document, newest order as the feed gives them."""
    headers = {"content-type": content_type or "application/xml"}
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and not isinstance(problem, feedparser.NonXMLContentType):
        if isinstance(problem, feedparser.CharacterEncodingOverride | feedparser.CharacterEncodingUnknown):
            raise intake_error("wrong_encoding",
                               "Nguồn tin không đúng bảng mã nó khai báo (không đọc được chữ tiếng Việt); không lấy gì.",
                               f"The feed is not in the encoding it declares ({parsed.get('encoding')}); "
                               "nothing was taken.")
        where = getattr(problem, "getLineNumber", lambda: None)()
        at_vi, at_en = (f" (dòng {where})", f" (line {where})") if where else ("", "")
        detail = re.sub(r"^<unknown>:\d+:\d+:\s*", "", str(problem))[:120]
        raise intake_error("malformed", f"Nguồn tin không phải XML hợp lệ{at_vi}: {detail}; không lấy gì.",
                           f"The feed is not well-formed XML{at_en}: {detail}; nothing was taken.")
    if not parsed.get("version"):
        raise intake_error("not_a_feed", "Địa chỉ này không trả về RSS hay Atom.",
                           "This address does not serve RSS or Atom.")
    entries = []
    for raw in parsed.entries[:max_entries]:
        title = to_plain(raw.get("title") or "", max_chars=MAX_TITLE_CHARS)
        summary = _summary(raw)
        if not title and not summary:
            continue
        guid = raw.get("id") or raw.get("guid")
        guid = guid.strip()[:MAX_GUID_CHARS] if isinstance(guid, str) and guid.strip() else None
        entries.append(FeedEntry(guid=guid, link=_link(raw), title=title or summary[:MAX_TITLE_CHARS],
                                 summary=summary, published_at=_time(raw),
                                 content_sha256=content_hash(title, summary)))
    return ParsedFeed(title=to_plain(parsed.feed.get("title") or "", max_chars=MAX_TITLE_CHARS),
                      entries=tuple(entries))
