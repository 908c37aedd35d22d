"""Scoring a recognizer's transcript against the spoken form: syllables, characters, tones, numbers.

Vietnamese is written one syllable per word, so the syllable error rate (SER) is the word error
rate of the orthography. A substitution whose two syllables differ only in the tone mark
(huyền, sắc, hỏi, ngã, nặng) is counted as well as a *tone-only* error: a listener who hears the
right syllable with the wrong tone may still guess the word; a recognizer may not.
Confidence intervals are percentile bootstraps over sentences (the unit a listener hears).
"""

from __future__ import annotations

import dataclasses
import random
import re
import unicodedata
from collections.abc import Sequence

# The five tone marks as combining characters; vowel marks (circumflex, breve, horn) are not tones.
_TONE_MARKS = frozenset({"\u0300", "\u0301", "\u0309", "\u0303", "\u0323"})
NUMBER_WORDS = frozenset({"không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười", "mươi",
                          "mốt", "tư", "lăm", "trăm", "nghìn", "triệu", "tỷ", "lẻ", "phẩy", "mùng"})
_NON_WORD_RE = re.compile(r"[^\w\s]|_")


def syllables(text: str) -> list[str]:
    """Lower-case NFC syllables with punctuation removed."""
    text = unicodedata.normalize("NFC", text).lower()
    return _NON_WORD_RE.sub(" ", text).split()


def toneless(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONE_MARKS))


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """Levenshtein alignment: a list of (op, ref token, hyp token), op in ok/sub/del/ins."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i
    for j in range(1, m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = ref[i - 1] == hyp[j - 1]
            cost[i][j] = min(cost[i - 1][j - 1] + (0 if same else 1), cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    ops: list[tuple[str, str | None, str | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (0 if ref[i - 1] == hyp[j - 1] else 1):
            ops.append(("ok" if ref[i - 1] == hyp[j - 1] else "sub", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("del", ref[i - 1], None))
            i -= 1
        else:
            ops.append(("ins", None, hyp[j - 1]))
            j -= 1
    return ops[::-1]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j - 1] + (r != h), previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]


@dataclasses.dataclass(frozen=True)
class SentenceScore:
    ref_syllables: int
    syllable_errors: int
    tone_only_errors: int
    ref_chars: int
    char_errors: int
    number_words: int
    number_words_heard: int


def score_sentence(reference: str, hypothesis: str) -> SentenceScore:
    ref, hyp = syllables(reference), syllables(hypothesis)
    ops = align(ref, hyp)
    errors = sum(op != "ok" for op, _, _ in ops)
    tone_only = sum(op == "sub" and toneless(r or "") == toneless(h or "") for op, r, h in ops)
    numbers = sum(r in NUMBER_WORDS for op, r, _ in ops if op != "ins")
    numbers_heard = sum(op == "ok" and r in NUMBER_WORDS for op, r, _ in ops)
    ref_chars, hyp_chars = "".join(ref), "".join(hyp)
    return SentenceScore(len(ref), errors, tone_only, len(ref_chars), edit_distance(ref_chars, hyp_chars),
                         numbers, numbers_heard)


@dataclasses.dataclass(frozen=True)
class Rate:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value * 100:5.1f}% [{self.low * 100:4.1f}-{self.high * 100:4.1f}]"


def _ratio(scores: Sequence[SentenceScore], num: str, den: str) -> float:
    total = sum(getattr(s, den) for s in scores)
    return sum(getattr(s, num) for s in scores) / total if total else 0.0


def bootstrap(scores: Sequence[SentenceScore], num: str, den: str, *, rounds: int = 2000, seed: int = 17) -> Rate:
    """The corpus-level ratio sum(num)/sum(den) with a 95% percentile bootstrap over sentences."""
    value = _ratio(scores, num, den)
    if len(scores) < 2:
        return Rate(value, value, value)
    rng = random.Random(seed)
    samples = sorted(_ratio([rng.choice(scores) for _ in scores], num, den) for _ in range(rounds))
    return Rate(value, samples[int(0.025 * rounds)], samples[int(0.975 * rounds) - 1])


@dataclasses.dataclass(frozen=True)
class Summary:
    sentences: int
    ser: Rate
    cer: Rate
    ser_without_tone: Rate
    tone_only_share: float
    numbers_heard: Rate


def summarize(scores: Sequence[SentenceScore]) -> Summary:
    toneless_scores = [dataclasses.replace(s, syllable_errors=s.syllable_errors - s.tone_only_errors) for s in scores]
    errors = sum(s.syllable_errors for s in scores)
    return Summary(
        sentences=len(scores),
        ser=bootstrap(scores, "syllable_errors", "ref_syllables"),
        cer=bootstrap(scores, "char_errors", "ref_chars"),
        ser_without_tone=bootstrap(toneless_scores, "syllable_errors", "ref_syllables"),
        tone_only_share=(sum(s.tone_only_errors for s in scores) / errors) if errors else 0.0,
        numbers_heard=bootstrap(scores, "number_words_heard", "number_words"),
    )
