"""Automatic intake of RSS/Atom feeds (issue 12 item 4), against the fixture server on loopback.

Each test with the ``central`` fixture runs on SQLite and on PostgreSQL. The feeds, article
pages and hostile inputs come from central/intake/fixtures.py over real HTTP.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from central.cli import main as central_cli
from central.intake.fixture_server import FixtureServer, Route
from central.intake.fixtures import PortalUrls, article_page, install_portal, rss_feed, sample_articles
from central.intake.provenance import provenance_of
from central.intake.service import Intake
from tests.conftest import CentralHandle


@pytest.fixture
def portal() -> Iterator[tuple[FixtureServer, PortalUrls]]:
    with FixtureServer() as server:
        yield server, install_portal(server, articles=5)  # hostile bodies of 50 MB


def intake(central: CentralHandle) -> Intake:
    return central.server.app.extensions["central.intake"]


def items(central: CentralHandle) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in central.catalog.list_items()}


def test_new_articles_become_drafts_once_and_an_unchanged_feed_costs_one_304(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    server, urls = portal
    service = intake(central)
    service.sources.add("portal", "feed", urls.feed)
    first = service.poll("portal")
    assert first.error is None and first.status == 200
    assert (first.new, first.requests) == (5, 6)  # the feed and five article pages
    drafts = items(central)
    assert len(drafts) == 5 and {d["state"] for d in drafts.values()} == {"draft"}
    # Nothing taken in airs without approval: the device's feed holds none of it.
    assert central.feed().json()["items"] == []
    by_title = {d["title"]: d for d in drafts.values()}
    article = urls.articles[0]
    draft = by_title[article.title]
    found = provenance_of(central.catalog.store, draft["id"])
    assert found is not None
    assert (found.source_id, found.guid, found.link) == ("portal", f"portal-{article.slug}",
                                                         f"{server.url}/tin/{article.slug}.htm")
    assert found.published_at == article.published and found.extraction == "page"
    # The page's article text, not its menus, scripts or footer.
    with central.catalog.store.read() as tx:
        text = tx.items.get(draft["id"]).draft["text"]
    assert article.paragraphs[1] in text and "Trang chủ" not in text and "dataLayer" not in text
    assert "Giấy phép" not in text

    server.reset_hits()
    again = service.poll("portal")
    assert (again.status, again.requests, again.new) == (304, 1, 0)
    assert server.total_hits() == 1 and len(items(central)) == 5

    # One new article: one new draft; the five known ones are not fetched again.
    newer = sample_articles(1, offset=600)[0]
    server.route(f"/tin/{newer.slug}.htm", Route(article_page(newer), content_type="text/html; charset=utf-8"))
    server.route("/rss/tin-moi.rss", Route(rss_feed(server.url, [newer, *urls.articles])))
    server.reset_hits()
    third = service.poll("portal")
    assert (third.status, third.new, third.duplicates, third.requests) == (200, 1, 5, 2)
    assert len(items(central)) == 6
    status = service.sources.get("portal")
    assert status.items_taken == 6 and status.last_error is None and status.last_success_at is not None


def test_an_article_republished_under_a_new_guid_or_link_is_still_a_duplicate(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    server, urls = portal
    service = intake(central)
    service.sources.add("portal", "feed", urls.feed)
    assert service.poll("portal").new == 5
    feed = rss_feed(server.url, list(urls.articles)).replace(b"portal-bai-", b"moved-bai-")
    server.route("/rss/tin-moi.rss", Route(feed))
    result = service.poll("portal")
    assert (result.new, result.duplicates) == (0, 5)  # same links
    feed = feed.replace(b"/tin/bai-", b"/tin2/bai-")
    server.route("/rss/tin-moi.rss", Route(feed))
    result = service.poll("portal")
    assert (result.new, result.duplicates) == (0, 5)  # same title and summary
    assert len(items(central)) == 5


HOSTILE = [
    ("truncated", "intake.malformed", "không phải XML hợp lệ"),
    ("wrong_encoding", "intake.wrong_encoding", "bảng mã"),
    ("huge_feed", "intake.too_large", "lớn quá giới hạn"),
    ("slow_feed", "intake.timeout", "quá chậm"),
    ("redirect_feed", "intake.redirect_host", "không được phép"),
]


@pytest.mark.parametrize(("name", "code", "vi"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_broken_or_hostile_feed_gives_a_clear_error_and_changes_nothing_else(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls], name: str, code: str, vi: str) -> None:
    server, urls = portal
    service = intake(central)
    service.sources.add("portal", "feed", urls.feed)
    assert service.poll("portal").new == 5
    before_items = items(central)
    good_before = service.sources.get("portal")
    service.sources.add("hostile", "feed", getattr(urls, name), timeout_s=2)
    result = service.poll("hostile")
    assert result.error is not None and result.error.code == code and result.new == 0
    status = service.sources.get("hostile")
    assert status.last_error is not None and status.last_error["code"] == code and vi in status.last_error["vi"]
    assert status.last_error["en"] and status.items_taken == 0 and status.last_success_at is None
    assert items(central) == before_items
    assert service.sources.get("portal") == good_before
    # The good source goes on as before.
    assert service.poll("portal").status == 304


def test_script_and_markup_in_titles_and_texts_become_plain_text(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    _, urls = portal
    service = intake(central)
    service.sources.add("script", "feed", urls.script_title, fetch_pages=False)
    assert service.poll("script").new == 1
    (draft,) = items(central).values()
    assert draft["title"] == "Thông báo khẩn về lịch họp"
    with central.catalog.store.read() as tx:
        text = tx.items.get(draft["id"]).draft["text"]
    assert text == "Nội dung họp thôn."
    for bad in ("<", ">", "script", "alert", "steal", "iframe", "onclick"):
        assert bad not in draft["title"] + text


def test_a_huge_article_page_falls_back_to_the_feed_summary(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    _, urls = portal
    service = intake(central)
    service.sources.add("big", "feed", urls.huge_page_feed)
    result = service.poll("big")
    assert result.error is None and result.new == 1
    (draft,) = items(central).values()
    found = provenance_of(central.catalog.store, draft["id"])
    assert found is not None and found.extraction == "summary" and "2.000.000 byte" in found.note
    with central.catalog.store.read() as tx:
        assert tx.items.get(draft["id"]).draft["text"].startswith("Thủ tướng Chính phủ yêu cầu")


def test_pages_on_hosts_that_are_not_allowed_are_never_fetched(central: CentralHandle) -> None:
    with FixtureServer() as server:
        articles = sample_articles(2)
        feed = rss_feed(f"http://localhost:{server.port}", articles)  # links to another host name
        for a in articles:
            server.route(f"/tin/{a.slug}.htm", Route(article_page(a), content_type="text/html"))
        url = server.route("/rss.xml", Route(feed))
        service = intake(central)
        service.sources.add("portal", "feed", url)
        result = service.poll("portal")
        assert (result.new, result.requests) == (2, 1)
        assert server.hits["/rss.xml"] == 1 and sum(server.hits.values()) == 1
        notes = {provenance_of(central.catalog.store, i).note for i in items(central)}  # type: ignore[union-attr]
        assert all("không được phép" in n for n in notes)


def test_atom_feeds_with_escaped_html_titles(central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    _, urls = portal
    service = intake(central)
    service.sources.add("yte", "feed", urls.atom)
    assert service.poll("yte").new == 3
    titles = {d["title"] for d in items(central).values()}
    assert "Thủ tướng chỉ đạo ứng phó bão số 701 tại các tỉnh ven biển miền Trung" in titles


def test_a_disabled_source_is_not_due_and_the_cli_manages_sources(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls], capsys: pytest.CaptureFixture[str]) -> None:
    _, urls = portal
    args = central.cli_args()
    assert central_cli(["source", "add", "portal", "--kind", "feed", "--url", urls.feed, *args]) == 0
    assert central_cli(["source", "add", "bad", "--kind", "feed", "--url", urls.truncated, *args]) == 0
    assert central_cli(["source", "disable", "bad", *args]) == 0
    capsys.readouterr()
    assert [r.source_id for r in intake(central).poll_due()] == ["portal"]
    assert central_cli(["source", "poll", "bad", *args]) == 1
    out = capsys.readouterr().out
    assert "Lỗi: Nguồn tin không phải XML hợp lệ" in out and "Error: The feed is not well-formed XML" in out
    assert central_cli(["source", "list", *args]) == 0
    listing = capsys.readouterr().out
    assert "portal\tfeed\tcó\t5\t" in listing and "bad\tfeed\tkhông\t0\t" in listing
    assert "intake.malformed" in listing
    assert central_cli(["source", "poll", "portal", *args]) == 0
    assert "HTTP 304, 1 yêu cầu/requests, 0 mới/new" in capsys.readouterr().out
    assert central_cli(["source", "entries", "portal", "--limit", "2", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "\tdraft\tin-" in lines[1] and lines[1].split("\t")[6].endswith(".htm")
    assert lines[1].split("\t")[1] == "02/12/2026 13:20"  # the 5th article: 06:20 UTC, shown in local time
    assert central_cli(["source", "remove", "bad", *args]) == 0
    assert central_cli(["source", "add", "x", "--kind", "feed", "--url", "ftp://a/b", *args]) == 2
    assert "Địa chỉ nguồn không hợp lệ" in capsys.readouterr().err
    assert [s.id for s in intake(central).sources.list_sources()] == ["portal"]


def test_source_status_api_is_for_operators_only(central: CentralHandle,
                                                 portal: tuple[FixtureServer, PortalUrls]) -> None:
    _, urls = portal
    intake(central).sources.add("portal", "feed", urls.feed)
    assert requests.get(f"{central.url}/api/intake/sources", timeout=30).status_code == 401
    answer = requests.post(f"{central.url}/api/intake/sources/portal/poll", headers=central.admin_headers(), timeout=60)
    assert answer.status_code == 200 and answer.json()["new"] == 5
    (source,) = requests.get(f"{central.url}/api/intake/sources", headers=central.admin_headers(),
                             timeout=30).json()["sources"]
    assert source["id"] == "portal" and source["items_taken"] == 5 and source["last_status"] == 200
    assert source["last_success_at"].endswith("Z") and source["last_error"] is None
    item_id = next(iter(items(central)))
    answer = requests.get(f"{central.url}/api/intake/items/{item_id}/provenance", headers=central.admin_headers(),
                          timeout=30).json()
    assert answer["provenance"]["source"] == "portal" and answer["provenance"]["link"].endswith(".htm")
    missing = requests.get(f"{central.url}/api/intake/items/nope/provenance", headers=central.admin_headers(),
                           timeout=30).json()
    assert missing == {"item_id": "nope", "provenance": None}


def test_sources_are_for_admins_only(central: CentralHandle, portal: tuple[FixtureServer, PortalUrls]) -> None:
    """The sources page and API need the admin role: an editor's session and a monitor token are
    refused (403), an admin's session manages them with the session's CSRF token."""
    _, urls = portal
    intake(central).sources.add("portal", "feed", urls.feed)
    central.add_person("bientap", ("editor", "approver"))
    central.add_person("quantri", ("admin",))
    editor, admin = central.login("bientap"), central.login("quantri")
    monitor_token = central.server.app.extensions["central.admin"].create_token("grafana", ("monitor",))
    bearer = {"Authorization": f"Bearer {monitor_token}"}
    for path in ("/admin/sources", "/api/intake/sources"):
        assert editor.get(central.url + path, timeout=30, allow_redirects=False).status_code == 403, path
        assert requests.get(central.url + path, headers=bearer, timeout=30).status_code == 403, path
        assert requests.get(central.url + path, timeout=30, allow_redirects=False).status_code in (303, 401), path
    poll = f"{central.url}/admin/sources/portal/poll"
    assert editor.post(poll, data={"csrf": editor.csrf}, timeout=30).status_code == 403
    assert requests.post(f"{central.url}/api/intake/sources/portal/poll", headers=bearer, timeout=30).status_code == 403
    assert items(central) == {}
    page = admin.get(central.url + "/admin/sources", timeout=30)
    assert page.status_code == 200 and 'id="source-portal"' in page.text
    assert admin.post(poll, data={"csrf": admin.csrf}, timeout=60, allow_redirects=False).status_code == 303
    assert len(items(central)) == 5


def test_the_item_page_shows_where_an_intake_draft_came_from(central: CentralHandle,
                                                             portal: tuple[FixtureServer, PortalUrls]) -> None:
    """A real poll of the fixture server (the admin's button), then the approver's item page:
    the source, the article's link and its original publication time in Vietnam's time."""
    _, urls = portal
    intake(central).sources.add("cong-thong-tin", "feed", urls.feed)
    central.add_person("quantri", ("admin",))
    central.add_person("duyet", ("approver",))
    admin, approver = central.login("quantri"), central.login("duyet")
    poll = admin.post(f"{central.url}/admin/sources/cong-thong-tin/poll", data={"csrf": admin.csrf}, timeout=60,
                      allow_redirects=False)
    assert poll.status_code == 303 and len(items(central)) == 5
    by_link = {f"{urls.feed.split('/rss/')[0]}/tin/{a.slug}.htm": a for a in urls.articles}
    for item_id in items(central):
        page = approver.get(f"{central.url}/items/{item_id}", timeout=30)
        assert page.status_code == 200
        block = re.search(r'<div class="card" id="provenance">(.*?)</div>', page.text, re.S)
        assert block is not None, item_id
        link = re.search(r'<a href="([^"]+)"', block.group(1))
        assert link is not None and link.group(1) in by_link, block.group(1)
        article = by_link[link.group(1)]
        local = article.published.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        assert "cong-thong-tin" in block.group(1) and html.escape(article.title) in block.group(1)
        assert f"đăng lúc {_WEEKDAY_VI[local.weekday()]}, {local:%d/%m/%Y %H:%M}" in block.group(1)
    written = central.catalog.add_item(kind="text", title="Thông báo của xã", text="Họp thôn.")
    assert 'id="provenance"' not in approver.get(f"{central.url}/items/{written}", timeout=30).text


_WEEKDAY_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def test_serve_polls_due_sources_in_the_background(central: CentralHandle,
                                                   portal: tuple[FixtureServer, PortalUrls]) -> None:
    import time

    from central.intake.service import IntakeThread

    _, urls = portal
    service = intake(central)
    service.sources.add("portal", "feed", urls.feed, interval_s=60)
    thread = IntakeThread(service, every_s=0.2)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while service.sources.get("portal").items_taken < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        thread.stop()
    status = service.sources.get("portal")
    assert status.items_taken == 5 and status.next_poll_at is not None
    assert status.next_poll_at > central.clock() + timedelta(seconds=30)  # not due again before its interval


@pytest.mark.parametrize("central_engine", ["sqlite"])
def test_copy_database_carries_sources_and_provenance_to_postgresql(
        central: CentralHandle, portal: tuple[FixtureServer, PortalUrls], postgres_cluster: Any) -> None:
    from central.catalog import Catalog
    from central.config import CentralConfig
    from central.store import Store
    from central.store.copy import copy_database

    server, urls = portal
    intake(central).sources.add("portal", "feed", urls.feed)
    assert intake(central).poll("portal").new == 5
    name = postgres_cluster.new_database_name()
    target_url = postgres_cluster.create_database(name)
    try:
        target = Store.open(target_url)
        try:
            counts = copy_database(central.catalog.store, target)
        finally:
            target.close()
        assert counts["intake_sources"] == 1 and counts["intake_entries"] == 5
        config = CentralConfig(data_dir=central.data_dir, database_url=target_url)
        with Catalog(central.data_dir, config=config) as copied:
            moved = Intake(copied)
            item_id = next(r["id"] for r in copied.list_items())
            found = provenance_of(copied.store, item_id)
            assert found is not None and found.source_id == "portal" and found.link
            # The copy polls on: validators kept (304), and new entries get new row ids.
            assert moved.poll("portal").status == 304
            newer = sample_articles(1, offset=800)[0]
            server.route("/rss/tin-moi.rss", Route(rss_feed(server.url, [newer, *urls.articles])))
            assert moved.poll("portal").new == 1
            moved.close()
    finally:
        postgres_cluster.drop_database(name)
