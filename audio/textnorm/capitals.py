"""Capitals: headings in capitals are read as words, acronyms spelled with Vietnamese letter names."""

from __future__ import annotations

import re

from .patterns import LETTER, sub

_LETTER_NAMES: dict[str, str] = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "đê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "mờ", "N": "nờ",
    "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ", "S": "ét", "T": "tê", "U": "u",
    "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích", "Y": "y", "Z": "dét",
}
_VOWELS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
_SYLLABLE_RE = re.compile(
    rf"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnprstvx])?[{_VOWELS}]{{1,3}}(?:ng|nh|ch|[cmnpt])?"
)


def _is_vietnamese_syllable(word: str) -> bool:
    return _SYLLABLE_RE.fullmatch(word.lower()) is not None


def _spell(word: str) -> str:
    return " ".join(_LETTER_NAMES.get(ch, ch.lower()) for ch in word)


# Inside a document code a lower-case letter is read by its sound: QĐ-TTg "quy đê tê tê gờ".
_LOWER_CODE_NAMES = {"g": "gờ", "r": "rờ", "h": "hát", "t": "tê", "p": "pê", "c": "xê", "b": "bê"}


def spell_code(code: str) -> str:
    """A document or issuer code letter by letter; digits are left for the number rules."""
    out: list[str] = []
    for ch in code:
        if ch.isdigit():
            out.append(f" {ch}" if out and not out[-1][-1:].isdigit() else ch)
        elif ch.isupper():
            out.append(f" {_LETTER_NAMES.get(ch, ch.lower())}")
        else:
            out.append(f" {_LOWER_CODE_NAMES.get(ch, _LETTER_NAMES.get(ch.upper(), ch))}")
    return "".join(out).strip()


def spell_capitals(text: str) -> str:
    def word(m: re.Match[str]) -> str:
        token = m.group(0)
        if not token.isupper():
            return token
        if len(token) == 1 and _is_vietnamese_syllable(token):
            # A lone vowel (Y tế, cúm A) is read as it stands.
            return token
        if _is_vietnamese_syllable(token):
            # A heading in capitals (THÔNG BÁO) is read as words, not spelled.
            return token.lower()
        return _spell(token)

    return sub(rf"{LETTER}+", word, text)

