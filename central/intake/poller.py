"""Poll the sources that are due: fetch, parse, remove duplicates, make drafts.

One poll of a feed source is one conditional GET of the feed (an unchanged feed answers 304:
one request, nothing else), then for each entry not seen before (same guid, link or content
hash) its article page (allowed hosts only; its text, or the feed's summary when the page
fails) and a draft through the ``DraftSink``, with its provenance in ``intake_entries``. A
CAP source's URL is a CAP message or a feed of links to CAP messages; each new one goes to
``central.intake.alerts``.

A feed that cannot be fetched or parsed is refused whole: the source's status gets the
error (code, Vietnamese, English), and nothing else changes. An entry whose draft is refused
is skipped and named in the status; the others are taken. Validators (ETag, Last-Modified,
body hash) are kept only after a poll that went through the whole feed with nothing left to
fetch again, so an interrupted or capped poll, or a CAP message that failed to arrive, is taken
up again by the next one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from central.intake.alerts import AlertTaker
from central.intake.articles import choose_text, extract_text
from central.intake.cap import CAP_NS
from central.intake.drafts import Draft, DraftSink, draft_id
from central.intake.errors import IntakeError, intake_error
from central.intake.feeds import FeedEntry, parse_feed
from central.intake.fetch import Fetcher, Limits, host_allowed
from central.intake.sources import SourceStatus, status_of
from central.store import Store
from central.store.intake import DuplicateEntry
from protocol.errors import CommuneRadioError

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"


@dataclass
class PollResult:
    source_id: str
    status: int | None = None       # HTTP status of the feed request
    requests: int = 0
    entries: int = 0                # in the feed
    new: int = 0                    # drafts (or alerts) taken
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    retry: bool = False             # something failed to arrive: poll the whole feed again next time
    error: IntakeError | None = None
    elapsed_s: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {"source": self.source_id, "status": self.status, "requests": self.requests, "entries": self.entries,
                "new": self.new, "duplicates": self.duplicates, "refused": self.refused,
                "error": self.error.as_dict() if self.error else None, "elapsed_s": round(self.elapsed_s, 3)}


class Poller:
    def __init__(self, store: Store, sink: DraftSink, *, clock: Callable[[], datetime],
                 fetcher: Fetcher | None = None) -> None:
        self.store, self.sink, self.clock = store, sink, clock
        self.fetcher = fetcher or Fetcher()
        self.alerts = AlertTaker(store, sink, clock=clock)

    def close(self) -> None:
        self.fetcher.close()

    def poll_due(self) -> list[PollResult]:
        with self.store.read() as tx:
            due = [r.id for r in tx.intake.due(self.clock())]
        return [self.poll(source_id) for source_id in due]

    def poll(self, source_id: str) -> PollResult:
        started = time.monotonic()
        with self.store.read() as tx:
            row = tx.intake.source(source_id)
        result = PollResult(source_id)
        if row is None or row.url is None:
            result.error = intake_error("no_source", f"Không có nguồn tin {source_id[:40]} để lấy.",
                                        f"No source {source_id[:40]} to poll.")
            return result
        source = status_of(row)
        next_at = self.clock() + timedelta(seconds=source.config.interval_s)
        limits = Limits(total_timeout_s=source.config.timeout_s, max_bytes=source.config.max_feed_bytes,
                        read_timeout_s=min(10.0, source.config.timeout_s))
        validators = (row.etag, row.last_modified) if row.body_sha256 else (None, None)
        try:
            fetched = self.fetcher.get(row.url, allowed_hosts=source.config.allowed_hosts, limits=limits,
                                       etag=validators[0], last_modified=validators[1], accept=FEED_ACCEPT)
            result.requests += fetched.requests
            result.status = fetched.status
            body_sha = hashlib.sha256(fetched.body).hexdigest() if fetched.status == 200 else row.body_sha256
            if fetched.status == 304 or body_sha == row.body_sha256:
                with self.store.write() as tx:
                    tx.intake.record_success(source.id, now=self.clock(), status=fetched.status, next_poll_at=next_at,
                                             etag=fetched.etag, last_modified=fetched.last_modified,
                                             body_sha256=body_sha, keep_validators=fetched.status == 304)
                return self._done(result, started)
            complete = self._take_all(source, fetched.body, fetched.content_type, fetched.url, result)
        except IntakeError as exc:
            result.error = exc
            with self.store.write() as tx:
                tx.intake.record_error(source.id, now=self.clock(), status=result.status, error=exc.as_dict(),
                                       next_poll_at=next_at, taken=result.new)
            return self._done(result, started)
        complete = complete and not result.retry
        with self.store.write() as tx:
            # Entries refused for what they are (a draft the catalog refuses, a forged alert) are
            # not retried while the feed stays the same; one that failed to arrive is (``retry``).
            tx.intake.record_success(source.id, now=self.clock(), status=result.status, next_poll_at=next_at,
                                     etag=fetched.etag if complete else None,
                                     last_modified=fetched.last_modified if complete else None,
                                     body_sha256=body_sha if complete else None, taken=result.new)
            if result.refused:
                refused = intake_error(
                    "entries_refused", f"{len(result.refused)} tin bị từ chối: {result.refused[0][:200]}",
                    f"{len(result.refused)} entries refused: {result.refused[0][:200]}")
                tx.intake.record_error(source.id, now=self.clock(), status=result.status, error=refused.as_dict(),
                                       next_poll_at=next_at)
        return self._done(result, started)

    @staticmethod
    def _done(result: PollResult, started: float) -> PollResult:
        result.elapsed_s = time.monotonic() - started
        return result

    # ------------------------------------------------------------------ what a feed holds

    def _take_all(self, source: SourceStatus, body: bytes, content_type: str | None, url: str,
                  result: PollResult) -> bool:
        """Take every new entry; True when nothing was left for a later poll."""
        if source.kind == "cap" and body.lstrip().startswith(b"<?xml") and CAP_NS.encode() in body[:2000] \
                and b"<feed" not in body[:2000] and b"<rss" not in body[:2000]:
            result.entries = 1
            self._take_alert(source, body, url, result)
            return True
        feed = parse_feed(body, content_type=content_type, base_url=url)
        result.entries = len(feed.entries)
        for entry in feed.entries:
            if result.new >= source.config.max_new_per_poll:
                return False
            guid = entry.guid or entry.link or entry.content_sha256
            with self.store.read() as tx:
                known = tx.intake.known(source.id, guid=guid, link=entry.link, content_sha256=entry.content_sha256)
            if known is not None:
                result.duplicates += 1
                continue
            if source.kind == "cap":
                self._take_linked_alert(source, entry, result)
            else:
                self._take_article(source, entry, guid, result)
        return True

    def _take_article(self, source: SourceStatus, entry: FeedEntry, guid: str, result: PollResult) -> None:
        page_text, failure = "", ""
        if source.config.fetch_pages and entry.link:
            if not host_allowed(entry.link, source.config.allowed_hosts):
                failure = "trang ở máy chủ không được phép / the page is on a host that is not allowed"
            else:
                try:
                    page = self.fetcher.get(entry.link, allowed_hosts=source.config.allowed_hosts, accept="text/html",
                                            limits=Limits(total_timeout_s=source.config.timeout_s,
                                                          read_timeout_s=min(10.0, source.config.timeout_s),
                                                          max_bytes=source.config.max_page_bytes))
                    result.requests += page.requests
                    page_text = extract_text(page.body, url=page.url)
                except IntakeError as exc:
                    result.requests += 1
                    failure = f"{exc.vi} / {exc.en}"
        chosen = choose_text(page_text, entry.summary, failure=failure)
        text = chosen.text or entry.title
        now = self.clock()
        try:
            item_id = self.sink.add_draft(Draft(item_id=draft_id(source.id, guid), title=entry.title, text=text,
                                                zones=source.config.zones))
        except CommuneRadioError as exc:
            result.refused.append(f"{entry.title[:80]}: {exc.vi} / {exc.en}")
            return
        try:
            # Not flushed on its own: a row lost to a crash is made again by the next poll (the draft
            # id is derived from the guid, so it finds the same draft), and the durable status
            # write that ends the poll flushes every row before it, in order.
            with self.store.write(durable=False) as tx:
                tx.intake.add_entry(source_id=source.id, guid=guid, link=entry.link,
                                    content_sha256=entry.content_sha256, title=entry.title,
                                    published_at=entry.published_at, taken_at=now, item_id=item_id, outcome="draft",
                                    extraction=chosen.extraction, note=chosen.note[:1000])
        except DuplicateEntry:
            result.duplicates += 1  # another poller took it at the same moment, with the same draft id
            return
        result.new += 1

    def _take_linked_alert(self, source: SourceStatus, entry: FeedEntry, result: PollResult) -> None:
        if not entry.link:
            result.refused.append(f"{entry.title[:80]}: không có liên kết tới bản tin CAP / no link to a CAP message")
            return
        try:
            fetched = self.fetcher.get(entry.link, allowed_hosts=source.config.allowed_hosts, accept="application/xml",
                                       limits=Limits(total_timeout_s=source.config.timeout_s, max_bytes=256 * 1024))
            result.requests += fetched.requests
        except IntakeError as exc:
            result.requests += 1
            result.retry = True
            result.refused.append(f"{entry.link[:80]}: {exc.vi} / {exc.en}")
            return
        self._take_alert(source, fetched.body, entry.link, result)

    def _take_alert(self, source: SourceStatus, xml: bytes, link: str | None, result: PollResult) -> None:
        try:
            outcome = self.alerts.take(source, xml, link=link)
        except CommuneRadioError as exc:
            result.refused.append(f"{(link or 'CAP')[:80]}: {exc.vi} / {exc.en}")
            return
        if outcome.outcome == "duplicate":
            result.duplicates += 1
        else:
            result.new += 1
