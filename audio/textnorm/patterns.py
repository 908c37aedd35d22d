"""Shared building blocks of the rules: cached regexes, context around a match, letter classes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

WORD_CHAR = r"[^\W_]"
LETTER = r"[^\W\d_²³]"  # superscripts count as \w in Python; they are not letters


def sub(pattern: str, repl: Callable[[re.Match[str]], str], text: str, flags: int = 0) -> str:
    return compiled(pattern, flags).sub(repl, text)


@functools.lru_cache(maxsize=128)
def compiled(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def words_before(m: re.Match[str], count: int = 1) -> str:
    """The last ``count`` words before the match, lower-cased (for context such as "ngày")."""
    words = m.string[max(0, m.start() - 40):m.start()].lower().split()
    return " ".join(words[-count:])


def text_after(m: re.Match[str], size: int = 12) -> str:
    return m.string[m.end():m.end() + size].lower()



def alternation(keys: object) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))  # type: ignore[arg-type]



class Regrouped:
    """A match seen through a subset of its groups, so date readers share one signature."""

    def __init__(self, match: re.Match[str], groups: tuple[int, ...]) -> None:
        self._match = match
        self._groups = groups
        self.string = match.string

    def group(self, index: int = 0) -> str:
        return self._match.group(0 if index == 0 else self._groups[index - 1])

    def start(self) -> int:
        return self._match.start()

    def end(self) -> int:
        return self._match.end()

    def groups(self) -> tuple[str | None, ...]:
        return tuple(self._match.group(i) for i in self._groups)
