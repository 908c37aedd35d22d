"""Characters and layout: markup, control characters, other scripts, headings, bullets, line breaks."""

from __future__ import annotations

import html
import re
import unicodedata

from ..numbers import read_number, roman_to_int

_VIETNAMESE_LETTERS = frozenset(
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệfghiìíỉĩịjklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvwxyỳýỷỹỵz"
)
_KEEP_SYMBOLS = frozenset(" \n0123456789.,;:!?…-–—/()[]{}%‰°²³&+=<>~≈±≥≤×'\"“”‘’«»@#*_|\\$€£•·")
_LINE_BREAKS = frozenset("\n\r\v\f\u2028\u2029\x85")


class _CharMap(dict[int, str | None]):
    """str.translate table filled lazily: each distinct character is classified once."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        result: str | None
        if ch in _KEEP_SYMBOLS or ch.lower() in _VIETNAMESE_LETTERS:
            result = ch
        elif ch in _LINE_BREAKS:
            result = "\n"
        elif ch == "\t" or unicodedata.category(ch) == "Zs":
            result = " "
        elif unicodedata.category(ch) == "Nd":
            result = str(unicodedata.digit(ch))
        elif ch == "\u200b":
            # A zero-width space marks a word break.
            result = " "
        elif unicodedata.category(ch) in ("Cf", "Mn", "Me"):
            # Zero-width joiners, soft hyphens and stray combining marks sit inside words.
            result = None
        else:
            # A Latin letter outside Vietnamese (ç, ü, ø) loses its accent; everything else
            # (other scripts, emoji, control characters) becomes a space: espeak-ng's Vietnamese
            # voice cannot read it and would switch language.
            base = unicodedata.normalize("NFKD", ch)[:1]
            result = base if base.lower() in _VIETNAMESE_LETTERS and base.isascii() else " "
        if len(self) < 20_000:
            self[code] = result
        return result


CHAR_MAP = _CharMap()

_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)?[^<>]*>")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                         "table", "break", "s", "paragraph", "sentence", "title", "section"})


def strip_markup(text: str) -> str:
    def tag(m: re.Match[str]) -> str:
        name = (m.group(2) or "").lower()
        return "\n" if name in _BLOCK_TAGS else " "

    text = _TAG_RE.sub(tag, text)
    if "&" in text:
        text = html.unescape(text)
        # Escaped markup (&lt;b&gt;) must not reach the engine either.
        text = _TAG_RE.sub(tag, text)
    return text


# "II. NHIỆM VỤ": a Roman numeral opening a line and followed by punctuation (or nothing)
# is a heading number. Leading symbols are allowed because later steps strip them, and the
# rule must give the same answer on a second pass.
HEADING_ROMAN_RE = re.compile(r"^((?:[^\w\n]|[_²³])*)([IVX]{1,5})(?=[ \t]*(?:[^\w\s]|[_²³]|$))", re.MULTILINE)
BULLET_RE = re.compile(r"^[ \t]*[-+*•·–—][ \t]+", re.MULTILINE)
_ENDS_WITH_PUNCT = frozenset(".!?;:,…")


def heading_roman(m: re.Match[str]) -> str:
    value = roman_to_int(m.group(2))
    return m.group(0) if value is None else f"{m.group(1)}{read_number(value)}"


def join_lines(text: str) -> str:
    """Line breaks become sentence breaks, so headings and list items get a pause."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if out and out[-1][-1] not in _ENDS_WITH_PUNCT:
            out[-1] += "."
        out.append(line)
    return _SPACES_RE.sub(" ", " ".join(out))


_SPACES_RE = re.compile(r"[ \t]+")


def clean_characters(text: str) -> str:
    """Every character mapped once: kept, made a space or a line break, or dropped (see ``_CharMap``)."""
    return text.translate(CHAR_MAP)


def read_headings(text: str) -> str:
    """A Roman numeral opening a line ("II. NHIỆM VỤ") is read as a number."""
    return HEADING_ROMAN_RE.sub(heading_roman, text)


def drop_bullets(text: str) -> str:
    return BULLET_RE.sub("", text)
