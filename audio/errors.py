"""The audio pipeline's branch of the exception hierarchy (base: ``protocol.errors``)."""

from __future__ import annotations

from protocol.errors import CommuneRadioError


class AudioError(CommuneRadioError):
    """Decoding, preparing or playing audio failed."""

    code = "audio"


class TTSError(AudioError):
    """Speech synthesis failed or timed out."""

    code = "tts"


class PlaybackError(AudioError):
    """libVLC reported an error, a stall or an overrun."""

    code = "playback"
