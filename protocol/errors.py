"""The one exception hierarchy of commune-radio: its base and the errors both products share.

Every error an operator can see carries a stable machine code plus a Vietnamese and an
English message that says what to do. ``str(error)`` is the Vietnamese text (operators
read Vietnamese first); ``error.message("en")`` gives English. Codes travel in heartbeats
and the event log, so they never change once released.

The station adds its own branches in ``appliance.errors`` (hardware, clock, schedule,
control channel) and the audio pipeline in ``audio.errors``; all derive from
``CommuneRadioError``, so one ``except CommuneRadioError`` catches every operator-facing error.
"""

from __future__ import annotations


class CommuneRadioError(Exception):
    """Base class. Subclasses set ``code``; instances carry both languages."""

    code: str = "error"

    def __init__(self, vi: str, en: str, *, code: str | None = None) -> None:
        super().__init__(vi)
        self.vi = vi
        self.en = en
        if code is not None:
            self.code = code

    def message(self, language: str = "vi") -> str:
        return self.en if language == "en" else self.vi

    def __str__(self) -> str:
        return self.vi

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "vi": self.vi, "en": self.en}


class ConfigError(CommuneRadioError):
    """The configuration file or an environment override is invalid."""

    code = "config_invalid"


class StorageError(CommuneRadioError):
    """The local store or media directory cannot be used (disk full, corrupt, quota)."""

    code = "storage"


class CentralError(CommuneRadioError):
    """Talking to central failed (network, HTTP status, malformed answer). Retried later."""

    code = "central_unreachable"


class RejectedItem(CommuneRadioError):
    """Central sent something that must never play: bad signature, tampering, replay, malformed."""

    code = "item_rejected"

    def __init__(self, vi: str, en: str, *, reason: str, item_id: str | None = None) -> None:
        super().__init__(vi, en, code=f"item_rejected.{reason}")
        self.reason = reason
        self.item_id = item_id


class ValidationError(CommuneRadioError):
    """Operator input (CLI, panel, API) is invalid; nothing was changed."""

    code = "invalid_input"
