"""HTML in feed titles and texts reduced to plain text (pure).

Feeds put markup, entities and sometimes scripts in titles and summaries; an item's title
and text are read aloud and shown, so only their words are kept: ``script``/``style`` and the
like are dropped with their content, tags removed, entities decoded (twice-escaped markup
such as ``&lt;script&gt;`` is reduced again), control characters and runs of white space
collapsed. Paragraph structure survives as single newlines in texts.
"""

from __future__ import annotations

import html
import re
import unicodedata

from lxml import etree
from lxml import html as lxml_html

_DROP = ("script", "style", "noscript", "iframe", "object", "embed", "template", "svg", "math", "head",
         "form", "button", "select", "textarea")
_BLOCK = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "section",
          "article", "header", "footer", "ul", "ol", "table", "figure", "figcaption", "pre", "hr")
_TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def _markup_to_text(markup: str, *, keep_lines: bool) -> str:
    if "<" not in markup:
        return html.unescape(markup)
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(_TAG_RE.sub(" ", markup))
    for bad in root.iter(*_DROP):
        bad.drop_tree() if bad.getparent() is not None else bad.clear()
    for comment in root.iter(etree.Comment, etree.ProcessingInstruction):
        if comment.getparent() is not None:
            comment.drop_tree()
    if keep_lines:
        for block in root.iter(*_BLOCK):
            block.tail = "\n" + (block.tail or "")
    return root.text_content()


def to_plain(markup: str | None, *, keep_lines: bool = False, max_chars: int | None = None) -> str:
    """The words of ``markup``: no tags, scripts, entities or control characters."""
    text = markup or ""
    for _ in range(3):  # markup escaped once or twice inside the feed is still markup
        reduced = _markup_to_text(text, keep_lines=keep_lines)
        if reduced == text:
            break
        text = reduced
    text = _TAG_RE.sub(" ", text)  # whatever still looks like a tag after three passes
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL_RE.sub(" " if not keep_lines else "", text.replace("\r\n", "\n").replace("\t", " "))
    if keep_lines:
        lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
        text = "\n".join(line for line in lines if line)
    else:
        text = _SPACES_RE.sub(" ", text.replace("\n", " ")).strip()
    if max_chars is not None and len(text) > max_chars:
        text = shorten(text, max_chars)
    return text


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at a sentence or word end when one is near."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    for mark in (". ", ".\n", "\n", "; ", ", ", " "):
        at = cut.rfind(mark)
        if at >= max_chars * 0.6:
            return cut[: at + (1 if mark.startswith(".") else 0)].rstrip() + "…"
    return cut.rstrip() + "…"
