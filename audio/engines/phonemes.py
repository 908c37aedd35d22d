"""Text to IPA phonemes with espeak-ng, clause by clause, the way Piper voices were trained.

Piper-format voices take espeak-ng IPA phonemes, with the clause's punctuation kept as a
phoneme ("həlˈoʊ, ..."). ``espeak_TextToPhonemes`` returns one clause per call and advances a
pointer through the text; the character it stopped after tells which punctuation ended the
clause. libespeak-ng is the same system library the espeak engine uses (loaded with ctypes; no
Python package, nothing downloaded). Runs in the engine's worker process only: espeak-ng keeps
process-global state.
"""

from __future__ import annotations

import ctypes
import functools
import re
import unicodedata
from typing import Any

from audio.errors import TTSError

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
# A clause and the punctuation that ends it (or nothing, at the end of the text).
_CLAUSE_RE = re.compile(r"([^,.;:!?…]+)([,.;:!?]|…|$)")


@functools.lru_cache(maxsize=1)
def _library() -> Any:
    for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0) <= 0:
            break
        return lib
    raise TTSError(
        "Thiếu thư viện espeak-ng (cần để đọc giọng nơ-ron). Hãy cài gói espeak-ng.",
        "The espeak-ng library (the neural voices' phonemizer) is missing. Install the espeak-ng package.",
        code="tts.espeak_missing",
    )


class Phonemizer:
    """IPA phonemes of one espeak-ng voice ("vi", "en-us"), one list of codepoints per sentence."""

    def __init__(self, voice: str) -> None:
        self.voice = voice
        self._lib = _library()
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise TTSError(f"espeak-ng không có giọng '{voice}' để phiên âm.",
                           f"espeak-ng has no voice '{voice}' to phonemize with.", code="tts.voice_missing")

    def sentences(self, text: str) -> list[str]:
        """The text's phonemes, split into sentences, each clause followed by its punctuation."""
        sentences: list[str] = []
        current: list[str] = []
        for clause, mark in _CLAUSE_RE.findall(text):
            phonemes = self._clause(clause)
            if phonemes:
                current.append(phonemes + mark)
            if mark in (".", "!", "?") and current:
                sentences.append(" ".join(current))
                current = []
        if current:
            sentences.append(" ".join(current))
        return sentences

    def _clause(self, clause: str) -> str:
        """One clause (no punctuation inside): espeak may still return it in several pieces."""
        buffer = ctypes.create_string_buffer(clause.strip().encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.cast(buffer, ctypes.c_void_p).value)
        pieces = []
        while pointer.value:
            phonemes = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
            if phonemes:
                pieces.append(phonemes.decode("utf-8", "replace").strip())
        return unicodedata.normalize("NFD", " ".join(p for p in pieces if p))
