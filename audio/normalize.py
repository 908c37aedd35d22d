"""Vietnamese text normalization for radio: written bulletin text in, speakable words out.

``normalize_for_speech`` is a pure function: it turns numbers, dates, times, money, phone
numbers, units, Roman numerals and administrative abbreviations into the words a Northern
announcer would say, strips markup and characters the engine cannot read, and keeps the
punctuation the engine pauses on. ``load_abbreviations`` is the only I/O and is kept apart
(``audio.textnorm.dictionary``). Conventions, with examples, are in docs/normalization.md.

The rules live in ``audio.textnorm``, one module per class of text; their order is the table
``RULES`` below, because the rules interact: a context rule (a score, a fraction, a house
number) must claim its ``a/b`` or ``a-b`` before the date rule does, abbreviations run before
both, and every number rule before the catch-all that reads stray digits.

Every regex is written to run in linear time on 100,000 characters: no nested quantifiers,
and patterns that scan runs of letters or digits only start at the start of a run.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping

from protocol.errors import ValidationError

from .numbers import DIGITS, read_number
from .textnorm import (
    addresses,
    administrative,
    capitals,
    cleanup,
    contexts,
    dates,
    dictionary,
    documents,
    phones,
    punctuation,
    quantities,
    romans,
    times,
)
from .textnorm.dictionary import DEFAULT_ABBREVIATIONS_PATH, SYSTEM_ABBREVIATIONS_PATH, load_abbreviations
from .textnorm.patterns import LETTER, compiled

# About three hours of speech; anything longer is not a bulletin.
MAX_INPUT_CHARS = 200_000

Abbreviations = tuple[tuple[str, str], ...]
Rule = Callable[[str, Abbreviations], str]


def _plain(rule: Callable[[str], str]) -> Rule:
    return lambda text, _abbreviations: rule(text)


# The order in which the rules run. Each takes the text so far and the abbreviation dictionary.
RULES: tuple[tuple[str, Rule], ...] = (
    ("markup", _plain(cleanup.strip_markup)),
    ("characters", _plain(cleanup.clean_characters)),
    # Abbreviations first, so "V/v" at the start of a line is not taken for a Roman five.
    ("abbreviations", dictionary.expand_abbreviations),
    ("one-letter place abbreviations", _plain(administrative.read_place_letters)),
    ("headings", _plain(cleanup.read_headings)),
    ("bullets", _plain(cleanup.drop_bullets)),
    ("lines", _plain(cleanup.join_lines)),
    # Joining lines may add the "." that completes a key such as "TT." ("TT\n" -> "TT.").
    ("abbreviations again", dictionary.expand_abbreviations),
    ("weekdays and alarm levels", _plain(administrative.read_weekdays_and_alarms)),
    ("web addresses", _plain(addresses.read_web_addresses)),
    ("phone numbers", _plain(phones.read_phones)),
    ("document numbers", _plain(documents.read_documents)),
    ("scores and ratios", _plain(contexts.read_scores_and_ratios)),
    ("fractions, house numbers, streets", _plain(contexts.read_slash_contexts)),
    ("leading zeros", _plain(quantities.read_leading_zero_counts)),
    ("roman numerals", _plain(romans.read_romans)),
    ("dates", _plain(dates.read_dates)),
    ("ranges", _plain(quantities.read_ranges)),
    ("per units", _plain(quantities.read_per_units)),
    ("times", _plain(times.read_times)),
    ("numbers", _plain(quantities.read_numbers)),
    # After the numbers, so a scale word that a number rule has just written out counts too.
    ("units after scale words", _plain(quantities.read_scale_units)),
    ("capitals", _plain(capitals.spell_capitals)),
    ("punctuation", _plain(punctuation.clean_punctuation)),
    # Punctuation may drop a symbol that stood between a scale word and its unit ("1.500.000+ha"
    # gives "nghìn ha"): read such units too, so a second pass finds nothing left to change.
    ("units after scale words, symbols gone", _plain(quantities.read_scale_units)),
    ("punctuation again", _plain(punctuation.clean_punctuation)),
)

_HAS_LETTER_RE = compiled(LETTER, 0)


def normalize_for_speech(text: str, abbreviations: Mapping[str, str] | None = None) -> str:
    """The spoken form of ``text`` for espeak-ng's Vietnamese voice: words and pause punctuation only.

    ``abbreviations`` defaults to ``load_abbreviations()`` (shipped + commune dictionary).
    Raises ValidationError (bilingual) when the text is not a string, is longer than
    MAX_INPUT_CHARS, or has nothing speakable (empty, whitespace, markup or foreign script only).
    """
    if not isinstance(text, str):
        raise ValidationError("Văn bản cần đọc phải là chuỗi ký tự.", "The text to read must be a string.")
    if len(text) > MAX_INPUT_CHARS:
        raise ValidationError(
            f"Văn bản quá dài ({len(text)} ký tự, tối đa {MAX_INPUT_CHARS}). Hãy chia thành nhiều bản tin.",
            f"The text is too long ({len(text)} characters, at most {MAX_INPUT_CHARS}). Split it into several bulletins.",
        )
    items: Abbreviations = (dictionary.default_abbreviations() if abbreviations is None
                            else tuple((unicodedata.normalize("NFC", k), v) for k, v in abbreviations.items() if k and v))
    s = unicodedata.normalize("NFC", text)
    for _name, rule in RULES:
        s = rule(s, items)
    if not _HAS_LETTER_RE.search(s):
        raise ValidationError(
            "Văn bản không có nội dung đọc được (trống, chỉ có khoảng trắng, thẻ đánh dấu hoặc chữ không phải tiếng Việt).",
            "The text has nothing to read aloud (empty, whitespace, markup only, or no Vietnamese script).",
        )
    return s


__all__ = [
    "DEFAULT_ABBREVIATIONS_PATH",
    "DIGITS",
    "MAX_INPUT_CHARS",
    "RULES",
    "SYSTEM_ABBREVIATIONS_PATH",
    "load_abbreviations",
    "normalize_for_speech",
    "read_number",
]
