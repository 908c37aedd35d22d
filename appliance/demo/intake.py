"""The demo's feed article: from the Portal-like fixture feed, through intake and approval, to
the loudspeaker (issue 12 item 6).

A fixture server on loopback serves a Government-Portal-like RSS feed; central's intake polls it
and makes unapproved drafts (with their provenance); the demo's editor shortens the first one
into a spoken version and schedules it, and the demo's approver approves it, after the seeded
bulletins. The fixture server stops once the feed has been read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PLAYS_AFTER_S = 140  # after the seeded bulletins (the last starts at 100 s)
SOURCE = "cong-thong-tin"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def _iso_z(moment: datetime) -> str:
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def take_feed_article(catalog: Any, *, now: datetime, out: Callable[[str], None]) -> str | None:
    """Poll the fixture feed into drafts and approve the first; returns its item id (None if intake failed)."""
    from central.intake.fixture_server import FixtureServer
    from central.intake.fixtures import install_portal
    from central.intake.plaintext import shorten
    from central.intake.provenance import provenance_of
    from central.intake.service import Intake

    intake = Intake(catalog)
    try:
        with FixtureServer() as server:
            urls = install_portal(server, articles=3, huge_bytes=1)
            intake.sources.add(SOURCE, "feed", urls.feed)
            result = intake.poll(SOURCE)
    finally:
        intake.close()
    if result.error is not None or result.new == 0:
        out(f"⚠ lấy tin tự động thất bại / intake failed: {result.error.en if result.error else 'no article'}")
        return None
    out(f"• Lấy tin tự động / intake: {result.new} bài từ nguồn / articles from {SOURCE} "
        "→ bản nháp chờ duyệt / drafts awaiting approval")
    article = urls.articles[0]
    item_id = next(row["id"] for row in catalog.list_items()
                   if row["title"] == article.title and row["state"] == "draft")
    found = provenance_of(catalog.store, item_id)
    if found is not None:
        published = found.published_at.astimezone(LOCAL) if found.published_at else None
        out(f"  - {item_id}: {found.title} ({found.link}, đăng lúc / published "
            f"{f'{published:%d/%m/%Y %H:%M}' if published else '—'})")
    spoken = shorten(f"{article.title}. {article.summary}", 600)
    catalog.update_item(item_id, text=spoken, valid_until=_iso_z(now + timedelta(days=7)),
                        schedule={"type": "once", "starts": [_iso_z(now + timedelta(seconds=PLAYS_AFTER_S))],
                                  "duration_s": 120})
    catalog.approve_item(item_id, by="Người duyệt Trung tâm (demo)")
    out(f"  - biên tập rút gọn, người duyệt đã duyệt; phát sau {PLAYS_AFTER_S} s / "
        f"shortened by the editor, approved; plays in {PLAYS_AFTER_S} s")
    return item_id
