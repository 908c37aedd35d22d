"""espeak-ng through pyttsx3: the default engine, on every station."""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from pathlib import Path
from typing import Any

from audio.errors import TTSError

from .base import package_version, worker_path

# espeak-ng's espeakWORDGAP: the pause between words in units of 10 ms (pyttsx3 calls it EMPHASIS).
ESPEAK_WORDGAP = 7
# The espeak-ng voice variants a station may use (espeak-ng-data/voices/!v).
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "klatt5", "klatt6", "announcer", "Nguyen", "edward", "michel", "norbert")


def _espeak() -> Any:
    from pyttsx3.drivers import _espeak

    return _espeak


@functools.lru_cache(maxsize=1)
def espeak_ng_version() -> str:
    """The espeak-ng library's version string (part of the cache key: a new espeak sounds different)."""
    for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        info = lib.espeak_Info
        info.restype = ctypes.c_char_p
        info.argtypes = [ctypes.c_void_p]
        raw = info(None)
        return raw.decode("ascii", "replace") if raw else "unknown"
    raise TTSError(
        "Thiếu thư viện espeak-ng. Hãy cài gói espeak-ng (apt-get install espeak-ng).",
        "The espeak-ng library is missing. Install the espeak-ng package (apt-get install espeak-ng).",
        code="tts.espeak_missing",
    )


class EspeakEngine:
    """espeak-ng through pyttsx3, following the field notes' safe pattern.

    One pyttsx3 engine per worker process; exactly one ``save_to_file`` per ``runAndWait``;
    ``say()`` is never used (it overwrites saved files and shells out to aplay).
    """

    name = "espeak"

    def __init__(self, voice: str = "vi", rate: int = 150, volume: float = 1.0, *, pitch: int = 50,
                 pitch_range: int = 50, word_gap: int = 0, variant: str = "") -> None:
        self.voice = voice
        self.rate = rate
        self.volume = volume
        self.pitch = pitch
        self.pitch_range = pitch_range
        self.word_gap = word_gap
        self.variant = variant
        self._engine: Any = None

    def check(self) -> None:
        espeak_ng_version()
        if importlib.util.find_spec("pyttsx3") is None:
            raise TTSError(
                "Thiếu gói pyttsx3. Hãy cài lại commune-radio.",
                "The pyttsx3 package is missing. Reinstall commune-radio.",
                code="tts.engine_missing",
            )

    def version(self) -> str:
        return f"pyttsx3 {package_version('pyttsx3')}; espeak-ng {espeak_ng_version()}"

    def params(self) -> dict[str, Any]:
        return {"voice": self.voice, "rate": self.rate, "volume": self.volume, "pitch": self.pitch,
                "pitch_range": self.pitch_range, "word_gap": self.word_gap, "variant": self.variant}

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        return worker_path(self), self.params()

    # -- in the worker process

    def open(self) -> dict[str, Any]:
        import pyttsx3

        engine = pyttsx3.init("espeak")
        voices = [v for v in engine.getProperty("voices") if v.id.rsplit("/", 1)[-1] == self.voice]
        if not voices:
            raise TTSError(
                f"Giọng đọc '{self.voice}' chưa được cài trong espeak-ng.",
                f"The voice '{self.voice}' is not installed in espeak-ng.",
                code="tts.voice_missing",
            )
        wanted = voices[0]
        # pyttsx3 queues property changes until its loop runs: an empty runAndWait applies them.
        engine.setProperty("voice", self.voice)
        engine.setProperty("rate", self.rate)
        engine.setProperty("volume", self.volume)
        engine.runAndWait()
        self._settle()
        current = engine.getProperty("voice")
        language = (wanted.languages or [""])[0]
        if current != wanted.id or not str(language).startswith("vi"):
            raise TTSError(
                f"espeak-ng không chọn được giọng tiếng Việt '{self.voice}' (đang dùng '{current}').",
                f"espeak-ng did not select the Vietnamese voice '{self.voice}' (it reports '{current}').",
                code="tts.voice_missing",
            )
        if self.variant:
            # espeak-ng picks a variant by name ("vi+f3"): pyttsx3 only knows the voice list.
            self._call(_espeak().SetVoiceByName(f"{self.voice}+{self.variant}".encode()), "variant")
        self._engine = engine
        self._apply_parameters()
        return {"voice_id": current, "voice_name": wanted.name, "language": language,
                "version": self.version()}

    def synthesize(self, text: str, out_path: Path) -> None:
        out_path.unlink(missing_ok=True)
        # Rate and volume go into espeak's command queue right before the text, every time:
        # set once at start-up they were lost in about 1 run in 20 (measured: speech at 200 wpm).
        self._engine.setProperty("rate", self.rate)
        self._engine.setProperty("volume", self.volume)
        self._apply_parameters()
        self._engine.save_to_file(text, str(out_path))
        self._engine.runAndWait()
        self._settle()
        if not out_path.is_file() or out_path.stat().st_size <= 44:
            raise TTSError("espeak-ng không tạo ra âm thanh.", "espeak-ng produced no audio.", code="tts.no_audio")


    def _apply_parameters(self) -> None:
        """Pitch, its range and the gap between words: espeak parameters pyttsx3 does not expose."""
        espeak = _espeak()
        for parameter, value in ((espeak.PITCH, self.pitch), (espeak.RANGE, self.pitch_range),
                                 (ESPEAK_WORDGAP, self.word_gap)):
            self._call(espeak.SetParameter(parameter, int(value), 0), "parameter")

    def _call(self, status: int, what: str) -> None:
        if status != 0:
            raise TTSError(f"espeak-ng từ chối thiết lập giọng đọc ({what}).",
                           f"espeak-ng refused a voice setting ({what}: status {status}).", code="tts.voice_missing")

    @staticmethod
    def _settle() -> None:
        """Wait until espeak's own synthesis thread is idle.

        pyttsx3 runs espeak asynchronously (AUDIO_OUTPUT_RETRIEVAL) and ends its loop at the
        first "message terminated" event; late callbacks of one synthesis then raced the next
        one and, about 1 run in 60, wrote an empty WAV. espeak_Synchronize drains the queue.
        """
        from pyttsx3.drivers import _espeak

        _espeak.Synchronize()
