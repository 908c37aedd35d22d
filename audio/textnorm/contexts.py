"""Numbers whose meaning the words around them decide: scores, ratios, fractions, house numbers, streets."""

from __future__ import annotations


def read_scores_and_ratios(text: str) -> str:
    return text


def read_slash_contexts(text: str) -> str:
    return text
