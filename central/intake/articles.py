"""An article page → its main text (trafilatura), or the feed's summary when that fails.

trafilatura finds the article body in a news page (no menus, comments or scripts); the text
is reduced again by ``central.intake.plaintext`` and cut to the protocol's text limit. A page
that cannot be fetched, is too large, or yields less text than the summary leaves the
summary in place; the reason is kept with the draft's provenance.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura

from central.intake.plaintext import to_plain

MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class ArticleText:
    text: str
    extraction: str          # page | summary
    note: str = ""           # why the summary was used


def extract_text(page: bytes, *, url: str | None = None) -> str:
    """The article text of an HTML page ('' when none is found)."""
    found = trafilatura.extract(page, url=url, include_comments=False, include_tables=False,
                                include_images=False, include_links=False, favor_precision=True,
                                deduplicate=False)  # its cache spans calls: shared paragraphs would vanish
    return to_plain(found or "", keep_lines=True, max_chars=MAX_TEXT_CHARS)


def choose_text(page_text: str, summary: str, *, failure: str = "") -> ArticleText:
    """The page's text when it says more than the summary, else the summary."""
    if page_text and len(page_text) >= len(summary):
        return ArticleText(page_text, "page")
    note = failure or ("trang không có nội dung rõ ràng / no article text in the page" if not page_text
                       else "trang ngắn hơn tóm tắt / the page says less than the summary")
    return ArticleText(summary, "summary", note)
