"""Punctuation the engine pauses on; every other symbol becomes a word or a space."""

from __future__ import annotations

import re

from .patterns import sub

_PUNCT_STRENGTH = {"?": 5, "!": 5, ".": 4, "…": 4, ";": 3, ":": 2, ",": 1}


def clean_punctuation(text: str) -> str:
    text = sub(r"\s+", " ", text)
    text = text.replace("...", "…")
    text = sub(r"[()\[\]{}]", " , ", text)
    text = sub(r"[\"“”‘’«»'`]", " ", text)
    text = sub(r"&", " và ", text)
    text = sub(r"±", " cộng trừ ", text)
    text = sub(r"(?<=\S)\s?=\s?(?=\S)", " bằng ", text)
    # A dash standing alone is a pause; a hyphen inside a word joins two words (vắc-xin).
    text = sub(r"(?:^|\s)[-–—]+(?=\s|$)", " , ", text)
    text = sub(r"[-–—]", " ", text)
    text = sub(r"[/\\|_*#@+=<>~^$€£•·≈≥≤×°²³]", " ", text)
    text = sub(r"\.(?=\w)", ". ", text)

    def collapse(m: re.Match[str]) -> str:
        marks = [ch for ch in m.group(0) if ch in _PUNCT_STRENGTH]
        strongest = max(marks, key=lambda ch: _PUNCT_STRENGTH[ch])
        return f"{strongest} "

    text = sub(r"\s+", " ", text)
    text = sub(r" ?[.,;:!?…](?: ?[.,;:!?…])* ?", collapse, text)
    text = sub(r"\s+", " ", text).strip()
    # Nothing to pause after at the very start, nor a dangling comma at the end.
    return text.lstrip(".,;:!?… ").rstrip(",;: ")

